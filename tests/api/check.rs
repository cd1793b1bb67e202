//! `storedesk check` as an operator runs it: the real binary, the configuration in the environment, one line per
//! check, exit status 1 when anything failed, and nothing changed in the database.
use std::process::Command;

use secrecy::ExposeSecret as _;
use storedesk::apple_sim::SimConfig;
use storedesk::config::DatabaseUrl;
use storedesk::crypto::{Keyring, MasterKey};
use storedesk::store::Store;

struct Run {
    ok: bool,
    out: String,
}

fn check(db: &str, master: &MasterKey, public_url: &str, production: &str, sandbox: &str) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_storedesk"))
        .arg("check")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("STOREDESK_DATABASE_URL", db)
        .env(
            "STOREDESK_MASTER_KEY",
            master.to_base64_secret().expose_secret(),
        )
        .env("STOREDESK_PUBLIC_URL", public_url)
        .env("STOREDESK_APPLE_PRODUCTION_URL", production)
        .env("STOREDESK_APPLE_SANDBOX_URL", sandbox)
        .output()
        .unwrap();
    Run {
        ok: out.status.success(),
        out: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// The start of a report line: its verdict, what was checked (padded as printed), then the sentence's start.
fn row(verdict: &str, what: &str, start: &str) -> String {
    format!("{verdict}  {what:<15} {start}")
}

fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reports_each_thing_a_deployment_needs_and_fails_on_any() {
    let sim = storedesk::apple_sim::spawn(SimConfig::default())
        .await
        .unwrap();
    let (prod, sandbox) = (sim.production_url(), sim.sandbox_url());
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("storedesk.db").display());
    let master = MasterKey::generate();

    // A database never migrated, a plain-http public URL: two failures, and Apple and the clock in order.
    let first = check(&db, &master, "http://127.0.0.1:8080", &prod, &sandbox);
    assert!(!first.ok, "{}", first.out);
    let known = first
        .out
        .lines()
        .find(|l| l.starts_with(&row("FAIL", "database", "")))
        .unwrap_or_else(|| panic!("{}", first.out))
        .to_owned();
    assert!(
        known.contains("migrations are not applied: run `storedesk migrate`"),
        "{known}"
    );
    assert!(first.out.contains(&row("FAIL", "public URL", "http://127.0.0.1:8080 is not https://: Apple delivers notifications only to https:// URLs")), "{}", first.out);
    assert!(
        first.out.contains(&row(
            "ok  ",
            "Apple (Prod.)",
            &format!("{prod} answered (HTTP ")
        )),
        "{}",
        first.out
    );
    assert!(
        first.out.contains(&row("ok  ", "clock", "")),
        "{}",
        first.out
    );
    assert!(
        first
            .out
            .contains("2 check(s) failed; each FAIL line says what to change."),
        "{}",
        first.out
    );

    // Check changes nothing: the database is still not migrated. Migrated, with an https URL, all is in order.
    let url = DatabaseUrl::parse(&db).unwrap();
    let store = Store::connect(&url).await.unwrap();
    assert_eq!(store.migration_status().await.unwrap().0, 0);
    store.migrate().await.unwrap();
    let good = check(
        &db,
        &master,
        "https://storedesk.example.com",
        &prod,
        &sandbox,
    );
    assert!(good.ok, "{}", good.out);
    assert!(
        good.out
            .contains(&row("ok  ", "database", "reachable (SQLite); all ")),
        "{}",
        good.out
    );
    assert!(
        good.out.contains(&row("ok  ", "master key", "")),
        "{}",
        good.out
    );
    assert!(good
        .out
        .contains(&row("ok  ", "public URL", "https://storedesk.example.com")));
    assert!(
        good.out.ends_with("Everything checked is in order.\n"),
        "{}",
        good.out
    );

    // The database was encrypted with another master key; Apple cannot be reached.
    storedesk::keys::ensure_master_key(&store, &Keyring::new(MasterKey::generate(), Vec::new()))
        .await
        .unwrap();
    let nowhere = format!("http://127.0.0.1:{}/production", closed_port());
    let bad = check(
        &db,
        &master,
        "https://storedesk.example.com",
        &nowhere,
        &sandbox,
    );
    assert!(!bad.ok);
    assert!(
        bad.out.contains(&row(
            "FAIL",
            "master key",
            "is not the one this database was encrypted with"
        )),
        "{}",
        bad.out
    );
    assert!(
        bad.out.contains(&row(
            "FAIL",
            "Apple (Prod.)",
            &format!("{nowhere} cannot be reached from this machine: ")
        )),
        "{}",
        bad.out
    );
    assert!(
        !bad.out.contains(master.to_base64_secret().expose_secret()),
        "the key never printed"
    );
}
