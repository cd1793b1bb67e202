//! `/account`: change your own password; every other session of yours ends.
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::{ok, redirect_with_flash, unprocessable, Layout};
use crate::auth::csrf::CsrfForm;
use crate::auth::{password, CurrentUser};
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
    if !password::verify_password(form.current_password, Some(stored.password_hash)).await? {
        page.current_error = Some("This is not your current password.".into());
        return unprocessable(&req, &page);
    }
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
