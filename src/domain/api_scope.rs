//! What an API token may do. `sign` includes everything `read` may do, so a backend that signs offers can also
//! look purchases up with the same token.
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ApiScope {
    Read,
    Sign,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "Choose a scope: read (look-ups only) or sign (look-ups and promotional offer signatures)."
)]
pub struct ApiScopeError;

impl ApiScope {
    pub const ALL: [ApiScope; 2] = [ApiScope::Read, ApiScope::Sign];

    pub fn parse(input: &str) -> Result<Self, ApiScopeError> {
        let s = input.trim();
        Self::ALL
            .into_iter()
            .find(|scope| scope.as_str().eq_ignore_ascii_case(s))
            .ok_or(ApiScopeError)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ApiScope::Read => "read",
            ApiScope::Sign => "sign",
        }
    }

    /// Whether a token with this scope may call an endpoint that needs `needed`.
    pub fn allows(self, needed: ApiScope) -> bool {
        match needed {
            ApiScope::Read => true,
            ApiScope::Sign => self == ApiScope::Sign,
        }
    }
}

impl fmt::Display for ApiScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn scopes_round_trip_and_unknown_ones_are_refused() {
        for scope in ApiScope::ALL {
            assert_eq!(ApiScope::parse(scope.as_str()), Ok(scope));
        }
        assert_eq!(ApiScope::parse(" Sign "), Ok(ApiScope::Sign));
        assert_eq!(ApiScope::parse("write"), Err(ApiScopeError));
        assert_eq!(ApiScope::parse(""), Err(ApiScopeError));
    }

    #[test]
    fn sign_includes_read_but_read_cannot_sign() {
        assert!(ApiScope::Sign.allows(ApiScope::Read));
        assert!(ApiScope::Sign.allows(ApiScope::Sign));
        assert!(ApiScope::Read.allows(ApiScope::Read));
        assert!(!ApiScope::Read.allows(ApiScope::Sign));
    }
}
