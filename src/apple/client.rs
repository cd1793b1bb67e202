//! HTTP client of the App Store Server API. Build one `AppleClient` and share it; credentials are passed
//! per call because a deployment may hold several keys (and rotate them).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use app_store_server_library::models::app_transaction_info_response::AppTransactionInfoResponse;
use app_store_server_library::models::check_test_notification_response::CheckTestNotificationResponse;
use app_store_server_library::models::consumption_request::ConsumptionRequest;
use app_store_server_library::models::extend_renewal_date_request::ExtendRenewalDateRequest;
use app_store_server_library::models::extend_renewal_date_response::ExtendRenewalDateResponse;
use app_store_server_library::models::history_response::HistoryResponse;
use app_store_server_library::models::in_app_ownership_type::InAppOwnershipType;
use app_store_server_library::models::notification_history_request::NotificationHistoryRequest;
use app_store_server_library::models::notification_history_response::NotificationHistoryResponse;
use app_store_server_library::models::order_lookup_response::OrderLookupResponse;
use app_store_server_library::models::refund_history_response::RefundHistoryResponse;
use app_store_server_library::models::send_test_notification_response::SendTestNotificationResponse;
use app_store_server_library::models::status_response::StatusResponse;
use app_store_server_library::models::transaction_history_request::{Order, ProductType};
use app_store_server_library::models::transaction_info_response::TransactionInfoResponse;
use rand::Rng as _;
use reqwest::header::{HeaderMap, ACCEPT, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::budget::{CallBudget, Endpoint};
use super::error::{ApiErrorKind, AppleError};
use super::token::TokenCache;
use super::Environment;

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
        }
    }
}

/// One In-App Purchase key and the app it acts for.
#[derive(Clone)]
pub struct ApiCredentials {
    pub key_id: String,
    pub issuer_id: String,
    pub bundle_id: String,
    pub signing_key: super::SigningKeySource,
    /// Our database row id of the key; changes on rotation, so cached tokens are not reused across keys.
    pub key_version: i64,
}

impl std::fmt::Debug for ApiCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiCredentials")
            .field("key_id", &self.key_id)
            .field("issuer_id", &self.issuer_id)
            .field("bundle_id", &self.bundle_id)
            .field("key_version", &self.key_version)
            .finish_non_exhaustive()
    }
}

/// Filters of Get Transaction History (v2). Dates are UNIX milliseconds.
#[derive(Debug, Clone, Default)]
pub struct HistoryQuery {
    /// The token from the previous page; send the same filters again with it.
    pub revision: Option<String>,
    pub start_date: Option<i64>,
    pub end_date: Option<i64>,
    pub product_ids: Vec<String>,
    pub product_types: Vec<ProductType>,
    pub subscription_group_ids: Vec<String>,
    pub ownership: Option<InAppOwnershipType>,
    pub revoked: Option<bool>,
    pub sort: Option<Order>,
}

impl HistoryQuery {
    fn to_pairs(&self) -> Vec<(&'static str, String)> {
        let mut q = Vec::new();
        if let Some(r) = &self.revision {
            q.push(("revision", r.clone()));
        }
        if let Some(d) = self.start_date {
            q.push(("startDate", d.to_string()));
        }
        if let Some(d) = self.end_date {
            q.push(("endDate", d.to_string()));
        }
        for p in &self.product_ids {
            q.push(("productId", p.clone()));
        }
        for t in &self.product_types {
            q.push(("productType", t.raw_value().to_owned()));
        }
        if let Some(s) = &self.sort {
            q.push(("sort", s.raw_value().to_owned()));
        }
        for g in &self.subscription_group_ids {
            q.push(("subscriptionGroupIdentifier", g.clone()));
        }
        if let Some(o) = &self.ownership {
            q.push(("inAppOwnershipType", o.raw_value().to_owned()));
        }
        if let Some(r) = self.revoked {
            q.push(("revoked", r.to_string()));
        }
        q
    }
}

/// A value together with the environment that produced it (see [`with_fallback`]).
#[derive(Debug, Clone)]
pub struct Answered<T> {
    pub environment: Environment,
    pub value: T,
}

/// Apple's advice when a transaction's environment is unknown: ask Production, and on "not found" ask
/// Sandbox. Any other Production error is returned as is (a 401 or 5xx says nothing about Sandbox).
pub async fn with_fallback<T, F, Fut>(f: F) -> Result<Answered<T>, AppleError>
where
    F: Fn(Environment) -> Fut,
    Fut: Future<Output = Result<T, AppleError>>,
{
    match f(Environment::Production).await {
        Ok(value) => Ok(Answered {
            environment: Environment::Production,
            value,
        }),
        Err(e) if e.is_not_found_in_environment() => {
            f(Environment::Sandbox).await.map(|value| Answered {
                environment: Environment::Sandbox,
                value,
            })
        }
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(rename = "errorCode")]
    error_code: i64,
}

enum Failure {
    RateLimited(Option<i64>),
    Error(AppleError),
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

/// Apple omits absent optional fields; some of the crate's request models serialize them as null.
fn strip_nulls(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(strip_nulls);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

fn json_body<T: Serialize>(body: &T) -> Result<Vec<u8>, AppleError> {
    let mut value = serde_json::to_value(body)
        .map_err(|_| AppleError::Request("the request body could not be encoded".into()))?;
    strip_nulls(&mut value);
    serde_json::to_vec(&value)
        .map_err(|_| AppleError::Request("the request body could not be encoded".into()))
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn network_error(e: &reqwest::Error) -> AppleError {
    if e.is_timeout() {
        return AppleError::Timeout { retries: 0 };
    }
    let detail = if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "the connection broke while reading the answer"
    } else if e.is_request() {
        "the request could not be sent"
    } else {
        "transport error"
    };
    AppleError::Network {
        detail: detail.to_owned(),
        retries: 0,
    }
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

    fn url(
        &self,
        env: Environment,
        segments: &[&str],
        query: &[(&str, String)],
    ) -> Result<Url, AppleError> {
        let mut url = match env {
            Environment::Production => self.production.clone(),
            Environment::Sandbox => self.sandbox.clone(),
        };
        {
            // Ids come from users: pushing them as segments percent-encodes '/', '?' and friends.
            let mut path = url
                .path_segments_mut()
                .map_err(|_| AppleError::Request("the base URL cannot take a path".into()))?;
            path.pop_if_empty();
            for s in segments {
                path.push(s);
            }
        }
        url.set_query(None);
        if !query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in query {
                pairs.append_pair(k, v);
            }
        }
        Ok(url)
    }

    fn backoff(&self, retry: u32) -> Duration {
        let base = self.config.retry_base_delay;
        let step = base.saturating_mul(1u32 << retry.min(10));
        let jitter_ms = (base.as_millis() as u64) / 2;
        let jitter = if jitter_ms > 0 {
            Duration::from_millis(rand::thread_rng().gen_range(0..=jitter_ms))
        } else {
            Duration::ZERO
        };
        step + jitter
    }

    /// Sends with retries and returns the body of a 2xx answer.
    async fn send(
        &self,
        creds: &ApiCredentials,
        env: Environment,
        method: Method,
        url: Url,
        body: Option<Vec<u8>>,
        endpoint: Endpoint,
    ) -> Result<Vec<u8>, AppleError> {
        let mut retries = 0u32;
        let mut waited_for_rate_limit = false;
        loop {
            // Each attempt, retries included, counts against Apple's quota.
            if let Some(budget) = &self.budget {
                if let Err(retry_at_ms) = budget.take(&creds.bundle_id, env, endpoint).await {
                    return Err(AppleError::BudgetExhausted {
                        environment: env,
                        endpoint: endpoint.as_str(),
                        retry_at_ms,
                    });
                }
            }
            let token = self
                .tokens
                .token(
                    &creds.signing_key,
                    creds.key_version,
                    &creds.key_id,
                    &creds.issuer_id,
                    &creds.bundle_id,
                    now_ms().div_euclid(1000),
                )
                .map_err(|e| AppleError::Request(e.to_string()))?;
            let mut request = self
                .http
                .request(method.clone(), url.clone())
                .bearer_auth(token)
                .header(ACCEPT, "application/json");
            if let Some(b) = &body {
                request = request
                    .header(CONTENT_TYPE, "application/json")
                    .body(b.clone());
            }

            let outcome = match request.send().await {
                Ok(response) => self.read(response, env).await,
                Err(e) => {
                    tracing::warn!(error = %e, %env, path = url.path(), "Apple request failed");
                    Err(Failure::Error(network_error(&e)))
                }
            };
            match outcome {
                Ok(bytes) => return Ok(bytes),
                Err(Failure::RateLimited(retry_at_ms)) => {
                    let wait = retry_at_ms.map(|at| at.saturating_sub(now_ms()));
                    let max_wait = i64::try_from(self.config.max_rate_limit_wait.as_millis())
                        .unwrap_or(i64::MAX);
                    match wait {
                        Some(ms) if !waited_for_rate_limit && ms <= max_wait => {
                            waited_for_rate_limit = true;
                            let ms = u64::try_from(ms).unwrap_or(0);
                            tokio::time::sleep(Duration::from_millis(ms)).await;
                        }
                        _ => return Err(AppleError::RateLimited { retry_at_ms }),
                    }
                }
                Err(Failure::Error(err)) => {
                    if err.is_retryable() && retries < self.config.max_retries {
                        let delay = self.backoff(retries);
                        retries += 1;
                        tracing::info!(%env, path = url.path(), retry = retries, ?delay, error = %err, "retrying Apple request");
                        tokio::time::sleep(delay).await;
                        continue;
                    }
                    if matches!(err, AppleError::Unauthorized { .. }) {
                        // The next call should sign afresh, e.g. after the clock or the key was fixed.
                        self.tokens.clear();
                    }
                    return Err(err.with_retries(retries));
                }
            }
        }
    }

    async fn read(
        &self,
        response: reqwest::Response,
        env: Environment,
    ) -> Result<Vec<u8>, Failure> {
        let status = response.status();
        if status == StatusCode::TOO_MANY_REQUESTS {
            // Apple's Retry-After is an absolute UNIX time in milliseconds, not a delay.
            let retry_at = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<i64>().ok());
            return Err(Failure::RateLimited(retry_at));
        }
        if status == StatusCode::UNAUTHORIZED {
            return Err(Failure::Error(AppleError::Unauthorized {
                environment: env,
            }));
        }
        let json = is_json(response.headers());
        let bytes = read_capped(response).await?;
        if status.is_success() {
            return Ok(bytes);
        }
        let code = if json {
            serde_json::from_slice::<ErrorBody>(&bytes)
                .ok()
                .map(|b| b.error_code)
        } else {
            None
        };
        Err(Failure::Error(match code {
            Some(code) => AppleError::Api {
                status: status.as_u16(),
                code,
                kind: ApiErrorKind::from_code(code),
                environment: env,
                retries: 0,
            },
            None => AppleError::HttpStatus {
                status: status.as_u16(),
                retries: 0,
            },
        }))
    }

    async fn get_json<T: DeserializeOwned>(
        &self,
        creds: &ApiCredentials,
        env: Environment,
        method: Method,
        segments: &[&str],
        query: &[(&str, String)],
        body: Option<Vec<u8>>,
    ) -> Result<T, AppleError> {
        let url = self.url(env, segments, query)?;
        let endpoint = Endpoint::of(&method, segments);
        let bytes = self.send(creds, env, method, url, body, endpoint).await?;
        serde_json::from_slice(&bytes).map_err(|e| AppleError::MalformedResponse(e.to_string()))
    }

    /// GET /inApps/v1/transactions/{transactionId}
    pub async fn get_transaction_info(
        &self,
        creds: &ApiCredentials,
        env: Environment,
        transaction_id: &str,
    ) -> Result<TransactionInfoResponse, AppleError> {
        self.get_json(
            creds,
            env,
            Method::GET,
            &["inApps", "v1", "transactions", transaction_id],
            &[],
            None,
        )
        .await
    }

    /// GET /inApps/v2/history/{transactionId}: all product types, finished consumables included.
    pub async fn get_transaction_history(
        &self,
        creds: &ApiCredentials,
        env: Environment,
        transaction_id: &str,
        query: &HistoryQuery,
    ) -> Result<HistoryResponse, AppleError> {
        self.get_json(
            creds,
            env,
            Method::GET,
            &["inApps", "v2", "history", transaction_id],
            &query.to_pairs(),
            None,
        )
        .await
    }

    /// GET /inApps/v1/subscriptions/{transactionId}; `statuses` (1..5) filters, empty means all.
    pub async fn get_all_subscription_statuses(
        &self,
        creds: &ApiCredentials,
        env: Environment,
        transaction_id: &str,
        statuses: &[i32],
    ) -> Result<StatusResponse, AppleError> {
        let query: Vec<(&str, String)> =
            statuses.iter().map(|s| ("status", s.to_string())).collect();
        self.get_json(
            creds,
            env,
            Method::GET,
            &["inApps", "v1", "subscriptions", transaction_id],
            &query,
            None,
        )
        .await
    }

    /// GET /inApps/v2/refund/lookup/{transactionId}
    pub async fn get_refund_history(
        &self,
        creds: &ApiCredentials,
        env: Environment,
        transaction_id: &str,
        revision: Option<&str>,
    ) -> Result<RefundHistoryResponse, AppleError> {
        let query: Vec<(&str, String)> = revision
            .map(|r| vec![("revision", r.to_owned())])
            .unwrap_or_default();
        self.get_json(
            creds,
            env,
            Method::GET,
            &["inApps", "v2", "refund", "lookup", transaction_id],
            &query,
            None,
        )
        .await
    }

    /// GET /inApps/v1/lookup/{orderId}. An unknown order is a 200 with status 1, not an error.
    pub async fn look_up_order_id(
        &self,
        creds: &ApiCredentials,
        env: Environment,
        order_id: &str,
    ) -> Result<OrderLookupResponse, AppleError> {
        self.get_json(
            creds,
            env,
            Method::GET,
            &["inApps", "v1", "lookup", order_id],
            &[],
            None,
        )
        .await
    }

    /// GET /inApps/v1/transactions/appTransactions/{transactionId}
    pub async fn get_app_transaction_info(
        &self,
        creds: &ApiCredentials,
        env: Environment,
        transaction_id: &str,
    ) -> Result<AppTransactionInfoResponse, AppleError> {
        self.get_json(
            creds,
            env,
            Method::GET,
            &[
                "inApps",
                "v1",
                "transactions",
                "appTransactions",
                transaction_id,
            ],
            &[],
            None,
        )
        .await
    }

    /// POST /inApps/v1/notifications/history[?paginationToken=…]
    pub async fn get_notification_history(
        &self,
        creds: &ApiCredentials,
        env: Environment,
        request: &NotificationHistoryRequest,
        pagination_token: Option<&str>,
    ) -> Result<NotificationHistoryResponse, AppleError> {
        let query: Vec<(&str, String)> = pagination_token
            .map(|t| vec![("paginationToken", t.to_owned())])
            .unwrap_or_default();
        self.get_json(
            creds,
            env,
            Method::POST,
            &["inApps", "v1", "notifications", "history"],
            &query,
            Some(json_body(request)?),
        )
        .await
    }

    /// POST /inApps/v1/notifications/test (no body). Apple sends the TEST notification to the URL set for
    /// the environment called.
    pub async fn request_test_notification(
        &self,
        creds: &ApiCredentials,
        env: Environment,
    ) -> Result<SendTestNotificationResponse, AppleError> {
        self.get_json(
            creds,
            env,
            Method::POST,
            &["inApps", "v1", "notifications", "test"],
            &[],
            None,
        )
        .await
    }

    /// GET /inApps/v1/notifications/test/{testNotificationToken}
    pub async fn get_test_notification_status(
        &self,
        creds: &ApiCredentials,
        env: Environment,
        test_notification_token: &str,
    ) -> Result<CheckTestNotificationResponse, AppleError> {
        self.get_json(
            creds,
            env,
            Method::GET,
            &[
                "inApps",
                "v1",
                "notifications",
                "test",
                test_notification_token,
            ],
            &[],
            None,
        )
        .await
    }

    /// PUT /inApps/v2/transactions/consumption/{transactionId}; Apple answers 202 with no body.
    pub async fn send_consumption_information(
        &self,
        creds: &ApiCredentials,
        env: Environment,
        transaction_id: &str,
        request: &ConsumptionRequest,
    ) -> Result<(), AppleError> {
        let url = self.url(
            env,
            &[
                "inApps",
                "v2",
                "transactions",
                "consumption",
                transaction_id,
            ],
            &[],
        )?;
        self.send(
            creds,
            env,
            Method::PUT,
            url,
            Some(json_body(request)?),
            Endpoint::ConsumptionInformation,
        )
        .await
        .map(|_| ())
    }

    /// PUT /inApps/v1/subscriptions/extend/{originalTransactionId}
    pub async fn extend_subscription_renewal_date(
        &self,
        creds: &ApiCredentials,
        env: Environment,
        original_transaction_id: &str,
        request: &ExtendRenewalDateRequest,
    ) -> Result<ExtendRenewalDateResponse, AppleError> {
        self.get_json(
            creds,
            env,
            Method::PUT,
            &[
                "inApps",
                "v1",
                "subscriptions",
                "extend",
                original_transaction_id,
            ],
            &[],
            Some(json_body(request)?),
        )
        .await
    }

    pub async fn get_transaction_info_any_env(
        &self,
        creds: &ApiCredentials,
        transaction_id: &str,
    ) -> Result<Answered<TransactionInfoResponse>, AppleError> {
        with_fallback(|env| self.get_transaction_info(creds, env, transaction_id)).await
    }

    pub async fn get_transaction_history_any_env(
        &self,
        creds: &ApiCredentials,
        transaction_id: &str,
        query: &HistoryQuery,
    ) -> Result<Answered<HistoryResponse>, AppleError> {
        with_fallback(|env| self.get_transaction_history(creds, env, transaction_id, query)).await
    }

    pub async fn get_all_subscription_statuses_any_env(
        &self,
        creds: &ApiCredentials,
        transaction_id: &str,
        statuses: &[i32],
    ) -> Result<Answered<StatusResponse>, AppleError> {
        with_fallback(|env| {
            self.get_all_subscription_statuses(creds, env, transaction_id, statuses)
        })
        .await
    }

    pub async fn get_refund_history_any_env(
        &self,
        creds: &ApiCredentials,
        transaction_id: &str,
        revision: Option<&str>,
    ) -> Result<Answered<RefundHistoryResponse>, AppleError> {
        with_fallback(|env| self.get_refund_history(creds, env, transaction_id, revision)).await
    }

    pub async fn get_app_transaction_info_any_env(
        &self,
        creds: &ApiCredentials,
        transaction_id: &str,
    ) -> Result<Answered<AppTransactionInfoResponse>, AppleError> {
        with_fallback(|env| self.get_app_transaction_info(creds, env, transaction_id)).await
    }
}

/// Apple's largest answers (a history page of 20 signed transactions) are a few hundred KiB; anything past this is
/// not Apple's and is not kept in memory.
const MAX_ANSWER: usize = 4 * 1024 * 1024;

/// The answer's body, read up to [`MAX_ANSWER`]: a larger one is refused as not Apple's format.
async fn read_capped(mut response: reqwest::Response) -> Result<Vec<u8>, Failure> {
    let too_large = || {
        Failure::Error(AppleError::MalformedResponse(format!(
            "the answer is larger than {} MiB",
            MAX_ANSWER / (1024 * 1024)
        )))
    };
    if response
        .content_length()
        .is_some_and(|n| n > MAX_ANSWER as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| Failure::Error(network_error(&e)))?
    {
        if body.len() + chunk.len() > MAX_ANSWER {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests;
