//! The signed-in user of a request, read from the session cookie and checked against the database.
use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use sha2::{Digest, Sha256};

use crate::domain::Role;
use crate::error::AppError;
use crate::state::AppState;
use crate::store::Actor;

pub const SESSION_COOKIE: &str = "storedesk_session";
/// Under https the session cookie takes the `__Host-` prefix: browsers then accept it only when Secure, for the
/// whole host (Path=/, no Domain), so neither a sibling subdomain nor a plain-http page can set or shadow it.
pub const SECURE_SESSION_COOKIE: &str = "__Host-storedesk_session";

/// The session cookie's name for a console served over https (`secure`) or plain http.
pub fn session_cookie_name(secure: bool) -> &'static str {
    if secure {
        SECURE_SESSION_COOKIE
    } else {
        SESSION_COOKIE
    }
}

/// Only this hash of a session token is stored; the token itself lives only in the browser.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub fn new_session_token() -> String {
    use base64::Engine;
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub fn session_cookie(token: String, secure: bool) -> Cookie<'static> {
    Cookie::build(session_cookie_name(secure), token)
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .finish()
}

pub fn removal_cookie(name: &'static str, secure: bool) -> Cookie<'static> {
    Cookie::build(name, "")
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .max_age(CookieDuration::ZERO)
        .finish()
}

/// Middleware for a console served over https: every cookie it sets is `Secure` (the flash message and the
/// sign-in form's token too), whichever handler set it.
pub async fn secure_cookies(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    use actix_web::http::header::{HeaderValue, SET_COOKIE};
    let mut response = next.call(req).await?;
    let headers = response.headers_mut();
    let marked: Vec<HeaderValue> = headers
        .get_all(SET_COOKIE)
        .filter_map(|v| {
            let text = v.to_str().ok()?;
            let already = text
                .split(';')
                .any(|part| part.trim().eq_ignore_ascii_case("secure"));
            if already {
                Some(v.clone())
            } else {
                HeaderValue::from_str(&format!("{text}; Secure")).ok()
            }
        })
        .collect();
    if !marked.is_empty() {
        headers.remove(SET_COOKIE);
        for v in marked {
            headers.append(SET_COOKIE, v);
        }
    }
    Ok(response)
}

/// The client's address: the peer, or whom a trusted proxy says it forwards (`crate::client_address`).
pub fn client_ip(req: &HttpRequest) -> String {
    let trusted = req
        .app_data::<actix_web::web::Data<AppState>>()
        .map(|s| &s.settings.trusted_proxies);
    let none = crate::client_address::TrustedProxies::default();
    crate::client_address::of_request(req.peer_addr(), req.headers(), trusted.unwrap_or(&none))
}

#[derive(Clone, Debug)]
pub struct CurrentUser {
    pub id: i64,
    pub email: String,
    pub role: Role,
    pub session_id: i64,
    pub csrf_token: String,
    pub ip: String,
    /// Signed in with a password an admin issued: only `/account` (and sign-out) until they choose their own.
    pub must_change_password: bool,
}

impl CurrentUser {
    pub fn actor(&self) -> Actor {
        Actor {
            user_id: Some(self.id),
            email: self.email.clone(),
            ip: self.ip.clone(),
        }
    }

    /// Refuses with a 403 page naming the roles that may do this.
    pub fn require(&self, allowed: &[Role]) -> Result<(), AppError> {
        if allowed.contains(&self.role) {
            Ok(())
        } else {
            Err(AppError::Forbidden {
                needed: allowed
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(" or "),
            })
        }
    }

    pub fn is(&self, roles: &[Role]) -> bool {
        roles.contains(&self.role)
    }
}

/// Where sign-in leads back to. A page (GET) is opened again; a form sent after the session ended has only a POST
/// route, so following it with a GET would land on "nothing at this address": the page that held the form (the
/// Referer, when it is this console) is opened instead, or the projects list when there is none.
fn return_to(req: &HttpRequest, public_origin: &str) -> String {
    use actix_web::http::Method;
    if req.method() == Method::GET || req.method() == Method::HEAD {
        return req
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_default();
    }
    let info = req.connection_info();
    let this_host = format!("{}://{}", info.scheme(), info.host()).to_ascii_lowercase();
    req.headers()
        .get(actix_web::http::header::REFERER)
        .and_then(|r| r.to_str().ok())
        .filter(|r| {
            crate::config::origin_of(r).is_some_and(|o| o == public_origin || o == this_host)
        })
        .and_then(|r| r.parse::<actix_web::http::Uri>().ok())
        .and_then(|r| r.path_and_query().map(|p| p.as_str().to_owned()))
        .unwrap_or_default()
}

impl CurrentUser {
    /// The user of the request's session, checked against the database: the session must exist, be neither idle
    /// nor too old, and belong to an enabled user.
    pub async fn authenticate(req: &HttpRequest) -> Result<CurrentUser, AppError> {
        let state = req
            .app_data::<web::Data<AppState>>()
            .cloned()
            .ok_or_else(|| AppError::Unexpected(anyhow::anyhow!("application state missing")))?;
        let next = return_to(req, &state.settings.public_origin());
        let Some(cookie) = req.cookie(session_cookie_name(state.settings.secure_cookies())) else {
            return Err(AppError::Unauthenticated { next });
        };
        let now = crate::clock::now_ms();
        let session = state
            .store
            .session_by_token_hash(&token_hash(cookie.value()))
            .await
            .map_err(|e| AppError::Unexpected(e.into()))?;
        let Some((session, user)) = session else {
            return Err(AppError::Unauthenticated { next });
        };
        let idle = state.settings.session_idle.as_millis() as i64;
        let absolute = state.settings.session_absolute.as_millis() as i64;
        if now - session.last_seen_at > idle || now - session.created_at > absolute {
            state
                .store
                .delete_session(session.id)
                .await
                .map_err(|e| AppError::Unexpected(e.into()))?;
            return Err(AppError::Unauthenticated { next });
        }
        if user.disabled {
            return Err(AppError::Unauthenticated { next });
        }
        // Writing last_seen on every request would make each page view a database write; a minute is precise enough.
        if now - session.last_seen_at > 60_000 {
            state
                .store
                .touch_session(session.id, now)
                .await
                .map_err(|e| AppError::Unexpected(e.into()))?;
        }
        Ok(CurrentUser {
            id: user.id,
            email: user.email,
            role: user.role,
            session_id: session.id,
            csrf_token: session.csrf_token,
            ip: client_ip(req),
            must_change_password: user.must_change_password,
        })
    }
}

impl FromRequest for CurrentUser {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut actix_web::dev::Payload) -> Self::Future {
        // The route's guard has usually read the session already (`crate::auth::guard`).
        let known = req.extensions().get::<CurrentUser>().cloned();
        let req = req.clone();
        Box::pin(async move {
            match known {
                Some(user) => Ok(user),
                None => CurrentUser::authenticate(&req).await,
            }
        })
    }
}
