//! argon2id with explicit parameters, run off the async workers because hashing is deliberately slow.
use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::{Algorithm, Argon2, Params, Version};
use secrecy::{ExposeSecret, SecretString};

/// A real hash of a random password: verifying against it costs the same as for a real user,
/// so the answer time does not tell whether an e-mail address has an account.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c3RvcmVkZXNrZHVtbXlzYWx0$0Gr5Wc0nVOCbA6C9aA1Y0nYqT0sOc0mAIlLq3xq8mGo";

fn hasher() -> anyhow::Result<Argon2<'static>> {
    let params =
        Params::new(19_456, 2, 1, None).map_err(|e| anyhow::anyhow!("argon2 parameters: {e}"))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

pub async fn hash_password(password: SecretString) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        hasher()?
            .hash_password(password.expose_secret().as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("could not hash the password: {e}"))
    })
    .await?
}

/// True when `password` matches `hash`; with no hash (unknown user) it still does the work and answers false.
pub async fn verify_password(password: SecretString, hash: Option<String>) -> anyhow::Result<bool> {
    tokio::task::spawn_blocking(move || {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| DUMMY_HASH.to_string());
        let parsed = PasswordHash::new(&hash)
            .map_err(|e| anyhow::anyhow!("stored password hash is malformed: {e}"))?;
        let ok = hasher()?
            .verify_password(password.expose_secret().as_bytes(), &parsed)
            .is_ok();
        Ok(ok && known)
    })
    .await?
}

/// A password people can type from a printout: 20 characters, no look-alikes.
pub fn generate_password() -> SecretString {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    let s: String = (0..20)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect();
    SecretString::from(s)
}

pub const MIN_PASSWORD_LEN: usize = 12;

/// The sentence shown next to a new-password field, or None when the password is acceptable.
pub fn password_problem(password: &str, email: &str) -> Option<&'static str> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        Some("Use at least 12 characters.")
    } else if password.chars().count() > 256 {
        Some("Use at most 256 characters.")
    } else if password.eq_ignore_ascii_case(email) {
        Some("Do not use your e-mail address as your password.")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let hash = hash_password(SecretString::from("correct horse battery"))
            .await
            .unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_password(
            SecretString::from("correct horse battery"),
            Some(hash.clone())
        )
        .await
        .unwrap());
        assert!(!verify_password(SecretString::from("wrong"), Some(hash))
            .await
            .unwrap());
        assert!(!verify_password(SecretString::from("anything"), None)
            .await
            .unwrap());
    }

    #[test]
    fn the_dummy_hash_parses() {
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    }
}
