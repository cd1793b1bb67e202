//! Several workers on one database: two instances at once deliver each notification once, and `storedesk serve`
//! killed with SIGKILL while forwarding 5,000 notifications, then started again, leaves none undelivered.
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use secrecy::ExposeSecret as _;
use storedesk::store::notification_writer::NotificationWriter;
use storedesk::store::notifications::NewNotification;
use storedesk::store::Store;

use super::{add_destination, PyReceiver};
use crate::both_backends;
use crate::helpers::{free_port, store_project, wait_ready};
use crate::projects::notifications::signed::state;

fn row(project_id: i64, uuid: &str) -> NewNotification {
    NewNotification {
        project_id,
        notification_uuid: uuid.to_owned(),
        notification_type: "DID_RENEW".into(),
        subtype: None,
        environment: "Production".into(),
        signed_date: 1_700_000_000_000,
        transaction_id: None,
        original_transaction_id: None,
        product_id: None,
        source: "webhook".into(),
        received_at: 1_700_000_000_000,
        // What is forwarded is the stored JWS in Apple's form; the receiver checks the signature over it.
        signed_payload: format!("eyJhbGciOiJFUzI1NiJ9.{}.c2ln", uuid.replace('-', "")),
        payload: "{}".into(),
        raw_body: None,
        forward: true,
        index: None,
    }
}

/// `n` new notifications through the webhook's writer (group commit, as Apple's would be); their UUIDs.
async fn notifications(store: &Store, project_id: i64, n: usize) -> Vec<String> {
    let writer = Arc::new(NotificationWriter::spawn(store.clone()));
    let uuids: Vec<String> = (0..n).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    let tasks: Vec<_> = uuids
        .iter()
        .map(|u| {
            let (writer, r) = (writer.clone(), row(project_id, u));
            tokio::spawn(async move { writer.insert(r).await.unwrap() })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    uuids
}

both_backends!(
    two_instances_at_once_deliver_each_notification_once,
    |app| {
        let store = &app.store;
        let project = store_project(store, "fwd").await;
        let keyring = app.settings.keyring();
        let (destination, secret) =
            add_destination(store, &keyring, project, "http://127.0.0.1:9/", true).await;
        let Some(receiver) = PyReceiver::start(&["--secret", &secret]).await else {
            return;
        };
        let mut row = store
            .forward_destination(project, destination)
            .await
            .unwrap()
            .unwrap();
        row.settings.url = receiver.url();
        store
            .update_forward_destination(
                project,
                destination,
                &row.settings,
                &storedesk::store::Actor::system("test"),
            )
            .await
            .unwrap();
        let uuids = notifications(store, project, 300).await;

        // Two instances' workers, same database, same moment, many passes each.
        let (a, b) = (state(&app), state(&app));
        let now = storedesk::clock::now_ms();
        let run = |s: storedesk::state::AppState, owner: &'static str| async move {
            let mut delivered = 0;
            for _ in 0..5 {
                delivered += storedesk::forwarding::run_once(&s, owner, now)
                    .await
                    .unwrap()
                    .delivered;
            }
            delivered
        };
        let (da, db) = tokio::join!(run(a, "instance-a"), run(b, "instance-b"));
        assert_eq!(da + db, uuids.len(), "a: {da}, b: {db}");
        let requests = receiver.requests(uuids.len()).await;
        assert_eq!(requests.len(), uuids.len(), "an attempt was sent twice");
        assert_eq!(receiver.delivered_ids().len(), uuids.len());
        assert!(requests
            .iter()
            .all(|q| q["verified"] == serde_json::json!([true])));
    }
);

fn serve(dir: &std::path::Path, db: &str, key: &str, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_storedesk"))
        .arg("serve")
        .env_clear()
        .env("STOREDESK_DATABASE_URL", db)
        .env("STOREDESK_DATA_DIR", dir)
        .env("STOREDESK_MASTER_KEY", key)
        .env("STOREDESK_BIND", format!("127.0.0.1:{port}"))
        .env("STOREDESK_FORWARD_TIMEOUT", "2s")
        .env("STOREDESK_FORWARD_INTERVAL", "100ms")
        .env("STOREDESK_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

// The real binary, on each database: killed with SIGKILL mid-forwarding and started again (a new instance:
// the dead one's leases run out and are taken over), every notification reaches the receiver. On PostgreSQL a
// second instance works beside it the whole time.
both_backends!(
    a_kill_mid_forwarding_then_a_restart_delivers_every_notification,
    |app| {
        let store = &app.store;
        let project = store_project(store, "crash").await;
        let key = app
            .settings
            .master_key
            .to_base64_secret()
            .expose_secret()
            .to_owned();
        let keyring = app.settings.keyring();
        let (destination, secret) =
            add_destination(store, &keyring, project, "http://127.0.0.1:9/", true).await;
        let Some(receiver) = PyReceiver::start(&["--secret", &secret]).await else {
            return;
        };
        let mut row = store
            .forward_destination(project, destination)
            .await
            .unwrap()
            .unwrap();
        row.settings.url = receiver.url();
        store
            .update_forward_destination(
                project,
                destination,
                &row.settings,
                &storedesk::store::Actor::system("test"),
            )
            .await
            .unwrap();
        let total = 5_000;
        let uuids = notifications(store, project, total).await;

        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let address = format!("http://127.0.0.1:{port}");
        let db = app.settings.database_url.as_str().to_owned();
        // The test app's own workers are off; only the real processes forward. On PostgreSQL a second instance
        // shares the work all along and goes on when the first is killed.
        let mut other = (app.backend == crate::helpers::Backend::Postgres).then(|| {
            let port = free_port();
            (
                serve(dir.path(), &db, &key, port),
                format!("http://127.0.0.1:{port}"),
            )
        });
        if let Some((_, other_address)) = &other {
            wait_ready(other_address).await;
        }
        let mut child = serve(dir.path(), &db, &key, port);
        wait_ready(&address).await;
        let before = receiver
            .wait_for_delivered(total / 5, Duration::from_secs(120))
            .await;
        child.kill().unwrap();
        child.wait().unwrap();
        let at_kill = receiver.delivered_ids().len();
        eprintln!("forwarding crash test: {at_kill} of {total} delivered when killed");
        assert!(
            before >= total / 5,
            "the server never delivered {} notifications",
            total / 5
        );
        assert!(at_kill < total, "the kill came too late to test anything");

        let mut child = serve(dir.path(), &db, &key, port);
        wait_ready(&address).await;
        let after = receiver
            .wait_for_delivered(total, Duration::from_secs(180))
            .await;
        child.kill().unwrap();
        child.wait().unwrap();
        if let Some((mut other, _)) = other.take() {
            other.kill().unwrap();
            other.wait().unwrap();
        }
        assert_eq!(after, total, "notifications were lost to the destination");
        let ids = receiver.delivered_ids();
        assert!(uuids
            .iter()
            .all(|u| ids.contains(&crate::forwarding::webhook_id(u))));
        let requests = receiver.requests(0).await;
        assert!(requests
            .iter()
            .all(|q| q["verified"] == serde_json::json!([true])));
        eprintln!("forwarding crash test: {} requests for {total} notifications (duplicates after the kill are allowed)", requests.len());
    }
);
