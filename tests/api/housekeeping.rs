//! The housekeeping job: expired sessions and day-old sign-in failures go; notifications go only past a retention
//! that was set; the audit log stays whole. The job's clock is a parameter: no test waits for it.
use std::time::Duration;

use storedesk::domain::Role;
use storedesk::housekeeping::{run_once, Removed};
use storedesk::store::forwarding::DestinationSettings;
use storedesk::store::notifications::NewNotification;
use storedesk::store::{Actor, AuditFilter};

use crate::helpers::{spawn_app_with, store_project};
use crate::on_both_backends;
use crate::projects::notifications::signed::state;

const DAY: i64 = 24 * 3_600_000;

fn notification(project_id: i64, uuid: &str, received_at: i64) -> NewNotification {
    NewNotification {
        project_id,
        notification_uuid: uuid.to_owned(),
        notification_type: "DID_RENEW".into(),
        subtype: None,
        environment: "Production".into(),
        signed_date: received_at,
        transaction_id: None,
        original_transaction_id: None,
        product_id: None,
        source: "webhook".into(),
        received_at,
        signed_payload: format!("eyJ.{uuid}"),
        payload: "{}".into(),
        index: None,
        raw_body: None,
        forward: true,
    }
}

on_both_backends!(
    housekeeping_removes_what_expired_and_never_the_audit_log,
    |backend| spawn_app_with(backend, |s| {
        s.retention.notifications = Some(Duration::from_secs(30 * 24 * 3600));
    }),
    app => {
        let now = storedesk::clock::now_ms();
        let project = store_project(&app.store, "kept").await;
        let old = app.session(Role::Admin).await;
        storedesk_age(&app, 8 * DAY).await;
        let fresh = app.session(Role::Support).await;
        app.store
            .record_login_attempt(&["address:198.51.100.1".into()], now - 2 * DAY)
            .await
            .unwrap();
        app.store
            .record_login_attempt(&["address:198.51.100.2".into()], now - 60_000)
            .await
            .unwrap();
        // A destination nobody answers at: the old notification below waits there, so retention must keep it.
        let keyring = app.settings.keyring();
        let secret = storedesk::forwarding::secret::generate();
        app.store
            .add_forward_destination(
                project,
                &DestinationSettings {
                    name: "backend".into(),
                    url: format!("http://127.0.0.1:{}/apple", closed_port()),
                    production: true,
                    sandbox: false,
                    types: vec!["REFUND".into()],
                    enabled: true,
                },
                &|id| storedesk::keys::seal_forward_secret(&keyring, project, id, &secret),
                &Actor::system("test"),
            )
            .await
            .unwrap();
        let mut waiting = notification(project, "waiting", now - 40 * DAY);
        waiting.notification_type = "REFUND".into();
        app.store.insert_notification(&waiting).await.unwrap();
        app.store.insert_notification(&notification(project, "old", now - 31 * DAY)).await.unwrap();
        app.store.insert_notification(&notification(project, "recent", now - 29 * DAY)).await.unwrap();
        let audited = app.store.list_audit(&AuditFilter { limit: 1000, ..AuditFilter::default() }).await.unwrap().len();
        assert!(audited > 0);

        let state = state(&app);
        let removed = run_once(&state, "test", now).await.unwrap().unwrap();
        assert_eq!(
            removed,
            Removed { sessions: 1, pending_sign_ins: 0, login_failures: 1, notifications: 1, deliveries: 0 }
        );
        // The expired session now leads to sign-in; the fresh one still works.
        assert_eq!(old.get("/projects").await.status().as_u16(), 303);
        assert_eq!(fresh.get("/projects").await.status().as_u16(), 200);
        assert_eq!(
            app.store.count_notifications(project).await.unwrap(),
            2,
            "the recent one, and the old one a delivery still waits to send"
        );
        let (left, _) = app.store.login_failures_since("address:198.51.100.2", 0).await.unwrap();
        assert_eq!(left, 1);
        assert_eq!(
            app.store.list_audit(&AuditFilter { limit: 1000, ..AuditFilter::default() }).await.unwrap().len(),
            audited,
            "the audit log is never pruned"
        );
        // Another instance's run while the lease is held does nothing; the next run finds nothing left.
        assert_eq!(run_once(&state, "other", now + 1).await.unwrap(), None);
        assert_eq!(run_once(&state, "test", now + 2).await.unwrap(), Some(Removed::default()));
    }
);

on_both_backends!(
    expired_pending_sign_ins_and_passkey_ceremonies_are_removed,
    |backend| spawn_app_with(backend, |_| {}),
    app => {
        use sqlx::Connection as _;
        use storedesk::store::passkeys::CeremonyOwner;
        let now = storedesk::clock::now_ms();
        app.add_user("lead@example.com", Role::Lead).await;
        let user = app.store.user_by_email("lead@example.com").await.unwrap().unwrap();
        let minutes = |n: i64| n * 60_000;
        // One right password still waiting, and one whose second step never came (expired; made second, as the
        // first one's insertion would have cleared it).
        app.store
            .create_pending_sign_in("waiting-hash", user.id, "/projects", now, now + minutes(5))
            .await
            .unwrap();
        app.store
            .create_pending_sign_in("expired-hash", user.id, "/projects", now - minutes(10), now - minutes(5))
            .await
            .unwrap();
        let waiting = app.store.pending_sign_in("waiting-hash", now).await.unwrap().unwrap();
        app.store
            .begin_passkey_ceremony(CeremonyOwner::PendingSignIn(waiting.id), user.id, "", "{}", now, now + minutes(5))
            .await
            .unwrap();
        sqlx::any::install_default_drivers();
        let mut db = sqlx::AnyConnection::connect(app.settings.database_url.as_str()).await.unwrap();
        let count = |table: &'static str| format!("SELECT COUNT(*) FROM {table}");

        let state = state(&app);
        let removed = run_once(&state, "test", now).await.unwrap().unwrap();
        assert_eq!(removed.pending_sign_ins, 1);
        let (left,): (i64,) = sqlx::query_as(&count("pending_sign_ins")).fetch_one(&mut db).await.unwrap();
        assert_eq!(left, 1, "the waiting one stays");
        assert!(app.store.pending_sign_in("waiting-hash", now).await.unwrap().is_some());
        let (ceremonies,): (i64,) = sqlx::query_as(&count("passkey_ceremonies")).fetch_one(&mut db).await.unwrap();
        assert_eq!(ceremonies, 1, "a ceremony still waiting stays");

        // Six minutes later (the next run, past the lease) both have expired and go.
        let later = now + minutes(6) + 3_600_000;
        let removed = run_once(&state, "test", later).await.unwrap().unwrap();
        assert_eq!(removed.pending_sign_ins, 1);
        let (left,): (i64,) = sqlx::query_as(&count("pending_sign_ins")).fetch_one(&mut db).await.unwrap();
        assert_eq!(left, 0);
        let (ceremonies,): (i64,) = sqlx::query_as(&count("passkey_ceremonies")).fetch_one(&mut db).await.unwrap();
        assert_eq!(ceremonies, 0);
    }
);

on_both_backends!(
    without_a_retention_notifications_are_kept_forever,
    |backend| spawn_app_with(backend, |_| {}),
    app => {
        let now = storedesk::clock::now_ms();
        let project = store_project(&app.store, "forever").await;
        app.store.insert_notification(&notification(project, "ancient", now - 3650 * DAY)).await.unwrap();
        let removed = run_once(&state(&app), "test", now).await.unwrap().unwrap();
        assert_eq!(removed.notifications, 0);
        assert_eq!(app.store.count_notifications(project).await.unwrap(), 1);
    }
);

async fn storedesk_age(app: &crate::helpers::TestApp, by_ms: i64) {
    app.store.age_sessions_for_tests(by_ms).await.unwrap();
}

/// A port on which nothing listens (bound, then freed).
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
