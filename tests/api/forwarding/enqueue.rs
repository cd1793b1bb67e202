//! Deliveries are queued in the transaction that stores the notification: for new notifications only, for every
//! destination that wants their environment and type (paused ones too), and never one without the other.
use sqlx::Connection as _;
use storedesk::store::notification_writer::NotificationWriter;
use storedesk::store::notifications::NewNotification;
use storedesk::store::Store;

use super::{add_destination, add_destination_with};
use crate::both_backends;
use crate::helpers::{store_project, Backend, TestApp};
use storedesk::store::forwarding::DestinationSettings;

fn row(project_id: i64, uuid: &str, env: &str, notification_type: &str) -> NewNotification {
    NewNotification {
        project_id,
        notification_uuid: uuid.to_owned(),
        notification_type: notification_type.into(),
        subtype: None,
        environment: env.into(),
        signed_date: 1_700_000_000_000,
        transaction_id: None,
        original_transaction_id: None,
        product_id: None,
        source: "webhook".into(),
        received_at: 1_700_000_000_000,
        signed_payload: format!("eyJ.{uuid}.sig"),
        payload: "{}".into(),
        raw_body: None,
        forward: true,
        index: None,
    }
}

fn settings(
    name: &str,
    production: bool,
    sandbox: bool,
    types: &[&str],
    enabled: bool,
) -> DestinationSettings {
    DestinationSettings {
        name: name.into(),
        url: "https://backend.example/apple".into(),
        production,
        sandbox,
        types: types.iter().map(|t| (*t).to_owned()).collect(),
        enabled,
    }
}

/// Which of `destinations` have a delivery of notification `id`, and its origin.
async fn deliveries(store: &Store, destinations: &[i64], id: i64) -> Vec<(i64, String)> {
    let mut out = Vec::new();
    for d in destinations {
        if let Some(s) = store.forward_delivery(*d, id).await.unwrap() {
            assert_eq!(s.status, "pending");
            assert_eq!(s.attempts, 0);
            assert_eq!(s.round_started_at, s.created_at);
            out.push((*d, s.origin));
        }
    }
    out
}

async fn id_of(store: &Store, project_id: i64, uuid: &str) -> Option<i64> {
    store
        .notification_by_uuid(project_id, uuid)
        .await
        .unwrap()
        .map(|n| n.id)
}

/// Makes every insert into forward_deliveries fail (`on`), or lets them through again.
async fn refuse_deliveries(app: &TestApp, on: bool) {
    let mut conn = sqlx::AnyConnection::connect(app.settings.database_url.as_str())
        .await
        .unwrap();
    let statements: &[&str] = match (app.backend, on) {
        (Backend::Sqlite, true) => &["CREATE TRIGGER refuse BEFORE INSERT ON forward_deliveries BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"],
        (Backend::Sqlite, false) => &["DROP TRIGGER refuse"],
        (Backend::Postgres, true) => &[
            "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER refuse BEFORE INSERT ON forward_deliveries FOR EACH ROW EXECUTE FUNCTION refuse()",
        ],
        (Backend::Postgres, false) => &["DROP TRIGGER refuse ON forward_deliveries"],
    };
    for s in statements {
        sqlx::query(s).execute(&mut conn).await.unwrap();
    }
}

both_backends!(
    new_notifications_are_queued_for_each_destination_that_wants_them,
    |app| {
        let store = &app.store;
        let keyring = app.settings.keyring();
        let project = store_project(store, "fwd").await;
        let other = store_project(store, "other").await;
        let (every, _) =
            add_destination(store, &keyring, project, "https://a.example/", true).await;
        let (renewals, _) = add_destination_with(
            store,
            &keyring,
            project,
            settings("renewals", true, false, &["DID_RENEW", "SUBSCRIBED"], true),
        )
        .await;
        let (paused, _) =
            add_destination(store, &keyring, project, "https://c.example/", false).await;
        let (sandbox, _) = add_destination_with(
            store,
            &keyring,
            project,
            settings("sandbox", false, true, &[], true),
        )
        .await;
        let (elsewhere, _) =
            add_destination(store, &keyring, other, "https://d.example/", true).await;
        let all = [every, renewals, paused, sandbox, elsewhere];

        // Through the webhook's group-commit writer, several in one batch, one of them twice.
        let writer = NotificationWriter::spawn(store.clone());
        let mut not_forwarded = row(project, "u-4", "Production", "DID_RENEW");
        not_forwarded.forward = false;
        let rows = [
            row(project, "u-1", "Production", "DID_RENEW"),
            row(project, "u-2", "Production", "REFUND"),
            row(project, "u-3", "Sandbox", "DID_RENEW"),
            not_forwarded,
            row(project, "u-1", "Production", "DID_RENEW"),
            row(project, "u-5", "Production", "SUBSCRIBED"),
        ];
        let answers =
            futures_util::future::join_all(rows.iter().cloned().map(|r| writer.insert(r))).await;
        assert!(answers.iter().all(|a| a.is_ok()));
        let id = |uuid: &'static str| async move { id_of(store, project, uuid).await.unwrap() };
        let webhook = |ds: &[i64]| {
            ds.iter()
                .map(|d| (*d, "webhook".to_owned()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            deliveries(store, &all, id("u-1").await).await,
            webhook(&[every, renewals, paused])
        );
        assert_eq!(
            deliveries(store, &all, id("u-2").await).await,
            webhook(&[every, paused])
        );
        assert_eq!(
            deliveries(store, &all, id("u-3").await).await,
            webhook(&[every, paused, sandbox])
        );
        assert_eq!(deliveries(store, &all, id("u-4").await).await, webhook(&[]));
        assert_eq!(
            deliveries(store, &all, id("u-5").await).await,
            webhook(&[every, renewals, paused])
        );

        // A duplicate (Apple sending it again) queues nothing more: the row and its time stay.
        let before = store
            .forward_delivery(every, id("u-1").await)
            .await
            .unwrap()
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        writer
            .insert(row(project, "u-1", "Production", "DID_RENEW"))
            .await
            .unwrap();
        let after = store
            .forward_delivery(every, id("u-1").await)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((before.id, before.created_at), (after.id, after.created_at));

        // One at a time (gap recovery and backfill store so): the origin follows the source.
        let mut recovered = row(project, "u-6", "Production", "DID_RENEW");
        recovered.source = "recovered".into();
        let mut backfilled = row(project, "u-7", "Production", "DID_RENEW");
        backfilled.source = "backfill".into();
        let mut backfilled_not_forwarded = row(project, "u-8", "Production", "DID_RENEW");
        backfilled_not_forwarded.source = "backfill".into();
        backfilled_not_forwarded.forward = false;
        for r in [&recovered, &backfilled, &backfilled_not_forwarded] {
            store.insert_notification(r).await.unwrap();
        }
        assert_eq!(
            deliveries(store, &[every], id("u-6").await).await,
            vec![(every, "gap".to_owned())]
        );
        assert_eq!(
            deliveries(store, &[every], id("u-7").await).await,
            vec![(every, "backfill".to_owned())]
        );
        assert!(deliveries(store, &[every], id("u-8").await)
            .await
            .is_empty());
    }
);

both_backends!(
    a_notification_is_never_stored_without_its_deliveries,
    |app| {
        let store = &app.store;
        let keyring = app.settings.keyring();
        let project = store_project(store, "fwd").await;
        let (destination, _) =
            add_destination(store, &keyring, project, "https://a.example/", true).await;
        let writer = NotificationWriter::spawn(store.clone());

        // The deliveries' insert fails: the notification is not stored either, by either path, and the webhook
        // answers an error (so Apple sends it again).
        refuse_deliveries(&app, true).await;
        assert!(writer
            .insert(row(project, "u-1", "Production", "DID_RENEW"))
            .await
            .is_err());
        let batch = futures_util::future::join_all(
            ["u-2", "u-3"].map(|u| writer.insert(row(project, u, "Production", "DID_RENEW"))),
        )
        .await;
        assert!(batch.iter().all(|a| a.is_err()));
        assert!(store
            .insert_notification(&row(project, "u-4", "Sandbox", "REFUND"))
            .await
            .is_err());
        for uuid in ["u-1", "u-2", "u-3", "u-4"] {
            assert_eq!(
                id_of(store, project, uuid).await,
                None,
                "{uuid} was stored without its delivery"
            );
        }

        // Apple's next try, once the database takes deliveries again, stores both.
        refuse_deliveries(&app, false).await;
        writer
            .insert(row(project, "u-1", "Production", "DID_RENEW"))
            .await
            .unwrap();
        store
            .insert_notification(&row(project, "u-4", "Sandbox", "REFUND"))
            .await
            .unwrap();
        for uuid in ["u-1", "u-4"] {
            let id = id_of(store, project, uuid).await.unwrap();
            assert!(
                store
                    .forward_delivery(destination, id)
                    .await
                    .unwrap()
                    .is_some(),
                "{uuid}"
            );
        }
    }
);
