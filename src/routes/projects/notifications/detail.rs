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
use crate::routes::projects::settings::forwarding::destination::delivery_word;
use crate::routes::{Layout, ProjectContext};
use crate::store::notification_log::CONSUMPTION_DEADLINE_MS;

/// One destination's delivery of this notification (or none yet), with Redeliver for managers.
pub struct ForwardView {
    pub destination_id: i64,
    pub name: String,
    pub href: String,
    pub enabled: bool,
    pub word: &'static str,
    pub badge: &'static str,
    pub attempts: i64,
    pub last: String,
}

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
    pub forwards: Vec<ForwardView>,
    pub can_manage: bool,
    /// For Apple's summary of a mass extension asked from storedesk: that request's page.
    pub mass_extension: Option<String>,
    /// The catalog's names of the products shown (empty without a synced catalog).
    pub names: crate::store::catalog::CatalogNames,
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
    let mass_extension = match summary_request(&row) {
        Some(request) => state
            .store
            .mass_extension_by_request(project.id, &request)
            .await?
            .map(|m| crate::urls::extend_all_request(&project.slug, m.id)),
        None => None,
    };
    let (destinations, deliveries) = tokio::join!(
        state.store.forward_destinations(project.id),
        state.store.forward_deliveries_of(project.id, row.id)
    );
    let (destinations, deliveries) = (destinations?, deliveries?);
    let forwards = destinations
        .iter()
        .map(|d| {
            let delivery = deliveries.iter().find(|x| x.destination_id == d.id);
            let (word, badge) = delivery.map_or(("not sent", "badge-neutral"), delivery_word);
            ForwardView {
                destination_id: d.id,
                name: d.settings.name.clone(),
                href: crate::urls::forwarding_destination(&project.slug, d.id),
                enabled: d.settings.enabled,
                word,
                badge,
                attempts: delivery.map_or(0, |x| x.attempts),
                last: delivery
                    .map(|x| match (x.last_status, x.last_attempt_at) {
                        (Some(s), Some(at)) => {
                            format!("HTTP {s}, {}", time::utc_and_relative(at, now))
                        }
                        (None, Some(at)) => format!(
                            "{}, {}",
                            x.last_error.clone().unwrap_or_else(|| "no answer".into()),
                            time::utc_and_relative(at, now)
                        ),
                        _ => "not tried yet".into(),
                    })
                    .unwrap_or_else(|| {
                        "it did not match this destination, or came before it".into()
                    }),
            }
        })
        .collect();
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
        forwards,
        can_manage: cx.user.is(crate::domain::Role::MANAGERS),
        mass_extension,
        names: state.store.catalog_names(project.id).await?,
    };
    cx.ok(&page)
}

/// The request identifier a RENEWAL_EXTENSION / SUMMARY notification sums up.
fn summary_request(row: &crate::store::notifications::NotificationRow) -> Option<String> {
    if row.notification_type != "RENEWAL_EXTENSION" || row.subtype.as_deref() != Some("SUMMARY") {
        return None;
    }
    let payload: serde_json::Value = serde_json::from_str(&row.payload).ok()?;
    payload
        .pointer("/notification/summary/requestIdentifier")?
        .as_str()
        .map(str::to_owned)
}
