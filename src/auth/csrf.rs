//! CSRF defence in two layers: the Origin/Referer of every state-changing form must be ours, and the form must
//! carry the session's token (or, before sign-in, the token of the login cookie).
use actix_web::HttpRequest;
use subtle::ConstantTimeEq;

use crate::config::origin_of;

pub const LOGIN_CSRF_COOKIE: &str = "storedesk_login_csrf";

pub fn new_token() -> String {
    use base64::Engine;
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub fn tokens_match(expected: &str, given: &str) -> bool {
    !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
}

/// A browser sends Origin on every form POST; when it names another site the request is forged.
/// Requests without Origin or Referer (scripts, old clients) still need the token, so they are let through here.
pub fn origin_allowed(req: &HttpRequest, public_origin: &str) -> bool {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let claimed = match header("origin") {
        Some(o) if o != "null" => Some(o.to_ascii_lowercase()),
        Some(_) => return false,
        None => header("referer").and_then(|r| origin_of(&r)),
    };
    let Some(claimed) = claimed else { return true };
    if claimed == public_origin {
        return true;
    }
    // The host the browser actually talked to also counts, so a console reached by another name still works.
    let host = req.connection_info().host().to_ascii_lowercase();
    let scheme = req.connection_info().scheme().to_ascii_lowercase();
    claimed == format!("{scheme}://{host}")
}
