//! Glue between a project and Apple: opens the project's key for one call, records the outcome on the key row
//! (last success, last failure, repeated 401 → `failing`), and runs the two-environment credential check.
use std::future::Future;
use std::time::Duration;

use crate::apple::{ApiCredentials, AppleClient, AppleError, Environment};
use crate::domain::{TransactionId, Verdict};
use crate::error::AppError;
use crate::keys::{KeyInUse, OpenedKey};
use crate::state::AppState;
use crate::store::keys::KeyCheck;
use crate::store::Project;

pub fn credentials(project: &Project, key: &OpenedKey) -> ApiCredentials {
    key_credentials(project, KeyInUse::from(key))
}

fn key_credentials(project: &Project, key: KeyInUse) -> ApiCredentials {
    ApiCredentials {
        key_id: key.key_id,
        issuer_id: key.issuer_id,
        bundle_id: project.bundle_id.clone(),
        signing_key: key.signing_key,
        key_version: key.row_id,
    }
}

/// Runs one Apple call someone waits for (a page, a button) with the project's key in use, within the client's
/// answer bound (retries and every request of `call` included), and records how it went on that key. Apple's
/// silence is recorded as a failure, never as a refusal: it says nothing about the key.
pub async fn with_project_key<T, F, Fut>(
    state: &AppState,
    project: &Project,
    call: F,
) -> Result<Result<T, AppleError>, AppError>
where
    F: FnOnce(ApiCredentials) -> Fut,
    Fut: Future<Output = Result<T, AppleError>>,
{
    run_with_key(state, project, |creds| state.apple.within(call(creds))).await
}

/// [`with_project_key`] for work nobody waits for (a backfill's pages, the gap job): bounded only by the client's
/// timeout per attempt and its retries, so a slow Apple delays the work instead of failing it.
pub async fn with_project_key_in_background<T, F, Fut>(
    state: &AppState,
    project: &Project,
    call: F,
) -> Result<Result<T, AppleError>, AppError>
where
    F: FnOnce(ApiCredentials) -> Fut,
    Fut: Future<Output = Result<T, AppleError>>,
{
    run_with_key(state, project, call).await
}

async fn run_with_key<T, F, Fut>(
    state: &AppState,
    project: &Project,
    call: F,
) -> Result<Result<T, AppleError>, AppError>
where
    F: FnOnce(ApiCredentials) -> Fut,
    Fut: Future<Output = Result<T, AppleError>>,
{
    let key = crate::keys::key_in_use(&state.store, &state.settings.keyring(), project.id)
        .await?
        .ok_or_else(|| {
            AppError::BadRequest(
                "This project has no key in use. Add one under App Store settings.".into(),
            )
        })?;
    let (row_id, on_record) = (key.row_id, key.success_on_record);
    let result = call(key_credentials(project, key)).await;
    if on_record && key_accepted(&result) {
        // The row already holds a success from within the minute: writing another would change nothing.
        count_success(state);
    } else {
        record(state, row_id, &result).await?;
    }
    Ok(result)
}

/// Apple took the key: the call succeeded, or Apple refused only the request (an API error with its errorCode).
fn key_accepted<T>(result: &Result<T, AppleError>) -> bool {
    matches!(result, Ok(_) | Err(AppleError::Api { .. }))
}

fn count_success(state: &AppState) {
    state
        .metrics
        .inc("storedesk_apple_calls_total", "outcome=\"ok\"");
}

pub async fn record<T>(
    state: &AppState,
    row_id: i64,
    result: &Result<T, AppleError>,
) -> Result<(), AppError> {
    let outcome = match result {
        // Held back by our own budget: nothing reached Apple, so there is nothing to say about the key.
        Err(AppleError::BudgetExhausted { .. }) => return Ok(()),
        Err(e) if !key_accepted(result) => Err(e),
        _ => Ok(()),
    };
    match outcome {
        Ok(()) => {
            count_success(state);
            state.store.record_key_call(row_id, Ok(())).await?;
        }
        Err(e) => {
            let unauthorized = matches!(e, AppleError::Unauthorized { .. });
            state.metrics.inc(
                "storedesk_apple_calls_total",
                if unauthorized {
                    "outcome=\"unauthorized\""
                } else {
                    "outcome=\"error\""
                },
            );
            let what = match e.code() {
                Some(code) => format!("{} (Apple error {code})", short(e)),
                None => short(e),
            };
            state
                .store
                .record_key_call(row_id, Err((&what, unauthorized)))
                .await?;
        }
    }
    Ok(())
}

fn short(e: &AppleError) -> String {
    match e {
        AppleError::Unauthorized { environment } => format!("HTTP 401 in {environment}"),
        AppleError::RateLimited { .. } => "rate limited (HTTP 429)".into(),
        AppleError::BudgetExhausted { .. } => "held back by the hourly budget".into(),
        AppleError::Timeout { .. } => "timed out".into(),
        AppleError::NoAnswer { within } => format!("no answer within {} s", within.as_secs()),
        AppleError::Network { .. } => "network error".into(),
        AppleError::MalformedResponse(_) => "unreadable answer".into(),
        AppleError::HttpStatus { status, .. } => format!("HTTP {status}"),
        AppleError::Api { status, .. } => format!("HTTP {status}"),
        AppleError::Request(_) => "request not sent".into(),
    }
}

/// How one environment answered the credential check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    Accepted,
    Unauthorized,
    Unreachable,
    /// No answer within the client's bound: Apple (or the way to it) stayed silent.
    Silent,
    AppleDown,
    Other(String),
}

fn probe_of(result: &Result<(), AppleError>) -> Probe {
    match result {
        Ok(()) => Probe::Accepted,
        // 4xx with Apple's own error code: Apple read the token and accepted it; the made-up id was refused.
        Err(AppleError::Api { status, .. }) if *status < 500 && *status != 429 => Probe::Accepted,
        Err(AppleError::Unauthorized { .. }) => Probe::Unauthorized,
        Err(AppleError::Timeout { .. }) | Err(AppleError::Network { .. }) => Probe::Unreachable,
        Err(AppleError::NoAnswer { .. }) => Probe::Silent,
        Err(AppleError::Api { status, .. }) | Err(AppleError::HttpStatus { status, .. })
            if *status >= 500 =>
        {
            Probe::AppleDown
        }
        Err(e) => Probe::Other(e.sentence()),
    }
}

#[derive(Debug, Clone)]
pub struct Verification {
    pub sandbox: Probe,
    pub production: Probe,
    /// Seconds this machine's clock is ahead (+) or behind (−) Apple's, when it could be read.
    pub clock_skew_secs: Option<i64>,
    pub ok: bool,
    pub summary: String,
    pub causes: Vec<&'static str>,
}

pub const CAUSES_401: &[&str] = &[
    "The Key ID is the key's name rather than the 10-character code in its row.",
    "The Issuer ID comes from the App Store Connect API tab instead of the In-App Purchase tab.",
    "The .p8 file belongs to another key (its name should carry this Key ID).",
    "It is an App Store Connect API key (AuthKey_…p8), not an In-App Purchase key (SubscriptionKey_…p8).",
    "The key was revoked in App Store Connect: generate a new one and rotate.",
    "The bundle ID does not belong to the team of this key.",
];

/// A harmless call in each environment — Get Transaction Info for an id no customer has — which can only fail on
/// credentials: Apple answers 404 (or 400) when it accepted the token, and 401 when it did not.
pub async fn verify_credentials(client: &AppleClient, creds: &ApiCredentials) -> Verification {
    let probe = |env: Environment| {
        let creds = creds.clone();
        async move {
            // Our own made-up id, which always parses; were it refused, the probe would say so, not panic.
            let unknown =
                TransactionId::parse("1").map_err(|e| AppleError::Request(e.to_string()))?;
            client
                .get_transaction_info(&creds, env, &unknown)
                .await
                .map(|_| ())
        }
    };
    // Someone waits for this (Verify now, a key upload): both environments and the clock within one bound.
    let (sandbox, production, clock_skew_secs) = tokio::join!(
        client.within(probe(Environment::Sandbox)),
        client.within(probe(Environment::Production)),
        clock_skew(client)
    );
    let (sandbox, production) = (probe_of(&sandbox), probe_of(&production));
    let clock_off = clock_skew_secs.is_some_and(|s| s.abs() > 60);
    let mut causes = Vec::new();
    let (ok, summary) = match (&sandbox, &production) {
        (Probe::Accepted, Probe::Accepted) => (true, "Apple accepted the key in Sandbox and in Production.".to_string()),
        (Probe::Unauthorized, Probe::Unauthorized) if clock_off => (
            false,
            format!(
                "Apple refused the key in both environments, and this machine's clock is off by {} seconds. Tokens are valid for minutes only: synchronise the clock (NTP) and verify again.",
                clock_skew_secs.unwrap_or(0)
            ),
        ),
        (Probe::Unauthorized, Probe::Unauthorized) => {
            causes.extend_from_slice(CAUSES_401);
            (false, "Apple refused the key in both Sandbox and Production (HTTP 401). The Key ID, Issuer ID and .p8 do not belong together, or the key was revoked.".to_string())
        }
        (Probe::Accepted, Probe::Unauthorized) => (
            true,
            "Sandbox accepts the key, Production answers 401. Most likely the app has never been released in Production: Apple refuses Production calls until the first release. If it has been released, check the bundle ID.".to_string(),
        ),
        (Probe::Unauthorized, Probe::Accepted) => (
            true,
            "Production accepts the key; Sandbox answered 401. Sandbox sometimes refuses for a while; verify again later.".to_string(),
        ),
        (Probe::Unreachable, Probe::Unreachable) => (
            false,
            "storedesk could not reach Apple in either environment (network error or timeout). Check that this server may open HTTPS connections to api.storekit.apple.com and api.storekit-sandbox.apple.com.".to_string(),
        ),
        (Probe::Silent | Probe::Unreachable, Probe::Silent | Probe::Unreachable) => (
            false,
            format!(
                "{} Nothing is known about the key, and its status was not changed; verify again in a minute.",
                crate::apple::silence(client.config().answer_within)
            ),
        ),
        (Probe::AppleDown, _) | (_, Probe::AppleDown) => (
            false,
            "Apple's servers answered with an error of their own (5xx). Nothing is wrong with the key as far as we can tell; verify again in a few minutes.".to_string(),
        ),
        (s, p) => (
            false,
            format!(
                "Sandbox: {}. Production: {}.",
                describe(s).trim_end_matches('.'),
                describe(p).trim_end_matches('.')
            ),
        ),
    };
    Verification {
        sandbox,
        production,
        clock_skew_secs,
        ok,
        summary,
        causes,
    }
}

impl Probe {
    /// What the key row keeps of this answer: a verdict when it is conclusive.
    fn verdict(&self) -> Option<Verdict> {
        match self {
            Probe::Accepted => Some(Verdict::Accepted),
            Probe::Unauthorized => Some(Verdict::Refused),
            _ => None,
        }
    }
}

impl Verification {
    /// The check as the key row records it.
    pub fn to_record(&self) -> KeyCheck {
        let (sandbox, production) = (self.sandbox.verdict(), self.production.verdict());
        let failure = match (sandbox, production) {
            (Some(Verdict::Accepted), _) | (_, Some(Verdict::Accepted)) => None,
            (Some(Verdict::Refused), Some(Verdict::Refused)) => {
                Some("HTTP 401 in Sandbox and in Production (Verify now)".to_owned())
            }
            _ => Some(format!(
                "Verify now: Sandbox {}; Production {}",
                describe(&self.sandbox).trim_end_matches('.'),
                describe(&self.production).trim_end_matches('.')
            )),
        };
        KeyCheck {
            sandbox,
            production,
            ok: self.ok,
            summary: self.summary.clone(),
            failure,
        }
    }
}

/// Records one Verify now on the key row (see [`crate::store::Store::record_key_check`]) and counts it as a call.
pub async fn record_check(
    state: &AppState,
    row_id: i64,
    check: &Verification,
) -> Result<(), AppError> {
    let record = check.to_record();
    let outcome = match (&record.failure, record.sandbox, record.production) {
        (None, _, _) => "outcome=\"ok\"",
        (Some(_), Some(Verdict::Refused), Some(Verdict::Refused)) => "outcome=\"unauthorized\"",
        _ => "outcome=\"error\"",
    };
    state.metrics.inc("storedesk_apple_calls_total", outcome);
    state.store.record_key_check(row_id, &record).await?;
    Ok(())
}

fn describe(p: &Probe) -> String {
    match p {
        Probe::Accepted => "accepted".into(),
        Probe::Unauthorized => "refused the key (HTTP 401)".into(),
        Probe::Unreachable => "not reachable".into(),
        Probe::Silent => "no answer in time".into(),
        Probe::AppleDown => "Apple's server error".into(),
        Probe::Other(s) => s.clone(),
    }
}

/// Compares our clock with the `Date` header of an unauthenticated request to the production host.
async fn clock_skew(client: &AppleClient) -> Option<i64> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5).min(client.config().answer_within))
        .build()
        .ok()?;
    let response = http
        .get(&client.config().production_url)
        .send()
        .await
        .ok()?;
    let date = response.headers().get("date")?.to_str().ok()?;
    let theirs = chrono::DateTime::parse_from_rfc2822(date).ok()?.timestamp();
    Some(chrono::Utc::now().timestamp() - theirs)
}
