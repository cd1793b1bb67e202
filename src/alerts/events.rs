//! What is worth an alert right now in one project, each event with a key that names it for good (so it is
//! claimed once per channel) and the message people read: a consumption request waiting (and, two hours before
//! its deadline, a reminder), a key Apple refuses, notifications the gap check found missing.
use serde::Deserialize;

use super::key_health::key_health;
use crate::present::{duration, time};
use crate::state::AppState;
use crate::store::alerts::AlertEvents;
use crate::store::notification_log::{QueueState, CONSUMPTION_DEADLINE_MS};
use crate::store::Project;

/// The reminder goes out this long before a consumption request's deadline.
pub const REMINDER_BEFORE_MS: i64 = 2 * 3_600_000;
/// Gaps detected longer ago than this are not alerted any more (the notifications page still shows them).
pub const GAP_ALERT_WINDOW_MS: i64 = 24 * 3_600_000;
/// At most this many open requests per project are looked at in one run (the soonest deadlines first).
const MAX_REQUESTS: i64 = 200;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    ConsumptionRequest,
    ConsumptionReminder,
    KeyProblem,
    NotificationGap,
}

impl EventKind {
    /// Whether a channel that chose `events` gets this kind.
    pub fn chosen_by(self, events: AlertEvents) -> bool {
        match self {
            EventKind::ConsumptionRequest | EventKind::ConsumptionReminder => {
                events.consumption_requests
            }
            EventKind::KeyProblem => events.key_problems,
            EventKind::NotificationGap => events.notification_gaps,
        }
    }
}

/// One event and its message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub kind: EventKind,
    /// Names the event for good: `consumption:12`, `consumption-reminder:12`, `key:3:0`, `gap:7`.
    pub key: String,
    pub subject: String,
    pub body: String,
    /// After this moment the alert is not worth sending (a consumption request's deadline).
    pub expires_at: Option<i64>,
    /// A reminder is claimed only for a channel whose first alert (this key) was claimed before this moment.
    pub reminds: Option<(String, i64)>,
}

#[derive(Deserialize)]
struct TypeCount {
    #[serde(rename = "type")]
    notification_type: String,
    #[serde(default)]
    missed: i64,
}

fn link(state: &AppState, path: &str) -> String {
    format!("{}{path}", state.settings.public_url.trim_end_matches('/'))
}

fn plural(n: i64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The events of `project` at `now_ms`.
pub async fn events_of(
    state: &AppState,
    project: &Project,
    now_ms: i64,
) -> anyhow::Result<Vec<Event>> {
    let mut events = Vec::new();
    let name = &project.name;
    let open = state
        .store
        .consumption_queue(project.id, QueueState::Open, now_ms, MAX_REQUESTS)
        .await?;
    for r in &open {
        let n = &r.notification;
        let deadline = n.signed_date + CONSUMPTION_DEADLINE_MS;
        let about = match (&n.transaction_id, &n.product_id) {
            (Some(t), Some(p)) => format!("transaction {t} ({p})"),
            (Some(t), None) => format!("transaction {t}"),
            _ => "a purchase".to_owned(),
        };
        let answer_at = link(
            state,
            &crate::urls::consumption_request(&project.slug, n.id),
        );
        let body = format!(
            "Apple asked for consumption information about {about} in {env} at {asked}, because the customer \
             asked for a refund. Answer by {deadline_utc} ({due}): after that Apple decides without it.\n\n\
             Answer it here: {answer_at}",
            env = n.environment,
            asked = time::utc(n.signed_date),
            deadline_utc = time::utc(deadline),
            due = duration::due_in(deadline, now_ms),
        );
        events.push(Event {
            kind: EventKind::ConsumptionRequest,
            key: format!("consumption:{}", n.id),
            subject: format!(
                "[storedesk] {name}: a consumption request waits for an answer (due {})",
                time::utc(deadline)
            ),
            body: body.clone(),
            expires_at: Some(deadline),
            reminds: None,
        });
        let remind_from = deadline - REMINDER_BEFORE_MS;
        if now_ms >= remind_from {
            events.push(Event {
                kind: EventKind::ConsumptionReminder,
                key: format!("consumption-reminder:{}", n.id),
                subject: format!(
                    "[storedesk] {name}: reminder, a consumption request is {} and still unanswered",
                    duration::due_in(deadline, now_ms)
                ),
                body: format!("Reminder: still no answer. {body}"),
                expires_at: Some(deadline),
                reminds: Some((format!("consumption:{}", n.id), remind_from)),
            });
        }
    }

    let key = state.store.key_in_use(project.id).await?;
    let health = key_health(key.as_ref(), now_ms);
    if let (true, Some(trouble)) = (health.needs_action(), &health.trouble) {
        events.push(Event {
            kind: EventKind::KeyProblem,
            key: format!("key:{trouble}"),
            subject: format!(
                "[storedesk] {name}: Apple refuses the In-App Purchase key {}",
                health.key_id.as_deref().unwrap_or_default()
            ),
            body: format!(
                "{}\n\nLookups, consumption answers and the gap check fail until the key is fixed or replaced. \
                 What to check, and Rotate: {}",
                health.sentence,
                link(state, &crate::urls::keys(&project.slug))
            ),
            expires_at: None,
            reminds: None,
        });
    }

    let gaps = state
        .store
        .gaps_since(project.id, now_ms - GAP_ALERT_WINDOW_MS, true)
        .await?;
    for g in gaps.iter().filter(|g| g.missed > 0) {
        let types: Vec<TypeCount> = serde_json::from_str(&g.type_counts).unwrap_or_default();
        let by_type: Vec<String> = types
            .iter()
            .filter(|t| t.missed > 0)
            .map(|t| format!("{} {}", t.missed, t.notification_type))
            .collect();
        let what = match by_type.is_empty() {
            true => plural(g.missed, "notification", "notifications"),
            false => format!(
                "{} ({})",
                plural(g.missed, "notification", "notifications"),
                by_type.join(", ")
            ),
        };
        events.push(Event {
            kind: EventKind::NotificationGap,
            key: format!("gap:{}", g.id),
            subject: format!("[storedesk] {name}: notifications from Apple did not arrive"),
            body: format!(
                "Apple sent {what} in {env} between {from} and {to} that never arrived at storedesk; the gap \
                 check recovered {them} from Apple's history. Check the notification URL in App Store Connect \
                 (Version 2, Production and Sandbox) against Step 4.\n\nThe notifications: {log}\nStep 4: {step4}",
                env = g.environment,
                from = time::utc(g.window_start),
                to = time::utc(g.window_end),
                them = if g.missed == 1 { "it" } else { "them" },
                log = link(state, &crate::urls::notifications(&project.slug)),
                step4 = link(state, &crate::urls::apple_step4(&project.slug)),
            ),
            expires_at: None,
            reminds: None,
        });
    }
    Ok(events)
}
