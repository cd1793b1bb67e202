//! The scheduled sync: every project with a Step 1 key is synced again when its last sync started more than
//! [`SYNC_EVERY`] ago. Each project's sync takes that project's lease, so instances never sync one catalog twice
//! at once, and a project synced by hand a minute ago is not synced again.
use std::sync::Arc;
use std::time::Duration;

use crate::state::AppState;
use crate::store::Actor;

/// How old a catalog may grow before the schedule syncs it again. Catalogs change rarely and Apple counts every
/// request against the key's hour, so six hours is plenty.
pub const SYNC_EVERY: Duration = Duration::from_secs(6 * 3600);
/// How often the schedule looks for due projects.
const TICK: Duration = Duration::from_secs(300);

/// One pass: syncs every due project; returns how many syncs ran (busy ones not counted).
pub async fn run_once(state: &AppState, now_ms: i64, holder: &str) -> anyhow::Result<usize> {
    let every = i64::try_from(SYNC_EVERY.as_millis()).unwrap_or(i64::MAX);
    let due = state
        .store
        .projects_due_for_catalog_sync(now_ms.saturating_sub(every))
        .await?;
    let actor = Actor::system("catalog schedule");
    let mut ran = 0;
    for project_id in due {
        let Some(project) = state.store.project_by_id(project_id).await? else {
            continue;
        };
        let report = super::sync_project(state, &project, &actor, holder).await?;
        if report.outcome != "busy" {
            ran += 1;
            tracing::info!(project = %project.slug, outcome = report.outcome, "scheduled catalog sync");
        }
    }
    Ok(ran)
}

pub fn spawn_schedule(state: Arc<AppState>) {
    let holder = format!("instance-{}", uuid::Uuid::new_v4());
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(TICK);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            ticker.tick().await;
            if let Err(e) = run_once(&state, crate::clock::now_ms(), &holder).await {
                tracing::error!(error = ?e, "scheduled catalog sync failed");
            }
        }
    });
}
