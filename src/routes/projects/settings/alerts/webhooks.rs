//! `POST /projects/{project}/settings/alerts/webhooks`: adds a Slack-compatible incoming webhook. Its URL is a
//! secret: sealed under the master key before it is stored, shown masked from then on, never shown back in the
//! form nor logged.
use actix_web::HttpResponse;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::{alerts_page, AddForm, EventFields, NO_EVENTS};
use crate::alerts::target::parse_webhook_url;
use crate::auth::csrf::CsrfForm;
use crate::error::AppError;
use crate::routes::{redirect_with_flash, ProjectContext};
use crate::store::alerts::{ChannelKind, NewChannel};
use crate::store::StoreError;

#[derive(Deserialize)]
pub struct WebhookForm {
    #[serde(default = "empty_secret")]
    pub url: SecretString,
    #[serde(flatten)]
    pub events: EventFields,
}

fn empty_secret() -> SecretString {
    SecretString::from(String::new())
}

pub async fn add(
    cx: ProjectContext,
    form: CsrfForm<WebhookForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let events = form.events.events();
    let mut shown = AddForm {
        events,
        ..AddForm::default()
    };
    let url = parse_webhook_url(form.url.expose_secret());
    if let Err(e) = &url {
        shown.target_error = Some(e.to_string());
    }
    if !events.any() {
        shown.events_error = Some(NO_EVENTS.to_owned());
    }
    let url = match url {
        Ok(url) if shown.events_error.is_none() => url,
        _ => return refuse(&cx, shown).await,
    };
    let keyring = cx.state.settings.keyring();
    let project_id = cx.project.id;
    let seal =
        |channel_id: i64| crate::keys::seal_webhook_url(&keyring, project_id, channel_id, &url.url);
    let added = cx
        .state
        .store
        .add_alert_channel(
            &NewChannel {
                project_id,
                kind: ChannelKind::Webhook,
                label: &url.masked,
                target_key: &url.target_key,
                events,
            },
            Some(&seal),
            &cx.user.actor(),
        )
        .await;
    match added {
        Ok(_) => Ok(redirect_with_flash(
            &crate::urls::alert_settings(&cx.project.slug),
            "ok",
            &format!(
                "The webhook {} will get alerts for {}. Its URL is stored encrypted and will not be shown again.",
                url.masked,
                events.words()
            ),
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
    page.webhook_form = shown;
    cx.unprocessable(&page)
}
