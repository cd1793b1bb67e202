//! Compact JWS in Apple's form: ES256 with a raw r||s signature and the certificate chain in `x5c`.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};

/// Signs with ring rather than p256: the simulator signs every transaction it returns, and on a shared machine
/// its signing time would otherwise crowd the app under test (ring signs about five times faster).
pub(crate) struct Signer {
    key: EcdsaKeyPair,
    rng: SystemRandom,
    /// The protected header never changes, so it is encoded once.
    header_b64: String,
}

impl Signer {
    /// `pkcs8` is the leaf's private key as a PKCS#8 document.
    pub(crate) fn new(pkcs8: &[u8], chain: [&[u8]; 3]) -> anyhow::Result<Self> {
        let rng = SystemRandom::new();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8, &rng)
            .map_err(|e| anyhow::anyhow!("the leaf key is not a P-256 PKCS#8 key: {e}"))?;
        // x5c entries are standard base64 (not URL-safe), leaf first.
        let x5c: Vec<String> = chain.iter().map(|der| STANDARD.encode(der)).collect();
        let header = serde_json::json!({ "alg": "ES256", "x5c": x5c, "typ": "JWT" });
        Ok(Self {
            key,
            rng,
            header_b64: URL_SAFE_NO_PAD.encode(header.to_string()),
        })
    }

    /// `corrupt` yields a well-formed JWS whose signature does not verify (the BadSignature fault).
    pub(crate) fn sign(&self, payload: &serde_json::Value, corrupt: bool) -> String {
        let signing_input = format!(
            "{}.{}",
            self.header_b64,
            URL_SAFE_NO_PAD.encode(payload.to_string())
        );
        // ring fails only when the system's random source does; the JWS then carries no signature and is refused.
        let mut raw = match self.key.sign(&self.rng, signing_input.as_bytes()) {
            Ok(signature) => signature.as_ref().to_vec(),
            Err(e) => {
                tracing::error!(error = %e, "the simulator could not sign");
                Vec::new()
            }
        };
        if corrupt {
            if let Some(last) = raw.last_mut() {
                *last ^= 0x01;
            }
        }
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(raw))
    }

    #[cfg(test)]
    pub(crate) fn verifying_key(&self) -> p256::ecdsa::VerifyingKey {
        use ring::signature::KeyPair as _;
        p256::ecdsa::VerifyingKey::from_sec1_bytes(self.key.public_key().as_ref())
            .expect("ring's P-256 public key is a SEC1 point")
    }
}
