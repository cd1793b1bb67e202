//! `/projects/{project}/settings/alerts`: where the project's alerts go (e-mail recipients, Slack-compatible
//! webhooks), which events each gets, how its last deliveries went, and the latest alerts. Adding is in
//! `email.rs` and `webhooks.rs`, removing and the test alert in `channel.rs`.
pub mod channel;
pub mod email;
pub mod webhooks;

use actix_web::HttpResponse;
use askama::Template;
use serde::Deserialize;

use crate::error::AppError;
use crate::present::time;
use crate::routes::{Layout, ProjectContext};
use crate::store::alerts::{AlertEvents, ChannelKind, ChannelRow, DeliveryRow, DeliveryStatus};

/// The events a form chose: a ticked checkbox is sent, an unticked one is not.
#[derive(Deserialize, Default, Clone)]
pub struct EventFields {
    #[serde(default)]
    pub consumption_requests: Option<String>,
    #[serde(default)]
    pub key_problems: Option<String>,
    #[serde(default)]
    pub notification_gaps: Option<String>,
}

impl EventFields {
    pub fn events(&self) -> AlertEvents {
        AlertEvents {
            consumption_requests: self.consumption_requests.is_some(),
            key_problems: self.key_problems.is_some(),
            notification_gaps: self.notification_gaps.is_some(),
        }
    }
}

/// Why a channel was refused: at least one event must be ticked.
pub const NO_EVENTS: &str = "Tick at least one kind of alert to send.";

/// One add form as shown: the events ticked, the e-mail typed (a webhook's URL is never shown back), and the
/// sentences of a refusal.
#[derive(Clone)]
pub struct AddForm {
    pub email: String,
    pub events: AlertEvents,
    pub target_error: Option<String>,
    pub events_error: Option<String>,
}

impl Default for AddForm {
    fn default() -> Self {
        AddForm {
            email: String::new(),
            events: AlertEvents {
                consumption_requests: true,
                key_problems: true,
                notification_gaps: true,
            },
            target_error: None,
            events_error: None,
        }
    }
}

pub struct ChannelView {
    pub id: i64,
    pub kind: &'static str,
    pub label: String,
    pub events: String,
    pub word: &'static str,
    pub badge: &'static str,
    pub created: String,
    pub last_sent: String,
    pub last_error: Option<String>,
    pub pending: i64,
}

impl ChannelView {
    fn of(c: &ChannelRow, now: i64) -> Self {
        let failing = match (c.last_error_at, c.last_sent_at) {
            (Some(e), Some(s)) => e > s,
            (Some(_), None) => true,
            _ => false,
        };
        let (word, badge) = match (failing, c.last_sent_at) {
            (true, _) => ("failing", "badge-bad"),
            (false, Some(_)) => ("working", "badge-good"),
            (false, None) => ("nothing sent yet", "badge-neutral"),
        };
        ChannelView {
            id: c.id,
            kind: match c.kind {
                ChannelKind::Email => "E-mail",
                ChannelKind::Webhook => "Webhook",
            },
            label: c.label.clone(),
            events: c.events.words(),
            word,
            badge,
            created: format!(
                "{} by {}",
                time::utc_and_relative(c.created_at, now),
                c.created_by
            ),
            last_sent: c
                .last_sent_at
                .map(|at| time::utc_and_relative(at, now))
                .unwrap_or_else(|| "never".into()),
            last_error: match (&c.last_error, c.last_error_at) {
                (Some(e), Some(at)) => Some(format!("{} — {e}", time::utc_and_relative(at, now))),
                _ => None,
            },
            pending: c.pending,
        }
    }
}

pub struct AlertView {
    /// When it was sent, or when its event was claimed.
    pub at: String,
    pub to: String,
    pub subject: String,
    pub word: &'static str,
    pub badge: &'static str,
    /// When a failed alert is tried again.
    pub next_try: Option<String>,
    pub error: Option<String>,
}

impl AlertView {
    fn of(d: &DeliveryRow, channels: &[ChannelRow], now: i64) -> Self {
        let (word, badge, at) = match d.status {
            DeliveryStatus::Sent => ("sent", "badge-good", d.sent_at.unwrap_or(d.created_at)),
            DeliveryStatus::Failed => ("given up", "badge-bad", d.created_at),
            DeliveryStatus::Pending if d.attempts == 0 => {
                ("waiting", "badge-neutral", d.created_at)
            }
            DeliveryStatus::Pending => ("failed, will retry", "badge-warn", d.created_at),
        };
        AlertView {
            at: time::utc_and_relative(at, now),
            to: channels
                .iter()
                .find(|c| c.id == d.channel_id)
                .map(|c| c.label.clone())
                .unwrap_or_default(),
            subject: d.subject.clone(),
            word,
            badge,
            next_try: (d.status == DeliveryStatus::Pending && d.attempts > 0)
                .then(|| time::utc_and_relative(d.next_attempt_at, now)),
            error: d.last_error.clone(),
        }
    }
}

#[derive(Template)]
#[template(path = "projects/settings/alerts.html")]
pub struct AlertsPage {
    pub layout: Layout,
    pub slug: String,
    pub smtp_ready: bool,
    pub channels: Vec<ChannelView>,
    pub recent: Vec<AlertView>,
    pub email_form: AddForm,
    pub webhook_form: AddForm,
}

pub async fn alerts_page(cx: &ProjectContext) -> Result<AlertsPage, AppError> {
    let (state, project) = (&cx.state, &cx.project);
    let now = crate::clock::now_ms();
    let channels = state.store.alert_channels(project.id).await?;
    let recent = state.store.recent_alerts(project.id, 20).await?;
    Ok(AlertsPage {
        layout: cx.layout("Alerts", "alerts"),
        slug: project.slug.clone(),
        smtp_ready: state.settings.alerts.smtp.is_some(),
        recent: recent
            .iter()
            .map(|d| AlertView::of(d, &channels, now))
            .collect(),
        channels: channels.iter().map(|c| ChannelView::of(c, now)).collect(),
        email_form: AddForm::default(),
        webhook_form: AddForm::default(),
    })
}

pub async fn page(cx: ProjectContext) -> Result<HttpResponse, AppError> {
    cx.ok(&alerts_page(&cx).await?)
}
