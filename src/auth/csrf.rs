//! CSRF defence in two layers: the Origin/Referer of every state-changing form must be ours, and the form must
//! carry the session's token (or, before sign-in, the token of the login cookie).
use actix_web::dev::Payload;
use actix_web::error::UrlencodedError;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

use super::CurrentUser;
use crate::config::origin_of;
use crate::error::{form_error, AppError};

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

/// The token a form of this request must carry: the session's, or before sign-in the login cookie's.
fn expected_token(req: &HttpRequest) -> String {
    if let Some(user) = req.extensions().get::<CurrentUser>() {
        return user.csrf_token.clone();
    }
    req.cookie(LOGIN_CSRF_COOKIE)
        .map(|c| c.value().to_string())
        .unwrap_or_default()
}

/// The one check of a form's token. Every state-changing form reaches it through an extractor ([`CsrfForm`], or the
/// key upload's), so a handler never runs on a forged form.
pub fn verify(req: &HttpRequest, given: &str) -> Result<(), AppError> {
    if tokens_match(&expected_token(req), given) {
        Ok(())
    } else {
        Err(AppError::CsrfRejected)
    }
}

/// A form with no fields but its token (a button that changes something).
#[derive(serde::Deserialize)]
pub struct NoFields {}

/// A web form whose `csrf_token` field was checked before anything else was read from it. The token is checked
/// before the form's own fields are parsed, so a forged form gets "form expired", never a sentence about its fields.
pub struct CsrfForm<T>(pub T);

impl<T> CsrfForm<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for CsrfForm<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for CsrfForm<T> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        // Read as name/value pairs with the app's form limits and error pages, as `web::Form` reads any form.
        let pairs = web::Form::<Vec<(String, String)>>::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move {
            let web::Form(mut pairs) = pairs.await?;
            let given = pairs
                .iter()
                .find(|(name, _)| name == "csrf_token")
                .map(|(_, value)| value.as_str())
                .unwrap_or_default();
            let checked = verify(&req, given);
            // Re-encoded to parse the fields exactly as `web::Form` would (numbers, options, defaults).
            let encoded = serde_urlencoded::to_string(&pairs).map(Zeroizing::new);
            for (_, value) in pairs.iter_mut() {
                value.zeroize();
            }
            checked?;
            let encoded = encoded.map_err(|e| {
                AppError::Unexpected(anyhow::anyhow!("could not re-encode a form: {e}"))
            })?;
            serde_urlencoded::from_str::<T>(&encoded)
                .map(CsrfForm)
                .map_err(|e| form_error(&UrlencodedError::Parse(e)).into())
        })
    }
}
