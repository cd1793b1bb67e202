//! Everything the running simulator shares between requests.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Context as _;

use super::auth::{ConnectRole, KeyRegistry};
use super::connect::ConnectState;
use super::data::{Data, NotificationRecord, SendAttempt};
use super::faults::{Fault, FaultQueue};
use super::payloads::AppInfo;
use super::pki::Pki;
use super::rate_limit::RateLimiter;
use super::seed::SeedSummary;
use super::{notify, seed, IssuedKey, SimConfig, SimEnvironment};

/// Apple gives up on a notification delivery after a few seconds; so do we.
pub(crate) const NOTIFICATION_TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) struct SimState {
    pub app: AppInfo,
    pub issuer_id: String,
    pub production_released: bool,
    pub rate_limits: bool,
    pub pki: Pki,
    pub seed: SeedSummary,
    pub requests: AtomicU64,
    pub http: reqwest::Client,
    pub keys: Mutex<KeyRegistry>,
    pub data: Mutex<Data>,
    pub notification_urls: Mutex<HashMap<SimEnvironment, String>>,
    pub faults: Mutex<FaultQueue>,
    pub limiter: Mutex<RateLimiter>,
    /// Notifications posted to `/sim/elsewhere`, the stand-in for some other server at App Store Connect's URL.
    pub elsewhere: AtomicU64,
    /// `SimConfig::dedupe_extension_requests`.
    pub dedupe_extensions: bool,
    /// Renewal-date extension requests received (see `AppleSim::extension_requests`).
    pub extension_requests: Mutex<Vec<serde_json::Value>>,
    /// The App Store Connect API under `/connect`: catalog, paging, rate limit, failures.
    pub connect: ConnectState,
}

/// A poisoned lock only means another request panicked mid-update; the simulator keeps serving.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl SimState {
    /// `ocsp_url`: the responder the certificates name (the simulator's own `/ocsp`).
    pub(crate) fn new(config: &SimConfig, ocsp_url: Option<&str>) -> anyhow::Result<Self> {
        let pki = Pki::generate_with_ocsp(ocsp_url).context("generating the simulator PKI")?;
        let app = AppInfo {
            bundle_id: config.bundle_id.clone(),
            app_apple_id: config.app_apple_id,
            bundle_version: "42".to_owned(),
        };
        let now = now_ms();
        let (mut data, summary, seeded) = seed::build(now, &config.bundle_id, config.app_apple_id);
        let connect = ConnectState::new(&data.products, config.app_apple_id, &config.bundle_id);
        for env in [SimEnvironment::Production, SimEnvironment::Sandbox] {
            let mut records = Vec::with_capacity(seeded.len());
            for n in &seeded {
                let spec = notify::NotificationSpec {
                    notification_type: n.notification_type.to_owned(),
                    subtype: n.subtype.map(str::to_owned),
                    transaction_id: n.transaction_id.clone(),
                    notification_uuid: Some(n.uuid.clone()),
                    consumption_request_reason: n.consumption_request_reason.map(str::to_owned),
                    mass_request_identifier: None,
                };
                let built = notify::build(
                    &data,
                    &app,
                    &pki.signer,
                    env,
                    &spec,
                    &n.uuid,
                    n.at_ms,
                    false,
                )
                .with_context(|| format!("seeding notification {}", n.uuid))?;
                records.push(NotificationRecord {
                    notification_uuid: n.uuid.clone(),
                    notification_type: n.notification_type.to_owned(),
                    subtype: n.subtype.map(str::to_owned),
                    signed_date_ms: n.at_ms,
                    signed_payload: built.signed_payload,
                    customer: built.customer,
                    attempts: n
                        .attempts
                        .iter()
                        .map(|(delay, result)| SendAttempt {
                            attempt_date_ms: n.at_ms + delay,
                            result: (*result).to_owned(),
                        })
                        .collect(),
                });
            }
            data.notifications.insert(env, records);
        }
        let http = reqwest::Client::builder()
            .timeout(NOTIFICATION_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .context("building the notification HTTP client")?;
        Ok(Self {
            app,
            issuer_id: config.issuer_id.clone(),
            production_released: config.production_released,
            rate_limits: config.rate_limits,
            pki,
            seed: summary,
            requests: AtomicU64::new(0),
            http,
            keys: Mutex::new(KeyRegistry::default()),
            data: Mutex::new(data),
            notification_urls: Mutex::new(HashMap::new()),
            faults: Mutex::new(FaultQueue::default()),
            limiter: Mutex::new(RateLimiter::new(config.rate_limit_budget)),
            elsewhere: AtomicU64::new(0),
            dedupe_extensions: config.dedupe_extension_requests,
            extension_requests: Mutex::new(Vec::new()),
            connect,
        })
    }

    pub(crate) fn issue_key(&self) -> IssuedKey {
        lock(&self.keys).issue(&self.issuer_id)
    }

    /// An App Store Connect API key of the same team; `apps: None` reaches every app.
    pub(crate) fn issue_connect_key(
        &self,
        role: ConnectRole,
        apps: Option<Vec<String>>,
    ) -> IssuedKey {
        lock(&self.keys).issue_connect(&self.issuer_id, role, apps)
    }

    pub(crate) fn revoke_key(&self, key_id: &str) -> bool {
        lock(&self.keys).revoke(key_id)
    }

    pub(crate) fn set_notification_url(&self, env: SimEnvironment, url: Option<String>) {
        let mut urls = lock(&self.notification_urls);
        match url {
            Some(u) => urls.insert(env, u),
            None => urls.remove(&env),
        };
    }

    /// Apple's rule: sandbox falls back to the production URL; production never uses the sandbox URL.
    pub(crate) fn notification_url(&self, env: SimEnvironment) -> Option<String> {
        let urls = lock(&self.notification_urls);
        match env {
            SimEnvironment::Production => urls.get(&SimEnvironment::Production).cloned(),
            SimEnvironment::Sandbox => urls
                .get(&SimEnvironment::Sandbox)
                .or_else(|| urls.get(&SimEnvironment::Production))
                .cloned(),
        }
    }

    pub(crate) fn consumption_submissions(&self) -> Vec<serde_json::Value> {
        lock(&self.data)
            .consumption
            .iter()
            .map(|c| {
                serde_json::json!({
                    "transactionId": c.transaction_id,
                    "body": c.body,
                    "receivedAt": c.at_ms,
                })
            })
            .collect()
    }

    pub(crate) fn inject_fault(&self, fault: Fault) {
        lock(&self.faults).push(fault);
    }
}
