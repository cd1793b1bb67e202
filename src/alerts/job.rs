//! The alert job: every interval, find each project's events, claim one alert per event and channel (a row with a
//! unique (channel, event) key: a second claim is a no-op), and deliver what is due, retrying with backoff. With
//! several instances on one database, a lease keeps the work to one of them, and each attempt takes its alert in
//! one statement, so even two runs at once never send an alert twice. The clock is a parameter, so tests need not
//! wait.
use std::sync::Arc;
use std::time::Duration;

use super::events::events_of;
use super::send::deliver;
use crate::state::AppState;
use crate::store::alerts::{DeliveryRow, NewAlert};

pub const LEASE_NAME: &str = "alerts.send";
/// An attempt that never reports back (the instance stopped mid-send) is tried again this much later.
pub const IN_FLIGHT_MS: i64 = 5 * 60_000;
/// After this many attempts an alert is given up, and the channel's last error says why.
pub const MAX_ATTEMPTS: i64 = 10;
/// At most this many alerts are delivered in one run; the rest wait for the next.
const BATCH: i64 = 200;

/// The wait before the attempt after `attempts` failed ones: 1, 2, 4 … minutes, at most an hour.
pub fn backoff_ms(attempts: i64) -> i64 {
    let doublings = u32::try_from(attempts.clamp(1, 7) - 1).unwrap_or(0);
    (60_000_i64 << doublings).min(3_600_000)
}

/// What one run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct AlertRun {
    /// Alerts claimed for new events.
    pub claimed: usize,
    pub sent: usize,
    /// Attempts that failed (to be retried, or given up).
    pub failed: usize,
    /// Alerts whose event stopped waiting before they could be sent.
    pub expired: usize,
}

#[derive(Debug)]
pub enum Run {
    /// Another instance holds the lease.
    Skipped,
    Ran(AlertRun),
}

fn lease_ttl_ms(state: &AppState) -> i64 {
    let interval = state
        .settings
        .alerts
        .interval
        .unwrap_or(Duration::from_secs(60));
    i64::try_from(interval.as_millis() * 4 / 5)
        .unwrap_or(i64::MAX)
        .max(10_000)
}

/// Starts the schedule (the first run one interval after start). Called once from `startup.rs`.
pub fn spawn_schedule(state: Arc<AppState>) {
    let Some(interval) = state.settings.alerts.interval else {
        tracing::info!("the alert job is off (STOREDESK_ALERTS_INTERVAL=off)");
        return;
    };
    let holder = format!("instance-{}", uuid::Uuid::new_v4());
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            ticker.tick().await;
            match run_once(&state, &holder, crate::clock::now_ms()).await {
                Ok(Run::Skipped) => {
                    tracing::debug!("alert job skipped: another instance holds the lease")
                }
                Ok(Run::Ran(run)) if run == AlertRun::default() => {}
                Ok(Run::Ran(run)) => tracing::info!(
                    claimed = run.claimed,
                    sent = run.sent,
                    failed = run.failed,
                    expired = run.expired,
                    "alert job done"
                ),
                Err(e) => tracing::error!(error = ?e, "alert job failed"),
            }
        }
    });
}

/// One run at `now_ms`: takes the lease (or returns `Skipped`), claims the alerts of new events, delivers what is due.
pub async fn run_once(state: &AppState, holder: &str, now_ms: i64) -> anyhow::Result<Run> {
    if !state
        .store
        .try_acquire_lease(LEASE_NAME, holder, now_ms, lease_ttl_ms(state))
        .await?
    {
        return Ok(Run::Skipped);
    }
    let mut run = AlertRun::default();
    for project in state.store.projects_with_alert_channels().await? {
        let channels = state.store.alert_channels(project.id).await?;
        let events = match events_of(state, &project, now_ms).await {
            Ok(events) => events,
            Err(e) => {
                tracing::error!(project = %project.slug, error = ?e, "alert job could not read the project's events");
                continue;
            }
        };
        for event in &events {
            for channel in channels.iter().filter(|c| event.kind.chosen_by(c.events)) {
                let alert = NewAlert {
                    channel_id: channel.id,
                    project_id: project.id,
                    event_key: &event.key,
                    subject: &event.subject,
                    body: &event.body,
                    expires_at: event.expires_at,
                };
                let claimed = match &event.reminds {
                    None => state.store.claim_alert(&alert, now_ms).await?,
                    Some((first, before)) => {
                        state
                            .store
                            .claim_reminder(&alert, first, *before, now_ms)
                            .await?
                    }
                };
                run.claimed += usize::from(claimed);
            }
        }
    }
    for alert in state.store.due_alerts(now_ms, BATCH).await? {
        attempt(state, &alert, now_ms, &mut run).await?;
    }
    state.metrics.inc("storedesk_alert_runs_total", "");
    Ok(Run::Ran(run))
}

async fn attempt(
    state: &AppState,
    alert: &DeliveryRow,
    now_ms: i64,
    run: &mut AlertRun,
) -> anyhow::Result<()> {
    if alert.expires_at.is_some_and(|at| at <= now_ms) {
        state.store.alert_expired(alert).await?;
        run.expired += 1;
        return Ok(());
    }
    // Taken in one statement: another instance that read the same row gets false and leaves it.
    if !state
        .store
        .start_alert_attempt(alert.id, now_ms, now_ms + IN_FLIGHT_MS)
        .await?
    {
        return Ok(());
    }
    let Some(channel) = state.store.alert_channel(alert.channel_id).await? else {
        return Ok(());
    };
    let attempts = alert.attempts + 1;
    match deliver(state, &channel, &alert.subject, &alert.body).await {
        Ok(()) => {
            state
                .store
                .alert_sent(alert, &channel.label, now_ms)
                .await?;
            state
                .metrics
                .inc("storedesk_alerts_total", "outcome=\"sent\"");
            run.sent += 1;
        }
        Err(sentence) => {
            let retry_at = (attempts < MAX_ATTEMPTS)
                .then(|| now_ms + backoff_ms(attempts))
                .filter(|at| alert.expires_at.is_none_or(|deadline| *at < deadline));
            // The label is the address or the masked URL: never the webhook's secret path.
            tracing::warn!(
                channel = channel.id,
                kind = channel.kind.as_str(),
                target = %channel.label,
                attempt = attempts,
                retry = retry_at.is_some(),
                error = %sentence,
                "alert not delivered"
            );
            state
                .store
                .alert_failed(alert, &channel.label, &sentence, now_ms, retry_at)
                .await?;
            state
                .metrics
                .inc("storedesk_alerts_total", "outcome=\"failed\"");
            run.failed += 1;
        }
    }
    Ok(())
}

/// Sends one test message to `channel` now (the settings page's **Send a test alert**); `Err` is the sentence.
pub async fn send_test(
    state: &AppState,
    project_name: &str,
    channel: &crate::store::alerts::ChannelRow,
) -> Result<(), String> {
    deliver(
        state,
        channel,
        &format!("[storedesk] {project_name}: test alert"),
        &format!(
            "This is a test alert from storedesk for the project {project_name}. Alerts sent here: {}.",
            channel.events.words()
        ),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        let minutes: Vec<i64> = (1..=9).map(|a| backoff_ms(a) / 60_000).collect();
        assert_eq!(minutes, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(backoff_ms(0), 60_000);
    }
}
