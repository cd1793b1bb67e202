//! Step 4 of the App Store wizard: the notification URL, regenerating it, and "Send test notification" with
//! its live status page (plain HTML with a Refresh link; static/app.js polls the JSON twin every 2 s).
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;
use serde_json::json;

use crate::apple::{ApiErrorKind, AppleError, Environment};
use crate::auth::CurrentUser;
use crate::domain::Role;
use crate::error::AppError;
use crate::notifications::test_notification::{self, TestState, TestStatus};
use crate::routes::keys::wizard::StepState;
use crate::routes::{ok, project_by_slug, redirect_with_flash, Layout};
use crate::state::AppState;
use crate::store::Project;

const MANAGERS: &[Role] = &[Role::Admin, Role::Lead];

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/projects/{project}/settings/stores/apple/notification-url/regenerate",
        web::post().to(regenerate),
    )
    .route(
        "/projects/{project}/settings/stores/apple/test-notification",
        web::post().to(send_test),
    )
    .route(
        "/projects/{project}/settings/stores/apple/test-notification/{id}",
        web::get().to(test_page),
    )
    .route(
        "/projects/{project}/settings/stores/apple/test-notification/{id}/status",
        web::get().to(test_json),
    );
}

fn wizard_url(slug: &str) -> String {
    format!("/projects/{slug}/settings/stores/apple")
}

fn test_url(slug: &str, id: i64) -> String {
    format!("/projects/{slug}/settings/stores/apple/test-notification/{id}")
}

/// The URL to paste into App Store Connect.
pub fn notification_url(state: &AppState, token: &str) -> String {
    format!(
        "{}/apple/notifications/{token}",
        state.settings.public_url.trim_end_matches('/')
    )
}

pub struct LastReceived {
    pub environment: &'static str,
    pub when: Option<(String, String)>,
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
            when: at.map(|at| (crate::clock::utc(at), crate::clock::relative(at, now))),
        });
    }
    let mut tests = Vec::new();
    let mut latest: Option<TestState> = None;
    for row in state.store.recent_test_notifications(project.id, 5).await? {
        let status = test_notification::status(state, project, row, false).await?;
        let s = status.state();
        latest.get_or_insert(s);
        tests.push(TestRow {
            href: test_url(&project.slug, status.row.id),
            environment: status.row.environment.clone(),
            requested_at: crate::clock::utc(status.row.requested_at),
            requested_ago: crate::clock::relative(status.row.requested_at, now),
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

#[derive(Deserialize)]
pub struct RegenerateForm {
    csrf_token: String,
    #[serde(default)]
    confirm: Option<String>,
}

pub async fn regenerate(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    form: web::Form<RegenerateForm>,
) -> Result<HttpResponse, AppError> {
    user.require(MANAGERS)?;
    let project = project_by_slug(&state, &path).await?;
    user.check_csrf(&form.csrf_token)?;
    if form.confirm.as_deref() != Some("yes") {
        let mut page =
            crate::routes::keys::wizard::wizard_page(&state, &req, &user, &project).await?;
        page.notifications.confirm_error = Some(
            "Tick the box to confirm: the current URL stops working at once, and App Store Connect must get the new one."
                .into(),
        );
        return crate::routes::unprocessable(&req, &page);
    }
    state
        .store
        .regenerate_notification_url(project.id, &user.actor())
        .await?;
    state.intake.forget_project(project.id);
    tracing::info!(project = %project.slug, "notification URL regenerated");
    Ok(redirect_with_flash(
        &format!("{}#step4", wizard_url(&project.slug)),
        "warn",
        "The notification URL was replaced; the old one now answers 404. Paste the new URL into App Store Connect for Production and Sandbox.",
    ))
}

#[derive(Deserialize)]
pub struct TestForm {
    csrf_token: String,
    #[serde(default)]
    environment: Option<String>,
}

pub async fn send_test(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    form: web::Form<TestForm>,
) -> Result<HttpResponse, AppError> {
    user.require(MANAGERS)?;
    let project = project_by_slug(&state, &path).await?;
    user.check_csrf(&form.csrf_token)?;
    let env = form
        .environment
        .as_deref()
        .and_then(Environment::parse)
        .ok_or_else(|| {
            AppError::BadRequest("Choose the environment to test: Production or Sandbox.".into())
        })?;
    let back = format!("{}#step4", wizard_url(&project.slug));
    if state.store.key_in_use(project.id).await?.is_none() {
        return Ok(redirect_with_flash(
            &back,
            "error",
            "Add the In-App Purchase key (Step 3) first: Apple sends a test notification only when asked with it.",
        ));
    }
    match test_notification::request(&state, &project, env, &user.actor()).await? {
        Ok(id) => {
            tracing::info!(project = %project.slug, environment = %env, "test notification requested");
            Ok(redirect_with_flash(
                &test_url(&project.slug, id),
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
#[template(path = "projects/test_notification.html")]
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

fn message(status: &TestStatus) -> String {
    let now = crate::clock::now_ms();
    match (status.state(), status.arrived_at) {
        (TestState::Arrived, Some(at)) => format!(
            "Arrived at {} ({}). Notifications from Apple reach storedesk.",
            crate::clock::utc(at),
            crate::clock::relative(at, now)
        ),
        (TestState::Failing, _) => "Apple could not deliver it; see the attempts below.".into(),
        _ => format!(
            "Waiting for the TEST notification to reach storedesk (requested {}).",
            crate::clock::relative(status.row.requested_at, now)
        ),
    }
}

fn attempt_views(status: &TestStatus) -> Vec<AttemptView> {
    status
        .attempts
        .iter()
        .map(|a| AttemptView {
            at: a.at.map(crate::clock::utc).unwrap_or_else(|| "—".into()),
            result: a.result.clone(),
            words: a.words(),
            ok: a.succeeded(),
        })
        .collect()
}

async fn load(
    state: &AppState,
    user: &CurrentUser,
    slug: &str,
    id: &str,
) -> Result<(Project, TestStatus), AppError> {
    user.require(MANAGERS)?;
    let project = project_by_slug(state, slug).await?;
    let id: i64 = id.parse().map_err(|_| AppError::NotFound)?;
    let row = state
        .store
        .test_notification(project.id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let status = test_notification::status(state, &project, row, true).await?;
    Ok((project, status))
}

pub async fn test_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (slug, id) = path.into_inner();
    let (project, status) = load(&state, &user, &slug, &id).await?;
    let s = status.state();
    let now = crate::clock::now_ms();
    let page = TestPage {
        layout: Layout::new(
            &state,
            &req,
            &user,
            &format!("Test notification · {}", status.row.environment),
            Some((&project, "settings")),
        )
        .await?,
        slug: project.slug.clone(),
        environment: status.row.environment.clone(),
        requested_by: status.row.requested_by.clone(),
        requested_at: crate::clock::utc(status.row.requested_at),
        requested_ago: crate::clock::relative(status.row.requested_at, now),
        word: s.word(),
        badge: s.badge(),
        message: message(&status),
        attempts: attempt_views(&status),
        note: status.note.clone(),
        self_url: test_url(&project.slug, status.row.id),
        status_url: format!("{}/status", test_url(&project.slug, status.row.id)),
    };
    ok(&req, &page)
}

/// The status as JSON, for the live light.
pub async fn test_json(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (slug, id) = path.into_inner();
    let (_, status) = load(&state, &user, &slug, &id).await?;
    let s = status.state();
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
            "message": message(&status),
            "attempts": attempts,
            "note": status.note,
        })))
}
