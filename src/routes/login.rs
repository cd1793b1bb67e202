//! Sign-in and sign-out. The answer never tells whether an e-mail address has an account.
use actix_web::cookie::{Cookie, SameSite};
use actix_web::{http::StatusCode, web, HttpRequest, HttpResponse};
use askama::Template;
use secrecy::SecretString;
use serde::Deserialize;

use super::{redirect, render, Layout};
use crate::auth::csrf::{self, CsrfForm, NoFields, LOGIN_CSRF_COOKIE};
use crate::auth::session::{self, client_ip, CurrentUser, SESSION_COOKIE};
use crate::auth::{password, throttle};
use crate::error::AppError;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub layout: Layout,
    pub email: String,
    pub next: String,
    pub error: Option<String>,
    pub login_csrf: String,
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// Only same-site paths are followed after sign-in, never another origin; a control character (which no
/// Location header may hold) sends the user to the projects list instead.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.starts_with("/\\")
                && !n.starts_with("/login")
                && !n.chars().any(char::is_control) =>
        {
            n.to_string()
        }
        _ => crate::urls::projects(),
    }
}

fn login_csrf_cookie(token: &str, secure: bool) -> Cookie<'static> {
    Cookie::build(LOGIN_CSRF_COOKIE, token.to_string())
        .path("/login")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Strict)
        .finish()
}

fn login_page(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    email: &str,
    next: &str,
    error: Option<String>,
) -> Result<HttpResponse, AppError> {
    let token = csrf::new_token();
    let page = LoginPage {
        layout: Layout::anonymous("Sign in", req),
        email: email.to_string(),
        next: next.to_string(),
        error,
        login_csrf: token.clone(),
    };
    let mut response = render(req, status, &page)?;
    response
        .add_cookie(&login_csrf_cookie(&token, state.settings.secure_cookies()))
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!("cookie: {e}")))?;
    Ok(response)
}

pub async fn form(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<NextQuery>,
) -> Result<HttpResponse, AppError> {
    login_page(
        &req,
        &state,
        StatusCode::OK,
        "",
        &safe_next(query.next.as_deref()),
        None,
    )
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    password: SecretString,
    #[serde(default)]
    next: String,
}

pub const WRONG_CREDENTIALS: &str = "The e-mail address or password is not right.";

pub async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: CsrfForm<LoginForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let next = safe_next(Some(&form.next));
    let email = form.email.trim().to_ascii_lowercase();
    // No account's address holds a control character; such an address is answered like any wrong one, before it
    // reaches the database (PostgreSQL refuses a NUL).
    if email.chars().any(char::is_control) {
        return login_page(
            &req,
            &state,
            StatusCode::UNPROCESSABLE_ENTITY,
            "",
            &next,
            Some(WRONG_CREDENTIALS.to_string()),
        );
    }
    let ip = client_ip(&req);
    let now = crate::clock::now_ms();

    let subjects = [
        throttle::account_subject(&email, &ip),
        throttle::address_subject(&ip),
    ];
    let attempt = state.store.record_login_attempt(&subjects, now).await?;
    if let Some(until) = throttle::locked_until(&state.store, &email, &ip, now).await? {
        // A refused attempt checked nothing, so it does not count towards the lock.
        state.store.forget_login_attempt(&attempt).await?;
        let minutes = ((until - now) / 60_000 + 1).max(1);
        let message = format!(
            "Too many failed sign-in attempts. Sign-in is paused for {minutes} minute{}; try again then, or ask an admin to reset your password.",
            if minutes == 1 { "" } else { "s" }
        );
        return login_page(
            &req,
            &state,
            StatusCode::TOO_MANY_REQUESTS,
            &email,
            &next,
            Some(message),
        );
    }

    let user = state.store.user_by_email(&email).await?;
    let hash = user
        .as_ref()
        .filter(|u| !u.disabled)
        .map(|u| u.password_hash.clone());
    let ok = password::verify_password(form.password, hash).await?;
    let Some(user) = user.filter(|_| ok) else {
        // The attempt was counted as failed before the check.
        state.metrics.inc("storedesk_login_failures_total", "");
        tracing::info!(ip = %ip, "sign-in failed");
        return login_page(
            &req,
            &state,
            StatusCode::UNPROCESSABLE_ENTITY,
            &email,
            &next,
            Some(WRONG_CREDENTIALS.to_string()),
        );
    };

    state.store.forget_login_attempt(&attempt).await?;
    state
        .store
        .clear_login_failures(&throttle::account_subject(&email, &ip))
        .await?;
    let token = session::new_session_token();
    let user_agent = req
        .headers()
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    state
        .store
        .create_session(
            &session::token_hash(&token),
            user.id,
            &csrf::new_token(),
            &ip,
            user_agent,
        )
        .await?;
    tracing::info!(user_id = user.id, "signed in");
    let secure = state.settings.secure_cookies();
    let mut response = redirect(&next);
    response
        .add_cookie(&session::session_cookie(token, secure))
        .and_then(|_| response.add_removal_cookie(&login_csrf_cookie("", secure)))
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!("cookie: {e}")))?;
    Ok(response)
}

pub async fn logout(
    state: web::Data<AppState>,
    user: CurrentUser,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    state.store.delete_session(user.session_id).await?;
    let mut response =
        super::redirect_with_flash(&crate::urls::login(""), "ok", "You are signed out.");
    response
        .add_cookie(&session::removal_cookie(
            SESSION_COOKIE,
            state.settings.secure_cookies(),
        ))
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!("cookie: {e}")))?;
    Ok(response)
}
