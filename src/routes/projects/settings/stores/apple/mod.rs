//! `/projects/{project}/settings/stores/apple`: the App Store wizard. Step 1 shows the app's identity, Step 3 takes
//! the In-App Purchase key, Step 4 (notifications) follows once the key works. Each step shows its state.
pub mod key;
pub mod notification_url;
pub mod step4;
pub mod test_notification;

use actix_web::HttpResponse;
use askama::Template;

use crate::error::AppError;
use crate::present::status::key_badge;
use crate::present::time;
use crate::routes::projects::keys::upload::KeyFormErrors;
use crate::routes::{Layout, ProjectContext};
use crate::store::keys::{KeyRow, KeyStatus};

pub struct StepState {
    pub word: &'static str,
    pub badge: &'static str,
}

impl StepState {
    pub const NOT_STARTED: StepState = StepState {
        word: "not started",
        badge: "badge-neutral",
    };
    pub const SAVED: StepState = StepState {
        word: "saved",
        badge: "badge-warn",
    };
    pub const VERIFIED: StepState = StepState {
        word: "verified",
        badge: "badge-good",
    };
    pub const FAILING: StepState = StepState {
        word: "failing",
        badge: "badge-bad",
    };
}

/// The key in use, as pages show it: never the key, only what identifies it.
pub struct KeyView {
    pub key_id: String,
    pub issuer_id: String,
    pub fingerprint: String,
    pub uploaded_by: String,
    pub uploaded_at: String,
    pub uploaded_ago: String,
    pub status: String,
    pub badge: &'static str,
    pub verify_summary: Option<String>,
}

impl KeyView {
    pub fn from_row(row: &KeyRow, now: i64) -> Self {
        KeyView {
            key_id: row.key_id.clone(),
            issuer_id: row.issuer_id.clone(),
            fingerprint: row.fingerprint.clone(),
            uploaded_by: row.uploaded_by.clone(),
            uploaded_at: time::utc(row.uploaded_at),
            uploaded_ago: time::relative(row.uploaded_at, now),
            status: row.status.as_str().to_owned(),
            badge: key_badge(row.status),
            verify_summary: row.verify_summary.clone(),
        }
    }
}

#[derive(Template)]
#[template(path = "projects/settings/stores/apple.html")]
pub struct WizardPage {
    pub layout: Layout,
    pub slug: String,
    pub bundle_id: String,
    pub app_apple_id: Option<i64>,
    pub step1: StepState,
    pub step3: StepState,
    pub step4: StepState,
    pub key: Option<KeyView>,
    pub form_key_id: String,
    pub form_issuer_id: String,
    pub errors: KeyFormErrors,
    pub key_action: String,
    pub offer_activate_anyway: bool,
    pub notifications: step4::Step4View,
}

fn key_state(key: Option<&KeyRow>) -> StepState {
    match key {
        None => StepState::NOT_STARTED,
        Some(k) if k.status == KeyStatus::Failing => StepState::FAILING,
        Some(k) if k.verified_at.is_some() => StepState::VERIFIED,
        Some(_) => StepState::SAVED,
    }
}

pub async fn wizard_page(cx: &ProjectContext) -> Result<WizardPage, AppError> {
    let (state, project) = (&cx.state, &cx.project);
    let key = state.store.key_in_use(project.id).await?;
    let now = crate::clock::now_ms();
    let (notifications, step4) = step4::step4_view(state, project, key.is_some()).await?;
    Ok(WizardPage {
        layout: cx.layout("Apple App Store", "settings"),
        slug: project.slug.clone(),
        bundle_id: project.bundle_id.clone(),
        app_apple_id: project.app_apple_id,
        step1: if project.app_apple_id.is_some() {
            StepState::VERIFIED
        } else {
            StepState::SAVED
        },
        step3: key_state(key.as_ref()),
        step4,
        form_key_id: String::new(),
        form_issuer_id: key
            .as_ref()
            .map(|k| k.issuer_id.clone())
            .unwrap_or_default(),
        key: key.as_ref().map(|k| KeyView::from_row(k, now)),
        errors: KeyFormErrors::default(),
        key_action: crate::urls::apple_key(&project.slug),
        offer_activate_anyway: false,
        notifications,
    })
}

pub async fn page(cx: ProjectContext) -> Result<HttpResponse, AppError> {
    cx.ok(&wizard_page(&cx).await?)
}
