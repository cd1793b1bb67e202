//! Sign-in and sign-out. The answer never tells whether an e-mail address has an account.
use actix_web::cookie::{Cookie, SameSite};
use actix_web::{http::StatusCode, web, HttpRequest, HttpResponse};
use askama::Template;
use secrecy::SecretString;
use serde::Deserialize;

use super::{redirect, render, Layout};
use crate::auth::csrf::{self, CsrfForm, NoFields, LOGIN_CSRF_COOKIE};
use crate::auth::session::{self, client_ip, CurrentUser};
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

/// Who tried to sign in, as the audit log records it: the address typed (cut to a sane length) and the client.
fn attempt_actor(email: &str, ip: &str) -> crate::store::Actor {
    crate::store::Actor {
        user_id: None,
        email: email.chars().take(254).collect(),
        ip: ip.to_owned(),
    }
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
        state
            .store
            .audit(
                &attempt_actor(&email, &ip),
                "auth.sign_in_locked",
                None,
                &email,
                "refused: too many failed attempts from this address",
            )
            .await?;
        let minutes = ((until - now) / 60_000 + 1).max(1);
        let message = format!(
            "Too many failed sign-in attempts. Sign-in is paused for {minutes} minute{}; try again then, or ask an admin to unlock your account.",
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
    let ok = match password::verify_password(form.password, hash).await {
        Ok(ok) => ok,
        Err(e) => {
            // Nothing was checked (too busy, or the check failed): the attempt is not a failure of this user's.
            state.store.forget_login_attempt(&attempt).await?;
            return Err(e.into());
        }
    };
    let Some(user) = user.filter(|_| ok) else {
        // The attempt was counted as failed before the check.
        state.metrics.inc("storedesk_login_failures_total", "");
        tracing::info!(ip = %ip, "sign-in failed");
        state
            .store
            .audit(
                &attempt_actor(&email, &ip),
                "auth.sign_in_failed",
                None,
                &email,
                "wrong e-mail address or password",
            )
            .await?;
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
    // A session this browser still held (another user's, or its own from before) ends with the new one, so a
    // token planted in the browser before sign-in is worth nothing afterwards.
    if let Some(old) = req.cookie(session::session_cookie_name(
        state.settings.secure_cookies(),
    )) {
        state
            .store
            .delete_session_by_token_hash(&session::token_hash(old.value()))
            .await?;
    }
    tracing::info!(user_id = user.id, "signed in");
    state
        .store
        .audit(
            &crate::store::Actor {
                user_id: Some(user.id),
                email: user.email.clone(),
                ip: ip.clone(),
            },
            "auth.sign_in",
            None,
            &user.email,
            if user.must_change_password {
                "signed in with an issued password; must choose their own"
            } else {
                "signed in"
            },
        )
        .await?;
    let secure = state.settings.secure_cookies();
    // An issued password leads to the page that replaces it, whatever was asked for.
    let mut response = if user.must_change_password {
        redirect(&crate::urls::account())
    } else {
        redirect(&next)
    };
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
            session::session_cookie_name(state.settings.secure_cookies()),
            state.settings.secure_cookies(),
        ))
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!("cookie: {e}")))?;
    Ok(response)
}
