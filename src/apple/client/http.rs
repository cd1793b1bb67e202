//! Sending one call: the URL, the signed request, retries with backoff, Apple's Retry-After, Apple's error
//! body, and the cap on what an answer may weigh.

use std::time::Duration;

use rand::Rng as _;
use reqwest::header::{HeaderMap, ACCEPT, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{ApiCredentials, AppleClient};
use crate::apple::budget::Endpoint;
use crate::apple::error::{ApiErrorKind, AppleError};
use crate::apple::Environment;

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(rename = "errorCode")]
    error_code: i64,
}

enum Failure {
    RateLimited(Option<i64>),
    Error(AppleError),
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

pub(super) fn json_body<T: Serialize>(body: &T) -> Result<Vec<u8>, AppleError> {
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

/// Whether a failed call is tried again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Retries {
    /// Timeouts, network faults, 5xx and Apple's retryable codes are retried with backoff: reads, and writes Apple
    /// applies once whatever the number of tries.
    OnFailure,
    /// Never: a call that may have changed something at Apple's end (a renewal-date extension) is left to a
    /// person, who sends the same request again. A 429 (refused before any work) is still waited out once.
    Never,
}

pub(super) fn now_ms() -> i64 {
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
    pub(super) fn url(
        &self,
        env: Environment,
        segments: &[&str],
        query: &[(&str, String)],
    ) -> Result<Url, AppleError> {
        let base = match env {
            Environment::Production => &self.production,
            Environment::Sandbox => &self.sandbox,
        };
        crate::apple::url::under(base, segments, query)
            .ok_or_else(|| AppleError::Request("the base URL cannot take a path".into()))
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
    pub(super) async fn send(
        &self,
        creds: &ApiCredentials,
        env: Environment,
        method: Method,
        url: Url,
        body: Option<Vec<u8>>,
        endpoint: Endpoint,
    ) -> Result<Vec<u8>, AppleError> {
        self.send_with(creds, env, method, url, body, endpoint, Retries::OnFailure)
            .await
    }

    /// Sends and returns the body of a 2xx answer; `retries` says whether a failure that may have left Apple
    /// changed (a timeout, a broken connection, a 5xx) is tried again.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn send_with(
        &self,
        creds: &ApiCredentials,
        env: Environment,
        method: Method,
        url: Url,
        body: Option<Vec<u8>>,
        endpoint: Endpoint,
        retry: Retries,
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
                    creds.key_id.as_str(),
                    creds.issuer_id.as_str(),
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
                    if retry == Retries::OnFailure
                        && err.is_retryable()
                        && retries < self.config.max_retries
                    {
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

    pub(super) async fn get_json<T: DeserializeOwned>(
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
