//! What a first deployment meets before any page: the database URL as people write it.
use std::process::Command;

#[test]
fn a_sqlite_url_without_a_mode_creates_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("storedesk.db");
    let out = Command::new(env!("CARGO_BIN_EXE_storedesk"))
        .args(["migrate", "--database-url"])
        .arg(format!("sqlite://{}", file.display()))
        .env_remove("STOREDESK_DATABASE_URL")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(file.exists(), "the database file was created");
    // A second run finds it and has nothing to do.
    let again = Command::new(env!("CARGO_BIN_EXE_storedesk"))
        .args(["migrate", "--database-url"])
        .arg(format!("sqlite://{}", file.display()))
        .env_remove("STOREDESK_DATABASE_URL")
        .output()
        .unwrap();
    assert!(again.status.success());
}
