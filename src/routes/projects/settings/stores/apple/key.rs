//! `POST /projects/{project}/settings/stores/apple/key`: Step 3 saves the project's first In-App Purchase key.
use actix_multipart::Multipart;
use actix_web::{web, HttpRequest, HttpResponse};

use super::wizard_page;
use crate::auth::CurrentUser;
use crate::domain::Role;
use crate::error::AppError;
use crate::routes::projects::keys::upload;
use crate::routes::{project_by_slug, redirect_with_flash, unprocessable};
use crate::state::AppState;
use crate::store::StoreError;

const MANAGERS: &[Role] = Role::MANAGERS;

pub async fn save(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    payload: Multipart,
) -> Result<HttpResponse, AppError> {
    user.require(MANAGERS)?;
    let project = project_by_slug(&state, &path).await?;
    let form = upload::read_form(payload).await?;
    user.check_csrf(&form.csrf_token)?;
    // Step 3 sets the first key only: a replacement goes through Rotate, which checks it with Apple first.
    // (A stale tab would otherwise swap the key in use unchecked, or show its errors on a page without the form.)
    let has_a_key = || {
        redirect_with_flash(
            &format!("/projects/{}/keys", project.slug),
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
            let mut page = wizard_page(&state, &req, &user, &project).await?;
            page.form_key_id = form.key_id.trim().to_string();
            page.form_issuer_id = form.issuer_id.trim().to_string();
            page.errors = errors;
            return unprocessable(&req, &page);
        }
    };
    // Checked again where it counts, in the save's own transaction: another upload may have been faster.
    let saved = crate::keys::save_key(
        &state.store,
        &state.settings.keyring(),
        &project,
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
        &format!("/projects/{}/settings/stores/apple", project.slug),
        "ok",
        &format!(
            "Key {} is saved and encrypted. Next: Verify now, to prove Apple accepts it.",
            parsed.key_id.as_str()
        ),
    ))
}
