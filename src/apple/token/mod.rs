//! The bearer JWT for the App Store Server API (ES256, `aud: appstoreconnect-v1`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// Apple refuses tokens whose `exp` is more than an hour after `iat`; 20 minutes leaves room for clock skew.
pub const TOKEN_LIFETIME_SECS: i64 = 20 * 60;

/// A cached token is replaced this long before it expires, so a request never leaves with a token that
/// runs out while in flight (requests may take up to 30 s, retries included).
pub const TOKEN_REFRESH_MARGIN_SECS: i64 = 60;

/// A deployment holds a handful of keys; the bound only protects against a leak if callers misuse the cache.
const TOKEN_CACHE_CAPACITY: usize = 64;

pub const AUDIENCE: &str = "appstoreconnect-v1";

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("The token lifetime must be between 1 second and 60 minutes; {0} s was asked for.")]
    InvalidLifetime(i64),
    #[error("The Key ID, Issuer ID and bundle id must not be empty.")]
    MissingField,
    #[error("The API token could not be encoded.")]
    Encoding,
    /// The reason names the key and the master key id, never key material.
    #[error("The project's private key could not be opened to sign an API token: {0}")]
    KeyUnavailable(String),
}

type Opener = dyn Fn() -> Result<SigningKey, String> + Send + Sync;

/// Where the key that signs API tokens comes from. A stored key is opened only when no cached token can serve
/// the call (once per token lifetime), so a lookup does not decrypt and parse the key on every page, and the
/// opened key is dropped again right after signing.
#[derive(Clone)]
pub enum SigningKeySource {
    /// Already in memory (a key just uploaded, a test key).
    Ready(Arc<SigningKey>),
    /// Sealed in the database; `fingerprint` is the stored key's fingerprint, which identifies it in the cache.
    OnDemand {
        fingerprint: String,
        open: Arc<Opener>,
    },
}

impl SigningKeySource {
    pub fn on_demand(
        fingerprint: String,
        open: impl Fn() -> Result<SigningKey, String> + Send + Sync + 'static,
    ) -> Self {
        SigningKeySource::OnDemand {
            fingerprint,
            open: Arc::new(open),
        }
    }

    fn cache_fingerprint(&self) -> [u8; 32] {
        match self {
            SigningKeySource::Ready(key) => key_fingerprint(key),
            SigningKeySource::OnDemand { fingerprint, .. } => {
                Sha256::digest(format!("stored:{fingerprint}").as_bytes()).into()
            }
        }
    }

    fn sign(
        &self,
        key_id: &str,
        issuer_id: &str,
        bundle_id: &str,
        now_unix_secs: i64,
    ) -> Result<String, TokenError> {
        let sign = |key: &SigningKey| {
            make_token(
                key,
                key_id,
                issuer_id,
                bundle_id,
                now_unix_secs,
                TOKEN_LIFETIME_SECS,
            )
        };
        match self {
            SigningKeySource::Ready(key) => sign(key),
            SigningKeySource::OnDemand { open, .. } => {
                sign(&open().map_err(TokenError::KeyUnavailable)?)
            }
        }
    }
}

impl From<Arc<SigningKey>> for SigningKeySource {
    fn from(key: Arc<SigningKey>) -> Self {
        SigningKeySource::Ready(key)
    }
}

impl From<SigningKey> for SigningKeySource {
    fn from(key: SigningKey) -> Self {
        SigningKeySource::Ready(Arc::new(key))
    }
}

impl std::fmt::Debug for SigningKeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SigningKeySource::Ready(_) => "SigningKeySource::Ready(..)",
            SigningKeySource::OnDemand { .. } => "SigningKeySource::OnDemand(..)",
        })
    }
}

#[derive(Serialize)]
struct Header<'a> {
    alg: &'static str,
    kid: &'a str,
    typ: &'static str,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    iat: i64,
    exp: i64,
    aud: &'static str,
    /// The App Store Server API's token names the app; the App Store Connect API's has no `bid`.
    #[serde(skip_serializing_if = "Option::is_none")]
    bid: Option<&'a str>,
}

/// Builds and signs the API token. Pure: the same inputs give the same token (RFC 6979 nonces).
pub fn make_token(
    key: &SigningKey,
    key_id: &str,
    issuer_id: &str,
    bundle_id: &str,
    now_unix_secs: i64,
    lifetime_secs: i64,
) -> Result<String, TokenError> {
    if !(1..=3600).contains(&lifetime_secs) {
        return Err(TokenError::InvalidLifetime(lifetime_secs));
    }
    if bundle_id.trim().is_empty() {
        return Err(TokenError::MissingField);
    }
    sign(
        key,
        key_id,
        issuer_id,
        Some(bundle_id),
        now_unix_secs,
        lifetime_secs,
    )
}

/// The App Store Connect API's token never lives longer than this (Apple refuses a longer one).
pub const CONNECT_TOKEN_MAX_LIFETIME_SECS: i64 = 20 * 60;

/// Builds and signs a token for the App Store Connect API (Step 1's `AuthKey_` key): ES256, `kid`, `iss` the
/// Issuer ID, `iat`, `exp` at most 20 minutes later, `aud` `appstoreconnect-v1`, and no `bid`.
pub fn make_connect_token(
    key: &SigningKey,
    key_id: &str,
    issuer_id: &str,
    now_unix_secs: i64,
    lifetime_secs: i64,
) -> Result<String, TokenError> {
    if !(1..=CONNECT_TOKEN_MAX_LIFETIME_SECS).contains(&lifetime_secs) {
        return Err(TokenError::InvalidLifetime(lifetime_secs));
    }
    sign(key, key_id, issuer_id, None, now_unix_secs, lifetime_secs)
}

fn sign(
    key: &SigningKey,
    key_id: &str,
    issuer_id: &str,
    bundle_id: Option<&str>,
    now_unix_secs: i64,
    lifetime_secs: i64,
) -> Result<String, TokenError> {
    if key_id.trim().is_empty() || issuer_id.trim().is_empty() {
        return Err(TokenError::MissingField);
    }
    let header = serde_json::to_vec(&Header {
        alg: "ES256",
        kid: key_id,
        typ: "JWT",
    })
    .map_err(|_| TokenError::Encoding)?;
    let claims = serde_json::to_vec(&Claims {
        iss: issuer_id,
        iat: now_unix_secs,
        exp: now_unix_secs
            .checked_add(lifetime_secs)
            .ok_or(TokenError::Encoding)?,
        aud: AUDIENCE,
        bid: bundle_id,
    })
    .map_err(|_| TokenError::Encoding)?;

    let mut token = String::with_capacity(400);
    token.push_str(&URL_SAFE_NO_PAD.encode(header));
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(claims));
    // JOSE wants the fixed-size r||s form, not DER.
    let signature: Signature = key.sign(token.as_bytes());
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(signature.to_bytes()));
    Ok(token)
}

/// Identifies the public half of a key without keeping anything secret in the cache key.
pub fn key_fingerprint(key: &SigningKey) -> [u8; 32] {
    let point = key.verifying_key().to_encoded_point(true);
    Sha256::digest(point.as_bytes()).into()
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct CacheKey {
    key_version: i64,
    fingerprint: [u8; 32],
    key_id: String,
    issuer_id: String,
    bundle_id: String,
}

struct CachedToken {
    token: String,
    expires_at: i64,
}

/// Reuses a token per (key, Key ID, Issuer ID, bundle id) until shortly before it expires. A rotated key
/// has another version and fingerprint, so it never gets a token signed by its predecessor.
#[derive(Default)]
pub struct TokenCache {
    entries: Mutex<HashMap<CacheKey, CachedToken>>,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Tokens are bearer credentials: never print them.
        f.debug_struct("TokenCache").finish_non_exhaustive()
    }
}

impl TokenCache {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn token(
        &self,
        key: &SigningKeySource,
        key_version: i64,
        key_id: &str,
        issuer_id: &str,
        bundle_id: &str,
        now_unix_secs: i64,
    ) -> Result<String, TokenError> {
        let cache_key = CacheKey {
            key_version,
            fingerprint: key.cache_fingerprint(),
            key_id: key_id.to_owned(),
            issuer_id: issuer_id.to_owned(),
            bundle_id: bundle_id.to_owned(),
        };
        {
            let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(cached) = entries.get(&cache_key) {
                // A token issued "in the future" means the clock went back; don't trust it then either.
                let issued_at = cached.expires_at - TOKEN_LIFETIME_SECS;
                if now_unix_secs < cached.expires_at - TOKEN_REFRESH_MARGIN_SECS
                    && now_unix_secs >= issued_at
                {
                    return Ok(cached.token.clone());
                }
            }
        }
        let token = key.sign(key_id, issuer_id, bundle_id, now_unix_secs)?;
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|_, t| t.expires_at > now_unix_secs);
        if entries.len() >= TOKEN_CACHE_CAPACITY {
            entries.clear();
        }
        entries.insert(
            cache_key,
            CachedToken {
                token: token.clone(),
                expires_at: now_unix_secs + TOKEN_LIFETIME_SECS,
            },
        );
        Ok(token)
    }

    /// Drops every cached token, e.g. after Apple answered 401 so the next call signs afresh.
    pub fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test
mod tests;
