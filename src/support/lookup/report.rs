//! Apple's answers made into the report of one transaction (its history page, refunds and timeline, each section
//! saying where it came from), then written to the index with the audit row, failed sections filled from the
//! index afterwards.
use std::collections::HashSet;

use super::from_index::{chain_timeline, refunds_from_index};
use super::{
    pretty, views, CustomerNow, HistoryRequest, RefundHistory, SearchResult, TransactionReport,
};
use crate::apple::Environment;
use crate::error::AppError;
use crate::state::AppState;
use crate::store::transactions::{AuditNote, IndexRow, OrderRow, StoredCopies};
use crate::store::{Actor, Project};
use crate::support::fetch::Answers;
use crate::support::history::{index_rows_for, page_from_index, HistoryPage};
use crate::support::index::rows_of;
use crate::support::present::TransactionView;
use crate::support::query::SearchInput;
use crate::support::subscription::groups_of;
use crate::support::timeline;
use crate::support::{split_verified, AppleProblem, Freshness, SignedTransaction};

/// What a fresh answer produced, before it is written to the index.
pub(super) struct Fresh {
    environment: Environment,
    report: TransactionReport,
    /// The rows to index; the order-id path adds the order's other transactions.
    pub(super) rows: Vec<IndexRow>,
    /// The index's copies read while Apple answered, so the write need not read them first.
    stored: Option<std::sync::Arc<StoredCopies>>,
    /// Sections whose Apple call failed, to be filled from the index after the write.
    history_problem: Option<AppleProblem>,
    refunds_problem: Option<AppleProblem>,
    /// The customer's subscriptions now, or why Apple did not say (the index then tells what it knows).
    customer: Result<CustomerNow, AppleProblem>,
    /// Production refused the key and Sandbox answered (an app not yet released): the page says so.
    pub(super) production_refused: bool,
}

/// Takes what the page's sections brought as it comes out of verification, and tells the story. `touched` are the
/// ids the lookup matched (their subscriptions are marked and listed first).
pub(super) async fn report_from_answers(
    project: &Project,
    primary: SignedTransaction,
    answers: Answers,
    request: &HistoryRequest,
    touched: &[String],
    now: i64,
) -> Fresh {
    let env = primary.environment;
    let transaction = TransactionView::from_decoded(&primary.verified.raw, now);
    let Answers {
        history,
        refunds,
        chain,
        arrived,
        stored,
        statuses,
    } = answers;
    // `arrived` holds the history page's transactions, then the refunds'.
    let (h_len, next_revision, history_problem) = match history {
        Ok(h) => {
            let more = h.has_more == Some(true);
            (
                h.signed_transactions.map_or(0, |s| s.len()),
                h.revision.filter(|_| more),
                None,
            )
        }
        Err(e) => (0, None, Some(AppleProblem::from_error(&e))),
    };
    let (truncated, refunds_problem, refunds_later) = match refunds {
        Ok(r) => (
            r.truncated,
            None,
            r.later_failure.map(|e| AppleProblem::from_error(&e)),
        ),
        Err(e) => (false, Some(AppleProblem::from_error(&e)), None),
    };
    let mut results = arrived.wait().await;
    let refund_results = results.split_off(h_len.min(results.len()));
    let (history_items, history_bad) = split_verified(results);
    let (refund_items, refunds_bad) = split_verified(refund_results);

    let mut rows = rows_of(project.id, "lookup", std::slice::from_ref(&primary), now);
    rows.extend(rows_of(project.id, "history", &history_items, now));
    rows.extend(rows_of(project.id, "refunds", &refund_items, now));
    // Each transaction is put into words once; the timeline reuses the words of the sections.
    let (history_views, mut refund_views) = (views(&history_items, now), views(&refund_items, now));
    // Apple lists refunds oldest first; the page shows them newest first, like the history.
    refund_views.sort_by_key(|t| std::cmp::Reverse(t.revocation.as_ref().map(|r| r.date.ms)));
    // The customer's state was checked meanwhile; the latest transactions it holds are on the history page or
    // in the index already, so they are not written again.
    let touched: Vec<&str> = touched.iter().map(String::as_str).collect();
    let customer = match statuses {
        Ok(checking) => {
            let (groups, _) = groups_of(&checking.wait().await, project.id, &touched, now);
            Ok(CustomerNow {
                customer_id: transaction.original_transaction_id.clone(),
                freshness: Freshness::from_apple(env, now),
                groups,
            })
        }
        Err(e) => Err(AppleProblem::from_error(&e)),
    };

    // The timeline's further transactions were being verified on other threads while this one wrote up the rest.
    let chain_checked = match chain {
        Some(check) => check.wait().await,
        None => Vec::new(),
    };
    let (chain_items, _) = split_verified(chain_checked);
    rows.extend(rows_of(project.id, "history", &chain_items, now));
    // The timeline from this answer alone: the chain's transactions among everything just verified.
    let timeline = transaction.is_subscription.then(|| {
        let mut ids = HashSet::new();
        let chain_views = views(&chain_items, now);
        let chain: Vec<TransactionView> = std::iter::once(&transaction)
            .chain(&history_views)
            .chain(&refund_views)
            .chain(&chain_views)
            .filter(|t| t.original_transaction_id == transaction.original_transaction_id)
            .filter(|t| ids.insert(t.transaction_id.clone()))
            .cloned()
            .collect();
        // The subscription's state draws its billing retry or grace period, as on the subscription page.
        let status = customer.as_ref().ok().and_then(|c| {
            c.groups
                .iter()
                .flat_map(|g| &g.items)
                .find(|i| i.original_transaction_id == transaction.original_transaction_id)
                .map(|i| timeline::StatusInfo {
                    status: i.status.raw.unwrap_or(0),
                    renewal: i.renewal.as_ref(),
                })
        });
        timeline::build(&chain, status, now)
    });
    let history_page = match &history_problem {
        None => {
            let mut freshness = Freshness::from_apple(env, now);
            if let Some(p) = history_bad {
                freshness.sentence = format!(
                    "{} Some transactions on this page were left out: {}",
                    freshness.sentence, p.sentence
                );
                freshness.problem = Some(p);
            }
            HistoryPage {
                filters: request.filters.clone(),
                page: request.page.max(1),
                items: history_views,
                next_revision,
                freshness,
            }
        }
        Some(p) => HistoryPage {
            filters: request.filters.clone(),
            page: 1,
            items: Vec::new(),
            next_revision: None,
            freshness: Freshness::from_index(None, Some(p.clone()), true, now),
        },
    };
    let refund_history = match &refunds_problem {
        None => {
            let mut freshness = Freshness::from_apple(env, now);
            if let Some(p) = refunds_later.or(refunds_bad) {
                freshness.sentence = format!("{} {}", freshness.sentence, p.sentence);
                freshness.problem = Some(p);
            }
            RefundHistory {
                items: refund_views,
                freshness,
                truncated,
            }
        }
        Some(p) => RefundHistory {
            items: Vec::new(),
            freshness: Freshness::from_index(None, Some(p.clone()), true, now),
            truncated: false,
        },
    };
    Fresh {
        environment: env,
        report: TransactionReport {
            subscription_id: transaction
                .is_subscription
                .then(|| transaction.original_transaction_id.clone()),
            decoded_json: pretty(&primary.verified.raw),
            transaction,
            history: history_page,
            refunds: refund_history,
            timeline: timeline.flatten(),
        },
        rows,
        stored,
        history_problem,
        refunds_problem,
        customer,
        production_refused: false,
    }
}

/// Writes the fresh rows and the audit row, then fills failed sections from the index and draws the timeline.
#[allow(clippy::too_many_arguments)]
pub(super) async fn finish_fresh(
    state: &AppState,
    project: &Project,
    actor: &Actor,
    input: &SearchInput,
    fresh: Fresh,
    extra_matches: Vec<TransactionView>,
    orders: Vec<OrderRow>,
    detail: &str,
    now: i64,
) -> Result<SearchResult, AppError> {
    let Fresh {
        environment,
        mut report,
        rows,
        stored,
        history_problem,
        refunds_problem,
        customer,
        production_refused,
    } = fresh;
    let audit = AuditNote {
        actor,
        action: "lookup.transaction",
        project_id: Some(project.id),
        target: input.value(),
        detail,
    };
    state
        .store
        .index_transactions_with(&rows, &orders, Some(audit), stored.as_deref())
        .await?;
    // Sections Apple did not answer are told from the index, which now holds what Apple did answer.
    let related = if history_problem.is_some() || refunds_problem.is_some() || customer.is_err() {
        index_rows_for(state, project, &report.transaction.transaction_id).await?
    } else {
        Vec::new()
    };
    if let Some(p) = history_problem {
        report.history = page_from_index(&related, &report.history.filters, Some(p), now);
    }
    if let Some(p) = refunds_problem {
        report.refunds = refunds_from_index(&related, Some(p), now);
    }
    let customer = customer.unwrap_or_else(|p| {
        CustomerNow::from_index(
            &report.transaction.original_transaction_id,
            &related,
            &touched_of(&extra_matches, &report.transaction),
            Some(p),
            now,
        )
    });
    if report.timeline.is_none() {
        report.timeline = chain_timeline(state, project, &report.transaction, now).await?;
    }
    let matches = if extra_matches.is_empty() {
        vec![report.transaction.clone()]
    } else {
        extra_matches
    };
    let mut freshness = Freshness::from_apple(environment, now);
    if production_refused {
        freshness
            .sentence
            .push_str(super::transaction::NOT_RELEASED);
    }
    Ok(SearchResult {
        input: input.clone(),
        freshness,
        matches,
        report: Some(report),
        not_found: None,
        customer: Some(customer),
    })
}

/// The ids a lookup matched: the one transaction, or every transaction of an order.
fn touched_of<'a>(matches: &'a [TransactionView], first: &'a TransactionView) -> Vec<&'a str> {
    std::iter::once(first)
        .chain(matches)
        .flat_map(|t| {
            [
                t.transaction_id.as_str(),
                t.original_transaction_id.as_str(),
            ]
        })
        .collect()
}
