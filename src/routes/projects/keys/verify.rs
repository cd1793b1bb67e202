//! **Verify now**: proves with Apple that Key ID, Issuer ID and `.p8` belong together, in Sandbox and Production,
//! and names the most likely cause when they do not.
use actix_web::HttpResponse;
use serde::Deserialize;

use crate::apple::AppleError;
use crate::apple_calls::{self, Probe};
use crate::auth::csrf::CsrfForm;
use crate::error::AppError;
use crate::routes::{redirect_with_flash, ProjectContext};

#[derive(Deserialize)]
pub struct VerifyForm {
    #[serde(default)]
    return_to: String,
}

pub async fn verify_now(
    cx: ProjectContext,
    form: CsrfForm<VerifyForm>,
) -> Result<HttpResponse, AppError> {
    let (state, project, user) = (&cx.state, &cx.project, &cx.user);
    let back = if form.return_to == "keys" {
        crate::urls::keys(&project.slug)
    } else {
        crate::urls::apple_settings(&project.slug)
    };
    let Some(key) =
        crate::keys::open_key_in_use(&state.store, &state.settings.keyring(), project.id).await?
    else {
        return Ok(redirect_with_flash(
            &back,
            "error",
            "There is no key to verify yet. Save one first.",
        ));
    };
    let check =
        apple_calls::verify_credentials(&state.apple, &apple_calls::credentials(project, &key))
            .await;
    // The check counts as a call with this key: a double 401 moves it towards `failing`, any acceptance heals it.
    let outcome: Result<(), AppleError> =
        if check.sandbox == Probe::Accepted || check.production == Probe::Accepted {
            Ok(())
        } else if check.sandbox == Probe::Unauthorized && check.production == Probe::Unauthorized {
            Err(AppleError::Unauthorized {
                environment: crate::apple::Environment::Production,
            })
        } else {
            Err(AppleError::Network {
                detail: "verify now".into(),
                retries: 0,
            })
        };
    apple_calls::record(state, key.row_id, &outcome).await?;
    state
        .store
        .record_key_verification(key.row_id, &check.summary, check.ok)
        .await?;
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
    let mut message = check.summary.clone();
    if !check.causes.is_empty() {
        message.push_str(" Most likely causes: ");
        message.push_str(&check.causes.join(" "));
    }
    Ok(redirect_with_flash(
        &back,
        if check.ok { "ok" } else { "error" },
        &message,
    ))
}
