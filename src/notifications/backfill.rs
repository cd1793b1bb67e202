//! Backfill: fetch Apple's notification history for a date range in the background and store what is missing.
//! Progress lives in `notification_backfills`, so it survives a page reload and shows on every instance. A job is
//! held under a lease on its row, renewed while it works; each page's record says where Apple's history goes on,
//! so when its instance stops, another instance's schedule takes the job over and finishes it from there
//! (re-fetching at most the page that was never recorded: stored notifications are deduplicated).
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use super::history::{history_window_days, store_page, HistoryPager, PageOutcome, DAY_MS};
use super::ingest::Source;
use crate::apple::Environment;
use crate::present::time::day;
use crate::state::AppState;
use crate::store::notification_work::{BackfillProgress, ResumePoint, MAX_BACKFILL_TAKEOVERS};
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

/// A backfill one run works on: the row's job, who holds it, and where it goes on.
struct Run {
    id: i64,
    range: BackfillRange,
    forward: bool,
    /// This run's id in the row's `lease_owner`.
    holder: String,
    lease: Duration,
    progress: BackfillProgress,
    resume: ResumePoint,
    /// After a takeover: the last time the stopped run recorded a page. What a backfill stored since then, the
    /// first page finds already here; it was this job's, so it is counted as new.
    taken_over_since: Option<i64>,
}

fn new_holder() -> String {
    format!("backfill-run-{}", uuid::Uuid::new_v4())
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Records the job, held by a new run of this instance, and runs it in a tokio task. `None` when a backfill
/// already runs for the project. With `forward`, what it stores is queued for the project's forwarding
/// destinations too.
pub async fn start(
    state: Arc<AppState>,
    project: Project,
    range: BackfillRange,
    forward: bool,
    actor: &Actor,
) -> StoreResult<Option<i64>> {
    let (holder, lease) = (new_holder(), state.settings.backfill.lease);
    let Some(id) = state
        .store
        .start_backfill(
            project.id,
            range.environment.as_str(),
            range.start_ms,
            range.end_ms,
            forward,
            &holder,
            millis(lease),
            actor,
        )
        .await?
    else {
        return Ok(None);
    };
    let run = Run {
        id,
        range,
        forward,
        holder,
        lease,
        progress: BackfillProgress::default(),
        resume: ResumePoint::FirstPage,
        taken_over_since: None,
    };
    tokio::spawn(async move {
        work(&state, &project, run).await;
    });
    Ok(Some(id))
}

/// How a page went.
enum Step {
    Page(usize, PageOutcome),
    End,
    Failed(String),
}

/// Runs `work` while renewing the run's lease every third of it, so a page Apple is slow with keeps the job on
/// this instance. `None` when another run holds the job now (this one must stop: its work is that run's).
async fn renewing<T>(
    state: &AppState,
    run: &Run,
    work: impl std::future::Future<Output = T>,
) -> Option<T> {
    tokio::pin!(work);
    let mut renew = tokio::time::interval((run.lease / 3).max(Duration::from_millis(10)));
    renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    renew.tick().await;
    loop {
        tokio::select! {
            out = &mut work => return Some(out),
            _ = renew.tick() => {
                match state.store.renew_backfill_lease(run.id, &run.holder, millis(run.lease)).await {
                    Ok(true) => {}
                    Ok(false) => return None,
                    // The database may come back before the lease runs out; if not, another instance goes on.
                    Err(e) => tracing::warn!(error = %e, job = run.id, "could not renew a backfill's lease"),
                }
            }
        }
    }
}

/// Fetches every page from the run's resume point, stores each notification with `Source::Backfill` (queued for
/// forwarding when `forward`), and records after each page its counts and where Apple's history goes on, so that
/// another instance can go on from there if this one stops.
async fn work(state: &AppState, project: &Project, mut run: Run) {
    let pager = HistoryPager::new(
        state,
        project,
        run.range.environment,
        run.range.start_ms,
        run.range.end_ms,
    );
    let (mut pager, ended) = match std::mem::replace(&mut run.resume, ResumePoint::FirstPage) {
        ResumePoint::FirstPage => (pager, false),
        ResumePoint::Page(token) => (pager.resume_at(token), false),
        ResumePoint::AllPagesStored => (pager, true),
    };
    let error = loop {
        // Every page was stored before the previous run stopped: only the end is left.
        if ended {
            break None;
        }
        let page = async {
            let payloads = match pager.next_page().await {
                Ok(Some(p)) => p,
                Ok(None) => return Step::End,
                Err(e) => return Step::Failed(e.sentence()),
            };
            match store_page(state, project, &payloads, Source::Backfill, run.forward).await {
                Ok(o) => Step::Page(payloads.len(), o),
                Err(e) => Step::Failed(e.sentence()),
            }
        };
        let Some(step) = renewing(state, &run, page).await else {
            tracing::warn!(
                job = run.id,
                "another instance took this backfill over; this run stops"
            );
            return;
        };
        let (fetched, outcome) = match step {
            Step::Page(n, o) => (n, o),
            Step::End => break None,
            Step::Failed(sentence) => break Some(sentence),
        };
        // The first page after a takeover may be the one the stopped run stored but never recorded.
        let theirs = match run.taken_over_since.take() {
            Some(since) => state
                .store
                .count_backfilled_since(project.id, &outcome.already_present, since)
                .await
                .unwrap_or_else(|e| {
                    tracing::warn!(error = %e, job = run.id, "could not tell this job's notifications apart");
                    0
                }),
            None => 0,
        };
        let p = &mut run.progress;
        p.pages_done += 1;
        p.fetched += fetched as i64;
        p.rejected += outcome.rejected;
        let already = outcome.already_present.len() as i64 - theirs;
        p.already_present += already;
        p.new_count += outcome.stored.len() as i64 - already;
        match state
            .store
            .record_backfill_page(
                run.id,
                &run.holder,
                &run.progress,
                pager.next_token().unwrap_or(""),
                millis(run.lease),
            )
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(
                    job = run.id,
                    "another instance took this backfill over; this run stops"
                );
                return;
            }
            // Not recorded: if this run goes on, its next record says it all; if it stops, the page is fetched again.
            Err(e) => {
                tracing::error!(error = %e, job = run.id, "could not record backfill progress")
            }
        }
        // The pager says when it is done (or why it stopped early) on the next call, without asking Apple.
    };
    finish(state, project, &run, error).await;
}

async fn finish(state: &AppState, project: &Project, run: &Run, error: Option<String>) {
    match state
        .store
        .finish_backfill(run.id, &run.holder, &run.progress, error.as_deref())
        .await
    {
        Ok(true) => {}
        Ok(false) => return,
        Err(e) => {
            tracing::error!(error = %e, job = run.id, "could not record the end of a backfill");
            return;
        }
    }
    let p = &run.progress;
    tracing::info!(
        job = run.id,
        project = %project.slug,
        pages = p.pages_done,
        fetched = p.fetched,
        new = p.new_count,
        already_present = p.already_present,
        rejected = p.rejected,
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

/// Takes over every backfill whose run stopped (its lease ran out) and goes on with it where it stopped, each in
/// its own task. Returns the ids it took over.
pub async fn take_over(state: &Arc<AppState>) -> StoreResult<Vec<i64>> {
    let lease = state.settings.backfill.lease;
    let mut taken = Vec::new();
    loop {
        let holder = new_holder();
        let Some(job) = state
            .store
            .claim_backfill(&holder, crate::clock::now_ms(), millis(lease))
            .await?
        else {
            return Ok(taken);
        };
        taken.push(job.id);
        let environment = Environment::parse(&job.environment).ok();
        let project = state.store.project_by_id(job.project_id).await?;
        let run = Run {
            id: job.id,
            range: BackfillRange {
                environment: environment.unwrap_or(Environment::Production),
                start_ms: job.start_ms,
                end_ms: job.end_ms,
            },
            forward: job.forward != 0,
            holder,
            lease,
            progress: match job.resume_point() {
                ResumePoint::FirstPage => BackfillProgress::default(),
                _ => job.progress(),
            },
            resume: job.resume_point(),
            taken_over_since: Some(job.updated_at),
        };
        tracing::info!(
            job = job.id,
            takeovers = job.takeovers,
            "taking over a backfill whose instance stopped"
        );
        let refusal = if job.takeovers > MAX_BACKFILL_TAKEOVERS {
            Some(format!(
                "storedesk stopped this backfill: the instances working on it stopped {} times. What it fetched \
                 until then is stored; start it again, with a shorter range if it stops again.",
                job.takeovers
            ))
        } else if environment.is_none() {
            Some(
                "This backfill names an environment storedesk does not know; start it again."
                    .to_owned(),
            )
        } else {
            None
        };
        match (project, refusal) {
            (Some(project), None) => {
                let state = state.clone();
                tokio::spawn(async move { work(&state, &project, run).await });
            }
            (Some(project), Some(sentence)) => finish(state, &project, &run, Some(sentence)).await,
            // The project is gone, and its jobs with it (ON DELETE CASCADE): nothing to end.
            (None, _) => {}
        }
    }
}

/// Starts the takeover on this instance (called once from `startup.rs`): every third of a lease it looks for a
/// backfill whose instance stopped.
pub fn spawn_schedule(state: Arc<AppState>) {
    if !state.settings.backfill.take_over {
        return;
    }
    let every = (state.settings.backfill.lease / 3).max(Duration::from_millis(100));
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            ticker.tick().await;
            match take_over(&state).await {
                Ok(taken) if taken.is_empty() => {}
                Ok(taken) => tracing::info!(jobs = ?taken, "backfills taken over"),
                Err(e) => tracing::error!(error = %e, "backfill takeover failed"),
            }
        }
    });
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
