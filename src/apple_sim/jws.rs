//! Compact JWS in Apple's form: ES256 with a raw r||s signature and the certificate chain in `x5c`.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};

pub(crate) struct Signer {
    key: SigningKey,
    /// The protected header never changes, so it is encoded once.
    header_b64: String,
}

impl Signer {
    pub(crate) fn new(key: SigningKey, chain: [&[u8]; 3]) -> Self {
        // x5c entries are standard base64 (not URL-safe), leaf first.
        let x5c: Vec<String> = chain.iter().map(|der| STANDARD.encode(der)).collect();
        let header = serde_json::json!({ "alg": "ES256", "x5c": x5c, "typ": "JWT" });
        Self {
            key,
            header_b64: URL_SAFE_NO_PAD.encode(header.to_string()),
        }
    }

    /// `corrupt` yields a well-formed JWS whose signature does not verify (the BadSignature fault).
    pub(crate) fn sign(&self, payload: &serde_json::Value, corrupt: bool) -> String {
        let signing_input = format!(
            "{}.{}",
            self.header_b64,
            URL_SAFE_NO_PAD.encode(payload.to_string())
        );
        let signature: Signature = self.key.sign(signing_input.as_bytes());
        let mut raw = signature.to_bytes().to_vec();
        if corrupt {
            if let Some(last) = raw.last_mut() {
                *last ^= 0x01;
            }
        }
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(raw))
    }

    #[cfg(test)]
    pub(crate) fn verifying_key(&self) -> p256::ecdsa::VerifyingKey {
        *self.key.verifying_key()
    }
}
