//! Extending a subscription's renewal date: the agent's request checked field by field, Apple asked in the
//! environment the index knows the subscription from, and every outcome (extended, refused, unknown) audited.
use serde::Serialize;

use crate::apple::models::extend_reason_code::ExtendReasonCode;
use crate::apple::models::extend_renewal_date_request::ExtendRenewalDateRequest;
use crate::apple::{with_fallback, Environment};
use crate::domain::TransactionId;
use crate::error::AppError;
use crate::state::AppState;
use crate::store::renewal_extensions::{ExtensionRow, NewExtension, EXTENDED, REFUSED, UNKNOWN};
use crate::store::{Actor, Project};
use crate::support::present::When;
use crate::support::{call_apple, AppleProblem, FieldError, ProblemKind};

/// Apple's cap on one extension.
pub const MAX_EXTEND_DAYS: i32 = 90;
const MAX_NOTE_CHARS: usize = 500;

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

/// An extension whose outcome is not known, as the page and the JSON API show it.
#[derive(Clone, Debug, Serialize)]
pub struct PendingExtension {
    pub original_transaction_id: String,
    /// Sent to Apple with the request, and sent again with it: Apple applies one identifier only once.
    pub request_identifier: String,
    pub days: i64,
    pub reason_code: i64,
    pub requested_by: String,
    pub sent: When,
    /// How many times it was sent.
    pub attempts: i64,
    /// `unknown`: neither applied nor refused as far as storedesk can tell.
    pub outcome: &'static str,
    /// What happened to the last attempt.
    pub sentence: String,
}

impl PendingExtension {
    pub fn of(row: &ExtensionRow, now: i64) -> Self {
        PendingExtension {
            original_transaction_id: row.original_transaction_id.clone(),
            request_identifier: row.request_identifier.clone(),
            days: row.days,
            reason_code: row.reason_code,
            requested_by: row.requested_by.clone(),
            sent: When::at(row.updated_at, now),
            attempts: row.attempts,
            outcome: "unknown",
            sentence: if row.sentence.is_empty() {
                "It was sent, and no outcome was recorded.".to_owned()
            } else {
                row.sentence.clone()
            },
        }
    }
}

/// Said when another extension of the subscription is on its way or has an unknown outcome.
pub const IN_FLIGHT: &str = "Nothing was sent: another extension of this subscription was sent a moment ago, or its \
     outcome is not known. Open the subscription again to see it, and send that one again if it asks.";

/// A first request, or the same request again after an unknown outcome.
pub enum ExtendAttempt {
    New(ExtendRequest),
    Again(ExtensionRow),
}

/// The subscription's latest extension whose outcome is not known, if any.
pub async fn unsettled_extension(
    state: &AppState,
    project: &Project,
    original_transaction_id: &TransactionId,
) -> Result<Option<ExtensionRow>, AppError> {
    Ok(state
        .store
        .unsettled_extension(project.id, original_transaction_id.as_str())
        .await?)
}

/// The sentence up to its first full stop.
pub fn first_sentence(s: &str) -> &str {
    s.find(". ").map_or(s, |end| &s[..=end])
}

/// The request left and no readable answer came back, the connection broke, or Apple's server failed: Apple may
/// have carried it out.
pub fn outcome_unknown(p: &AppleProblem) -> bool {
    match p.kind {
        ProblemKind::Timeout | ProblemKind::Unreadable | ProblemKind::Unreachable => true,
        // A 5xx, or an answer without Apple's error code and status; a retryable 404 code is a refusal.
        ProblemKind::AppleError => p.http_status.is_none_or(|s| s >= 500),
        _ => false,
    }
}

/// Asks Apple to move the renewal date of `original_transaction_id`, in the environment the index knows it from
/// (else Production, then Sandbox). A new request is stored with its `requestIdentifier` before it is sent; the
/// same request again (`ExtendAttempt::Again`) sends the stored identifier, days and reason. The call is made once,
/// never retried. Success, refusal and an unknown outcome are stored and written to the audit log
/// (`subscription.extend` / `subscription.extend_refused` / `subscription.extend_unknown`). Callers check the role
/// (admin or lead) first.
pub async fn extend_renewal_date(
    state: &AppState,
    project: &Project,
    actor: &Actor,
    original_transaction_id: &TransactionId,
    attempt: ExtendAttempt,
) -> Result<Result<ExtendOutcome, AppleProblem>, AppError> {
    let now = crate::clock::now_ms();
    let id = original_transaction_id.as_str();
    let row = match attempt {
        ExtendAttempt::New(request) => {
            let inserted = state
                .store
                .insert_extension(&NewExtension {
                    project_id: project.id,
                    original_transaction_id: id,
                    request_identifier: &uuid::Uuid::new_v4().to_string(),
                    days: i64::from(request.days),
                    reason_code: request.reason_code,
                    note: &request.note,
                    requested_by: &actor.email,
                })
                .await?;
            // Someone else's extension of it is on its way, or its outcome is unknown: nothing is sent.
            let Some(row) = inserted else {
                return Ok(Err(AppleProblem {
                    kind: ProblemKind::Refused,
                    sentence: IN_FLIGHT.to_owned(),
                    code: None,
                    http_status: None,
                }));
            };
            row
        }
        ExtendAttempt::Again(row) => {
            state.store.resend_extension(row.id).await?;
            ExtensionRow {
                attempts: row.attempts + 1,
                ..row
            }
        }
    };
    let request_identifier = row.request_identifier.clone();
    let days = i32::try_from(row.days).unwrap_or(MAX_EXTEND_DAYS);
    let again = if row.attempts > 1 {
        format!(", sent again (attempt {})", row.attempts)
    } else {
        String::new()
    };
    let known_env = state
        .store
        .indexed_by_original_id(project.id, id)
        .await?
        .first()
        .and_then(|r| Environment::parse(&r.environment).ok());
    let body = ExtendRenewalDateRequest {
        extend_by_days: days,
        extend_reason_code: ExtendReasonCode::from(row.reason_code),
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
                        .extend_subscription_renewal_date(
                            &creds,
                            env,
                            original_transaction_id,
                            body,
                        )
                        .await
                }
            };
            match known_env {
                Some(env) => call(env)
                    .await
                    .map(|value| crate::apple::Answered::from(env, value)),
                None => with_fallback(call).await,
            }
        }
    })
    .await?;
    let reason = crate::present::labels::extend_reason(row.reason_code);
    let outcome = match answer {
        Ok(a) if a.value.success != Some(false) => {
            let date = a
                .value
                .effective_date
                .map(|d| When::at(d.timestamp_millis(), now));
            Ok(ExtendOutcome {
                sentence: format!(
                    "Apple extended the renewal date by {} day(s){} ({}).",
                    days,
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
        // The request left and Apple may have carried it out: it is not tried again by itself (Apple allows two
        // extensions a year); a person sends the same request, with the same identifier, which Apple applies once.
        Err(p) if outcome_unknown(&p) => Err(AppleProblem {
            // Only what happened: the rest of the problem's sentence ("Nothing was changed; try again") is not
            // true of a request that may have been carried out.
            sentence: format!(
                "{} So it is not known whether Apple extended the renewal date. Send the same request again from \
                 the subscription's page: Apple applies one request only once, so it cannot be extended twice.",
                first_sentence(&p.sentence)
            ),
            ..p
        }),
        Err(p) => Err(p),
    };
    let settled = match &outcome {
        Ok(o) => (EXTENDED, o.sentence.as_str()),
        Err(p) if outcome_unknown(p) => (UNKNOWN, p.sentence.as_str()),
        Err(p) => (REFUSED, p.sentence.as_str()),
    };
    state
        .store
        .settle_extension(row.id, settled.0, settled.1)
        .await?;
    let (action, detail) = match &outcome {
        Ok(o) => (
            "subscription.extend",
            format!(
                "by {} day(s), reason {} ({}), request {}{}, {}{}; note: {}",
                days,
                row.reason_code,
                reason.text,
                request_identifier,
                again,
                o.environment,
                o.new_renewal_date
                    .as_ref()
                    .map(|d| format!(", new renewal date {}", d.utc))
                    .unwrap_or_default(),
                row.note
            ),
        ),
        Err(p) => (
            if outcome_unknown(p) {
                "subscription.extend_unknown"
            } else {
                "subscription.extend_refused"
            },
            format!(
                "by {} day(s), reason {} ({}), request {}{}: {}; note: {}",
                days, row.reason_code, reason.text, request_identifier, again, p.sentence, row.note
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
