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

/// The token of an `Authorization: Bearer <token>` header (the scheme in any case, RFC 7235), or None when the
/// header is absent, not text, or another scheme. The JSON API and `/metrics` read their tokens through it.
pub fn bearer_token(req: &actix_web::HttpRequest) -> Option<&str> {
    let value = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, rest) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
}
