//! Delivers one alert to one channel: an e-mail through the configured mail server (lettre), or a JSON post
//! `{"text": …}` to a Slack-compatible incoming webhook (reqwest). A failure comes back as one sentence for the
//! settings page and the log, which never holds the webhook's URL (only its host) nor the mail server's password.
use std::sync::OnceLock;
use std::time::Duration;

use lettre::message::{header::ContentType, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};

use super::target::host_of;
use crate::config::{SmtpSettings, SmtpTls};
use crate::state::AppState;
use crate::store::alerts::{ChannelKind, ChannelRow};
use crate::telemetry::innermost_cause as cause;

/// The sentence when a channel is an e-mail recipient and the server has no mail settings.
pub const NO_SMTP: &str =
    "This server cannot send e-mail: STOREDESK_SMTP_URL and STOREDESK_SMTP_FROM are not set.";

/// Sends `subject` and `body` to `channel`; `Err` is the sentence saying what went wrong.
pub async fn deliver(
    state: &AppState,
    channel: &ChannelRow,
    subject: &str,
    body: &str,
) -> Result<(), String> {
    let timeout = state.settings.alerts.send_timeout;
    match channel.kind {
        ChannelKind::Email => {
            let smtp = state
                .settings
                .alerts
                .smtp
                .as_ref()
                .ok_or_else(|| NO_SMTP.to_owned())?;
            send_email(smtp, &channel.label, subject, body, timeout).await
        }
        ChannelKind::Webhook => {
            let (Some(sealed), Some(master_key_id)) = (&channel.sealed_url, &channel.master_key_id)
            else {
                return Err(
                    "The webhook's URL is missing; remove this webhook and add it again.".into(),
                );
            };
            let url = crate::keys::open_webhook_url(
                &state.settings.keyring(),
                channel.project_id,
                channel.id,
                sealed,
                master_key_id,
            )
            .map_err(|e| format!("The webhook's URL could not be opened: {e}"))?;
            post_webhook(&url, subject, body, timeout).await
        }
    }
}

fn seconds(d: Duration) -> String {
    match d.as_secs() {
        1 => "1 second".into(),
        n => format!("{n} seconds"),
    }
}

async fn send_email(
    smtp: &SmtpSettings,
    to: &str,
    subject: &str,
    body: &str,
    timeout: Duration,
) -> Result<(), String> {
    let server = format!("{}:{}", smtp.host, smtp.port);
    let from: Mailbox = smtp.from.parse().map_err(|_| {
        "STOREDESK_SMTP_FROM is not an address the mail library accepts.".to_owned()
    })?;
    let to: Mailbox = to
        .parse()
        .map_err(|_| format!("{to} is not an address the mail library accepts."))?;
    let message = Message::builder()
        .from(from)
        .to(to)
        .subject(subject)
        .header(ContentType::TEXT_PLAIN)
        .body(body.to_owned())
        .map_err(|e| format!("The e-mail could not be written: {e}"))?;
    let tls_params = || {
        TlsParameters::new(smtp.host.clone())
            .map_err(|e| format!("TLS to the mail server {server} could not be prepared: {e}"))
    };
    let tls = match smtp.tls {
        SmtpTls::Implicit => Tls::Wrapper(tls_params()?),
        SmtpTls::StartTls => Tls::Required(tls_params()?),
        SmtpTls::None => Tls::None,
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(smtp.host.clone())
        .port(smtp.port)
        .tls(tls)
        .timeout(Some(timeout));
    if let (Some(user), Some(password)) = (&smtp.username, &smtp.password) {
        builder = builder.credentials(Credentials::new(
            user.clone(),
            password.expose_secret().to_owned(),
        ));
    }
    let transport = builder.build();
    // lettre's timeout covers each read and write; the whole conversation gets a bound of its own as well.
    match tokio::time::timeout(timeout * 2, transport.send(message)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) if e.is_timeout() => Err(format!(
            "The mail server {server} did not answer within {}.",
            seconds(timeout)
        )),
        Ok(Err(e)) => Err(format!(
            "The mail server {server} did not take the e-mail: {e}."
        )),
        Err(_) => Err(format!(
            "The mail server {server} did not finish within {}.",
            seconds(timeout * 2)
        )),
    }
}

/// One HTTP client for every webhook: redirects are not followed (a webhook that redirects is misconfigured, and
/// following it would send the alert where nobody chose).
fn client() -> Result<&'static reqwest::Client, String> {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    if let Some(c) = CLIENT.get() {
        return Ok(c);
    }
    let built = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        // Alerts are rare: a connection is not kept for the next one.
        .pool_max_idle_per_host(0)
        .user_agent(concat!("storedesk/", env!("CARGO_PKG_VERSION"), " alerts"))
        .build()
        .map_err(|e| format!("The HTTP client could not be built: {}", e.without_url()))?;
    Ok(CLIENT.get_or_init(|| built))
}

async fn post_webhook(
    url: &SecretString,
    subject: &str,
    body: &str,
    timeout: Duration,
) -> Result<(), String> {
    let host = host_of(url);
    let text = format!("*{subject}*\n{body}");
    let response = client()?
        .post(url.expose_secret())
        .timeout(timeout)
        .json(&serde_json::json!({ "text": text }))
        .send()
        .await;
    match response {
        Ok(r) if r.status().is_success() => Ok(()),
        Ok(r) => {
            let status = r.status().as_u16();
            // Slack answers its refusals in a word (`invalid_token`, `no_service`); a longer body is left out.
            let said = r.text().await.unwrap_or_default();
            let said = said.trim();
            let short = said.len() <= 120
                && !said.is_empty()
                && said.chars().all(|c| c.is_ascii_graphic() || c == ' ');
            Err(if short {
                format!("The webhook at {host} answered HTTP {status}: {said}.")
            } else {
                format!("The webhook at {host} answered HTTP {status}.")
            })
        }
        Err(e) if e.is_timeout() => Err(format!(
            "The webhook at {host} did not answer within {}.",
            seconds(timeout)
        )),
        Err(e) if e.is_connect() => Err(format!(
            "Could not connect to the webhook at {host}: {}.",
            cause(&e)
        )),
        Err(e) => Err(format!(
            "The webhook at {host} could not be reached: {}.",
            cause(&e)
        )),
    }
}
