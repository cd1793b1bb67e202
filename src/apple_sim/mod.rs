//! A local, faithful App Store Server API for tests and `storedesk demo`.
//!
//! The simulator serves Apple's paths under `/production` and `/sandbox` on loopback, checks bearer JWTs the
//! way Apple does, signs every transaction, renewal and notification with its own three-level PKI shaped like
//! Apple's chain, and keeps enough state (seeded customers, subscriptions, refunds, notifications) for the
//! endpoints to stay coherent with each other. It also serves the part of the App Store Connect API that lists
//! the team's apps and product catalog, under `/connect`, for App Store Connect API keys only. A small
//! unauthenticated admin surface under `/sim/` lets scripts issue keys, inject faults and trigger notifications.

mod auth;
mod connect;
mod data;
mod errors;
mod faults;
mod handlers;
mod jws;
mod notify;
mod ocsp;
mod paging;
mod payloads;
mod pki;
mod query;
mod rate_limit;
mod seed;
pub(crate) mod server;
mod state;

#[cfg(test)]
mod tests;

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

pub use auth::ConnectRole;
pub use faults::Fault;
pub use notify::{NotificationSpec, SendOutcome};
pub use ocsp::OcspMode;
pub use seed::{CustomerSummary, SeedSummary, SubscriptionIds};

use state::SimState;

/// Issuer ID of the simulated team when the caller does not choose one; lowercase, like App Store Connect shows it.
pub const DEFAULT_ISSUER_ID: &str = "5a3c4f0e-8d2b-4c61-9e7a-1f6b2d8c9e40";
pub const DEFAULT_BUNDLE_ID: &str = "com.storedesk.demo";
pub const DEFAULT_APP_APPLE_ID: i64 = 1_234_567_890;

/// How the simulator is started.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Where to listen; `127.0.0.1:0` picks a free port (the default, so tests never collide).
    pub bind: SocketAddr,
    pub bundle_id: String,
    pub app_apple_id: i64,
    pub issuer_id: String,
    /// `false` makes every Production call answer 401, as Apple does for an app never released there.
    pub production_released: bool,
    /// Enforce Apple's per-endpoint hourly quotas (sandbox gets 10 %).
    pub rate_limits: bool,
    /// Replaces Apple's production hourly budget of every endpoint (sandbox still gets 10 %, at least 1), so a
    /// test can reach the limit in a few calls. Only used when `rate_limits` is on.
    pub rate_limit_budget: Option<u64>,
    /// Where `run_cli` writes the root certificate and the `.p8`; a fresh directory under the system temp dir
    /// when absent. `spawn` ignores it.
    pub output_dir: Option<PathBuf>,
    /// Held before each API answer: the network and Apple's own time, which loopback leaves out (benchmarks).
    pub answer_delay: std::time::Duration,
    /// Apple applies a renewal-date extension's `requestIdentifier` once: the same identifier again is answered
    /// with the first outcome, not applied twice (`true`, the default). `false` applies every request, so a test
    /// can show what happens when a client sends an extension twice under different identifiers or Apple's
    /// de-duplication is not there.
    pub dedupe_extension_requests: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            bundle_id: DEFAULT_BUNDLE_ID.to_owned(),
            app_apple_id: DEFAULT_APP_APPLE_ID,
            issuer_id: DEFAULT_ISSUER_ID.to_owned(),
            production_released: true,
            rate_limits: false,
            rate_limit_budget: None,
            output_dir: None,
            answer_delay: std::time::Duration::ZERO,
            dedupe_extension_requests: true,
        }
    }
}

/// The two environments the simulator answers for; each has its own URL prefix and notification URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SimEnvironment {
    Production,
    Sandbox,
}

impl SimEnvironment {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Production => "Production",
            Self::Sandbox => "Sandbox",
        }
    }
}

impl fmt::Display for SimEnvironment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SimEnvironment {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "production" => Ok(Self::Production),
            "sandbox" => Ok(Self::Sandbox),
            _ => anyhow::bail!("unknown environment {s:?}: expected Production or Sandbox"),
        }
    }
}

/// A freshly created key (In-App Purchase or App Store Connect API), as App Store Connect hands it out once.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedKey {
    /// 10 characters, A-Z and 0-9.
    pub key_id: String,
    pub issuer_id: String,
    /// PKCS#8 PEM (`BEGIN PRIVATE KEY`) of a P-256 key, in the 150-byte form Apple's downloads use.
    pub private_key_pem: String,
    /// `SubscriptionKey_<KEYID>.p8` for an In-App Purchase key, `AuthKey_<KEYID>.p8` for an App Store Connect
    /// API key.
    pub file_name: String,
}

// Even a simulator key should not end up in logs by accident.
impl fmt::Debug for IssuedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedKey")
            .field("key_id", &self.key_id)
            .field("issuer_id", &self.issuer_id)
            .field("private_key_pem", &"<redacted>")
            .field("file_name", &self.file_name)
            .finish()
    }
}

/// A running simulator. Dropping it leaves the server running until the runtime ends; call `stop` to end it.
pub struct SimHandle {
    state: Arc<SimState>,
    addr: SocketAddr,
    server: actix_web::dev::ServerHandle,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl SimHandle {
    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The base URL to configure as Apple's production host; API paths (`/inApps/v1/...`) go under it.
    pub fn production_url(&self) -> String {
        format!("{}/production", self.base_url())
    }

    /// Switches what the simulator's OCSP responder says (see [`OcspMode`]).
    pub fn set_ocsp_mode(&self, mode: OcspMode) {
        *state::lock(&self.state.pki.ocsp.mode) = mode;
    }

    /// OCSP requests received so far: (for the leaf, for the intermediate).
    pub fn ocsp_requests(&self) -> (u64, u64) {
        let ocsp = &self.state.pki.ocsp;
        (
            ocsp.leaf_requests.load(Ordering::Relaxed),
            ocsp.intermediate_requests.load(Ordering::Relaxed),
        )
    }

    pub fn sandbox_url(&self) -> String {
        format!("{}/sandbox", self.base_url())
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The simulator's root certificate; a client must trust it only when told to.
    pub fn root_ca_der(&self) -> Vec<u8> {
        self.state.pki.root_der.clone()
    }

    pub fn root_ca_pem(&self) -> String {
        self.state.pki.root_pem.clone()
    }

    pub fn issue_key(&self) -> IssuedKey {
        self.state.issue_key()
    }

    /// Later calls signed with this key answer 401. Unknown key ids are ignored.
    pub fn revoke_key(&self, key_id: &str) {
        self.state.revoke_key(key_id);
    }

    pub fn set_notification_url(&self, env: SimEnvironment, url: Option<String>) {
        self.state.set_notification_url(env, url);
    }

    /// A URL of another server that answers every notification 200 (`/sim/elsewhere`): set as a notification URL,
    /// it makes Apple report a delivery that never reaches storedesk, as when App Store Connect holds another
    /// server's URL.
    pub fn elsewhere_url(&self) -> String {
        format!("{}/sim/elsewhere", self.base_url())
    }

    /// Notifications that server received.
    pub fn elsewhere_received(&self) -> u64 {
        self.state.elsewhere.load(Ordering::Relaxed)
    }

    /// Queues a fault; it applies to the next `count` App Store Server API calls (never to `/sim/` calls).
    pub fn inject_fault(&self, fault: Fault) {
        self.state.inject_fault(fault);
    }

    /// Signs and POSTs one notification to the URL configured for `env`, and records the attempt in the
    /// notification history. Passing an existing `notification_uuid` re-sends that notification (a retry).
    pub async fn send_notification(
        &self,
        env: SimEnvironment,
        n: NotificationSpec,
    ) -> anyhow::Result<SendOutcome> {
        notify::send(&self.state, env, n).await
    }

    /// Signs a notification like `send_notification` without recording or sending it (signedDate = now).
    pub fn sign_notification(
        &self,
        env: SimEnvironment,
        n: NotificationSpec,
    ) -> anyhow::Result<String> {
        notify::sign_only(&self.state, env, &n, state::now_ms())
    }

    /// `sign_notification` with a chosen signedDate (also used for the nested JWS).
    pub fn sign_notification_at(
        &self,
        env: SimEnvironment,
        n: NotificationSpec,
        signed_date_ms: i64,
    ) -> anyhow::Result<String> {
        notify::sign_only(&self.state, env, &n, signed_date_ms)
    }

    /// Signs any JSON payload with the simulator's chain, as Apple signs data: for tests that need a correctly
    /// signed payload Apple would never send (another bundle ID, mismatched environments).
    pub fn sign_json(&self, payload: &serde_json::Value) -> String {
        self.state.pki.signer.sign(payload, false)
    }

    pub fn seed(&self) -> SeedSummary {
        self.state.seed.clone()
    }

    /// Every Send Consumption Information body received (v2 and V1), oldest first, as
    /// `{"transactionId", "body", "receivedAt"}`.
    pub fn consumption_submissions(&self) -> Vec<serde_json::Value> {
        self.state.consumption_submissions()
    }

    /// Every renewal-date extension request received (after its body was checked), oldest first, as
    /// `{"originalTransactionId", "requestIdentifier", "extendByDays", "applied", "receivedAt"}`.
    pub fn extension_requests(&self) -> Vec<serde_json::Value> {
        state::lock(&self.state.extension_requests).clone()
    }

    /// The mass renewal-date extensions Apple holds, as `{"productId", "requestIdentifier", "storefrontCountryCodes",
    /// "complete", "succeededCount", "failedCount"}`.
    pub fn mass_extensions(&self) -> Vec<serde_json::Value> {
        state::lock(&self.state.data)
            .mass_jobs
            .iter()
            .map(|((product, request), job)| {
                serde_json::json!({
                    "productId": product,
                    "requestIdentifier": request,
                    "storefrontCountryCodes": job.storefronts,
                    "complete": job.complete,
                    "succeededCount": job.succeeded,
                    "failedCount": job.failed,
                })
            })
            .collect()
    }

    /// App Store Server API calls received so far (the `/sim/` admin surface is not counted).
    pub fn request_count(&self) -> u64 {
        self.state.requests.load(Ordering::Relaxed)
    }

    /// `{base}/connect`: the value for STOREDESK_APP_STORE_CONNECT_URL.
    pub fn connect_url(&self) -> String {
        format!("{}{}", self.base_url(), connect::SCOPE)
    }

    /// A team key (all apps) with this role; `IssuedKey.file_name` = `AuthKey_<KEYID>.p8`, same issuer id as
    /// the In-App Purchase keys.
    pub fn issue_connect_key(&self, role: ConnectRole) -> IssuedKey {
        self.state.issue_connect_key(role, None)
    }

    /// A key limited to these App Apple IDs.
    pub fn issue_connect_key_for_apps(
        &self,
        role: ConnectRole,
        app_apple_ids: &[i64],
    ) -> IssuedKey {
        let apps = app_apple_ids.iter().map(i64::to_string).collect();
        self.state.issue_connect_key(role, Some(apps))
    }

    /// Caps every page at `n` items whatever `limit` asks (None = Apple's own max 200), so a test can make a
    /// small catalog span many pages. `Some(0)` counts as 1.
    pub fn set_connect_page_size(&self, n: Option<usize>) {
        *state::lock(&self.state.connect.page_size) = n;
    }

    /// Requests per key per hour before 429 (None = Apple's 3600).
    pub fn set_connect_rate_limit(&self, per_hour: Option<u64>) {
        self.state.connect.set_rate_limit(per_hour);
    }

    /// Connect API calls received so far (all, including refused ones).
    pub fn connect_request_count(&self) -> u64 {
        self.state.connect.requests.load(Ordering::Relaxed)
    }

    /// Renames a product (its reference name); false for an unknown product id.
    pub fn connect_rename_product(&self, product_id: &str, name: &str) -> bool {
        state::lock(&self.state.connect.catalog).rename(product_id, name)
    }

    /// Sets a product's state (`APPROVED`, `DEVELOPER_REMOVED_FROM_SALE`, ...); false for an unknown product id.
    pub fn connect_set_product_state(&self, product_id: &str, state: &str) -> bool {
        state::lock(&self.state.connect.catalog).set_state(product_id, state)
    }

    /// Removes a product from App Store Connect; false for an unknown product id.
    pub fn connect_remove_product(&self, product_id: &str) -> bool {
        state::lock(&self.state.connect.catalog).remove(product_id)
    }

    /// Changes one territory's customer price (a decimal string like "10.99", "1500" in the territory's
    /// currency); false for an unknown product id or territory, or a price with more decimals than the currency.
    pub fn connect_set_price(
        &self,
        product_id: &str,
        territory: &str,
        customer_price: &str,
    ) -> bool {
        state::lock(&self.state.connect.catalog).set_price(product_id, territory, customer_price)
    }

    /// Makes the next `count` Connect calls (that pass authentication) answer 500 with Apple's error body
    /// (UNEXPECTED_ERROR).
    pub fn connect_fail_next(&self, count: u32) {
        self.state.connect.fail_next.store(count, Ordering::Relaxed);
    }

    pub async fn stop(self) {
        self.server.stop(true).await;
        if let Err(e) = self.task.await {
            tracing::debug!(error = %e, "simulator task ended abnormally");
        }
    }
}

/// Builds the PKI and the seeded data, binds `config.bind` and serves in the background.
pub async fn spawn(config: SimConfig) -> anyhow::Result<SimHandle> {
    // Bound before the PKI is made: the certificates name the simulator's own OCSP responder (AIA).
    let listener = std::net::TcpListener::bind(config.bind)
        .with_context(|| format!("binding {}", config.bind))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    let ocsp_url = format!("http://{addr}{}", ocsp::PATH);
    let state =
        Arc::new(SimState::new(&config, Some(&ocsp_url)).context("building the simulator state")?);
    let (server, addr) = server::start(state.clone(), listener, config.answer_delay)
        .context("starting the simulator HTTP server")?;
    let handle = server.handle();
    let task = tokio::spawn(server);
    Ok(SimHandle {
        state,
        addr,
        server: handle,
        task,
    })
}

/// `storedesk apple-sim`: serve until Ctrl-C, after printing what a user needs to point storedesk at us.
pub async fn run_cli(config: SimConfig) -> anyhow::Result<()> {
    let out_dir = config.output_dir.clone();
    let sim = spawn(config).await?;
    let dir = match out_dir {
        Some(dir) => dir,
        None => std::env::temp_dir().join(format!("storedesk-apple-sim-{}", sim.addr.port())),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let root_path = dir.join("simulator-root.pem");
    std::fs::write(&root_path, sim.root_ca_pem())
        .with_context(|| format!("writing {}", root_path.display()))?;
    let key = sim.issue_key();
    let key_path = dir.join(&key.file_name);
    write_private_file(&key_path, key.private_key_pem.as_bytes())
        .with_context(|| format!("writing {}", key_path.display()))?;
    let connect_key = sim.issue_connect_key(ConnectRole::AppManager);
    let connect_key_path = dir.join(&connect_key.file_name);
    write_private_file(&connect_key_path, connect_key.private_key_pem.as_bytes())
        .with_context(|| format!("writing {}", connect_key_path.display()))?;
    let seed = sim.seed();

    println!("Apple simulator listening on {}", sim.base_url());
    println!("  Production base URL: {}", sim.production_url());
    println!("  Sandbox base URL:    {}", sim.sandbox_url());
    println!(
        "  Root certificate:    {} (trust it only for the simulator)",
        root_path.display()
    );
    println!("  Bundle ID:           {}", seed.bundle_id);
    println!("  App Apple ID:        {}", seed.app_apple_id);
    println!("  Issuer ID:           {}", key.issuer_id);
    println!("  Key ID:              {}", key.key_id);
    println!("  Private key (.p8):   {}", key_path.display());
    println!("  App Store Connect URL: {}", sim.connect_url());
    println!(
        "  Connect Key ID:      {} (role App Manager, all apps)",
        connect_key.key_id
    );
    println!("  Connect key (.p8):   {}", connect_key_path.display());
    println!("  Seed ids:            {}/sim/seed", sim.base_url());
    println!("Press Ctrl-C to stop.");

    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    sim.stop().await;
    Ok(())
}

fn write_private_file(path: &std::path::Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)
}
