//! A customer's subscriptions (Get All Subscription Statuses): each group's state with its renewal info in plain
//! words, and extending a renewal date.
mod extend;
pub mod state;

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use super::index::decoded_of;
use super::present::{RenewalView, TransactionView};
use super::timeline::{self, StatusInfo, Timeline};
use super::{call_apple, identity, AppleProblem, Freshness, SignedTransaction};
use crate::apple::models::status_response::StatusResponse;
use crate::apple::{AppIdentity, SignedDataVerifier, VerifyError};
use crate::cpu_pool::{PoolError, Submitted};
use crate::domain::TransactionId;
use crate::error::AppError;
use crate::present::status::subscription_badge;
use crate::present::StatusBadge;
use crate::state::AppState;
use crate::store::transactions::{AuditNote, IndexRow, IndexedTransaction, StoredCopies};
use crate::store::{Actor, Project};

pub use extend::{
    extend_renewal_date, first_sentence, outcome_unknown, unsettled_extension, ExtendAttempt,
    ExtendOutcome, ExtendRequest, PendingExtension, IN_FLIGHT, MAX_EXTEND_DAYS,
};
pub use state::StateView;

/// One subscription (one original transaction) inside a group.
#[derive(Clone, Debug, Serialize)]
pub struct SubscriptionItem {
    pub original_transaction_id: String,
    /// The product it is on now (its latest transaction's, or the renewal info's).
    pub product_id: String,
    /// Apple's status as a badge (`active`, `billing retry`, …; the JSON API's `status`).
    pub status: StatusBadge,
    /// What the customer has of it now, in words: the desk leads with this.
    pub state: StateView,
    /// Its latest transaction; `None` when Apple's signed copy failed verification.
    pub latest: Option<TransactionView>,
    pub renewal: Option<RenewalView>,
    pub decoded_transaction_json: Option<String>,
    pub decoded_renewal_json: Option<String>,
    /// Set when part of Apple's answer for it failed verification.
    pub problem: Option<AppleProblem>,
    /// The subscription the page was opened for.
    pub is_requested: bool,
    /// Apple would consider extending it: active, not shared through Family Sharing, and not in a free trial or
    /// other free offer period.
    pub extendable: bool,
    /// Why it can't be extended now, when that is a passing state the page should explain (a free offer period).
    pub not_extendable: Option<String>,
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
    /// Renewal-date extensions of these subscriptions whose outcome is not known (sent; Apple's answer lost,
    /// or its server failed): a person sends the same request again before asking for another.
    pub pending_extensions: Vec<PendingExtension>,
}

impl SubscriptionReport {
    pub fn pending_for(&self, original_transaction_id: &str) -> Option<&PendingExtension> {
        self.pending_extensions
            .iter()
            .find(|p| p.original_transaction_id == original_transaction_id)
    }
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
}

/// One subscription of Apple's statuses answer with its two signed parts checked.
pub(crate) struct CheckedItem {
    raw_status: i64,
    original_transaction_id: Option<String>,
    transaction: Option<Result<SignedTransaction, VerifyError>>,
    renewal: Option<Result<Value, VerifyError>>,
}

/// Apple's Get All Subscription Statuses answer with every signed part checked: the groups in Apple's order.
pub(crate) struct CheckedStatuses {
    groups: Vec<(String, Vec<CheckedItem>)>,
}

/// Checks every signed part of a statuses answer. A latest transaction the index holds verified (`known`) is
/// recognised as it is on a lookup page; renewal info is always checked (it changes without a transaction).
fn check_statuses(
    verifier: &SignedDataVerifier,
    who: &AppIdentity,
    known: Option<&StoredCopies>,
    answer: &StatusResponse,
) -> CheckedStatuses {
    let groups = answer
        .data
        .iter()
        .flatten()
        .map(|group| {
            let items = group
                .last_transactions
                .iter()
                .flatten()
                .map(|last| CheckedItem {
                    raw_status: last.status.as_ref().map(|s| s.raw_value()).unwrap_or(0),
                    original_transaction_id: last.original_transaction_id.clone(),
                    transaction: last
                        .signed_transaction_info
                        .as_deref()
                        .map(|jws| super::check_one(verifier, who, known, jws)),
                    renewal: last
                        .signed_renewal_info
                        .as_deref()
                        .map(|jws| verifier.verify_renewal_info(jws, who).map(|v| v.raw)),
                })
                .collect();
            (
                group
                    .subscription_group_identifier
                    .clone()
                    .unwrap_or_default(),
                items,
            )
        })
        .collect();
    CheckedStatuses { groups }
}

/// A statuses answer being checked on the page-verification threads while the page goes on.
pub(crate) struct CheckingStatuses {
    answer: Arc<StatusResponse>,
    job: Result<Submitted<CheckedStatuses>, PoolError>,
    verifier: Arc<SignedDataVerifier>,
    who: AppIdentity,
    known: Option<Arc<StoredCopies>>,
}

/// Starts checking a statuses answer at once.
pub(crate) fn check_statuses_soon(
    state: &AppState,
    who: &AppIdentity,
    known: Option<Arc<StoredCopies>>,
    answer: StatusResponse,
) -> CheckingStatuses {
    let answer = Arc::new(answer);
    let (verifier, id, input, copies) = (
        state.verifier.clone(),
        who.clone(),
        answer.clone(),
        known.clone(),
    );
    let job = state
        .page_pool
        .submit(move || check_statuses(&verifier, &id, copies.as_deref(), &input));
    CheckingStatuses {
        answer,
        job,
        verifier: state.verifier.clone(),
        who: who.clone(),
        known,
    }
}

impl CheckingStatuses {
    pub(crate) async fn wait(self) -> CheckedStatuses {
        let done = match self.job {
            Ok(job) => job.result().await.ok(),
            Err(_) => None,
        };
        // The queue was full or the job failed: checked here instead.
        done.unwrap_or_else(|| {
            check_statuses(
                &self.verifier,
                &self.who,
                self.known.as_deref(),
                &self.answer,
            )
        })
    }
}

/// The groups of a checked statuses answer in words, and the index rows of the latest transactions whose
/// signature was checked. A subscription is `is_requested` when its original transaction id, or its latest
/// transaction's id, is one of `requested`.
pub(crate) fn groups_of(
    checked: &CheckedStatuses,
    project_id: i64,
    requested: &[&str],
    now: i64,
) -> (Vec<GroupView>, Vec<IndexRow>) {
    let mut rows = Vec::new();
    let mut groups = Vec::new();
    for (group_id, checked_items) in &checked.groups {
        let mut items = Vec::new();
        for item in checked_items {
            let mut problem = None;
            let (latest, decoded_transaction_json) = match &item.transaction {
                Some(Ok(t)) => {
                    rows.extend(super::index::rows_of(
                        project_id,
                        "subscription",
                        std::slice::from_ref(t),
                        now,
                    ));
                    (
                        Some(TransactionView::from_decoded(&t.verified.raw, now)),
                        Some(pretty(&t.verified.raw)),
                    )
                }
                Some(Err(e)) => {
                    problem = Some(AppleProblem::unverifiable(e));
                    (None, None)
                }
                None => (None, None),
            };
            let (renewal, decoded_renewal_json) = match &item.renewal {
                Some(Ok(raw)) => (Some(RenewalView::from_decoded(raw, now)), Some(pretty(raw))),
                Some(Err(e)) => {
                    problem.get_or_insert_with(|| AppleProblem::unverifiable(e));
                    (None, None)
                }
                None => (None, None),
            };
            let original = item
                .original_transaction_id
                .clone()
                .or_else(|| latest.as_ref().map(|t| t.original_transaction_id.clone()))
                .unwrap_or_default();
            // Apple refuses an extension during a free trial or another free offer period (4030004).
            let free_offer = latest.as_ref().filter(|t| t.is_free_trial);
            let extendable = item.raw_status == 1
                && latest.as_ref().is_some_and(|t| !t.family_shared)
                && free_offer.is_none();
            let not_extendable = free_offer.filter(|_| item.raw_status == 1).map(|t| {
                format!(
                    "Apple does not extend a subscription during a free trial or another free offer period{}: \
                     extend it once a paid period has begun.",
                    t.expires_date
                        .as_ref()
                        .map(|e| format!(" (this one ends {})", e.utc))
                        .unwrap_or_default()
                )
            });
            let is_requested = requested
                .iter()
                .any(|r| *r == original || latest.as_ref().is_some_and(|t| t.transaction_id == *r));
            items.push(SubscriptionItem {
                is_requested,
                state: state::from_apple(item.raw_status, latest.as_ref(), renewal.as_ref()),
                product_id: latest
                    .as_ref()
                    .map(|t| t.product_id.clone())
                    .or_else(|| {
                        renewal
                            .as_ref()
                            .and_then(|r| r.auto_renew_product_id.clone())
                    })
                    .unwrap_or_default(),
                original_transaction_id: original,
                status: subscription_badge(item.raw_status),
                latest,
                renewal,
                decoded_transaction_json,
                decoded_renewal_json,
                problem,
                extendable,
                not_extendable,
                timeline: None,
            });
        }
        groups.push(GroupView {
            group_id: group_id.clone(),
            items,
        });
    }
    // The requested subscription first, then the others.
    groups.sort_by_key(|g| !g.items.iter().any(|i| i.is_requested));
    (groups, rows)
}

/// The customer's subscriptions as far as the index knows them (when Apple can't answer, and for app account
/// tokens): one item per subscription among `rows`, in the environment of the newest row, each told by its
/// latest transaction there (`state::from_index`: never a state only Apple can know).
pub(crate) fn groups_from_index(
    rows: &[IndexedTransaction],
    requested: &[&str],
    now: i64,
) -> Vec<GroupView> {
    let environment = rows
        .iter()
        .max_by_key(|r| (r.purchase_date, r.seen_at))
        .map(|r| r.environment.clone());
    let mut latest: Vec<(&IndexedTransaction, TransactionView)> = Vec::new();
    for row in rows.iter().filter(|r| {
        Some(&r.environment) == environment.as_ref()
            && r.product_type.as_deref() == Some("Auto-Renewable Subscription")
    }) {
        let newer = |held: &IndexedTransaction| {
            (row.purchase_date, &row.transaction_id) > (held.purchase_date, &held.transaction_id)
        };
        match latest
            .iter()
            .position(|(held, _)| held.original_transaction_id == row.original_transaction_id)
        {
            Some(i) if newer(latest[i].0) => {
                if let Some(v) = decoded_of(row) {
                    latest[i] = (row, TransactionView::from_decoded(&v, now));
                }
            }
            Some(_) => {}
            None => {
                if let Some(v) = decoded_of(row) {
                    latest.push((row, TransactionView::from_decoded(&v, now)));
                }
            }
        }
    }
    let mut groups: Vec<GroupView> = Vec::new();
    for (row, t) in latest {
        let group_id = row.subscription_group.clone().unwrap_or_default();
        let item = SubscriptionItem {
            is_requested: requested
                .iter()
                .any(|r| *r == row.original_transaction_id || *r == row.transaction_id),
            original_transaction_id: row.original_transaction_id.clone(),
            product_id: t.product_id.clone(),
            status: StatusBadge {
                raw: None,
                word: "unknown".into(),
                class: "badge-neutral",
            },
            state: state::from_index(&t, now),
            extendable: false,
            not_extendable: None,
            latest: Some(t),
            renewal: None,
            decoded_transaction_json: None,
            decoded_renewal_json: None,
            problem: None,
            timeline: None,
        };
        match groups.iter_mut().find(|g| g.group_id == group_id) {
            Some(g) => g.items.push(item),
            None => groups.push(GroupView {
                group_id,
                items: vec![item],
            }),
        }
    }
    groups.sort_by_key(|g| !g.items.iter().any(|i| i.is_requested));
    groups
}

/// Every subscription group's state for the customer of `original_transaction_id`. Written to the audit log as
/// `lookup.subscription`; what Apple signed is verified, indexed, then shown.
pub async fn subscription_status(
    state: &AppState,
    project: &Project,
    actor: &Actor,
    original_transaction_id: &str,
) -> Result<SubscriptionReport, AppError> {
    let mut report = status_report(state, project, actor, original_transaction_id).await?;
    let mut ids: Vec<String> = report
        .groups
        .iter()
        .flat_map(|g| g.items.iter().map(|i| i.original_transaction_id.clone()))
        .collect();
    ids.push(report.original_transaction_id.clone());
    ids.sort();
    ids.dedup();
    let now = crate::clock::now_ms();
    for id in ids {
        if let Some(row) = state.store.unsettled_extension(project.id, &id).await? {
            report
                .pending_extensions
                .push(PendingExtension::of(&row, now));
        }
    }
    Ok(report)
}

async fn status_report(
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
            pending_extensions: Vec::new(),
        });
    };
    let requested = &requested;
    // One key session: the statuses, then the customer's subscription history for the timelines.
    let answer = call_apple(state, project, |creds| async move {
        let statuses = state
            .apple
            .get_all_subscription_statuses_any_env(&creds, requested, &[])
            .await?;
        let env = statuses.environment;
        // Checked while the history is fetched.
        let checking = check_statuses_soon(state, &identity(project, env), None, statuses.value);
        let chain = super::fetch::subscription_pages(state, &creds, env, requested).await;
        Ok((env, checking, chain))
    })
    .await?;
    let (env, checking, chain_signed) = match answer {
        Ok(a) => a,
        Err(p) => return from_index(state, project, actor, id, p, now).await,
    };
    let who = identity(project, env);
    let (mut groups, mut rows) = groups_of(&checking.wait().await, project.id, &[id], now);
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
        pending_extensions: Vec::new(),
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
        pending_extensions: Vec::new(),
    })
}
