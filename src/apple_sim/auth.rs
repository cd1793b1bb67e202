//! Keys the simulator has issued (In-App Purchase keys and App Store Connect API keys), and the bearer-JWT
//! checks Apple applies to every call of the App Store Server API and of the App Store Connect API.

use std::collections::HashMap;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use p256::ecdsa::SigningKey;
use rand::Rng as _;
use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_FIXED};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::IssuedKey;

pub(crate) const AUDIENCE: &str = "appstoreconnect-v1";
/// The App Store Server API refuses tokens that live longer than an hour.
const MAX_LIFETIME_SECS: i64 = 3600;
/// The App Store Connect API refuses tokens that live longer than 20 minutes.
const CONNECT_MAX_LIFETIME_SECS: i64 = 1200;
/// How far in the future an `iat` may be before the token is refused (clock skew allowance).
const MAX_IAT_SKEW_SECS: i64 = 60;

/// A team key's role in App Store Connect (Users and Access → Integrations → App Store Connect API).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ConnectRole {
    Admin,
    AppManager,
    Developer,
    Marketing,
    Finance,
    Sales,
    CustomerSupport,
}

impl ConnectRole {
    /// The spelling App Store Connect uses (`APP_MANAGER`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "ADMIN",
            Self::AppManager => "APP_MANAGER",
            Self::Developer => "DEVELOPER",
            Self::Marketing => "MARKETING",
            Self::Finance => "FINANCE",
            Self::Sales => "SALES",
            Self::CustomerSupport => "CUSTOMER_SUPPORT",
        }
    }

    /// Only Admin and App Manager may read in-app purchases, subscriptions and their prices.
    pub(crate) fn reads_catalog(self) -> bool {
        matches!(self, Self::Admin | Self::AppManager)
    }
}

/// Apple keeps the two kinds of key apart: each API refuses the other's tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeyKind {
    /// `SubscriptionKey_….p8`: the App Store Server API (and promotional offers).
    InAppPurchase,
    /// `AuthKey_….p8`: the App Store Connect API. `apps: None` reaches all the team's apps; `Some` only these
    /// App Apple IDs.
    ConnectApi {
        role: ConnectRole,
        apps: Option<Vec<String>>,
    },
}

/// Who called the App Store Connect API, once its token passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConnectCaller {
    pub key_id: String,
    pub role: ConnectRole,
    pub apps: Option<Vec<String>>,
}

impl ConnectCaller {
    pub(crate) fn may_see(&self, app_apple_id: &str) -> bool {
        self.apps
            .as_ref()
            .is_none_or(|apps| apps.iter().any(|a| a == app_apple_id))
    }
}

struct KeyRecord {
    issuer_id: String,
    /// The public key as a SEC1 point, checked with ring (several times faster than p256 for every call).
    public_key: Vec<u8>,
    revoked: bool,
    kind: KeyKind,
}

/// Which API is checking the token: the rules differ in the key kind, the lifetime and `bid`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Api {
    Server,
    Connect,
}

#[derive(Default)]
pub(crate) struct KeyRegistry {
    keys: HashMap<String, KeyRecord>,
}

/// Why a token was refused; only logged server-side, the client always sees the same 401.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum AuthFailure {
    #[error("no Authorization header")]
    MissingHeader,
    #[error("Authorization is not a Bearer token")]
    NotBearer,
    #[error("token is not a three-part compact JWS")]
    Malformed,
    #[error("header alg is not ES256")]
    WrongAlgorithm,
    #[error("header has no kid")]
    MissingKid,
    #[error("kid {0} was never issued")]
    UnknownKid(String),
    #[error("kid {0} is revoked")]
    RevokedKey(String),
    #[error("signature does not verify with the key of kid {0}")]
    BadSignature(String),
    #[error("iss does not match the issuer of the key")]
    WrongIssuer,
    #[error("aud is not appstoreconnect-v1")]
    WrongAudience,
    #[error("bid is not the app's bundle id")]
    WrongBundleId,
    #[error("exp is missing or not a number")]
    MissingExp,
    #[error("token expired")]
    Expired,
    #[error("iat is not a number")]
    BadIat,
    #[error("iat is in the future")]
    IssuedInFuture,
    #[error("token lifetime exceeds {0} seconds")]
    LifetimeTooLong(i64),
    #[error("kid {0} is a key of the other kind (In-App Purchase vs App Store Connect API)")]
    WrongKeyKind(String),
    #[error("the app was never released in production")]
    AppNotReleased,
}

impl KeyRegistry {
    /// A new In-App Purchase key (`SubscriptionKey_<KEYID>.p8`).
    pub(crate) fn issue(&mut self, issuer_id: &str) -> IssuedKey {
        self.issue_kind(issuer_id, KeyKind::InAppPurchase)
    }

    /// A new App Store Connect API team key (`AuthKey_<KEYID>.p8`).
    pub(crate) fn issue_connect(
        &mut self,
        issuer_id: &str,
        role: ConnectRole,
        apps: Option<Vec<String>>,
    ) -> IssuedKey {
        self.issue_kind(issuer_id, KeyKind::ConnectApi { role, apps })
    }

    fn issue_kind(&mut self, issuer_id: &str, kind: KeyKind) -> IssuedKey {
        let signing_key = SigningKey::random(&mut rand::rngs::OsRng);
        let mut key_id = random_key_id();
        while self.keys.contains_key(&key_id) {
            key_id = random_key_id();
        }
        let private_key_pem = apple_style_p8(&signing_key);
        let file_name = match kind {
            KeyKind::InAppPurchase => format!("SubscriptionKey_{key_id}.p8"),
            KeyKind::ConnectApi { .. } => format!("AuthKey_{key_id}.p8"),
        };
        self.keys.insert(
            key_id.clone(),
            KeyRecord {
                issuer_id: issuer_id.to_owned(),
                public_key: signing_key
                    .verifying_key()
                    .to_encoded_point(false)
                    .as_bytes()
                    .to_vec(),
                revoked: false,
                kind,
            },
        );
        IssuedKey {
            file_name,
            key_id,
            issuer_id: issuer_id.to_owned(),
            private_key_pem,
        }
    }

    /// Returns whether the key existed.
    pub(crate) fn revoke(&mut self, key_id: &str) -> bool {
        match self.keys.get_mut(key_id) {
            Some(record) => {
                record.revoked = true;
                true
            }
            None => false,
        }
    }

    /// Checks `Authorization` exactly as listed in the API digest §4 and §14.2 (App Store Server API).
    pub(crate) fn authenticate(
        &self,
        authorization: Option<&str>,
        bundle_id: &str,
        now_secs: i64,
    ) -> Result<(), AuthFailure> {
        let (_, _, claims) = self.verify(authorization, now_secs, Api::Server)?;
        if claims.get("bid").and_then(Value::as_str) != Some(bundle_id) {
            return Err(AuthFailure::WrongBundleId);
        }
        Ok(())
    }

    /// The App Store Connect API's rules: a Connect key, `aud` appstoreconnect-v1, at most 20 minutes of
    /// lifetime; `bid` and `scope` are not looked at.
    pub(crate) fn authenticate_connect(
        &self,
        authorization: Option<&str>,
        now_secs: i64,
    ) -> Result<ConnectCaller, AuthFailure> {
        let (kid, record, _) = self.verify(authorization, now_secs, Api::Connect)?;
        match &record.kind {
            KeyKind::ConnectApi { role, apps } => Ok(ConnectCaller {
                key_id: kid.to_owned(),
                role: *role,
                apps: apps.clone(),
            }),
            KeyKind::InAppPurchase => Err(AuthFailure::WrongKeyKind(kid.to_owned())),
        }
    }

    /// What both APIs check: the JWS, the key (known, not revoked, of the API's kind), iss, aud and the dates.
    fn verify(
        &self,
        authorization: Option<&str>,
        now_secs: i64,
        api: Api,
    ) -> Result<(&str, &KeyRecord, Value), AuthFailure> {
        let header = authorization.ok_or(AuthFailure::MissingHeader)?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or(AuthFailure::NotBearer)?
            .trim();
        let mut parts = token.split('.');
        let (Some(h64), Some(p64), Some(s64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(AuthFailure::Malformed);
        };
        let jose = decode_json(h64)?;
        let claims = decode_json(p64)?;

        if jose.get("alg").and_then(Value::as_str) != Some("ES256") {
            return Err(AuthFailure::WrongAlgorithm);
        }
        let kid = jose
            .get("kid")
            .and_then(Value::as_str)
            .ok_or(AuthFailure::MissingKid)?;
        // The registry's own copy of the id outlives the decoded header, so it can be handed back.
        let (kid, record) = self
            .keys
            .get_key_value(kid)
            .ok_or_else(|| AuthFailure::UnknownKid(kid.to_owned()))?;
        if record.revoked {
            return Err(AuthFailure::RevokedKey(kid.to_owned()));
        }
        let signature = URL_SAFE_NO_PAD
            .decode(s64)
            .map_err(|_| AuthFailure::BadSignature(kid.to_owned()))?;
        let signing_input = &token[..h64.len() + 1 + p64.len()];
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &record.public_key)
            .verify(signing_input.as_bytes(), &signature)
            .map_err(|_| AuthFailure::BadSignature(kid.to_owned()))?;
        let kind_ok = match api {
            Api::Server => record.kind == KeyKind::InAppPurchase,
            Api::Connect => matches!(record.kind, KeyKind::ConnectApi { .. }),
        };
        if !kind_ok {
            return Err(AuthFailure::WrongKeyKind(kid.to_owned()));
        }

        if claims.get("iss").and_then(Value::as_str) != Some(record.issuer_id.as_str()) {
            return Err(AuthFailure::WrongIssuer);
        }
        let audience_ok = match claims.get("aud") {
            Some(Value::String(aud)) => aud == AUDIENCE,
            Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(AUDIENCE)),
            _ => false,
        };
        if !audience_ok {
            return Err(AuthFailure::WrongAudience);
        }
        let exp = claims
            .get("exp")
            .and_then(numeric_date)
            .ok_or(AuthFailure::MissingExp)?;
        if exp <= now_secs {
            return Err(AuthFailure::Expired);
        }
        // Python and Java clients leave iat out, so its absence is fine; the lifetime then counts from now.
        let iat = match claims.get("iat") {
            None | Some(Value::Null) => None,
            Some(v) => Some(numeric_date(v).ok_or(AuthFailure::BadIat)?),
        };
        if let Some(iat) = iat {
            if iat > now_secs + MAX_IAT_SKEW_SECS {
                return Err(AuthFailure::IssuedInFuture);
            }
        }
        let max_lifetime = match api {
            Api::Server => MAX_LIFETIME_SECS,
            Api::Connect => CONNECT_MAX_LIFETIME_SECS,
        };
        if exp - iat.unwrap_or(now_secs) > max_lifetime {
            return Err(AuthFailure::LifetimeTooLong(max_lifetime));
        }
        Ok((kid, record, claims))
    }
}

fn decode_json(segment: &str) -> Result<Value, AuthFailure> {
    let bytes = URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| AuthFailure::Malformed)?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(v @ Value::Object(_)) => Ok(v),
        _ => Err(AuthFailure::Malformed),
    }
}

/// JWT NumericDate: seconds, possibly fractional.
fn numeric_date(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| v.as_f64().map(|f| f.floor() as i64))
}

fn random_key_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::thread_rng();
    (0..10)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect()
}

/// PKCS#8 with the curve OID repeated inside the SEC1 key, as in App Store Connect downloads
/// (`MIGTAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBHkwdwIBAQQg…`); p256's own encoder leaves it out.
fn apple_style_p8(key: &SigningKey) -> String {
    const PREFIX: [u8; 36] = [
        0x30, 0x81, 0x93, 0x02, 0x01, 0x00, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d,
        0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x04, 0x79, 0x30,
        0x77, 0x02, 0x01, 0x01, 0x04, 0x20,
    ];
    const MIDDLE: [u8; 16] = [
        0xa0, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0xa1, 0x44, 0x03,
        0x42,
    ];
    let public = key.verifying_key().to_encoded_point(false);
    let mut der = Vec::with_capacity(150);
    der.extend_from_slice(&PREFIX);
    der.extend_from_slice(&key.to_bytes());
    der.extend_from_slice(&MIDDLE);
    der.push(0x00);
    der.extend_from_slice(public.as_bytes());
    let b64 = STANDARD.encode(&der);
    let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(chunk));
        pem.push('\n');
    }
    // App Store Connect's file ends right after the footer, without a newline.
    pem.push_str("-----END PRIVATE KEY-----");
    pem
}
