//! A customer's page: what the customer has now (each subscription's state, every non-consumable owned) and
//! everything that happened, from Apple's answers (Get All Subscription Statuses, the whole history, the refunds)
//! and what storedesk keeps (the index, the notifications received, what staff did). Opened by any transaction
//! id of the customer or by their app account token (which only the index knows). When Apple can't answer, the
//! index answers and says how old it is. Written to the audit log as `lookup.customer`.
use std::collections::HashSet;

use serde::Serialize;
use serde_json::Value;

use super::fetch::{customer_history, refund_pages, HistoryRead, RefundPages};
use super::history::{index_rows_for, HistoryFilters};
use super::index::{decoded_of, rows_of};
use super::lookup::CustomerNow;
use super::present::TransactionView;
use super::query::is_uuid;
use super::subscription::{check_statuses_soon, groups_from_index, groups_of, GroupView};
use super::{call_apple, identity, split_verified, verify_transactions, AppleProblem, Freshness};
use crate::apple::{AppleError, Environment};
use crate::domain::TransactionId;
use crate::error::AppError;
use crate::state::AppState;
use crate::store::audit::AuditEntry;
use crate::store::notification_log::ConsumptionRequestRow;
use crate::store::notification_work::ConsumptionAnswer;
use crate::store::transactions::{AuditNote, IndexedTransaction};
use crate::store::{Actor, Project};

/// History pages read for a customer's page (20 transactions each): every purchase of all but the busiest
/// customers. Beyond that the page says so and the Transactions page pages on.
const CUSTOMER_PAGES: usize = 5;
/// Notifications and staff actions shown at most.
const LOCAL_LIMIT: i64 = 200;

/// The audit actions of a renewal-date extension (the consumption answers have their own table).
pub const EXTENSION_ACTIONS: &[&str] = &[
    "subscription.extend",
    "subscription.extend_refused",
    "subscription.extend_unknown",
];

/// How a customer's page was asked for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum CustomerId {
    /// Any transaction id of the customer: an original transaction id, usually.
    Transaction(TransactionId),
    /// Lowercase; only the index knows which customer holds it.
    AppAccountToken(String),
}

impl CustomerId {
    /// The sentence when `raw` is neither.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let s = raw.trim();
        if let Ok(id) = TransactionId::parse(s) {
            return Ok(CustomerId::Transaction(id));
        }
        if is_uuid(s) {
            return Ok(CustomerId::AppAccountToken(s.to_ascii_lowercase()));
        }
        let quoted: String = s.chars().take(40).collect();
        Err(format!(
            "“{quoted}” is not a customer's id: open a customer by one of their transaction ids (digits only, such as 2000000442013708) or by their app account token (a UUID such as 7389a31a-fb6d-4569-a2a6-db7d85d84813)."
        ))
    }

    pub fn value(&self) -> &str {
        match self {
            CustomerId::Transaction(id) => id.as_str(),
            CustomerId::AppAccountToken(t) => t,
        }
    }

    pub fn kind_words(&self) -> &'static str {
        match self {
            CustomerId::Transaction(_) => "transaction id",
            CustomerId::AppAccountToken(_) => "app account token",
        }
    }
}

/// A CONSUMPTION_REQUEST or any other notification about the customer, with the time its answer was accepted.
pub type CustomerNotification = ConsumptionRequestRow;

/// Everything a customer's page shows.
#[derive(Clone, Debug, Serialize)]
pub struct CustomerReport {
    /// The id as asked (normalised); `None` when it is no id at all.
    pub id: Option<CustomerId>,
    /// Where the page's answer came from.
    pub freshness: Freshness,
    /// Every subscription and its state now.
    pub now: CustomerNow,
    /// Non-consumables the customer owns (not refunded), and non-renewing subscriptions still running.
    pub owned: Vec<TransactionView>,
    /// Every transaction read, once each, newest purchase first.
    pub transactions: Vec<TransactionView>,
    /// The customer has older transactions than were read.
    pub more_history: bool,
    /// Notifications received about the customer's transactions, newest first.
    #[serde(skip)]
    pub notifications: Vec<CustomerNotification>,
    /// Renewal-date extensions staff asked for, newest first (from the audit log).
    #[serde(skip)]
    pub extensions: Vec<AuditEntry>,
    /// Consumption information staff sent to Apple, newest first.
    #[serde(skip)]
    pub answers: Vec<ConsumptionAnswer>,
    /// A transaction id to search and export the history with.
    pub lookup_id: Option<String>,
    /// Set when there is nothing to show: the sentence saying why.
    pub not_found: Option<String>,
    /// True when the page must answer 404: no such id, or one nobody knows.
    pub unknown: bool,
}

impl CustomerReport {
    fn nothing(
        id: Option<CustomerId>,
        freshness: Freshness,
        sentence: String,
        unknown: bool,
    ) -> Self {
        CustomerReport {
            now: CustomerNow {
                customer_id: id
                    .as_ref()
                    .map(|i| i.value().to_owned())
                    .unwrap_or_default(),
                freshness: freshness.clone(),
                groups: Vec::new(),
            },
            id,
            freshness,
            owned: Vec::new(),
            transactions: Vec::new(),
            more_history: false,
            notifications: Vec::new(),
            extensions: Vec::new(),
            answers: Vec::new(),
            lookup_id: None,
            not_found: Some(sentence),
            unknown,
        }
    }

    pub fn groups(&self) -> &[GroupView] {
        &self.now.groups
    }
}

/// What Apple answered for a customer's page, before verification finished.
struct Answered {
    environment: Environment,
    checking: super::subscription::CheckingStatuses,
    history: HistoryRead,
    refunds: Result<RefundPages, AppleError>,
    /// Non-consumables, asked for separately when the history was longer than the pages read.
    owned: Option<Vec<String>>,
}

/// The customer's page for `raw_id`. Every call is written to the audit log (`lookup.customer`), with the
/// index rows Apple's answers produced.
pub async fn customer(
    state: &AppState,
    project: &Project,
    actor: &Actor,
    raw_id: &str,
) -> Result<CustomerReport, AppError> {
    let now = crate::clock::now_ms();
    let id = match CustomerId::parse(raw_id) {
        Ok(id) => id,
        Err(sentence) => {
            return Ok(CustomerReport::nothing(
                None,
                Freshness::from_index(None, None, true, now),
                sentence,
                true,
            ))
        }
    };
    // Apple is asked with a transaction id; a token's comes from the index (Apple has no lookup by token).
    let (ask, token_rows) = match &id {
        CustomerId::Transaction(t) => (t.clone(), Vec::new()),
        CustomerId::AppAccountToken(token) => {
            let rows = state
                .store
                .indexed_by_app_account_token(project.id, token)
                .await?;
            let newest = rows
                .first()
                .and_then(|r| TransactionId::parse(&r.transaction_id).ok());
            match newest {
                Some(t) => (t, rows),
                None => {
                    audit(state, project, actor, &id, "not in the index").await?;
                    return Ok(CustomerReport::nothing(
                        Some(id.clone()),
                        Freshness::from_index(None, None, true, now),
                        format!(
                            "storedesk's index has no transaction with app account token {}. The index holds only transactions storedesk has seen: look the customer up once by a transaction id or an order id on the Transactions page, and their token will lead here from then on.",
                            id.value()
                        ),
                        true,
                    ));
                }
            }
        }
    };
    let ask = &ask;
    let answer = call_apple(state, project, |creds| async move {
        let statuses = state
            .apple
            .get_all_subscription_statuses_any_env(&creds, ask, &[])
            .await?;
        let env = statuses.environment;
        let checking = check_statuses_soon(state, &identity(project, env), None, statuses.value);
        let newest = HistoryFilters::default().to_query(None);
        let (history, refunds) = tokio::join!(
            customer_history(state, &creds, env, ask, newest, CUSTOMER_PAGES),
            refund_pages(state, &creds, env, ask)
        );
        if let Err(e) = &refunds {
            super::fetch::note_failure(state, &creds, e).await;
        }
        let history = history?;
        let owned = if history.more {
            let query = HistoryFilters {
                product_type: Some("NON_CONSUMABLE".into()),
                revoked: Some(false),
                ..HistoryFilters::default()
            }
            .to_query(None);
            customer_history(state, &creds, env, ask, query, 1)
                .await
                .ok()
                .map(|r| r.signed)
        } else {
            None
        };
        Ok(Answered {
            environment: env,
            checking,
            history,
            refunds,
            owned,
        })
    })
    .await?;
    match answer {
        Ok(answered) => fresh(state, project, actor, &id, ask, answered, now).await,
        Err(problem) => {
            let mut rows = token_rows;
            rows.extend(index_rows_for(state, project, ask.as_str()).await?);
            from_index(state, project, actor, &id, rows, problem, now).await
        }
    }
}

/// The page from Apple's answers, indexed with the audit row.
async fn fresh(
    state: &AppState,
    project: &Project,
    actor: &Actor,
    id: &CustomerId,
    ask: &TransactionId,
    answered: Answered,
    now: i64,
) -> Result<CustomerReport, AppError> {
    let env = answered.environment;
    let who = identity(project, env);
    let refunds = answered.refunds.as_ref().map(|r| r.signed.clone());
    let mut signed = answered.history.signed.clone();
    signed.extend(refunds.clone().unwrap_or_default());
    signed.extend(answered.owned.clone().unwrap_or_default());
    let mut seen = HashSet::new();
    let signed = super::unseen(signed, &mut seen);
    let (items, bad) = split_verified(verify_transactions(state, &who, &signed).await);
    let checked = answered.checking.wait().await;
    let (groups, mut rows) = groups_of(&checked, project.id, &[ask.as_str()], now);
    rows.extend(rows_of(project.id, "history", &items, now));
    let mut transactions: Vec<TransactionView> = items
        .iter()
        .map(|t| TransactionView::from_decoded(&t.verified.raw, now))
        .collect();
    // The statuses' latest transactions belong to the story too (a history cut short may lack them).
    let mut ids: HashSet<String> = transactions
        .iter()
        .map(|t| t.transaction_id.clone())
        .collect();
    for item in groups.iter().flat_map(|g| &g.items) {
        if let Some(t) = &item.latest {
            if ids.insert(t.transaction_id.clone()) {
                transactions.push(t.clone());
            }
        }
    }
    newest_first(&mut transactions);
    let detail = format!(
        "{}; answered by Apple ({env}); {} subscription(s), {} transaction(s)",
        id.kind_words(),
        groups.iter().map(|g| g.items.len()).sum::<usize>(),
        transactions.len()
    );
    state
        .store
        .index_transactions(
            &rows,
            &[],
            Some(AuditNote {
                actor,
                action: "lookup.customer",
                project_id: Some(project.id),
                target: id.value(),
                detail: &detail,
            }),
        )
        .await?;
    let mut freshness = Freshness::from_apple(env, now);
    // Parts Apple did not give are named in the one sentence.
    let problems: Vec<AppleProblem> = [
        answered
            .refunds
            .as_ref()
            .err()
            .map(AppleProblem::from_error),
        answered
            .history
            .later_failure
            .as_ref()
            .map(AppleProblem::from_error),
        bad,
    ]
    .into_iter()
    .flatten()
    .collect();
    if let Some(p) = problems.first() {
        freshness.sentence = format!(
            "{} Part of the history may be missing: {}",
            freshness.sentence, p.sentence
        );
        freshness.problem = Some(p.clone());
    }
    let Local {
        notifications,
        extensions,
        answers,
    } = local(state, project, &transactions).await?;
    let customer_id = customer_id_of(id, &transactions);
    Ok(CustomerReport {
        now: CustomerNow {
            customer_id: customer_id.clone(),
            freshness: freshness.clone(),
            groups,
        },
        owned: owned(&transactions, now),
        more_history: answered.history.more,
        lookup_id: Some(ask.as_str().to_owned()),
        id: Some(id.clone()),
        freshness,
        transactions,
        notifications,
        extensions,
        answers,
        not_found: None,
        unknown: false,
    })
}

/// The page from the index alone, when Apple could not answer.
async fn from_index(
    state: &AppState,
    project: &Project,
    actor: &Actor,
    id: &CustomerId,
    mut rows: Vec<IndexedTransaction>,
    problem: AppleProblem,
    now: i64,
) -> Result<CustomerReport, AppError> {
    let mut seen = HashSet::new();
    rows.retain(|r| seen.insert((r.transaction_id.clone(), r.environment.clone())));
    let detail = format!(
        "{}; Apple: {}; answered from the index ({} transaction(s))",
        id.kind_words(),
        serde_json::to_value(problem.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        rows.len()
    );
    audit(state, project, actor, id, &detail).await?;
    if rows.is_empty() {
        let not_found = problem.is_not_found();
        let sentence = if not_found {
            "Apple has no customer with this transaction id, in Production or in Sandbox, and storedesk's index has none either.".to_owned()
        } else {
            format!(
                "{} storedesk's own index has nothing for it either.",
                problem.sentence
            )
        };
        return Ok(CustomerReport::nothing(
            Some(id.clone()),
            Freshness::from_index(None, Some(problem), true, now),
            sentence,
            not_found,
        ));
    }
    let mut freshness = Freshness::from_index(
        rows.iter().map(|r| r.seen_at).min(),
        Some(problem.clone()),
        false,
        now,
    );
    freshness.environment = rows.first().map(|r| r.environment.clone());
    let mut transactions: Vec<TransactionView> = rows
        .iter()
        .filter_map(|r| decoded_of(r).map(|v: Value| TransactionView::from_decoded(&v, now)))
        .collect();
    newest_first(&mut transactions);
    let now_view = CustomerNow {
        customer_id: customer_id_of(id, &transactions),
        freshness: freshness.clone(),
        groups: groups_from_index(&rows, &[id.value()], now),
    };
    let Local {
        notifications,
        extensions,
        answers,
    } = local(state, project, &transactions).await?;
    Ok(CustomerReport {
        owned: owned(&transactions, now),
        lookup_id: transactions.first().map(|t| t.transaction_id.clone()),
        id: Some(id.clone()),
        now: now_view,
        freshness,
        transactions,
        more_history: false,
        notifications,
        extensions,
        answers,
        not_found: None,
        unknown: false,
    })
}

async fn audit(
    state: &AppState,
    project: &Project,
    actor: &Actor,
    id: &CustomerId,
    detail: &str,
) -> Result<(), AppError> {
    let detail = if detail.starts_with(id.kind_words()) {
        detail.to_owned()
    } else {
        format!("{}; {detail}", id.kind_words())
    };
    state
        .store
        .audit(
            actor,
            "lookup.customer",
            Some(project.id),
            id.value(),
            &detail,
        )
        .await?;
    Ok(())
}

/// What storedesk itself holds about a customer.
struct Local {
    notifications: Vec<CustomerNotification>,
    extensions: Vec<AuditEntry>,
    answers: Vec<ConsumptionAnswer>,
}

/// What storedesk itself holds about the customer's transactions: the notifications received and what staff did.
async fn local(
    state: &AppState,
    project: &Project,
    transactions: &[TransactionView],
) -> Result<Local, AppError> {
    let mut ids: Vec<String> = Vec::new();
    for t in transactions {
        for id in [&t.transaction_id, &t.original_transaction_id] {
            if !ids.contains(id) {
                ids.push(id.clone());
            }
        }
    }
    let originals: Vec<String> = transactions
        .iter()
        .filter(|t| t.is_subscription)
        .map(|t| t.original_transaction_id.clone())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let (notifications, extensions, answers) = tokio::join!(
        state
            .store
            .notifications_about(project.id, &ids, LOCAL_LIMIT),
        state
            .store
            .audit_about(project.id, EXTENSION_ACTIONS, &originals, LOCAL_LIMIT),
        state.store.consumption_answers_for(project.id, &ids)
    );
    Ok(Local {
        notifications: notifications?,
        extensions: extensions?,
        answers: answers?,
    })
}

/// The id the customer's links use: the original transaction id of their subscription (or first purchase), so
/// that every lookup of the same customer leads to the same address; a token stays a token.
fn customer_id_of(id: &CustomerId, transactions: &[TransactionView]) -> String {
    match id {
        CustomerId::AppAccountToken(t) => t.clone(),
        CustomerId::Transaction(t) => transactions
            .iter()
            .find(|x| x.transaction_id == t.as_str())
            .map(|x| x.original_transaction_id.clone())
            .unwrap_or_else(|| t.as_str().to_owned()),
    }
}

fn newest_first(transactions: &mut [TransactionView]) {
    transactions.sort_by(|a, b| {
        let key = |t: &TransactionView| {
            (
                t.purchase_date.as_ref().map(|w| w.ms),
                t.transaction_id.clone(),
            )
        };
        key(b).cmp(&key(a))
    });
}

/// What the customer owns: non-consumables not refunded (one per product, the newest), and non-renewing
/// subscriptions whose period still runs.
fn owned(transactions: &[TransactionView], now: i64) -> Vec<TransactionView> {
    let mut products = HashSet::new();
    transactions
        .iter()
        .filter(|t| t.revocation.is_none())
        .filter(|t| match t.product_type.raw.as_deref() {
            Some("Non-Consumable") => true,
            Some("Non-Renewing Subscription") => {
                t.expires_date.as_ref().is_some_and(|e| e.ms > now)
            }
            _ => false,
        })
        .filter(|t| products.insert(t.product_id.clone()))
        .cloned()
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_customer_is_opened_by_a_transaction_id_or_a_token_and_nothing_else() {
        assert_eq!(
            CustomerId::parse(" 2000000874121031 ").unwrap().value(),
            "2000000874121031"
        );
        assert_eq!(
            CustomerId::parse("F3B1C2D4-5E6F-4A7B-8C9D-0E1F2A3B4C5D").unwrap(),
            CustomerId::AppAccountToken("f3b1c2d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d".into())
        );
        let e = CustomerId::parse("MK5TTTVWJH").unwrap_err();
        assert!(e.starts_with("“MK5TTTVWJH” is not a customer's id"), "{e}");
    }

    #[test]
    fn owned_are_non_consumables_not_refunded_and_passes_still_running() {
        let now = 1_800_000_000_000;
        let t = |id: &str, kind: &str, product: &str, extra: Value| {
            let mut v = json!({"transactionId": id, "productId": product, "type": kind,
                               "purchaseDate": now - 1000});
            if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
                o.extend(e.clone());
            }
            TransactionView::from_decoded(&v, now)
        };
        let all = vec![
            t("1", "Non-Consumable", "themes", json!({})),
            t(
                "2",
                "Non-Consumable",
                "ads",
                json!({"revocationDate": now - 10}),
            ),
            t(
                "3",
                "Non-Renewing Subscription",
                "season",
                json!({"expiresDate": now + 10}),
            ),
            t(
                "4",
                "Non-Renewing Subscription",
                "old.season",
                json!({"expiresDate": now - 10}),
            ),
            t("5", "Consumable", "coins", json!({})),
            t("6", "Non-Consumable", "themes", json!({})),
        ];
        let ids: Vec<String> = owned(&all, now)
            .into_iter()
            .map(|t| t.transaction_id)
            .collect();
        assert_eq!(ids, ["1", "3"]);
    }
}
