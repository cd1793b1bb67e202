//! The search answered from storedesk's own index: when Apple can't answer, and always for app account tokens
//! (Apple has no lookup by token). The answer says how old it is, and is written to the audit log.
use serde_json::Value;

use super::{pretty, CustomerNow, HistoryRequest, RefundHistory, SearchResult, TransactionReport};
use crate::error::AppError;
use crate::state::AppState;
use crate::store::transactions::IndexedTransaction;
use crate::store::{Actor, Project};
use crate::support::history::{index_rows_for, page_from_index};
use crate::support::index::decoded_of;
use crate::support::present::TransactionView;
use crate::support::query::SearchInput;
use crate::support::timeline::{self, Timeline};
use crate::support::{AppleProblem, Freshness};

pub(crate) fn refunds_from_index(
    rows: &[IndexedTransaction],
    problem: Option<AppleProblem>,
    now: i64,
) -> RefundHistory {
    let mut refunded: Vec<(&IndexedTransaction, Value)> = rows
        .iter()
        .filter(|r| r.revocation_date.is_some())
        .filter_map(|r| decoded_of(r).map(|v| (r, v)))
        .collect();
    // Newest first, like the history.
    refunded.sort_by_key(|(r, _)| std::cmp::Reverse(r.revocation_date));
    let as_of = refunded.iter().map(|(r, _)| r.seen_at).min();
    RefundHistory {
        freshness: Freshness::from_index(
            as_of.or_else(|| rows.iter().map(|r| r.seen_at).min()),
            problem,
            rows.is_empty(),
            now,
        ),
        items: refunded
            .iter()
            .map(|(_, v)| TransactionView::from_decoded(v, now))
            .collect(),
        truncated: false,
    }
}

/// The subscription chain's timeline from every transaction of it the index holds.
pub(crate) async fn chain_timeline(
    state: &AppState,
    project: &Project,
    t: &TransactionView,
    now: i64,
) -> Result<Option<Timeline>, AppError> {
    if !t.is_subscription {
        return Ok(None);
    }
    let rows = state
        .store
        .indexed_by_original_id(project.id, &t.original_transaction_id)
        .await?;
    let chain: Vec<TransactionView> = rows
        .iter()
        .filter(|r| r.environment == t.environment)
        .filter_map(decoded_of)
        .map(|v| TransactionView::from_decoded(&v, now))
        .collect();
    Ok(timeline::build(&chain, None, now))
}

/// Answers from the index alone. `primary` are the rows the input resolved to (newest first); `related` what
/// belongs with them.
#[allow(clippy::too_many_arguments)]
pub(super) async fn from_index(
    state: &AppState,
    project: &Project,
    actor: &Actor,
    input: &SearchInput,
    primary: Vec<IndexedTransaction>,
    related: Vec<IndexedTransaction>,
    problem: Option<AppleProblem>,
    history: &HistoryRequest,
    now: i64,
) -> Result<SearchResult, AppError> {
    let decoded: Vec<(IndexedTransaction, Value)> = primary
        .into_iter()
        .filter_map(|r| decoded_of(&r).map(|v| (r, v)))
        .collect();
    let as_of = decoded.iter().map(|(r, _)| r.seen_at).min();
    let mut freshness = Freshness::from_index(as_of, problem.clone(), decoded.is_empty(), now);
    if let SearchInput::AppAccountToken(_) = input {
        freshness.sentence = format!(
            "App account tokens are searched in storedesk's own index (Apple has no lookup by token). {}",
            freshness.sentence
        );
    }
    if let Some((row, _)) = decoded.first() {
        freshness.environment = Some(row.environment.clone());
    }
    let detail = match &problem {
        Some(p) => format!(
            "{}; Apple: {}; answered from the index ({} match(es))",
            input.kind_words(),
            serde_json::to_value(p.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            decoded.len()
        ),
        None => format!(
            "{}; answered from the index ({} match(es))",
            input.kind_words(),
            decoded.len()
        ),
    };
    state
        .store
        .audit(
            actor,
            "lookup.transaction",
            Some(project.id),
            input.value(),
            &detail,
        )
        .await?;
    let Some((first_row, first)) = decoded.first() else {
        let not_found = match (input, &problem) {
            (SearchInput::AppAccountToken(t), _) => format!(
                "storedesk's index has no transaction with app account token {t}. The index holds only transactions storedesk has seen: look the customer up once by a transaction id or an order id, and their token will be found from then on."
            ),
            (_, Some(p)) if p.is_not_found() => p.sentence.clone(),
            (_, Some(p)) => format!("{} storedesk's own index has nothing for it either.", p.sentence),
            (_, None) => "Nothing was found.".to_owned(),
        };
        return Ok(SearchResult {
            input: input.clone(),
            freshness,
            matches: Vec::new(),
            report: None,
            not_found: Some(not_found),
            customer: None,
        });
    };
    let transaction = TransactionView::from_decoded(first, now);
    let mut related = related;
    if related.is_empty() {
        related = index_rows_for(state, project, &first_row.transaction_id).await?;
    }
    let matches: Vec<TransactionView> = decoded
        .iter()
        .map(|(_, v)| TransactionView::from_decoded(v, now))
        .collect();
    let touched: Vec<&str> = matches
        .iter()
        .flat_map(|t| {
            [
                t.transaction_id.as_str(),
                t.original_transaction_id.as_str(),
            ]
        })
        .collect();
    let customer = CustomerNow::from_index(
        &transaction.original_transaction_id,
        &related,
        &touched,
        problem.clone(),
        now,
    );
    let report = TransactionReport {
        subscription_id: transaction
            .is_subscription
            .then(|| transaction.original_transaction_id.clone()),
        decoded_json: pretty(first),
        history: page_from_index(&related, &history.filters, problem.clone(), now),
        refunds: refunds_from_index(&related, problem, now),
        timeline: chain_timeline(state, project, &transaction, now).await?,
        transaction,
    };
    Ok(SearchResult {
        input: input.clone(),
        freshness,
        matches,
        report: Some(report),
        not_found: None,
        customer: Some(customer),
    })
}
