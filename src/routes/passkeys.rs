//! Passkeys: added and removed on `/account`, used at the sign-in's second step. Each ceremony is two requests:
//! `…/options` answers JSON for `static/passkeys.js` (which hands it to the browser), and the form that follows
//! carries the browser's answer in its `credential` field and is answered with a page, as any form is.
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::account::{self, CurrentPasswordForm, LAST_FACTOR};
use super::login::{second_step_page, SecondStep};
use super::{redirect_with_flash, render};
use crate::auth::csrf::{CsrfForm, NoFields};
use crate::auth::passkey::{self, RelyingParty, SignInOutcome};
use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::state::AppState;
use crate::store::passkeys::Removal;
use crate::store::StoreError;

fn json_refusal(status: StatusCode, sentence: &str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({ "error": sentence }))
}

fn json_options(options: &impl serde::Serialize) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(options)
}

#[derive(Deserialize)]
pub struct NameForm {
    #[serde(default)]
    name: String,
}

/// `POST /account/passkeys/options`: the options for `navigator.credentials.create`, or `{"error": sentence}`.
pub async fn registration_options(
    state: web::Data<AppState>,
    user: CurrentUser,
    form: CsrfForm<NameForm>,
) -> Result<HttpResponse, AppError> {
    let rp = match RelyingParty::of(&state.settings.public_url) {
        Ok(rp) => rp,
        Err(sentence) => return Ok(json_refusal(StatusCode::CONFLICT, sentence)),
    };
    match passkey::start_registration(
        &state.store,
        &rp,
        user.id,
        &user.email,
        user.session_id,
        &form.name,
    )
    .await?
    {
        Ok(options) => Ok(json_options(&options)),
        Err(sentence) => Ok(json_refusal(StatusCode::UNPROCESSABLE_ENTITY, &sentence)),
    }
}

#[derive(Deserialize)]
pub struct CredentialForm {
    #[serde(default)]
    credential: String,
}

/// The account page with the passkeys' error.
async fn account_refusal(
    req: &HttpRequest,
    state: &AppState,
    user: &CurrentUser,
    status: StatusCode,
    sentence: String,
) -> Result<HttpResponse, AppError> {
    let mut page = account::page(state, req, user).await?;
    page.two_step.passkey_error = Some(sentence);
    render(req, status, &page)
}

/// `POST /account/passkeys`: adds the passkey the browser made for the options asked before.
pub async fn add(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    form: CsrfForm<CredentialForm>,
) -> Result<HttpResponse, AppError> {
    let rp = match RelyingParty::of(&state.settings.public_url) {
        Ok(rp) => rp,
        Err(sentence) => {
            return account_refusal(&req, &state, &user, StatusCode::CONFLICT, sentence.into())
                .await
        }
    };
    match passkey::finish_registration(
        &state.store,
        &rp,
        user.id,
        user.session_id,
        &form.credential,
        &user.actor(),
    )
    .await?
    {
        Ok(name) => Ok(redirect_with_flash(
            &format!("{}#two-step", crate::urls::account()),
            "ok",
            &format!(
                "Your passkey \u{201c}{name}\u{201d} is added. Signing in now asks for a passkey (or a code) after your password."
            ),
        )),
        Err(sentence) => {
            account_refusal(
                &req,
                &state,
                &user,
                StatusCode::UNPROCESSABLE_ENTITY,
                sentence,
            )
            .await
        }
    }
}

/// `POST /account/passkeys/{id}/remove`: removes one of the user's passkeys (the current password is needed). A
/// role that must use two-step sign-in keeps its last second factor.
pub async fn remove(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
    form: CsrfForm<CurrentPasswordForm>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    if !state
        .store
        .passkeys_of(user.id)
        .await?
        .iter()
        .any(|p| p.id == id)
    {
        return account_refusal(
            &req,
            &state,
            &user,
            StatusCode::NOT_FOUND,
            "You have no such passkey (it may have been removed already); nothing was removed."
                .into(),
        )
        .await;
    }
    let typed = form.into_inner().current_password;
    if let Some((status, problem)) = account::current_password_problem(&state, &user, typed).await?
    {
        return account_refusal(&req, &state, &user, status, problem).await;
    }
    let required = state.settings.require_mfa.contains(&user.role);
    match state
        .store
        .remove_passkey(user.id, id, required, &user.actor())
        .await
    {
        Ok(Removal::LastOfRequiredRole) => {
            account_refusal(
                &req,
                &state,
                &user,
                StatusCode::CONFLICT,
                LAST_FACTOR.into(),
            )
            .await
        }
        Ok(Removal::Removed { name, factors_left }) => {
            let rest = if factors_left == 0 {
                " You sign in with your password alone now, and your recovery codes no longer work."
            } else {
                ""
            };
            Ok(redirect_with_flash(
                &format!("{}#two-step", crate::urls::account()),
                "ok",
                &format!("Your passkey \u{201c}{name}\u{201d} is removed.{rest}"),
            ))
        }
        Err(StoreError::NotFound) => {
            account_refusal(
                &req,
                &state,
                &user,
                StatusCode::NOT_FOUND,
                "You have no such passkey (it may have been removed already); nothing was removed."
                    .into(),
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /login/second-step/passkey/options`: the options for `navigator.credentials.get` for the pending sign-in
/// this browser holds, or `{"error": sentence}`.
pub async fn sign_in_options(
    req: HttpRequest,
    state: web::Data<AppState>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let Some(pending) = super::login::pending(&req, &state).await? else {
        return Ok(json_refusal(
            StatusCode::UNAUTHORIZED,
            super::login::PENDING_GONE,
        ));
    };
    let rp = match RelyingParty::of(&state.settings.public_url) {
        Ok(rp) => rp,
        Err(sentence) => return Ok(json_refusal(StatusCode::CONFLICT, sentence)),
    };
    match passkey::start_authentication(&state.store, &rp, pending.user_id, pending.id).await? {
        Ok(options) => Ok(json_options(&options)),
        Err(sentence) => Ok(json_refusal(StatusCode::UNPROCESSABLE_ENTITY, &sentence)),
    }
}

/// `POST /login/second-step/passkey`: the second step passed with a passkey, or the page saying why not.
pub async fn sign_in(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: CsrfForm<CredentialForm>,
) -> Result<HttpResponse, AppError> {
    let step = match SecondStep::admit(&req, &state).await? {
        Ok(step) => step,
        Err(response) => return Ok(response),
    };
    let rp = match RelyingParty::of(&state.settings.public_url) {
        Ok(rp) => rp,
        Err(sentence) => {
            let user_id = step.user.id;
            return second_step_page(
                &req,
                &state,
                StatusCode::CONFLICT,
                Some(sentence.into()),
                user_id,
            )
            .await;
        }
    };
    let outcome = passkey::finish_authentication(
        &state.store,
        &rp,
        step.user.id,
        step.pending.id,
        &form.credential,
    )
    .await?;
    match outcome {
        SignInOutcome::Passed(name) => {
            let detail = format!("second step passed with the passkey \u{201c}{name}\u{201d}");
            step.passed(&req, &state, "auth.passkey_used", &detail)
                .await
        }
        SignInOutcome::Refused { sentence, detail } => {
            step.failed(&req, &state, "auth.passkey_failed", &sentence, &detail)
                .await
        }
    }
}
