//! The search: from what was pasted to the story of a purchase — the transaction, its history page, its refunds
//! and its subscription's timeline — fresh from Apple when Apple answers, from the local index (saying so, with
//! its "as of" time) when it does not.
use std::collections::HashSet;

use serde::Serialize;
use serde_json::Value;

use super::fetch::{page_sections, Answers};
use super::history::{index_rows_for, page_from_index, HistoryFilters, HistoryPage};
use super::index::{decoded_of, rows_of};
use super::present::TransactionView;
use super::query::SearchInput;
use super::timeline::{self, Timeline};
use super::{
    call_apple, identity, split_verified, verify_soon, verify_transactions, AppleProblem,
    Freshness, SignedTransaction,
};
use crate::apple::models::order_lookup_status::OrderLookupStatus;
use crate::apple::{ApiErrorKind, Environment};
use crate::error::AppError;
use crate::state::AppState;
use crate::store::transactions::{AuditNote, IndexRow, IndexedTransaction, OrderRow, StoredCopies};
use crate::store::{Actor, Project};

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

/// A customer's refunds (Apple's refund history: approved refunds, oldest first).
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

/// What a fresh answer produced, before it is written to the index.
struct Fresh {
    environment: Environment,
    report: TransactionReport,
    rows: Vec<IndexRow>,
    /// The index's copies read while Apple answered, so the write need not read them first.
    stored: Option<std::sync::Arc<StoredCopies>>,
    /// Sections whose Apple call failed, to be filled from the index after the write.
    history_problem: Option<AppleProblem>,
    refunds_problem: Option<AppleProblem>,
}

async fn by_transaction_id(
    state: &AppState,
    project: &Project,
    actor: &Actor,
    input: &SearchInput,
    id: &crate::domain::TransactionId,
    history: &HistoryRequest,
    now: i64,
) -> Result<SearchResult, AppError> {
    let answer = call_apple(state, project, |creds| async move {
        let info = state.apple.get_transaction_info_any_env(&creds, id).await?;
        let jws = info.value.signed_transaction_info.unwrap_or_default();
        let claims = super::claims(&jws);
        // Checked on another thread while the page's other calls are in flight.
        let check = verify_soon(state, &identity(project, info.environment), vec![jws]);
        let sections = page_sections(
            state,
            project,
            &creds,
            info.environment,
            id,
            &claims,
            history,
        )
        .await;
        let checked = check.wait().await.pop();
        Ok((sections, checked))
    })
    .await?;
    let fresh = match answer {
        Ok((sections, checked)) => the_one(checked).map(|p| (p, sections)),
        // An app transaction id is refused by Get Transaction Info, but the history takes it: its newest
        // transaction becomes the one shown.
        Err(p) if p.code == Some(ApiErrorKind::AppTransactionIdNotSupported.code()) => {
            by_app_transaction_id(state, project, id, history).await?
        }
        Err(p) if p.is_not_found() => Err(AppleProblem::not_found(
            "Apple has no transaction with this id, in Production or in Sandbox.",
        )),
        Err(p) => Err(p),
    };
    match fresh {
        Ok((primary, sections)) => {
            let env = primary.environment;
            let fresh = report_from_answers(project, primary, sections, history, now).await;
            let detail = format!("transaction id; answered by Apple ({env})");
            finish_fresh(
                state,
                project,
                actor,
                input,
                fresh,
                Vec::new(),
                Vec::new(),
                &detail,
                now,
            )
            .await
        }
        Err(problem) => {
            let id = id.as_str();
            let rows = index_rows_for(state, project, id).await?;
            let primary = rows
                .iter()
                .find(|r| r.transaction_id == id)
                .or_else(|| rows.iter().find(|r| r.original_transaction_id == id))
                .cloned();
            from_index(
                state,
                project,
                actor,
                input,
                primary.into_iter().collect(),
                rows,
                Some(problem),
                history,
                now,
            )
            .await
        }
    }
}

/// Verifies the one signed transaction a page is about.
async fn verify_one(
    state: &AppState,
    project: &Project,
    env: Environment,
    jws: &str,
) -> Result<SignedTransaction, AppleProblem> {
    the_one(
        verify_transactions(state, &identity(project, env), &[jws.to_owned()])
            .await
            .pop(),
    )
}

/// The check of the one signed transaction a page is about, as the page's problem when it failed.
fn the_one(
    checked: Option<Result<SignedTransaction, crate::apple::VerifyError>>,
) -> Result<SignedTransaction, AppleProblem> {
    match checked {
        Some(Ok(t)) => Ok(t),
        Some(Err(e)) => Err(AppleProblem::unverifiable(&e)),
        None => Err(AppleProblem::unverifiable(
            &crate::apple::VerifyError::MalformedJws("empty answer".into()),
        )),
    }
}

async fn by_app_transaction_id(
    state: &AppState,
    project: &Project,
    app_transaction_id: &crate::domain::TransactionId,
    request: &HistoryRequest,
) -> Result<Result<(SignedTransaction, Answers), AppleProblem>, AppError> {
    let newest = HistoryFilters::default().to_query(None);
    let answer = call_apple(state, project, |creds| {
        let newest = &newest;
        async move {
            let found = state
                .apple
                .get_transaction_history_any_env(&creds, app_transaction_id, newest)
                .await?;
            let first = found
                .value
                .signed_transactions
                .unwrap_or_default()
                .into_iter()
                .next();
            let sections = match &first {
                Some(jws) => Some(
                    page_sections(
                        state,
                        project,
                        &creds,
                        found.environment,
                        app_transaction_id,
                        &super::claims(jws),
                        request,
                    )
                    .await,
                ),
                None => None,
            };
            Ok((found.environment, first, sections))
        }
    })
    .await?;
    Ok(match answer {
        Ok((env, Some(jws), Some(sections))) => verify_one(state, project, env, &jws)
            .await
            .map(|primary| (primary, sections)),
        Ok(_) => Err(AppleProblem::not_found(
            "Apple has no transactions for this app transaction id.",
        )),
        Err(p) => Err(p),
    })
}

/// Takes what the page's sections brought as it comes out of verification, and tells the story.
async fn report_from_answers(
    project: &Project,
    primary: SignedTransaction,
    answers: Answers,
    request: &HistoryRequest,
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
    let (history_views, refund_views) = (views(&history_items, now), views(&refund_items, now));

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
        timeline::build(&chain, None, now)
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
    }
}

/// Writes the fresh rows and the audit row, then fills failed sections from the index and draws the timeline.
#[allow(clippy::too_many_arguments)]
async fn finish_fresh(
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
    if history_problem.is_some() || refunds_problem.is_some() {
        let related = index_rows_for(state, project, &report.transaction.transaction_id).await?;
        if let Some(p) = history_problem {
            report.history = page_from_index(&related, &report.history.filters, Some(p), now);
        }
        if let Some(p) = refunds_problem {
            report.refunds = refunds_from_index(&related, Some(p), now);
        }
    }
    if report.timeline.is_none() {
        report.timeline = chain_timeline(state, project, &report.transaction, now).await?;
    }
    let matches = if extra_matches.is_empty() {
        vec![report.transaction.clone()]
    } else {
        extra_matches
    };
    Ok(SearchResult {
        input: input.clone(),
        freshness: Freshness::from_apple(environment, now),
        matches,
        report: Some(report),
        not_found: None,
    })
}

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
    refunded.sort_by_key(|(r, _)| r.revocation_date);
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
async fn from_index(
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
        });
    };
    let transaction = TransactionView::from_decoded(first, now);
    let mut related = related;
    if related.is_empty() {
        related = index_rows_for(state, project, &first_row.transaction_id).await?;
    }
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
        matches: decoded
            .iter()
            .map(|(_, v)| TransactionView::from_decoded(v, now))
            .collect(),
        report: Some(report),
        not_found: None,
    })
}

async fn by_order_id(
    state: &AppState,
    project: &Project,
    actor: &Actor,
    input: &SearchInput,
    order: &str,
    history: &HistoryRequest,
    now: i64,
) -> Result<SearchResult, AppError> {
    // Apple resolves order ids in Production only. The first transaction of the order is the one told in full.
    let env = Environment::Production;
    let answer = call_apple(state, project, |creds| async move {
        let response = state.apple.look_up_order_id(&creds, env, order).await?;
        let valid = response.status == Some(OrderLookupStatus::Valid);
        let signed = response.signed_transactions.unwrap_or_default();
        let first = signed
            .first()
            .filter(|_| valid)
            .map(|jws| super::claims(jws));
        let sections = match &first {
            Some(
                claims @ super::Claims {
                    transaction_id: Some(id),
                    ..
                },
            ) => match crate::domain::TransactionId::parse(id) {
                // Only an id of Apple's shape is asked about; the signature is checked below.
                Ok(id) => {
                    Some(page_sections(state, project, &creds, env, &id, claims, history).await)
                }
                Err(_) => None,
            },
            _ => None,
        };
        Ok((valid, signed, sections))
    })
    .await?;
    let problem = match answer {
        Ok((true, signed, Some(sections))) => {
            let (items, problem) =
                split_verified(verify_transactions(state, &identity(project, env), &signed).await);
            match (items.first().cloned(), problem) {
                (Some(primary), None) => {
                    let orders: Vec<OrderRow> = items
                        .iter()
                        .map(|t| OrderRow {
                            project_id: project.id,
                            order_id: order.to_owned(),
                            environment: t.environment.as_str().to_owned(),
                            transaction_id: crate::support::present::owned(
                                &t.verified.raw,
                                "transactionId",
                            )
                            .unwrap_or_default(),
                            seen_at: now,
                        })
                        .collect();
                    let mut fresh =
                        report_from_answers(project, primary, sections, history, now).await;
                    fresh.rows.extend(rows_of(project.id, "order", &items, now));
                    let detail = format!(
                        "order id; answered by Apple (Production), {} transaction(s)",
                        items.len()
                    );
                    return finish_fresh(
                        state,
                        project,
                        actor,
                        input,
                        fresh,
                        views(&items, now),
                        orders,
                        &detail,
                        now,
                    )
                    .await;
                }
                (_, Some(p)) => p,
                (None, None) => AppleProblem::not_found(format!(
                    "Apple found order {order} but it holds no in-app purchase of this app."
                )),
            }
        }
        Ok((true, _, None)) => AppleProblem::not_found(format!(
            "Apple found order {order} but it holds no in-app purchase of this app."
        )),
        Ok(_) => AppleProblem::not_found(format!(
            "Apple knows no order {order} with an in-app purchase of this app. Check the order id in the customer's receipt e-mail; it may belong to another app or be a purchase of the app itself."
        )),
        Err(p) => p,
    };
    let primary = state.store.indexed_by_order_id(project.id, order).await?;
    from_index(
        state,
        project,
        actor,
        input,
        primary,
        Vec::new(),
        Some(problem),
        history,
        now,
    )
    .await
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
