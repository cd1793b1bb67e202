//! `/admin/users`: add people, change their role, disable them, unlock a paused sign-in, issue a new password and
//! turn off a lost second factor.
//! The last admin stays an admin. A password made here is shown once and must be replaced at first sign-in.
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use secrecy::ExposeSecret;
use serde::Deserialize;

use crate::auth::csrf::{CsrfForm, NoFields};
use crate::auth::{password, CurrentUser};
use crate::domain::{Email, Role};
use crate::error::AppError;
use crate::present::time;
use crate::routes::{ok, redirect_with_flash, render, unprocessable, Layout};
use crate::state::AppState;
use crate::store::StoreError;

pub struct UserRow {
    pub id: i64,
    pub email: String,
    pub role: String,
    pub disabled: bool,
    pub created: String,
    pub is_me: bool,
    /// Sign-in is paused for this account from at least one address (too many failures).
    pub locked: bool,
    /// Still holds a password an admin issued.
    pub must_change: bool,
    /// Has two-step sign-in on.
    pub second_factor: bool,
}

#[derive(Template)]
#[template(path = "admin/users.html")]
pub struct UsersPage {
    pub layout: Layout,
    pub users: Vec<UserRow>,
    pub email: String,
    pub role: String,
    pub email_error: Option<String>,
    pub role_error: Option<String>,
    /// The account and its one-time password, shown once; `true` when it was a reset rather than a new user.
    pub new_password: Option<(String, String)>,
    pub reset: bool,
}

async fn page(
    state: &AppState,
    req: &HttpRequest,
    user: &CurrentUser,
) -> Result<UsersPage, AppError> {
    let users = state.store.list_users().await?;
    let now = crate::clock::now_ms();
    let locked = state
        .store
        .locked_accounts(
            now - crate::auth::throttle::WINDOW_MS,
            crate::auth::throttle::MAX_PER_ACCOUNT,
        )
        .await?;
    let with_second_factor = state.store.users_with_second_factor().await?;
    Ok(UsersPage {
        layout: Layout::new(state, req, user, "Users", None).await?,
        users: users
            .into_iter()
            .map(|u| UserRow {
                locked: locked.contains(&u.email),
                is_me: u.id == user.id,
                id: u.id,
                email: u.email,
                role: u.role.as_str().to_string(),
                disabled: u.disabled,
                created: time::utc(u.created_at),
                must_change: u.must_change_password,
                second_factor: with_second_factor.contains(&u.id),
            })
            .collect(),
        email: String::new(),
        role: "support".into(),
        email_error: None,
        role_error: None,
        new_password: None,
        reset: false,
    })
}

pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    ok(&req, &page(&state, &req, &user).await?)
}

#[derive(Deserialize)]
pub struct NewUserForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
}

pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    form: CsrfForm<NewUserForm>,
) -> Result<HttpResponse, AppError> {
    let mut page = page(&state, &req, &user).await?;
    page.email = form.email.clone();
    page.role = form.role.clone();
    let email = Email::parse(&form.email)
        .map_err(|e| page.email_error = Some(e.to_string()))
        .ok();
    let role = Role::parse(&form.role)
        .map_err(|_| page.role_error = Some("Choose admin, lead or support.".into()))
        .ok();
    let (Some(email), Some(role)) = (email, role) else {
        return unprocessable(&req, &page);
    };
    let secret = password::generate_password();
    let hash = password::hash_password(secret.clone()).await?;
    match state
        .store
        .create_user(&email, &hash, role, true, &user.actor())
        .await
    {
        Ok(created) => {
            let mut page = self::page(&state, &req, &user).await?;
            // Shown once, on this response only; it is never stored or logged in clear.
            page.new_password = Some((created.email, secret.expose_secret().to_string()));
            render(&req, actix_web::http::StatusCode::OK, &page)
        }
        Err(StoreError::Conflict(message)) => {
            page.email_error = Some(message);
            unprocessable(&req, &page)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct UpdateUserForm {
    #[serde(default)]
    role: String,
    #[serde(default)]
    disabled: Option<String>,
}

pub async fn update(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
    form: CsrfForm<UpdateUserForm>,
) -> Result<HttpResponse, AppError> {
    let role = Role::parse(&form.role)
        .map_err(|_| AppError::BadRequest("Choose admin, lead or support.".into()))?;
    let disabled = form
        .disabled
        .as_deref()
        .is_some_and(|v| v == "on" || v == "1" || v == "true");
    match state
        .store
        .update_user_access(*path, role, disabled, &user.actor())
        .await
    {
        Ok(updated) => Ok(redirect_with_flash(
            &crate::urls::admin_users(),
            "ok",
            &format!("Saved {}.", updated.email),
        )),
        Err(StoreError::Conflict(message)) => Ok(redirect_with_flash(
            &crate::urls::admin_users(),
            "error",
            &message,
        )),
        Err(e) => Err(e.into()),
    }
}

/// Forgets the user's failed sign-ins, so sign-in opens again at once from every address.
pub async fn unlock(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let target = state.store.user_by_id(*path).await?;
    state
        .store
        .unlock_user(&target.email, &user.actor())
        .await?;
    Ok(redirect_with_flash(
        &crate::urls::admin_users(),
        "ok",
        &format!("Unlocked {}: they can sign in again now.", target.email),
    ))
}

/// Issues a new one-time password (shown once, on this response), ends the user's sessions and unlocks them;
/// they must choose their own password at sign-in.
pub async fn reset_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    if *path == user.id {
        // It would end this very session and lock the admin into a password they just read on screen.
        return Ok(redirect_with_flash(
            &crate::urls::admin_users(),
            "error",
            "To change your own password, use Account; nothing was changed.",
        ));
    }
    let secret = password::generate_password();
    let hash = password::hash_password(secret.clone()).await?;
    let target = state
        .store
        .reset_password(*path, &hash, &user.actor())
        .await?;
    let mut page = page(&state, &req, &user).await?;
    // Shown once, on this response only; it is never stored or logged in clear.
    page.new_password = Some((target.email, secret.expose_secret().to_string()));
    page.reset = true;
    render(&req, actix_web::http::StatusCode::OK, &page)
}

/// Turns off a user's two-step sign-in (for one who lost their phone and their recovery codes) and ends their
/// sessions; audited. They sign in with their password and set it up again.
pub async fn reset_second_factor(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    if *path == user.id {
        // It would end this very session; the account page turns one's own off with the password.
        return Ok(redirect_with_flash(
            &crate::urls::admin_users(),
            "error",
            "To turn off your own two-step sign-in, use Account; nothing was changed.",
        ));
    }
    let email = state
        .store
        .remove_second_factors(*path, true, "user.second_factor_reset", &user.actor())
        .await?;
    Ok(redirect_with_flash(
        &crate::urls::admin_users(),
        "ok",
        &format!(
            "Turned off two-step sign-in for {email}; their sessions have ended. They sign in with their password and can set it up again under Account."
        ),
    ))
}
