//! `/account`: change your own password; every other session of yours ends. A wrong current password counts as a
//! failed sign-in (so a stolen session cannot guess its way to the account), and a user holding an issued password
//! is kept here until they choose their own.
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use actix_web::http::StatusCode;

use super::{ok, redirect_with_flash, render, unprocessable, Layout};
use crate::auth::csrf::{CsrfForm, NoFields};
use crate::auth::second_factor::{self, ConfirmOutcome};
use crate::auth::{password, throttle, CurrentUser};
use crate::error::AppError;
use crate::state::AppState;
use crate::store::passkeys::Removal;

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
    pub two_step: TwoStepCard,
}

/// The "Two-step sign-in" card.
#[derive(Default)]
pub struct TwoStepCard {
    /// On: the user has a second factor (an authenticator app, a passkey, or both).
    pub on: bool,
    /// The authenticator app (TOTP) is on.
    pub totp_on: bool,
    /// The user's passkeys, oldest first.
    pub passkeys: Vec<PasskeyView>,
    /// Why passkeys cannot be added here (the public URL names an IP address), if so.
    pub passkeys_unavailable: Option<&'static str>,
    /// A passkey that could not be added or removed: the sentence.
    pub passkey_error: Option<String>,
    /// The passkeys script (only on pages that use it).
    pub passkey_js: &'static str,
    /// `STOREDESK_REQUIRE_MFA` names the user's role.
    pub required: bool,
    pub recovery_left: i64,
    /// A set-up waiting for its first code: the secret in base32 and the otpauth:// URI.
    pub enrolment: Option<(String, String)>,
    pub code_error: Option<String>,
    pub password_error: Option<String>,
    /// Recovery codes just made, shown on this response only.
    pub new_codes: Vec<String>,
}

/// One passkey as the account page lists it.
pub struct PasskeyView {
    pub id: i64,
    pub name: String,
    pub created: String,
    pub last_used: Option<String>,
    /// The host it was made for, when it is not this console's (it cannot sign in here).
    pub other_host: Option<String>,
}

/// The sentence that refuses to remove a required role's last second factor.
pub const LAST_FACTOR: &str = "Your role must sign in with two steps, and this is your last second factor, so it stays. Add a passkey or an authenticator app first; nothing was removed.";

pub(crate) async fn page(
    state: &AppState,
    req: &HttpRequest,
    user: &CurrentUser,
) -> Result<AccountPage, AppError> {
    let sessions = state.store.count_sessions_of(user.id).await?;
    let on = state.store.has_second_factor(user.id).await?;
    let totp_on = state.store.has_totp(user.id).await?;
    let rp = crate::auth::passkey::RelyingParty::of(&state.settings.public_url);
    let now = crate::clock::now_ms();
    let passkeys = state
        .store
        .passkeys_of(user.id)
        .await?
        .into_iter()
        .map(|p| PasskeyView {
            id: p.id,
            created: crate::present::time::utc_and_relative(p.created_at, now),
            last_used: p
                .last_used_at
                .map(|at| crate::present::time::utc_and_relative(at, now)),
            other_host: match &rp {
                Ok(rp) if rp.rp_id() == p.rp_id => None,
                _ => Some(p.rp_id),
            },
            name: p.name,
        })
        .collect();
    let enrolment = if totp_on {
        None
    } else {
        second_factor::pending_enrolment(
            &state.store,
            &state.settings.keyring(),
            user.id,
            "storedesk",
            &user.email,
        )
        .await?
        .map(|e| (e.secret_base32.to_string(), e.uri.to_string()))
    };
    let two_step = TwoStepCard {
        on,
        totp_on,
        passkeys,
        passkeys_unavailable: rp.err(),
        passkey_js: crate::assets::passkeys_js_url(),
        required: state.settings.require_mfa.contains(&user.role),
        recovery_left: if on {
            state.store.recovery_codes_left(user.id).await?
        } else {
            0
        },
        enrolment,
        ..TwoStepCard::default()
    };
    Ok(AccountPage {
        layout: Layout::new(state, req, user, "Your account", None).await?,
        email: user.email.clone(),
        role: user.role.as_str().to_string(),
        other_sessions: (sessions - 1).max(0),
        current_error: None,
        new_error: None,
        confirm_error: None,
        must_change: user.must_change_password,
        two_step,
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
    if let Some((status, problem)) =
        current_password_problem(&state, &user, form.current_password).await?
    {
        page.current_error = Some(problem);
        return render(&req, status, &page);
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

/// Checks the current password typed on this page, counted like a sign-in (so a stolen session cannot guess its
/// way to the account): None when right, or the status and sentence to show.
pub(crate) async fn current_password_problem(
    state: &AppState,
    user: &CurrentUser,
    typed: SecretString,
) -> Result<Option<(StatusCode, String)>, AppError> {
    let stored = state.store.user_by_id(user.id).await?;
    // Counted as a failed sign-in before the check, as sign-in does, so checks sent at once all see each other.
    let now = crate::clock::now_ms();
    let attempt = match throttle::admit(&state.store, &user.email, &user.ip, now).await? {
        throttle::Admission::Admitted(attempt) => attempt,
        throttle::Admission::Paused { minutes } => {
            return Ok(Some((
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "Too many wrong passwords. Password changes are paused for {}; try again then.",
                    throttle::minutes(minutes)
                ),
            )));
        }
    };
    let right = match password::verify_password(typed, Some(stored.password_hash)).await {
        Ok(right) => right,
        Err(e) => {
            attempt.not_a_failure(&state.store).await?;
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
        return Ok(Some((
            StatusCode::UNPROCESSABLE_ENTITY,
            "This is not your current password.".into(),
        )));
    }
    attempt.not_a_failure(&state.store).await?;
    Ok(None)
}

/// Starts (or starts over) two-step sign-in's set-up: the page then shows a new secret until a code confirms it.
pub async fn second_factor_start(
    state: web::Data<AppState>,
    user: CurrentUser,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    if state.store.has_totp(user.id).await? {
        return Ok(redirect_with_flash(
            &crate::urls::account(),
            "error",
            "The authenticator app is already set up. To move it to another phone, turn it off and set it up again.",
        ));
    }
    second_factor::begin_totp(&state.store, &state.settings.keyring(), user.id).await?;
    Ok(super::redirect(&format!(
        "{}#two-step",
        crate::urls::account()
    )))
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: SecretString,
}

/// Confirms the set-up with a code from the app; only then is two-step sign-in on. The recovery codes are shown on
/// this response only.
pub async fn second_factor_confirm(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    form: CsrfForm<CodeForm>,
) -> Result<HttpResponse, AppError> {
    // Counted like a sign-in before the check, so a stolen session cannot try the million codes of a secret it
    // started itself (or read off the page) any faster than a password.
    let now = crate::clock::now_ms();
    let attempt = match throttle::admit(&state.store, &user.email, &user.ip, now).await? {
        throttle::Admission::Admitted(attempt) => attempt,
        throttle::Admission::Paused { minutes } => {
            let mut page = page(&state, &req, &user).await?;
            page.two_step.code_error = Some(format!(
                "Too many wrong codes. Confirming is paused for {}; try again then. Nothing was turned on.",
                throttle::minutes(minutes)
            ));
            return render(&req, StatusCode::TOO_MANY_REQUESTS, &page);
        }
    };
    let outcome = match second_factor::confirm_totp(
        &state.store,
        &state.settings.keyring(),
        user.id,
        form.code.expose_secret(),
        &user.actor(),
    )
    .await
    {
        Ok(outcome) => outcome,
        Err(e) => {
            attempt.not_a_failure(&state.store).await?;
            return Err(e.into());
        }
    };
    match outcome {
        ConfirmOutcome::Confirmed(codes) => {
            attempt.not_a_failure(&state.store).await?;
            let mut page = page(&state, &req, &user).await?;
            page.two_step.new_codes = codes;
            render(&req, StatusCode::OK, &page)
        }
        ConfirmOutcome::WrongCode => {
            // The attempt stays counted as a failure.
            state
                .store
                .audit(
                    &user.actor(),
                    "auth.second_factor_confirm_failed",
                    None,
                    &user.email,
                    "wrong code while turning two-step sign-in on",
                )
                .await?;
            let mut page = page(&state, &req, &user).await?;
            page.two_step.code_error = Some(second_factor::WRONG_CONFIRMATION.into());
            unprocessable(&req, &page)
        }
        ConfirmOutcome::NothingWaiting => {
            attempt.not_a_failure(&state.store).await?;
            Ok(redirect_with_flash(
            &crate::urls::account(),
            "error",
            "There is no set-up waiting for a code. Start it again with \"Set up the authenticator app\".",
            ))
        }
    }
}

#[derive(Deserialize)]
pub struct CurrentPasswordForm {
    pub(crate) current_password: SecretString,
}

/// The account page with the two-step card's password error, when the current password typed for a two-step
/// change is refused (wrong, or paused); `None` when it is right.
pub(crate) async fn two_step_password_refused(
    state: &AppState,
    req: &HttpRequest,
    user: &CurrentUser,
    typed: SecretString,
) -> Result<Option<HttpResponse>, AppError> {
    let Some((status, problem)) = current_password_problem(state, user, typed).await? else {
        return Ok(None);
    };
    let mut page = page(state, req, user).await?;
    page.two_step.password_error = Some(problem);
    Ok(Some(render(req, status, &page)?))
}

/// Turns the authenticator app off (the current password is needed); audited. A role that must use two-step
/// sign-in keeps its last second factor.
pub async fn second_factor_disable(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    form: CsrfForm<CurrentPasswordForm>,
) -> Result<HttpResponse, AppError> {
    if let Some(refused) =
        two_step_password_refused(&state, &req, &user, form.into_inner().current_password).await?
    {
        return Ok(refused);
    }
    let required = state.settings.require_mfa.contains(&user.role);
    let removal = state
        .store
        .remove_totp(user.id, required, &user.actor())
        .await?;
    let message = match removal {
        Removal::LastOfRequiredRole => {
            let mut page = page(&state, &req, &user).await?;
            page.two_step.password_error = Some(LAST_FACTOR.into());
            return render(&req, StatusCode::CONFLICT, &page);
        }
        Removal::Removed { factors_left: 0, .. } => {
            "Two-step sign-in is off, and your recovery codes no longer work. You sign in with your password alone."
        }
        Removal::Removed { .. } => {
            "The authenticator app is off. Signing in still asks for one of your passkeys, and your recovery codes still work."
        }
    };
    Ok(redirect_with_flash(&crate::urls::account(), "ok", message))
}

/// Ten new recovery codes (the current password is needed); the old ones stop working. Shown on this response only.
pub async fn recovery_codes(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    form: CsrfForm<CurrentPasswordForm>,
) -> Result<HttpResponse, AppError> {
    if let Some(refused) =
        two_step_password_refused(&state, &req, &user, form.into_inner().current_password).await?
    {
        return Ok(refused);
    }
    let Some(codes) =
        second_factor::regenerate_recovery_codes(&state.store, user.id, &user.actor()).await?
    else {
        return Ok(redirect_with_flash(
            &crate::urls::account(),
            "error",
            "Two-step sign-in is not on, so there are no recovery codes to replace.",
        ));
    };
    let mut page = page(&state, &req, &user).await?;
    page.two_step.new_codes = codes;
    render(&req, StatusCode::OK, &page)
}
