//! Promotional offer signatures, by Apple's published rules, made with the project's In-App Purchase key.
//!
//! Two forms are made for every request, so an app can use whichever its StoreKit supports:
//! - the original signature (StoreKit 1 `SKPaymentDiscount`, StoreKit 2 `.promotionalOffer(offerID:keyID:nonce:
//!   signature:timestamp:)`): ECDSA P-256 / SHA-256 over seven fields joined by U+2063, ASN.1 DER, standard base64;
//! - the JWS-based signature (StoreKit 2 `.promotionalOffer(offerID:compactJWS:)`): an ES256 compact JWS with
//!   `aud: promotional-offer` and no `exp`.
//!
//! With a synced catalog, `catalog` holds a request to the subscriptions and offers App Store Connect lists.
pub mod catalog;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use serde::Serialize;
use uuid::Uuid;

use crate::crypto::Keyring;
use crate::store::{Actor, Project, Store};

/// U+2063 INVISIBLE SEPARATOR, between the fields of the original signature's message.
pub const SEPARATOR: char = '\u{2063}';
/// The `aud` of a JWS promotional offer signature.
pub const JWS_AUDIENCE: &str = "promotional-offer";
/// Apple accepts a signature for 24 hours after its timestamp.
pub const VALIDITY_MS: i64 = 24 * 3600 * 1000;
pub const IDENTIFIER_MAX_LEN: usize = 200;
pub const USERNAME_MAX_LEN: usize = 256;

/// One signature request, checked. Identifiers are as given; the user name/token and nonce are lowercase.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OfferRequest {
    pub product_id: String,
    pub offer_id: String,
    /// Lowercased app account token (or StoreKit 1 application user name); empty when none was given.
    pub application_username: String,
    /// Only for the JWS form: the customer's transaction id, which Apple recommends.
    pub transaction_id: Option<String>,
    pub nonce: Uuid,
    /// UNIX milliseconds.
    pub timestamp: i64,
}

/// What the app passes to StoreKit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignedOffer {
    pub key_identifier: String,
    pub product_identifier: String,
    pub offer_identifier: String,
    pub application_username: String,
    /// Lowercase hyphenated UUID.
    pub nonce: String,
    pub timestamp: i64,
    /// Base64 of the DER signature (the original form).
    pub signature: String,
    /// The JWS-based form (`.promotionalOffer(offerID:compactJWS:)`).
    #[serde(rename = "compactJWS")]
    pub compact_jws: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
}

/// The message the original signature covers: bundle ID, Key ID, product, offer, user name, nonce, timestamp.
pub fn v1_message(bundle_id: &str, key_id: &str, request: &OfferRequest) -> String {
    let nonce = request.nonce.hyphenated().to_string();
    let timestamp = request.timestamp.to_string();
    let fields: [&str; 7] = [
        bundle_id,
        key_id,
        &request.product_id,
        &request.offer_id,
        &request.application_username,
        &nonce,
        &timestamp,
    ];
    fields.join(&SEPARATOR.to_string())
}

/// ECDSA P-256 with SHA-256 over the UTF-8 message; ASN.1 DER (not JOSE's r||s), standard base64 with padding.
pub fn sign_v1(key: &SigningKey, message: &str) -> String {
    let signature: Signature = key.sign(message.as_bytes());
    STANDARD.encode(signature.to_der().as_bytes())
}

#[derive(Serialize)]
struct JwsHeader<'a> {
    alg: &'static str,
    kid: &'a str,
    typ: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JwsClaims<'a> {
    iss: &'a str,
    iat: i64,
    aud: &'static str,
    bid: &'a str,
    nonce: String,
    product_id: &'a str,
    offer_identifier: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    transaction_id: Option<&'a str>,
}

/// The JWS-based promotional offer signature: header `ES256`/`kid`/`JWT`, claims `iss`, `iat` (seconds), `aud`,
/// `bid`, `nonce`, `productId`, `offerIdentifier` and, when given, `transactionId`. No `exp`: Apple's libraries
/// leave it out.
pub fn sign_v2(
    key: &SigningKey,
    key_id: &str,
    issuer_id: &str,
    bundle_id: &str,
    request: &OfferRequest,
) -> Result<String, serde_json::Error> {
    let header = serde_json::to_vec(&JwsHeader {
        alg: "ES256",
        kid: key_id,
        typ: "JWT",
    })?;
    let claims = serde_json::to_vec(&JwsClaims {
        iss: issuer_id,
        iat: request.timestamp.div_euclid(1000),
        aud: JWS_AUDIENCE,
        bid: bundle_id,
        nonce: request.nonce.hyphenated().to_string(),
        product_id: &request.product_id,
        offer_identifier: &request.offer_id,
        transaction_id: request.transaction_id.as_deref(),
    })?;
    let mut jws = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let signature: Signature = key.sign(jws.as_bytes());
    jws.push('.');
    jws.push_str(&URL_SAFE_NO_PAD.encode(signature.to_bytes()));
    Ok(jws)
}

/// Both forms for one request.
pub fn sign(
    key: &SigningKey,
    key_id: &str,
    issuer_id: &str,
    bundle_id: &str,
    request: &OfferRequest,
) -> Result<SignedOffer, serde_json::Error> {
    Ok(SignedOffer {
        key_identifier: key_id.to_string(),
        product_identifier: request.product_id.clone(),
        offer_identifier: request.offer_id.clone(),
        application_username: request.application_username.clone(),
        nonce: request.nonce.hyphenated().to_string(),
        timestamp: request.timestamp,
        signature: sign_v1(key, &v1_message(bundle_id, key_id, request)),
        compact_jws: sign_v2(key, key_id, issuer_id, bundle_id, request)?,
        transaction_id: request.transaction_id.clone(),
    })
}

/// The fields of a request, for error messages tied to a form field or a JSON member.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OfferField {
    ProductId,
    OfferId,
    AppAccountToken,
    ApplicationUsername,
    TransactionId,
    Nonce,
    Timestamp,
}

impl OfferField {
    /// The HTML form's field name.
    pub fn form_name(self) -> &'static str {
        match self {
            OfferField::ProductId => "product_id",
            OfferField::OfferId => "offer_id",
            OfferField::AppAccountToken => "app_account_token",
            OfferField::ApplicationUsername => "application_username",
            OfferField::TransactionId => "transaction_id",
            OfferField::Nonce => "nonce",
            OfferField::Timestamp => "timestamp",
        }
    }

    /// The JSON API's member name (Apple's spelling).
    pub fn json_name(self) -> &'static str {
        match self {
            OfferField::ProductId => "productIdentifier",
            OfferField::OfferId => "offerIdentifier",
            OfferField::AppAccountToken => "appAccountToken",
            OfferField::ApplicationUsername => "applicationUsername",
            OfferField::TransactionId => "transactionId",
            OfferField::Nonce => "nonce",
            OfferField::Timestamp => "timestamp",
        }
    }
}

/// A request as typed into the form or sent as JSON: every field a string, empty when not given.
#[derive(Clone, Debug, Default)]
pub struct OfferInput {
    pub product_id: String,
    pub offer_id: String,
    pub app_account_token: String,
    pub application_username: String,
    pub transaction_id: String,
    pub nonce: String,
    pub timestamp: String,
}

pub type FieldErrors = Vec<(OfferField, String)>;

pub const PRODUCT_EMPTY: &str =
    "Enter the product ID of the subscription, as in App Store Connect (such as com.example.pro.monthly).";
pub const OFFER_EMPTY: &str =
    "Enter the promotional offer's identifier: the Offer Identifier you set on the subscription's promotional offer in App Store Connect.";
pub const APP_ACCOUNT_TOKEN_BAD: &str =
    "The app account token must be a UUID such as 7e3fb20b-4cdb-47cc-936d-99d65f608138 (the one your app passes to StoreKit), or empty.";
pub const BOTH_USERNAMES: &str =
    "Send either appAccountToken or applicationUsername, not both: the signature covers only one of them.";
pub const TRANSACTION_ID_BAD: &str =
    "The transaction ID is digits only, such as 2000000123456789, or empty.";
pub const NONCE_BAD: &str =
    "The nonce must be a UUID such as 1b4e28ba-2fa1-41d2-883f-0016d3cca427, or empty to let storedesk make a new one.";
pub const TIMESTAMP_BAD: &str =
    "The timestamp is a whole number of milliseconds since 1970, such as 1767225600000, or empty to use the current time.";
pub const TIMESTAMP_SECONDS: &str =
    "This timestamp looks like seconds; Apple wants milliseconds since 1970 (13 digits, such as 1767225600000).";
pub const TIMESTAMP_FUTURE: &str =
    "This timestamp is thousands of years ahead; Apple wants milliseconds since 1970 (13 digits, such as 1767225600000).";

fn identifier(
    raw: &str,
    what: &str,
    empty: &str,
    field: OfferField,
    errors: &mut FieldErrors,
) -> String {
    let s = raw.trim();
    if s.is_empty() {
        errors.push((field, empty.into()));
    } else if s.chars().count() > IDENTIFIER_MAX_LEN {
        errors.push((
            field,
            format!("Keep the {what} to {IDENTIFIER_MAX_LEN} characters or fewer."),
        ));
    } else if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        // Also what keeps a separator or other invisible character from changing the signed message.
        errors.push((
            field,
            format!("The {what} may contain only letters, digits, periods, underscores and hyphens, as in App Store Connect."),
        ));
    }
    s.to_string()
}

/// A UUID in the hyphenated 8-4-4-4-12 form (either case); any version, as StoreKit accepts.
fn parse_uuid(s: &str) -> Option<Uuid> {
    crate::domain::shapes::is_uuid_shape(s)
        .then(|| Uuid::parse_str(s).ok())
        .flatten()
}

/// Checks a request. `new_nonce` and `now_ms` fill what was left empty.
pub fn parse(
    input: &OfferInput,
    new_nonce: Uuid,
    now_ms: i64,
) -> Result<OfferRequest, FieldErrors> {
    let mut errors = FieldErrors::new();
    let product_id = identifier(
        &input.product_id,
        "product ID",
        PRODUCT_EMPTY,
        OfferField::ProductId,
        &mut errors,
    );
    let offer_id = identifier(
        &input.offer_id,
        "offer identifier",
        OFFER_EMPTY,
        OfferField::OfferId,
        &mut errors,
    );
    let token = input.app_account_token.trim();
    let username = input.application_username.trim();
    let mut application_username = String::new();
    if !token.is_empty() && !username.is_empty() {
        errors.push((OfferField::ApplicationUsername, BOTH_USERNAMES.into()));
    } else if !token.is_empty() {
        match parse_uuid(token) {
            Some(uuid) => application_username = uuid.hyphenated().to_string(),
            None => errors.push((OfferField::AppAccountToken, APP_ACCOUNT_TOKEN_BAD.into())),
        }
    } else if !username.is_empty() {
        if username.chars().count() > USERNAME_MAX_LEN || username.chars().any(is_invisible) {
            errors.push((
                OfferField::ApplicationUsername,
                format!("The application user name must be at most {USERNAME_MAX_LEN} visible characters (Apple recommends a hash of your user's account id)."),
            ));
        } else {
            application_username = username.to_lowercase();
        }
    }
    let transaction_id = match input.transaction_id.trim() {
        "" => None,
        t if t.len() <= 32 && t.bytes().all(|b| b.is_ascii_digit()) => Some(t.to_string()),
        _ => {
            errors.push((OfferField::TransactionId, TRANSACTION_ID_BAD.into()));
            None
        }
    };
    let nonce = match input.nonce.trim() {
        "" => new_nonce,
        n => parse_uuid(n).unwrap_or_else(|| {
            errors.push((OfferField::Nonce, NONCE_BAD.into()));
            new_nonce
        }),
    };
    let timestamp = match input.timestamp.trim() {
        "" => now_ms,
        t => match t.parse::<i64>() {
            Ok(ms) if t.bytes().all(|b| b.is_ascii_digit()) => {
                if ms < 1_000_000_000_000 {
                    errors.push((OfferField::Timestamp, TIMESTAMP_SECONDS.into()));
                } else if ms >= 100_000_000_000_000 {
                    errors.push((OfferField::Timestamp, TIMESTAMP_FUTURE.into()));
                }
                ms
            }
            _ => {
                errors.push((OfferField::Timestamp, TIMESTAMP_BAD.into()));
                now_ms
            }
        },
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(OfferRequest {
        product_id,
        offer_id,
        application_username,
        transaction_id,
        nonce,
        timestamp,
    })
}

/// [`parse`], then held to the project's catalog (`catalog::check`) when it lists auto-renewable subscriptions: a
/// product or offer it does not hold is refused under its field, beside the other fields' refusals.
pub fn parse_with_catalog(
    input: &OfferInput,
    catalog: &crate::domain::catalog::Catalog,
    new_nonce: Uuid,
    now_ms: i64,
) -> Result<OfferRequest, FieldErrors> {
    let parsed = parse(input, new_nonce, now_ms);
    let mut errors = parsed.as_ref().err().cloned().unwrap_or_default();
    for (field, message) in catalog::check(catalog, &input.product_id, &input.offer_id) {
        // A field refused for its shape already has its sentence.
        if !errors.iter().any(|(f, _)| *f == field) {
            errors.push((field, message));
        }
    }
    match parsed {
        Ok(request) if errors.is_empty() => Ok(request),
        _ => Err(errors),
    }
}

/// Control and format characters (U+2063 among them) would be invisible in the signed message.
fn is_invisible(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{FEFF}')
}

#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("The project “{0}” has no In-App Purchase key in use, so nothing can be signed. Add the key under App Store settings first.")]
    NoKey(String),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Signs with the project's key in use (read from the database, so a rotation elsewhere is seen at once) and
/// audits `offer.sign`.
pub async fn sign_for_project(
    store: &Store,
    keyring: &Keyring,
    project: &Project,
    request: &OfferRequest,
    actor: &Actor,
) -> Result<SignedOffer, SignError> {
    let key = crate::keys::open_key_in_use(store, keyring, project.id)
        .await?
        .ok_or_else(|| SignError::NoKey(project.slug.clone()))?;
    let signed = sign(
        &key.signing_key,
        key.key_id.as_str(),
        key.issuer_id.as_str(),
        &project.bundle_id,
        request,
    )
    .map_err(|e| SignError::Unexpected(anyhow::Error::new(e).context("offer JWS claims")))?;
    let mut detail = format!(
        "key {}; nonce {}; timestamp {}",
        signed.key_identifier, signed.nonce, signed.timestamp
    );
    if !signed.application_username.is_empty() {
        detail.push_str(&format!("; for {}", signed.application_username));
    }
    if let Some(t) = &signed.transaction_id {
        detail.push_str(&format!("; transaction {t}"));
    }
    store
        .audit(
            actor,
            "offer.sign",
            Some(project.id),
            &format!(
                "{} / {}",
                signed.product_identifier, signed.offer_identifier
            ),
            &detail,
        )
        .await
        .map_err(|e| SignError::Unexpected(anyhow::Error::new(e)))?;
    Ok(signed)
}

#[cfg(test)]
mod tests;
