//! Verification of the JWS that Apple signs: transactions, renewal info, notifications, app transactions.
//!
//! Our own verifier rather than the crate's, because the crate re-validates the whole certificate chain on
//! every call. Apple signs with a handful of leaf certificates, so a validated (leaf, intermediate) pair is
//! cached and a warm verify costs one P-256 signature check plus JSON decoding.

mod cache;
mod chain;
mod claims;
mod jws;
pub mod ocsp;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use app_store_server_library::models::app_transaction::AppTransaction;
use app_store_server_library::models::jws_renewal_info_decoded_payload::JWSRenewalInfoDecodedPayload;
use app_store_server_library::models::jws_transaction_decoded_payload::JWSTransactionDecodedPayload;
use app_store_server_library::models::response_body_v2_decoded_payload::ResponseBodyV2DecodedPayload;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{apple_root_g3_der, lib_env_str, Environment};
use cache::{ChainCache, DEFAULT_CACHE_CAPACITY, DEFAULT_CACHE_TTL};
use chain::{check_window, ms_to_datetime, parse_roots, TrustAnchor};
use claims::{
    check_app_apple_id, check_bundle, check_environment, notification_identity,
    same_claims_apart_from_signed_date,
};
pub use jws::Envelope;
use jws::B64URL;

pub use chain::{INTERMEDIATE_MARKER_OID, LEAF_MARKER_OID};
// What the tests read beyond the public API.
#[cfg(test)]
use app_store_server_library::models::app_store_environment::Environment as LibEnvironment;
#[cfg(test)]
use chain::root_ders;

/// Which app and environment the signed data must belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppIdentity {
    pub bundle_id: String,
    /// Required to accept Production notifications and app transactions (Apple's numeric app id).
    pub app_apple_id: Option<i64>,
    pub environment: Environment,
}

/// A verified payload, typed, plus the JSON exactly as Apple signed it (unknown fields included).
#[derive(Debug, Clone)]
pub struct Verified<T> {
    pub payload: T,
    pub raw: serde_json::Value,
}

/// The result of validating a (leaf, intermediate) pair against a configured root.
#[derive(Debug, Clone)]
pub struct ValidatedChain {
    pub leaf_key: p256::ecdsa::VerifyingKey,
    /// Latest notBefore of the three certificates.
    pub not_before: DateTime<Utc>,
    /// Earliest notAfter of the three certificates.
    pub not_after: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("The signed data is not a well-formed JWS ({0}).")]
    MalformedJws(String),
    #[error("The signed data is not signed with ES256, the only algorithm Apple uses.")]
    UnsupportedAlgorithm,
    #[error("The signed data carries no certificate chain (x5c header).")]
    MissingX5c,
    #[error("The signed data carries {0} certificate(s); Apple always sends exactly 3. Data from StoreKit testing in Xcode is never accepted.")]
    WrongChainLength(usize),
    #[error("The {which} certificate in the signed data could not be read ({reason}).")]
    BadCertificate { which: &'static str, reason: String },
    #[error("The certificate chain does not lead to a trusted Apple root: {0}.")]
    UntrustedChain(&'static str),
    #[error("The {which} certificate lacks Apple's marker extension {oid}, so it is not one Apple uses to sign App Store data.")]
    MissingMarkerOid {
        which: &'static str,
        oid: &'static str,
    },
    #[error("The signing certificates were not valid on {}, the date the data was signed.", .0.format("%Y-%m-%d %H:%M:%S UTC"))]
    NotValidAtDate(DateTime<Utc>),
    #[error(
        "The signature does not match the signed data; it was altered or not signed by Apple."
    )]
    BadSignature,
    #[error("The signed data is for bundle id {}, but this project's bundle id is \"{expected}\".", quote_or_none(.got))]
    WrongBundleId {
        expected: String,
        got: Option<String>,
    },
    #[error("The signed data is for App Apple ID {}, but this project's App Apple ID is {expected}.", .got.map(|v| v.to_string()).unwrap_or_else(|| "(none)".into()))]
    WrongAppAppleId { expected: i64, got: Option<i64> },
    #[error("This Production data can't be checked because the project has no App Apple ID; set the App Apple ID (the app's numeric Apple ID from App Store Connect) in the project settings.")]
    AppAppleIdNotConfigured,
    #[error("The signed data is from the {got} environment, but {expected} was expected.")]
    WrongEnvironment { expected: String, got: String },
    /// `reason` is the JSON decoder's message, for logs only: it may quote payload text.
    #[error("The signed payload is not the JSON expected for {kind}.")]
    PayloadShape { kind: &'static str, reason: String },
    #[error("A configured root certificate could not be read ({0}).")]
    InvalidRoot(String),
}

fn quote_or_none(v: &Option<String>) -> String {
    match v {
        Some(s) => format!("\"{s}\""),
        None => "(none)".to_owned(),
    }
}

impl VerifyError {
    /// Stable status name for logs and metrics, in the vocabulary of Apple's libraries.
    pub fn code(&self) -> &'static str {
        match self {
            VerifyError::MalformedJws(_)
            | VerifyError::UnsupportedAlgorithm
            | VerifyError::MissingX5c
            | VerifyError::BadSignature
            | VerifyError::PayloadShape { .. } => "VERIFICATION_FAILURE",
            VerifyError::WrongChainLength(_) => "INVALID_CHAIN_LENGTH",
            VerifyError::BadCertificate { .. }
            | VerifyError::NotValidAtDate(_)
            | VerifyError::InvalidRoot(_) => "INVALID_CERTIFICATE",
            VerifyError::UntrustedChain(_) | VerifyError::MissingMarkerOid { .. } => {
                "INVALID_CHAIN"
            }
            VerifyError::WrongBundleId { .. }
            | VerifyError::WrongAppAppleId { .. }
            | VerifyError::AppAppleIdNotConfigured => "INVALID_APP_IDENTIFIER",
            VerifyError::WrongEnvironment { .. } => "INVALID_ENVIRONMENT",
        }
    }

    /// True when the data itself is fine but belongs elsewhere (another app or environment).
    pub fn is_identity_mismatch(&self) -> bool {
        matches!(
            self.code(),
            "INVALID_APP_IDENTIFIER" | "INVALID_ENVIRONMENT"
        )
    }
}

/// Verifies Apple's signed data against configured roots (by default only Apple Root CA - G3).
/// Share one instance: it is `Send + Sync` and its chain cache is what makes verification cheap.
pub struct SignedDataVerifier {
    roots: Vec<TrustAnchor>,
    cache: Mutex<ChainCache>,
    cache_capacity: usize,
    cache_ttl: Duration,
    cache_hits: AtomicU64,
}

impl std::fmt::Debug for SignedDataVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedDataVerifier")
            .field("roots", &self.roots.len())
            .field("cache_len", &self.cache_len())
            .finish()
    }
}

impl Default for SignedDataVerifier {
    fn default() -> Self {
        Self::new()
    }
}

impl SignedDataVerifier {
    /// Trusts Apple Root CA - G3 only: the production configuration.
    pub fn new() -> Self {
        let roots = match TrustAnchor::from_der(apple_root_g3_der()) {
            Ok(root) => vec![root],
            Err(e) => {
                // Can't happen with the compiled-in, unit-tested root; trusting nothing is the safe fallback.
                tracing::error!(error = %e, "the compiled-in Apple root could not be parsed");
                Vec::new()
            }
        };
        Self::from_anchors(roots)
    }

    /// Trusts exactly the given roots (DER or PEM), and not Apple's. For tests and the local simulator.
    pub fn with_roots(roots: Vec<Vec<u8>>) -> Result<Self, VerifyError> {
        Ok(Self::from_anchors(parse_roots(roots)?))
    }

    /// Also trusts the given roots (DER or PEM), e.g. the simulator's CA. Only through explicit configuration.
    pub fn with_extra_roots(mut self, roots: Vec<Vec<u8>>) -> Result<Self, VerifyError> {
        self.roots.extend(parse_roots(roots)?);
        self.clear_cache();
        Ok(self)
    }

    pub fn with_cache_limits(mut self, capacity: usize, ttl: Duration) -> Self {
        self.cache_capacity = capacity.max(1);
        self.cache_ttl = ttl;
        self.clear_cache();
        self
    }

    fn from_anchors(roots: Vec<TrustAnchor>) -> Self {
        SignedDataVerifier {
            roots,
            cache: Mutex::new(ChainCache::default()),
            cache_capacity: DEFAULT_CACHE_CAPACITY,
            cache_ttl: DEFAULT_CACHE_TTL,
            cache_hits: AtomicU64::new(0),
        }
    }

    pub fn root_count(&self) -> usize {
        self.roots.len()
    }

    pub fn cache_len(&self) -> usize {
        self.lock_cache().map.len()
    }

    /// How many verifications reused a cached chain (for tests and metrics).
    pub fn cache_hits(&self) -> u64 {
        self.cache_hits.load(Ordering::Relaxed)
    }

    pub fn clear_cache(&self) {
        self.lock_cache().clear();
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, ChainCache> {
        // A panic while holding the lock can't leave the map inconsistent in a way that matters.
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn verify_transaction(
        &self,
        jws: &str,
        expected: &AppIdentity,
    ) -> Result<Verified<JWSTransactionDecodedPayload>, VerifyError> {
        transaction_for(self.verify_jws(jws, "a transaction", Utc::now())?, expected)
    }

    /// [`Self::verify_transaction`] for the transaction inside a verified notification (see [`Envelope`]).
    pub fn verify_enclosed_transaction(
        &self,
        jws: &str,
        expected: &AppIdentity,
        envelope: Envelope<'_>,
    ) -> Result<Verified<JWSTransactionDecodedPayload>, VerifyError> {
        transaction_for(
            self.verify_enclosed_jws(jws, "a transaction", envelope, Utc::now())?,
            expected,
        )
    }

    /// A transaction we verified before, signed again. Apple signs every copy anew (`signedDate` is the time of
    /// the answer) but the rest of a copy changes only when the purchase does, so a copy whose every other
    /// claim equals one whose signature we checked says nothing that was not checked. `verified_before` gives,
    /// for the claimed transaction id, that copy's payload as the index stored it (serde_json's text of the
    /// verified payload); the copy is then taken as that one, its `signedDate` included, without a second
    /// signature check. `None` when there is no such copy, when anything but `signedDate` differs, or when
    /// the JWS cannot be read: the caller then verifies it in full.
    pub fn recognise_transaction<'a>(
        jws: &str,
        expected: &AppIdentity,
        verified_before: impl FnOnce(&str) -> Option<&'a str>,
    ) -> Option<Verified<JWSTransactionDecodedPayload>> {
        let payload_b64 = jws.trim().split('.').nth(1)?;
        let now: serde_json::Value =
            serde_json::from_slice(&B64URL.decode(payload_b64).ok()?).ok()?;
        let before: serde_json::Value =
            serde_json::from_str(verified_before(now.get("transactionId")?.as_str()?)?).ok()?;
        if !same_claims_apart_from_signed_date(now.as_object()?, before.as_object()?) {
            return None;
        }
        let payload = JWSTransactionDecodedPayload::deserialize(&before).ok()?;
        // The identity may have changed since (a project's bundle id is editable): checked as in a full verify.
        check_bundle(&expected.bundle_id, payload.bundle_id.as_deref()).ok()?;
        check_environment(expected.environment, payload.environment.as_ref()).ok()?;
        Some(Verified {
            payload,
            raw: before,
        })
    }

    pub fn verify_renewal_info(
        &self,
        jws: &str,
        expected: &AppIdentity,
    ) -> Result<Verified<JWSRenewalInfoDecodedPayload>, VerifyError> {
        renewal_info_for(self.verify_jws(jws, "renewal info", Utc::now())?, expected)
    }

    /// [`Self::verify_renewal_info`] for the renewal info inside a verified notification (see [`Envelope`]).
    pub fn verify_enclosed_renewal_info(
        &self,
        jws: &str,
        expected: &AppIdentity,
        envelope: Envelope<'_>,
    ) -> Result<Verified<JWSRenewalInfoDecodedPayload>, VerifyError> {
        renewal_info_for(
            self.verify_enclosed_jws(jws, "renewal info", envelope, Utc::now())?,
            expected,
        )
    }

    pub fn verify_app_transaction(
        &self,
        jws: &str,
        expected: &AppIdentity,
    ) -> Result<Verified<AppTransaction>, VerifyError> {
        app_transaction_for(
            self.verify_jws(jws, "an app transaction", Utc::now())?,
            expected,
        )
    }

    /// [`Self::verify_app_transaction`] for the app transaction inside a verified notification (see [`Envelope`]).
    pub fn verify_enclosed_app_transaction(
        &self,
        jws: &str,
        expected: &AppIdentity,
        envelope: Envelope<'_>,
    ) -> Result<Verified<AppTransaction>, VerifyError> {
        app_transaction_for(
            self.verify_enclosed_jws(jws, "an app transaction", envelope, Utc::now())?,
            expected,
        )
    }

    pub fn verify_notification(
        &self,
        jws: &str,
        expected: &AppIdentity,
    ) -> Result<Verified<ResponseBodyV2DecodedPayload>, VerifyError> {
        let verified: Verified<ResponseBodyV2DecodedPayload> =
            self.verify_jws(jws, "a notification", Utc::now())?;
        let id = notification_identity(&verified.payload);
        check_bundle(&expected.bundle_id, id.bundle_id)?;
        if expected.environment == Environment::Production {
            check_app_apple_id(expected.app_apple_id, id.app_apple_id)?;
        }
        check_environment(expected.environment, id.environment.as_ref())?;
        Ok(verified)
    }

    /// One project receives both environments: the notification is checked against the environment it
    /// names. Production ones must also match the App Apple ID, so without one they are refused. The
    /// [`Envelope`] lets the JWS inside it be verified without checking what its signature already covers.
    pub fn verify_notification_any_env<'a>(
        &self,
        jws: &'a str,
        bundle_id: &str,
        app_apple_id: Option<i64>,
    ) -> Result<
        (
            Verified<ResponseBodyV2DecodedPayload>,
            Environment,
            Envelope<'a>,
        ),
        VerifyError,
    > {
        let verified: Verified<ResponseBodyV2DecodedPayload> =
            self.verify_jws(jws, "a notification", Utc::now())?;
        let id = notification_identity(&verified.payload);
        check_bundle(bundle_id, id.bundle_id)?;
        let env = id
            .environment
            .as_ref()
            .and_then(Environment::from_lib)
            .ok_or_else(|| VerifyError::WrongEnvironment {
                expected: "Production or Sandbox".into(),
                got: id
                    .environment
                    .as_ref()
                    .map(|e| lib_env_str(e).to_owned())
                    .unwrap_or_else(|| "(none)".into()),
            })?;
        if env == Environment::Production {
            check_app_apple_id(app_apple_id, id.app_apple_id)?;
        }
        Ok((verified, env, Envelope::of_verified(jws)))
    }

    /// Validates leaf ← intermediate ← one configured root at `at`, without any JWS. Uses no cache.
    pub fn validate_chain(
        &self,
        leaf_der: &[u8],
        intermediate_der: &[u8],
        at: DateTime<Utc>,
    ) -> Result<ValidatedChain, VerifyError> {
        let entry = self.validate_structure(leaf_der, intermediate_der)?;
        check_window(&entry, at)?;
        Ok(ValidatedChain {
            leaf_key: entry.leaf_key,
            not_before: ms_to_datetime(entry.not_before_ms),
            not_after: ms_to_datetime(entry.not_after_ms),
        })
    }
}

fn transaction_for(
    verified: Verified<JWSTransactionDecodedPayload>,
    expected: &AppIdentity,
) -> Result<Verified<JWSTransactionDecodedPayload>, VerifyError> {
    check_bundle(&expected.bundle_id, verified.payload.bundle_id.as_deref())?;
    check_environment(expected.environment, verified.payload.environment.as_ref())?;
    Ok(verified)
}

fn renewal_info_for(
    verified: Verified<JWSRenewalInfoDecodedPayload>,
    expected: &AppIdentity,
) -> Result<Verified<JWSRenewalInfoDecodedPayload>, VerifyError> {
    // Renewal info carries no bundle id; Apple's libraries check only the environment.
    check_environment(expected.environment, verified.payload.environment.as_ref())?;
    Ok(verified)
}

fn app_transaction_for(
    verified: Verified<AppTransaction>,
    expected: &AppIdentity,
) -> Result<Verified<AppTransaction>, VerifyError> {
    let p = &verified.payload;
    check_bundle(&expected.bundle_id, p.bundle_id.as_deref())?;
    if expected.environment == Environment::Production {
        check_app_apple_id(expected.app_apple_id, p.app_apple_id)?;
    }
    check_environment(expected.environment, p.receipt_type.as_ref())?;
    Ok(verified)
}

#[cfg(test)]
mod tests;
