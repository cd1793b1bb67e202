//! `/projects/{project}/notifications/refunds`: REFUND, REFUND_DECLINED, REFUND_REVERSED and REVOKE, newest first.
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::view::{Choice, NotificationView};
use crate::error::AppError;
use crate::notifications::decoded;
use crate::notifications::words;
use crate::present::time;
use crate::routes::{Layout, ProjectContext};
use crate::store::notification_log::REFUND_TYPES;
use crate::urls::link;

const PAGE_SIZE: i64 = 50;

#[derive(Debug, Clone, Default, Deserialize)]
pub struct RefundQuery {
    #[serde(default, rename = "type")]
    pub notification_type: String,
    #[serde(default)]
    pub before: String,
}

pub struct RefundView {
    pub n: NotificationView,
    pub meaning: String,
    pub product: Option<String>,
    pub price: Option<String>,
    pub revoked: Option<String>,
    pub reason: Option<String>,
}

#[derive(Template)]
#[template(path = "projects/notifications/refunds.html")]
pub struct RefundsPage {
    pub layout: Layout,
    pub slug: String,
    pub types: Vec<Choice>,
    pub rows: Vec<RefundView>,
    pub next_page: Option<String>,
    pub first_page: Option<String>,
    /// The catalog's names of the products shown (empty without a synced catalog).
    pub names: crate::store::catalog::CatalogNames,
}

pub async fn page(
    cx: ProjectContext,
    query: web::Query<RefundQuery>,
) -> Result<HttpResponse, AppError> {
    let (state, project) = (&cx.state, &cx.project);
    let q = query.into_inner();
    // Anything but one of the four types shows all four.
    let only = REFUND_TYPES
        .iter()
        .copied()
        .find(|t| *t == q.notification_type.trim());
    let before = q
        .before
        .split_once('.')
        .and_then(|(d, i)| Some((d.parse().ok()?, i.parse().ok()?)));
    let mut rows = state
        .store
        .list_refund_notifications(project.id, only, before, PAGE_SIZE + 1)
        .await?;
    let filter = ("type", only.unwrap_or("").to_owned());
    let base = crate::urls::refunds(&project.slug);
    let next_page = if rows.len() as i64 > PAGE_SIZE {
        rows.truncate(PAGE_SIZE as usize);
        rows.last().map(|r| {
            let before = ("before", format!("{}.{}", r.signed_date, r.id));
            link(&base, &[filter.clone(), before])
        })
    } else {
        None
    };
    let first_page = before.map(|_: (i64, i64)| link(&base, std::slice::from_ref(&filter)));
    let now = crate::clock::now_ms();
    let mut types = vec![Choice {
        value: String::new(),
        label: "all four".into(),
        selected: only.is_none(),
    }];
    types.extend(REFUND_TYPES.iter().map(|t| Choice {
        value: (*t).to_owned(),
        label: format!("{} ({t})", words::type_label(t)),
        selected: only == Some(*t),
    }));
    let rows = rows
        .iter()
        .map(|r| {
            let summary = serde_json::from_str(&r.payload)
                .map(|v| decoded::summary_of(&v))
                .unwrap_or_default();
            RefundView {
                n: NotificationView::new(&project.slug, r, now),
                meaning: words::meaning(&r.notification_type, r.subtype.as_deref()),
                product: summary.product_id,
                price: summary.price,
                revoked: summary
                    .revocation_date
                    .map(|d| time::utc_and_relative(d, now)),
                reason: summary.revocation_reason,
            }
        })
        .collect();
    let page = RefundsPage {
        layout: cx.layout("Refunds and revocations", "notifications"),
        slug: project.slug.clone(),
        types,
        rows,
        next_page,
        first_page,
        names: state.store.catalog_names(project.id).await?,
    };
    cx.ok(&page)
}
