//! HTTP client of the App Store Server API. Build one `AppleClient` and share it; credentials are passed
//! per call because a deployment may hold several keys (and rotate them).

mod deadline;
mod endpoints;
mod http;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;

use super::budget::CallBudget;
use super::error::AppleError;
use super::token::TokenCache;
use super::Environment;
use crate::domain::{IssuerId, KeyId};

pub use deadline::DEFAULT_ANSWER_WITHIN;
pub use endpoints::HistoryQuery;
// What the tests read beyond the public API.
#[cfg(test)]
use {
    super::error::ApiErrorKind,
    app_store_server_library::models::consumption_request::ConsumptionRequest,
    app_store_server_library::models::extend_renewal_date_request::ExtendRenewalDateRequest,
    app_store_server_library::models::in_app_ownership_type::InAppOwnershipType,
    app_store_server_library::models::notification_history_request::NotificationHistoryRequest,
    app_store_server_library::models::transaction_history_request::{Order, ProductType},
    http::now_ms,
};

pub const DEFAULT_PRODUCTION_URL: &str = "https://api.storekit.apple.com";
pub const DEFAULT_SANDBOX_URL: &str = "https://api.storekit-sandbox.apple.com";

#[derive(Debug, Clone)]
pub struct AppleClientConfig {
    pub production_url: String,
    pub sandbox_url: String,
    /// Whole request, body included.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Retries after the first attempt, for 5xx, Apple's retryable 404 codes and network faults.
    pub max_retries: u32,
    /// First backoff step; doubles per retry, plus up to half of it as jitter.
    pub retry_base_delay: Duration,
    /// A 429 whose Retry-After is at most this far away is waited out and retried once.
    pub max_rate_limit_wait: Duration,
    pub user_agent: String,
    /// How long a call someone waits for may take in all, retries included ([`AppleClient::within`]).
    pub answer_within: Duration,
}

impl Default for AppleClientConfig {
    fn default() -> Self {
        AppleClientConfig {
            production_url: DEFAULT_PRODUCTION_URL.to_owned(),
            sandbox_url: DEFAULT_SANDBOX_URL.to_owned(),
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            max_retries: 2,
            retry_base_delay: Duration::from_millis(200),
            max_rate_limit_wait: Duration::from_secs(2),
            user_agent: concat!("storedesk/", env!("CARGO_PKG_VERSION")).to_owned(),
            answer_within: DEFAULT_ANSWER_WITHIN,
        }
    }
}

/// One In-App Purchase key and the app it acts for.
#[derive(Clone)]
pub struct ApiCredentials {
    pub key_id: KeyId,
    pub issuer_id: IssuerId,
    pub bundle_id: String,
    pub signing_key: super::SigningKeySource,
    /// Our database row id of the key; changes on rotation, so cached tokens are not reused across keys.
    pub key_version: i64,
}

impl std::fmt::Debug for ApiCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiCredentials")
            .field("key_id", &self.key_id.as_str())
            .field("issuer_id", &self.issuer_id.as_str())
            .field("bundle_id", &self.bundle_id)
            .field("key_version", &self.key_version)
            .finish_non_exhaustive()
    }
}

/// A value together with the environment that produced it (see [`with_fallback`]).
#[derive(Debug, Clone)]
pub struct Answered<T> {
    pub environment: Environment,
    pub value: T,
    /// Production answered HTTP 401 and Sandbox answered instead: an app not released to Production yet (Apple's
    /// Production API refuses every key of such an app), so pages say where the answer came from and why.
    pub production_refused: bool,
}

impl<T> Answered<T> {
    pub fn from(environment: Environment, value: T) -> Self {
        Answered {
            environment,
            value,
            production_refused: false,
        }
    }
}

/// Apple's advice when a transaction's environment is unknown: ask Production, and on "not found" ask Sandbox.
/// A 401 from Production is asked of Sandbox too: before its first release (and during App Review) an app's
/// Production API refuses every key, while Sandbox, where its purchases are, accepts it. If Sandbox refuses as
/// well, Production's 401 is returned: the key is refused. Any other Production error (a 5xx, a 429) says nothing
/// about Sandbox and is returned as is.
pub async fn with_fallback<T, F, Fut>(f: F) -> Result<Answered<T>, AppleError>
where
    F: Fn(Environment) -> Fut,
    Fut: Future<Output = Result<T, AppleError>>,
{
    match f(Environment::Production).await {
        Ok(value) => Ok(Answered::from(Environment::Production, value)),
        Err(e) if e.is_not_found_in_environment() => f(Environment::Sandbox)
            .await
            .map(|value| Answered::from(Environment::Sandbox, value)),
        Err(
            refused @ AppleError::Unauthorized {
                environment: Environment::Production,
            },
        ) => match f(Environment::Sandbox).await {
            Ok(value) => Ok(Answered {
                environment: Environment::Sandbox,
                value,
                production_refused: true,
            }),
            // Refused in both: the key itself, said as Production's refusal (the environment asked first).
            Err(AppleError::Unauthorized { .. }) => Err(refused),
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    }
}

pub struct AppleClient {
    http: reqwest::Client,
    config: AppleClientConfig,
    production: Url,
    sandbox: Url,
    tokens: TokenCache,
    budget: Option<Arc<dyn CallBudget>>,
}

impl std::fmt::Debug for AppleClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppleClient")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn parse_base(url: &str, which: &str) -> Result<Url, AppleError> {
    let url = Url::parse(url.trim())
        .map_err(|_| AppleError::Request(format!("the {which} base URL is not a valid URL")))?;
    if url.cannot_be_a_base() || !matches!(url.scheme(), "http" | "https") {
        return Err(AppleError::Request(format!(
            "the {which} base URL must be an http(s) URL"
        )));
    }
    Ok(url)
}

impl AppleClient {
    pub fn new(config: AppleClientConfig) -> Result<Self, AppleError> {
        let production = parse_base(&config.production_url, "production")?;
        let sandbox = parse_base(&config.sandbox_url, "sandbox")?;
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .user_agent(config.user_agent.clone())
            // Apple answers directly; a redirect would be a misconfigured base URL, and would carry the token along.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|_| AppleError::Request("the HTTP client could not be built".into()))?;
        Ok(AppleClient {
            http,
            config,
            production,
            sandbox,
            tokens: TokenCache::new(),
            budget: None,
        })
    }

    /// Every call then first takes a unit of this hourly budget, and is not sent when it is spent.
    pub fn with_budget(mut self, budget: Arc<dyn CallBudget>) -> Self {
        self.budget = Some(budget);
        self
    }

    pub fn config(&self) -> &AppleClientConfig {
        &self.config
    }
}

#[cfg(test)]
mod tests;
