//! `/projects/{project}/notifications/{id}`: one notification decoded into plain words, the raw JSON folded away.
use actix_web::{web, HttpResponse};
use askama::Template;

use super::view::NotificationView;
use crate::error::AppError;
use crate::notifications::decoded::{self, Section};
use crate::notifications::words;
use crate::present::duration::time_left;
use crate::present::status::subscription_badge;
use crate::present::time;
use crate::routes::{Layout, ProjectContext};
use crate::store::notification_log::CONSUMPTION_DEADLINE_MS;

pub struct ConsumptionState {
    pub answered: bool,
    pub deadline: String,
    pub time_left: String,
    pub link: String,
}

#[derive(Template)]
#[template(path = "projects/notifications/detail.html")]
pub struct DetailPage {
    pub layout: Layout,
    pub slug: String,
    pub n: NotificationView,
    pub meaning: String,
    pub sections: Vec<Section>,
    pub raw_json: String,
    pub status: Option<(String, &'static str)>,
    pub consumption: Option<ConsumptionState>,
}

pub async fn page(
    cx: ProjectContext,
    path: web::Path<(String, i64)>,
) -> Result<HttpResponse, AppError> {
    let (state, project) = (&cx.state, &cx.project);
    let (_, id) = path.into_inner();
    let row = state
        .store
        .notification(project.id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let now = crate::clock::now_ms();
    let decoded = decoded::decode(&row.payload, now);
    let consumption = if row.notification_type == "CONSUMPTION_REQUEST" {
        let answered = state
            .store
            .consumption_request(project.id, row.id)
            .await?
            .is_some_and(|r| r.answered_at.is_some());
        let deadline = row.signed_date + CONSUMPTION_DEADLINE_MS;
        Some(ConsumptionState {
            answered,
            deadline: time::utc(deadline),
            time_left: time_left(deadline, now),
            link: crate::urls::consumption_request(&project.slug, row.id),
        })
    } else {
        None
    };
    let title = format!(
        "Notification · {}",
        words::type_label(&row.notification_type)
    );
    let page = DetailPage {
        layout: cx.layout(&title, "notifications"),
        slug: project.slug.clone(),
        meaning: words::meaning(&row.notification_type, row.subtype.as_deref()),
        status: decoded.summary.status.map(|s| {
            let badge = subscription_badge(s);
            (badge.word, badge.class)
        }),
        sections: decoded.sections,
        raw_json: decoded.raw_pretty,
        n: NotificationView::new(&project.slug, &row, now),
        consumption,
    };
    cx.ok(&page)
}
