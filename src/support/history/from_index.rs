//! The history as far as storedesk's index knows it, for when Apple can't answer: every indexed transaction that
//! belongs with the one asked about, and a page of them filtered like Apple would.
use serde_json::Value;

use super::{HistoryFilters, HistoryPage};
use crate::error::AppError;
use crate::state::AppState;
use crate::store::transactions::IndexedTransaction;
use crate::store::Project;
use crate::support::index::decoded_of;
use crate::support::present::owned;
use crate::support::present::TransactionView;
use crate::support::{AppleProblem, Freshness};

/// The history as far as the index knows it: every indexed transaction of the same subscription chain or app
/// account token, filtered like Apple would, newest purchase first.
pub(crate) fn page_from_index(
    rows: &[IndexedTransaction],
    filters: &HistoryFilters,
    problem: Option<AppleProblem>,
    now_ms: i64,
) -> HistoryPage {
    let mut kept: Vec<(&IndexedTransaction, Value)> = rows
        .iter()
        .filter_map(|r| decoded_of(r).map(|v| (r, v)))
        .filter(|(_, v)| filters.matches(v))
        .collect();
    kept.sort_by(|a, b| {
        (b.0.purchase_date, &b.0.transaction_id).cmp(&(a.0.purchase_date, &a.0.transaction_id))
    });
    let as_of = kept.iter().map(|(r, _)| r.seen_at).min();
    HistoryPage {
        filters: filters.clone(),
        page: 1,
        freshness: Freshness::from_index(as_of, problem, kept.is_empty(), now_ms),
        items: kept
            .iter()
            .map(|(_, v)| TransactionView::from_decoded(v, now_ms))
            .collect(),
        next_revision: None,
    }
}

/// Everything the index holds that belongs with `transaction_id`: its subscription chain and, through the app
/// account token and Apple's appTransactionId (one per customer and app), the same customer's other purchases.
pub(crate) async fn index_rows_for(
    state: &AppState,
    project: &Project,
    transaction_id: &str,
) -> Result<Vec<IndexedTransaction>, AppError> {
    let store = &state.store;
    let mut rows = store
        .indexed_by_transaction_id(project.id, transaction_id)
        .await?;
    if rows.is_empty() {
        // It may be an original transaction id only ever seen as such.
        rows = store
            .indexed_by_original_id(project.id, transaction_id)
            .await?;
    }
    let originals: Vec<String> = dedup(rows.iter().map(|r| r.original_transaction_id.clone()));
    let tokens: Vec<String> = dedup(rows.iter().filter_map(|r| r.app_account_token.clone()));
    // The customer's id is read from the payload: the column is only searched (see migration 0009).
    let customers: Vec<String> = dedup(
        rows.iter()
            .filter_map(|r| decoded_of(r).and_then(|v| owned(&v, "appTransactionId"))),
    );
    let mut all = rows;
    for o in &originals {
        all.extend(store.indexed_by_original_id(project.id, o).await?);
    }
    for t in &tokens {
        all.extend(store.indexed_by_app_account_token(project.id, t).await?);
    }
    for c in &customers {
        all.extend(store.indexed_by_app_transaction_id(project.id, c).await?);
    }
    let mut seen = std::collections::HashSet::new();
    all.retain(|r| seen.insert((r.transaction_id.clone(), r.environment.clone())));
    Ok(all)
}

fn dedup(items: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for i in items {
        if !out.contains(&i) {
            out.push(i);
        }
    }
    out
}
