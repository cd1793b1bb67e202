//! `/account`: change your own password; every other session of yours ends. A wrong current password counts as a
//! failed sign-in (so a stolen session cannot guess its way to the account), and a user holding an issued password
//! is kept here until they choose their own.
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use actix_web::http::StatusCode;

use super::{ok, redirect_with_flash, render, unprocessable, Layout};
use crate::auth::csrf::CsrfForm;
use crate::auth::{password, throttle, CurrentUser};
use crate::error::AppError;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "account.html")]
pub struct AccountPage {
    pub layout: Layout,
    pub email: String,
    pub role: String,
    pub other_sessions: i64,
    pub current_error: Option<String>,
    pub new_error: Option<String>,
    pub confirm_error: Option<String>,
    /// The password was issued by an admin; the page says why it must be changed first.
    pub must_change: bool,
}

async fn page(
    state: &AppState,
    req: &HttpRequest,
    user: &CurrentUser,
) -> Result<AccountPage, AppError> {
    let sessions = state.store.count_sessions_of(user.id).await?;
    Ok(AccountPage {
        layout: Layout::new(state, req, user, "Your account", None).await?,
        email: user.email.clone(),
        role: user.role.as_str().to_string(),
        other_sessions: (sessions - 1).max(0),
        current_error: None,
        new_error: None,
        confirm_error: None,
        must_change: user.must_change_password,
    })
}

pub async fn form(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    ok(&req, &page(&state, &req, &user).await?)
}

#[derive(Deserialize)]
pub struct PasswordForm {
    current_password: SecretString,
    new_password: SecretString,
    confirm_password: SecretString,
}

pub async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    form: CsrfForm<PasswordForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let mut page = page(&state, &req, &user).await?;
    let stored = state.store.user_by_id(user.id).await?;
    // Counted as a failed sign-in before the check, as sign-in does, so checks sent at once all see each other.
    let now = crate::clock::now_ms();
    let subjects = [
        throttle::account_subject(&user.email, &user.ip),
        throttle::address_subject(&user.ip),
    ];
    let attempt = state.store.record_login_attempt(&subjects, now).await?;
    if let Some(until) = throttle::locked_until(&state.store, &user.email, &user.ip, now).await? {
        state.store.forget_login_attempt(&attempt).await?;
        let minutes = ((until - now) / 60_000 + 1).max(1);
        page.current_error = Some(format!(
            "Too many wrong passwords. Password changes are paused for {minutes} minute{}; try again then.",
            if minutes == 1 { "" } else { "s" }
        ));
        return render(&req, StatusCode::TOO_MANY_REQUESTS, &page);
    }
    let right =
        match password::verify_password(form.current_password, Some(stored.password_hash)).await {
            Ok(right) => right,
            Err(e) => {
                state.store.forget_login_attempt(&attempt).await?;
                return Err(e.into());
            }
        };
    if !right {
        state
            .store
            .audit(
                &user.actor(),
                "auth.password_check_failed",
                None,
                &user.email,
                "wrong current password on the account page",
            )
            .await?;
        page.current_error = Some("This is not your current password.".into());
        return unprocessable(&req, &page);
    }
    state.store.forget_login_attempt(&attempt).await?;
    if let Some(problem) =
        password::password_problem(form.new_password.expose_secret(), &user.email)
    {
        page.new_error = Some(problem.into());
        return unprocessable(&req, &page);
    }
    if form.new_password.expose_secret() != form.confirm_password.expose_secret() {
        page.confirm_error = Some("The two new passwords are not the same.".into());
        return unprocessable(&req, &page);
    }
    let hash = password::hash_password(form.new_password).await?;
    state
        .store
        .set_password(user.id, &hash, Some(user.session_id), &user.actor())
        .await?;
    Ok(redirect_with_flash(
        &crate::urls::account(),
        "ok",
        "Your password is changed. Your other sessions have been signed out.",
    ))
}
