//! Automatic consumption answers: a project's policy answers each CONSUMPTION_REQUEST within minutes, with the
//! values the policy sets and those the publisher's backend supplies for the request through the JSON API, held
//! to Apple's rules by the same check as a person's answer (`consumption::validate`) and sent by the same path.
//! A dry run computes and shows the answer without sending it; a person can answer first, and then the policy
//! stays out.
use app_store_server_library::models::consumption_request::ConsumptionRequest;
use serde::{Deserialize, Serialize};

use crate::apple::{AppleError, Environment};
use crate::domain::TransactionId;
use crate::error::AppError;
use crate::notifications::consumption::{
    self, ConsumptionForm, DELIVERY_STATUSES, REFUND_PREFERENCES,
};
use crate::notifications::decoded;
use crate::state::AppState;
use crate::store::consumption_policy::{
    PolicyRow, AUTOMATIC, CLAIMED, COMPUTED, DRY_RUN, FAILED, OFF, PERSON, SENT, SKIPPED, WAITING,
};
use crate::store::notification_log::{ConsumptionRequestRow, QueueState, CONSUMPTION_DEADLINE_MS};
use crate::store::notification_work::{ConsumptionOutcome, NewConsumptionAnswer};
use crate::store::{Actor, Project};

/// How long the policy may wait for the backend, at most.
pub const MAX_WAIT_MINUTES: i64 = 600;
/// However long the policy waits, it answers this long before Apple's deadline.
pub const DEADLINE_MARGIN_MS: i64 = 30 * 60 * 1000;
const AUTO_RENEWABLE: &str = "Auto-Renewable Subscription";
/// Who the audit log names for what the policy sends.
pub const POLICY_ACTOR: &str = "consumption policy";

pub const MODES: &[(&str, &str)] = &[
    (OFF, "Off: a person answers each request"),
    (DRY_RUN, "Dry run: show what would be sent, send nothing"),
    (AUTOMATIC, "Automatic: send it within minutes"),
];

/// What the publisher's backend knows of one request, in Apple's field names (JSON API).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BackendData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_status: Option<String>,
    /// Thousandths of a percent, 0–100000, as Apple takes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumption_percentage: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_preference: Option<String>,
}

impl BackendData {
    /// The first field that is wrong, with its sentence.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if let Some(d) = &self.delivery_status {
            if !DELIVERY_STATUSES.iter().any(|(v, _)| v == d) {
                return Err((
                    "deliveryStatus",
                    format!(
                        "deliveryStatus must be one of {}.",
                        DELIVERY_STATUSES
                            .iter()
                            .map(|(v, _)| *v)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
        }
        if let Some(p) = self.consumption_percentage {
            if !(0..=100_000).contains(&p) {
                return Err((
                    "consumptionPercentage",
                    "consumptionPercentage is in thousandths of a percent: a whole number from 0 to 100000.".into(),
                ));
            }
        }
        if let Some(r) = &self.refund_preference {
            if r.is_empty() || !REFUND_PREFERENCES.iter().any(|(v, _)| v == r) {
                return Err((
                    "refundPreference",
                    "refundPreference must be DECLINE, GRANT_FULL or GRANT_PRORATED (leave it out for no preference)."
                        .into(),
                ));
            }
        }
        Ok(())
    }
}

/// The body the policy would send for `request`, or the sentence saying why it sends nothing.
pub fn compute(
    policy: &PolicyRow,
    backend: Option<&BackendData>,
    request: &ConsumptionRequestRow,
) -> Result<ConsumptionRequest, String> {
    if policy.consent_declared == 0 {
        return Err("Nothing is sent: the project has not declared that its app obtains the customer's consent, \
                    and Apple accepts consumption information only with it."
            .into());
    }
    let (form, auto_renewable) = answer_form(policy, backend, request, true);
    consumption::validate(&form, auto_renewable).map_err(|e| {
        let first = field_errors(e)
            .into_iter()
            .map(|(_, sentence)| sentence)
            .next()
            .unwrap_or_default();
        format!("Nothing was sent: the answer would break Apple's rules. {first}")
    })
}

/// The form a person would fill in for `request`: the policy's values, overridden by the backend's. With
/// `drop_subscription_share`, a share given for an auto-renewable subscription (Apple computes it) is left out.
fn answer_form(
    policy: &PolicyRow,
    backend: Option<&BackendData>,
    request: &ConsumptionRequestRow,
    drop_subscription_share: bool,
) -> (ConsumptionForm, bool) {
    let summary = serde_json::from_str(&request.notification.payload)
        .map(|v| decoded::summary_of(&v))
        .unwrap_or_default();
    let auto_renewable = summary.product_type.as_deref() == Some(AUTO_RENEWABLE);
    let form = ConsumptionForm {
        customer_consented: "true".into(),
        sample_content_provided: if policy.sample_content_provided != 0 {
            "true"
        } else {
            "false"
        }
        .into(),
        delivery_status: backend
            .and_then(|b| b.delivery_status.clone())
            .unwrap_or_else(|| policy.delivery_status.clone()),
        consumption_percentage: backend
            .and_then(|b| b.consumption_percentage)
            .filter(|_| !(auto_renewable && drop_subscription_share))
            .map(|p| format!("{}.{:03}", p / 1000, p % 1000))
            .unwrap_or_default(),
        refund_preference: backend
            .and_then(|b| b.refund_preference.clone())
            .unwrap_or_else(|| policy.refund_preference.clone()),
    };
    (form, auto_renewable)
}

/// Each wrong field of an answer by Apple's name, with its sentence, in the form's order.
fn field_errors(e: consumption::ConsumptionErrors) -> Vec<(&'static str, String)> {
    [
        ("customerConsented", e.customer_consented),
        ("sampleContentProvided", e.sample_content_provided),
        ("deliveryStatus", e.delivery_status),
        ("consumptionPercentage", e.consumption_percentage),
        ("refundPreference", e.refund_preference),
    ]
    .into_iter()
    .filter_map(|(field, sentence)| sentence.map(|s| (field, s)))
    .collect()
}

/// The backend's data for `request` held to Apple's rules together with the policy's values, as the answer would
/// go out (a share for an auto-renewable subscription, a prorated refund without a share between 0 and 100 %):
/// the first wrong field by Apple's name, with its sentence.
pub fn check_with_policy(
    policy: &PolicyRow,
    backend: &BackendData,
    request: &ConsumptionRequestRow,
) -> Result<(), (&'static str, String)> {
    let (form, auto_renewable) = answer_form(policy, Some(backend), request, false);
    match consumption::validate(&form, auto_renewable) {
        Ok(_) => Ok(()),
        Err(e) => match field_errors(e).into_iter().next() {
            Some((field, sentence)) => Err((field, format!("{field}: {sentence}"))),
            None => Ok(()),
        },
    }
}

/// When the policy takes `request` up without the backend's data: once the wait is over, and never later than
/// the margin before Apple's deadline. The backend's data makes it sooner (the next turn).
pub fn due_at(policy: &PolicyRow, request: &ConsumptionRequestRow) -> i64 {
    // The wait counts from when storedesk got the request (a late delivery, a backfill or a policy turned on later
    // gives the backend its time too), and is cut short by Apple's deadline.
    let signed = request.notification.signed_date;
    let wait_over = request.notification.received_at + policy.wait_minutes * 60_000;
    wait_over.min(signed + CONSUMPTION_DEADLINE_MS - DEADLINE_MARGIN_MS)
}

/// For a request the policy has not taken up yet, what it will do and when, in words for the request's page:
/// the values it would send now, or why it will send nothing. `None` when the policy is off.
pub fn pending_sentence(
    policy: &PolicyRow,
    backend: Option<&BackendData>,
    request: &ConsumptionRequestRow,
) -> Option<String> {
    let when = crate::present::time::utc(due_at(policy, request));
    let soon = if backend.is_some() {
        "within a minute (your backend's data is in)".to_owned()
    } else {
        format!("at {when}, or within a minute of your backend's data arriving")
    };
    let values = match compute(policy, backend, request) {
        Ok(body) => serde_json::to_string(&body)
            .map(|json| consumption::describe(&json))
            .unwrap_or_default(),
        Err(sentence) => return (policy.mode != OFF).then_some(sentence),
    };
    match policy.mode.as_str() {
        AUTOMATIC => Some(format!(
            "Will be sent automatically {soon}, unless a person answers first: {values}."
        )),
        DRY_RUN => Some(format!(
            "Dry run: will be computed {soon} and not sent. With today's values: {values}."
        )),
        _ => None,
    }
}

/// Sends `body` for `request` and records the answer with its audit entry (`consumption.send`, naming `actor`):
/// the one path for a person's answer and the policy's.
pub async fn send_answer(
    state: &AppState,
    project: &Project,
    request: &ConsumptionRequestRow,
    body: &ConsumptionRequest,
    actor: &Actor,
) -> Result<Result<(), AppleError>, AppError> {
    let n = &request.notification;
    let transaction_id = n.transaction_id.clone().unwrap_or_default();
    // Apple signed the id, and it goes into Apple's URL only in the shape Apple gives its ids.
    let Ok(apple_id) = TransactionId::parse(&transaction_id) else {
        return Err(AppError::BadRequest(
            "This consumption request names no transaction id Apple issues, so there is nothing to answer.".into(),
        ));
    };
    let environment = Environment::parse(&n.environment).unwrap_or(Environment::Production);
    let request_json = serde_json::to_string(body)
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!("consumption body: {e}")))?;
    let (apple, tid) = (&state.apple, &apple_id);
    let result = crate::apple_calls::with_project_key(state, project, move |creds| async move {
        apple
            .send_consumption_information(&creds, environment, tid, body)
            .await
    })
    .await?;
    let outcome = match &result {
        Ok(()) => Ok(()),
        // The request left: Apple may have received it, so it is not recorded as refused.
        Err(AppleError::NoAnswer { within }) => Err((
            ConsumptionOutcome::Unanswered,
            None,
            format!(
                "{} storedesk can't tell whether Apple received it.",
                crate::apple::silence(*within)
            ),
        )),
        Err(e) => Err((ConsumptionOutcome::Refused, e.code(), e.sentence())),
    };
    state
        .store
        .record_consumption_answer(
            &NewConsumptionAnswer {
                project_id: project.id,
                notification_id: n.id,
                transaction_id,
                environment: environment.as_str().to_owned(),
                request: request_json,
                outcome,
            },
            actor,
        )
        .await?;
    let label = match &result {
        Ok(()) => "outcome=\"accepted\"",
        Err(AppleError::NoAnswer { .. }) => "outcome=\"unanswered\"",
        Err(_) => "outcome=\"refused\"",
    };
    state
        .metrics
        .inc("storedesk_consumption_answers_total", label);
    Ok(result)
}

/// What one run did, for logs and tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RunReport {
    pub sent: usize,
    pub computed: usize,
    pub skipped: usize,
    pub failed: usize,
    pub waiting: usize,
}

/// One turn of the policy at `now_ms`: every open request of every project whose policy is not off, that is
/// ready (the backend's data is in, the wait is over, or Apple's deadline is near), is computed and, in automatic
/// mode, claimed and sent.
pub async fn run_once(state: &AppState, now_ms: i64) -> Result<RunReport, AppError> {
    let mut report = RunReport::default();
    for policy in state.store.active_consumption_policies().await? {
        let Some(project) = state.store.project_by_id(policy.project_id).await? else {
            continue;
        };
        let autos = state.store.consumption_autos(project.id).await?;
        let open = state
            .store
            .consumption_queue(project.id, QueueState::Open, now_ms, 500)
            .await?;
        for request in open {
            let id = request.notification.id;
            let auto = autos.iter().find(|a| a.notification_id == id);
            let auto_state = auto.map_or(WAITING, |a| a.state.as_str());
            let eligible = match policy.mode.as_str() {
                DRY_RUN => auto_state == WAITING,
                _ => auto_state == WAITING || auto_state == COMPUTED,
            };
            if !eligible {
                continue;
            }
            let backend: Option<BackendData> = auto
                .and_then(|a| a.backend.as_deref())
                .and_then(|b| serde_json::from_str(b).ok());
            let ready = backend.is_some() || now_ms >= due_at(&policy, &request);
            if !ready {
                report.waiting += 1;
                continue;
            }
            let body = match compute(&policy, backend.as_ref(), &request) {
                Ok(body) => body,
                Err(sentence) => {
                    let (state_word, label) = if policy.consent_declared == 0 {
                        (SKIPPED, "outcome=\"skipped\"")
                    } else {
                        (FAILED, "outcome=\"failed\"")
                    };
                    state
                        .store
                        .settle_consumption_auto(project.id, id, state_word, None, &sentence)
                        .await?;
                    state
                        .metrics
                        .inc("storedesk_consumption_policy_total", label);
                    if state_word == SKIPPED {
                        report.skipped += 1;
                    } else {
                        report.failed += 1;
                    }
                    continue;
                }
            };
            let json = serde_json::to_string(&body)
                .map_err(|e| AppError::Unexpected(anyhow::anyhow!("consumption body: {e}")))?;
            if policy.mode == DRY_RUN {
                state
                    .store
                    .settle_consumption_auto(
                        project.id,
                        id,
                        COMPUTED,
                        Some(&json),
                        "Dry run: this is what the policy would send. Nothing was sent.",
                    )
                    .await?;
                state
                    .metrics
                    .inc("storedesk_consumption_policy_total", "outcome=\"dry_run\"");
                report.computed += 1;
                continue;
            }
            // Taken before it leaves: another instance, or a person, cannot send it too.
            if !state
                .store
                .claim_consumption(project.id, id, CLAIMED)
                .await?
            {
                continue;
            }
            let actor = Actor::system(POLICY_ACTOR);
            let (word, sentence, label) =
                match send_answer(state, &project, &request, &body, &actor).await? {
                    Ok(()) => (
                        SENT,
                        "Sent by the policy; Apple accepted it.".to_owned(),
                        "outcome=\"sent\"",
                    ),
                    Err(e) => (
                        FAILED,
                        format!(
                            "Sent by the policy; Apple did not accept it. {}",
                            e.sentence()
                        ),
                        "outcome=\"failed\"",
                    ),
                };
            state
                .store
                .settle_consumption_auto(project.id, id, word, Some(&json), &sentence)
                .await?;
            state
                .metrics
                .inc("storedesk_consumption_policy_total", label);
            if word == SENT {
                report.sent += 1;
            } else {
                report.failed += 1;
            }
        }
    }
    Ok(report)
}

/// Takes a request for a person about to answer it: `false` when the policy is sending it or has sent it.
pub async fn claim_for_person(
    state: &AppState,
    project: &Project,
    notification_id: i64,
) -> Result<bool, AppError> {
    Ok(state
        .store
        .claim_consumption(project.id, notification_id, PERSON)
        .await?)
}

const EVERY: std::time::Duration = std::time::Duration::from_secs(60);
const LEASE_NAME: &str = "consumption_policy";

/// Runs the policy every minute, one instance at a time.
pub fn spawn_schedule(state: std::sync::Arc<AppState>) {
    let holder = format!("instance-{}", uuid::Uuid::new_v4());
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(EVERY);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            ticker.tick().await;
            let now = crate::clock::now_ms();
            match state
                .store
                .try_acquire_lease(LEASE_NAME, &holder, now, 30_000)
                .await
            {
                Ok(true) => match run_once(&state, now).await {
                    Ok(r) if r == RunReport::default() => {}
                    Ok(r) => tracing::info!(?r, "consumption policy ran"),
                    Err(e) => tracing::error!(error = ?e, "consumption policy failed"),
                },
                Ok(false) => {}
                Err(e) => tracing::error!(error = ?e, "consumption policy lease not taken"),
            }
        }
    });
}
