//! The search: from what was pasted to the story of a purchase — the transaction, its history page, its refunds
//! and its subscription's timeline — fresh from Apple when Apple answers, from the local index (saying so, with
//! its "as of" time) when it does not. Each kind of input has its path (`transaction`, `order`, and the app
//! account token here); `report` turns Apple's answers into the report and writes them to the index with the
//! audit row; `from_index` answers from the index alone.
mod from_index;
mod order;
mod report;
mod transaction;

pub use transaction::NOT_RELEASED;

use serde::Serialize;
use serde_json::Value;

use super::history::{HistoryFilters, HistoryPage};
use super::present::TransactionView;
use super::query::SearchInput;
use super::subscription::GroupView;
use super::timeline::Timeline;
use super::{claims, Claims, Freshness, SignedTransaction};
use crate::error::AppError;
use crate::state::AppState;
use crate::store::{Actor, Project};
use from_index::from_index;
use order::by_order_id;
use transaction::by_transaction_id;

/// Which page of the history to show, and with which filters.
#[derive(Clone, Debug, Default)]
pub struct HistoryRequest {
    pub filters: HistoryFilters,
    /// Apple's revision token of the page; `None` for the newest page.
    pub revision: Option<String>,
    pub page: u32,
}

impl HistoryRequest {
    /// Filters, page token and page number from a query string; refusals name their field.
    pub fn parse(params: &super::history::HistoryParams) -> Result<Self, Vec<super::FieldError>> {
        let filters = HistoryFilters::parse(params)?;
        let revision = Some(params.rev.trim().to_owned()).filter(|r| !r.is_empty());
        Ok(HistoryRequest {
            page: if revision.is_some() {
                params.page_number().max(2)
            } else {
                1
            },
            filters,
            revision,
        })
    }
}

/// What the customer has now, which a lookup leads with: every subscription of the customer with its state
/// (the ones the lookup matched marked `is_requested`, and first), fresh from Apple's Get All Subscription
/// Statuses or, when Apple can't answer, as far as the index knows.
#[derive(Clone, Debug, Serialize)]
pub struct CustomerNow {
    /// The id the customer's page is opened with: the matched transaction's original transaction id.
    pub customer_id: String,
    pub freshness: Freshness,
    pub groups: Vec<GroupView>,
}

impl CustomerNow {
    /// From the index's rows of the customer, saying how old they are.
    pub(crate) fn from_index(
        customer_id: &str,
        rows: &[crate::store::transactions::IndexedTransaction],
        requested: &[&str],
        problem: Option<super::AppleProblem>,
        now: i64,
    ) -> Self {
        let groups = super::subscription::groups_from_index(rows, requested, now);
        let shown: Vec<&str> = groups
            .iter()
            .flat_map(|g| &g.items)
            .map(|i| i.original_transaction_id.as_str())
            .collect();
        let as_of = rows
            .iter()
            .filter(|r| shown.contains(&r.original_transaction_id.as_str()))
            .map(|r| r.seen_at)
            .min()
            .or_else(|| rows.iter().map(|r| r.seen_at).min());
        CustomerNow {
            customer_id: customer_id.to_owned(),
            freshness: Freshness::from_index(as_of, problem, rows.is_empty(), now),
            groups,
        }
    }
}

/// A customer's refunds (Apple's refund history: approved refunds, newest first).
#[derive(Clone, Debug, Serialize)]
pub struct RefundHistory {
    pub items: Vec<TransactionView>,
    pub freshness: Freshness,
    /// More refunds exist than were fetched.
    pub truncated: bool,
}

/// The whole story of one transaction.
#[derive(Clone, Debug, Serialize)]
pub struct TransactionReport {
    pub transaction: TransactionView,
    /// The payload as Apple signed it, pretty-printed, for power users.
    pub decoded_json: String,
    pub history: HistoryPage,
    pub refunds: RefundHistory,
    /// The original transaction id to open the subscription with, for auto-renewable subscriptions.
    pub subscription_id: Option<String>,
    pub timeline: Option<Timeline>,
}

/// The answer to one search.
#[derive(Clone, Debug, Serialize)]
pub struct SearchResult {
    pub input: SearchInput,
    /// Where the main answer came from, and how old it is.
    pub freshness: Freshness,
    /// Every transaction the input resolved to: one for a transaction id, all of an order, all of a token.
    pub matches: Vec<TransactionView>,
    /// The story of the first match.
    pub report: Option<TransactionReport>,
    /// Set when nothing was found: the sentence saying so.
    pub not_found: Option<String>,
    /// What the customer has now: the answer leads with it.
    pub customer: Option<CustomerNow>,
}

fn views(items: &[SignedTransaction], now: i64) -> Vec<TransactionView> {
    items
        .iter()
        .map(|t| TransactionView::from_decoded(&t.verified.raw, now))
        .collect()
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
}

/// Looks up what was pasted. Every search is written to the audit log (`lookup.transaction`), in the same
/// database transaction as the index rows it produced.
pub async fn search(
    state: &AppState,
    project: &Project,
    actor: &Actor,
    input: &SearchInput,
    history: &HistoryRequest,
) -> Result<SearchResult, AppError> {
    let now = crate::clock::now_ms();
    match input {
        SearchInput::TransactionId(id) => {
            by_transaction_id(state, project, actor, input, id, history, now).await
        }
        SearchInput::OrderId(order) => {
            by_order_id(state, project, actor, input, order, history, now).await
        }
        SearchInput::AppAccountToken(token) => {
            by_token(state, project, actor, input, token, history, now).await
        }
    }
}

async fn by_token(
    state: &AppState,
    project: &Project,
    actor: &Actor,
    input: &SearchInput,
    token: &str,
    history: &HistoryRequest,
    now: i64,
) -> Result<SearchResult, AppError> {
    let rows = state
        .store
        .indexed_by_app_account_token(project.id, token)
        .await?;
    let related = rows.clone();
    from_index(
        state, project, actor, input, rows, related, None, history, now,
    )
    .await
}
