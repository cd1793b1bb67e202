//! JWS decoding: the three base64url parts, the ES256 header with its x5c chain, the payload typed and kept as
//! Apple signed it, and the signature checked against the chain's leaf.

use app_store_server_library::models::decoded_signed_data::DecodedSignedData;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::chain::check_window;
use super::{SignedDataVerifier, Verified, VerifyError};

/// JWS parts are unpadded base64url, x5c entries padded standard base64; be lenient about padding only.
pub(super) const B64URL: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
pub(super) const B64STD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

#[derive(Deserialize)]
struct JwsHeader {
    alg: Option<String>,
    x5c: Option<Vec<String>>,
}

/// The three parts of a JWS, decoded, its payload typed; nothing checked yet but their shape.
struct Decoded<'a, T> {
    header_b64: &'a str,
    signed_len: usize,
    signature: Vec<u8>,
    payload: T,
    raw: serde_json::Value,
}

/// Splits and decodes a JWS. The header is decoded only when `decode_header`; the callers that already know the
/// header's text (a cached one, or the enclosing notification's) skip it.
fn decode<'a, T>(
    jws: &'a str,
    kind: &'static str,
    decode_header: impl FnOnce(&str) -> bool,
) -> Result<(Decoded<'a, T>, Option<JwsHeader>), VerifyError>
where
    T: DeserializeOwned,
{
    let mut parts = jws.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(VerifyError::MalformedJws(
            "it must have exactly three dot-separated parts".into(),
        ));
    };
    // Checks in the same order whether or not the header is known, so errors don't depend on the cache.
    let header_json = if decode_header(header_b64) {
        Some(
            B64URL
                .decode(header_b64)
                .map_err(|_| VerifyError::MalformedJws("the header is not base64url".into()))?,
        )
    } else {
        None
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
    if let Some(header) = &header {
        if header.alg.as_deref() != Some("ES256") {
            return Err(VerifyError::UnsupportedAlgorithm);
        }
        match &header.x5c {
            None => return Err(VerifyError::MissingX5c),
            Some(x5c) if x5c.len() != 3 => return Err(VerifyError::WrongChainLength(x5c.len())),
            Some(_) => {}
        }
    }
    // Typed before the chain check because the effective date comes from the payload.
    let payload = T::deserialize(&raw).map_err(|e| VerifyError::PayloadShape {
        kind,
        reason: e.to_string(),
    })?;
    Ok((
        Decoded {
            header_b64,
            signed_len: header_b64.len() + 1 + payload_b64.len(),
            signature,
            payload,
            raw,
        },
        header,
    ))
}

/// A notification's own JWS, verified: the JWS inside it whose header is this one, byte for byte, are covered
/// by its signature. Only [`SignedDataVerifier::verify_notification_any_env`] makes one.
#[derive(Debug, Clone, Copy)]
pub struct Envelope<'a> {
    header_b64: &'a str,
}

impl<'a> Envelope<'a> {
    /// Called only after `jws`'s signature and chain were checked.
    pub(super) fn of_verified(jws: &'a str) -> Self {
        Envelope {
            header_b64: jws.trim().split('.').next().unwrap_or_default(),
        }
    }
}

impl SignedDataVerifier {
    /// Cryptographic verification plus decoding; the callers add the semantic checks.
    pub(super) fn verify_jws<T>(
        &self,
        jws: &str,
        kind: &'static str,
        now: DateTime<Utc>,
    ) -> Result<Verified<T>, VerifyError>
    where
        T: DeserializeOwned + DecodedSignedData,
    {
        let jws = jws.trim();
        let mut known = None;
        let (decoded, header) = decode::<T>(jws, kind, |header_b64| {
            known = self.chain_for_header(header_b64);
            known.is_none()
        })?;
        let effective = decoded.payload.signed_date_optional().unwrap_or(now);
        let chain = match (known, header.and_then(|h| h.x5c)) {
            (Some(chain), _) => chain,
            (None, Some(x5c)) => {
                // x5c[2] is deliberately ignored: trust comes only from configured roots.
                let (chain_key, chain) = self.chain_for(&x5c[0], &x5c[1])?;
                self.remember_header(decoded.header_b64, chain_key);
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
        ring::signature::UnparsedPublicKey::new(
            &ring::signature::ECDSA_P256_SHA256_FIXED,
            &chain.leaf_point[..],
        )
        .verify(&jws.as_bytes()[..decoded.signed_len], &decoded.signature)
        .map_err(|_| VerifyError::BadSignature)?;

        Ok(Verified {
            payload: decoded.payload,
            raw: decoded.raw,
        })
    }

    /// A JWS carried inside a verified notification. Apple signs the notification and the JWS inside it under
    /// one header; when this one's header is the notification's, its every byte (its signature included) was
    /// covered by the notification's signature, checked against the same chain, so checking its own signature
    /// again would prove nothing new: it is decoded and typed only. Any other header is verified in full.
    pub(super) fn verify_enclosed_jws<T>(
        &self,
        jws: &str,
        kind: &'static str,
        envelope: Envelope<'_>,
        now: DateTime<Utc>,
    ) -> Result<Verified<T>, VerifyError>
    where
        T: DeserializeOwned + DecodedSignedData,
    {
        let jws = jws.trim();
        if jws.split('.').next() != Some(envelope.header_b64) {
            return self.verify_jws(jws, kind, now);
        }
        let (decoded, _) = decode::<T>(jws, kind, |_| false)?;
        // The shape ring would insist on, so a damaged copy is refused the same way with or without the envelope.
        if decoded.signature.len() != 64 {
            return Err(VerifyError::BadSignature);
        }
        Ok(Verified {
            payload: decoded.payload,
            raw: decoded.raw,
        })
    }
}
