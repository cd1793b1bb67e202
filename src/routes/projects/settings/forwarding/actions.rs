//! A destination's buttons: Pause and Resume (deliveries are still recorded while paused, and wait), Rotate
//! secret (the new one shown once; the old one signs beside it for 24 hours), Remove (with its confirmation box in
//! the same form) and Send test event (synchronous; the page shows the receiver's answer).
use actix_web::{web, HttpResponse};
use secrecy::ExposeSecret;
use serde::Deserialize;

use super::destination::{destination_of, destination_page, LogQuery};
use super::{secret_response, SecretPage};
use crate::auth::csrf::{CsrfForm, NoFields};
use crate::error::AppError;
use crate::forwarding::secret::ROTATION_OVERLAP_MS;
use crate::present::time;
use crate::routes::{redirect_with_flash, ProjectContext};

pub const NOT_CONFIRMED: &str =
    "Tick the box to confirm: removing a destination deletes its delivery log and stops its deliveries.";

async fn set_enabled(cx: ProjectContext, id: i64, enabled: bool) -> Result<HttpResponse, AppError> {
    let d = destination_of(&cx, id).await?;
    let mut settings = d.settings.clone();
    let back = crate::urls::forwarding_destination(&cx.project.slug, id);
    if settings.enabled == enabled {
        return Ok(redirect_with_flash(
            &back,
            "ok",
            &format!(
                "“{}” is already {}.",
                settings.name,
                if enabled { "delivering" } else { "paused" }
            ),
        ));
    }
    settings.enabled = enabled;
    cx.state
        .store
        .update_forward_destination(cx.project.id, id, &settings, &cx.user.actor())
        .await?;
    let message = if enabled {
        format!(
            "“{}” delivers again, starting with what waited.",
            settings.name
        )
    } else {
        format!(
            "“{}” is paused. Its notifications are still recorded and wait until you resume it.",
            settings.name
        )
    };
    Ok(redirect_with_flash(&back, "ok", &message))
}

pub async fn pause(
    cx: ProjectContext,
    path: web::Path<(String, i64)>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    set_enabled(cx, path.into_inner().1, false).await
}

pub async fn resume(
    cx: ProjectContext,
    path: web::Path<(String, i64)>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    set_enabled(cx, path.into_inner().1, true).await
}

pub async fn rotate(
    cx: ProjectContext,
    path: web::Path<(String, i64)>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let (_, id) = path.into_inner();
    let d = destination_of(&cx, id).await?;
    let secret = crate::forwarding::secret::generate();
    let keyring = cx.state.settings.keyring();
    let project_id = cx.project.id;
    let seal = |destination_id: i64| {
        crate::keys::seal_forward_secret(&keyring, project_id, destination_id, &secret)
    };
    let until = crate::clock::now_ms() + ROTATION_OVERLAP_MS;
    cx.state
        .store
        .rotate_forward_secret(project_id, id, &seal, until, &cx.user.actor())
        .await?;
    secret_response(
        &cx,
        &SecretPage {
            layout: cx.layout(
                &format!("New signing secret for “{}”", d.settings.name),
                "forwarding",
            ),
            slug: cx.project.slug.clone(),
            id,
            name: d.settings.name,
            secret: secret.expose_secret().to_owned(),
            previous_until: Some(time::utc(until)),
        },
    )
}

#[derive(Deserialize, Default)]
pub struct RemoveForm {
    #[serde(default)]
    pub confirm: Option<String>,
}

pub async fn remove(
    cx: ProjectContext,
    path: web::Path<(String, i64)>,
    form: CsrfForm<RemoveForm>,
) -> Result<HttpResponse, AppError> {
    let (_, id) = path.into_inner();
    let d = destination_of(&cx, id).await?;
    if form.confirm.as_deref() != Some("yes") {
        let mut page = destination_page(&cx, &d, &LogQuery::default()).await?;
        page.remove_error = Some(NOT_CONFIRMED.into());
        return cx.unprocessable(&page);
    }
    let row = cx
        .state
        .store
        .remove_forward_destination(cx.project.id, id, &cx.user.actor())
        .await?;
    Ok(redirect_with_flash(
        &crate::urls::forwarding(&cx.project.slug),
        "ok",
        &format!(
            "“{}” is removed: nothing more is forwarded to {}.",
            row.settings.name,
            crate::forwarding::target::host_of(&row.settings.url)
        ),
    ))
}

/// Sends the test event now and shows the destination's page with the answer (200 whatever the receiver said:
/// the form was fine).
pub async fn test(
    cx: ProjectContext,
    path: web::Path<(String, i64)>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let (_, id) = path.into_inner();
    let d = destination_of(&cx, id).await?;
    let outcome = crate::forwarding::test_event::send(
        &cx.state.settings.keyring(),
        &d,
        crate::clock::now_ms(),
    )
    .await?;
    cx.state
        .store
        .record_forward_test(
            cx.project.id,
            &d.settings.name,
            &match &outcome.error {
                None => format!("answered HTTP {}", outcome.status.unwrap_or_default()),
                Some(e) => e.clone(),
            },
            &cx.user.actor(),
        )
        .await?;
    let mut page = destination_page(&cx, &d, &LogQuery::default()).await?;
    page.test = Some(outcome);
    cx.ok(&page)
}
