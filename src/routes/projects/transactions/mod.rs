//! `/projects/{project}/transactions?q=…`: one search box, then the story of the purchase.
pub mod history_csv;

use actix_web::{web, HttpResponse};
use askama::Template;

use crate::error::AppError;
use crate::routes::FieldErrors;
use crate::routes::{ok, unprocessable, Layout, ProjectContext};
use crate::store::catalog::CatalogNames;
use crate::support::history::PRODUCT_TYPES;
use crate::support::{HistoryParams, HistoryRequest, SearchInput, SearchQuery, SearchResult};
use crate::urls::link;

#[derive(Template)]
#[template(path = "projects/transactions.html")]
pub struct TransactionsPage {
    pub layout: Layout,
    pub slug: String,
    pub q: String,
    pub q_error: Option<String>,
    /// Where the id searched came from, when it was read from a pasted receipt.
    pub q_note: Option<String>,
    pub params: HistoryParams,
    pub filter_errors: FieldErrors,
    pub result: Option<SearchResult>,
    pub product_types: &'static [(&'static str, &'static str, &'static str)],
    pub older_url: Option<String>,
    pub newest_url: Option<String>,
    pub csv_url: Option<String>,
    pub subscription_url: Option<String>,
    /// The catalog's names of the products and groups the result shows (empty without a synced catalog).
    pub names: CatalogNames,
}

impl TransactionsPage {
    /// The link that searches one transaction id on this page.
    pub fn search_url(&self, id: &str) -> String {
        crate::urls::search(&self.slug, id)
    }

    /// Whether a section says where its data came from: only when that is not what the page said already (one
    /// sentence per failure, not one per section).
    pub fn tells(
        &self,
        page: &crate::support::Freshness,
        section: &crate::support::Freshness,
    ) -> bool {
        let same_failure = !page.fresh
            && !section.fresh
            && page.problem.as_ref().map(|p| p.kind) == section.problem.as_ref().map(|p| p.kind);
        section.sentence != page.sentence && !same_failure
    }

    /// The link to what fixes the failure `f` names, if the project's settings are its cause.
    pub fn fix(&self, f: &crate::support::Freshness) -> Option<super::desk::FixLink> {
        super::desk::fix_for(&self.slug, f)
    }
}

pub async fn page(
    cx: ProjectContext,
    query: web::Query<SearchQuery>,
) -> Result<HttpResponse, AppError> {
    let (state, project, user, req) = (&cx.state, &cx.project, &cx.user, &cx.req);
    let layout = cx.layout("Transactions", "transactions");
    let SearchQuery { q, history } = query.into_inner();
    let mut page = TransactionsPage {
        layout,
        slug: project.slug.clone(),
        q: q.trim().to_owned(),
        q_error: None,
        q_note: None,
        params: history.clone(),
        filter_errors: FieldErrors::default(),
        result: None,
        product_types: PRODUCT_TYPES,
        older_url: None,
        newest_url: None,
        csv_url: None,
        subscription_url: None,
        names: CatalogNames::default(),
    };
    if q.trim().is_empty() {
        return ok(req, &page);
    }
    let input = match SearchInput::parse_pasted(&q) {
        Ok(pasted) => {
            page.q_note = pasted.note();
            pasted.input
        }
        Err(e) => {
            page.q_error = Some(e.to_string());
            return unprocessable(req, &page);
        }
    };
    let request = match HistoryRequest::parse(&history) {
        Ok(r) => r,
        Err(errors) => {
            page.filter_errors = FieldErrors(errors);
            return unprocessable(req, &page);
        }
    };
    // The names are read while Apple answers: two small queries the page needs either way.
    let actor = user.actor();
    let (result, names) = tokio::join!(
        crate::support::search(state, project, &actor, &input, &request),
        state.store.catalog_names(project.id)
    );
    let result = result?;
    page.names = names?;
    let base = crate::urls::transactions(&project.slug);
    if let Some(report) = &result.report {
        let mut pairs = vec![("q", page.q.clone())];
        pairs.extend(report.history.filters.pairs());
        if let Some(rev) = &report.history.next_revision {
            let mut older = pairs.clone();
            older.push(("rev", rev.clone()));
            older.push(("page", (report.history.page + 1).to_string()));
            page.older_url = Some(link(&base, &older));
        }
        if request.revision.is_some() {
            page.newest_url = Some(link(&base, &pairs));
        }
        page.csv_url = Some(link(
            &crate::urls::history_csv(&project.slug, &report.transaction.transaction_id),
            &report.history.filters.pairs(),
        ));
        page.subscription_url = report
            .subscription_id
            .as_ref()
            .map(|id| crate::urls::subscription(&project.slug, id));
    }
    page.result = Some(result);
    ok(req, &page)
}
