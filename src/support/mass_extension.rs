//! Extend for all customers: Apple's mass renewal-date extension of one product's active subscribers, in the
//! project's environment. The request is checked field by field, stored with its `requestIdentifier` before it is
//! sent, sent once (never retried by itself: a person sends the same request again after an unknown outcome), and
//! followed to completion through Apple's status endpoint and the summary notification Apple sends at the end.
use serde_json::Value;

use crate::apple::models::extend_reason_code::ExtendReasonCode;
use crate::apple::models::mass_extend_renewal_date_request::MassExtendRenewalDateRequest;
use crate::apple::Environment;
use crate::error::AppError;
use crate::state::AppState;
use crate::store::mass_extensions::{
    MassExtensionRow, MassProgress, NewMassExtension, ACCEPTED, REFUSED, UNKNOWN,
};
use crate::store::{Actor, Project};
use crate::support::subscription::{first_sentence, outcome_unknown};
use crate::support::{call_apple, AppleProblem, FieldError};

/// Apple's cap on one extension.
pub const MAX_DAYS: i64 = 90;
const MAX_PRODUCT_ID_CHARS: usize = 255;

/// A validated request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MassExtendRequest {
    pub product_id: String,
    pub days: i64,
    pub reason_code: i64,
    /// ISO 3166-1 alpha-3, upper case; empty for every storefront.
    pub storefronts: Vec<String>,
}

impl MassExtendRequest {
    /// Checks the form's fields; `confirmed` is the box that says the person means every subscriber.
    pub fn parse(
        product_id: &str,
        days: &str,
        reason_code: &str,
        storefronts: &str,
        confirmed: bool,
    ) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let product_id = product_id.trim();
        if product_id.is_empty() {
            errors.push(FieldError {
                field: "product_id",
                message: "Choose the auto-renewable subscription product whose subscribers get the extra days."
                    .into(),
            });
        } else if product_id.chars().count() > MAX_PRODUCT_ID_CHARS
            || product_id.chars().any(char::is_whitespace)
        {
            errors.push(FieldError {
                field: "product_id",
                message:
                    "A product id is one word without spaces, as in App Store Connect (for example \
                          com.example.pro.monthly)."
                        .into(),
            });
        }
        let days = match days.trim().parse::<i64>() {
            Ok(d) if (1..=MAX_DAYS).contains(&d) => d,
            _ => {
                errors.push(FieldError {
                    field: "extend_by_days",
                    message: format!(
                        "Extend by a whole number of days from 1 to {MAX_DAYS} (Apple's limit for one extension)."
                    ),
                });
                0
            }
        };
        let reason_code = match reason_code.trim().parse::<i64>() {
            Ok(c) if (0..=3).contains(&c) => c,
            _ => {
                errors.push(FieldError {
                    field: "extend_reason_code",
                    message: "Choose one of Apple's reasons: undeclared, customer satisfaction, other, or service \
                              issue or outage."
                        .into(),
                });
                0
            }
        };
        let mut codes = Vec::new();
        let mut bad = Vec::new();
        for code in storefronts
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
        {
            let upper = code.to_ascii_uppercase();
            if crate::domain::is_storefront_country_code(&upper) {
                if !codes.contains(&upper) {
                    codes.push(upper);
                }
            } else {
                bad.push(code.to_owned());
            }
        }
        if !bad.is_empty() {
            errors.push(FieldError {
                field: "storefronts",
                message: format!(
                    "Storefronts are three-letter country codes (ISO 3166-1 alpha-3, such as USA, DEU, JPN) \
                     separated by commas; these are not: {}. Leave the field empty for every storefront.",
                    bad.join(", ")
                ),
            });
        }
        if !confirmed {
            errors.push(FieldError {
                field: "confirm",
                message: "Tick the box to confirm: this extends every active subscriber of the product, and it \
                          cannot be undone."
                    .into(),
            });
        }
        if errors.is_empty() {
            Ok(MassExtendRequest {
                product_id: product_id.to_owned(),
                days,
                reason_code,
                storefronts: codes,
            })
        } else {
            Err(errors)
        }
    }
}

/// The project's environment: the one whose subscribers a mass extension reaches.
fn environment_of(project: &Project) -> Environment {
    Environment::parse(&project.environment).unwrap_or(Environment::Production)
}

/// Stores the request, sends it once and records what Apple said (audited as `subscription.extend_all`,
/// `…_refused` or `…_unknown`). Callers check the role (admin or lead) first.
pub async fn start(
    state: &AppState,
    project: &Project,
    actor: &Actor,
    request: &MassExtendRequest,
) -> Result<MassExtensionRow, AppError> {
    let env = environment_of(project);
    let row = state
        .store
        .insert_mass_extension(&NewMassExtension {
            project_id: project.id,
            environment: env.as_str(),
            request_identifier: &uuid::Uuid::new_v4().to_string(),
            product_id: &request.product_id,
            days: request.days,
            reason_code: request.reason_code,
            storefronts: &request.storefronts.join(","),
            requested_by: &actor.email,
        })
        .await?;
    send(state, project, actor, row).await
}

/// Sends again a request whose outcome is not known, with the same identifier (Apple starts its work once).
/// `None` when it is no longer of unknown outcome.
pub async fn send_again(
    state: &AppState,
    project: &Project,
    actor: &Actor,
    row: MassExtensionRow,
) -> Result<Option<MassExtensionRow>, AppError> {
    if !row.outcome_unknown() || !state.store.resend_mass_extension(row.id).await? {
        return Ok(None);
    }
    let row = MassExtensionRow {
        attempts: row.attempts + 1,
        ..row
    };
    Ok(Some(send(state, project, actor, row).await?))
}

async fn send(
    state: &AppState,
    project: &Project,
    actor: &Actor,
    row: MassExtensionRow,
) -> Result<MassExtensionRow, AppError> {
    let env = Environment::parse(&row.environment).unwrap_or(Environment::Production);
    let body = MassExtendRenewalDateRequest {
        extend_by_days: i32::try_from(row.days).unwrap_or(1),
        extend_reason_code: ExtendReasonCode::from(row.reason_code),
        request_identifier: row.request_identifier.clone(),
        storefront_country_codes: (!row.storefronts.is_empty())
            .then(|| row.storefronts.split(',').map(str::to_owned).collect()),
        product_id: row.product_id.clone(),
    };
    let answer = call_apple(state, project, |creds| {
        let body = &body;
        async move {
            state
                .apple
                .mass_extend_renewal_date(&creds, env, body)
                .await
        }
    })
    .await?;
    let (new_state, sentence, action) = match &answer {
        Ok(_) => (
            ACCEPTED,
            format!(
                "Apple accepted the request ({env}) and is extending the subscriptions; this can take hours."
            ),
            "subscription.extend_all",
        ),
        Err(p) if outcome_unknown(p) => (
            UNKNOWN,
            format!(
                "{} So it is not known whether Apple took the request. Send the same request again: Apple starts \
                 one request only once, so no subscriber is extended twice.",
                first_sentence(&p.sentence)
            ),
            "subscription.extend_all_unknown",
        ),
        Err(p) => (REFUSED, refusal(p), "subscription.extend_all_refused"),
    };
    state
        .store
        .settle_mass_extension(row.id, new_state, &sentence)
        .await?;
    let reason = crate::present::labels::extend_reason(row.reason_code);
    let detail = format!(
        "{}: {} by {} day(s), reason {} ({}), storefronts {}, request {}{}: {}",
        env,
        row.product_id,
        row.days,
        row.reason_code,
        reason.text,
        if row.storefronts.is_empty() {
            "all"
        } else {
            &row.storefronts
        },
        row.request_identifier,
        if row.attempts > 1 {
            format!(" (attempt {})", row.attempts)
        } else {
            String::new()
        },
        sentence
    );
    state
        .store
        .audit(actor, action, Some(project.id), &row.product_id, &detail)
        .await?;
    Ok(MassExtensionRow {
        state: new_state.to_owned(),
        sentence,
        ..row
    })
}

/// Apple's refusal in words; its codes for this endpoint get a sentence of their own.
fn refusal(p: &AppleProblem) -> String {
    let ours = match p.code {
        Some(4000023 | 4000030) => Some(
            "Apple refused the product id: it is not an auto-renewable subscription of this app. Nothing was \
             extended.",
        ),
        Some(4000027) => Some("Apple refused an empty storefront list. Nothing was extended."),
        Some(4000028) => Some(
            "Apple refused a storefront code: use three-letter country codes such as USA. Nothing was extended.",
        ),
        Some(4030004) => Some(
            "Apple refused: these subscriptions cannot be extended now (for example during a free offer period). \
             Nothing was extended.",
        ),
        Some(4030005) => Some(
            "Apple refused: the subscriptions have had the most extensions Apple allows in a year. Nothing was \
             extended.",
        ),
        _ => None,
    };
    ours.map_or_else(|| p.sentence.clone(), str::to_owned)
}

/// Asks Apple how far it got and records it. `Ok(Err(problem))` when Apple could not say.
pub async fn check(
    state: &AppState,
    project: &Project,
    row: &MassExtensionRow,
) -> Result<Result<MassProgress, AppleProblem>, AppError> {
    let env = Environment::parse(&row.environment).unwrap_or(Environment::Production);
    let answer = call_apple(state, project, |creds| async move {
        state
            .apple
            .mass_extension_status(&creds, env, &row.product_id, &row.request_identifier)
            .await
    })
    .await?;
    Ok(match answer {
        Ok(status) => {
            let progress = MassProgress {
                complete: status.complete == Some(true),
                complete_date: status.complete_date.map(|d| d.timestamp_millis()),
                succeeded_count: status.succeeded_count,
                failed_count: status.failed_count,
            };
            state.store.record_mass_progress(row.id, &progress).await?;
            Ok(progress)
        }
        Err(p) => Err(p),
    })
}

/// Links the summary notification of this request, if one arrived and is not linked yet; Apple's counts in it
/// complete the request. Returns the row as it now stands.
pub async fn link_summary(
    state: &AppState,
    row: MassExtensionRow,
) -> Result<MassExtensionRow, AppError> {
    if row.summary_notification_uuid.is_some() {
        return Ok(row);
    }
    let Some((uuid, payload)) = state
        .store
        .mass_extension_summary(row.project_id, &row.request_identifier)
        .await?
    else {
        return Ok(row);
    };
    let summary = serde_json::from_str::<Value>(&payload)
        .ok()
        .and_then(|p| p.pointer("/notification/summary").cloned())
        .unwrap_or(Value::Null);
    let progress = MassProgress {
        complete: true,
        complete_date: None,
        succeeded_count: summary.get("succeededCount").and_then(Value::as_i64),
        failed_count: summary.get("failedCount").and_then(Value::as_i64),
    };
    state
        .store
        .link_mass_summary(row.project_id, &row.request_identifier, &uuid, &progress)
        .await?;
    Ok(state
        .store
        .mass_extension(row.project_id, row.id)
        .await?
        .unwrap_or(row))
}

/// The status job's turn: every request Apple is still working on is asked about once (or completed from its
/// summary notification). Failures are logged; the next turn asks again.
pub async fn follow_up(state: &AppState) -> Result<usize, AppError> {
    let mut asked = 0;
    for row in state.store.mass_extensions_in_progress().await? {
        let row = link_summary(state, row).await?;
        if !row.in_progress() {
            continue;
        }
        let Some(project) = state.store.project_by_id(row.project_id).await? else {
            continue;
        };
        asked += 1;
        if let Err(p) = check(state, &project, &row).await? {
            tracing::info!(request = %row.request_identifier, problem = %p.sentence, "mass extension status not read");
        }
    }
    Ok(asked)
}

/// How often the status job asks Apple about requests in progress (Apple allows about one status call a second).
const FOLLOW_EVERY: std::time::Duration = std::time::Duration::from_secs(60);
const LEASE_NAME: &str = "mass_extension_status";

/// Follows requests in progress in the background, one instance at a time (a lease), every [`FOLLOW_EVERY`].
pub fn spawn_schedule(state: std::sync::Arc<AppState>) {
    let holder = format!("instance-{}", uuid::Uuid::new_v4());
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(FOLLOW_EVERY);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            ticker.tick().await;
            let now = crate::clock::now_ms();
            let ttl = i64::try_from(FOLLOW_EVERY.as_millis() / 2).unwrap_or(30_000);
            match state
                .store
                .try_acquire_lease(LEASE_NAME, &holder, now, ttl)
                .await
            {
                Ok(true) => {
                    if let Err(e) = follow_up(&state).await {
                        tracing::error!(error = ?e, "following mass extensions failed");
                    }
                }
                Ok(false) => tracing::debug!("mass extensions followed by another instance"),
                Err(e) => tracing::error!(error = ?e, "mass extension lease not taken"),
            }
        }
    });
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_mass_extension_is_checked_field_by_field() {
        let ok =
            MassExtendRequest::parse(" com.a.pro ", " 7 ", "3", " usa, DEU ,usa", true).unwrap();
        assert_eq!(ok.product_id, "com.a.pro");
        assert_eq!(ok.days, 7);
        assert_eq!(ok.reason_code, 3);
        assert_eq!(ok.storefronts, vec!["USA", "DEU"]);
        assert!(MassExtendRequest::parse("com.a.pro", "90", "0", "", true)
            .unwrap()
            .storefronts
            .is_empty());
        let fields = |e: Vec<FieldError>| e.into_iter().map(|e| e.field).collect::<Vec<_>>();
        assert_eq!(
            fields(MassExtendRequest::parse("", "91", "4", "US, Deutschland", false).unwrap_err()),
            vec![
                "product_id",
                "extend_by_days",
                "extend_reason_code",
                "storefronts",
                "confirm"
            ]
        );
        assert_eq!(
            fields(MassExtendRequest::parse("com a", "0", "x", "", true).unwrap_err()),
            vec!["product_id", "extend_by_days", "extend_reason_code"]
        );
    }
}
