//! Backfill: fetch Apple's notification history for a date range in the background and store what is missing.
//! Progress lives in `notification_backfills`, so it survives a page reload and shows on every instance.
use std::sync::Arc;

use serde::Deserialize;

use super::history::{history_window_days, store_page, HistoryPager, DAY_MS};
use super::ingest::Source;
use crate::apple::Environment;
use crate::present::time::day;
use crate::state::AppState;
use crate::store::notification_work::BackfillProgress;
use crate::store::{Actor, Project, StoreResult};

/// Apple's startDate must stay inside its window while the pages are fetched; this margin keeps a start
/// on the window's first day valid for a job that runs a few minutes.
const WINDOW_MARGIN_MS: i64 = 10 * 60_000;

#[derive(Debug, Clone, Deserialize)]
pub struct BackfillForm {
    #[serde(default)]
    pub start: String,
    #[serde(default)]
    pub end: String,
    #[serde(default)]
    pub environment: String,
    /// The checkbox "forward what it fetches": present (`on`) when ticked; an unticked box sends nothing.
    #[serde(default)]
    pub forward: Option<String>,
}

impl Default for BackfillForm {
    /// A fresh form forwards what it fetches: a backfill recovers what Apple could not deliver, which the
    /// publisher's servers missed as well; the same `webhook-id` lets them drop what they already have.
    fn default() -> Self {
        BackfillForm {
            start: String::new(),
            end: String::new(),
            environment: String::new(),
            forward: Some("on".into()),
        }
    }
}

impl BackfillForm {
    pub fn forwards(&self) -> bool {
        self.forward.is_some()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackfillErrors {
    pub start: Option<String>,
    pub end: Option<String>,
    pub environment: Option<String>,
    /// Not tied to a field (a backfill already runs).
    pub form: Option<String>,
}

impl BackfillErrors {
    pub fn is_empty(&self) -> bool {
        *self == BackfillErrors::default()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackfillRange {
    pub environment: Environment,
    pub start_ms: i64,
    /// Exclusive: midnight after the last day.
    pub end_ms: i64,
}

/// Checks the form against Apple's rules for Get Notification History (startDate within the last 180 days in
/// Production and 30 in Sandbox; endDate after startDate; a future endDate means "until now").
pub fn validate(form: &BackfillForm, now_ms: i64) -> Result<BackfillRange, BackfillErrors> {
    let mut e = BackfillErrors::default();
    let environment = Environment::parse(form.environment.trim()).ok();
    if environment.is_none() {
        e.environment = Some("Choose Production or Sandbox.".into());
    }
    let start = if form.start.trim().is_empty() {
        e.start = Some("Choose the first day to fetch.".into());
        None
    } else {
        let day = crate::clock::parse_day(&form.start);
        if day.is_none() {
            e.start = Some("Write the start date as YYYY-MM-DD, for example 2026-11-01.".into());
        }
        day
    };
    let end = if form.end.trim().is_empty() {
        e.end = Some("Choose the last day to fetch.".into());
        None
    } else {
        let day = crate::clock::parse_day(&form.end);
        if day.is_none() {
            e.end = Some("Write the end date as YYYY-MM-DD, for example 2026-11-27.".into());
        }
        day
    };
    let today = now_ms.div_euclid(DAY_MS) * DAY_MS;
    if let Some(s) = start {
        if s > today {
            e.start =
                Some("The start date is in the future; choose today or an earlier day.".into());
        } else if let Some(env) = environment {
            let days = history_window_days(env);
            let earliest = now_ms - days * DAY_MS + WINDOW_MARGIN_MS;
            // The day holding the window's first moment is accepted and starts at that moment.
            if s + DAY_MS <= earliest {
                e.start = Some(format!(
                    "Apple keeps {env} notification history for {days} days: the start date can be {} at the earliest.",
                    day(earliest)
                ));
            }
        }
    }
    if let (Some(s), Some(end_day)) = (start, end) {
        if end_day < s && e.start.is_none() {
            e.end = Some("The end date must be on or after the start date.".into());
        }
    }
    match (e.is_empty(), environment, start, end) {
        (true, Some(environment), Some(s), Some(end_day)) => {
            let earliest = now_ms - history_window_days(environment) * DAY_MS + WINDOW_MARGIN_MS;
            Ok(BackfillRange {
                environment,
                start_ms: s.max(earliest),
                end_ms: end_day + DAY_MS,
            })
        }
        _ => Err(e),
    }
}

/// Records the job and runs it in a tokio task. `None` when a backfill already runs for the project. With
/// `forward`, what it stores is queued for the project's forwarding destinations too.
pub async fn start(
    state: Arc<AppState>,
    project: Project,
    range: BackfillRange,
    forward: bool,
    actor: &Actor,
) -> StoreResult<Option<i64>> {
    let Some(id) = state
        .store
        .start_backfill(
            project.id,
            range.environment.as_str(),
            range.start_ms,
            range.end_ms,
            actor,
        )
        .await?
    else {
        return Ok(None);
    };
    tokio::spawn(async move {
        run(&state, &project, id, range, forward).await;
    });
    Ok(Some(id))
}

/// Fetches every page, stores each notification with `Source::Backfill` (queued for forwarding when `forward`),
/// and reports after each page.
pub async fn run(
    state: &AppState,
    project: &Project,
    id: i64,
    range: BackfillRange,
    forward: bool,
) {
    let mut progress = BackfillProgress::default();
    let mut pager = HistoryPager::new(
        state,
        project,
        range.environment,
        range.start_ms,
        range.end_ms,
    );
    let error = loop {
        let payloads = match pager.next_page().await {
            Ok(Some(p)) => p,
            Ok(None) => break None,
            Err(e) => break Some(e.sentence()),
        };
        let outcome = match store_page(state, project, &payloads, Source::Backfill, forward).await {
            Ok(o) => o,
            Err(e) => break Some(e.sentence()),
        };
        progress.pages_done += 1;
        progress.fetched += payloads.len() as i64;
        progress.rejected += outcome.rejected;
        for (_, _, new) in &outcome.stored {
            if *new {
                progress.new_count += 1;
            } else {
                progress.already_present += 1;
            }
        }
        if let Err(e) = state.store.update_backfill_progress(id, &progress).await {
            tracing::error!(error = %e, job = id, "could not record backfill progress");
        }
    };
    if let Err(e) = state.store.update_backfill_progress(id, &progress).await {
        tracing::error!(error = %e, job = id, "could not record backfill progress");
    }
    if let Err(e) = state.store.finish_backfill(id, error.as_deref()).await {
        tracing::error!(error = %e, job = id, "could not record the end of a backfill");
    }
    tracing::info!(
        job = id,
        project = %project.slug,
        pages = progress.pages_done,
        fetched = progress.fetched,
        new = progress.new_count,
        already_present = progress.already_present,
        rejected = progress.rejected,
        failed = error.is_some(),
        "backfill finished"
    );
    state.metrics.inc(
        "storedesk_backfills_total",
        if error.is_some() {
            "outcome=\"failed\""
        } else {
            "outcome=\"done\""
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(start: &str, end: &str, env: &str) -> BackfillForm {
        BackfillForm {
            start: start.into(),
            end: end.into(),
            environment: env.into(),
            forward: None,
        }
    }

    // 2026-11-27 12:00 UTC
    const NOW: i64 = 1_795_780_800_000;

    #[test]
    fn a_range_inside_the_window_is_taken_whole() {
        let r = validate(&form("2026-11-01", "2026-11-27", "Production"), NOW).unwrap();
        assert_eq!(day(r.start_ms), "2026-11-01");
        assert_eq!(day(r.end_ms), "2026-11-28");
        assert_eq!(r.environment, Environment::Production);
    }

    #[test]
    fn the_window_follows_the_environment() {
        let e = validate(&form("2026-10-01", "2026-11-27", "Sandbox"), NOW).unwrap_err();
        assert_eq!(
            e.start.as_deref(),
            Some("Apple keeps Sandbox notification history for 30 days: the start date can be 2026-10-28 at the earliest.")
        );
        assert!(validate(&form("2026-10-01", "2026-11-27", "Production"), NOW).is_ok());
        // The boundary day is clamped to the window's first moment.
        let r = validate(&form("2026-10-28", "2026-11-27", "Sandbox"), NOW).unwrap();
        assert!(r.start_ms > NOW - 30 * DAY_MS);
        let e = validate(&form("2026-05-01", "2026-11-27", "Production"), NOW).unwrap_err();
        assert_eq!(
            e.start.as_deref(),
            Some("Apple keeps Production notification history for 180 days: the start date can be 2026-05-31 at the earliest.")
        );
    }

    #[test]
    fn each_field_has_its_sentence() {
        let e = validate(&form("", "27/11/2026", "Xcode"), NOW).unwrap_err();
        assert_eq!(e.start.as_deref(), Some("Choose the first day to fetch."));
        assert_eq!(
            e.end.as_deref(),
            Some("Write the end date as YYYY-MM-DD, for example 2026-11-27.")
        );
        assert_eq!(
            e.environment.as_deref(),
            Some("Choose Production or Sandbox.")
        );
        let e = validate(&form("2026-11-20", "2026-11-10", "Production"), NOW).unwrap_err();
        assert_eq!(
            e.end.as_deref(),
            Some("The end date must be on or after the start date.")
        );
        let e = validate(&form("2026-12-01", "2026-12-02", "Production"), NOW).unwrap_err();
        assert_eq!(
            e.start.as_deref(),
            Some("The start date is in the future; choose today or an earlier day.")
        );
    }
}
