//! `POST /projects/{project}/settings/alerts/email`: adds an e-mail recipient and the events it gets.
use actix_web::HttpResponse;
use serde::Deserialize;

use super::{alerts_page, AddForm, EventFields, NO_EVENTS};
use crate::auth::csrf::CsrfForm;
use crate::domain::Email;
use crate::error::AppError;
use crate::routes::{redirect_with_flash, ProjectContext};
use crate::store::alerts::{ChannelKind, NewChannel};
use crate::store::StoreError;

/// Why an address was refused when the server cannot send e-mail.
pub const NO_SMTP: &str =
    "This server cannot send e-mail yet: whoever runs storedesk must set STOREDESK_SMTP_URL \
                           and STOREDESK_SMTP_FROM. Until then, add a webhook instead.";

#[derive(Deserialize)]
pub struct EmailForm {
    #[serde(default)]
    pub email: String,
    #[serde(flatten)]
    pub events: EventFields,
}

pub async fn add(cx: ProjectContext, form: CsrfForm<EmailForm>) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let events = form.events.events();
    let mut shown = AddForm {
        email: form.email.trim().to_owned(),
        events,
        ..AddForm::default()
    };
    let email = Email::parse(&form.email);
    match &email {
        Err(e) => shown.target_error = Some(e.to_string()),
        Ok(_) if cx.state.settings.alerts.smtp.is_none() => {
            shown.target_error = Some(NO_SMTP.to_owned())
        }
        Ok(_) => {}
    }
    if !events.any() {
        shown.events_error = Some(NO_EVENTS.to_owned());
    }
    let email = match email {
        Ok(email) if shown.target_error.is_none() && shown.events_error.is_none() => email,
        _ => return refuse(&cx, shown).await,
    };
    let added = cx
        .state
        .store
        .add_alert_channel(
            &NewChannel {
                project_id: cx.project.id,
                kind: ChannelKind::Email,
                label: email.as_str(),
                target_key: email.as_str(),
                events,
            },
            None,
            &cx.user.actor(),
        )
        .await;
    match added {
        Ok(_) => Ok(redirect_with_flash(
            &crate::urls::alert_settings(&cx.project.slug),
            "ok",
            &format!("{email} will get alerts for {}.", events.words()),
        )),
        Err(StoreError::Conflict(message)) => {
            shown.target_error = Some(message);
            refuse(&cx, shown).await
        }
        Err(e) => Err(e.into()),
    }
}

async fn refuse(cx: &ProjectContext, shown: AddForm) -> Result<HttpResponse, AppError> {
    let mut page = alerts_page(cx).await?;
    page.email_form = shown;
    cx.unprocessable(&page)
}
