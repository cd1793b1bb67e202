//! The gap job: every few minutes, ask Apple's notification history what it sent in the last days, store what
//! never arrived (`Source::Recovered`), and record the gap so the notifications page can say so. With several
//! instances on one database, a lease row makes sure only one of them runs it per interval.
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::history::{store_page, HistoryPager, DAY_MS};
use super::ingest::Source;
use crate::apple::Environment;
use crate::state::AppState;
use crate::store::notification_work::{GapRow, NewGap};
use crate::store::Project;

pub const LEASE_NAME: &str = "notifications.gap_check";
pub const INTERVAL_VAR: &str = "STOREDESK_GAP_CHECK_INTERVAL";
pub const DAYS_VAR: &str = "STOREDESK_GAP_CHECK_DAYS";
/// A run never reads more pages than this per project and environment (20 notifications a page).
const MAX_PAGES: usize = 500;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GapSettings {
    /// `None`: the scheduled job is off.
    pub interval: Option<Duration>,
    /// How far back each run looks.
    pub lookback_days: i64,
    /// Notifications younger than this are left alone: Apple may still be delivering them.
    pub settle: Duration,
}

impl Default for GapSettings {
    fn default() -> Self {
        GapSettings {
            interval: Some(Duration::from_secs(15 * 60)),
            lookback_days: 3,
            settle: Duration::from_secs(10 * 60),
        }
    }
}

/// "900", "90s", "15m", "1h" → a duration; "off" or "0" → None.
fn parse_interval(value: &str) -> Option<Option<Duration>> {
    let v = value.trim().to_ascii_lowercase();
    if v == "off" || v == "0" {
        return Some(None);
    }
    let (digits, unit) = match v.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => v.split_at(i),
        None => (v.as_str(), "s"),
    };
    let n: u64 = digits.parse().ok()?;
    let secs = match unit.trim() {
        "s" => n,
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        _ => return None,
    };
    (secs >= 10).then_some(Some(Duration::from_secs(secs)))
}

impl GapSettings {
    /// Reads `STOREDESK_GAP_CHECK_INTERVAL` and `STOREDESK_GAP_CHECK_DAYS`; a set but wrong value stops the start.
    pub fn from_env() -> anyhow::Result<Self> {
        let mut s = GapSettings::default();
        if let Ok(v) = std::env::var(INTERVAL_VAR) {
            s.interval = parse_interval(&v).ok_or_else(|| {
                anyhow::anyhow!("{INTERVAL_VAR} must be a duration of at least 10 seconds such as 900, 15m or 1h, or \"off\"; it is {v:?}")
            })?;
        }
        if let Ok(v) = std::env::var(DAYS_VAR) {
            s.lookback_days = v
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|d| (1..=30).contains(d))
                .ok_or_else(|| {
                    anyhow::anyhow!("{DAYS_VAR} must be a number of days from 1 to 30; it is {v:?}")
                })?;
        }
        Ok(s)
    }

    /// The lease outlives most of one interval, so the instance that ran keeps it until the next tick while a
    /// crashed holder frees it in time.
    fn lease_ttl_ms(&self) -> i64 {
        let interval = self.interval.unwrap_or(Duration::from_secs(15 * 60));
        i64::try_from(interval.as_millis() * 4 / 5)
            .unwrap_or(i64::MAX)
            .max(1_000)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypeCount {
    #[serde(rename = "type")]
    pub notification_type: String,
    pub sent: i64,
    pub arrived: i64,
    pub recovered: i64,
    pub missed: i64,
}

/// What one project and environment looked like to one run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GapReport {
    pub project_id: i64,
    pub environment: String,
    pub sent: i64,
    pub arrived: i64,
    pub recovered: i64,
    /// Recovered ones signed after the project existed, so they should have arrived here.
    pub missed: i64,
    pub rejected: i64,
    pub types: Vec<TypeCount>,
    /// The row recorded when something was recovered.
    pub gap_id: Option<i64>,
    /// Apple could not be asked; the sentence says why.
    pub error: Option<String>,
}

#[derive(Debug)]
pub enum GapRun {
    /// Another instance holds the lease.
    Skipped,
    Ran(Vec<GapReport>),
}

/// The environments the job asks about: the project's default one. A project set to Production is not also
/// checked in Sandbox, where an app under review answers 401 often enough to mark a good key `failing`.
fn environments(project: &Project) -> Vec<Environment> {
    vec![Environment::parse(&project.environment).unwrap_or(Environment::Production)]
}

/// Starts the schedule (the first run is one interval after start). Called once from `startup.rs`.
pub fn spawn_schedule(state: Arc<AppState>) -> anyhow::Result<()> {
    let settings = GapSettings::from_env()?;
    let Some(interval) = settings.interval else {
        tracing::info!("the notification gap check is off ({INTERVAL_VAR}=off)");
        return Ok(());
    };
    let holder = format!("instance-{}", uuid::Uuid::new_v4());
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            ticker.tick().await;
            match run_scheduled(&state, &holder, &settings).await {
                Ok(GapRun::Skipped) => {
                    tracing::debug!("gap check skipped: another instance holds the lease")
                }
                Ok(GapRun::Ran(reports)) => {
                    let recovered: i64 = reports.iter().map(|r| r.recovered).sum();
                    tracing::info!(projects = reports.len(), recovered, "gap check done");
                }
                Err(e) => tracing::error!(error = ?e, "gap check failed"),
            }
        }
    });
    Ok(())
}

/// One scheduled run: takes the lease (or returns `Skipped`), then checks every project that has a key.
pub async fn run_scheduled(
    state: &AppState,
    holder: &str,
    settings: &GapSettings,
) -> anyhow::Result<GapRun> {
    let now = crate::clock::now_ms();
    if !state
        .store
        .try_acquire_lease(LEASE_NAME, holder, now, settings.lease_ttl_ms())
        .await?
    {
        return Ok(GapRun::Skipped);
    }
    let mut reports = Vec::new();
    for project in state.store.projects_with_key().await? {
        // Renewed before each project: a long run keeps the lease, and a run that lost it (paused too long) stops.
        let renewed = state
            .store
            .try_acquire_lease(
                LEASE_NAME,
                holder,
                crate::clock::now_ms(),
                settings.lease_ttl_ms(),
            )
            .await?;
        if !renewed {
            tracing::warn!("gap check stopped: another instance took the lease");
            break;
        }
        for env in environments(&project) {
            let report = check(state, &project, env, settings, crate::clock::now_ms()).await;
            if let Some(e) = &report.error {
                tracing::warn!(project = %project.slug, %env, error = %e, "gap check could not ask Apple");
            }
            reports.push(report);
        }
    }
    state.metrics.inc("storedesk_gap_checks_total", "");
    Ok(GapRun::Ran(reports))
}

/// Compares Apple's history of one project and environment with what is stored, and stores what is missing.
pub async fn check(
    state: &AppState,
    project: &Project,
    env: Environment,
    settings: &GapSettings,
    now_ms: i64,
) -> GapReport {
    let settle = i64::try_from(settings.settle.as_millis()).unwrap_or(0);
    let window_start = now_ms - settings.lookback_days * DAY_MS;
    let window_end = now_ms - settle;
    let mut report = GapReport {
        project_id: project.id,
        environment: env.as_str().to_owned(),
        ..GapReport::default()
    };
    if window_end <= window_start {
        return report;
    }
    let mut types: BTreeMap<String, TypeCount> = BTreeMap::new();
    let mut pager = HistoryPager::new(state, project, env, window_start, window_end);
    for _ in 0..MAX_PAGES {
        let payloads = match pager.next_page().await {
            Ok(Some(p)) => p,
            Ok(None) => break,
            Err(e) => {
                report.error = Some(e.sentence());
                break;
            }
        };
        let outcome = match store_page(state, project, &payloads, Source::Recovered, true).await {
            Ok(o) => o,
            Err(e) => {
                report.error = Some(e.sentence());
                break;
            }
        };
        report.rejected += outcome.rejected;
        for (t, signed_date, new) in outcome.stored {
            let c = types.entry(t.clone()).or_insert_with(|| TypeCount {
                notification_type: t,
                ..TypeCount::default()
            });
            c.sent += 1;
            if new {
                c.recovered += 1;
                if signed_date >= project.created_at {
                    c.missed += 1;
                }
            } else {
                c.arrived += 1;
            }
        }
    }
    report.types = types.into_values().collect();
    for c in &report.types {
        report.sent += c.sent;
        report.arrived += c.arrived;
        report.recovered += c.recovered;
        report.missed += c.missed;
    }
    if report.recovered > 0 {
        let gap = NewGap {
            project_id: project.id,
            environment: report.environment.clone(),
            detected_at: crate::clock::now_ms(),
            window_start,
            window_end,
            sent: report.sent,
            arrived: report.arrived,
            recovered: report.recovered,
            missed: report.missed,
            type_counts: serde_json::to_string(&report.types).unwrap_or_else(|_| "[]".into()),
        };
        match state.store.record_gap(&gap).await {
            Ok(id) => report.gap_id = Some(id),
            Err(e) => tracing::error!(error = %e, "could not record a notification gap"),
        }
    }
    report
}

fn count_phrase(n: i64, t: &str) -> String {
    format!("{n} {t} notification{}", if n == 1 { "" } else { "s" })
}

fn join_and(parts: &[String]) -> String {
    match parts {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// The banner's sentences, one per environment, from the gaps detected in the last `days` days.
pub fn banner_sentences(gaps: &[GapRow], days: i64) -> Vec<String> {
    let mut by_env: BTreeMap<&str, BTreeMap<String, i64>> = BTreeMap::new();
    for g in gaps {
        let types: Vec<TypeCount> = serde_json::from_str(&g.type_counts).unwrap_or_default();
        for t in types.into_iter().filter(|t| t.missed > 0) {
            *by_env
                .entry(g.environment.as_str())
                .or_default()
                .entry(t.notification_type)
                .or_default() += t.missed;
        }
    }
    by_env
        .into_iter()
        .map(|(env, types)| {
            let mut counts: Vec<(String, i64)> = types.into_iter().collect();
            counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            let parts: Vec<String> = counts.iter().map(|(t, n)| count_phrase(*n, t)).collect();
            let day_words = if days == 1 {
                "the last day".to_owned()
            } else {
                format!("the last {days} days")
            };
            format!(
                "Apple sent {} in {env} in {day_words} that never arrived here; storedesk recovered them.",
                join_and(&parts)
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_read_like_people_write_them() {
        assert_eq!(parse_interval("900"), Some(Some(Duration::from_secs(900))));
        assert_eq!(parse_interval("15m"), Some(Some(Duration::from_secs(900))));
        assert_eq!(parse_interval("1h"), Some(Some(Duration::from_secs(3600))));
        assert_eq!(parse_interval("off"), Some(None));
        assert_eq!(parse_interval("5"), None);
        assert_eq!(parse_interval("soon"), None);
        assert_eq!(parse_interval("10x"), None);
    }

    fn gap(env: &str, types: &[(&str, i64)]) -> GapRow {
        let counts: Vec<TypeCount> = types
            .iter()
            .map(|(t, n)| TypeCount {
                notification_type: (*t).into(),
                sent: *n,
                arrived: 0,
                recovered: *n,
                missed: *n,
            })
            .collect();
        GapRow {
            id: 1,
            project_id: 1,
            environment: env.into(),
            detected_at: 0,
            window_start: 0,
            window_end: 0,
            sent: 0,
            arrived: 0,
            recovered: 0,
            missed: 0,
            type_counts: serde_json::to_string(&counts).unwrap(),
            acknowledged_at: None,
            acknowledged_by: None,
        }
    }

    #[test]
    fn the_banner_adds_up_gaps_per_environment() {
        let gaps = vec![
            gap("Production", &[("CONSUMPTION_REQUEST", 2)]),
            gap(
                "Production",
                &[("CONSUMPTION_REQUEST", 1), ("DID_RENEW", 1)],
            ),
            gap("Sandbox", &[("TEST", 1)]),
        ];
        assert_eq!(
            banner_sentences(&gaps, 3),
            vec![
                "Apple sent 3 CONSUMPTION_REQUEST notifications and 1 DID_RENEW notification in Production in the last 3 days that never arrived here; storedesk recovered them.".to_string(),
                "Apple sent 1 TEST notification in Sandbox in the last 3 days that never arrived here; storedesk recovered them.".to_string(),
            ]
        );
        assert!(banner_sentences(&[gap("Production", &[])], 3).is_empty());
    }
}
