//! `POST /projects/{project}/settings/stores/apple/notification-url/regenerate`: a new notification URL for
//! Step 4; the old one stops working at once.
use actix_web::HttpResponse;
use serde::Deserialize;

use crate::auth::csrf::CsrfForm;
use crate::error::AppError;
use crate::routes::{redirect_with_flash, ProjectContext};

#[derive(Deserialize)]
pub struct RegenerateForm {
    #[serde(default)]
    confirm: Option<String>,
}

pub async fn regenerate(
    cx: ProjectContext,
    form: CsrfForm<RegenerateForm>,
) -> Result<HttpResponse, AppError> {
    let (state, project, user) = (&cx.state, &cx.project, &cx.user);
    if form.confirm.as_deref() != Some("yes") {
        let mut page = super::wizard_page(&cx).await?;
        page.notifications.confirm_error = Some(
            "Tick the box to confirm: the current URL stops working at once, and App Store Connect must get the new one."
                .into(),
        );
        return cx.unprocessable(&page);
    }
    state
        .store
        .regenerate_notification_url(project.id, &user.actor())
        .await?;
    state.intake.forget_project(project.id);
    tracing::info!(project = %project.slug, "notification URL regenerated");
    Ok(redirect_with_flash(
        &crate::urls::apple_step4(&project.slug),
        "warn",
        "The notification URL was replaced; the old one now answers 404. Paste the new URL into App Store Connect for Production and Sandbox.",
    ))
}
