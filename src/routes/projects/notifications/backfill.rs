//! `POST /projects/{project}/notifications/backfill`: starts a background fetch of Apple's notification history.
use actix_web::{web, HttpRequest, HttpResponse};

use super::{build_page, LogQuery, MANAGERS};
use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::notifications::backfill::{self, BackfillErrors, BackfillForm};
use crate::present::time::day;
use crate::routes::{project_by_slug, redirect_with_flash, unprocessable};
use crate::state::AppState;

pub async fn start(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    form: web::Form<BackfillForm>,
) -> Result<HttpResponse, AppError> {
    user.require(MANAGERS)?;
    user.check_csrf(&form.csrf_token)?;
    let project = project_by_slug(&state, &path).await?;
    let form = form.into_inner();
    let refuse = |errors: BackfillErrors| {
        let (state, req, user, project, form) = (&state, &req, &user, &project, form.clone());
        async move {
            let (mut page, _) = build_page(state, req, user, project, LogQuery::default()).await?;
            page.backfill = form;
            page.backfill_errors = errors;
            unprocessable(req, &page)
        }
    };
    let range = match backfill::validate(&form, crate::clock::now_ms()) {
        Ok(r) => r,
        Err(errors) => return refuse(errors).await,
    };
    if state.store.key_in_use(project.id).await?.is_none() {
        return refuse(BackfillErrors {
            form: Some("This project has no key in use, so storedesk can't ask Apple. Add one under App Store settings.".into()),
            ..BackfillErrors::default()
        })
        .await;
    }
    let started = backfill::start(
        state.clone().into_inner(),
        project.clone(),
        range,
        &user.actor(),
    )
    .await?;
    if started.is_none() {
        return refuse(BackfillErrors {
            form: Some("A backfill is already running for this project; wait for it to finish (its progress is below).".into()),
            ..BackfillErrors::default()
        })
        .await;
    }
    Ok(redirect_with_flash(
        &format!("/projects/{}/notifications#backfill", project.slug),
        "ok",
        &format!(
            "Backfill started: {} notifications from {} to {}. Its progress shows below; reload the page to follow it.",
            range.environment,
            day(range.start_ms),
            day(range.end_ms - 1)
        ),
    ))
}
