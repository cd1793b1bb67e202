//! `/admin/…`: users, the audit log and API tokens.
pub mod api_tokens;
mod audit;
pub mod users;
