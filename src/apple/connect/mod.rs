//! Our client of the App Store Connect API, for Step 1's key (`AuthKey_….p8`): the team's apps and the in-app
//! purchase catalog. A different API from the App Store Server API (`super::client`): its own host, its own
//! token (no `bid`, at most 20 minutes), JSON:API documents, cursor paging and an hourly budget per key that
//! Apple reports in `X-Rate-Limit`.
mod catalog;
mod document;

use std::sync::Arc;
use std::time::Duration;

use p256::ecdsa::SigningKey;
use reqwest::header::ACCEPT;
use reqwest::{StatusCode, Url};

pub use catalog::CATALOG_PAGE_LIMIT;
use document::{Document, Resource};

/// Apple's host for the App Store Connect API.
pub const DEFAULT_CONNECT_URL: &str = "https://api.appstoreconnect.apple.com";

/// A token is made again once it is this old, well inside Apple's 20 minutes.
const TOKEN_REUSE_SECS: i64 = 10 * 60;
/// Lifetime asked for each token.
const TOKEN_LIFETIME_SECS: i64 = 15 * 60;
/// A read that failed on Apple's side (5xx, timeout, broken connection) is tried this many more times.
const READ_RETRIES: u32 = 2;
/// The most one answer may weigh (a page of 200 resources with their included prices stays far below).
const MAX_ANSWER_BYTES: usize = 8 * 1024 * 1024;

/// Step 1's key, opened for one piece of work. Never printed.
#[derive(Clone)]
pub struct ConnectCredentials {
    pub key_id: String,
    pub issuer_id: String,
    pub signing_key: Arc<SigningKey>,
}

impl std::fmt::Debug for ConnectCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectCredentials")
            .field("key_id", &self.key_id)
            .field("issuer_id", &self.issuer_id)
            .finish_non_exhaustive()
    }
}

/// Why a call to the App Store Connect API did not give what was asked; the sentences are for people, and say
/// what Apple said without guessing beyond it (the callers that know the context diagnose further).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    /// 401: Apple did not accept the token's key at all.
    #[error("App Store Connect did not accept the key (401 NOT_AUTHORIZED).")]
    Unauthorized,
    /// 403: the key is known but may not do this.
    #[error("App Store Connect refused this key the request (403 {code}): {detail}")]
    Forbidden { code: String, detail: String },
    /// 404: no such resource for this team.
    #[error("App Store Connect has no such resource (404): {detail}")]
    NotFound { detail: String },
    /// 429, or `X-Rate-Limit` said nothing is left this hour: no request was sent past the limit.
    #[error("App Store Connect's hourly request limit for this key is reached (429 RATE_LIMIT_EXCEEDED).")]
    RateLimited,
    /// Any other error answer, with Apple's code and words.
    #[error("App Store Connect answered {status} {code}: {detail}")]
    Apple {
        status: u16,
        code: String,
        detail: String,
    },
    #[error("App Store Connect did not answer in time.")]
    Timeout,
    #[error("App Store Connect could not be reached: {0}.")]
    Network(String),
    #[error("App Store Connect's answer could not be read: {0}.")]
    Unreadable(String),
    #[error("The App Store Connect API token could not be made: {0}")]
    Token(String),
}

/// One app of the team, as `GET /v1/apps` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectApp {
    /// The App Apple ID (digits).
    pub id: String,
    pub name: String,
    pub bundle_id: String,
    pub sku: String,
}

/// The client: one per process, shared; a [`ConnectSession`] is one piece of work with one key.
#[derive(Clone)]
pub struct ConnectClient {
    http: reqwest::Client,
    base: Url,
}

impl std::fmt::Debug for ConnectClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectClient")
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

impl ConnectClient {
    pub fn new(base_url: &str, timeout: Duration, user_agent: &str) -> Result<Self, ConnectError> {
        let base = Url::parse(base_url.trim())
            .ok()
            .filter(|u| !u.cannot_be_a_base() && matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| {
                ConnectError::Network("the App Store Connect URL is not an http(s) URL".into())
            })?;
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(user_agent)
            // A redirect would carry the token to another host.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|_| ConnectError::Network("the HTTP client could not be built".into()))?;
        Ok(Self { http, base })
    }

    /// Starts a piece of work with one key: it counts its requests and remembers what Apple said is left of
    /// the hour's budget.
    pub fn session(&self, credentials: ConnectCredentials) -> ConnectSession {
        ConnectSession {
            client: self.clone(),
            credentials,
            token: None,
            requests: 0,
            remaining: None,
        }
    }
}

/// One key's requests for one piece of work (a Verify now, a sync).
pub struct ConnectSession {
    client: ConnectClient,
    credentials: ConnectCredentials,
    /// The token and when it was made (unix seconds).
    token: Option<(String, i64)>,
    requests: u64,
    /// What Apple's last `X-Rate-Limit` said is left this hour.
    remaining: Option<u64>,
}

impl ConnectSession {
    /// Requests sent so far (retries included).
    pub fn requests(&self) -> u64 {
        self.requests
    }

    /// `GET /v1/apps`, every page: the apps this key may see, by name.
    pub async fn apps(&mut self) -> Result<Vec<ConnectApp>, ConnectError> {
        let url = self.url(
            &["v1", "apps"],
            &[
                ("limit", CATALOG_PAGE_LIMIT.to_string()),
                ("fields[apps]", "name,bundleId,sku".into()),
            ],
        )?;
        let (data, _) = self.collection(url).await?;
        let mut apps: Vec<ConnectApp> = data.iter().map(app_of).collect();
        apps.sort_by_key(|a| a.name.to_lowercase());
        Ok(apps)
    }

    /// `GET /v1/apps/{id}`: one app, which proves the key may see it.
    pub async fn app(&mut self, app_apple_id: &str) -> Result<ConnectApp, ConnectError> {
        let url = self.url(&["v1", "apps", app_apple_id], &[])?;
        let doc = self.get(url).await?;
        doc.single().map(|r| app_of(&r))
    }

    /// A one-item read of the app's in-app purchases: refused (403) for a key whose role may not read them.
    pub async fn probe_catalog(&mut self, app_apple_id: &str) -> Result<(), ConnectError> {
        let url = self.url(
            &["v1", "apps", app_apple_id, "inAppPurchasesV2"],
            &[("limit", "1".into())],
        )?;
        self.get(url).await.map(drop)
    }

    fn url(&self, segments: &[&str], query: &[(&str, String)]) -> Result<Url, ConnectError> {
        crate::apple::url::under(&self.client.base, segments, query).ok_or_else(|| {
            ConnectError::Network("the App Store Connect URL cannot take a path".into())
        })
    }

    /// Every page of a collection: follows `links.next` while Apple gives one, each only if it stays on the
    /// configured host and path (a token is never sent elsewhere).
    async fn collection(
        &mut self,
        first: Url,
    ) -> Result<(Vec<Resource>, Vec<Resource>), ConnectError> {
        let mut data = Vec::new();
        let mut included = Vec::new();
        let mut next = Some(first);
        let mut pages = 0u32;
        while let Some(url) = next.take() {
            pages += 1;
            // A cursor that never ends would otherwise spend the hour's budget.
            if pages > 10_000 {
                return Err(ConnectError::Unreadable("the pages never ended".into()));
            }
            let doc = self.get(url).await?;
            next = match doc.next_link() {
                Some(link) => Some(self.same_origin(link)?),
                None => None,
            };
            data.extend(doc.many()?);
            included.extend(doc.included);
        }
        Ok((data, included))
    }

    fn same_origin(&self, link: &str) -> Result<Url, ConnectError> {
        let url = Url::parse(link)
            .map_err(|_| ConnectError::Unreadable("the next page's link is not a URL".into()))?;
        let base = &self.client.base;
        let inside = url.scheme() == base.scheme()
            && url.host_str() == base.host_str()
            && url.port_or_known_default() == base.port_or_known_default()
            && url.path().starts_with(base.path().trim_end_matches('/'));
        if inside {
            Ok(url)
        } else {
            Err(ConnectError::Unreadable(
                "the next page's link points outside the App Store Connect URL".into(),
            ))
        }
    }

    fn token(&mut self) -> Result<String, ConnectError> {
        let now = chrono::Utc::now().timestamp();
        if let Some((token, made)) = &self.token {
            if now - made < TOKEN_REUSE_SECS {
                return Ok(token.clone());
            }
        }
        let c = &self.credentials;
        let token = crate::apple::token::make_connect_token(
            &c.signing_key,
            &c.key_id,
            &c.issuer_id,
            now,
            TOKEN_LIFETIME_SECS,
        )
        .map_err(|e| ConnectError::Token(e.to_string()))?;
        self.token = Some((token.clone(), now));
        Ok(token)
    }

    /// One GET, with retries for Apple's own failures; never past the hourly budget Apple reported.
    async fn get(&mut self, url: Url) -> Result<Document, ConnectError> {
        let mut attempt = 0u32;
        loop {
            if self.remaining == Some(0) {
                return Err(ConnectError::RateLimited);
            }
            let token = self.token()?;
            self.requests += 1;
            let sent = self
                .client
                .http
                .get(url.clone())
                .bearer_auth(token)
                .header(ACCEPT, "application/json")
                .send()
                .await;
            let outcome = match sent {
                Ok(response) => self.read(response).await,
                Err(e) if e.is_timeout() => Err(ConnectError::Timeout),
                Err(e) => Err(ConnectError::Network(
                    if e.is_connect() {
                        "could not connect"
                    } else {
                        "the connection broke"
                    }
                    .into(),
                )),
            };
            let retryable = matches!(
                &outcome,
                Err(ConnectError::Timeout | ConnectError::Network(_))
                    | Err(ConnectError::Apple {
                        status: 500..=599,
                        ..
                    })
            );
            if retryable && attempt < READ_RETRIES {
                attempt += 1;
                tracing::info!(
                    path = url.path(),
                    attempt,
                    "App Store Connect read failed; trying again"
                );
                tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
                continue;
            }
            return outcome;
        }
    }

    async fn read(&mut self, response: reqwest::Response) -> Result<Document, ConnectError> {
        let status = response.status();
        if let Some(left) = response
            .headers()
            .get("x-rate-limit")
            .and_then(|v| v.to_str().ok())
            .and_then(remaining_of)
        {
            self.remaining = Some(left);
        }
        let body = read_capped(response).await?;
        if status.is_success() {
            return serde_json::from_slice::<Document>(&body)
                .map_err(|_| ConnectError::Unreadable("it is not a JSON:API document".into()));
        }
        let (code, detail) = document::first_error(&body).unwrap_or_else(|| {
            (
                status.canonical_reason().unwrap_or("error").to_uppercase(),
                String::new(),
            )
        });
        Err(match status {
            StatusCode::UNAUTHORIZED => ConnectError::Unauthorized,
            StatusCode::FORBIDDEN => ConnectError::Forbidden { code, detail },
            StatusCode::NOT_FOUND => ConnectError::NotFound { detail },
            StatusCode::TOO_MANY_REQUESTS => {
                self.remaining = Some(0);
                ConnectError::RateLimited
            }
            other => ConnectError::Apple {
                status: other.as_u16(),
                code,
                detail,
            },
        })
    }
}

async fn read_capped(mut response: reqwest::Response) -> Result<Vec<u8>, ConnectError> {
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                    return Err(ConnectError::Unreadable("it is larger than 8 MiB".into()));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(e) if e.is_timeout() => return Err(ConnectError::Timeout),
            Err(_) => return Err(ConnectError::Network("the connection broke".into())),
        }
    }
}

/// `user-hour-lim:3600;user-hour-rem:3599;` → 3599.
fn remaining_of(header: &str) -> Option<u64> {
    header
        .split(';')
        .filter_map(|part| part.trim().split_once(':'))
        .find(|(name, _)| name.trim() == "user-hour-rem")
        .and_then(|(_, value)| value.trim().parse().ok())
}

fn app_of(r: &Resource) -> ConnectApp {
    ConnectApp {
        id: r.id.clone(),
        name: r.text("name"),
        bundle_id: r.text("bundleId"),
        sku: r.text("sku"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_remaining_budget_is_read_from_apples_header() {
        assert_eq!(
            remaining_of("user-hour-lim:3600;user-hour-rem:3599;"),
            Some(3599)
        );
        assert_eq!(remaining_of("user-hour-rem:0"), Some(0));
        assert_eq!(remaining_of("user-hour-lim:3600;"), None);
        assert_eq!(remaining_of("garbage"), None);
    }

    #[test]
    fn credentials_never_print_the_key() {
        let key = SigningKey::random(&mut rand::rngs::OsRng);
        let creds = ConnectCredentials {
            key_id: "ABCDEFGHIJ".into(),
            issuer_id: "x".into(),
            signing_key: Arc::new(key),
        };
        let shown = format!("{creds:?}");
        assert!(shown.contains("ABCDEFGHIJ") && !shown.contains("signing_key"));
    }
}
