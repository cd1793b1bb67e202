//! A customer's transaction history: Apple's pages (20 a page, newest first, the `revision` token leads to the
//! next), its filters (`filters`), the same filters over the local index when Apple can't answer (`from_index`),
//! and the CSV export (`csv`).
mod csv;
mod filters;
mod from_index;

use serde::Serialize;

use super::present::TransactionView;
use super::{
    call_apple, identity, split_verified, verify_transactions, AppleProblem, Freshness,
    SignedTransaction,
};
use crate::apple::models::transaction_history_request::Order;
use crate::apple::{Environment, HistoryQuery};
use crate::error::AppError;
use crate::state::AppState;
use crate::store::Project;

pub use csv::{export_csv, CsvExport, CSV_HEADER};
pub use filters::{HistoryFilters, HistoryParams, PRODUCT_TYPES};
pub(crate) use from_index::{index_rows_for, page_from_index};

/// One page of a customer's history.
#[derive(Clone, Debug, Serialize)]
pub struct HistoryPage {
    pub filters: HistoryFilters,
    /// 1 for the newest page.
    pub page: u32,
    pub items: Vec<TransactionView>,
    /// Apple's token for the next (older) page, when there is one.
    pub next_revision: Option<String>,
    pub freshness: Freshness,
}

/// One page from Apple, verified: the transactions, the next revision and whether there are more.
pub(crate) struct ApplePage {
    pub items: Vec<SignedTransaction>,
    pub next_revision: Option<String>,
    /// A signed item that failed verification (the others are kept).
    pub problem: Option<AppleProblem>,
}

/// Asks Apple for one page of history in the environment that knows the customer.
pub(crate) async fn fetch_page(
    state: &AppState,
    project: &Project,
    environment: Environment,
    transaction_id: &crate::domain::TransactionId,
    filters: &HistoryFilters,
    revision: Option<&str>,
    sort: Order,
) -> Result<Result<ApplePage, AppleProblem>, AppError> {
    let query = HistoryQuery {
        sort: Some(sort),
        ..filters.to_query(revision)
    };
    let answer = call_apple(state, project, |creds| {
        let query = &query;
        async move {
            state
                .apple
                .get_transaction_history(&creds, environment, transaction_id, query)
                .await
        }
    })
    .await?;
    let response = match answer {
        Ok(r) => r,
        Err(p) => return Ok(Err(p)),
    };
    let signed = response.signed_transactions.unwrap_or_default();
    let (items, problem) =
        split_verified(verify_transactions(state, &identity(project, environment), &signed).await);
    let has_more = response.has_more.unwrap_or(false);
    Ok(Ok(ApplePage {
        items,
        next_revision: response.revision.filter(|_| has_more),
        problem,
    }))
}
