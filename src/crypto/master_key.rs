//! The master key: 32 random bytes from the environment or a file, under which every `.p8` is sealed.
use std::fmt;

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use rand::RngCore as _;
use secrecy::SecretString;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

pub const MASTER_KEY_LEN: usize = 32;

/// Separates the key's public identifier from any other hash of the key.
const KEY_ID_DOMAIN: &[u8] = b"storedesk master key id v1\0";

/// Standard alphabet; the `=` is optional so that a key whose padding was lost in copying still works.
const KEY_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

#[derive(Clone)]
pub struct MasterKey {
    bytes: Zeroizing<[u8; MASTER_KEY_LEN]>,
}

/// Why a configured master key was refused; the sentence says what is expected and how to make one.
/// The key itself never appears in it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MasterKeyError {
    #[error(
        "STOREDESK_MASTER_KEY is empty. It must be 32 random bytes in base64 (44 characters); \
         run `storedesk master-key generate` to make one."
    )]
    Empty,
    #[error(
        "STOREDESK_MASTER_KEY is not valid base64. It must be 32 random bytes in base64 (44 characters); \
         run `storedesk master-key generate` to make one."
    )]
    NotBase64,
    #[error(
        "STOREDESK_MASTER_KEY decodes to {len} bytes instead of 32. It must be 32 random bytes in base64 \
         (44 characters); run `storedesk master-key generate` to make one."
    )]
    WrongLength { len: usize },
}

impl MasterKey {
    pub fn from_base64(encoded: &str) -> Result<Self, MasterKeyError> {
        let encoded = encoded.trim();
        if encoded.is_empty() {
            return Err(MasterKeyError::Empty);
        }
        let decoded = Zeroizing::new(
            KEY_BASE64
                .decode(encoded.as_bytes())
                .map_err(|_| MasterKeyError::NotBase64)?,
        );
        let mut bytes = Zeroizing::new([0u8; MASTER_KEY_LEN]);
        if decoded.len() != MASTER_KEY_LEN {
            return Err(MasterKeyError::WrongLength { len: decoded.len() });
        }
        bytes.copy_from_slice(&decoded);
        Ok(Self { bytes })
    }

    /// A fresh key from the operating system's random source.
    pub fn generate() -> Self {
        let mut bytes = Zeroizing::new([0u8; MASTER_KEY_LEN]);
        rand::rngs::OsRng.fill_bytes(bytes.as_mut());
        Self { bytes }
    }

    /// The key in the form `from_base64` reads, for the CLI to print once.
    pub fn to_base64_secret(&self) -> SecretString {
        SecretString::from(base64::engine::general_purpose::STANDARD.encode(self.bytes.as_ref()))
    }

    /// A short public name for this key (16 hex characters). The database records it beside each sealed row,
    /// so that starting with the wrong master key is noticed before anything is decrypted.
    pub fn key_id(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(KEY_ID_DOMAIN);
        hasher.update(self.bytes.as_ref());
        hex::encode(&hasher.finalize()[..8])
    }

    pub(super) fn bytes(&self) -> &[u8; MASTER_KEY_LEN] {
        &self.bytes
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKey")
            .field("key_id", &self.key_id())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    const EXAMPLE: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    #[test]
    fn a_44_character_base64_key_is_read() {
        let key = MasterKey::from_base64(EXAMPLE).unwrap();
        assert_eq!(
            key.bytes().as_slice(),
            (0u8..32).collect::<Vec<_>>().as_slice()
        );
    }

    #[test]
    fn whitespace_and_missing_padding_are_tolerated() {
        let key = MasterKey::from_base64(&format!("  {EXAMPLE}\n")).unwrap();
        let unpadded = MasterKey::from_base64(EXAMPLE.trim_end_matches('=')).unwrap();
        assert_eq!(key.key_id(), unpadded.key_id());
    }

    #[test]
    fn an_empty_key_is_refused() {
        assert_eq!(
            MasterKey::from_base64(" \n").unwrap_err(),
            MasterKeyError::Empty
        );
    }

    #[test]
    fn text_that_is_not_base64_is_refused() {
        assert_eq!(
            MasterKey::from_base64("not a key!").unwrap_err(),
            MasterKeyError::NotBase64
        );
    }

    #[test]
    fn a_key_of_the_wrong_length_is_refused_saying_how_long_it_is() {
        let short = base64::engine::general_purpose::STANDARD.encode([1u8; 16]);
        let err = MasterKey::from_base64(&short).unwrap_err();
        assert_eq!(err, MasterKeyError::WrongLength { len: 16 });
        assert!(err
            .to_string()
            .contains("decodes to 16 bytes instead of 32"));
    }

    #[test]
    fn every_refusal_says_what_is_expected_and_how_to_make_one() {
        for err in [
            MasterKeyError::Empty,
            MasterKeyError::NotBase64,
            MasterKeyError::WrongLength { len: 3 },
        ] {
            let message = err.to_string();
            assert!(message.contains("32 random bytes in base64 (44 characters)"));
            assert!(message.contains("`storedesk master-key generate`"));
        }
    }

    #[test]
    fn a_generated_key_round_trips_through_base64() {
        let key = MasterKey::generate();
        let printed = key.to_base64_secret();
        assert_eq!(printed.expose_secret().len(), 44);
        let again = MasterKey::from_base64(printed.expose_secret()).unwrap();
        assert_eq!(again.bytes(), key.bytes());
    }

    #[test]
    fn generated_keys_differ() {
        assert_ne!(
            MasterKey::generate().key_id(),
            MasterKey::generate().key_id()
        );
    }

    #[test]
    fn the_key_id_is_stable_short_and_not_the_key() {
        let key = MasterKey::from_base64(EXAMPLE).unwrap();
        let id = key.key_id();
        assert_eq!(id, MasterKey::from_base64(EXAMPLE).unwrap().key_id());
        assert_eq!(id.len(), 16);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
        assert!(!hex::encode(key.bytes()).contains(&id));
    }

    #[test]
    fn debug_redacts_the_key() {
        let key = MasterKey::from_base64(EXAMPLE).unwrap();
        let debug = format!("{key:?}");
        assert!(debug.contains(&key.key_id()));
        assert!(!debug.contains(EXAMPLE.trim_end_matches('=')));
        assert!(!debug.contains("000102030405"));
        assert!(!debug.contains("[0, 1, 2"));
    }
}
