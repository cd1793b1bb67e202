//! `/projects/{project}/notifications`: the log (newest first, keyset-paged, filtered by a GET form), the chart of
//! notifications per day, the gap banner, and the backfill form with its jobs' progress.
pub mod backfill;
pub mod consumption;
pub mod detail;
pub mod refunds;
pub mod view;

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::auth::CurrentUser;
use crate::domain::Role;
use crate::error::AppError;
use crate::notifications::backfill::{BackfillErrors, BackfillForm};
use crate::notifications::chart::{self, Chart, DAY_MS};
use crate::notifications::gap::{self, GapSettings, TypeCount};
use crate::notifications::words;
use crate::present::time;
use crate::routes::{ok, project_by_slug, redirect_with_flash, unprocessable, Layout};
use crate::state::AppState;
use crate::store::notification_log::LogFilter;
use crate::store::notification_work::{Backfill, BACKFILL_STALL_MS};
use crate::store::Project;
use crate::urls::urlencode;
use view::{Choice, NotificationView};

pub const MANAGERS: &[Role] = &[Role::Admin, Role::Lead];
const PAGE_SIZE: i64 = 50;
/// The chart shows at most this many days.
const MAX_CHART_DAYS: i64 = 92;
const DEFAULT_CHART_DAYS: i64 = 30;

#[derive(Debug, Clone, Default, Deserialize)]
pub struct LogQuery {
    #[serde(default, rename = "type")]
    pub notification_type: String,
    #[serde(default)]
    pub subtype: String,
    #[serde(default)]
    pub environment: String,
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    /// A transaction id or original transaction id.
    #[serde(default)]
    pub q: String,
    /// Keyset cursor "signedDate.id" of the last row of the previous page.
    #[serde(default)]
    pub before: String,
}

impl LogQuery {
    /// The query string of these filters (no cursor), for paging links.
    fn filters(&self) -> String {
        format!(
            "type={}&subtype={}&environment={}&source={}&from={}&to={}&q={}",
            urlencode(&self.notification_type),
            urlencode(&self.subtype),
            urlencode(&self.environment),
            urlencode(&self.source),
            urlencode(&self.from),
            urlencode(&self.to),
            urlencode(self.q.trim()),
        )
    }

    fn is_filtered(&self) -> bool {
        [
            &self.notification_type,
            &self.subtype,
            &self.environment,
            &self.source,
            &self.from,
            &self.to,
            &self.q,
        ]
        .iter()
        .any(|v| !v.trim().is_empty())
    }
}

#[derive(Debug, Clone, Default)]
pub struct FilterErrors {
    pub notification_type: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub q: Option<String>,
}

impl FilterErrors {
    fn any(&self) -> bool {
        self.notification_type.is_some()
            || self.from.is_some()
            || self.to.is_some()
            || self.q.is_some()
    }
}

pub struct BackfillView {
    pub id: i64,
    pub environment: String,
    pub range: String,
    pub status: &'static str,
    pub badge: &'static str,
    pub running: bool,
    pub progress: String,
    pub error: Option<String>,
    pub started: String,
}

pub struct GapView {
    pub detected: String,
    pub environment: String,
    pub window: String,
    pub types: Vec<TypeCount>,
    pub acknowledged: Option<String>,
}

#[derive(Template)]
#[template(path = "projects/notifications/log.html")]
pub struct LogPage {
    pub layout: Layout,
    pub slug: String,
    pub q: LogQuery,
    pub errors: FilterErrors,
    pub filtered: bool,
    pub rows: Vec<NotificationView>,
    pub next_page: Option<String>,
    pub first_page: Option<String>,
    pub types: Vec<Choice>,
    pub subtypes: Vec<Choice>,
    pub environments: Vec<Choice>,
    pub sources: Vec<Choice>,
    pub chart: Chart,
    pub gap_sentences: Vec<String>,
    pub newest_gap_id: i64,
    pub gaps: Vec<GapView>,
    pub can_manage: bool,
    pub backfills: Vec<BackfillView>,
    pub backfill: BackfillForm,
    pub backfill_errors: BackfillErrors,
    pub open_consumption: i64,
}

fn day_start(s: &str) -> Result<Option<i64>, ()> {
    if s.trim().is_empty() {
        return Ok(None);
    }
    chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|dt| Some(dt.and_utc().timestamp_millis()))
        .ok_or(())
}

fn some(s: &str) -> Option<String> {
    Some(s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// Reads the GET filters; each bad one gets a sentence next to its field.
fn filter_of(q: &LogQuery) -> (LogFilter, FilterErrors) {
    let mut e = FilterErrors::default();
    let mut f = LogFilter {
        limit: PAGE_SIZE + 1,
        ..LogFilter::default()
    };
    let t = q.notification_type.trim();
    if !t.is_empty() {
        if t.len() <= 64 && t.chars().all(|c| c.is_ascii_uppercase() || c == '_') {
            f.notification_type = Some(t.to_owned());
        } else {
            e.notification_type = Some("Choose a notification type from the list.".into());
        }
    }
    f.subtype = match q.subtype.trim() {
        "" => None,
        "none" => Some(String::new()),
        s => Some(s.to_owned()),
    };
    f.environment = some(&q.environment);
    f.source = some(&q.source);
    const DATE_SENTENCE: &str = "Write dates as YYYY-MM-DD, for example 2026-11-26.";
    match day_start(&q.from) {
        Ok(d) => f.since_ms = d,
        Err(()) => e.from = Some(DATE_SENTENCE.into()),
    }
    match day_start(&q.to) {
        // "to" names a whole day, so the range ends at the following midnight.
        Ok(d) => f.until_ms = d.map(|d| d + DAY_MS),
        Err(()) => e.to = Some(DATE_SENTENCE.into()),
    }
    if let (Some(s), Some(u)) = (f.since_ms, f.until_ms) {
        if u <= s && e.to.is_none() {
            e.to = Some("The last day must be on or after the first day.".into());
        }
    }
    let id = q.q.trim();
    if !id.is_empty() {
        if id.len() <= 32 && id.chars().all(|c| c.is_ascii_digit()) {
            f.transaction_id = Some(id.to_owned());
        } else {
            e.q = Some("A transaction id is digits only, such as 2000000123456789. For an order id or a customer, use the transactions search.".into());
        }
    }
    f.before = q
        .before
        .split_once('.')
        .and_then(|(d, i)| Some((d.parse().ok()?, i.parse().ok()?)));
    (f, e)
}

fn backfill_view(b: &Backfill, now: i64) -> BackfillView {
    let stalled = b.status == "running" && now - b.updated_at > BACKFILL_STALL_MS;
    let (status, badge) = match b.status.as_str() {
        _ if stalled => ("stalled", "badge-bad"),
        "running" => ("running", "badge-warn"),
        "done" => ("done", "badge-good"),
        _ => ("failed", "badge-bad"),
    };
    let pages = if b.pages_done == 1 { "page" } else { "pages" };
    BackfillView {
        id: b.id,
        environment: b.environment.clone(),
        range: format!("{} to {}", time::day(b.start_ms), time::day(b.end_ms - 1)),
        status,
        badge,
        running: status == "running",
        progress: format!(
            "{} {pages} read, {} notifications fetched: {} new, {} already here, {} did not verify",
            b.pages_done, b.fetched, b.new_count, b.already_present, b.rejected
        ),
        error: if stalled {
            Some("The instance running this backfill stopped reporting; start it again.".into())
        } else {
            b.error.clone()
        },
        started: format!(
            "{} by {} ({})",
            time::utc(b.started_at),
            b.started_by,
            time::relative(b.started_at, now)
        ),
    }
}

/// Builds the whole page; `rows` are left empty when the filters did not parse.
pub async fn build_page(
    state: &AppState,
    req: &HttpRequest,
    user: &CurrentUser,
    project: &Project,
    q: LogQuery,
) -> Result<(LogPage, bool), AppError> {
    let now = crate::clock::now_ms();
    let (filter, errors) = filter_of(&q);
    let mut rows = if errors.any() {
        Vec::new()
    } else {
        state.store.list_notifications(project.id, &filter).await?
    };
    let next_page = if rows.len() as i64 > PAGE_SIZE {
        rows.truncate(PAGE_SIZE as usize);
        rows.last().map(|last| {
            format!(
                "/projects/{}/notifications?{}&before={}.{}",
                project.slug,
                q.filters(),
                last.signed_date,
                last.id
            )
        })
    } else {
        None
    };
    let first_page = filter
        .before
        .map(|_| format!("/projects/{}/notifications?{}", project.slug, q.filters()));

    let mut type_codes: Vec<String> = words::KNOWN_TYPES.iter().map(|t| (*t).to_owned()).collect();
    for seen in state.store.notification_types_seen(project.id).await? {
        if !type_codes.contains(&seen) {
            type_codes.push(seen);
        }
    }
    let current_type = q.notification_type.trim();
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
    let current_subtype = q.subtype.trim();
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
    let environments = Choice::list(
        &[
            ("", "any environment"),
            ("Production", "Production"),
            ("Sandbox", "Sandbox"),
        ],
        q.environment.trim(),
    );
    let sources = Choice::list(
        &[
            ("", "any source"),
            ("webhook", "delivered by Apple"),
            ("backfill", "fetched by a backfill"),
            ("recovered", "recovered by the gap check"),
        ],
        q.source.trim(),
    );

    // The chart follows the date filter (at most MAX_CHART_DAYS, ending on its last day), else the last 30 days.
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
    let chart = chart::build(first_day, days, &counts);

    let gap_days = GapSettings::from_env().unwrap_or_default().lookback_days;
    let recent_gaps = state
        .store
        .gaps_since(project.id, now - gap_days * DAY_MS, true)
        .await?;
    let gap_sentences = gap::banner_sentences(&recent_gaps, gap_days);
    let newest_gap_id = recent_gaps.iter().map(|g| g.id).max().unwrap_or(0);
    let gaps = state
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
        .collect();

    let backfills = state
        .store
        .recent_backfills(project.id, 5)
        .await?
        .iter()
        .map(|b| backfill_view(b, now))
        .collect();
    let default_start = time::day(now - 7 * DAY_MS);
    let page = LogPage {
        layout: Layout::new(
            state,
            req,
            user,
            "Notifications",
            Some((project, "notifications")),
        )
        .await?,
        slug: project.slug.clone(),
        filtered: q.is_filtered(),
        errors: errors.clone(),
        rows: rows
            .iter()
            .map(|r| NotificationView::new(&project.slug, r, now))
            .collect(),
        next_page,
        first_page,
        types,
        subtypes,
        environments,
        sources,
        chart,
        gap_sentences,
        newest_gap_id,
        gaps,
        can_manage: user.is(MANAGERS),
        backfills,
        backfill: BackfillForm {
            csrf_token: String::new(),
            start: default_start,
            end: time::day(now),
            environment: project.environment.clone(),
        },
        backfill_errors: BackfillErrors::default(),
        open_consumption: state
            .store
            .open_consumption_requests(project.id, now)
            .await?,
        q,
    };
    Ok((page, errors.any()))
}

pub async fn page(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    query: web::Query<LogQuery>,
) -> Result<HttpResponse, AppError> {
    let project = project_by_slug(&state, &path).await?;
    let (page, invalid) = build_page(&state, &req, &user, &project, query.into_inner()).await?;
    if invalid {
        unprocessable(&req, &page)
    } else {
        ok(&req, &page)
    }
}

#[derive(Deserialize)]
pub struct AcknowledgeForm {
    #[serde(default)]
    csrf_token: String,
    /// The newest gap the banner showed: later ones stay until someone has seen them.
    #[serde(default)]
    up_to: Option<i64>,
}

pub async fn acknowledge_gaps(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    form: web::Form<AcknowledgeForm>,
) -> Result<HttpResponse, AppError> {
    user.require(MANAGERS)?;
    user.check_csrf(&form.csrf_token)?;
    let project = project_by_slug(&state, &path).await?;
    let up_to = form.up_to.ok_or_else(|| {
        AppError::BadRequest(
            "The form did not say which gaps were seen; reload the page and try again.".into(),
        )
    })?;
    let n = state
        .store
        .acknowledge_gaps(project.id, up_to, &user.actor())
        .await?;
    Ok(redirect_with_flash(
        &format!("/projects/{}/notifications", project.slug),
        "ok",
        &format!(
            "Marked {n} gap record{} as seen. New gaps will show again.",
            if n == 1 { "" } else { "s" }
        ),
    ))
}
