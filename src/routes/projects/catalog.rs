//! `/projects/{project}/catalog`: the products App Store Connect describes (Step 1's key), as last synced, with
//! when that was and what changed; **Sync now** for leads and admins. Everyone may read it: support agents see
//! the names customers know.
use actix_web::HttpResponse;
use askama::Template;

use crate::auth::csrf::CsrfForm;
use crate::domain::catalog::{self, Catalog, Product, ProductKind};
use crate::domain::Role;
use crate::error::AppError;
use crate::routes::{redirect_with_flash, Layout, ProjectContext};

/// How many past syncs the page lists.
const SYNCS_SHOWN: i64 = 5;

pub struct ProductView {
    pub product_id: String,
    pub name: String,
    pub kind: &'static str,
    pub state: String,
    pub level: String,
    pub period: String,
    /// "9.99 USD (USA)", the first storefront's price, as a glance.
    pub price: String,
    pub prices: Vec<catalog::Price>,
    pub offers: Vec<OfferView>,
}

pub struct OfferView {
    pub code: String,
    pub name: String,
    pub terms: String,
}

pub struct GroupView {
    pub group_id: String,
    pub name: String,
    pub products: Vec<ProductView>,
}

pub struct SyncView {
    pub id: i64,
    pub when: String,
    pub by: String,
    pub outcome: &'static str,
    pub badge: &'static str,
    pub sentence: String,
    pub changes: Vec<String>,
}

#[derive(Template)]
#[template(path = "projects/catalog.html")]
pub struct CatalogPage {
    pub layout: Layout,
    pub slug: String,
    pub has_key: bool,
    pub can_sync: bool,
    /// "“Storedesk Demo” (Apple ID 1234567890)".
    pub app: Option<String>,
    pub synced: Option<String>,
    pub next_sync: Option<String>,
    pub grace_period: Option<String>,
    pub groups: Vec<GroupView>,
    pub others: Vec<ProductView>,
    pub syncs: Vec<SyncView>,
}

fn product_view(p: &Product) -> ProductView {
    ProductView {
        product_id: p.product_id.clone(),
        name: p.name.clone(),
        kind: p.kind.label(),
        state: catalog::state_label(&p.state),
        level: p.group_level.map(|l| l.to_string()).unwrap_or_default(),
        period: p
            .period
            .as_deref()
            .map(catalog::period_label)
            .unwrap_or_default(),
        price: p
            .prices
            .iter()
            .find(|x| x.territory == "USA")
            .or_else(|| p.prices.first())
            .map(|x| format!("{} {} ({})", x.customer_price, x.currency, x.territory))
            .unwrap_or_else(|| "—".into()),
        prices: p.prices.clone(),
        offers: p
            .offers
            .iter()
            .map(|o| OfferView {
                code: o.code.clone(),
                name: o.name.clone(),
                terms: format!(
                    "{}, {} × {}",
                    catalog::offer_mode_label(&o.mode),
                    catalog::period_label(&o.duration),
                    o.periods
                ),
            })
            .collect(),
    }
}

fn arrange(c: &Catalog) -> (Vec<GroupView>, Vec<ProductView>) {
    let groups = c
        .groups
        .iter()
        .map(|g| {
            let mut products: Vec<&Product> = c
                .products
                .iter()
                .filter(|p| p.group_id.as_deref() == Some(g.group_id.as_str()))
                .collect();
            products.sort_by_key(|p| (p.group_level.unwrap_or(i64::MAX), p.name.clone()));
            GroupView {
                group_id: g.group_id.clone(),
                name: g.reference_name.clone(),
                products: products.into_iter().map(product_view).collect(),
            }
        })
        .collect();
    let mut others: Vec<&Product> = c
        .products
        .iter()
        .filter(|p| p.kind != ProductKind::AutoRenewable || p.group_id.is_none())
        .collect();
    others.sort_by_key(|p| (p.kind, p.name.clone()));
    (groups, others.into_iter().map(product_view).collect())
}

pub async fn page(cx: ProjectContext) -> Result<HttpResponse, AppError> {
    let (state, project) = (&cx.state, &cx.project);
    let now = crate::clock::now_ms();
    let has_key = state.store.connect_key_in_use(project.id).await?.is_some();
    let held = state.store.catalog_state(project.id).await?;
    let catalog = state.store.catalog(project.id).await?;
    let (groups, others) = arrange(&catalog);
    let rows = state.store.catalog_syncs(project.id, SYNCS_SHOWN).await?;
    // Newest first: the first row is the one the schedule counts from.
    let last_started = rows.first().map(|s| s.started_at);
    let mut syncs = Vec::new();
    for row in rows {
        let changes = if row.change_count > 0 {
            state
                .store
                .catalog_changes(row.id)
                .await?
                .into_iter()
                .map(|c| c.sentence)
                .collect()
        } else {
            Vec::new()
        };
        let (outcome, badge) = match row.outcome.as_str() {
            "complete" => ("complete", "badge-good"),
            "rate_limited" => ("rate limit", "badge-warn"),
            "running" => ("running", "badge-neutral"),
            _ => ("failed", "badge-bad"),
        };
        syncs.push(SyncView {
            id: row.id,
            when: crate::present::time::utc_and_relative(row.started_at, now),
            by: row.started_by,
            outcome,
            badge,
            sentence: row.sentence,
            changes,
        });
    }
    let every = i64::try_from(crate::catalog::schedule::SYNC_EVERY.as_millis()).unwrap_or(i64::MAX);
    let page = CatalogPage {
        layout: cx.layout("Product catalog", "catalog"),
        slug: project.slug.clone(),
        has_key,
        can_sync: cx.user.is(Role::MANAGERS),
        app: held
            .as_ref()
            .map(|h| format!("“{}” (Apple ID {})", h.app_name, h.app_id)),
        synced: held
            .as_ref()
            .map(|h| crate::present::time::utc_and_relative(h.synced_at, now)),
        next_sync: match (has_key, last_started) {
            (true, Some(at)) => Some(crate::present::time::utc_and_relative(
                at.saturating_add(every),
                now,
            )),
            _ => None,
        },
        grace_period: catalog.grace_period.as_ref().map(|g| g.describe()),
        groups,
        others,
        syncs,
    };
    cx.ok(&page)
}

#[derive(serde::Deserialize)]
pub struct SyncForm {}

/// Sync now: runs the sync while the person waits (a catalog is a few dozen requests), then shows the page.
pub async fn sync(cx: ProjectContext, _form: CsrfForm<SyncForm>) -> Result<HttpResponse, AppError> {
    let (state, project) = (&cx.state, &cx.project);
    let holder = format!("request-{}", uuid::Uuid::new_v4());
    let report = crate::catalog::sync_project(state, project, &cx.user.actor(), &holder).await?;
    let kind = match report.outcome {
        "complete" => "ok",
        "busy" | "rate_limited" => "warn",
        _ => "error",
    };
    Ok(redirect_with_flash(
        &crate::urls::catalog(&project.slug),
        kind,
        &report.sentence,
    ))
}
