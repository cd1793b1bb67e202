//! AES-256-GCM under the master key, for data at rest (the `.p8` above all).
//!
//! Sealed form: `version (1 byte) || nonce (12 bytes) || ciphertext || tag (16 bytes)`. The version byte lets a
//! later storedesk change the scheme while still opening old rows.
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::RngCore as _;
use zeroize::Zeroizing;

use super::MasterKey;

pub const SEALED_VERSION: u8 = 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = 1 + NONCE_LEN;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("The encrypted data is too short to be valid: it is damaged or was not written by storedesk.")]
    Truncated,
    #[error(
        "The encrypted data has format version {version}, which this storedesk does not know: it was written \
         by a newer storedesk or is damaged."
    )]
    UnknownVersion { version: u8 },
    #[error(
        "The encrypted data could not be decrypted: it was encrypted under a different master key or with \
         different associated data, or it has been altered."
    )]
    AuthenticationFailed,
}

impl MasterKey {
    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(self.bytes().into())
    }

    /// Encrypts `plaintext` bound to `aad` (say, the project and Key ID it belongs to, so a sealed key cannot
    /// be moved to another row). A fresh random nonce each call: 96-bit random nonces are safe for far more
    /// messages than storedesk will ever seal under one key.
    ///
    /// # Panics
    /// Only if `plaintext` exceeds AES-GCM's limit of about 64 GiB.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ciphertext = match self.cipher().encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        ) {
            Ok(ciphertext) => ciphertext,
            // AES-GCM refuses only messages over 2^36 bytes; callers seal a few hundred.
            Err(_) => panic!("AES-GCM cannot seal {} bytes", plaintext.len()),
        };
        let mut sealed = Vec::with_capacity(HEADER_LEN + ciphertext.len());
        sealed.push(SEALED_VERSION);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        sealed
    }

    /// Decrypts what `seal` produced with the same key and `aad`.
    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let Some((&version, rest)) = sealed.split_first() else {
            return Err(CryptoError::Truncated);
        };
        if version != SEALED_VERSION {
            return Err(CryptoError::UnknownVersion { version });
        }
        if rest.len() < NONCE_LEN + TAG_LEN {
            return Err(CryptoError::Truncated);
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        self.cipher()
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| CryptoError::AuthenticationFailed)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    const AAD: &[u8] = b"project:7:key:2X9R4HXF34";
    const SECRET: &[u8] =
        b"-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n";

    #[test]
    fn what_is_sealed_opens_again() {
        let key = MasterKey::generate();
        let sealed = key.seal(SECRET, AAD);
        assert_eq!(key.open(&sealed, AAD).unwrap().as_slice(), SECRET);
    }

    #[test]
    fn empty_plaintext_round_trips() {
        let key = MasterKey::generate();
        let sealed = key.seal(b"", b"");
        assert_eq!(sealed.len(), HEADER_LEN + TAG_LEN);
        assert!(key.open(&sealed, b"").unwrap().is_empty());
    }

    #[test]
    fn the_sealed_form_has_a_version_a_nonce_and_a_tag() {
        let sealed = MasterKey::generate().seal(SECRET, AAD);
        assert_eq!(sealed[0], SEALED_VERSION);
        assert_eq!(sealed.len(), HEADER_LEN + SECRET.len() + TAG_LEN);
    }

    #[test]
    fn the_ciphertext_hides_the_plaintext_and_differs_each_time() {
        let key = MasterKey::generate();
        let first = key.seal(SECRET, AAD);
        let second = key.seal(SECRET, AAD);
        assert_ne!(&first[HEADER_LEN..HEADER_LEN + SECRET.len()], SECRET);
        assert!(!first.windows(8).any(|w| SECRET.windows(8).any(|s| s == w)));
        assert_ne!(first, second);
        assert_ne!(
            first[1..HEADER_LEN],
            second[1..HEADER_LEN],
            "nonces must not repeat"
        );
    }

    #[test]
    fn another_master_key_cannot_open_it() {
        let sealed = MasterKey::generate().seal(SECRET, AAD);
        assert_eq!(
            MasterKey::generate().open(&sealed, AAD).unwrap_err(),
            CryptoError::AuthenticationFailed
        );
    }

    #[test]
    fn other_associated_data_cannot_open_it() {
        let key = MasterKey::generate();
        let sealed = key.seal(SECRET, AAD);
        assert_eq!(
            key.open(&sealed, b"project:8:key:2X9R4HXF34").unwrap_err(),
            CryptoError::AuthenticationFailed
        );
        let message = CryptoError::AuthenticationFailed.to_string();
        assert!(
            message.contains("different master key")
                && message.contains("different associated data")
        );
    }

    #[test]
    fn any_tampered_byte_is_detected() {
        let key = MasterKey::generate();
        let sealed = key.seal(SECRET, AAD);
        for i in 1..sealed.len() {
            let mut tampered = sealed.clone();
            tampered[i] ^= 0x01;
            assert_eq!(
                key.open(&tampered, AAD).unwrap_err(),
                CryptoError::AuthenticationFailed,
                "byte {i}"
            );
        }
    }

    #[test]
    fn an_unknown_version_is_refused() {
        let key = MasterKey::generate();
        let mut sealed = key.seal(SECRET, AAD);
        sealed[0] = 2;
        assert_eq!(
            key.open(&sealed, AAD).unwrap_err(),
            CryptoError::UnknownVersion { version: 2 }
        );
    }

    #[test]
    fn truncated_data_is_refused() {
        let key = MasterKey::generate();
        let sealed = key.seal(SECRET, AAD);
        assert_eq!(key.open(&[], AAD).unwrap_err(), CryptoError::Truncated);
        assert_eq!(
            key.open(&sealed[..HEADER_LEN + TAG_LEN - 1], AAD)
                .unwrap_err(),
            CryptoError::Truncated
        );
        assert_eq!(
            key.open(&sealed[..sealed.len() - 1], AAD).unwrap_err(),
            CryptoError::AuthenticationFailed
        );
    }
}
