//! Verification of the JWS that Apple signs: transactions, renewal info, notifications, app transactions.
//!
//! Our own verifier rather than the crate's, because the crate re-validates the whole certificate chain on
//! every call. Apple signs with a handful of leaf certificates, so a validated (leaf, intermediate) pair is
//! cached and a warm verify costs one P-256 signature check plus JSON decoding.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use app_store_server_library::models::app_store_environment::Environment as LibEnvironment;
use app_store_server_library::models::app_transaction::AppTransaction;
use app_store_server_library::models::decoded_signed_data::DecodedSignedData;
use app_store_server_library::models::jws_renewal_info_decoded_payload::JWSRenewalInfoDecodedPayload;
use app_store_server_library::models::jws_transaction_decoded_payload::JWSTransactionDecodedPayload;
use app_store_server_library::models::response_body_v2_decoded_payload::ResponseBodyV2DecodedPayload;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use sha2::{Digest, Sha256, Sha384};
use x509_cert::der::asn1::ObjectIdentifier;
use x509_cert::der::{Decode, Header, Reader, SliceReader, Tag};
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage};
use x509_cert::name::Name;
use x509_cert::spki::SubjectPublicKeyInfoOwned;
use x509_cert::Certificate;

use super::{apple_root_g3_der, lib_env_str, Environment};

const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const OID_ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const OID_ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const OID_BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
const OID_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");
/// Apple marks its receipt-signing leaves and its WWDR intermediates with these; a chain lacking them
/// could be any certificate Apple's root ever issued.
pub const LEAF_MARKER_OID: &str = "1.2.840.113635.100.6.11.1";
pub const INTERMEDIATE_MARKER_OID: &str = "1.2.840.113635.100.6.2.1";
const OID_LEAF_MARKER: ObjectIdentifier = ObjectIdentifier::new_unwrap(LEAF_MARKER_OID);
const OID_INTERMEDIATE_MARKER: ObjectIdentifier =
    ObjectIdentifier::new_unwrap(INTERMEDIATE_MARKER_OID);

const DEFAULT_CACHE_CAPACITY: usize = 64;
/// Same period the official libraries use for their (online) chain cache.
const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(15 * 60);

/// JWS parts are unpadded base64url, x5c entries padded standard base64; be lenient about padding only.
const B64URL: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
const B64STD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

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

#[derive(Clone)]
enum EcKey {
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
}

impl EcKey {
    fn from_spki(spki: &SubjectPublicKeyInfoOwned) -> Result<Self, String> {
        if spki.algorithm.oid != OID_EC_PUBLIC_KEY {
            return Err("its key is not an elliptic-curve key".into());
        }
        let curve: ObjectIdentifier = spki
            .algorithm
            .parameters
            .as_ref()
            .ok_or("its key names no curve")?
            .decode_as()
            .map_err(|_| "its key's curve is not a named curve")?;
        let point = spki.subject_public_key.raw_bytes();
        if curve == OID_P256 {
            p256::ecdsa::VerifyingKey::from_sec1_bytes(point)
                .map(EcKey::P256)
                .map_err(|_| "its P-256 public key is invalid".into())
        } else if curve == OID_P384 {
            p384::ecdsa::VerifyingKey::from_sec1_bytes(point)
                .map(EcKey::P384)
                .map_err(|_| "its P-384 public key is invalid".into())
        } else {
            Err(format!("its key uses an unsupported curve ({curve})"))
        }
    }

    /// `tbs` signed with ECDSA and SHA-256 or SHA-384 (DER signature, as in certificates).
    fn verifies(&self, alg: &ObjectIdentifier, tbs: &[u8], der_signature: &[u8]) -> bool {
        let digest: Vec<u8> = if *alg == OID_ECDSA_SHA256 {
            Sha256::digest(tbs).to_vec()
        } else if *alg == OID_ECDSA_SHA384 {
            Sha384::digest(tbs).to_vec()
        } else {
            return false;
        };
        match self {
            EcKey::P256(key) => p256::ecdsa::Signature::from_der(der_signature)
                .map(|sig| key.verify_prehash(&digest, &sig).is_ok())
                .unwrap_or(false),
            EcKey::P384(key) => p384::ecdsa::Signature::from_der(der_signature)
                .map(|sig| key.verify_prehash(&digest, &sig).is_ok())
                .unwrap_or(false),
        }
    }
}

struct ParsedCert<'a> {
    cert: Certificate,
    tbs: &'a [u8],
}

impl<'a> ParsedCert<'a> {
    fn parse(der: &'a [u8], which: &'static str) -> Result<ParsedCert<'a>, VerifyError> {
        let bad = |reason: String| VerifyError::BadCertificate { which, reason };
        let cert = Certificate::from_der(der).map_err(|e| bad(format!("not DER X.509: {e}")))?;
        let tbs = tbs_bytes(der).map_err(|e| bad(format!("not DER X.509: {e}")))?;
        Ok(ParsedCert { cert, tbs })
    }

    fn subject(&self) -> &Name {
        &self.cert.tbs_certificate.subject
    }

    fn issuer(&self) -> &Name {
        &self.cert.tbs_certificate.issuer
    }

    fn key(&self) -> Result<EcKey, String> {
        EcKey::from_spki(&self.cert.tbs_certificate.subject_public_key_info)
    }

    fn signed_by(&self, issuer: &EcKey) -> bool {
        let alg = &self.cert.signature_algorithm.oid;
        // The algorithm is stated twice; a mismatch is a classic substitution trick.
        if *alg != self.cert.tbs_certificate.signature.oid {
            return false;
        }
        match self.cert.signature.as_bytes() {
            Some(sig) => issuer.verifies(alg, self.tbs, sig),
            None => false,
        }
    }

    fn has_extension(&self, oid: &ObjectIdentifier) -> bool {
        self.extension(oid).is_some()
    }

    fn extension(&self, oid: &ObjectIdentifier) -> Option<&[u8]> {
        self.cert
            .tbs_certificate
            .extensions
            .as_ref()?
            .iter()
            .find(|e| e.extn_id == *oid)
            .map(|e| e.extn_value.as_bytes())
    }

    fn validity_ms(&self) -> (i64, i64) {
        let v = &self.cert.tbs_certificate.validity;
        (
            duration_ms(v.not_before.to_unix_duration()),
            duration_ms(v.not_after.to_unix_duration()),
        )
    }
}

fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The exact signed bytes of the TBSCertificate, taken from the input rather than re-encoded.
fn tbs_bytes(der: &[u8]) -> x509_cert::der::Result<&[u8]> {
    let mut reader = SliceReader::new(der)?;
    let outer = Header::decode(&mut reader)?;
    outer.tag.assert_eq(Tag::Sequence)?;
    reader.tlv_bytes()
}

struct TrustAnchor {
    subject: Name,
    key: EcKey,
    not_before_ms: i64,
    not_after_ms: i64,
}

impl TrustAnchor {
    fn from_der(der: &[u8]) -> Result<Self, VerifyError> {
        let parsed =
            ParsedCert::parse(der, "root").map_err(|e| VerifyError::InvalidRoot(e.to_string()))?;
        let key = parsed.key().map_err(VerifyError::InvalidRoot)?;
        let (not_before_ms, not_after_ms) = parsed.validity_ms();
        Ok(TrustAnchor {
            subject: parsed.subject().clone(),
            key,
            not_before_ms,
            not_after_ms,
        })
    }
}

#[derive(Clone)]
struct CacheEntry {
    leaf_key: p256::ecdsa::VerifyingKey,
    /// The same key as an uncompressed SEC1 point, for ring's signature check: ring's assembly P-256 verifies
    /// several times faster than the portable `p256` arithmetic, and a notification carries three signatures.
    leaf_point: std::sync::Arc<[u8]>,
    not_before_ms: i64,
    not_after_ms: i64,
    inserted: Instant,
}

#[derive(Default)]
struct ChainCache {
    map: HashMap<[u8; 32], CacheEntry>,
    order: VecDeque<[u8; 32]>,
    /// JWS header text (hashed) → key of its chain in `map`. Apple's headers repeat exactly, so a known header
    /// skips decoding and parsing its three certificates' worth of JSON; the chain entry's TTL still applies.
    headers: HashMap<[u8; 32], [u8; 32]>,
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

/// A root given as DER, or as PEM holding one or more certificates (text before or between the blocks,
/// such as `openssl x509 -text` output, is ignored).
fn root_ders(input: &[u8]) -> Result<Vec<Vec<u8>>, VerifyError> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let text = match std::str::from_utf8(input) {
        Ok(t) if t.contains("-----BEGIN") => t,
        _ => return Ok(vec![input.to_vec()]),
    };
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let after = &rest[start + BEGIN.len()..];
        let end = after
            .find(END)
            .ok_or_else(|| VerifyError::InvalidRoot("PEM block without END line".into()))?;
        let b64: String = after[..end]
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        out.push(
            B64STD
                .decode(b64)
                .map_err(|_| VerifyError::InvalidRoot("PEM body is not base64".into()))?,
        );
        rest = &after[end + END.len()..];
    }
    if out.is_empty() {
        return Err(VerifyError::InvalidRoot(
            "PEM without a CERTIFICATE block".into(),
        ));
    }
    Ok(out)
}

#[derive(Deserialize)]
struct JwsHeader {
    alg: Option<String>,
    x5c: Option<Vec<String>>,
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
        let mut cache = self.lock_cache();
        cache.map.clear();
        cache.order.clear();
        cache.headers.clear();
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
        let verified: Verified<JWSTransactionDecodedPayload> =
            self.verify_jws(jws, "a transaction", Utc::now())?;
        check_bundle(&expected.bundle_id, verified.payload.bundle_id.as_deref())?;
        check_environment(expected.environment, verified.payload.environment.as_ref())?;
        Ok(verified)
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
        let verified: Verified<JWSRenewalInfoDecodedPayload> =
            self.verify_jws(jws, "renewal info", Utc::now())?;
        // Renewal info carries no bundle id; Apple's libraries check only the environment.
        check_environment(expected.environment, verified.payload.environment.as_ref())?;
        Ok(verified)
    }

    pub fn verify_app_transaction(
        &self,
        jws: &str,
        expected: &AppIdentity,
    ) -> Result<Verified<AppTransaction>, VerifyError> {
        let verified: Verified<AppTransaction> =
            self.verify_jws(jws, "an app transaction", Utc::now())?;
        let p = &verified.payload;
        check_bundle(&expected.bundle_id, p.bundle_id.as_deref())?;
        if expected.environment == Environment::Production {
            check_app_apple_id(expected.app_apple_id, p.app_apple_id)?;
        }
        check_environment(expected.environment, p.receipt_type.as_ref())?;
        Ok(verified)
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
    /// names. Production ones must also match the App Apple ID, so without one they are refused.
    pub fn verify_notification_any_env(
        &self,
        jws: &str,
        bundle_id: &str,
        app_apple_id: Option<i64>,
    ) -> Result<(Verified<ResponseBodyV2DecodedPayload>, Environment), VerifyError> {
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
        Ok((verified, env))
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

    /// Everything about the chain that doesn't depend on the date, so the result can be cached.
    fn validate_structure(
        &self,
        leaf_der: &[u8],
        intermediate_der: &[u8],
    ) -> Result<CacheEntry, VerifyError> {
        let leaf = ParsedCert::parse(leaf_der, "leaf")?;
        let intermediate = ParsedCert::parse(intermediate_der, "intermediate")?;

        let intermediate_key =
            intermediate
                .key()
                .map_err(|reason| VerifyError::BadCertificate {
                    which: "intermediate",
                    reason,
                })?;
        if leaf.issuer() != intermediate.subject() || !leaf.signed_by(&intermediate_key) {
            return Err(VerifyError::UntrustedChain(
                "the leaf certificate was not issued by the intermediate",
            ));
        }
        let intermediate_is_ca = intermediate
            .extension(&OID_BASIC_CONSTRAINTS)
            .and_then(|v| BasicConstraints::from_der(v).ok())
            .is_some_and(|bc| bc.ca);
        if !intermediate_is_ca {
            return Err(VerifyError::UntrustedChain(
                "the intermediate certificate is not a certificate authority",
            ));
        }
        // Several roots may share a name (re-issued roots); the one whose key verifies wins.
        let anchor = self
            .roots
            .iter()
            .find(|root| {
                root.subject == *intermediate.issuer() && intermediate.signed_by(&root.key)
            })
            .ok_or(VerifyError::UntrustedChain(
                "the intermediate certificate was not issued by a trusted root",
            ))?;

        if !leaf.has_extension(&OID_LEAF_MARKER) {
            return Err(VerifyError::MissingMarkerOid {
                which: "leaf",
                oid: LEAF_MARKER_OID,
            });
        }
        if !intermediate.has_extension(&OID_INTERMEDIATE_MARKER) {
            return Err(VerifyError::MissingMarkerOid {
                which: "intermediate",
                oid: INTERMEDIATE_MARKER_OID,
            });
        }
        if let Some(ku) = leaf.extension(&OID_KEY_USAGE) {
            let ok = KeyUsage::from_der(ku).is_ok_and(|ku| ku.digital_signature());
            if !ok {
                return Err(VerifyError::BadCertificate {
                    which: "leaf",
                    reason: "its key usage does not allow digital signatures".into(),
                });
            }
        }
        let leaf_key = match leaf.key() {
            Ok(EcKey::P256(key)) => key,
            Ok(EcKey::P384(_)) => {
                return Err(VerifyError::BadCertificate {
                    which: "leaf",
                    reason: "its key is P-384, but ES256 needs a P-256 key".into(),
                })
            }
            Err(reason) => {
                return Err(VerifyError::BadCertificate {
                    which: "leaf",
                    reason,
                })
            }
        };

        let (leaf_nb, leaf_na) = leaf.validity_ms();
        let (int_nb, int_na) = intermediate.validity_ms();
        Ok(CacheEntry {
            leaf_point: leaf_key.to_encoded_point(false).as_bytes().into(),
            leaf_key,
            not_before_ms: leaf_nb.max(int_nb).max(anchor.not_before_ms),
            not_after_ms: leaf_na.min(int_na).min(anchor.not_after_ms),
            inserted: Instant::now(),
        })
    }

    /// The validated chain for the x5c entries as sent (standard base64). The cache is keyed on that text, so a
    /// warm verification decodes no certificate; the same certificates spelled differently are merely a miss.
    fn chain_for(
        &self,
        leaf_b64: &str,
        intermediate_b64: &str,
    ) -> Result<([u8; 32], CacheEntry), VerifyError> {
        let mut hasher = Sha256::new();
        hasher.update(leaf_b64.as_bytes());
        // '.' is not a base64 character: the split between the two entries is unambiguous.
        hasher.update(b".");
        hasher.update(intermediate_b64.as_bytes());
        let key: [u8; 32] = hasher.finalize().into();
        if let Some(entry) = self.cached_chain(&key) {
            return Ok((key, entry));
        }

        let leaf_der = B64STD
            .decode(leaf_b64)
            .map_err(|_| VerifyError::BadCertificate {
                which: "leaf",
                reason: "not base64".into(),
            })?;
        let intermediate_der =
            B64STD
                .decode(intermediate_b64)
                .map_err(|_| VerifyError::BadCertificate {
                    which: "intermediate",
                    reason: "not base64".into(),
                })?;
        let entry = self.validate_structure(&leaf_der, &intermediate_der)?;
        let mut cache = self.lock_cache();
        if !cache.map.contains_key(&key) {
            while cache.map.len() >= self.cache_capacity {
                match cache.order.pop_front() {
                    Some(oldest) => {
                        cache.map.remove(&oldest);
                    }
                    None => {
                        cache.map.clear();
                        break;
                    }
                }
            }
            cache.order.push_back(key);
        }
        cache.map.insert(key, entry.clone());
        Ok((key, entry))
    }

    /// A live cache entry (counted as a hit), or None; an expired one is dropped.
    fn cached_chain(&self, key: &[u8; 32]) -> Option<CacheEntry> {
        let mut cache = self.lock_cache();
        match cache.map.get(key) {
            Some(entry) if entry.inserted.elapsed() < self.cache_ttl => {
                self.cache_hits.fetch_add(1, Ordering::Relaxed);
                Some(entry.clone())
            }
            Some(_) => {
                cache.map.remove(key);
                cache.order.retain(|k| k != key);
                None
            }
            None => None,
        }
    }

    /// The chain of a header seen before, if its entry is still live.
    fn chain_for_header(&self, header_key: &[u8; 32]) -> Option<CacheEntry> {
        let chain_key = *self.lock_cache().headers.get(header_key)?;
        self.cached_chain(&chain_key)
    }

    fn remember_header(&self, header_key: [u8; 32], chain_key: [u8; 32]) {
        let mut cache = self.lock_cache();
        // Headers of evicted chains linger harmlessly; bound the index anyway.
        if cache.headers.len() >= self.cache_capacity.saturating_mul(4) {
            cache.headers.clear();
        }
        cache.headers.insert(header_key, chain_key);
    }

    /// Cryptographic verification plus decoding; the callers add the semantic checks.
    fn verify_jws<T>(
        &self,
        jws: &str,
        kind: &'static str,
        now: DateTime<Utc>,
    ) -> Result<Verified<T>, VerifyError>
    where
        T: DeserializeOwned + DecodedSignedData,
    {
        let jws = jws.trim();
        let mut parts = jws.split('.');
        let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(VerifyError::MalformedJws(
                "it must have exactly three dot-separated parts".into(),
            ));
        };
        let header_key: [u8; 32] = Sha256::digest(header_b64.as_bytes()).into();
        let known = self.chain_for_header(&header_key);
        // Checks in the same order whether or not the header is known, so errors don't depend on the cache.
        let header_json =
            match known {
                Some(_) => None,
                None => Some(B64URL.decode(header_b64).map_err(|_| {
                    VerifyError::MalformedJws("the header is not base64url".into())
                })?),
            };
        let payload_json = B64URL
            .decode(payload_b64)
            .map_err(|_| VerifyError::MalformedJws("the payload is not base64url".into()))?;
        let signature = B64URL
            .decode(signature_b64)
            .map_err(|_| VerifyError::MalformedJws("the signature is not base64url".into()))?;
        let header: Option<JwsHeader> = header_json
            .map(|json| serde_json::from_slice(&json))
            .transpose()
            .map_err(|_| VerifyError::MalformedJws("the header is not a JSON object".into()))?;
        let raw: serde_json::Value = serde_json::from_slice(&payload_json)
            .map_err(|_| VerifyError::MalformedJws("the payload is not JSON".into()))?;
        if !raw.is_object() {
            return Err(VerifyError::MalformedJws(
                "the payload is not a JSON object".into(),
            ));
        }

        let x5c = match header {
            Some(header) => {
                if header.alg.as_deref() != Some("ES256") {
                    return Err(VerifyError::UnsupportedAlgorithm);
                }
                let x5c = header.x5c.ok_or(VerifyError::MissingX5c)?;
                if x5c.len() != 3 {
                    return Err(VerifyError::WrongChainLength(x5c.len()));
                }
                Some(x5c)
            }
            None => None,
        };

        // Typed before the chain check because the effective date comes from the payload.
        let payload = T::deserialize(&raw).map_err(|e| VerifyError::PayloadShape {
            kind,
            reason: e.to_string(),
        })?;
        let effective = payload.signed_date_optional().unwrap_or(now);

        let chain = match (known, x5c) {
            (Some(chain), _) => chain,
            (None, Some(x5c)) => {
                // x5c[2] is deliberately ignored: trust comes only from configured roots.
                let (chain_key, chain) = self.chain_for(&x5c[0], &x5c[1])?;
                self.remember_header(header_key, chain_key);
                chain
            }
            (None, None) => {
                return Err(VerifyError::MalformedJws(
                    "the header could not be read".into(),
                ))
            }
        };
        check_window(&chain, effective)?;

        // ES256 in JWS is the fixed 64-byte r||s form; ring rejects any other length, r or s out of range, or a
        // signature that does not match.
        let signed_len = header_b64.len() + 1 + payload_b64.len();
        ring::signature::UnparsedPublicKey::new(
            &ring::signature::ECDSA_P256_SHA256_FIXED,
            &chain.leaf_point[..],
        )
        .verify(&jws.as_bytes()[..signed_len], &signature)
        .map_err(|_| VerifyError::BadSignature)?;

        Ok(Verified { payload, raw })
    }
}

fn parse_roots(roots: Vec<Vec<u8>>) -> Result<Vec<TrustAnchor>, VerifyError> {
    let mut anchors = Vec::new();
    for input in roots {
        for der in root_ders(&input)? {
            anchors.push(TrustAnchor::from_der(&der)?);
        }
    }
    Ok(anchors)
}

fn check_window(entry: &CacheEntry, at: DateTime<Utc>) -> Result<(), VerifyError> {
    let at_ms = at.timestamp_millis();
    if at_ms < entry.not_before_ms || at_ms > entry.not_after_ms {
        return Err(VerifyError::NotValidAtDate(at));
    }
    Ok(())
}

fn ms_to_datetime(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Whether two payloads hold the same claims apart from `signedDate` (keys are compared by name, values exactly).
/// The index's write has a cheaper rule on stored text (`store::transactions`), where a wrong "different" only
/// costs a rewrite; this one decides what is shown unchecked, so it compares parsed values.
fn same_claims_apart_from_signed_date(
    a: &serde_json::Map<String, serde_json::Value>,
    b: &serde_json::Map<String, serde_json::Value>,
) -> bool {
    let others = |m: &serde_json::Map<String, serde_json::Value>| {
        m.len() - usize::from(m.contains_key("signedDate"))
    };
    others(a) == others(b)
        && a.iter()
            .filter(|(k, _)| *k != "signedDate")
            .all(|(k, v)| b.get(k) == Some(v))
}

fn check_bundle(expected: &str, got: Option<&str>) -> Result<(), VerifyError> {
    if got == Some(expected) {
        Ok(())
    } else {
        Err(VerifyError::WrongBundleId {
            expected: expected.to_owned(),
            got: got.map(str::to_owned),
        })
    }
}

fn check_app_apple_id(expected: Option<i64>, got: Option<i64>) -> Result<(), VerifyError> {
    let expected = expected.ok_or(VerifyError::AppAppleIdNotConfigured)?;
    if got == Some(expected) {
        Ok(())
    } else {
        Err(VerifyError::WrongAppAppleId { expected, got })
    }
}

fn check_environment(
    expected: Environment,
    got: Option<&LibEnvironment>,
) -> Result<(), VerifyError> {
    if got.and_then(Environment::from_lib) == Some(expected) {
        Ok(())
    } else {
        Err(VerifyError::WrongEnvironment {
            expected: expected.as_str().to_owned(),
            got: got
                .map(|e| lib_env_str(e).to_owned())
                .unwrap_or_else(|| "(none)".into()),
        })
    }
}

struct NotificationIdentity<'a> {
    bundle_id: Option<&'a str>,
    app_apple_id: Option<i64>,
    environment: Option<LibEnvironment>,
}

/// Apple puts the app's identity in exactly one of four objects, depending on the notification type.
fn notification_identity(p: &ResponseBodyV2DecodedPayload) -> NotificationIdentity<'_> {
    if let Some(d) = &p.data {
        NotificationIdentity {
            bundle_id: d.bundle_id.as_deref(),
            app_apple_id: d.app_apple_id,
            environment: d.environment.clone(),
        }
    } else if let Some(s) = &p.summary {
        NotificationIdentity {
            bundle_id: s.bundle_id.as_deref(),
            app_apple_id: s.app_apple_id,
            environment: s.environment.clone(),
        }
    } else if let Some(t) = &p.external_purchase_token {
        // This object has no environment field; Apple prefixes sandbox purchase ids instead.
        let sandbox = t
            .external_purchase_id
            .as_deref()
            .is_some_and(|id| id.starts_with("SANDBOX"));
        NotificationIdentity {
            bundle_id: t.bundle_id.as_deref(),
            app_apple_id: t.app_apple_id,
            environment: Some(if sandbox {
                LibEnvironment::Sandbox
            } else {
                LibEnvironment::Production
            }),
        }
    } else if let Some(a) = &p.app_data {
        NotificationIdentity {
            bundle_id: a.bundle_id.as_deref(),
            app_apple_id: a.app_apple_id,
            environment: a.environment.clone(),
        }
    } else {
        NotificationIdentity {
            bundle_id: None,
            app_apple_id: None,
            environment: None,
        }
    }
}

#[cfg(test)]
mod tests;
