//! `docs/deploy/storedesk.service` as systemd reads it: `systemd-analyze verify` finds nothing to say about it (an
//! unknown directive or a bad value is a warning there, so the test reads what it prints), and it keeps the
//! hardening the deployment relies on.

/// The directives the unit must keep, as `docs/deploy/README.md` and the unit's comments promise.
const REQUIRED: &[&str] = &[
    "User=storedesk",
    "StateDirectory=storedesk",
    "NoNewPrivileges=yes",
    "ProtectSystem=strict",
    "ProtectHome=yes",
    "PrivateTmp=yes",
    "PrivateDevices=yes",
    "ProtectKernelTunables=yes",
    "ProtectKernelModules=yes",
    "ProtectKernelLogs=yes",
    "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
    "CapabilityBoundingSet=",
    "SystemCallFilter=@system-service",
    "MemoryDenyWriteExecute=yes",
    "LoadCredential=master-key:/etc/storedesk/master-key",
    "Environment=STOREDESK_MASTER_KEY_FILE=%d/master-key",
    "EnvironmentFile=/etc/storedesk/storedesk.env",
    "ExecStartPre=-/usr/local/bin/storedesk check",
    "ExecStart=/usr/local/bin/storedesk serve",
    "Restart=on-failure",
];

const UNIT: &str = include_str!("../../../docs/deploy/storedesk.service");

#[test]
fn the_unit_keeps_its_hardening_and_the_master_key_out_of_the_environment_file() {
    let lines: Vec<&str> = UNIT.lines().map(str::trim).collect();
    for wanted in REQUIRED {
        assert!(lines.contains(wanted), "the unit has `{wanted}`");
    }
    assert!(
        !lines
            .iter()
            .any(|l| l.starts_with("Environment=STOREDESK_MASTER_KEY=")),
        "the master key itself is never in the unit"
    );
}

#[test]
fn systemd_analyze_verify_accepts_the_unit() {
    if std::process::Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: `systemd-analyze` is not on the PATH (Debian package `systemd`)");
        return;
    }
    // The unit as installed, with the test's binary where it expects /usr/local/bin/storedesk (verify checks that
    // the commands exist).
    let dir = tempfile::tempdir().unwrap();
    let unit = dir.path().join("storedesk.service");
    std::fs::write(
        &unit,
        UNIT.replace("/usr/local/bin/storedesk", env!("CARGO_BIN_EXE_storedesk")),
    )
    .unwrap();
    let out = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    let about_it: Vec<&str> = said
        .lines()
        .filter(|l| l.contains("storedesk.service"))
        .collect();
    assert!(
        out.status.success() && about_it.is_empty(),
        "systemd-analyze verify: {}\n{said}",
        out.status
    );
}
