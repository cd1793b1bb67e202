//! The order-id path: Apple's Look Up Order ID (Production only), every transaction of the order verified and
//! indexed with the order, the first one told in full; the index when Apple can't answer.
use super::from_index::from_index;
use super::report::{finish_fresh, report_from_answers};
use super::{views, HistoryRequest, SearchResult};
use crate::apple::models::order_lookup_status::OrderLookupStatus;
use crate::apple::Environment;
use crate::error::AppError;
use crate::state::AppState;
use crate::store::transactions::OrderRow;
use crate::store::{Actor, Project};
use crate::support::fetch::page_sections;
use crate::support::index::rows_of;
use crate::support::query::SearchInput;
use crate::support::{call_apple, identity, split_verified, verify_transactions, AppleProblem};

pub(super) async fn by_order_id(
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
                    let touched: Vec<String> = items
                        .iter()
                        .flat_map(|t| {
                            let p = &t.verified.payload;
                            [p.transaction_id.clone(), p.original_transaction_id.clone()]
                        })
                        .flatten()
                        .collect();
                    let mut fresh =
                        report_from_answers(project, primary, sections, history, &touched, now)
                            .await;
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
