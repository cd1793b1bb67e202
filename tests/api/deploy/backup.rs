//! Backups as `docs/deploy/backup.md` says to take them, while storedesk runs: SQLite's online backup taken while
//! the webhook stores notifications, `pg_dump -Fc` / `pg_restore` into a new database; each restored copy passes
//! `storedesk check` with the kept master key (and fails it with another), and holds every notification answered
//! 200 before the backup began.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use secrecy::ExposeSecret as _;
use storedesk::config::DatabaseUrl;
use storedesk::crypto::MasterKey;
use storedesk::domain::{AppAppleId, BundleId, Environment, Slug};
use storedesk::store::{Actor, NewProject, Store};

use super::{deliver, have, notification, Deployment};

/// The project of the simulator's app, straight in the database; its notification URL on `instance`.
async fn project_url(store: &Store, d: &Deployment, instance: &super::Instance) -> (i64, String) {
    let seed = d.sim.seed();
    let project = store
        .create_project(
            &NewProject {
                name: "Backed up".into(),
                slug: Slug::parse("demo").unwrap(),
                bundle_id: BundleId::parse(&seed.bundle_id).unwrap(),
                app_apple_id: Some(AppAppleId::from_i64(seed.app_apple_id).unwrap()),
                environment: Environment::Production,
            },
            &Actor::system("test"),
        )
        .await
        .unwrap();
    let token = store.notification_token(project.id).await.unwrap();
    (
        project.id,
        instance.url(&format!("/apple/notifications/{token}")),
    )
}

/// `storedesk check` on `database_url` with the deployment's settings and the master key in `key_file`.
async fn check(d: &Deployment, database_url: &str, key_file: &std::path::Path) -> (bool, String) {
    let mut command = d.storedesk(&["check"]);
    command
        .env("STOREDESK_DATABASE_URL", database_url)
        .env("STOREDESK_MASTER_KEY_FILE", key_file);
    super::run_with(command, "").await
}

/// A restored copy passes `storedesk check` with the deployment's master key, and fails it with another one.
async fn assert_check_passes(d: &Deployment, database_url: &str) {
    let (ok, out) = check(d, database_url, d.master_key_file()).await;
    assert!(ok, "storedesk check on the restored copy:\n{out}");
    assert!(out.ends_with("Everything checked is in order.\n"), "{out}");
    let other = d.dir.path().join("another-master-key");
    std::fs::write(
        &other,
        MasterKey::generate().to_base64_secret().expose_secret(),
    )
    .unwrap();
    let (ok, out) = check(d, database_url, &other).await;
    assert!(!ok, "{out}");
    assert!(
        out.contains("FAIL  master key      is not the one this database was encrypted with"),
        "{out}"
    );
}

async fn assert_all_stored(store: &Store, project_id: i64, uuids: &[String]) {
    for uuid in uuids {
        assert!(
            store
                .notification_by_uuid(project_id, uuid)
                .await
                .unwrap()
                .is_some(),
            "notification {uuid}, answered 200 before the backup, is in the restored copy"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_backup_taken_while_notifications_arrive_restores_all_answered_before_it() {
    if !have("sqlite3", "--version", "sqlite3") {
        return;
    }
    // The default database: storedesk.db in the data directory, as the systemd unit runs it.
    let d = Deployment::new(String::new(), "https://storedesk.example.com".into()).await;
    let (migrated, out) = d.run(&["migrate"], "").await;
    assert!(migrated, "{out}");
    let instance = d.serve("sqlite").await;
    let store = d.store().await;
    let (project_id, url) = project_url(&store, &d, &instance).await;

    // Two senders keep the webhook busy; each notification answered 200 is noted when its answer arrives.
    let answered = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let bodies: Vec<(String, String)> = (0..2000).map(|i| notification(&d.sim, i)).collect();
    let bodies = Arc::new(bodies);
    let mut senders = tokio::task::JoinSet::new();
    for sender in 0..2 {
        let (answered, stop, bodies, url) =
            (answered.clone(), stop.clone(), bodies.clone(), url.clone());
        senders.spawn(async move {
            let client = reqwest::Client::new();
            for (body, uuid) in bodies.iter().skip(sender).step_by(2) {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                assert_eq!(deliver(&client, &url, body.clone()).await, 200);
                answered.lock().unwrap().push(uuid.clone());
            }
        });
    }
    let count = || answered.lock().unwrap().len();
    while count() < 40 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The backup, as backup.md says, while the senders go on.
    let before: Vec<String> = answered.lock().unwrap().clone();
    let backup = d.dir.path().join("backup.db");
    let out = tokio::process::Command::new("sqlite3")
        .arg(d.sqlite_file())
        .arg(format!(".backup '{}'", backup.display()))
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let at_backup_end = count();
    while count() < at_backup_end + 20 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::Relaxed);
    senders.join_all().await;

    // Restored into a new file elsewhere, it passes check and holds what was answered before the backup.
    let restored_dir = tempfile::tempdir().unwrap();
    let restored = restored_dir.path().join("storedesk.db");
    std::fs::copy(&backup, &restored).unwrap();
    let restored_url = format!("sqlite://{}", restored.display());
    assert_check_passes(&d, &restored_url).await;
    let copy = Store::connect(&DatabaseUrl::parse(&restored_url).unwrap())
        .await
        .unwrap();
    assert_all_stored(&copy, project_id, &before).await;
    let in_copy = copy.count_notifications(project_id).await.unwrap() as usize;
    assert!(
        in_copy >= before.len() && in_copy <= count(),
        "{in_copy} in the copy"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_dump_restores_into_a_new_database_that_passes_check() {
    if !have("pg_dump", "--version", "postgresql-client")
        || !have("pg_restore", "--version", "postgresql-client")
    {
        return;
    }
    let Some(database) = crate::helpers::fresh_postgres_database().await else {
        return;
    };
    let d = Deployment::new(database, "https://storedesk.example.com".into()).await;
    let (migrated, out) = d.run(&["migrate"], "").await;
    assert!(migrated, "{out}");
    let instance = d.serve("postgres").await;
    let store = d.store().await;
    let (project_id, url) = project_url(&store, &d, &instance).await;
    let client = reqwest::Client::new();
    let mut uuids = Vec::new();
    for i in 0..10 {
        let (body, uuid) = notification(&d.sim, i);
        assert_eq!(deliver(&client, &url, body).await, 200);
        uuids.push(uuid);
    }

    // pg_dump -Fc while the instance runs, pg_restore into a new, empty database.
    let dump = d.dir.path().join("storedesk.dump");
    let out = tokio::process::Command::new("pg_dump")
        .arg("-Fc")
        .arg("-f")
        .arg(&dump)
        .arg(&d.database_url)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let restored_url = crate::helpers::fresh_postgres_database()
        .await
        .expect("PostgreSQL answered a moment ago");
    let out = tokio::process::Command::new("pg_restore")
        .arg("--no-owner")
        .arg("-d")
        .arg(&restored_url)
        .arg(&dump)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    assert_check_passes(&d, &restored_url).await;
    let copy = Store::connect(&DatabaseUrl::parse(&restored_url).unwrap())
        .await
        .unwrap();
    assert_all_stored(&copy, project_id, &uuids).await;
    assert_eq!(copy.count_notifications(project_id).await.unwrap(), 10);
}
