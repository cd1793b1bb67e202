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
        let mut parts = jws.split('.');
        let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(VerifyError::MalformedJws(
                "it must have exactly three dot-separated parts".into(),
            ));
        };
        let known = self.chain_for_header(header_b64);
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
                self.remember_header(header_b64, chain_key);
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
