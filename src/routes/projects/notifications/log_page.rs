//! The notification log page, built step by step from the store: the rows the filters select and the links to
//! page through them, the filter choices, the chart of notifications per day, the gap banner and the gaps, and
//! the backfills with their form.

use super::view::{Choice, NotificationView};
use super::{filter_of, BackfillView, FilterErrors, GapView, LogPage, LogQuery, PAGE_SIZE};
use crate::domain::Role;
use crate::error::AppError;
use crate::notifications::backfill::{BackfillErrors, BackfillForm};
use crate::notifications::chart::{self, Chart, DAY_MS};
use crate::notifications::gap::{self, GapSettings};
use crate::notifications::words;
use crate::present::time;
use crate::routes::ProjectContext;
use crate::state::AppState;
use crate::store::notification_log::LogFilter;
use crate::store::notification_work::{Backfill, BackfillStatus};
use crate::store::Project;

/// The chart shows at most this many days.
const MAX_CHART_DAYS: i64 = 92;
const DEFAULT_CHART_DAYS: i64 = 30;

/// Builds the whole page; `rows` are left empty when the filters did not parse.
pub async fn build_page(cx: &ProjectContext, q: LogQuery) -> Result<(LogPage, bool), AppError> {
    let (state, project, user) = (&*cx.state, &cx.project, &cx.user);
    let now = crate::clock::now_ms();
    let (filter, errors) = filter_of(&q);
    let rows = log_rows(state, project, &q, &filter, &errors, now).await?;
    let types = type_choices(state, project, q.notification_type.trim()).await?;
    let subtypes = subtype_choices(q.subtype.trim());
    let environments = environment_choices(q.environment.trim());
    let sources = source_choices(q.source.trim());
    let chart = chart_of(state, project, &filter, now).await?;
    let banner = gap_banner(state, project, now).await?;
    let gaps = recent_gaps(state, project, now).await?;
    let backfills = recent_backfills(state, project, now).await?;
    let page = LogPage {
        layout: cx.layout("Notifications", "notifications"),
        slug: project.slug.clone(),
        filtered: q.is_filtered(),
        errors: errors.clone(),
        rows: rows.rows,
        next_page: rows.next_page,
        first_page: rows.first_page,
        types,
        subtypes,
        environments,
        sources,
        chart,
        gap_sentences: banner.sentences,
        newest_gap_id: banner.newest_gap_id,
        gaps,
        can_manage: user.is(Role::MANAGERS),
        backfills,
        backfill: backfill_form(project, now),
        backfill_errors: BackfillErrors::default(),
        open_consumption: state
            .store
            .open_consumption_requests(project.id, now)
            .await?,
        names: state.store.catalog_names(project.id).await?,
        q,
    };
    Ok((page, errors.any()))
}

/// One page of the log and the links around it.
struct LogRows {
    rows: Vec<NotificationView>,
    /// The next (older) page, when there is one.
    next_page: Option<String>,
    /// Back to the newest page, when this is not it.
    first_page: Option<String>,
}

/// The page of notifications the filters select (none when they did not parse), newest first.
async fn log_rows(
    state: &AppState,
    project: &Project,
    q: &LogQuery,
    filter: &LogFilter,
    errors: &FilterErrors,
    now: i64,
) -> Result<LogRows, AppError> {
    let mut rows = if errors.any() {
        Vec::new()
    } else {
        state.store.list_notifications(project.id, filter).await?
    };
    let next_page = if rows.len() as i64 > PAGE_SIZE {
        rows.truncate(PAGE_SIZE as usize);
        rows.last().map(|last| {
            format!(
                "{}?{}&before={}.{}",
                crate::urls::notifications(&project.slug),
                q.filters(),
                last.signed_date,
                last.id
            )
        })
    } else {
        None
    };
    let first_page = filter.before.map(|_| {
        format!(
            "{}?{}",
            crate::urls::notifications(&project.slug),
            q.filters()
        )
    });
    Ok(LogRows {
        rows: rows
            .iter()
            .map(|r| NotificationView::new(&project.slug, r, now))
            .collect(),
        next_page,
        first_page,
    })
}

/// Every type Apple documents, then any other this project has received.
async fn type_choices(
    state: &AppState,
    project: &Project,
    current_type: &str,
) -> Result<Vec<Choice>, AppError> {
    let mut type_codes: Vec<String> = words::KNOWN_TYPES.iter().map(|t| (*t).to_owned()).collect();
    for seen in state.store.notification_types_seen(project.id).await? {
        if !type_codes.contains(&seen) {
            type_codes.push(seen);
        }
    }
    let mut types = vec![Choice {
        value: String::new(),
        label: "any type".into(),
        selected: current_type.is_empty(),
    }];
    types.extend(type_codes.iter().map(|t| Choice {
        value: t.clone(),
        label: format!("{} ({t})", words::type_label(t)),
        selected: t == current_type,
    }));
    Ok(types)
}

fn subtype_choices(current_subtype: &str) -> Vec<Choice> {
    let mut subtypes = vec![
        Choice {
            value: String::new(),
            label: "any subtype".into(),
            selected: current_subtype.is_empty(),
        },
        Choice {
            value: "none".into(),
            label: "no subtype".into(),
            selected: current_subtype == "none",
        },
    ];
    subtypes.extend(words::KNOWN_SUBTYPES.iter().map(|s| Choice {
        value: (*s).to_owned(),
        label: format!("{} ({s})", words::subtype_label(s)),
        selected: *s == current_subtype,
    }));
    subtypes
}

fn environment_choices(current: &str) -> Vec<Choice> {
    Choice::list(
        &[
            ("", "any environment"),
            ("Production", "Production"),
            ("Sandbox", "Sandbox"),
        ],
        current,
    )
}

fn source_choices(current: &str) -> Vec<Choice> {
    Choice::list(
        &[
            ("", "any source"),
            ("webhook", "delivered by Apple"),
            ("backfill", "fetched by a backfill"),
            ("recovered", "recovered by the gap check"),
        ],
        current,
    )
}

/// The chart follows the date filter (at most MAX_CHART_DAYS, ending on its last day), else the last 30 days.
async fn chart_of(
    state: &AppState,
    project: &Project,
    filter: &LogFilter,
    now: i64,
) -> Result<Chart, AppError> {
    let today = now.div_euclid(DAY_MS);
    let last_day = filter
        .until_ms
        .map(|u| (u - 1).div_euclid(DAY_MS))
        .unwrap_or(today);
    let first_day = filter
        .since_ms
        .map(|s| s.div_euclid(DAY_MS))
        .unwrap_or(last_day - DEFAULT_CHART_DAYS + 1)
        .max(last_day - MAX_CHART_DAYS + 1)
        .min(last_day);
    let days = last_day - first_day + 1;
    let counts = state
        .store
        .notifications_per_day(
            project.id,
            first_day * DAY_MS,
            (last_day + 1) * DAY_MS,
            filter.environment.as_deref(),
        )
        .await?;
    Ok(chart::build(first_day, days, &counts))
}

/// The banner over the log: the gaps of the lookback window nobody has marked as seen.
struct GapBanner {
    sentences: Vec<String>,
    /// The newest gap the banner shows, for the form that marks them as seen.
    newest_gap_id: i64,
}

async fn gap_banner(state: &AppState, project: &Project, now: i64) -> Result<GapBanner, AppError> {
    let gap_days = GapSettings::from_env().unwrap_or_default().lookback_days;
    let recent_gaps = state
        .store
        .gaps_since(project.id, now - gap_days * DAY_MS, true)
        .await?;
    Ok(GapBanner {
        sentences: gap::banner_sentences(&recent_gaps, gap_days),
        newest_gap_id: recent_gaps.iter().map(|g| g.id).max().unwrap_or(0),
    })
}

/// The gaps of the last 30 days, seen or not (at most 20).
async fn recent_gaps(
    state: &AppState,
    project: &Project,
    now: i64,
) -> Result<Vec<GapView>, AppError> {
    Ok(state
        .store
        .gaps_since(project.id, now - 30 * DAY_MS, false)
        .await?
        .into_iter()
        .take(20)
        .map(|g| GapView {
            detected: time::utc_and_relative(g.detected_at, now),
            environment: g.environment.clone(),
            window: format!(
                "{} to {}",
                time::utc(g.window_start),
                time::utc(g.window_end)
            ),
            types: serde_json::from_str(&g.type_counts).unwrap_or_default(),
            acknowledged: g.acknowledged_by.clone(),
        })
        .collect())
}

/// The five latest backfills with their progress.
async fn recent_backfills(
    state: &AppState,
    project: &Project,
    now: i64,
) -> Result<Vec<BackfillView>, AppError> {
    Ok(state
        .store
        .recent_backfills(project.id, 5)
        .await?
        .iter()
        .map(|b| backfill_view(b, now))
        .collect())
}

fn backfill_view(b: &Backfill, now: i64) -> BackfillView {
    // Stalled only until another instance's schedule takes the job over (within about a lease).
    let stalled = b.is_stalled(now);
    let (status, badge) = match b.status {
        _ if stalled => ("stalled", "badge-bad"),
        BackfillStatus::Running => ("running", "badge-warn"),
        BackfillStatus::Done => ("done", "badge-good"),
        BackfillStatus::Failed => ("failed", "badge-bad"),
    };
    let pages = if b.pages_done == 1 { "page" } else { "pages" };
    BackfillView {
        id: b.id,
        environment: b.environment.clone(),
        range: format!("{} to {}", time::day(b.start_ms), time::day(b.end_ms - 1)),
        status,
        badge,
        running: b.status == BackfillStatus::Running && !stalled,
        progress: format!(
            "{} {pages} read, {} notifications fetched: {} new, {} already here, {} did not verify",
            b.pages_done, b.fetched, b.new_count, b.already_present, b.rejected
        ),
        error: if stalled {
            Some(
                "The instance running this backfill stopped. Another storedesk instance resumes it where it \
                 stopped within a minute; nothing needs to be started again."
                    .into(),
            )
        } else {
            b.error.clone()
        },
        started: format!(
            "{} by {} ({})",
            time::utc(b.started_at),
            b.started_by,
            time::relative(b.started_at, now)
        ),
        resumed: b.taken_over_at.filter(|_| b.takeovers > 0).map(|at| {
            let times = match b.takeovers {
                1 => String::new(),
                n => format!(" ({n} times)"),
            };
            format!(
                "Resumed on another instance after its instance stopped{times}, {}.",
                time::utc_and_relative(at, now)
            )
        }),
    }
}

/// The backfill form as the page first shows it: the last seven days, in the project's environment.
fn backfill_form(project: &Project, now: i64) -> BackfillForm {
    let default_start = time::day(now - 7 * DAY_MS);
    BackfillForm {
        start: default_start,
        end: time::day(now),
        environment: project.environment.clone(),
        ..BackfillForm::default()
    }
}
