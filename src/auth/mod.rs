//! Who is asking, and may they: passwords, database sessions, CSRF tokens and the role check.
pub mod api_token;
pub mod csrf;
pub mod guard;
pub mod passkey;
pub mod password;
pub mod second_factor;
pub mod session;
pub mod throttle;

pub use session::{CurrentUser, SESSION_COOKIE};
