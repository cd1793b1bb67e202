//! `/admin/audit`: every change and lookup, newest first, filterable.
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::present::time;
use crate::routes::{ok, Layout};
use crate::state::AppState;
use crate::store::AuditFilter;

pub struct AuditRow {
    pub at: String,
    pub ago: String,
    pub user_email: String,
    pub action: String,
    pub target: String,
    pub detail: String,
    pub ip: String,
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
pub struct AuditPage {
    pub layout: Layout,
    pub rows: Vec<AuditRow>,
    pub actions: Vec<String>,
    pub q: AuditQuery,
    pub next_page: Option<String>,
    pub date_error: Option<String>,
}

#[derive(Deserialize, Default, Clone)]
pub struct AuditQuery {
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub user: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub before: Option<i64>,
}

const PAGE_SIZE: i64 = 50;

pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, AppError> {
    let q = query.into_inner();
    let mut date_error = None;
    let since = crate::clock::optional_day(&q.from).unwrap_or_else(|_| {
        date_error = Some("Dates are written YYYY-MM-DD, for example 2026-11-26.".to_string());
        None
    });
    let until = crate::clock::optional_day(&q.to).unwrap_or_else(|_| {
        date_error = Some("Dates are written YYYY-MM-DD, for example 2026-11-26.".to_string());
        None
    });
    let filter = AuditFilter {
        action: Some(q.action.trim().to_string()).filter(|s| !s.is_empty()),
        user_email: Some(q.user.trim().to_ascii_lowercase()).filter(|s| !s.is_empty()),
        project_id: None,
        since_ms: since,
        // "to" names a whole day, so the range ends at the following midnight.
        until_ms: until.map(|u| u + 86_400_000),
        before_id: q.before,
        limit: PAGE_SIZE + 1,
    };
    let mut entries = state.store.list_audit(&filter).await?;
    let next_page = if entries.len() as i64 > PAGE_SIZE {
        entries.truncate(PAGE_SIZE as usize);
        entries.last().map(|last| {
            crate::urls::link(
                &crate::urls::admin_audit(),
                &[
                    ("action", q.action.clone()),
                    ("user", q.user.clone()),
                    ("from", q.from.clone()),
                    ("to", q.to.clone()),
                    ("before", last.id.to_string()),
                ],
            )
        })
    } else {
        None
    };
    let now = crate::clock::now_ms();
    let page = AuditPage {
        layout: Layout::new(&state, &req, &user, "Audit log", None).await?,
        rows: entries
            .into_iter()
            .map(|e| AuditRow {
                at: time::utc(e.at),
                ago: time::relative(e.at, now),
                user_email: e.user_email,
                action: e.action,
                target: e.target,
                detail: e.detail,
                ip: e.ip,
            })
            .collect(),
        actions: state.store.audit_actions().await?,
        q,
        next_page,
        date_error,
    };
    ok(&req, &page)
}
