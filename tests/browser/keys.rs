//! `.p8` files made in the test, as a user would have them on disk to choose in the file input.
use std::path::{Path, PathBuf};

use p256::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use rand::Rng;
use sha2::{Digest, Sha256};

/// A fresh In-App Purchase–shaped key: P-256, PKCS#8 PEM.
pub struct P8 {
    pub pem: String,
    /// `aa:bb:…`, the SHA-256 of the public key's SubjectPublicKeyInfo, as the pages show it.
    pub fingerprint: String,
}

pub fn p256_key() -> P8 {
    let secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
    let pem = secret.to_pkcs8_pem(LineEnding::LF).unwrap().to_string();
    P8 {
        fingerprint: fingerprint_of_pem(&pem),
        pem,
    }
}

/// A key on the wrong curve, which the form must refuse.
pub fn p384_pem() -> String {
    p384::SecretKey::random(&mut rand::rngs::OsRng)
        .to_pkcs8_pem(LineEnding::LF)
        .unwrap()
        .to_string()
}

pub fn fingerprint_of_pem(pem: &str) -> String {
    use p256::pkcs8::DecodePrivateKey;
    let secret = p256::SecretKey::from_pkcs8_pem(pem).unwrap();
    let der = secret.public_key().to_public_key_der().unwrap();
    Sha256::digest(der.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// A Key ID in Apple's shape: 10 characters of A-Z and 0-9.
pub fn random_key_id() -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::thread_rng();
    (0..10)
        .map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char)
        .collect()
}

/// Writes `contents` as `dir/name` and returns the absolute path for the file input.
pub fn write_file(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}
