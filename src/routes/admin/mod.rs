//! Admin areas: users, the audit log and API tokens (admins only).

pub mod api_tokens;
pub mod audit;
pub mod users;
