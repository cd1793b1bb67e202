//! `/projects/{project}/customers/{id}`: a customer's page, by any of their transaction ids or their app account
//! token: what they have now, then one timeline of everything that happened, newest first, with the actions that
//! apply. Every role may open it; it is a lookup like the others (`lookup.customer` in the audit log).
mod timeline;

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;

use super::desk::{fix_for, FixLink};
use crate::domain::Role;
use crate::error::AppError;
use crate::routes::{render, Layout, ProjectContext};
use crate::store::catalog::CatalogNames;
use crate::support::customer::CustomerReport;
use crate::support::Freshness;
pub use timeline::EventView;

#[derive(Template)]
#[template(path = "projects/customer.html")]
pub struct CustomerPage {
    pub layout: Layout,
    pub slug: String,
    pub report: CustomerReport,
    pub events: Vec<EventView>,
    /// Admins and leads may extend a renewal date (on the subscription's page).
    pub can_extend: bool,
    /// The catalog's names of products and subscription groups (empty without a synced catalog).
    pub names: CatalogNames,
}

impl CustomerPage {
    pub fn fix(&self, f: &Freshness) -> Option<FixLink> {
        fix_for(&self.slug, f)
    }

    pub fn search_url(&self, id: &str) -> String {
        crate::urls::search(&self.slug, id)
    }

    pub fn subscription_url(&self, id: &str) -> String {
        crate::urls::subscription(&self.slug, id)
    }
}

pub async fn page(
    cx: ProjectContext,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (_, id) = path.into_inner();
    let now = crate::clock::now_ms();
    let actor = cx.user.actor();
    let (report, names) = tokio::join!(
        crate::support::customer::customer(&cx.state, &cx.project, &actor, &id),
        cx.state.store.catalog_names(cx.project.id)
    );
    let (report, names) = (report?, names?);
    let events = timeline::events(&cx.project.slug, &report, &names, now);
    let unknown = report.unknown;
    let page = CustomerPage {
        layout: cx.layout("Customer", "transactions"),
        slug: cx.project.slug.clone(),
        report,
        events,
        can_extend: cx.user.is(Role::MANAGERS),
        names,
    };
    if unknown {
        return render(&cx.req, StatusCode::NOT_FOUND, &page);
    }
    cx.ok(&page)
}
