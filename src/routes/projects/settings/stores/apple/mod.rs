//! `/projects/{project}/settings/stores/apple`: the App Store wizard, in the steps Apple publishers know from hosted
//! consoles: Step 1 the app's identity, Step 2 the App-Specific Shared Secret (said to be unneeded), Step 3 the
//! In-App Purchase key, Step 4 notifications. Each step's badge says only what was proven.
pub mod connect_key;
pub mod key;
pub mod notification_url;
pub mod step4;
pub mod test_notification;

use actix_web::HttpResponse;
use askama::Template;

use crate::domain::KeyHealth;
use crate::error::AppError;
use crate::routes::projects::keys::upload::KeyFormErrors;
use crate::routes::projects::keys::view::{CorrectForm, KeyView};
use crate::routes::{Layout, ProjectContext};

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
    pub const WAITING: StepState = StepState {
        word: "waiting",
        badge: "badge-warn",
    };
    pub const SANDBOX_ONLY: StepState = StepState {
        word: "Sandbox only",
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
    pub const NOT_NEEDED: StepState = StepState {
        word: "not needed",
        badge: "badge-neutral",
    };
}

#[derive(Template)]
#[template(path = "projects/settings/stores/apple.html")]
pub struct WizardPage {
    pub layout: Layout,
    pub slug: String,
    pub bundle_id: String,
    pub app_apple_id: Option<i64>,
    pub step1: StepState,
    pub step2: StepState,
    pub step3: StepState,
    pub step4: StepState,
    pub key: Option<KeyView>,
    pub correct: Option<CorrectForm>,
    pub form_key_id: String,
    pub form_issuer_id: String,
    pub errors: KeyFormErrors,
    pub key_action: String,
    pub offer_activate_anyway: bool,
    pub notifications: step4::Step4View,
    pub forwarding: ForwardingSummary,
    /// Step 1's App Store Connect API key in use: its metadata only (the key is never shown again).
    pub connect_key: Option<ConnectKeyView>,
    pub connect_form_key_id: String,
    pub connect_form_issuer_id: String,
    pub connect_errors: KeyFormErrors,
    /// The sentence next to Mark revoked's confirmation after a post without the right Key ID.
    pub connect_revoke_error: Option<String>,
}

/// What Step 1 shows of its App Store Connect API key.
pub struct ConnectKeyView {
    pub key_id: String,
    pub issuer_id: String,
    pub fingerprint: String,
    pub uploaded_by: String,
    pub uploaded: String,
    /// Where Verify now left the key: its word and badge.
    pub check: StepState,
    /// Verify now's last sentence, if it ran.
    pub summary: Option<String>,
    /// When App Store Connect last accepted it.
    pub verified: Option<String>,
    /// The last complete catalog sync, when there was one.
    pub catalog_synced: Option<String>,
}

/// Step 4's word on forwarding: how many destinations, and a sentence for each that is failing (the banner).
pub struct ForwardingSummary {
    pub destinations: usize,
    pub failing: Vec<String>,
}

async fn forwarding_summary(cx: &ProjectContext) -> Result<ForwardingSummary, AppError> {
    use crate::forwarding::health::Health;
    let rows = cx.state.store.forward_destinations(cx.project.id).await?;
    Ok(ForwardingSummary {
        destinations: rows.len(),
        failing: rows
            .iter()
            .filter_map(|d| match Health::of(d) {
                Health::Failing { in_a_row } => Some(format!(
                    "“{}” is failing: its last {in_a_row} deliveries failed ({}).",
                    d.settings.name,
                    d.last_failure
                        .as_deref()
                        .unwrap_or("no details")
                        .trim_end_matches('.')
                )),
                _ => None,
            })
            .collect(),
    })
}

/// Step 3 from the key's health: verified once Apple accepted the key in Production (or accepts its calls),
/// "Sandbox only" while only Sandbox does, failing while Apple refuses it.
fn key_step(key: Option<&KeyView>) -> StepState {
    match key.map(|k| k.health) {
        None => StepState::NOT_STARTED,
        Some(KeyHealth::NotVerified) => StepState::SAVED,
        Some(KeyHealth::SandboxOnly) => StepState::SANDBOX_ONLY,
        Some(KeyHealth::Verified | KeyHealth::ProductionOnly | KeyHealth::Working) => {
            StepState::VERIFIED
        }
        Some(_) => StepState::FAILING,
    }
}

/// Step 1: the bundle ID is in every token storedesk signs, so Apple accepting the key proves it; the App Apple ID
/// is needed besides, to check Production's signed data. With an App Store Connect API key, that key's last check
/// decides: failing while App Store Connect refuses it, verified once it accepted it (and the App Apple ID is set).
fn app_step(
    app_apple_id: Option<i64>,
    key: Option<&KeyView>,
    connect: Option<&crate::store::connect_keys::ConnectKeyRow>,
) -> StepState {
    if let Some(c) = connect {
        if c.status == crate::store::keys::KeyStatus::Failing {
            return StepState::FAILING;
        }
        if c.verified_at.is_some() && app_apple_id.is_some() {
            return StepState::VERIFIED;
        }
    }
    let proven = key.is_some_and(|k| {
        matches!(
            k.health,
            KeyHealth::Verified
                | KeyHealth::SandboxOnly
                | KeyHealth::ProductionOnly
                | KeyHealth::Working
        )
    });
    if proven && app_apple_id.is_some() {
        StepState::VERIFIED
    } else {
        StepState::SAVED
    }
}

pub async fn wizard_page(cx: &ProjectContext) -> Result<WizardPage, AppError> {
    let (state, project) = (&cx.state, &cx.project);
    let row = state.store.key_in_use(project.id).await?;
    let now = crate::clock::now_ms();
    let key = row.as_ref().map(|k| KeyView::from_row(k, now));
    let (notifications, step4) = step4::step4_view(state, project, key.is_some()).await?;
    let forwarding = forwarding_summary(cx).await?;
    let connect_row = state.store.connect_key_in_use(project.id).await?;
    let catalog_synced = state
        .store
        .catalog_state(project.id)
        .await?
        .map(|c| crate::present::time::utc_and_relative(c.synced_at, now));
    let step1 = app_step(project.app_apple_id, key.as_ref(), connect_row.as_ref());
    let connect_key = connect_row.map(|k| ConnectKeyView {
        uploaded: crate::present::time::utc_and_relative(k.uploaded_at, now),
        check: if k.status == crate::store::keys::KeyStatus::Failing {
            StepState::FAILING
        } else if k.verified_at.is_some() {
            StepState::VERIFIED
        } else {
            StepState {
                word: "not checked yet",
                badge: "badge-neutral",
            }
        },
        summary: k.verify_summary,
        verified: k
            .verified_at
            .map(|at| crate::present::time::utc_and_relative(at, now)),
        catalog_synced,
        key_id: k.key_id,
        issuer_id: k.issuer_id,
        fingerprint: k.fingerprint,
        uploaded_by: k.uploaded_by,
    });
    Ok(WizardPage {
        layout: cx.layout("Apple App Store", "settings"),
        slug: project.slug.clone(),
        bundle_id: project.bundle_id.clone(),
        app_apple_id: project.app_apple_id,
        step1,
        step2: StepState::NOT_NEEDED,
        step3: key_step(key.as_ref()),
        step4,
        form_key_id: String::new(),
        form_issuer_id: row
            .as_ref()
            .map(|k| k.issuer_id.clone())
            .unwrap_or_default(),
        correct: key.as_ref().and_then(|k| CorrectForm::for_key(k, "wizard")),
        key,
        errors: KeyFormErrors::default(),
        key_action: crate::urls::apple_key(&project.slug),
        offer_activate_anyway: false,
        notifications,
        forwarding,
        connect_form_key_id: String::new(),
        connect_form_issuer_id: connect_key
            .as_ref()
            .map(|k| k.issuer_id.clone())
            .unwrap_or_default(),
        connect_key,
        connect_errors: KeyFormErrors::default(),
        connect_revoke_error: None,
    })
}

pub async fn page(cx: ProjectContext) -> Result<HttpResponse, AppError> {
    cx.ok(&wizard_page(&cx).await?)
}
