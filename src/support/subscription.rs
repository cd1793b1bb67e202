//! A customer's subscriptions (Get All Subscription Statuses): each group's state with its renewal info in plain
//! words, and extending a renewal date.
use serde::Serialize;
use serde_json::Value;

use super::index::decoded_of;
use super::present::{RenewalView, TransactionView};
use super::timeline::{self, StatusInfo, Timeline};
use super::{call_apple, identity, AppleProblem, FieldError, Freshness, ProblemKind};
use crate::apple::models::extend_reason_code::ExtendReasonCode;
use crate::apple::models::extend_renewal_date_request::ExtendRenewalDateRequest;
use crate::apple::{with_fallback, Environment};
use crate::error::AppError;
use crate::present::labels::extend_reason;
use crate::present::status::subscription_badge;
use crate::present::{StatusBadge, When};
use crate::state::AppState;
use crate::store::transactions::index_row;
use crate::store::transactions::AuditNote;
use crate::store::{Actor, Project};

/// Apple's cap on one extension.
pub const MAX_EXTEND_DAYS: i32 = 90;
const MAX_NOTE_CHARS: usize = 500;

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

pub(crate) fn is_transaction_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit())
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
    if !is_transaction_id(id) {
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
    }
    // One key session: the statuses, then the customer's subscription history for the timelines.
    let answer = call_apple(state, project, |creds| async move {
        let statuses = state
            .apple
            .get_all_subscription_statuses_any_env(&creds, id, &[])
            .await?;
        let chain = super::fetch::subscription_pages(state, &creds, statuses.environment, id).await;
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

/// A validated request to extend one subscription's renewal date.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ExtendRequest {
    /// 1..=90.
    pub days: i32,
    /// Apple's `extendReasonCode`, 0..=3.
    pub reason_code: i64,
    /// Why, in the agent's words, for the audit log.
    pub note: String,
}

impl ExtendRequest {
    pub fn parse(days: &str, reason_code: &str, note: &str) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let days = match days.trim().parse::<i32>() {
            Ok(d) if (1..=MAX_EXTEND_DAYS).contains(&d) => d,
            _ => {
                errors.push(FieldError {
                    field: "days",
                    message: format!("Extend by a whole number of days from 1 to {MAX_EXTEND_DAYS} (Apple's limit for one extension)."),
                });
                0
            }
        };
        let reason_code = match reason_code.trim().parse::<i64>() {
            Ok(c) if (0..=3).contains(&c) => c,
            _ => {
                errors.push(FieldError {
                    field: "reason",
                    message: "Choose one of Apple's reasons: undeclared, customer satisfaction, other, or service issue or outage.".into(),
                });
                0
            }
        };
        let note = note.trim();
        if note.chars().count() < 3 {
            errors.push(FieldError {
                field: "note",
                message: "Say in a few words why you extend it; the note goes to the audit log."
                    .into(),
            });
        } else if note.chars().count() > MAX_NOTE_CHARS {
            errors.push(FieldError {
                field: "note",
                message: format!("Keep the note under {MAX_NOTE_CHARS} characters."),
            });
        }
        if errors.is_empty() {
            Ok(ExtendRequest {
                days,
                reason_code,
                note: note.to_owned(),
            })
        } else {
            Err(errors)
        }
    }
}

/// What Apple did with an extension.
#[derive(Clone, Debug, Serialize)]
pub struct ExtendOutcome {
    pub environment: String,
    /// Ours, sent to Apple; the same id sent again is answered without extending twice.
    pub request_identifier: String,
    pub new_renewal_date: Option<When>,
    pub web_order_line_item_id: Option<String>,
    pub sentence: String,
}

/// Whether an extension that failed this way may still have been carried out: the request left, and either no
/// answer came in time or it could not be read.
fn outcome_unknown(p: &AppleProblem) -> bool {
    matches!(p.kind, ProblemKind::Timeout | ProblemKind::Unreadable)
}

/// Asks Apple to move the renewal date of `original_transaction_id` by `request.days`, in the environment the
/// index knows it from (else Production, then Sandbox). Success, refusal and an unknown outcome are all written to
/// the audit log (`subscription.extend` / `subscription.extend_refused` / `subscription.extend_unknown`). Callers
/// check the role (admin or lead) first.
pub async fn extend_renewal_date(
    state: &AppState,
    project: &Project,
    actor: &Actor,
    original_transaction_id: &str,
    request: &ExtendRequest,
) -> Result<Result<ExtendOutcome, AppleProblem>, AppError> {
    let now = crate::clock::now_ms();
    let id = original_transaction_id.trim();
    let request_identifier = uuid::Uuid::new_v4().to_string();
    let known_env = state
        .store
        .indexed_by_original_id(project.id, id)
        .await?
        .first()
        .and_then(|r| Environment::parse(&r.environment));
    let body = ExtendRenewalDateRequest {
        extend_by_days: request.days,
        extend_reason_code: ExtendReasonCode::from(request.reason_code),
        request_identifier: request_identifier.clone(),
    };
    let answer = call_apple(state, project, |creds| {
        let body = &body;
        async move {
            let call = |env: Environment| {
                let creds = creds.clone();
                async move {
                    state
                        .apple
                        .extend_subscription_renewal_date(&creds, env, id, body)
                        .await
                }
            };
            match known_env {
                Some(env) => call(env).await.map(|value| crate::apple::Answered {
                    environment: env,
                    value,
                }),
                None => with_fallback(call).await,
            }
        }
    })
    .await?;
    let reason = extend_reason(request.reason_code);
    let outcome = match answer {
        Ok(a) if a.value.success != Some(false) => {
            let date = a
                .value
                .effective_date
                .map(|d| When::at(d.timestamp_millis(), now));
            Ok(ExtendOutcome {
                sentence: format!(
                    "Apple extended the renewal date by {} day(s){} ({}).",
                    request.days,
                    date.as_ref()
                        .map(|d| format!(" to {}", d.utc))
                        .unwrap_or_default(),
                    a.environment
                ),
                environment: a.environment.as_str().to_owned(),
                request_identifier: request_identifier.clone(),
                new_renewal_date: date,
                web_order_line_item_id: a.value.web_order_line_item_id,
            })
        }
        Ok(a) => Err(AppleProblem {
            kind: ProblemKind::Refused,
            sentence: format!(
                "Apple answered that the renewal date was not extended ({}).",
                a.environment
            ),
            code: None,
            http_status: None,
        }),
        Err(p) if p.is_not_found() => Err(AppleProblem::not_found(
            "Apple has no original transaction with this id, in Production or in Sandbox.",
        )),
        // The request left and Apple may have carried it out: trying again at once would extend a second time
        // (each try has its own request identifier) and use up another of Apple's limited extensions.
        Err(p) if outcome_unknown(&p) => {
            Err(AppleProblem {
                sentence: format!(
                    "{} So it is not known whether the renewal date was extended: open the subscription again and \
                     check its renewal date before you try again, or it may be extended twice.",
                    p.sentence
                ),
                ..p
            })
        }
        Err(p) => Err(p),
    };
    let (action, detail) = match &outcome {
        Ok(o) => (
            "subscription.extend",
            format!(
                "by {} day(s), reason {} ({}), request {}, {}{}; note: {}",
                request.days,
                request.reason_code,
                reason.text,
                request_identifier,
                o.environment,
                o.new_renewal_date
                    .as_ref()
                    .map(|d| format!(", new renewal date {}", d.utc))
                    .unwrap_or_default(),
                request.note
            ),
        ),
        Err(p) => (
            if outcome_unknown(p) {
                "subscription.extend_unknown"
            } else {
                "subscription.extend_refused"
            },
            format!(
                "by {} day(s), reason {} ({}), request {}: {}; note: {}",
                request.days,
                request.reason_code,
                reason.text,
                request_identifier,
                p.sentence,
                request.note
            ),
        ),
    };
    state
        .store
        .audit(actor, action, Some(project.id), id, &detail)
        .await?;
    Ok(outcome)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn an_extension_request_is_checked_field_by_field() {
        let ok = ExtendRequest::parse(" 30 ", "3", " outage on 2 May ").unwrap();
        assert_eq!(ok.days, 30);
        assert_eq!(ok.reason_code, 3);
        assert_eq!(ok.note, "outage on 2 May");
        for (days, reason, note, field) in [
            ("0", "1", "fine", "days"),
            ("91", "1", "fine", "days"),
            ("ten", "1", "fine", "days"),
            ("10", "4", "fine", "reason"),
            ("10", "", "fine", "reason"),
            ("10", "1", " ", "note"),
        ] {
            let errors = ExtendRequest::parse(days, reason, note).unwrap_err();
            assert_eq!(errors.len(), 1, "{days} {reason} {note}");
            assert_eq!(errors[0].field, field);
        }
        assert!(
            ExtendRequest::parse("10", "1", &"x".repeat(501)).unwrap_err()[0]
                .message
                .contains("under 500")
        );
    }
}
