//! `/projects/{project}/settings/stores/apple/test-notification…`: Step 4's "Send test notification", and the
//! live status page of one test (plain HTML with a Refresh link; static/app.js polls the JSON twin every 2 s).
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;
use serde_json::json;

use crate::apple::{ApiErrorKind, AppleError, Environment};
use crate::auth::csrf::CsrfForm;
use crate::error::AppError;
use crate::notifications::test_notification::{self, TestState, TestStatus};
use crate::present::time;
use crate::routes::{redirect_with_flash, Layout, ProjectContext};

#[derive(Deserialize)]
pub struct TestForm {
    #[serde(default)]
    environment: Option<String>,
}

pub async fn send(cx: ProjectContext, form: CsrfForm<TestForm>) -> Result<HttpResponse, AppError> {
    let (state, project, user) = (&cx.state, &cx.project, &cx.user);
    let env = form
        .environment
        .as_deref()
        .and_then(|e| Environment::parse(e).ok())
        .ok_or_else(|| {
            AppError::BadRequest("Choose the environment to test: Production or Sandbox.".into())
        })?;
    let back = crate::urls::apple_step4(&project.slug);
    if state.store.key_in_use(project.id).await?.is_none() {
        return Ok(redirect_with_flash(
            &back,
            "error",
            "Add the In-App Purchase key (Step 3) first: Apple sends a test notification only when asked with it.",
        ));
    }
    match test_notification::request(state, project, env, &user.actor()).await? {
        Ok(id) => {
            tracing::info!(project = %project.slug, environment = %env, "test notification requested");
            Ok(redirect_with_flash(
                &crate::urls::test_notification(&project.slug, id),
                "ok",
                &format!("Apple accepted the request and will send a TEST notification to the {env} URL set in App Store Connect."),
            ))
        }
        Err(e) => {
            let message = match &e {
                AppleError::Api {
                    kind: ApiErrorKind::ServerNotificationUrlNotFound,
                    ..
                } => format!(
                    "Apple has no notification URL for {env} yet, so it sent nothing. Paste the URL below into App Store Connect (App information → App Store Server Notifications, Version 2, {env} Server URL) and send the test again."
                ),
                // No token came back, so there is nothing to follow: if Apple did send it, the log shows it.
                AppleError::NoAnswer { within } => format!(
                    "{} storedesk can't tell whether Apple will send the TEST notification: if it arrives, the notification log shows it within a minute; otherwise send the test again.",
                    crate::apple::silence(*within)
                ),
                other => format!("Apple did not accept the request: {}", other.sentence()),
            };
            Ok(redirect_with_flash(&back, "error", &message))
        }
    }
}

pub struct AttemptView {
    pub at: String,
    pub result: String,
    pub words: String,
    pub ok: bool,
}

#[derive(Template)]
#[template(path = "projects/settings/stores/apple/test_notification.html")]
pub struct TestPage {
    pub layout: Layout,
    pub slug: String,
    pub environment: String,
    pub requested_by: String,
    pub requested_at: String,
    pub requested_ago: String,
    pub word: &'static str,
    pub badge: &'static str,
    pub message: String,
    pub attempts: Vec<AttemptView>,
    pub note: Option<String>,
    pub self_url: String,
    pub status_url: String,
}

async fn message(
    state: &crate::state::AppState,
    project: &crate::store::Project,
    status: &TestStatus,
) -> Result<String, AppError> {
    let now = crate::clock::now_ms();
    let env = status.row.environment.as_str();
    Ok(match (status.state(), status.arrived_at) {
        (TestState::Arrived, Some(at)) => format!(
            "Arrived at {}. Notifications from Apple reach storedesk.",
            time::utc_and_relative(at, now)
        ),
        (TestState::Failing, _) => "Apple could not deliver it; see the attempts below.".into(),
        (TestState::DeliveredElsewhere, _) => {
            let token = state.store.notification_token(project.id).await?;
            let url = super::step4::notification_url(state, &token);
            let delivered = status
                .delivered_at()
                .map(|at| time::utc_and_relative(at, now))
                .unwrap_or_else(|| "earlier".into());
            let fallback = if env == "Sandbox" {
                " Without a Sandbox Server URL, Apple sends Sandbox notifications to the Production Server URL."
            } else {
                ""
            };
            format!(
                "Apple reports it delivered this TEST notification at {delivered}, but it has not arrived here, so another server answered it: App Store Connect's {env} Server URL is not this project's URL. In App Store Connect, open your app → App Information → App Store Server Notifications and set the {env} Server URL to {url} (Version 2).{fallback} Also check that no proxy, older deployment or other project answers in storedesk's place, then send the test again."
            )
        }
        _ => format!(
            "Waiting for the TEST notification to reach storedesk (requested {}).",
            time::relative(status.row.requested_at, now)
        ),
    })
}

fn attempt_views(status: &TestStatus) -> Vec<AttemptView> {
    status
        .attempts
        .iter()
        .map(|a| AttemptView {
            at: a.at.map(time::utc).unwrap_or_else(|| "—".into()),
            result: a.result.clone(),
            words: a.words(),
            ok: a.succeeded(),
        })
        .collect()
}

async fn load(cx: &ProjectContext, id: &str) -> Result<TestStatus, AppError> {
    let id: i64 = id.parse().map_err(|_| AppError::NotFound)?;
    let row = cx
        .state
        .store
        .test_notification(cx.project.id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    test_notification::status(&cx.state, &cx.project, row, true).await
}

pub async fn page(
    cx: ProjectContext,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (_, id) = path.into_inner();
    let status = load(&cx, &id).await?;
    let project = &cx.project;
    let s = status.state();
    let now = crate::clock::now_ms();
    let page = TestPage {
        layout: cx.layout(
            &format!("Test notification · {}", status.row.environment),
            "settings",
        ),
        slug: project.slug.clone(),
        environment: status.row.environment.clone(),
        requested_by: status.row.requested_by.clone(),
        requested_at: time::utc(status.row.requested_at),
        requested_ago: time::relative(status.row.requested_at, now),
        word: s.word(),
        badge: s.badge(),
        message: message(&cx.state, project, &status).await?,
        attempts: attempt_views(&status),
        note: status.note.clone(),
        self_url: crate::urls::test_notification(&project.slug, status.row.id),
        status_url: crate::urls::test_notification_status(&project.slug, status.row.id),
    };
    cx.ok(&page)
}

/// The status as JSON, for the live light.
pub async fn status(
    cx: ProjectContext,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (_, id) = path.into_inner();
    let status = load(&cx, &id).await?;
    let s = status.state();
    let message = message(&cx.state, &cx.project, &status).await?;
    let attempts: Vec<_> = attempt_views(&status)
        .into_iter()
        .map(|a| json!({"at": a.at, "result": a.result, "words": a.words, "ok": a.ok}))
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(json!({
            "state": s.word(),
            "badge": s.badge(),
            "arrivedAt": status.arrived_at,
            "message": message,
            "attempts": attempts,
            "note": status.note,
        })))
}
