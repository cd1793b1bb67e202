//! What Step 4 of the App Store wizard shows: the notification URL to paste into App Store Connect, when a
//! notification last arrived per environment, and the latest test notifications with the step's state.

use super::StepState;
use crate::apple::Environment;
use crate::error::AppError;
use crate::notifications::test_notification::{self, TestState};
use crate::present::time;
use crate::state::AppState;
use crate::store::Project;

/// The URL to paste into App Store Connect.
pub fn notification_url(state: &AppState, token: &str) -> String {
    crate::urls::apple_notifications(&state.settings.public_url, token)
}

pub struct LastReceived {
    pub environment: &'static str,
    /// `2026-11-26 14:03 UTC (3 days ago)`
    pub when: Option<String>,
}

pub struct TestRow {
    pub href: String,
    pub environment: String,
    pub requested_at: String,
    pub requested_ago: String,
    pub word: &'static str,
    pub badge: &'static str,
}

/// What the wizard shows in Step 4.
pub struct Step4View {
    pub url: String,
    pub last: Vec<LastReceived>,
    pub tests: Vec<TestRow>,
    pub has_key: bool,
    pub confirm_error: Option<String>,
}

/// Step 4's content and its state: verified once a notification reached the webhook, failing when the latest
/// test was not delivered, saved while a test is on its way.
pub async fn step4_view(
    state: &AppState,
    project: &Project,
    has_key: bool,
) -> Result<(Step4View, StepState), AppError> {
    let token = state.store.notification_token(project.id).await?;
    let now = crate::clock::now_ms();
    let mut last = Vec::new();
    for env in [Environment::Production, Environment::Sandbox] {
        let at = state
            .store
            .last_webhook_notification(project.id, env.as_str())
            .await?;
        last.push(LastReceived {
            environment: env.as_str(),
            when: at.map(|at| time::utc_and_relative(at, now)),
        });
    }
    let mut tests = Vec::new();
    let mut latest: Option<TestState> = None;
    for row in state.store.recent_test_notifications(project.id, 5).await? {
        let status = test_notification::status(state, project, row, false).await?;
        let s = status.state();
        latest.get_or_insert(s);
        tests.push(TestRow {
            href: crate::urls::test_notification(&project.slug, status.row.id),
            environment: status.row.environment.clone(),
            requested_at: time::utc(status.row.requested_at),
            requested_ago: time::relative(status.row.requested_at, now),
            word: s.word(),
            badge: s.badge(),
        });
    }
    let received = last.iter().any(|l| l.when.is_some());
    let step = match (received, latest) {
        (true, _) => StepState::VERIFIED,
        (false, Some(TestState::Failing)) => StepState::FAILING,
        (false, Some(_)) => StepState::SAVED,
        (false, None) => StepState::NOT_STARTED,
    };
    Ok((
        Step4View {
            url: notification_url(state, &token),
            last,
            tests,
            has_key,
            confirm_error: None,
        },
        step,
    ))
}
