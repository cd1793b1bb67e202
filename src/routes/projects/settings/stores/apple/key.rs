//! `POST /projects/{project}/settings/stores/apple/key`: Step 3 saves the project's first In-App Purchase key.
use actix_web::HttpResponse;

use super::wizard_page;
use crate::error::AppError;
use crate::routes::projects::keys::upload::{self, RawKeyForm};
use crate::routes::{redirect_with_flash, ProjectContext};
use crate::store::StoreError;

pub async fn save(cx: ProjectContext, form: RawKeyForm) -> Result<HttpResponse, AppError> {
    let (state, project, user) = (&cx.state, &cx.project, &cx.user);
    // Step 3 sets the first key only: a replacement goes through Rotate, which checks it with Apple first.
    // (A stale tab would otherwise swap the key in use unchecked, or show its errors on a page without the form.)
    let has_a_key = || {
        redirect_with_flash(
            &crate::urls::keys(&project.slug),
            "error",
            crate::store::keys::ALREADY_HAS_A_KEY,
        )
    };
    if state.store.key_in_use(project.id).await?.is_some() {
        return Ok(has_a_key());
    }
    let parsed = match upload::parse(&form) {
        Ok(p) => p,
        Err(errors) => {
            let mut page = wizard_page(&cx).await?;
            page.form_key_id = form.key_id.trim().to_string();
            page.form_issuer_id = form.issuer_id.trim().to_string();
            page.errors = errors;
            return cx.unprocessable(&page);
        }
    };
    // Checked again where it counts, in the save's own transaction: another upload may have been faster.
    let saved = crate::keys::save_key(
        &state.store,
        &state.settings.keyring(),
        project,
        &parsed.key_id,
        &parsed.issuer_id,
        &parsed.key,
        &user.actor(),
        crate::keys::OnKeyInUse::Refuse,
    )
    .await;
    if let Err(e) = &saved {
        if matches!(e.downcast_ref(), Some(StoreError::Conflict(_))) {
            return Ok(has_a_key());
        }
    }
    saved?;
    tracing::info!(project = %project.slug, key_id = %parsed.key_id.as_str(), "In-App Purchase key saved");
    Ok(redirect_with_flash(
        &crate::urls::apple_settings(&project.slug),
        "ok",
        &format!(
            "Key {} is saved and encrypted. Next: Verify now, to prove Apple accepts it.",
            parsed.key_id.as_str()
        ),
    ))
}
