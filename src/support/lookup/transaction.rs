//! The transaction-id path: Apple's Get Transaction Info (in either environment) with the page's other calls in
//! the same key session, the app transaction id that only the history takes, and the index when Apple can't
//! answer.
/// Said beside an answer from Sandbox after Production refused the key (see `crate::apple::with_fallback`).
pub const NOT_RELEASED: &str =
    " Production refused the key (HTTP 401), as Apple does for an app not yet released \
     there, so storedesk asked Sandbox; the key is fine.";

use super::from_index::from_index;
use super::report::{finish_fresh, report_from_answers};
use super::{HistoryRequest, SearchResult};
use crate::apple::{ApiErrorKind, Environment};
use crate::error::AppError;
use crate::state::AppState;
use crate::store::{Actor, Project};
use crate::support::fetch::{page_sections, Answers};
use crate::support::history::{index_rows_for, HistoryFilters};
use crate::support::query::SearchInput;
use crate::support::{
    call_apple, identity, verify_soon, verify_transactions, AppleProblem, SignedTransaction,
};

pub(super) async fn by_transaction_id(
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
        Ok((sections, checked, info.production_refused))
    })
    .await?;
    let fresh = match answer {
        Ok((sections, checked, production_refused)) => {
            the_one(checked).map(|p| (p, sections, production_refused))
        }
        // An app transaction id is refused by Get Transaction Info, but the history takes it: its newest
        // transaction becomes the one shown.
        Err(p) if p.code == Some(ApiErrorKind::AppTransactionIdNotSupported.code()) => {
            by_app_transaction_id(state, project, id, history)
                .await?
                .map(|(p, sections)| (p, sections, false))
        }
        Err(p) if p.is_not_found() => Err(AppleProblem::not_found(
            "Apple has no transaction with this id, in Production or in Sandbox.",
        )),
        Err(p) => Err(p),
    };
    match fresh {
        Ok((primary, sections, production_refused)) => {
            let env = primary.environment;
            let touched = [
                primary
                    .verified
                    .payload
                    .transaction_id
                    .clone()
                    .unwrap_or_default(),
                primary
                    .verified
                    .payload
                    .original_transaction_id
                    .clone()
                    .unwrap_or_default(),
            ];
            let mut fresh =
                report_from_answers(project, primary, sections, history, &touched, now).await;
            fresh.production_refused = production_refused;
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
