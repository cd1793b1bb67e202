//! `POST /projects/{project}/settings/stores/apple/connect-key`: Step 1's optional App Store Connect API key
//! (`AuthKey_<KEYID>.p8`). The same multipart reader and parsers as Step 3, with Step 1's own sentences: the key
//! comes from the App Store Connect API tab, and an In-App Purchase key (`SubscriptionKey_…`) is the wrong kind.
//! A new key replaces the one in use (its private part destroyed); the form never shows a key again.
use actix_web::HttpResponse;
use serde::Deserialize;

use super::wizard_page;
use crate::auth::csrf::CsrfForm;
use crate::domain::connect_key::{
    check_connect_file_name, for_connect_api, is_in_app_purchase_key_name,
    IN_APP_PURCHASE_KEY_AT_STEP_1, NO_CONNECT_FILE,
};
use crate::domain::{ApplePrivateKey, IssuerId, KeyId};
use crate::error::AppError;
use crate::routes::projects::keys::upload::{KeyFormErrors, ParsedKeyForm, RawKeyForm};
use crate::routes::{redirect_with_flash, ProjectContext};

/// Every rule of Step 3's validation, said about the App Store Connect API tab, plus the wrong-kind refusal.
pub fn parse(form: &RawKeyForm) -> Result<ParsedKeyForm, KeyFormErrors> {
    let mut errors = KeyFormErrors::default();
    let key_id = KeyId::parse(&form.key_id)
        .map_err(|e| errors.key_id = Some(for_connect_api(&e.to_string())))
        .ok();
    let issuer_id = IssuerId::parse(&form.issuer_id)
        .map_err(|e| errors.issuer_id = Some(for_connect_api(&e.to_string())))
        .ok();
    let key = match &form.file {
        None => {
            errors.private_key = Some(NO_CONNECT_FILE.into());
            None
        }
        Some(bytes) => {
            let name = form.file_name.as_deref().unwrap_or("");
            // The wrong kind is said first, whatever Key ID was typed: it is the mistake to fix.
            let name_check = match &key_id {
                _ if is_in_app_purchase_key_name(name) => {
                    Err(IN_APP_PURCHASE_KEY_AT_STEP_1.to_owned())
                }
                Some(kid) => check_connect_file_name(name, kid),
                None => Ok(()),
            };
            match name_check {
                Err(e) => {
                    errors.private_key = Some(e);
                    None
                }
                Ok(()) => ApplePrivateKey::parse(bytes)
                    .map_err(|e| errors.private_key = Some(for_connect_api(&e.to_string())))
                    .ok(),
            }
        }
    };
    match (key_id, issuer_id, key) {
        (Some(key_id), Some(issuer_id), Some(key)) if !errors.any() => Ok(ParsedKeyForm {
            key_id,
            issuer_id,
            key,
        }),
        _ => Err(errors),
    }
}

pub async fn save(cx: ProjectContext, form: RawKeyForm) -> Result<HttpResponse, AppError> {
    let (state, project, user) = (&cx.state, &cx.project, &cx.user);
    let parsed = match parse(&form) {
        Ok(p) => p,
        Err(errors) => {
            let mut page = wizard_page(&cx).await?;
            page.connect_form_key_id = form.key_id.trim().to_string();
            page.connect_form_issuer_id = form.issuer_id.trim().to_string();
            page.connect_errors = errors;
            return cx.unprocessable(&page);
        }
    };
    crate::keys::save_connect_key(
        &state.store,
        &state.settings.keyring(),
        project,
        &parsed.key_id,
        &parsed.issuer_id,
        &parsed.key,
        &user.actor(),
    )
    .await?;
    tracing::info!(project = %project.slug, key_id = %parsed.key_id.as_str(), "App Store Connect API key saved");
    Ok(redirect_with_flash(
        &format!("{}#step1", crate::urls::apple_settings(&project.slug)),
        "ok",
        &format!(
            "App Store Connect API key {} is saved and encrypted. Next: Verify now, to prove App Store Connect accepts it.",
            parsed.key_id.as_str()
        ),
    ))
}

#[derive(Deserialize)]
pub struct RevokeForm {
    #[serde(default)]
    confirm_key_id: String,
}

/// Marks Step 1's key revoked (for example after revoking it in App Store Connect), confirmed by typing its Key ID.
pub async fn revoke(
    cx: ProjectContext,
    form: CsrfForm<RevokeForm>,
) -> Result<HttpResponse, AppError> {
    let (state, project, user) = (&cx.state, &cx.project, &cx.user);
    let location = format!("{}#step1", crate::urls::apple_settings(&project.slug));
    let Some(row) = state.store.connect_key_in_use(project.id).await? else {
        return Ok(redirect_with_flash(
            &location,
            "error",
            "This project has no App Store Connect API key in use, so nothing was changed.",
        ));
    };
    let typed = form.confirm_key_id.trim();
    if !typed.eq_ignore_ascii_case(&row.key_id) {
        let mut page = wizard_page(&cx).await?;
        page.connect_revoke_error = Some(if typed.is_empty() {
            format!(
                "Type the Key ID {} to confirm. Nothing was changed.",
                row.key_id
            )
        } else {
            format!(
                "“{}” is not this key's Key ID ({}). Nothing was changed.",
                typed.chars().take(40).collect::<String>(),
                row.key_id
            )
        });
        return cx.unprocessable(&page);
    }
    state
        .store
        .revoke_connect_key(project.id, &user.actor())
        .await?;
    Ok(redirect_with_flash(
        &location,
        "ok",
        &format!(
            "App Store Connect API key {} is marked revoked and its private part destroyed.",
            row.key_id
        ),
    ))
}

#[derive(Deserialize)]
pub struct VerifyForm {}

/// Verify now: a harmless read with Step 1's key (the team's apps, the project's app, one in-app purchase), then
/// Step 1 with what App Store Connect said.
pub async fn verify(
    cx: ProjectContext,
    _form: CsrfForm<VerifyForm>,
) -> Result<HttpResponse, AppError> {
    let (state, project) = (&cx.state, &cx.project);
    let location = format!("{}#step1", crate::urls::apple_settings(&project.slug));
    let Some(found) = crate::catalog::verify_connect_key(state, project).await? else {
        return Ok(redirect_with_flash(
            &location,
            "error",
            "This project has no App Store Connect API key to verify. Save one first.",
        ));
    };
    let (kind, sentence) = match (&found.verdict, &found.mismatch) {
        (Some(true), None) => ("ok", found.sentence),
        (Some(true), Some(m)) => ("warn", format!("{} {m}", found.sentence)),
        (Some(false), _) => ("error", found.sentence),
        (None, _) => ("warn", found.sentence),
    };
    Ok(redirect_with_flash(&location, kind, &sentence))
}
