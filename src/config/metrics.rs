//! Who may read `/metrics` (`STOREDESK_METRICS_TOKEN`, `STOREDESK_METRICS_BIND`). Counters name projects, outcomes
//! and error rates, so they are not public: they are served on the console's address only to a bearer of the token,
//! or on an address of their own that only the monitoring reaches, and otherwise not at all.
use std::net::SocketAddr;

use secrecy::{ExposeSecret as _, SecretString};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use super::ConfigError;

/// A token shorter than this is refused: it stands between the internet and the counters.
pub const MIN_TOKEN_CHARS: usize = 32;

#[derive(Clone, Default)]
pub struct MetricsSettings {
    /// Only SHA-256 of the token is kept, so the settings (and a debug print of them) never hold it.
    token_sha256: Option<[u8; 32]>,
    /// A listener serving only `/metrics`, with no token (`STOREDESK_METRICS_BIND`).
    pub bind: Option<SocketAddr>,
}

impl std::fmt::Debug for MetricsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsSettings")
            .field("token", &self.token_sha256.map(|_| "[set]"))
            .field("bind", &self.bind)
            .finish()
    }
}

impl MetricsSettings {
    pub fn new(token: Option<&SecretString>, bind: Option<&str>) -> Result<Self, ConfigError> {
        let token_sha256 = match token {
            None => None,
            Some(t) => {
                let t = t.expose_secret().trim();
                if t.chars().count() < MIN_TOKEN_CHARS || t.chars().any(|c| !c.is_ascii_graphic()) {
                    return Err(ConfigError::new(
                        "STOREDESK_METRICS_TOKEN",
                        format!("a random string of at least {MIN_TOKEN_CHARS} characters without spaces, such as one `openssl rand -hex 32` prints"),
                    ));
                }
                Some(Sha256::digest(t.as_bytes()).into())
            }
        };
        let bind = match bind.map(str::trim).filter(|b| !b.is_empty()) {
            None => None,
            Some(raw) => Some(raw.parse::<SocketAddr>().map_err(|_| {
                ConfigError::new(
                    "STOREDESK_METRICS_BIND",
                    "an address and port to serve /metrics on, such as 127.0.0.1:9464",
                )
            })?),
        };
        Ok(Self { token_sha256, bind })
    }

    /// Whether the console's own address serves `/metrics` (to a bearer of the token).
    pub fn token_set(&self) -> bool {
        self.token_sha256.is_some()
    }

    /// Whether `presented` is the token; hashes are compared in constant time, so timing tells nothing of it.
    pub fn admits(&self, presented: &str) -> bool {
        self.token_sha256.is_some_and(|expected| {
            let got: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
            bool::from(got.ct_eq(&expected))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(t: &str) -> SecretString {
        SecretString::from(t.to_string())
    }

    #[test]
    fn a_token_admits_only_itself() {
        let t = "0123456789abcdef0123456789abcdef";
        let m = MetricsSettings::new(Some(&token(t)), None).unwrap();
        assert!(m.token_set());
        assert!(m.admits(t));
        assert!(!m.admits("0123456789abcdef0123456789abcdeF"));
        assert!(!m.admits(""));
        assert!(!format!("{m:?}").contains(t));
    }

    #[test]
    fn no_token_admits_nobody() {
        let m = MetricsSettings::default();
        assert!(!m.token_set());
        assert!(!m.admits(""));
    }

    #[test]
    fn short_or_spaced_tokens_and_bad_binds_are_refused_with_the_variable() {
        for bad in ["short", "0123456789abcdef 0123456789abcdef0"] {
            let e = MetricsSettings::new(Some(&token(bad)), None).unwrap_err();
            assert!(e.to_string().contains("STOREDESK_METRICS_TOKEN"), "{e}");
            assert!(!e.to_string().contains(bad), "{e}");
        }
        let e = MetricsSettings::new(None, Some("localhost")).unwrap_err();
        assert!(e.to_string().contains("STOREDESK_METRICS_BIND"), "{e}");
        let m = MetricsSettings::new(None, Some("127.0.0.1:0")).unwrap();
        assert_eq!(m.bind, Some("127.0.0.1:0".parse().unwrap()));
    }
}
