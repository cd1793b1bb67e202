//! A customer's subscriptions (Get All Subscription Statuses): each group's state with its renewal info in plain
//! words, and extending a renewal date.
mod extend;

use serde::Serialize;
use serde_json::Value;

use super::index::decoded_of;
use super::present::{RenewalView, TransactionView};
use super::timeline::{self, StatusInfo, Timeline};
use super::{call_apple, identity, AppleProblem, Freshness};
use crate::domain::TransactionId;
use crate::error::AppError;
use crate::present::status::subscription_badge;
use crate::present::StatusBadge;
use crate::state::AppState;
use crate::store::transactions::index_row;
use crate::store::transactions::AuditNote;
use crate::store::{Actor, Project};

pub use extend::{extend_renewal_date, ExtendOutcome, ExtendRequest, MAX_EXTEND_DAYS};

/// One subscription (one original transaction) inside a group.
#[derive(Clone, Debug, Serialize)]
pub struct SubscriptionItem {
    pub original_transaction_id: String,
    pub status: StatusBadge,
    /// Its latest transaction; `None` when Apple's signed copy failed verification.
    pub latest: Option<TransactionView>,
    pub renewal: Option<RenewalView>,
    pub decoded_transaction_json: Option<String>,
    pub decoded_renewal_json: Option<String>,
    /// Set when part of Apple's answer for it failed verification.
    pub problem: Option<AppleProblem>,
    /// The subscription the page was opened for.
    pub is_requested: bool,
    /// Apple would consider extending it: active and not shared through Family Sharing.
    pub extendable: bool,
    pub timeline: Option<Timeline>,
}

#[derive(Clone, Debug, Serialize)]
pub struct GroupView {
    pub group_id: String,
    pub items: Vec<SubscriptionItem>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SubscriptionReport {
    pub original_transaction_id: String,
    pub freshness: Freshness,
    /// Every subscription group of the customer, fresh from Apple.
    pub groups: Vec<GroupView>,
    /// When Apple could not answer: this subscription's transactions as the index holds them, newest first.
    pub indexed: Vec<TransactionView>,
    /// The timeline drawn from the index when Apple could not answer.
    pub indexed_timeline: Option<Timeline>,
    /// Set when nothing was found: the sentence saying so.
    pub not_found: Option<String>,
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
}

/// Every subscription group's state for the customer of `original_transaction_id`. Written to the audit log as
/// `lookup.subscription`; what Apple signed is verified, indexed, then shown.
pub async fn subscription_status(
    state: &AppState,
    project: &Project,
    actor: &Actor,
    original_transaction_id: &str,
) -> Result<SubscriptionReport, AppError> {
    let now = crate::clock::now_ms();
    let id = original_transaction_id.trim();
    let Ok(requested) = TransactionId::parse(id) else {
        let quoted: String = id.chars().take(40).collect();
        return Ok(SubscriptionReport {
            original_transaction_id: quoted.clone(),
            freshness: Freshness::from_index(None, None, true, now),
            groups: Vec::new(),
            indexed: Vec::new(),
            indexed_timeline: None,
            not_found: Some(format!(
                "“{quoted}” is not an original transaction id: those are digits only, such as 2000000442013708."
            )),
        });
    };
    let requested = &requested;
    // One key session: the statuses, then the customer's subscription history for the timelines.
    let answer = call_apple(state, project, |creds| async move {
        let statuses = state
            .apple
            .get_all_subscription_statuses_any_env(&creds, requested, &[])
            .await?;
        let chain =
            super::fetch::subscription_pages(state, &creds, statuses.environment, requested).await;
        Ok((statuses, chain))
    })
    .await?;
    let (answered, chain_signed) = match answer {
        Ok(a) => a,
        Err(p) => return from_index(state, project, actor, id, p, now).await,
    };
    let env = answered.environment;
    let who = identity(project, env);
    let mut rows = Vec::new();
    let mut groups = Vec::new();
    for group in answered.value.data.unwrap_or_default() {
        let mut items = Vec::new();
        for last in group.last_transactions.unwrap_or_default() {
            let raw_status = last.status.as_ref().map(|s| s.raw_value()).unwrap_or(0);
            let mut problem = None;
            let transaction = last.signed_transaction_info.as_deref().map(|jws| {
                state
                    .verifier
                    .verify_transaction(jws, &who)
                    .map(|v| (jws.to_owned(), v))
            });
            let (latest, decoded_transaction_json) = match transaction {
                Some(Ok((jws, v))) => {
                    rows.push(index_row(
                        project.id,
                        env,
                        "subscription",
                        &jws,
                        &v.raw,
                        now,
                    ));
                    (
                        Some(TransactionView::from_decoded(&v.raw, now)),
                        Some(pretty(&v.raw)),
                    )
                }
                Some(Err(e)) => {
                    problem = Some(AppleProblem::unverifiable(&e));
                    (None, None)
                }
                None => (None, None),
            };
            let (renewal, decoded_renewal_json) = match last
                .signed_renewal_info
                .as_deref()
                .map(|jws| state.verifier.verify_renewal_info(jws, &who))
            {
                Some(Ok(v)) => (
                    Some(RenewalView::from_decoded(&v.raw, now)),
                    Some(pretty(&v.raw)),
                ),
                Some(Err(e)) => {
                    problem.get_or_insert_with(|| AppleProblem::unverifiable(&e));
                    (None, None)
                }
                None => (None, None),
            };
            let original = last
                .original_transaction_id
                .clone()
                .or_else(|| latest.as_ref().map(|t| t.original_transaction_id.clone()))
                .unwrap_or_default();
            let extendable = raw_status == 1 && latest.as_ref().is_some_and(|t| !t.family_shared);
            items.push(SubscriptionItem {
                is_requested: original == id
                    || latest.as_ref().is_some_and(|t| t.transaction_id == id),
                original_transaction_id: original,
                status: subscription_badge(raw_status),
                latest,
                renewal,
                decoded_transaction_json,
                decoded_renewal_json,
                problem,
                extendable,
                timeline: None,
            });
        }
        groups.push(GroupView {
            group_id: group.subscription_group_identifier.unwrap_or_default(),
            items,
        });
    }
    // The timelines need each chain's past, which the statuses leave out; copies of the latest transactions
    // verified above are not verified twice.
    let mut seen: std::collections::HashSet<String> =
        rows.iter().map(|r| r.transaction_id.clone()).collect();
    let chain_signed = super::unseen(chain_signed, &mut seen);
    let (chain_items, _) =
        super::split_verified(super::verify_transactions(state, &who, &chain_signed).await);
    rows.extend(super::index::rows_of(
        project.id,
        "history",
        &chain_items,
        now,
    ));
    let chain_views: Vec<TransactionView> = rows
        .iter()
        .filter_map(|r| serde_json::from_str::<Value>(&r.decoded).ok())
        .map(|v| TransactionView::from_decoded(&v, now))
        .collect();
    // The requested subscription first, then the others.
    groups.sort_by_key(|g| !g.items.iter().any(|i| i.is_requested));
    let count: usize = groups.iter().map(|g| g.items.len()).sum();
    let detail = format!("answered by Apple ({env}); {count} subscription(s)");
    state
        .store
        .index_transactions(
            &rows,
            &[],
            Some(AuditNote {
                actor,
                action: "lookup.subscription",
                project_id: Some(project.id),
                target: id,
                detail: &detail,
            }),
        )
        .await?;
    for item in groups.iter_mut().flat_map(|g| g.items.iter_mut()) {
        let chain: Vec<TransactionView> = chain_views
            .iter()
            .filter(|t| t.original_transaction_id == item.original_transaction_id)
            .cloned()
            .collect();
        item.timeline = timeline::build(
            &chain,
            Some(StatusInfo {
                status: item.status.raw.unwrap_or(0),
                renewal: item.renewal.as_ref(),
            }),
            now,
        );
    }
    let not_found = (count == 0).then(|| {
        "Apple has no auto-renewable subscription for the customer of this id; it may be a one-time purchase. Search it on the Transactions page.".to_owned()
    });
    Ok(SubscriptionReport {
        original_transaction_id: id.to_owned(),
        freshness: Freshness::from_apple(env, now),
        groups,
        indexed: Vec::new(),
        indexed_timeline: None,
        not_found,
    })
}

async fn from_index(
    state: &AppState,
    project: &Project,
    actor: &Actor,
    id: &str,
    problem: AppleProblem,
    now: i64,
) -> Result<SubscriptionReport, AppError> {
    let store = &state.store;
    let mut rows = store.indexed_by_original_id(project.id, id).await?;
    if rows.is_empty() {
        // A later transaction's id leads to its chain.
        if let Some(r) = store
            .indexed_by_transaction_id(project.id, id)
            .await?
            .first()
        {
            rows = store
                .indexed_by_original_id(project.id, &r.original_transaction_id)
                .await?;
        }
    }
    let as_of = rows.iter().map(|r| r.seen_at).min();
    let indexed: Vec<TransactionView> = rows
        .iter()
        .filter_map(decoded_of)
        .map(|v| TransactionView::from_decoded(&v, now))
        .collect();
    let detail = format!(
        "Apple: {}; answered from the index ({} transaction(s))",
        serde_json::to_value(problem.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        indexed.len()
    );
    state
        .store
        .audit(actor, "lookup.subscription", Some(project.id), id, &detail)
        .await?;
    let not_found = indexed.is_empty().then(|| {
        if problem.is_not_found() {
            "Apple has no subscription with this id, in Production or in Sandbox.".to_owned()
        } else {
            format!(
                "{} storedesk's own index has nothing for it either.",
                problem.sentence
            )
        }
    });
    let mut freshness = Freshness::from_index(as_of, Some(problem), indexed.is_empty(), now);
    freshness.environment = rows.first().map(|r| r.environment.clone());
    Ok(SubscriptionReport {
        original_transaction_id: id.to_owned(),
        freshness,
        indexed_timeline: timeline::build(&indexed, None, now),
        indexed,
        groups: Vec::new(),
        not_found,
    })
}
