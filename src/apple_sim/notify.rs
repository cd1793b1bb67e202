//! App Store Server Notifications V2: payloads in Apple's legal type/subtype combinations, delivery to the
//! configured URL, and the send-attempt records that Notification History and Test Notification Status read.

use anyhow::{anyhow, bail, Context as _};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::data::{Data, IdKind, NotificationRecord, ProductKind, SendAttempt};
use super::jws::Signer;
use super::payloads::{self, AppInfo};
use super::state::{lock, now_ms, SimState};
use super::SimEnvironment;

/// What notification to send. `NotificationSpec::new("DID_RENEW").transaction(id)` covers most cases.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationSpec {
    pub notification_type: String,
    #[serde(default)]
    pub subtype: Option<String>,
    /// Any transaction id of the customer. Subscription-state notifications carry the newest transaction of
    /// that subscription; refund, consumption and one-time-charge notifications carry exactly this one.
    #[serde(default)]
    pub transaction_id: Option<String>,
    /// Set to an earlier notification's UUID to re-send it unchanged, as Apple's retries do.
    #[serde(default, alias = "notificationUUID")]
    pub notification_uuid: Option<String>,
    /// For CONSUMPTION_REQUEST; defaults to UNINTENDED_PURCHASE.
    #[serde(default)]
    pub consumption_request_reason: Option<String>,
    /// For RENEWAL_EXTENSION / SUMMARY: the mass extension it sums up (its product, storefronts and counts);
    /// without one, a made-up request's.
    #[serde(default)]
    pub mass_request_identifier: Option<String>,
}

impl NotificationSpec {
    pub fn new(notification_type: &str) -> Self {
        Self {
            notification_type: notification_type.to_owned(),
            ..Self::default()
        }
    }

    pub fn subtype(mut self, subtype: &str) -> Self {
        self.subtype = Some(subtype.to_owned());
        self
    }

    /// The summary of the mass extension `request_identifier` (RENEWAL_EXTENSION / SUMMARY).
    pub fn mass_request(mut self, request_identifier: &str) -> Self {
        self.mass_request_identifier = Some(request_identifier.to_owned());
        self
    }

    pub fn transaction(mut self, transaction_id: &str) -> Self {
        self.transaction_id = Some(transaction_id.to_owned());
        self
    }

    pub fn retry_of(mut self, notification_uuid: &str) -> Self {
        self.notification_uuid = Some(notification_uuid.to_owned());
        self
    }
}

/// The result of one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SendOutcome {
    pub notification_uuid: String,
    pub signed_payload: String,
    pub url: String,
    pub attempt_date: i64,
    /// Apple's sendAttemptResult: SUCCESS, UNSUCCESSFUL_HTTP_RESPONSE_CODE, TIMED_OUT, NO_RESPONSE, ...
    pub send_attempt_result: String,
    pub http_status: Option<u16>,
}

/// Allowed subtypes per notificationType (API digest §10.4); `None` in the list means "no subtype".
fn subtypes(notification_type: &str) -> Option<&'static [Option<&'static str>]> {
    Some(match notification_type {
        "SUBSCRIBED" => &[Some("INITIAL_BUY"), Some("RESUBSCRIBE")],
        "DID_CHANGE_RENEWAL_PREF" => &[Some("UPGRADE"), Some("DOWNGRADE"), None],
        "DID_CHANGE_RENEWAL_STATUS" => &[Some("AUTO_RENEW_ENABLED"), Some("AUTO_RENEW_DISABLED")],
        "OFFER_REDEEMED" => &[
            Some("INITIAL_BUY"),
            Some("RESUBSCRIBE"),
            Some("UPGRADE"),
            Some("DOWNGRADE"),
            None,
        ],
        "DID_RENEW" => &[Some("BILLING_RECOVERY"), None],
        "EXPIRED" => &[
            Some("VOLUNTARY"),
            Some("BILLING_RETRY"),
            Some("PRICE_INCREASE"),
            Some("PRODUCT_NOT_FOR_SALE"),
        ],
        "DID_FAIL_TO_RENEW" => &[Some("GRACE_PERIOD"), None],
        "PRICE_INCREASE" => &[Some("PENDING"), Some("ACCEPTED")],
        "RENEWAL_EXTENSION" => &[Some("SUMMARY"), Some("FAILURE")],
        "EXTERNAL_PURCHASE_TOKEN" => &[
            Some("UNREPORTED"),
            Some("CREATED"),
            Some("ACTIVE_TOKEN_REMINDER"),
        ],
        "GRACE_PERIOD_EXPIRED"
        | "REFUND"
        | "REFUND_DECLINED"
        | "REFUND_REVERSED"
        | "CONSUMPTION_REQUEST"
        | "RENEWAL_EXTENDED"
        | "REVOKE"
        | "TEST"
        | "ONE_TIME_CHARGE"
        | "RESCIND_CONSENT" => &[None],
        _ => return None,
    })
}

/// Types Apple documents but the simulator cannot produce (Advanced Commerce); still valid history filters.
const FILTER_ONLY_TYPES: &[&str] = &["METADATA_UPDATE", "MIGRATION", "PRICE_CHANGE"];

pub(crate) fn is_legal(notification_type: &str, subtype: Option<&str>) -> bool {
    subtypes(notification_type).is_some_and(|allowed| allowed.contains(&subtype))
}

/// For the history filters: a known type, and a subtype that type can carry.
pub(crate) fn is_valid_filter(notification_type: &str, subtype: Option<&str>) -> bool {
    if FILTER_ONLY_TYPES.contains(&notification_type) {
        return subtype.is_none();
    }
    match subtype {
        None => subtypes(notification_type).is_some(),
        Some(_) => is_legal(notification_type, subtype),
    }
}

/// Types whose transaction is the one named, not the newest of its subscription.
fn names_exact_transaction(notification_type: &str) -> bool {
    matches!(
        notification_type,
        "REFUND"
            | "REFUND_DECLINED"
            | "REFUND_REVERSED"
            | "CONSUMPTION_REQUEST"
            | "ONE_TIME_CHARGE"
    )
}

pub(crate) struct Built {
    pub signed_payload: String,
    pub customer: Option<usize>,
}

/// Builds and signs one notification payload; `signed_date_ms` is also the signedDate of nested JWS.
#[allow(clippy::too_many_arguments)]
pub(crate) fn build(
    data: &Data,
    app: &AppInfo,
    signer: &Signer,
    env: SimEnvironment,
    spec: &NotificationSpec,
    uuid: &str,
    signed_date_ms: i64,
    corrupt: bool,
) -> anyhow::Result<Built> {
    let kind = spec.notification_type.as_str();
    let subtype = spec.subtype.as_deref();
    if !is_legal(kind, subtype) {
        bail!("{kind} with subtype {subtype:?} is not a combination Apple sends");
    }
    let mut root = Map::new();
    root.insert("notificationType".into(), json!(kind));
    if let Some(s) = subtype {
        root.insert("subtype".into(), json!(s));
    }
    root.insert("notificationUUID".into(), json!(uuid));
    let mut customer = None;

    match (kind, subtype) {
        ("TEST", _) => {
            root.insert(
                "data".into(),
                json!({
                    "appAppleId": app.app_apple_id,
                    "bundleId": app.bundle_id,
                    "environment": env.as_str(),
                }),
            );
        }
        ("RENEWAL_EXTENSION", Some("SUMMARY")) => {
            let mut summary = json!({
                "requestIdentifier": uuid::Uuid::new_v4().to_string(),
                "environment": env.as_str(),
                "appAppleId": app.app_apple_id,
                "bundleId": app.bundle_id,
                "productId": super::seed::PRO_MONTHLY,
                "storefrontCountryCodes": ["USA", "DEU", "JPN"],
                "succeededCount": 3,
                "failedCount": 0,
            });
            if let Some(request) = spec.mass_request_identifier.as_deref() {
                let ((product_id, _), job) = data
                    .mass_jobs
                    .iter()
                    .find(|((_, r), _)| r == request)
                    .ok_or_else(|| {
                        anyhow!("no mass extension {request} in the simulator's data")
                    })?;
                summary["requestIdentifier"] = json!(request);
                summary["productId"] = json!(product_id);
                summary["succeededCount"] = json!(job.succeeded);
                summary["failedCount"] = json!(job.failed);
                // Left out when the request named no storefront (every storefront).
                match &job.storefronts {
                    Some(codes) => summary["storefrontCountryCodes"] = json!(codes),
                    None => {
                        if let Some(map) = summary.as_object_mut() {
                            map.remove("storefrontCountryCodes");
                        }
                    }
                }
            }
            root.insert("summary".into(), summary);
        }
        ("EXTERNAL_PURCHASE_TOKEN", _) => {
            let id = uuid::Uuid::new_v4().to_string();
            let external_purchase_id = match env {
                SimEnvironment::Sandbox => format!("SANDBOX_{id}"),
                SimEnvironment::Production => id,
            };
            root.insert(
                "externalPurchaseToken".into(),
                json!({
                    "externalPurchaseId": external_purchase_id,
                    "tokenCreationDate": signed_date_ms,
                    "appAppleId": app.app_apple_id,
                    "bundleId": app.bundle_id,
                }),
            );
        }
        _ => {
            let id = spec
                .transaction_id
                .as_deref()
                .ok_or_else(|| anyhow!("{kind} needs a transaction id"))?;
            let named = match data.identify(id) {
                Some(IdKind::Transaction(i)) => data.transactions.get(i),
                _ => None,
            }
            .ok_or_else(|| anyhow!("transaction {id} is not in the simulator's data"))?;
            customer = Some(named.customer);
            let tx = if names_exact_transaction(kind) {
                named
            } else {
                data.latest_of(&named.original_transaction_id)
                    .unwrap_or(named)
            };
            if kind == "RESCIND_CONSENT" {
                let c = data
                    .customers
                    .get(tx.customer)
                    .context("customer of the transaction")?;
                let app_tx = payloads::app_transaction(c, app, env, signed_date_ms);
                root.insert(
                    "appData".into(),
                    json!({
                        "appAppleId": app.app_apple_id,
                        "bundleId": app.bundle_id,
                        "environment": env.as_str(),
                        "signedAppTransactionInfo": signer.sign(&app_tx, corrupt),
                    }),
                );
            } else {
                let mut d = Map::new();
                d.insert("appAppleId".into(), json!(app.app_apple_id));
                d.insert("bundleId".into(), json!(app.bundle_id));
                d.insert("bundleVersion".into(), json!(app.bundle_version));
                d.insert("environment".into(), json!(env.as_str()));
                let tx_payload = payloads::transaction(data, tx, app, env, signed_date_ms);
                d.insert(
                    "signedTransactionInfo".into(),
                    json!(signer.sign(&tx_payload, corrupt)),
                );
                if tx.kind == ProductKind::AutoRenewable {
                    if let Some(sub) = data.subscriptions.get(&tx.original_transaction_id) {
                        let renewal = payloads::renewal(data, sub, env, signed_date_ms);
                        d.insert(
                            "signedRenewalInfo".into(),
                            json!(signer.sign(&renewal, corrupt)),
                        );
                        d.insert("status".into(), json!(sub.status));
                    }
                }
                if kind == "CONSUMPTION_REQUEST" {
                    d.insert(
                        "consumptionRequestReason".into(),
                        json!(spec
                            .consumption_request_reason
                            .as_deref()
                            .unwrap_or("UNINTENDED_PURCHASE")),
                    );
                }
                root.insert("data".into(), Value::Object(d));
            }
        }
    }
    root.insert("version".into(), json!("2.0"));
    root.insert("signedDate".into(), json!(signed_date_ms));
    Ok(Built {
        signed_payload: signer.sign(&Value::Object(root), corrupt),
        customer,
    })
}

/// POSTs `{"signedPayload": …}` and classifies the outcome the way Apple's sendAttemptResult does.
async fn post(http: &reqwest::Client, url: &str, signed_payload: &str) -> (String, Option<u16>) {
    if !is_loopback(url).await {
        // The simulator's notifications are test data signed by a test root: they go to this machine only.
        tracing::debug!(url, "notification not sent: not a loopback address");
        return ("OTHER".to_owned(), None);
    }
    let body = json!({ "signedPayload": signed_payload });
    match http.post(url).json(&body).send().await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let result = if (200..=206).contains(&status) {
                "SUCCESS"
            } else {
                "UNSUCCESSFUL_HTTP_RESPONSE_CODE"
            };
            (result.to_owned(), Some(status))
        }
        Err(e) => {
            let result = if e.is_timeout() {
                "TIMED_OUT"
            } else if e.is_connect() {
                "NO_RESPONSE"
            } else if e.is_redirect() {
                "CIRCULAR_REDIRECT"
            } else if e.is_body() || e.is_decode() {
                "PREMATURE_CLOSE"
            } else {
                "OTHER"
            };
            tracing::debug!(error = %e, url, "notification delivery failed");
            (result.to_owned(), None)
        }
    }
}

/// True when every address the URL's host stands for is this machine's (127.0.0.0/8, ::1).
pub(crate) async fn is_loopback(url: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(url) else {
        return false;
    };
    let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
        return false;
    };
    // host_str keeps an IPv6 address's brackets, which is the form "host:port" needs.
    let target = format!("{host}:{port}");
    let found: Vec<std::net::SocketAddr> = match tokio::net::lookup_host(target).await {
        Ok(addrs) => addrs.collect(),
        Err(_) => Vec::new(),
    };
    !found.is_empty() && found.iter().all(|a| a.ip().is_loopback())
}

/// Sends the recorded notification `uuid` once and records the attempt.
pub(crate) async fn deliver(
    state: &SimState,
    env: SimEnvironment,
    uuid: &str,
    url: &str,
) -> anyhow::Result<SendOutcome> {
    let signed_payload = lock(&state.data)
        .notifications(env)
        .iter()
        .find(|r| r.notification_uuid == uuid)
        .map(|r| r.signed_payload.clone())
        .ok_or_else(|| anyhow!("no notification {uuid} in the {env} history"))?;
    let attempt_date = now_ms();
    let (result, http_status) = post(&state.http, url, &signed_payload).await;
    let mut data = lock(&state.data);
    if let Some(record) = data
        .notifications_mut(env)
        .iter_mut()
        .find(|r| r.notification_uuid == uuid)
    {
        record.attempts.push(SendAttempt {
            attempt_date_ms: attempt_date,
            result: result.clone(),
        });
    }
    Ok(SendOutcome {
        notification_uuid: uuid.to_owned(),
        signed_payload,
        url: url.to_owned(),
        attempt_date,
        send_attempt_result: result,
        http_status,
    })
}

/// Records a new notification (not yet attempted) in the history of `env` and returns its UUID.
pub(crate) fn record_new(
    state: &SimState,
    env: SimEnvironment,
    spec: &NotificationSpec,
) -> anyhow::Result<String> {
    let uuid = spec
        .notification_uuid
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let signed_date = now_ms();
    let mut data = lock(&state.data);
    let built = build(
        &data,
        &state.app,
        &state.pki.signer,
        env,
        spec,
        &uuid,
        signed_date,
        false,
    )?;
    data.notifications_mut(env).push(NotificationRecord {
        notification_uuid: uuid.clone(),
        notification_type: spec.notification_type.clone(),
        subtype: spec.subtype.clone(),
        signed_date_ms: signed_date,
        signed_payload: built.signed_payload,
        customer: built.customer,
        attempts: Vec::new(),
    });
    Ok(uuid)
}

/// Builds and signs a notification as `send` would, without recording or delivering it: for tests and load
/// scripts that POST it themselves. `signed_date_ms` is also the signedDate of the nested transaction and renewal
/// info, so distinct dates give distinct nested JWS.
pub(crate) fn sign_only(
    state: &SimState,
    env: SimEnvironment,
    spec: &NotificationSpec,
    signed_date_ms: i64,
) -> anyhow::Result<String> {
    let uuid = spec
        .notification_uuid
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let data = lock(&state.data);
    let built = build(
        &data,
        &state.app,
        &state.pki.signer,
        env,
        spec,
        &uuid,
        signed_date_ms,
        false,
    )?;
    Ok(built.signed_payload)
}

pub(crate) async fn send(
    state: &SimState,
    env: SimEnvironment,
    spec: NotificationSpec,
) -> anyhow::Result<SendOutcome> {
    let url = state
        .notification_url(env)
        .ok_or_else(|| anyhow!("no notification URL is configured for {env}"))?;
    let existing = spec.notification_uuid.as_ref().filter(|uuid| {
        lock(&state.data)
            .notifications(env)
            .iter()
            .any(|r| &r.notification_uuid == *uuid)
    });
    let uuid = match existing {
        Some(uuid) => uuid.clone(),
        None => record_new(state, env, &spec)?,
    };
    deliver(state, env, &uuid, &url).await
}
