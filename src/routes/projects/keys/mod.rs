//! `/projects/{project}/keys`: every key the project has had, rotation, revocation, and the 401 guide.
pub mod upload;
pub mod verify;

use actix_web::{web, HttpResponse};
use askama::Template;

use crate::apple_calls::Probe;
use crate::auth::csrf::{CsrfForm, NoFields};
use crate::domain::Role;
use crate::error::AppError;
use crate::present::status::key_badge;
use crate::present::time;
use crate::routes::{redirect_with_flash, Layout, ProjectContext};
use crate::store::keys::KeyStatus;
use crate::store::StoreError;
use upload::{KeyFormErrors, RawKeyForm};

pub struct KeyHistoryRow {
    pub id: i64,
    pub key_id: String,
    pub issuer_id: String,
    pub fingerprint: String,
    pub uploaded_by: String,
    pub uploaded_at: String,
    pub last_success: String,
    pub last_failure: String,
    pub status: String,
    pub badge: &'static str,
    pub revocable: bool,
}

#[derive(Template)]
#[template(path = "projects/keys.html")]
pub struct KeysPage {
    pub layout: Layout,
    pub slug: String,
    pub keys: Vec<KeyHistoryRow>,
    pub can_manage: bool,
    pub failing: bool,
    pub has_key: bool,
    pub form_key_id: String,
    pub form_issuer_id: String,
    pub errors: KeyFormErrors,
    pub key_action: String,
    pub offer_activate_anyway: bool,
}

fn when(at: Option<i64>, now: i64) -> String {
    at.map(|t| time::utc_and_relative(t, now))
        .unwrap_or_else(|| "never".into())
}

async fn keys_page(cx: &ProjectContext) -> Result<KeysPage, AppError> {
    let project = &cx.project;
    let rows = cx.state.store.keys_of_project(project.id).await?;
    let now = crate::clock::now_ms();
    let can_manage = cx.user.is(Role::MANAGERS);
    Ok(KeysPage {
        layout: cx.layout("Keys", "keys"),
        slug: project.slug.clone(),
        failing: rows.iter().any(|r| r.status == KeyStatus::Failing),
        has_key: rows.iter().any(|r| r.status.is_in_use()),
        form_key_id: String::new(),
        form_issuer_id: rows
            .first()
            .map(|r| r.issuer_id.clone())
            .unwrap_or_default(),
        keys: rows
            .iter()
            .map(|r| KeyHistoryRow {
                id: r.id,
                key_id: r.key_id.clone(),
                issuer_id: r.issuer_id.clone(),
                fingerprint: r.fingerprint.clone(),
                uploaded_by: r.uploaded_by.clone(),
                uploaded_at: when(Some(r.uploaded_at), now),
                last_success: when(r.last_success_at, now),
                last_failure: match (&r.last_failure, r.last_failure_at) {
                    (Some(what), Some(at)) => format!("{} — {what}", when(Some(at), now)),
                    _ => "none".into(),
                },
                status: r.status.as_str().to_owned(),
                badge: key_badge(r.status),
                revocable: can_manage && r.status != KeyStatus::Revoked,
            })
            .collect(),
        can_manage,
        errors: KeyFormErrors::default(),
        key_action: crate::urls::keys(&project.slug),
        offer_activate_anyway: false,
    })
}

pub async fn page(cx: ProjectContext) -> Result<HttpResponse, AppError> {
    cx.ok(&keys_page(&cx).await?)
}

/// Uploading a replacement: the same validation as Step 3; the switch is one transaction.
pub async fn rotate(cx: ProjectContext, form: RawKeyForm) -> Result<HttpResponse, AppError> {
    let (state, project, user) = (&cx.state, &cx.project, &cx.user);
    let parsed = match upload::parse(&form) {
        Ok(p) => p,
        Err(errors) => {
            let mut page = keys_page(&cx).await?;
            page.form_key_id = form.key_id.trim().to_string();
            page.form_issuer_id = form.issuer_id.trim().to_string();
            page.errors = errors;
            return cx.unprocessable(&page);
        }
    };
    // The replacement is proven with Apple before it takes over, so a wrong key never replaces a working one.
    let creds = crate::apple::ApiCredentials {
        key_id: parsed.key_id.clone(),
        issuer_id: parsed.issuer_id.clone(),
        bundle_id: project.bundle_id.clone(),
        signing_key: parsed.key.signing_key().into(),
        key_version: -crate::clock::now_ms(),
    };
    let check = crate::apple_calls::verify_credentials(&state.apple, &creds).await;
    let refused = check.sandbox == Probe::Unauthorized && check.production == Probe::Unauthorized;
    if refused || (!check.ok && !form.activate_anyway) {
        let mut page = keys_page(&cx).await?;
        page.form_key_id = form.key_id.trim().to_string();
        page.form_issuer_id = form.issuer_id.trim().to_string();
        page.errors.private_key = Some(if refused {
            format!(
                "{} Nothing was changed: the current key stays in use.",
                check.summary
            )
        } else {
            format!("{} The new key was not switched on. Tick “Activate anyway” to switch without Apple's confirmation.", check.summary)
        });
        page.offer_activate_anyway = !refused;
        return cx.unprocessable(&page);
    }
    let row_id = crate::keys::save_key(
        &state.store,
        &state.settings.keyring(),
        project,
        &parsed.key_id,
        &parsed.issuer_id,
        &parsed.key,
        &user.actor(),
        crate::keys::OnKeyInUse::Replace,
    )
    .await?;
    state
        .store
        .record_key_verification(row_id, &check.summary, check.ok)
        .await?;
    let note = if check.ok {
        check.summary.as_str()
    } else {
        "It was switched on without Apple's confirmation."
    };
    Ok(redirect_with_flash(
        &crate::urls::keys(&project.slug),
        if check.ok { "ok" } else { "warn" },
        &format!("Key {} is now in use; the previous key is retired and its private part destroyed. {note}", parsed.key_id.as_str()),
    ))
}

pub async fn revoke(
    cx: ProjectContext,
    path: web::Path<(String, i64)>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let (state, project, user) = (&cx.state, &cx.project, &cx.user);
    let (_, id) = path.into_inner();
    let location = crate::urls::keys(&project.slug);
    match state.store.revoke_key(project.id, id, &user.actor()).await {
        Ok(row) => Ok(redirect_with_flash(
            &location,
            "warn",
            &format!("Key {} is marked revoked and will never be used again. Upload a replacement to keep calling Apple.", row.key_id),
        )),
        Err(StoreError::Conflict(message)) => Ok(redirect_with_flash(&location, "error", &message)),
        Err(e) => Err(e.into()),
    }
}
