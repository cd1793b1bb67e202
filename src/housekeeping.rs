//! Housekeeping, once an hour on one instance at a time (a lease): removes expired sessions, pending sign-ins and
//! passkey ceremonies, sign-in failures older than a day, and, when `STOREDESK_KEEP_NOTIFICATIONS_DAYS` / `STOREDESK_KEEP_DELIVERIES_DAYS` are set,
//! older notifications and finished forwarding deliveries. The audit log is never pruned.
use std::sync::Arc;
use std::time::Duration;

use crate::state::AppState;

const LEASE_NAME: &str = "housekeeping";
const INTERVAL: Duration = Duration::from_secs(3600);
/// The first run waits a little after start, so a fleet restarting at once does not prune while it warms up.
const FIRST_RUN_AFTER: Duration = Duration::from_secs(60);
/// Sign-in failures are kept a day: long past the 15-minute throttle window, for whoever looks into an attack.
const KEEP_LOGIN_FAILURES_MS: i64 = 24 * 3_600_000;

/// What one run removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Removed {
    pub sessions: u64,
    /// Right passwords whose second step never came, and passkey ceremonies never finished, once expired.
    pub pending_sign_ins: u64,
    pub login_failures: u64,
    pub notifications: u64,
    pub deliveries: u64,
}

pub fn spawn_schedule(state: Arc<AppState>) {
    let holder = format!("instance-{}", uuid::Uuid::new_v4());
    tokio::spawn(async move {
        let mut ticker =
            tokio::time::interval_at(tokio::time::Instant::now() + FIRST_RUN_AFTER, INTERVAL);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            ticker.tick().await;
            match run_once(&state, &holder, crate::clock::now_ms()).await {
                Ok(None) => {
                    tracing::debug!("housekeeping skipped: another instance holds the lease")
                }
                Ok(Some(removed)) if removed == Removed::default() => {}
                Ok(Some(removed)) => tracing::info!(
                    sessions = removed.sessions,
                    pending_sign_ins = removed.pending_sign_ins,
                    login_failures = removed.login_failures,
                    notifications = removed.notifications,
                    deliveries = removed.deliveries,
                    "housekeeping removed old rows"
                ),
                Err(e) => tracing::error!(error = ?e, "housekeeping failed"),
            }
        }
    });
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// One run at `now_ms`; `None` when another instance holds the lease.
pub async fn run_once(
    state: &AppState,
    holder: &str,
    now_ms: i64,
) -> anyhow::Result<Option<Removed>> {
    let store = &state.store;
    if !store
        .try_acquire_lease(LEASE_NAME, holder, now_ms, ms(INTERVAL) / 2)
        .await?
    {
        return Ok(None);
    }
    let settings = &state.settings;
    let sessions = store
        .delete_expired_sessions(
            now_ms - ms(settings.session_idle),
            now_ms - ms(settings.session_absolute),
        )
        .await?;
    let pending_sign_ins = store.delete_expired_pending_sign_ins(now_ms).await?;
    let login_failures = store
        .prune_login_failures(now_ms - KEEP_LOGIN_FAILURES_MS)
        .await?;
    let notifications = match settings.retention.notifications {
        Some(keep) => store.prune_notifications(now_ms - ms(keep)).await?,
        None => 0,
    };
    let deliveries = match settings.retention.deliveries {
        Some(keep) => store.prune_forward_deliveries(now_ms - ms(keep)).await?,
        None => 0,
    };
    Ok(Some(Removed {
        sessions,
        pending_sign_ins,
        login_failures,
        notifications,
        deliveries,
    }))
}
