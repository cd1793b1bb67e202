//! **Verify now**: proves with Apple that Key ID, Issuer ID and `.p8` belong together, in Sandbox and Production,
//! and names the most likely cause when they do not.
use actix_web::HttpResponse;
use serde::Deserialize;

use crate::apple_calls::{self, Verification};
use crate::auth::csrf::CsrfForm;
use crate::error::AppError;
use crate::routes::{redirect_with_flash, ProjectContext};

#[derive(Deserialize)]
pub struct VerifyForm {
    #[serde(default)]
    return_to: String,
}

/// The page a key form came from: the keys page, or (by default) the wizard's Step 3.
pub fn back_to(cx: &ProjectContext, return_to: &str) -> String {
    if return_to == "keys" {
        crate::urls::keys(&cx.project.slug)
    } else {
        crate::urls::apple_settings(&cx.project.slug)
    }
}

/// Checks the key in use with Apple and records what was found on its row (its health) and in the audit log.
/// `None` when the project has no key in use.
pub async fn check_key_in_use(cx: &ProjectContext) -> Result<Option<Verification>, AppError> {
    let (state, project, user) = (&cx.state, &cx.project, &cx.user);
    let Some(key) =
        crate::keys::open_key_in_use(&state.store, &state.settings.keyring(), project.id).await?
    else {
        return Ok(None);
    };
    let check =
        apple_calls::verify_credentials(&state.apple, &apple_calls::credentials(project, &key))
            .await;
    apple_calls::record_check(state, key.row_id, &check).await?;
    state
        .store
        .audit(
            &user.actor(),
            "key.verify",
            Some(project.id),
            key.key_id.as_str(),
            &format!(
                "{}: {}",
                if check.ok { "ok" } else { "failed" },
                check.summary
            ),
        )
        .await?;
    Ok(Some(check))
}

/// The check's summary, with the likely causes when Apple refused the key in both environments.
pub fn check_message(check: &Verification) -> String {
    let mut message = check.summary.clone();
    if !check.causes.is_empty() {
        message.push_str(" Most likely causes: ");
        message.push_str(&check.causes.join(" "));
    }
    message
}

pub async fn verify_now(
    cx: ProjectContext,
    form: CsrfForm<VerifyForm>,
) -> Result<HttpResponse, AppError> {
    let back = back_to(&cx, &form.return_to);
    let Some(check) = check_key_in_use(&cx).await? else {
        return Ok(redirect_with_flash(
            &back,
            "error",
            "There is no key to verify yet. Save one first.",
        ));
    };
    Ok(redirect_with_flash(
        &back,
        if check.ok { "ok" } else { "error" },
        &check_message(&check),
    ))
}
