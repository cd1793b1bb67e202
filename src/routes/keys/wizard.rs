//! `/projects/{project}/settings/stores/apple`: the App Store wizard. Step 1 shows the app's identity, Step 3 takes
//! the In-App Purchase key, Step 4 (notifications) follows once the key works. Each step shows its state.
use actix_multipart::Multipart;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::upload::{self, KeyFormErrors};
use crate::auth::CurrentUser;
use crate::domain::Role;
use crate::error::AppError;
use crate::routes::{ok, project_by_slug, redirect_with_flash, unprocessable, Layout};
use crate::state::AppState;
use crate::store::keys::KeyRow;
use crate::store::{Project, StoreError};

const MANAGERS: &[Role] = &[Role::Admin, Role::Lead];

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
            uploaded_at: crate::clock::utc(row.uploaded_at),
            uploaded_ago: crate::clock::relative(row.uploaded_at, now),
            status: row.status.clone(),
            badge: super::status_badge(&row.status),
            verify_summary: row.verify_summary.clone(),
        }
    }
}

#[derive(Template)]
#[template(path = "projects/apple_wizard.html")]
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
    pub notifications: crate::routes::step4::Step4View,
}

fn key_state(key: Option<&KeyRow>) -> StepState {
    match key {
        None => StepState::NOT_STARTED,
        Some(k) if k.status == "failing" => StepState::FAILING,
        Some(k) if k.verified_at.is_some() => StepState::VERIFIED,
        Some(_) => StepState::SAVED,
    }
}

pub async fn wizard_page(
    state: &AppState,
    req: &HttpRequest,
    user: &CurrentUser,
    project: &Project,
) -> Result<WizardPage, AppError> {
    let key = state.store.key_in_use(project.id).await?;
    let now = crate::clock::now_ms();
    let (notifications, step4) =
        crate::routes::step4::step4_view(state, project, key.is_some()).await?;
    Ok(WizardPage {
        layout: Layout::new(
            state,
            req,
            user,
            "Apple App Store",
            Some((project, "settings")),
        )
        .await?,
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
        key_action: format!("/projects/{}/settings/stores/apple/key", project.slug),
        offer_activate_anyway: false,
        notifications,
    })
}

pub async fn page(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    user.require(MANAGERS)?;
    let project = project_by_slug(&state, &path).await?;
    ok(&req, &wizard_page(&state, &req, &user, &project).await?)
}

pub async fn save_key(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    payload: Multipart,
) -> Result<HttpResponse, AppError> {
    user.require(MANAGERS)?;
    let project = project_by_slug(&state, &path).await?;
    let form = upload::read_form(payload).await?;
    user.check_csrf(&form.csrf_token)?;
    // Step 3 sets the first key only: a replacement goes through Rotate, which checks it with Apple first.
    // (A stale tab would otherwise swap the key in use unchecked, or show its errors on a page without the form.)
    let has_a_key = || {
        redirect_with_flash(
            &format!("/projects/{}/keys", project.slug),
            "error",
            crate::store::keys::ALREADY_HAS_A_KEY,
        )
    };
    if state.store.key_in_use(project.id).await?.is_some() {
        return Ok(has_a_key());
    }
    let parsed = match upload::parse(&form) {
        Ok(p) => p,
        Err(errors) => {
            let mut page = wizard_page(&state, &req, &user, &project).await?;
            page.form_key_id = form.key_id.trim().to_string();
            page.form_issuer_id = form.issuer_id.trim().to_string();
            page.errors = errors;
            return unprocessable(&req, &page);
        }
    };
    // Checked again where it counts, in the save's own transaction: another upload may have been faster.
    let saved = crate::keys::save_key(
        &state.store,
        &state.settings.keyring(),
        &project,
        &parsed.key_id,
        &parsed.issuer_id,
        &parsed.key,
        &user.actor(),
        crate::keys::OnKeyInUse::Refuse,
    )
    .await;
    if let Err(e) = &saved {
        if matches!(e.downcast_ref(), Some(StoreError::Conflict(_))) {
            return Ok(has_a_key());
        }
    }
    saved?;
    tracing::info!(project = %project.slug, key_id = %parsed.key_id.as_str(), "In-App Purchase key saved");
    Ok(redirect_with_flash(
        &format!("/projects/{}/settings/stores/apple", project.slug),
        "ok",
        &format!(
            "Key {} is saved and encrypted. Next: Verify now, to prove Apple accepts it.",
            parsed.key_id.as_str()
        ),
    ))
}
