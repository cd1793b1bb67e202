//! `POST /projects/{project}/notifications/backfill`: starts a background fetch of Apple's notification history.
use actix_web::HttpResponse;

use super::{build_page, LogQuery};
use crate::auth::csrf::CsrfForm;
use crate::error::AppError;
use crate::notifications::backfill::{self, BackfillErrors, BackfillForm};
use crate::present::time::day;
use crate::routes::{redirect_with_flash, ProjectContext};

pub async fn start(
    cx: ProjectContext,
    form: CsrfForm<BackfillForm>,
) -> Result<HttpResponse, AppError> {
    let (state, project, user) = (&cx.state, &cx.project, &cx.user);
    let form = form.into_inner();
    let refuse = |errors: BackfillErrors| {
        let (cx, form) = (&cx, form.clone());
        async move {
            let (mut page, _) = build_page(cx, LogQuery::default()).await?;
            page.backfill = form;
            page.backfill_errors = errors;
            cx.unprocessable(&page)
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
        form.forwards(),
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
        &format!("{}#backfill", crate::urls::notifications(&project.slug)),
        "ok",
        &format!(
            "Backfill started: {} notifications from {} to {}. Its progress shows below; reload the page to follow it.",
            range.environment,
            day(range.start_ms),
            day(range.end_ms - 1)
        ),
    ))
}
