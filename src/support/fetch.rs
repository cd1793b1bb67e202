//! One page's Apple calls in one key session: the project's key in use is read once (`with_project_key`) for all
//! of them, the independent ones run side by side, and a failure of a secondary call is still recorded on the key.
//! Callers verify everything before it is shown or indexed; when a page needs more calls after its history and
//! refunds, those two are verified here meanwhile, on a blocking thread.
use app_store_server_library::models::history_response::HistoryResponse;

use super::history::HistoryFilters;
use super::lookup::HistoryRequest;
use super::{identity, verify_with, SignedTransaction};
use crate::apple::{ApiCredentials, AppleError, Environment, VerifyError};
use crate::startup::AppState;
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
    /// Signed auto-renewable transactions from the customer's subscription history, for the timeline.
    pub chain: Vec<String>,
    /// The history page's transactions then the refunds', verified while the subscription history was fetched;
    /// `None` when there was nothing to wait for (the caller verifies them).
    pub verified_early: Option<Vec<Result<SignedTransaction, VerifyError>>>,
}

/// A secondary call failed inside a session that otherwise succeeded: the key row still hears of it.
pub(crate) async fn note_failure(state: &AppState, creds: &ApiCredentials, e: &AppleError) {
    if let Err(err) =
        crate::apple_calls::record::<()>(state, creds.key_version, &Err(e.clone())).await
    {
        tracing::warn!(error = ?err, "could not record a failed Apple call on the key");
    }
}

async fn refund_pages(
    state: &AppState,
    creds: &ApiCredentials,
    env: Environment,
    id: &str,
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
    id: &str,
) -> Vec<String> {
    let mut query = HistoryFilters {
        product_type: Some("AUTO_RENEWABLE".into()),
        ..HistoryFilters::default()
    }
    .to_query(None);
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

/// Starts verifying `jws` on a blocking thread, so the check overlaps the caller's next Apple calls.
pub(crate) fn verify_soon(
    state: &AppState,
    project: &Project,
    env: Environment,
    jws: Vec<String>,
) -> tokio::task::JoinHandle<Vec<Result<SignedTransaction, VerifyError>>> {
    let (verifier, who) = (state.verifier.clone(), identity(project, env));
    tokio::task::spawn_blocking(move || verify_with(&verifier, &who, &jws))
}

/// The history page and the refunds side by side; then, for a subscription whose first history page is not the
/// customer's whole history, a few pages of their subscription history for the timeline, while what already
/// arrived is verified.
pub(crate) async fn page_sections(
    state: &AppState,
    project: &Project,
    creds: &ApiCredentials,
    env: Environment,
    id: &str,
    is_subscription: bool,
    request: &HistoryRequest,
) -> Answers {
    let query = request.filters.to_query(request.revision.as_deref());
    let (history, refunds) = tokio::join!(
        state.apple.get_transaction_history(creds, env, id, &query),
        refund_pages(state, creds, env, id)
    );
    for e in [history.as_ref().err(), refunds.as_ref().err()]
        .into_iter()
        .flatten()
    {
        note_failure(state, creds, e).await;
    }
    let whole_history = request.revision.is_none()
        && request.filters.is_empty()
        && matches!(&history, Ok(h) if h.has_more != Some(true));
    if !is_subscription || whole_history {
        return Answers {
            history,
            refunds,
            chain: Vec::new(),
            verified_early: None,
        };
    }
    let arrived: Vec<String> = history
        .iter()
        .flat_map(|h| h.signed_transactions.iter().flatten())
        .chain(refunds.iter().flat_map(|r| &r.signed))
        .cloned()
        .collect();
    let check = verify_soon(state, project, env, arrived);
    let chain = subscription_pages(state, creds, env, id).await;
    Answers {
        history,
        refunds,
        chain,
        // A check that could not run is done again by the caller.
        verified_early: check.await.ok(),
    }
}
