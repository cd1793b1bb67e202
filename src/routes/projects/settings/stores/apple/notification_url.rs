//! `POST /projects/{project}/settings/stores/apple/notification-url/regenerate`: a new notification URL for
//! Step 4; the old one stops working at once.
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::step4::wizard_url;
use crate::auth::CurrentUser;
use crate::domain::Role;
use crate::error::AppError;
use crate::routes::{project_by_slug, redirect_with_flash};
use crate::state::AppState;

const MANAGERS: &[Role] = Role::MANAGERS;

#[derive(Deserialize)]
pub struct RegenerateForm {
    csrf_token: String,
    #[serde(default)]
    confirm: Option<String>,
}

pub async fn regenerate(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    form: web::Form<RegenerateForm>,
) -> Result<HttpResponse, AppError> {
    user.require(MANAGERS)?;
    let project = project_by_slug(&state, &path).await?;
    user.check_csrf(&form.csrf_token)?;
    if form.confirm.as_deref() != Some("yes") {
        let mut page = super::wizard_page(&state, &req, &user, &project).await?;
        page.notifications.confirm_error = Some(
            "Tick the box to confirm: the current URL stops working at once, and App Store Connect must get the new one."
                .into(),
        );
        return crate::routes::unprocessable(&req, &page);
    }
    state
        .store
        .regenerate_notification_url(project.id, &user.actor())
        .await?;
    state.intake.forget_project(project.id);
    tracing::info!(project = %project.slug, "notification URL regenerated");
    Ok(redirect_with_flash(
        &format!("{}#step4", wizard_url(&project.slug)),
        "warn",
        "The notification URL was replaced; the old one now answers 404. Paste the new URL into App Store Connect for Production and Sandbox.",
    ))
}
