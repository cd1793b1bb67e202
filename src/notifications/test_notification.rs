//! Step 4's "Send test notification": ask Apple to send a TEST notification, keep its token, and tell whether it
//! arrived here (a TEST notification of that environment received by the webhook after the request) and what
//! Apple reports about its delivery attempts (Get Test Notification Status).
use serde::{Deserialize, Serialize};

use crate::apple::{ApiErrorKind, AppleError, Environment};
use crate::error::AppError;
use crate::state::AppState;
use crate::store::test_notifications::TestNotificationRow;
use crate::store::{Actor, Project};

/// Apple is asked about delivery at most this often per test, however often the page polls: often while the
/// person is likely watching, rarely afterwards.
fn apple_refresh_ms(age_ms: i64) -> i64 {
    if age_ms < 60_000 {
        2_000
    } else {
        30_000
    }
}
/// After this, the last answer stands: the test is history.
const APPLE_WATCH_MS: i64 = 3_600_000;

/// One delivery attempt as Apple reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// Epoch ms; Apple may leave it out.
    pub at: Option<i64>,
    /// Apple's sendAttemptResult, e.g. SUCCESS or UNSUCCESSFUL_HTTP_RESPONSE_CODE.
    pub result: String,
}

impl Attempt {
    pub fn succeeded(&self) -> bool {
        self.result == "SUCCESS"
    }

    /// Apple's result in plain words, with the likely fix for the failures that have one.
    pub fn words(&self) -> String {
        match self.result.as_str() {
            "SUCCESS" => "delivered".into(),
            "TIMED_OUT" => "timed out: the server did not answer in time".into(),
            "TLS_ISSUE" => "TLS problem: the URL needs HTTPS with TLS 1.2 or newer and a certificate Apple trusts".into(),
            "CIRCULAR_REDIRECT" => "circular redirect: the URL redirects in a loop".into(),
            "NO_RESPONSE" => "no response: Apple could not connect to the URL".into(),
            "SOCKET_ISSUE" => "connection problem".into(),
            "UNSUPPORTED_CHARSET" => "unsupported character set in the answer".into(),
            "INVALID_RESPONSE" => "invalid answer".into(),
            "PREMATURE_CLOSE" => "the connection closed before the answer".into(),
            "UNSUCCESSFUL_HTTP_RESPONSE_CODE" => "refused: the URL answered with an error status (is App Store Connect set to this project's current URL?)".into(),
            "OTHER" => "failed for another reason".into(),
            other => format!("failed ({other})"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestState {
    Waiting,
    Arrived,
    /// Apple reports attempts and none succeeded, and nothing arrived.
    Failing,
    /// Apple reports a successful delivery, but nothing arrived here within the grace period
    /// (`Settings::test_notification_grace`): some other server at App Store Connect's URL answered it.
    DeliveredElsewhere,
}

impl TestState {
    pub fn word(self) -> &'static str {
        match self {
            TestState::Waiting => "waiting",
            TestState::Arrived => "arrived",
            TestState::Failing => "failing",
            TestState::DeliveredElsewhere => "delivered elsewhere",
        }
    }

    pub fn badge(self) -> &'static str {
        match self {
            TestState::Waiting => "badge-warn",
            TestState::Arrived => "badge-good",
            TestState::Failing | TestState::DeliveredElsewhere => "badge-bad",
        }
    }

    /// What the facts say: arrival wins; then a delivery Apple reports that did not arrive within `grace_ms`;
    /// then attempts that all failed.
    pub fn of(
        arrived_at: Option<i64>,
        attempts: &[Attempt],
        requested_at: i64,
        now: i64,
        grace_ms: i64,
    ) -> TestState {
        if arrived_at.is_some() {
            return TestState::Arrived;
        }
        match attempts.iter().find(|a| a.succeeded()) {
            Some(delivered) if now - delivered.at.unwrap_or(requested_at) >= grace_ms => {
                TestState::DeliveredElsewhere
            }
            Some(_) => TestState::Waiting,
            None if !attempts.is_empty() => TestState::Failing,
            None => TestState::Waiting,
        }
    }
}

/// Everything known about one test request.
#[derive(Debug, Clone)]
pub struct TestStatus {
    pub row: TestNotificationRow,
    pub arrived_at: Option<i64>,
    pub attempts: Vec<Attempt>,
    /// Why Apple reported no attempts, when it did not.
    pub note: Option<String>,
    /// Read from the above when the status was taken.
    pub state: TestState,
}

impl TestStatus {
    pub fn state(&self) -> TestState {
        self.state
    }

    /// When Apple says it delivered the notification successfully (its first successful attempt).
    pub fn delivered_at(&self) -> Option<i64> {
        self.attempts
            .iter()
            .find(|a| a.succeeded())
            .map(|a| a.at.unwrap_or(self.row.requested_at))
    }
}

pub fn parse_attempts(json: Option<&str>) -> Vec<Attempt> {
    json.and_then(|j| serde_json::from_str(j).ok())
        .unwrap_or_default()
}

/// Asks Apple to send a TEST notification to the URL set for `env` in App Store Connect and records the request.
/// The outer error is ours (no key, database); the inner one is Apple's answer.
pub async fn request(
    state: &AppState,
    project: &Project,
    env: Environment,
    actor: &Actor,
) -> Result<Result<i64, AppleError>, AppError> {
    // Before the call: a notification that arrives while we wait for Apple's answer still counts.
    let requested_at = crate::clock::now_ms();
    let answer = crate::apple_calls::with_project_key(state, project, |creds| async move {
        state.apple.request_test_notification(&creds, env).await
    })
    .await?;
    let token = match answer {
        Ok(r) => match r.test_notification_token.filter(|t| !t.is_empty()) {
            Some(t) => t,
            None => {
                return Ok(Err(AppleError::MalformedResponse(
                    "no testNotificationToken".into(),
                )))
            }
        },
        Err(e) => return Ok(Err(e)),
    };
    let id = state
        .store
        .create_test_notification(project.id, env.as_str(), &token, requested_at, actor)
        .await?;
    Ok(Ok(id))
}

/// The test's status; with `ask_apple`, also refreshes Apple's delivery report when it is due.
pub async fn status(
    state: &AppState,
    project: &Project,
    mut row: TestNotificationRow,
    ask_apple: bool,
) -> Result<TestStatus, AppError> {
    let arrived_at = state
        .store
        .test_notification_arrival(project.id, &row.environment, row.requested_at)
        .await?;
    let now = crate::clock::now_ms();
    let attempts = parse_attempts(row.apple_attempts.as_deref());
    let due = row
        .apple_checked_at
        .is_none_or(|at| now - at >= apple_refresh_ms(now - row.requested_at))
        && now - row.requested_at < APPLE_WATCH_MS
        && !attempts.iter().any(Attempt::succeeded);
    if ask_apple && due {
        if let Ok(env) = Environment::parse(&row.environment) {
            let token = row.token.clone();
            let answer = crate::apple_calls::with_project_key(state, project, |creds| {
                let token = token.clone();
                async move {
                    state
                        .apple
                        .get_test_notification_status(&creds, env, &token)
                        .await
                }
            })
            .await;
            let (json, note) = match answer {
                Ok(Ok(r)) => {
                    let attempts: Vec<Attempt> = r
                        .send_attempts
                        .unwrap_or_default()
                        .into_iter()
                        .map(|a| Attempt {
                            at: a.attempt_date.map(|d| d.timestamp_millis()),
                            result: a
                                .send_attempt_result
                                .and_then(|r| serde_json::to_value(r).ok())
                                .and_then(|v| v.as_str().map(str::to_owned))
                                .unwrap_or_else(|| "OTHER".into()),
                        })
                        .collect();
                    (serde_json::to_string(&attempts).ok(), None)
                }
                Ok(Err(AppleError::Api {
                    kind: ApiErrorKind::TestNotificationNotFound,
                    ..
                })) => (
                    None,
                    Some("Apple has not reported a delivery attempt yet.".to_owned()),
                ),
                // The page keeps asking (every reload, and the JSON twin it polls): say so, not "try again".
                Ok(Err(AppleError::NoAnswer { within })) => (
                    None,
                    Some(format!(
                        "{} storedesk keeps watching for the TEST notification and asks Apple again in a moment.",
                        crate::apple::silence(within)
                    )),
                ),
                Ok(Err(e)) => (None, Some(e.sentence())),
                // No key in use any more: say so, keep what we knew.
                Err(AppError::BadRequest(sentence)) => (None, Some(sentence)),
                Err(e) => return Err(e),
            };
            state
                .store
                .record_test_notification_status(row.id, now, json.as_deref(), note.as_deref())
                .await?;
            row.apple_checked_at = Some(now);
            if json.is_some() {
                row.apple_attempts = json;
            }
            row.apple_note = note;
        }
    }
    let attempts = parse_attempts(row.apple_attempts.as_deref());
    let note = row.apple_note.clone();
    let grace_ms =
        i64::try_from(state.settings.test_notification_grace.as_millis()).unwrap_or(i64::MAX);
    let test_state = TestState::of(arrived_at, &attempts, row.requested_at, now, grace_ms);
    Ok(TestStatus {
        row,
        arrived_at,
        attempts,
        note,
        state: test_state,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(arrived: bool, results: &[&str]) -> TestStatus {
        let mut s = TestStatus {
            row: TestNotificationRow {
                id: 1,
                project_id: 1,
                environment: "Sandbox".into(),
                token: "t".into(),
                requested_at: 0,
                requested_by: "a".into(),
                apple_checked_at: None,
                apple_attempts: None,
                apple_note: None,
            },
            arrived_at: arrived.then_some(5),
            attempts: results
                .iter()
                .map(|r| Attempt {
                    at: Some(1),
                    result: (*r).into(),
                })
                .collect(),
            note: None,
            state: TestState::Waiting,
        };
        // Attempts at 1 ms; "now" is 60 s later, the default grace.
        s.state = TestState::of(s.arrived_at, &s.attempts, 0, 60_001, 60_000);
        s
    }

    #[test]
    fn arrival_wins_then_failed_attempts_then_waiting() {
        assert_eq!(status(true, &["TIMED_OUT"]).state(), TestState::Arrived);
        assert_eq!(status(false, &["TIMED_OUT"]).state(), TestState::Failing);
        assert_eq!(status(false, &[]).state(), TestState::Waiting);
    }

    #[test]
    fn a_delivery_apple_reports_that_never_arrives_went_elsewhere_after_the_grace() {
        let delivered = [Attempt {
            at: Some(1_000),
            result: "SUCCESS".into(),
        }];
        let of = |now| TestState::of(None, &delivered, 0, now, 60_000);
        assert_eq!(of(60_999), TestState::Waiting);
        assert_eq!(of(61_000), TestState::DeliveredElsewhere);
        assert_eq!(
            TestState::of(Some(61_000), &delivered, 0, 99_000, 60_000),
            TestState::Arrived
        );
        // Apple left out the attempt's date: the request's time counts.
        let undated = [Attempt {
            at: None,
            result: "SUCCESS".into(),
        }];
        assert_eq!(
            TestState::of(None, &undated, 5_000, 65_000, 60_000),
            TestState::DeliveredElsewhere
        );
        // A failed first try and a later success: the success is what counts.
        assert_eq!(
            status(false, &["TIMED_OUT", "SUCCESS"]).state(),
            TestState::DeliveredElsewhere
        );
        assert_eq!(
            status(false, &["TIMED_OUT", "SUCCESS"]).delivered_at(),
            Some(1)
        );
    }

    #[test]
    fn stored_attempts_round_trip_and_garbage_is_none() {
        let a = vec![Attempt {
            at: Some(7),
            result: "SUCCESS".into(),
        }];
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(parse_attempts(Some(&json)), a);
        assert!(parse_attempts(Some("not json")).is_empty());
        assert!(parse_attempts(None).is_empty());
    }
}
