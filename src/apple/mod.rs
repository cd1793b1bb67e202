//! Our client of Apple's App Store Server API and the verifier of what Apple signs.
//!
//! Payloads and responses use the models of the `app-store-server-library` crate (they keep unknown enum
//! values and accept float dates); the transport, the JWT and the JWS verification are ours.

pub mod budget;
pub mod client;
pub mod connect;
pub mod error;
pub mod failure;
pub mod fields;
pub mod receipt;
pub mod token;
mod url;
pub mod verify;

use app_store_server_library::models::app_store_environment::Environment as LibEnvironment;

/// The crate's payload and response models, re-exported so callers name one path.
pub use app_store_server_library::models;
pub use budget::{CallBudget, Endpoint};
pub use client::{
    with_fallback, Answered, ApiCredentials, AppleClient, AppleClientConfig, HistoryQuery,
    DEFAULT_ANSWER_WITHIN,
};
pub use error::{silence, ApiErrorKind, AppleError};
pub use failure::ProblemKind;
pub use token::{make_token, SigningKeySource, TokenCache, TokenError};
pub use verify::{AppIdentity, SignedDataVerifier, ValidatedChain, Verified, VerifyError};

/// The production trust anchor, compiled in so that a deployment can't be pointed at a different root by
/// swapping a file: anything else must be configured explicitly (`SignedDataVerifier::with_extra_roots`).
static APPLE_ROOT_CA_G3: &[u8] = include_bytes!("roots/AppleRootCA-G3.der");

/// DER of Apple Root CA - G3.
pub fn apple_root_g3_der() -> &'static [u8] {
    APPLE_ROOT_CA_G3
}

/// Apple's two environments are the domain's; Xcode and LocalTesting data is never accepted, so they have no
/// variant. The conversions to and from the library's enum live here, so `domain` needs no Apple crate.
pub use crate::domain::Environment;

impl Environment {
    /// `None` for Xcode, LocalTesting and unknown values: none of them can be trusted as Apple's.
    pub fn from_lib(env: &LibEnvironment) -> Option<Self> {
        match env {
            LibEnvironment::Production => Some(Environment::Production),
            LibEnvironment::Sandbox => Some(Environment::Sandbox),
            _ => None,
        }
    }

    pub fn to_lib(self) -> LibEnvironment {
        match self {
            Environment::Production => LibEnvironment::Production,
            Environment::Sandbox => LibEnvironment::Sandbox,
        }
    }
}

impl From<Environment> for LibEnvironment {
    fn from(env: Environment) -> Self {
        env.to_lib()
    }
}

impl TryFrom<&LibEnvironment> for Environment {
    type Error = ();

    fn try_from(env: &LibEnvironment) -> Result<Self, ()> {
        Environment::from_lib(env).ok_or(())
    }
}

/// Apple's spelling of any environment value, including ones we refuse (for error messages).
pub(crate) fn lib_env_str(env: &LibEnvironment) -> &str {
    match env {
        LibEnvironment::Production => "Production",
        LibEnvironment::Sandbox => "Sandbox",
        LibEnvironment::Xcode => "Xcode",
        LibEnvironment::LocalTesting => "LocalTesting",
        LibEnvironment::NotSupported(s) => s.as_str(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    #[test]
    fn compiled_in_root_is_apple_root_ca_g3() {
        let digest = Sha256::digest(apple_root_g3_der());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "63343abfb89a6a03ebb57e9b3f5fa7be7c4f5c756f3017b3a8c488c3653e9179"
        );
    }

    #[test]
    fn environment_round_trips_with_the_library_enum() {
        for env in [Environment::Production, Environment::Sandbox] {
            assert_eq!(Environment::from_lib(&env.to_lib()), Some(env));
            assert_eq!(Environment::parse(env.as_str()), Ok(env));
        }
        assert_eq!(Environment::from_lib(&LibEnvironment::Xcode), None);
        assert_eq!(
            Environment::from_lib(&LibEnvironment::NotSupported("Foo".into())),
            None
        );
    }
}
