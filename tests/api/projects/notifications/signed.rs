//! Notifications for the notifications pages' tests: the simulator signs them (sending to an address where nothing
//! listens, so the attempt fails but stays in Apple's history), and the test stores them as if they had arrived.
#![allow(dead_code)]

use std::sync::Arc;

use storedesk::apple::{
    ApiCredentials, AppleClient, AppleClientConfig, Environment, SignedDataVerifier,
};
use storedesk::apple_sim::{NotificationSpec, SimEnvironment, SimHandle};
use storedesk::notifications::{ingest, Source};
use storedesk::state::AppState;
use storedesk::store::Project;

use crate::helpers::TestApp;

/// Nothing listens on port 9: the delivery fails at once, and Apple's history records it.
pub const NOWHERE: &str = "http://127.0.0.1:9/apple/notifications/nobody";

/// Runs one test body on SQLite and on PostgreSQL with `ready()`: app, simulator, project `demo`, key, admin.
#[macro_export]
macro_rules! with_ready {
    ($name:ident, |$r:ident| $body:block) => {
        $crate::on_both_backends!(
            $name,
            |backend| $crate::helpers::ready(backend, storedesk::apple_sim::SimConfig::default()),
            $r => $body
        );
    };
}

pub fn verifier(sim: &SimHandle) -> SignedDataVerifier {
    SignedDataVerifier::new()
        .with_extra_roots(vec![sim.root_ca_der()])
        .unwrap()
}

/// The signed payload of a new notification, recorded in the simulator's history as not delivered.
pub async fn produce(sim: &SimHandle, env: SimEnvironment, spec: NotificationSpec) -> String {
    sim.set_notification_url(env, Some(NOWHERE.into()));
    let outcome = sim.send_notification(env, spec).await.unwrap();
    assert_ne!(outcome.send_attempt_result, "SUCCESS");
    outcome.signed_payload
}

/// Stores a payload as the webhook would; returns the row id.
pub async fn store(app: &TestApp, sim: &SimHandle, project: &Project, payload: &str) -> i64 {
    let (inserted, _) = ingest(
        &app.store,
        &verifier(sim),
        project,
        payload,
        Source::Webhook,
    )
    .await
    .unwrap();
    inserted.id()
}

/// A new notification that "arrived" through the webhook; returns its row id.
pub async fn arrive(
    app: &TestApp,
    sim: &SimHandle,
    project: &Project,
    env: SimEnvironment,
    spec: NotificationSpec,
) -> i64 {
    let payload = produce(sim, env, spec).await;
    store(app, sim, project, &payload).await
}

pub fn spec(notification_type: &str, transaction_id: &str) -> NotificationSpec {
    NotificationSpec::new(notification_type).transaction(transaction_id)
}

/// The application state a background job needs, wired like the test app's own (same database and simulator).
pub fn state(app: &TestApp) -> AppState {
    let apple = AppleClient::new(AppleClientConfig {
        production_url: app.settings.apple.production_url.clone(),
        sandbox_url: app.settings.apple.sandbox_url.clone(),
        timeout: app.settings.apple.timeout,
        ..AppleClientConfig::default()
    })
    .unwrap();
    let verifier = SignedDataVerifier::new()
        .with_extra_roots(app.settings.apple.extra_roots.clone())
        .unwrap();
    let metrics = Arc::new(storedesk::metrics::Metrics::default());
    AppState {
        store: app.store.clone(),
        settings: app.settings.clone(),
        database: storedesk::state::DatabaseWatch::start(&app.store, metrics.clone()),
        metrics,
        apple,
        connect: storedesk::apple::connect::ConnectClient::new(
            &app.settings.apple.connect_url,
            app.settings.apple.timeout,
            "storedesk-test",
        )
        .unwrap(),
        verifier: verifier.into(),
        intake: storedesk::state::Intake::start(&app.store).unwrap(),
        page_pool: storedesk::cpu_pool::CpuPool::new("test-page-verify", 2, 16).unwrap(),
    }
}

/// Every signed payload in the simulator's history for [start, end), fetched with a key of its own.
pub async fn history(sim: &SimHandle, env: Environment, start_ms: i64, end_ms: i64) -> Vec<String> {
    use app_store_server_library::models::notification_history_request::NotificationHistoryRequest;
    let key = sim.issue_key();
    let creds = ApiCredentials {
        key_id: storedesk::domain::KeyId::parse(&key.key_id).unwrap(),
        issuer_id: storedesk::domain::IssuerId::parse(&key.issuer_id).unwrap(),
        bundle_id: sim.seed().bundle_id,
        signing_key: storedesk::domain::ApplePrivateKey::parse(key.private_key_pem.as_bytes())
            .unwrap()
            .signing_key()
            .into(),
        key_version: 1,
    };
    let client = AppleClient::new(AppleClientConfig {
        production_url: sim.production_url(),
        sandbox_url: sim.sandbox_url(),
        ..AppleClientConfig::default()
    })
    .unwrap();
    let request = NotificationHistoryRequest {
        start_date: chrono::DateTime::from_timestamp_millis(start_ms).unwrap(),
        end_date: chrono::DateTime::from_timestamp_millis(end_ms).unwrap(),
        notification_type: None,
        notification_subtype: None,
        transaction_id: None,
        only_failures: None,
    };
    let mut token: Option<String> = None;
    let mut all = Vec::new();
    loop {
        let page = client
            .get_notification_history(&creds, env, &request, token.as_deref())
            .await
            .unwrap();
        all.extend(
            page.notification_history
                .unwrap_or_default()
                .into_iter()
                .filter_map(|i| i.signed_payload),
        );
        match (page.has_more, page.pagination_token) {
            (Some(true), Some(t)) => token = Some(t),
            _ => return all,
        }
    }
}

/// How askama writes text into HTML, so sentences can be found in pages.
pub fn esc(s: &str) -> String {
    s.replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

/// Row ids of the notification detail links on a page, in page order.
pub fn detail_ids(html: &str, slug: &str) -> Vec<i64> {
    let marker = format!("href=\"/projects/{slug}/notifications/");
    html.match_indices(&marker)
        .filter_map(|(i, _)| {
            let rest = &html[i + marker.len()..];
            let end = rest.find('"')?;
            rest[..end].parse().ok()
        })
        .collect()
}

pub fn day(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap()
        .format("%Y-%m-%d")
        .to_string()
}

pub const DAY_MS: i64 = 86_400_000;
