//! The one check of who may use a route, run before its handler as the route table (`crate::routes::TABLE`)
//! says: a signed-in user of one of the route's roles, or anyone. The user found is left in the request for the
//! handler's [`CurrentUser`] extractor, so the session is read once per request.
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::HttpMessage;

use super::CurrentUser;
use crate::domain::Role;
use crate::error::AppError;

/// Who may use a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// No session needed: sign-in, health checks, static files, and Apple's webhook (which proves itself by
    /// Apple's signature instead).
    Anyone,
    /// A signed-in user with one of these roles; others get the 403 page naming the roles.
    SignedIn(&'static [Role]),
}

impl Access {
    /// The roles a route admits (every role for `Anyone`).
    pub fn roles(self) -> &'static [Role] {
        match self {
            Access::Anyone => Role::EVERYONE,
            Access::SignedIn(roles) => roles,
        }
    }
}

/// Middleware body: lets the request through when `access` admits it, and answers the error page otherwise
/// (sign-in for a missing session, 403 for a role the route does not admit).
pub async fn require(
    access: Access,
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if let Access::SignedIn(roles) = access {
        let user = match CurrentUser::authenticate(req.request()).await {
            Ok(user) => user,
            Err(e) => return Ok(req.error_response(e)),
        };
        if user.must_change_password && !ALLOWED_BEFORE_PASSWORD_CHANGE.contains(&req.path()) {
            return Ok(no_store(req.error_response(AppError::PasswordChangeNeeded)));
        }
        // Then, for a role that must use two-step sign-in, its set-up before anything else.
        if !ALLOWED_BEFORE_SECOND_FACTOR.contains(&req.path()) {
            match second_factor_missing(&req, &user).await {
                Ok(false) => {}
                Ok(true) => return Ok(no_store(req.error_response(AppError::SecondFactorNeeded))),
                Err(e) => return Ok(no_store(req.error_response(e))),
            }
        }
        if let Err(e) = user.require(roles) {
            return Ok(no_store(req.error_response(e)));
        }
        req.extensions_mut().insert(user);
        return Ok(no_store(next.call(req).await?.map_into_boxed_body()));
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

/// What a user who must replace an issued password may open: the page that replaces it, and sign-out.
const ALLOWED_BEFORE_PASSWORD_CHANGE: [&str; 2] = ["/account", "/logout"];

/// What a user whose role must use two-step sign-in may open before setting it up: the account page, the set-up
/// itself, and sign-out.
const ALLOWED_BEFORE_SECOND_FACTOR: [&str; 6] = [
    "/account",
    "/account/second-factor",
    "/account/second-factor/confirm",
    "/account/passkeys/options",
    "/account/passkeys",
    "/logout",
];

/// Whether `STOREDESK_REQUIRE_MFA` names the user's role and they have no second factor (asked of the database
/// only for such a role).
async fn second_factor_missing(req: &ServiceRequest, user: &CurrentUser) -> Result<bool, AppError> {
    let Some(state) = req.app_data::<actix_web::web::Data<crate::state::AppState>>() else {
        return Err(AppError::Unexpected(anyhow::anyhow!(
            "application state missing"
        )));
    };
    if !state.settings.require_mfa.contains(&user.role) {
        return Ok(false);
    }
    Ok(!state.store.has_second_factor(user.id).await?)
}

/// Every answer behind sign-in is kept out of caches (the browser's back button, a shared proxy): pages show
/// one-time passwords, the secret notification URL and customers' purchases.
fn no_store(mut response: ServiceResponse<BoxBody>) -> ServiceResponse<BoxBody> {
    response.headers_mut().insert(
        actix_web::http::header::CACHE_CONTROL,
        actix_web::http::header::HeaderValue::from_static("no-store"),
    );
    response
}
