//! A destination's signing secret: `whsec_` and the base64 of 32 random bytes, the form Standard Webhooks
//! libraries take. It is shown once, when it is made, and then only sealed (`crate::keys::seal_forward_secret`).
use base64::Engine;
use rand::RngCore as _;
use secrecy::SecretString;

pub const PREFIX: &str = "whsec_";

/// After a rotation, the previous secret signs beside the new one this long, so receivers can switch without
/// refusing a delivery.
pub const ROTATION_OVERLAP_MS: i64 = 24 * 3_600_000;

/// A new random signing secret.
pub fn generate() -> SecretString {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    bytes.fill(0);
    SecretString::from(format!("{PREFIX}{encoded}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn a_secret_is_whsec_and_32_random_bytes() {
        let a = generate();
        let b = generate();
        assert!(a.expose_secret().starts_with(PREFIX));
        let raw = base64::engine::general_purpose::STANDARD
            .decode(&a.expose_secret()[PREFIX.len()..])
            .unwrap_or_default();
        assert_eq!(raw.len(), 32);
        assert_ne!(a.expose_secret(), b.expose_secret());
    }
}
