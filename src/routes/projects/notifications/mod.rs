//! `/projects/{project}/notifications`: the log (newest first, keyset-paged, filtered by a GET form), the chart of
//! notifications per day, the gap banner, and the backfill form with its jobs' progress.
pub mod backfill;
pub mod consumption;
pub mod detail;
mod log_page;
pub mod redeliver;
pub mod refunds;
pub mod view;

use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::auth::csrf::CsrfForm;
use crate::error::AppError;
use crate::notifications::backfill::{BackfillErrors, BackfillForm};
use crate::notifications::chart::{Chart, DAY_MS};
use crate::notifications::gap::TypeCount;
use crate::routes::{redirect_with_flash, Layout, ProjectContext};
use crate::store::notification_log::LogFilter;
use crate::urls::urlencode;
use view::{Choice, NotificationView};

pub use log_page::build_page;

const PAGE_SIZE: i64 = 50;

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
    /// When another instance took the job over after its instance stopped.
    pub resumed: Option<String>,
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
    /// The catalog's names of the products shown (empty without a synced catalog).
    pub names: crate::store::catalog::CatalogNames,
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
    match crate::clock::optional_day(&q.from) {
        Ok(d) => f.since_ms = d,
        Err(_) => e.from = Some(DATE_SENTENCE.into()),
    }
    match crate::clock::optional_day(&q.to) {
        // "to" names a whole day, so the range ends at the following midnight.
        Ok(d) => f.until_ms = d.map(|d| d + DAY_MS),
        Err(_) => e.to = Some(DATE_SENTENCE.into()),
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

pub async fn page(
    cx: ProjectContext,
    query: web::Query<LogQuery>,
) -> Result<HttpResponse, AppError> {
    let (page, invalid) = build_page(&cx, query.into_inner()).await?;
    if invalid {
        cx.unprocessable(&page)
    } else {
        cx.ok(&page)
    }
}

#[derive(Deserialize)]
pub struct AcknowledgeForm {
    /// The newest gap the banner showed: later ones stay until someone has seen them.
    #[serde(default)]
    up_to: Option<i64>,
}

pub async fn acknowledge_gaps(
    cx: ProjectContext,
    form: CsrfForm<AcknowledgeForm>,
) -> Result<HttpResponse, AppError> {
    let (state, project, user) = (&cx.state, &cx.project, &cx.user);
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
        &crate::urls::notifications(&project.slug),
        "ok",
        &format!(
            "Marked {n} gap record{} as seen. New gaps will show again.",
            if n == 1 { "" } else { "s" }
        ),
    ))
}
