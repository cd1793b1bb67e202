//! The API token itself: `sd_<12 hex digits>_<43 characters>`. The first part (`sd_` and the hex digits) is the
//! public prefix that names the token in lists and finds its row; the rest is 32 random bytes (base64url).
//! Only the SHA-256 of the whole token is stored.
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore as _;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::domain::ApiScope;
use crate::store::api_tokens::{ApiTokenRow, NewApiToken};
use crate::store::{Actor, Store, StoreError};

pub const TOKEN_PREFIX: &str = "sd_";
const PREFIX_HEX_LEN: usize = 12;
const SECRET_BYTES: usize = 32;
/// base64url without padding of 32 bytes.
const SECRET_LEN: usize = 43;
pub const NAME_MAX_LEN: usize = 80;

/// A token's two parts, as read from an `Authorization` header.
#[derive(Debug, PartialEq, Eq)]
pub struct ParsedToken<'a> {
    /// `sd_` and the 12 hex digits: public.
    pub prefix: &'a str,
    pub whole: &'a str,
}

/// Splits a presented token, or None when it cannot be one of ours (so no database lookup is needed).
pub fn parse(token: &str) -> Option<ParsedToken<'_>> {
    let rest = token.strip_prefix(TOKEN_PREFIX)?;
    let (hex, secret) = rest.split_at_checked(PREFIX_HEX_LEN)?;
    let secret = secret.strip_prefix('_')?;
    let hex_ok = hex
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    let secret_ok = secret.len() == SECRET_LEN
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    (hex_ok && secret_ok).then(|| ParsedToken {
        prefix: &token[..TOKEN_PREFIX.len() + PREFIX_HEX_LEN],
        whole: token,
    })
}

/// Hex SHA-256 of the whole token: what the database holds.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Compares a presented token with a stored hash in constant time (the lengths are fixed and public).
pub fn matches(token: &str, stored_hash: &str) -> bool {
    hash(token).as_bytes().ct_eq(stored_hash.as_bytes()).into()
}

/// A fresh token from the operating system's random source: (public prefix, whole token).
pub fn generate() -> (String, SecretString) {
    let mut prefix_bytes = [0u8; PREFIX_HEX_LEN / 2];
    let mut secret = [0u8; SECRET_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut prefix_bytes);
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let prefix = format!("{TOKEN_PREFIX}{}", hex::encode(prefix_bytes));
    let whole = format!("{prefix}_{}", URL_SAFE_NO_PAD.encode(secret));
    (prefix, SecretString::from(whole))
}

/// A token's name: what it is for, so an admin knows what breaks when revoking it.
pub fn parse_name(input: &str) -> Result<String, &'static str> {
    let name = input.trim();
    if name.is_empty() {
        return Err("Give the token a name that says who uses it, such as “billing backend”.");
    }
    if name.chars().count() > NAME_MAX_LEN {
        return Err("Keep the name to 80 characters or fewer.");
    }
    if name.chars().any(char::is_control) {
        return Err("The name cannot contain line breaks or other control characters.");
    }
    Ok(name.to_string())
}

/// A token just made: the row, and the token itself, which exists nowhere else and is shown once.
pub struct IssuedToken {
    pub row: ApiTokenRow,
    pub token: SecretString,
}

/// Makes a token for the project, stores its hash and audits `api_token.create` (one transaction).
pub async fn issue(
    store: &Store,
    project_id: i64,
    name: &str,
    scope: ApiScope,
    actor: &Actor,
) -> Result<IssuedToken, StoreError> {
    // 48 random bits make a prefix collision unlikely; the unique index makes it harmless: try again.
    let mut attempts = 0;
    loop {
        let (prefix, token) = generate();
        let hash = hash(token.expose_secret());
        let new = NewApiToken {
            project_id,
            name,
            scope,
            prefix: &prefix,
            token_hash: &hash,
            created_by: &actor.email,
        };
        match store.create_api_token(&new, actor).await {
            Ok(row) => return Ok(IssuedToken { row, token }),
            Err(StoreError::Conflict(_)) if attempts < 3 => attempts += 1,
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn a_generated_token_parses_and_matches_only_its_own_hash() {
        let (prefix, token) = generate();
        let token = token.expose_secret();
        assert_eq!(token.len(), 3 + 12 + 1 + 43);
        let parsed = parse(token).unwrap();
        assert_eq!(parsed.prefix, prefix);
        let stored = hash(token);
        assert!(matches(token, &stored));
        let (_, other) = generate();
        assert!(!matches(other.expose_secret(), &stored));
        assert_ne!(generate().0, prefix, "prefixes are random");
    }

    #[test]
    fn malformed_tokens_are_refused_before_any_lookup() {
        let (_, token) = generate();
        let token = token.expose_secret().to_string();
        assert!(parse(&token[..token.len() - 1]).is_none(), "too short");
        assert!(parse(&format!("{token}x")).is_none(), "too long");
        assert!(parse(&token.replacen("sd_", "xx_", 1)).is_none());
        assert!(parse(&token.to_uppercase()).is_none());
        assert!(parse("").is_none());
        assert!(parse("sd_").is_none());
        assert!(parse("sd_é").is_none(), "multi-byte input never panics");
        let mut spaced = token.clone();
        spaced.replace_range(20..21, " ");
        assert!(parse(&spaced).is_none());
    }

    #[test]
    fn names_are_trimmed_and_checked() {
        assert_eq!(parse_name("  backend ").unwrap(), "backend");
        assert_eq!(
            parse_name(" ").unwrap_err(),
            "Give the token a name that says who uses it, such as “billing backend”."
        );
        assert_eq!(
            parse_name(&"x".repeat(81)).unwrap_err(),
            "Keep the name to 80 characters or fewer."
        );
        assert!(parse_name(&"é".repeat(80)).is_ok());
        assert!(parse_name("a\nb").is_err());
    }
}
