//! `POST /projects/{project}/keys/{id}/correct`: a Key ID or Issuer ID typed wrong (a key's name, the Issuer ID
//! of the App Store Connect API tab) is corrected in place while Apple has never accepted the key; the stored
//! `.p8` is kept, and the key is verified again at once.
use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::verify::{back_to, check_key_in_use, check_message};
use super::view::{CorrectErrors, CorrectForm};
use crate::auth::csrf::CsrfForm;
use crate::domain::{IssuerId, KeyId};
use crate::error::AppError;
use crate::keys::CorrectError;
use crate::routes::{redirect_with_flash, ProjectContext};

#[derive(Deserialize)]
pub struct CorrectFields {
    #[serde(default)]
    key_id: String,
    #[serde(default)]
    issuer_id: String,
    #[serde(default)]
    return_to: String,
}

pub const UNCHANGED: &str = "These are the Key ID and Issuer ID stored already, so nothing was changed. If both are right, the .p8 belongs to another key: upload the right one with Rotate.";

/// The page the form came from again, with the typed values kept and `errors` next to them (422).
async fn refuse(
    cx: &ProjectContext,
    id: i64,
    fields: &CorrectFields,
    errors: CorrectErrors,
) -> Result<HttpResponse, AppError> {
    let form = |return_to| CorrectForm {
        key_row_id: id,
        key_id: fields.key_id.trim().to_owned(),
        issuer_id: fields.issuer_id.trim().to_owned(),
        errors: errors.clone(),
        return_to,
    };
    if fields.return_to == "keys" {
        let mut page = super::keys_page(cx).await?;
        page.correct = Some(form("keys"));
        cx.unprocessable(&page)
    } else {
        let mut page = crate::routes::projects::settings::stores::apple::wizard_page(cx).await?;
        page.correct = Some(form("wizard"));
        cx.unprocessable(&page)
    }
}

pub async fn correct(
    cx: ProjectContext,
    path: web::Path<(String, i64)>,
    form: CsrfForm<CorrectFields>,
) -> Result<HttpResponse, AppError> {
    let (_, id) = path.into_inner();
    let back = back_to(&cx, &form.return_to);
    let mut errors = CorrectErrors::default();
    let key_id = KeyId::parse(&form.key_id)
        .map_err(|e| errors.key_id = Some(e.to_string()))
        .ok();
    let issuer_id = IssuerId::parse(&form.issuer_id)
        .map_err(|e| errors.issuer_id = Some(e.to_string()))
        .ok();
    let (Some(key_id), Some(issuer_id)) = (key_id, issuer_id) else {
        return refuse(&cx, id, &form, errors).await;
    };
    let (state, project, user) = (&cx.state, &cx.project, &cx.user);
    let corrected = match crate::keys::correct_key(
        &state.store,
        &state.settings.keyring(),
        project,
        id,
        &key_id,
        &issuer_id,
        &user.actor(),
    )
    .await
    {
        Ok(corrected) => corrected,
        Err(CorrectError::NotFound) => return Err(AppError::NotFound),
        Err(CorrectError::Unchanged) => {
            let errors = CorrectErrors {
                form: Some(UNCHANGED.to_owned()),
                ..CorrectErrors::default()
            };
            return refuse(&cx, id, &form, errors).await;
        }
        Err(CorrectError::NotCorrectable(row)) => {
            let message = if row.status.is_in_use() {
                format!("Apple has accepted key {}, so its Key ID, Issuer ID and .p8 belong together and nothing was changed. To use another key, upload it with Rotate.", row.key_id)
            } else {
                format!(
                    "Key {} is no longer in use, so nothing was changed.",
                    row.key_id
                )
            };
            return Ok(redirect_with_flash(&back, "error", &message));
        }
        Err(CorrectError::Other(e)) => return Err(e.into()),
    };
    tracing::info!(project = %project.slug, key_id = %key_id.as_str(), "key identifiers corrected");
    let done = format!(
        "Key {} corrected ({}); the stored .p8 is kept (fingerprint {}).",
        key_id.as_str(),
        corrected.changes(),
        corrected.before.fingerprint
    );
    let Some(check) = check_key_in_use(&cx).await? else {
        return Ok(redirect_with_flash(&back, "warn", &done));
    };
    Ok(redirect_with_flash(
        &back,
        if check.ok { "ok" } else { "error" },
        &format!("{done} {}", check_message(&check)),
    ))
}
