//! One page's Apple calls in one key session: the project's key in use is read once (`with_project_key`) for all
//! of them, the independent ones run side by side, and a failure of a secondary call is still recorded on the key.
//! Nothing is shown or indexed before it is verified: every answer goes to the page-verification threads the
//! moment it arrives (after the next call's request has left), and the caller takes the results. The index's
//! copies of the subscription are read during the waits, so the write after them need not read first, and a
//! copy Apple signed again without any other change is taken from them rather than checked a second time.
use std::collections::HashSet;
use std::sync::Arc;

use app_store_server_library::models::history_response::HistoryResponse;

use super::history::HistoryFilters;
use super::lookup::HistoryRequest;
use super::subscription::{check_statuses_soon, CheckingStatuses};
use super::{
    claimed_transaction_id, claims, identity, unseen, verify_soon_knowing, Claims, Verifying,
};
use crate::apple::{ApiCredentials, AppleError, Environment};
use crate::domain::TransactionId;
use crate::state::AppState;
use crate::store::transactions::StoredCopies;
use crate::store::Project;

/// Refund history pages followed at most (20 refunds each).
const MAX_REFUND_PAGES: usize = 5;
/// Subscription history pages followed for a timeline (20 transactions each).
pub(crate) const TIMELINE_PAGES: usize = 3;

/// The refunds Apple listed, page after page.
pub(crate) struct RefundPages {
    pub signed: Vec<String>,
    /// More pages exist than were read.
    pub truncated: bool,
    /// A page after the first failed; what came before is kept.
    pub later_failure: Option<AppleError>,
}

/// What Apple answered for the sections of a transaction page.
pub(crate) struct Answers {
    pub history: Result<HistoryResponse, AppleError>,
    pub refunds: Result<RefundPages, AppleError>,
    /// The timeline's further auto-renewable transactions from the customer's subscription history, being
    /// verified from the moment they arrived (copies of ones the history page holds are left out).
    pub chain: Option<Verifying>,
    /// The history page's transactions then the refunds', being verified from the moment they arrived (beside
    /// the timeline's further calls, when there are any).
    pub arrived: Verifying,
    /// The index's copies of the searched transaction's subscription (or purchase), read meanwhile: the write
    /// need not read them, and an answer that repeats one of them is taken from it unchecked.
    pub stored: Option<Arc<StoredCopies>>,
    /// The customer's subscriptions now (Get All Subscription Statuses, asked beside the history and the
    /// refunds), being checked from the moment the page's own copies were queued.
    pub statuses: Result<CheckingStatuses, AppleError>,
}

/// A secondary call failed inside a session that otherwise succeeded: the key row still hears of it.
pub(crate) async fn note_failure(state: &AppState, creds: &ApiCredentials, e: &AppleError) {
    if let Err(err) =
        crate::apple_calls::record::<()>(state, creds.key_version, &Err(e.clone())).await
    {
        tracing::warn!(error = ?err, "could not record a failed Apple call on the key");
    }
}

/// The customer's refunds, page after page (Apple lists them oldest first).
pub(crate) async fn refund_pages(
    state: &AppState,
    creds: &ApiCredentials,
    env: Environment,
    id: &TransactionId,
) -> Result<RefundPages, AppleError> {
    let mut revision: Option<String> = None;
    let mut signed = Vec::new();
    for page in 0..MAX_REFUND_PAGES {
        match state
            .apple
            .get_refund_history(creds, env, id, revision.as_deref())
            .await
        {
            Ok(r) => {
                signed.extend(r.signed_transactions.unwrap_or_default());
                match (r.has_more, r.revision) {
                    (Some(true), Some(next)) => revision = Some(next),
                    _ => {
                        return Ok(RefundPages {
                            signed,
                            truncated: false,
                            later_failure: None,
                        })
                    }
                }
            }
            Err(e) if page > 0 => {
                note_failure(state, creds, &e).await;
                return Ok(RefundPages {
                    signed,
                    truncated: false,
                    later_failure: Some(e),
                });
            }
            Err(e) => return Err(e),
        }
    }
    Ok(RefundPages {
        signed,
        truncated: true,
        later_failure: None,
    })
}

/// The customer's auto-renewable transactions, newest first, up to [`TIMELINE_PAGES`] pages.
pub(crate) async fn subscription_pages(
    state: &AppState,
    creds: &ApiCredentials,
    env: Environment,
    id: &TransactionId,
) -> Vec<String> {
    let query = HistoryFilters {
        product_type: Some("AUTO_RENEWABLE".into()),
        ..HistoryFilters::default()
    }
    .to_query(None);
    history_pages(state, creds, env, id, query).await
}

/// Pages of a customer's history, as far as they were read.
pub(crate) struct HistoryRead {
    pub signed: Vec<String>,
    /// Apple has older pages than were read.
    pub more: bool,
    /// A page after the first failed (what came before is kept); the first page's failure is the `Err`.
    pub later_failure: Option<AppleError>,
}

/// The customer's whole history, newest first, up to `pages` pages of 20.
pub(crate) async fn customer_history(
    state: &AppState,
    creds: &ApiCredentials,
    env: Environment,
    id: &TransactionId,
    mut query: crate::apple::HistoryQuery,
    pages: usize,
) -> Result<HistoryRead, AppleError> {
    let mut read = HistoryRead {
        signed: Vec::new(),
        more: false,
        later_failure: None,
    };
    for page in 0..pages {
        match state
            .apple
            .get_transaction_history(creds, env, id, &query)
            .await
        {
            Ok(answer) => {
                read.signed
                    .extend(answer.signed_transactions.unwrap_or_default());
                match (answer.has_more, answer.revision) {
                    (Some(true), Some(next)) => {
                        query.revision = Some(next);
                        read.more = true;
                    }
                    _ => {
                        read.more = false;
                        break;
                    }
                }
            }
            Err(e) if page > 0 => {
                note_failure(state, creds, &e).await;
                read.later_failure = Some(e);
                break;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(read)
}

/// Up to [`TIMELINE_PAGES`] pages of history from `query` on; a failure ends the list with what came before.
async fn history_pages(
    state: &AppState,
    creds: &ApiCredentials,
    env: Environment,
    id: &TransactionId,
    mut query: crate::apple::HistoryQuery,
) -> Vec<String> {
    let mut signed = Vec::new();
    for _ in 0..TIMELINE_PAGES {
        match state
            .apple
            .get_transaction_history(creds, env, id, &query)
            .await
        {
            Ok(page) => {
                signed.extend(page.signed_transactions.unwrap_or_default());
                match (page.has_more, page.revision) {
                    (Some(true), Some(next)) => query.revision = Some(next),
                    _ => break,
                }
            }
            // The timeline then shows what the index already holds.
            Err(e) => {
                note_failure(state, creds, &e).await;
                break;
            }
        }
    }
    signed
}

/// The read-ahead copies, plus those of other products the customer's page lists (a customer whose subscription
/// the index holds has usually been seen whole; one it has never seen costs no further read).
/// `claimed` is only read when the index knows the customer.
async fn completed(
    state: &AppState,
    stored: Option<StoredCopies>,
    claimed: impl Iterator<Item = String>,
) -> Option<Arc<StoredCopies>> {
    let mut stored = stored?;
    if !stored.is_empty() {
        let ids: Vec<String> = claimed.collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        // A failed read only means those copies are verified in full.
        if let Err(e) = state.store.add_stored_copies(&mut stored, &ids).await {
            tracing::warn!(error = ?e, "could not read the index's copies of a history page");
        }
    }
    Some(Arc::new(stored))
}

/// Whether most transactions on a history page claim to be auto-renewable: then reading on from the page finds
/// the subscription's older periods at one call per 20 transactions; otherwise the other products would crowd
/// them out, and a subscription-only query is cheaper.
fn mostly_subscription(page: &[Claims]) -> bool {
    let renewing = page.iter().filter(|c| c.is_subscription()).count();
    renewing * 2 > page.len()
}

/// The history page and the refunds side by side; then, for a subscription whose first history page is not the
/// customer's whole history, a few more pages for the timeline, while what already arrived is verified. When
/// the page shown is Apple's unfiltered first page and mostly the subscription, the timeline reads on from its
/// revision (the 20 transactions just shown are not fetched again); otherwise it starts a subscription-only
/// query.
pub(crate) async fn page_sections(
    state: &AppState,
    project: &Project,
    creds: &ApiCredentials,
    env: Environment,
    id: &TransactionId,
    primary: &Claims,
    request: &HistoryRequest,
) -> Answers {
    let query = request.filters.to_query(request.revision.as_deref());
    // The index's copies are read while Apple answers, for the write that follows (a failed read only means
    // the write reads them itself).
    let read_ahead = async {
        let original = primary.original_transaction_id.as_deref()?;
        state.store.stored_copies(project.id, original).await.ok()
    };
    // The customer's state comes from one more call, side by side with the page's two: Get All Subscription
    // Statuses takes any id of the customer, and a page leads with what it says.
    let (history, refunds, statuses, stored) = tokio::join!(
        state.apple.get_transaction_history(creds, env, id, &query),
        refund_pages(state, creds, env, id),
        state
            .apple
            .get_all_subscription_statuses(creds, env, id, &[]),
        read_ahead
    );
    let is_subscription = primary.is_subscription();
    for e in [
        history.as_ref().err(),
        refunds.as_ref().err(),
        statuses.as_ref().err(),
    ]
    .into_iter()
    .flatten()
    {
        note_failure(state, creds, e).await;
    }
    let first_page = request.revision.is_none() && request.filters.is_empty();
    let whole_history = first_page && matches!(&history, Ok(h) if h.has_more != Some(true));
    let arrived: Vec<String> = history
        .iter()
        .flat_map(|h| h.signed_transactions.iter().flatten())
        .chain(refunds.iter().flat_map(|r| &r.signed))
        .cloned()
        .collect();
    let who = identity(project, env);
    if !is_subscription || whole_history {
        let claimed = arrived.iter().filter_map(|j| claimed_transaction_id(j));
        let stored = completed(state, stored, claimed).await;
        let arrived = verify_soon_knowing(state, &who, arrived, stored.clone());
        return Answers {
            history,
            refunds,
            chain: None,
            arrived,
            statuses: statuses.map(|s| check_statuses_soon(state, &who, stored.clone(), s)),
            stored,
        };
    }
    // What the history page's transactions claim, read once: which query the timeline reads on with, and which
    // of its copies are verified from the page already.
    let page_claims: Vec<Claims> = history
        .iter()
        .flat_map(|h| h.signed_transactions.iter().flatten())
        .map(|j| claims(j))
        .collect();
    let read_on = match &history {
        Ok(h) if first_page && mostly_subscription(&page_claims) => h.revision.clone(),
        _ => None,
    };
    let fetch_chain = async {
        match read_on {
            // Apple's paging asks for the same query again with the revision.
            Some(revision) => {
                let next = crate::apple::HistoryQuery {
                    revision: Some(revision),
                    ..query
                };
                history_pages(state, creds, env, id, next).await
            }
            None => subscription_pages(state, creds, env, id).await,
        }
    };
    // The next page's request leaves before verification takes the cores: the yield lets the connection's task
    // write it first.
    let (chain, (check, stored, statuses)) = tokio::join!(fetch_chain, async {
        tokio::task::yield_now().await;
        // The history page's claims are read already; the refunds' are read here.
        let claimed = page_claims
            .iter()
            .filter_map(|c| c.transaction_id.clone())
            .chain(
                arrived[page_claims.len()..]
                    .iter()
                    .filter_map(|j| claimed_transaction_id(j)),
            );
        let stored = completed(state, stored, claimed).await;
        let check = verify_soon_knowing(state, &who, arrived, stored.clone());
        let statuses = statuses.map(|s| check_statuses_soon(state, &who, stored.clone(), s));
        (check, stored, statuses)
    });
    // Copies of the searched transaction and of the history page's are verified there; a copy whose original
    // fails its check is not shown from here either.
    let mut seen: HashSet<String> = page_claims
        .into_iter()
        .filter_map(|c| c.transaction_id)
        .chain(std::iter::once(id.as_str().to_owned()))
        .collect();
    let chain = unseen(chain, &mut seen);
    let chain = verify_soon_knowing(state, &who, chain, stored.clone());
    Answers {
        history,
        refunds,
        chain: Some(chain),
        arrived: check,
        statuses,
        stored,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A JWS whose payload claims `type`; its signature is never checked by the claim.
    fn claiming(kind: &str) -> String {
        use base64::Engine as _;
        let payload = serde_json::json!({ "transactionId": "1", "type": kind }).to_string();
        format!(
            "e30.{}.c2ln",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(payload)
        )
    }

    fn read(page: &[String]) -> Vec<Claims> {
        page.iter().map(|j| claims(j)).collect()
    }

    #[test]
    fn a_page_reads_on_only_when_most_of_it_is_the_subscription() {
        let renewing = || claiming("Auto-Renewable Subscription");
        let coins = || claiming("Consumable");
        let mostly: Vec<String> = (0..11)
            .map(|_| renewing())
            .chain((0..9).map(|_| coins()))
            .collect();
        assert!(mostly_subscription(&read(&mostly)));
        let half: Vec<String> = (0..10)
            .map(|_| renewing())
            .chain((0..10).map(|_| coins()))
            .collect();
        assert!(!mostly_subscription(&read(&half)), "half is not most");
        let unreadable = vec!["not a jws".to_string(); 3];
        assert!(!mostly_subscription(&read(&unreadable)));
        assert!(!mostly_subscription(&[]));
    }
}
