//! `POST /projects/{project}/notifications/{id}/redeliver`: sends one notification to one destination again (the
//! form's `destination`): its delivery starts a new round of attempts, with the same `webhook-id` as before, so a
//! receiver that already has it can tell.
use actix_web::{web, HttpResponse};
use serde::Deserialize;

use crate::auth::csrf::CsrfForm;
use crate::error::AppError;
use crate::routes::{redirect_with_flash, ProjectContext};
use crate::store::StoreError;

#[derive(Deserialize, Default)]
pub struct RedeliverForm {
    #[serde(default)]
    pub destination: String,
}

pub async fn redeliver(
    cx: ProjectContext,
    path: web::Path<(String, i64)>,
    form: CsrfForm<RedeliverForm>,
) -> Result<HttpResponse, AppError> {
    let (_, id) = path.into_inner();
    let back = format!(
        "{}#deliveries",
        crate::urls::notification(&cx.project.slug, id)
    );
    let destination = form.destination.trim().parse::<i64>().ok();
    let found = match destination {
        Some(d) => cx.state.store.forward_destination(cx.project.id, d).await?,
        None => None,
    };
    let Some(d) = found else {
        return Ok(redirect_with_flash(
            &back,
            "error",
            "Choose one of the project's destinations to redeliver to.",
        ));
    };
    match cx
        .state
        .store
        .redeliver(cx.project.id, id, d.id, &cx.user.actor())
        .await
    {
        Ok(()) => Ok(redirect_with_flash(
            &back,
            "ok",
            &if d.settings.enabled {
                format!(
                    "The notification is queued for “{}” again; it is sent within seconds.",
                    d.settings.name
                )
            } else {
                format!("The notification is queued for “{}” again; it is sent when the destination is resumed.", d.settings.name)
            },
        )),
        Err(StoreError::NotFound) => Err(AppError::NotFound),
        Err(e) => Err(e.into()),
    }
}
