//! The webhook's group-commit writer, driven directly with many concurrent callers: every caller is answered
//! after the commit that holds its row, duplicates of one notificationUUID give one row, and on SQLite the WAL
//! stays small under continuous writing (the writer checkpoints between batches).
use crate::both_backends;
use crate::helpers::store_project;
use std::sync::Arc;

use storedesk::store::notification_writer::NotificationWriter;
use storedesk::store::notifications::{Inserted, NewNotification};
use storedesk::store::Store;

/// A row of Apple's real size: the signed payload of a notification with nested transaction and renewal info is
/// about 17 KB.
fn row(project_id: i64, uuid: &str) -> NewNotification {
    NewNotification {
        project_id,
        notification_uuid: uuid.to_owned(),
        notification_type: "DID_RENEW".into(),
        subtype: None,
        environment: "Production".into(),
        signed_date: 1_700_000_000_000,
        transaction_id: Some(format!("t-{uuid}")),
        original_transaction_id: Some("1000".into()),
        product_id: Some("com.example.writer.monthly".into()),
        source: "webhook".into(),
        received_at: 1_700_000_000_000,
        signed_payload: format!("eyJ{}.{uuid}", "A".repeat(17_000)),
        payload: format!(r#"{{"notification":{{"notificationUUID":"{uuid}"}}}}"#),
        raw_body: None,
        forward: true,
        index: None,
    }
}

/// Sends `uuids` through the writer from as many concurrent tasks, returning each answer.
async fn send_all(
    writer: &NotificationWriter,
    project_id: i64,
    uuids: Vec<String>,
) -> Vec<Inserted> {
    let writer = Arc::new(writer.clone());
    let tasks: Vec<_> = uuids
        .into_iter()
        .map(|uuid| {
            let writer = writer.clone();
            tokio::spawn(async move { writer.insert(row(project_id, &uuid)).await })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.expect("task").expect("stored"));
    }
    answers
}

async fn count(store: &Store, project_id: i64) -> i64 {
    store.count_notifications(project_id).await.expect("count")
}

both_backends!(concurrent_callers_each_get_their_commit, |app| {
    let project_id = store_project(&app.store, "writer").await;
    let writer = NotificationWriter::spawn(app.store.clone());
    // 300 callers at once, 40 of them repeating ten notifications already among the others.
    let mut uuids: Vec<String> = (0..260).map(|i| format!("uuid-{i:04}")).collect();
    uuids.extend((0..40).map(|i| format!("uuid-{:04}", i % 10)));
    let answers = send_all(&writer, project_id, uuids).await;
    let new = answers.iter().filter(|a| a.is_new()).count();
    assert_eq!(new, 260, "one new row per distinct notificationUUID");
    assert_eq!(
        answers.len() - new,
        40,
        "the repeats are answered as already present"
    );
    assert_eq!(count(&app.store, project_id).await, 260);
    // A repeat names the row the first delivery created.
    let again = writer
        .insert(row(project_id, "uuid-0003"))
        .await
        .expect("stored");
    let first = app
        .store
        .notification_by_uuid(project_id, "uuid-0003")
        .await
        .expect("read")
        .expect("row");
    assert_eq!(again, Inserted::AlreadyPresent(first.id));
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_wal_stays_small_under_continuous_writing() {
    let app = crate::helpers::spawn_app(crate::helpers::Backend::Sqlite)
        .await
        .expect("sqlite app");
    let project_id = store_project(&app.store, "writer").await;
    let writer = NotificationWriter::spawn(app.store.clone());
    let wal = app.settings.data_dir.join("test.db-wal");
    // 1,600 rows of 17 KB (27 MB) arrive faster than they are committed, so the writer never waits for work.
    // A WAL that is never started over would hold all of them.
    let uuids: Vec<String> = (0..1_600).map(|i| format!("wal-{i:05}")).collect();
    let answers = send_all(&writer, project_id, uuids).await;
    assert!(answers.iter().all(|a| a.is_new()));
    assert_eq!(count(&app.store, project_id).await, 1_600);
    let size = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    // At most a batch of 256 rows plus its index pages: the writer checkpoints every 64 rows.
    assert!(
        size < 8 * 1024 * 1024,
        "the WAL grew to {size} bytes while 27 MB were written"
    );
}
