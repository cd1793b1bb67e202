//! `/projects/{project}/settings/forwarding/{id}`: one destination — its health and queue, its delivery log
//! (filtered by status and environment, 50 a page, newest first), its replays with their progress, and for
//! managers its settings form, Send test event, Pause/Resume, Rotate secret, Replay and Remove.
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::form::{self, DestinationForm, FormView};
use super::DestinationView;
use crate::auth::csrf::CsrfForm;
use crate::domain::Role;
use crate::error::AppError;
use crate::forwarding::test_event::TestOutcome;
use crate::notifications::words::type_label;
use crate::present::time;
use crate::routes::{redirect_with_flash, Layout, ProjectContext};
use crate::store::forwarding::{
    DeliveryLogRow, DestinationRow, LogFilter, ReplayRow, StatusFilter, LOG_PAGE,
};

/// The log's filters as the address gives them; a value that is none of the choices means "all".
#[derive(Deserialize, Default, Clone)]
pub struct LogQuery {
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub environment: String,
    #[serde(default)]
    pub before: String,
}

pub struct DeliveryView {
    pub at: String,
    pub notification_href: String,
    pub type_label: String,
    pub type_code: String,
    pub environment: String,
    pub attempts: i64,
    pub word: &'static str,
    pub badge: &'static str,
    pub origin: String,
    pub http: String,
    pub latency: String,
    pub answer: Option<String>,
    pub error: Option<String>,
    pub next_try: Option<String>,
}

impl DeliveryView {
    pub fn of(slug: &str, d: &DeliveryLogRow, now: i64) -> Self {
        let (word, badge) = delivery_word(d);
        DeliveryView {
            at: time::utc_and_relative(d.last_attempt_at.unwrap_or(d.created_at), now),
            notification_href: crate::urls::notification(slug, d.notification_id),
            type_label: type_label(&d.notification_type),
            type_code: match &d.subtype {
                Some(s) => format!("{} · {s}", d.notification_type),
                None => d.notification_type.clone(),
            },
            environment: d.environment.clone(),
            attempts: d.attempts,
            word,
            badge,
            origin: d.origin.clone(),
            http: d
                .last_status
                .map(|s| s.to_string())
                .unwrap_or_else(|| "—".into()),
            latency: d
                .last_latency_ms
                .map(|ms| format!("{ms} ms"))
                .unwrap_or_else(|| "—".into()),
            answer: d.last_response.clone().filter(|a| !a.is_empty()),
            error: d.last_error.clone(),
            next_try: (d.status == "pending" && d.attempts > 0)
                .then(|| time::utc_and_relative(d.next_attempt_at, now)),
        }
    }
}

/// A delivery's badge: delivered, waiting (not tried in this round yet), retrying, dead.
pub fn delivery_word(d: &DeliveryLogRow) -> (&'static str, &'static str) {
    let shown = d.shown_status();
    let badge = match shown {
        StatusFilter::Delivered => "badge-good",
        StatusFilter::Dead => "badge-bad",
        StatusFilter::Retrying => "badge-warn",
        StatusFilter::Waiting => "badge-neutral",
    };
    (shown.as_str(), badge)
}

pub struct ReplayView {
    pub created: String,
    pub range: String,
    pub filters: String,
    pub word: &'static str,
    pub badge: &'static str,
    pub progress: String,
    /// 0–100, for the progress bar.
    pub percent: i64,
}

impl ReplayView {
    fn of(r: &ReplayRow, now: i64) -> Self {
        let (word, badge) = match r.status.as_str() {
            "done" => ("done", "badge-good"),
            "failed" => ("failed", "badge-bad"),
            _ => ("running", "badge-warn"),
        };
        ReplayView {
            created: format!(
                "{} by {}",
                time::utc_and_relative(r.created_at, now),
                r.created_by
            ),
            range: format!("{} to {}", time::day(r.from_ms), time::day(r.to_ms - 1)),
            filters: format!(
                "{}; {}",
                r.environment.as_deref().unwrap_or("Production and Sandbox"),
                match r.types.trim_matches(',') {
                    "" => "every type".to_owned(),
                    t => t.replace(',', ", "),
                }
            ),
            word,
            badge,
            progress: format!(
                "{} of {} notification{} queued",
                r.queued,
                r.matched,
                if r.matched == 1 { "" } else { "s" }
            ),
            percent: match r.matched {
                0 => 100,
                m => (r.queued * 100 / m).clamp(0, 100),
            },
        }
    }
}

/// The replay form as shown.
#[derive(Clone, Default)]
pub struct ReplayForm {
    pub from: String,
    pub to: String,
    pub environment: String,
    pub types: String,
    pub from_error: Option<String>,
    pub to_error: Option<String>,
    pub types_error: Option<String>,
}

#[derive(Template)]
#[template(path = "projects/settings/forwarding/destination.html")]
pub struct DestinationPage {
    pub layout: Layout,
    pub slug: String,
    pub can_manage: bool,
    pub d: DestinationView,
    pub status: String,
    pub environment: String,
    pub statuses: Vec<&'static str>,
    pub log: Vec<DeliveryView>,
    pub filtered: bool,
    pub older: Option<String>,
    pub first_page: Option<String>,
    pub replays: Vec<ReplayView>,
    pub form: FormView,
    pub replay: ReplayForm,
    pub test: Option<TestOutcome>,
    pub remove_error: Option<String>,
}

/// The destination of the address, if it is the project's.
pub async fn destination_of(cx: &ProjectContext, id: i64) -> Result<DestinationRow, AppError> {
    cx.state
        .store
        .forward_destination(cx.project.id, id)
        .await?
        .ok_or(AppError::NotFound)
}

pub async fn destination_page(
    cx: &ProjectContext,
    d: &DestinationRow,
    query: &LogQuery,
) -> Result<DestinationPage, AppError> {
    let now = crate::clock::now_ms();
    let store = &cx.state.store;
    let status = StatusFilter::parse(&query.status);
    let environment = ["Production", "Sandbox"]
        .into_iter()
        .find(|e| *e == query.environment.trim());
    let before = query.before.trim().parse::<i64>().ok();
    let filter = LogFilter {
        destination_id: Some(d.id),
        status,
        environment: environment.map(str::to_owned),
        before,
        limit: LOG_PAGE,
    };
    let (log, queues, replays) = tokio::join!(
        store.forward_delivery_log(cx.project.id, &filter),
        store.forward_queues(cx.project.id),
        store.forward_replays(cx.project.id, d.id, 10)
    );
    let (log, queues, replays) = (log?, queues?, replays?);
    let slug = cx.project.slug.clone();
    let (s, e) = (
        status.map(StatusFilter::as_str).unwrap_or_default(),
        environment.unwrap_or_default(),
    );
    let older = (i64::try_from(log.len()).unwrap_or(0) >= LOG_PAGE)
        .then(|| {
            log.last()
                .map(|r| crate::urls::forwarding_log(&slug, d.id, s, e, Some(r.id)))
        })
        .flatten();
    Ok(DestinationPage {
        layout: cx.layout(&format!("Forwarding · {}", d.settings.name), "forwarding"),
        can_manage: cx.user.is(Role::MANAGERS),
        d: DestinationView::of(d, queues.iter().find(|q| q.destination_id == d.id), now),
        status: s.to_owned(),
        environment: e.to_owned(),
        statuses: StatusFilter::ALL.iter().map(|f| f.as_str()).collect(),
        filtered: status.is_some() || environment.is_some(),
        first_page: before.map(|_| crate::urls::forwarding_log(&slug, d.id, s, e, None)),
        older,
        log: log
            .iter()
            .map(|r| DeliveryView::of(&slug, r, now))
            .collect(),
        replays: replays.iter().map(|r| ReplayView::of(r, now)).collect(),
        form: FormView::of(&d.settings),
        replay: ReplayForm {
            environment: match (d.settings.production, d.settings.sandbox) {
                (true, false) => "Production".into(),
                (false, true) => "Sandbox".into(),
                _ => String::new(),
            },
            types: d.settings.types.join(", "),
            ..ReplayForm::default()
        },
        test: None,
        remove_error: None,
        slug,
    })
}

pub async fn page(
    cx: ProjectContext,
    path: web::Path<(String, i64)>,
    query: web::Query<LogQuery>,
) -> Result<HttpResponse, AppError> {
    let (_, id) = path.into_inner();
    let d = destination_of(&cx, id).await?;
    cx.ok(&destination_page(&cx, &d, &query).await?)
}

/// Saves the settings form; pausing and resuming have their own buttons, so `enabled` is kept.
pub async fn update(
    cx: ProjectContext,
    path: web::Path<(String, i64)>,
    form: CsrfForm<DestinationForm>,
) -> Result<HttpResponse, AppError> {
    let (_, id) = path.into_inner();
    let d = destination_of(&cx, id).await?;
    let settings = match form::check(&form, d.settings.enabled) {
        Ok(settings) => settings,
        Err(shown) => {
            let mut page = destination_page(&cx, &d, &LogQuery::default()).await?;
            page.form = *shown;
            return cx.unprocessable(&page);
        }
    };
    cx.state
        .store
        .update_forward_destination(cx.project.id, id, &settings, &cx.user.actor())
        .await?;
    Ok(redirect_with_flash(
        &crate::urls::forwarding_destination(&cx.project.slug, id),
        "ok",
        &format!(
            "“{}” is saved. Notifications stored from now on follow its new settings.",
            settings.name
        ),
    ))
}
