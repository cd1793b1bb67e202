//! Value types with rules: parse, never validate twice.
mod api_scope;
mod app_apple_id;
mod bundle_id;
pub mod catalog;
pub mod connect_key;
mod country;
mod der_lengths;
mod email;
mod environment;
mod issuer_id;
mod key_health;
mod key_id;
mod key_status;
mod private_key;
mod role;
pub mod shapes;
mod slug;
mod transaction_id;

pub use api_scope::{ApiScope, ApiScopeError};
pub use app_apple_id::{AppAppleId, AppAppleIdError, APP_APPLE_ID_MAX_DIGITS};
pub use bundle_id::{BundleId, BundleIdError, BUNDLE_ID_MAX_LEN};
pub use country::is_storefront_country_code;
pub use der_lengths::der_lengths_fit;
pub use email::{Email, EmailError, EMAIL_MAX_LEN};
pub use environment::{Environment, EnvironmentError};
pub use issuer_id::{IssuerId, IssuerIdError};
pub use key_health::{KeyFacts, KeyHealth, Verdict, FAILING_AFTER_401S};
pub use key_id::{KeyId, KeyIdError, KEY_ID_LEN};
pub use key_status::KeyStatus;
pub use private_key::{
    check_file_name, parse_upload, ApplePrivateKey, PrivateKeyError, MAX_P8_BYTES,
};
pub use role::{Role, RoleError};
pub use slug::{Slug, SlugError, SLUG_MAX_LEN, SLUG_MIN_LEN};
pub use transaction_id::{TransactionId, TransactionIdError, TRANSACTION_ID_MAX_DIGITS};
