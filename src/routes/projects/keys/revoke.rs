//! `POST /projects/{project}/keys/{id}/revoke`: **Mark revoked**, confirmed by typing the key's Key ID in the same
//! form (`confirm_key_id`); a post without it changes nothing and says why.
use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::{in_use_sentence, keys_page};
use crate::auth::csrf::CsrfForm;
use crate::error::AppError;
use crate::routes::{redirect_with_flash, ProjectContext};
use crate::store::StoreError;

#[derive(Deserialize)]
pub struct RevokeForm {
    #[serde(default)]
    confirm_key_id: String,
}

/// Why a revocation was not done, next to the confirmation field; `None` when the typed Key ID is the key's.
fn confirmation_error(key_id: &str, in_use: bool, typed: &str) -> Option<String> {
    let typed = typed.trim();
    if typed.eq_ignore_ascii_case(key_id) {
        return None;
    }
    Some(if typed.is_empty() && in_use {
        format!("Type the Key ID {key_id} to confirm: marking it revoked stops every call to Apple for this project. Nothing was changed.")
    } else if typed.is_empty() {
        format!("Type the Key ID {key_id} to confirm. Nothing was changed.")
    } else {
        format!(
            "“{}” is not this key's Key ID ({key_id}). Nothing was changed.",
            typed.chars().take(40).collect::<String>()
        )
    })
}

pub async fn revoke(
    cx: ProjectContext,
    path: web::Path<(String, i64)>,
    form: CsrfForm<RevokeForm>,
) -> Result<HttpResponse, AppError> {
    let (state, project, user) = (&cx.state, &cx.project, &cx.user);
    let (_, id) = path.into_inner();
    let location = crate::urls::keys(&project.slug);
    let rows = state.store.keys_of_project(project.id).await?;
    let row = rows.iter().find(|r| r.id == id).ok_or(AppError::NotFound)?;
    if row.status == crate::domain::KeyStatus::Revoked {
        return Ok(redirect_with_flash(
            &location,
            "error",
            "This key is already marked revoked.",
        ));
    }
    if let Some(error) =
        confirmation_error(&row.key_id, row.status.is_in_use(), &form.confirm_key_id)
    {
        let mut page = keys_page(&cx).await?;
        if let Some(r) = page.keys.iter_mut().find(|r| r.key.id == id) {
            r.revoke_error = Some(error);
        }
        return cx.unprocessable(&page);
    }
    let revoked = match state
        .store
        .revoke_key(project.id, id, &row.key_id, &user.actor())
        .await
    {
        Ok(row) => row,
        Err(StoreError::Conflict(message)) => {
            return Ok(redirect_with_flash(&location, "error", &message))
        }
        Err(e) => return Err(e.into()),
    };
    let message = if revoked.status.is_in_use() {
        format!("Key {} is marked revoked and its private part destroyed. This project has no key in use now, so storedesk makes no calls to Apple for it: upload a replacement below.", revoked.key_id)
    } else {
        match state.store.key_in_use(project.id).await? {
            Some(current) => format!(
                "Key {} is marked revoked (it was no longer used). {} Nothing else changed.",
                revoked.key_id,
                in_use_sentence(&current)
            ),
            None => format!(
                "Key {} is marked revoked (it was no longer used). This project has no key in use: upload one below to call Apple.",
                revoked.key_id
            ),
        }
    };
    Ok(redirect_with_flash(&location, "warn", &message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_id_must_be_typed_and_may_differ_in_case_and_spaces() {
        assert_eq!(confirmation_error("2X9R4HXF34", true, " 2x9r4hxf34 "), None);
        assert_eq!(
            confirmation_error("2X9R4HXF34", true, "").as_deref(),
            Some("Type the Key ID 2X9R4HXF34 to confirm: marking it revoked stops every call to Apple for this project. Nothing was changed.")
        );
        assert_eq!(
            confirmation_error("2X9R4HXF34", false, "  ").as_deref(),
            Some("Type the Key ID 2X9R4HXF34 to confirm. Nothing was changed.")
        );
        assert_eq!(
            confirmation_error("2X9R4HXF34", true, "7Q3W8ZK2LM").as_deref(),
            Some("“7Q3W8ZK2LM” is not this key's Key ID (2X9R4HXF34). Nothing was changed.")
        );
    }
}
