//! `POST /projects/{project}/settings/alerts/{id}/remove` and `…/{id}/test`: stops a channel's alerts, or sends
//! it a test alert at once and says how it went.
use actix_web::{web, HttpResponse};

use crate::auth::csrf::{CsrfForm, NoFields};
use crate::error::AppError;
use crate::routes::{redirect_with_flash, ProjectContext};
use crate::store::alerts::ChannelRow;

async fn channel_of(cx: &ProjectContext, id: i64) -> Result<ChannelRow, AppError> {
    cx.state
        .store
        .alert_channel(id)
        .await?
        .filter(|c| c.project_id == cx.project.id)
        .ok_or(AppError::NotFound)
}

pub async fn remove(
    cx: ProjectContext,
    path: web::Path<(String, i64)>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let (_, id) = path.into_inner();
    let row = cx
        .state
        .store
        .remove_alert_channel(cx.project.id, id, &cx.user.actor())
        .await?;
    Ok(redirect_with_flash(
        &crate::urls::alert_settings(&cx.project.slug),
        "ok",
        &format!("{} will get no more alerts from this project.", row.label),
    ))
}

pub async fn test(
    cx: ProjectContext,
    path: web::Path<(String, i64)>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let (_, id) = path.into_inner();
    let channel = channel_of(&cx, id).await?;
    let outcome = crate::alerts::job::send_test(&cx.state, &cx.project.name, &channel).await;
    cx.state
        .store
        .record_alert_test(
            &channel,
            outcome.as_ref().map(|_| ()).map_err(String::as_str),
            &cx.user.actor(),
        )
        .await?;
    let back = crate::urls::alert_settings(&cx.project.slug);
    Ok(match outcome {
        Ok(()) => redirect_with_flash(
            &back,
            "ok",
            &format!("A test alert was sent to {}.", channel.label),
        ),
        Err(sentence) => redirect_with_flash(
            &back,
            "error",
            &format!("The test alert to {} failed. {sentence}", channel.label),
        ),
    })
}
