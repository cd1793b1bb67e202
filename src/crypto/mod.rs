//! Encryption at rest under the master key.
mod keyring;
mod master_key;
mod seal;

pub use keyring::{Keyring, ResealError};
pub use master_key::{MasterKey, MasterKeyError, MASTER_KEY_LEN};
pub use seal::{CryptoError, SEALED_VERSION};
