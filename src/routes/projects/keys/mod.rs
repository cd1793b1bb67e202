//! `/projects/{project}/keys`: every key the project has had with its health, rotation, correction of a key Apple
//! never accepted, revocation with its confirmation, and the 401 guide.
pub mod correct;
pub mod revoke;
pub mod upload;
pub mod verify;
pub mod view;

use actix_web::HttpResponse;
use askama::Template;

use crate::apple_calls::Probe;
use crate::domain::Role;
use crate::error::AppError;
use crate::keys::Saved;
use crate::present::status::key_health;
use crate::routes::{redirect_with_flash, Layout, ProjectContext};
use upload::{KeyFormErrors, RawKeyForm};
use view::{CorrectForm, KeyView};

/// One key's row, with its Mark revoked confirmation.
pub struct KeyHistoryRow {
    pub key: KeyView,
    pub revocable: bool,
    /// What Mark revoked stops, said before it is done.
    pub revoke_consequence: String,
    /// The sentence next to the confirmation after a post without it; its disclosure is then shown open.
    pub revoke_error: Option<String>,
}

#[derive(Template)]
#[template(path = "projects/keys.html")]
pub struct KeysPage {
    pub layout: Layout,
    pub slug: String,
    pub keys: Vec<KeyHistoryRow>,
    pub can_manage: bool,
    /// Some key may be marked revoked (its confirmation is shown below the table).
    pub revocable: bool,
    /// The key in use, when Apple refuses it: the 401 banner.
    pub refused: Option<KeyView>,
    pub has_key: bool,
    pub correct: Option<CorrectForm>,
    pub form_key_id: String,
    pub form_issuer_id: String,
    pub errors: KeyFormErrors,
    pub key_action: String,
    pub offer_activate_anyway: bool,
    /// Step 1's App Store Connect API keys, newest first (another kind of key, listed apart).
    pub connect_keys: Vec<ConnectKeyListRow>,
}

/// One App Store Connect API key in the keys page's list.
pub struct ConnectKeyListRow {
    pub key_id: String,
    pub status: &'static str,
    pub uploaded_by: String,
    pub uploaded: String,
    pub issuer_id: String,
    pub fingerprint: String,
}

/// What marking a key revoked stops, in the words its confirmation uses.
fn revoke_consequence(key: &KeyView) -> String {
    if key.in_use {
        format!(
            "Key {} is the key in use. Marking it revoked destroys its private part and stops every call to Apple for this project at once (lookups, Verify now, test notifications, backfills, consumption answers and offer signatures) until a replacement is uploaded.",
            key.key_id
        )
    } else {
        format!(
            "Key {} is no longer used. Marking it revoked records that it was revoked (for example in App Store Connect); nothing stops.",
            key.key_id
        )
    }
}

pub async fn keys_page(cx: &ProjectContext) -> Result<KeysPage, AppError> {
    let project = &cx.project;
    let rows = cx.state.store.keys_of_project(project.id).await?;
    let now = crate::clock::now_ms();
    let can_manage = cx.user.is(Role::MANAGERS);
    let keys: Vec<KeyHistoryRow> = rows
        .iter()
        .map(|r| {
            let key = KeyView::from_row(r, now);
            KeyHistoryRow {
                revocable: can_manage && r.status != crate::domain::KeyStatus::Revoked,
                revoke_consequence: revoke_consequence(&key),
                revoke_error: None,
                key,
            }
        })
        .collect();
    let connect_keys = cx
        .state
        .store
        .connect_keys_of_project(project.id)
        .await?
        .into_iter()
        .map(|k| ConnectKeyListRow {
            key_id: k.key_id,
            status: k.status.as_str(),
            uploaded_by: k.uploaded_by,
            uploaded: crate::present::time::utc_and_relative(k.uploaded_at, now),
            issuer_id: k.issuer_id,
            fingerprint: k.fingerprint,
        })
        .collect();
    let in_use = rows
        .iter()
        .find(|r| r.status.is_in_use())
        .map(|r| KeyView::from_row(r, now));
    Ok(KeysPage {
        layout: cx.layout("Keys", "keys"),
        slug: project.slug.clone(),
        has_key: in_use.is_some(),
        correct: in_use
            .as_ref()
            .filter(|_| can_manage)
            .and_then(|k| CorrectForm::for_key(k, "keys")),
        refused: in_use.filter(|k| k.health.is_refused()),
        revocable: keys.iter().any(|r| r.revocable),
        form_key_id: String::new(),
        form_issuer_id: rows
            .first()
            .map(|r| r.issuer_id.clone())
            .unwrap_or_default(),
        keys,
        can_manage,
        errors: KeyFormErrors::default(),
        key_action: crate::urls::keys(&project.slug),
        offer_activate_anyway: false,
        connect_keys,
    })
}

pub async fn page(cx: ProjectContext) -> Result<HttpResponse, AppError> {
    cx.ok(&keys_page(&cx).await?)
}

/// The keys page again with the rotate form's fields kept and `errors` next to them.
async fn refuse_rotation(
    cx: &ProjectContext,
    form: &RawKeyForm,
    errors: KeyFormErrors,
    offer_activate_anyway: bool,
) -> Result<HttpResponse, AppError> {
    let mut page = keys_page(cx).await?;
    page.form_key_id = form.key_id.trim().to_string();
    page.form_issuer_id = form.issuer_id.trim().to_string();
    page.errors = errors;
    page.offer_activate_anyway = offer_activate_anyway;
    cx.unprocessable(&page)
}

/// Uploading a replacement: the same validation as Step 3; the switch is one transaction.
pub async fn rotate(cx: ProjectContext, form: RawKeyForm) -> Result<HttpResponse, AppError> {
    let (state, project, user) = (&cx.state, &cx.project, &cx.user);
    let parsed = match upload::parse(&form) {
        Ok(p) => p,
        Err(errors) => return refuse_rotation(&cx, &form, errors, false).await,
    };
    // The same .p8 again would list the key twice and retire the row that holds its private part: a Key ID or
    // Issuer ID that was wrong is corrected in place instead.
    if let Some(current) = state.store.key_in_use(project.id).await? {
        if current.fingerprint == parsed.key.public_key_fingerprint() {
            let sentence = if current.facts().correctable() {
                format!("This .p8 is key {}, already in use (same fingerprint), so nothing was changed. To fix its Key ID or Issuer ID, use “Correct the Key ID or Issuer ID” on this page: the stored .p8 is kept.", current.key_id)
            } else {
                format!("This .p8 is key {}, already in use (same fingerprint), so nothing was changed.", current.key_id)
            };
            let errors = KeyFormErrors {
                private_key: Some(sentence),
                ..KeyFormErrors::default()
            };
            return refuse_rotation(&cx, &form, errors, false).await;
        }
    }
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
        let errors = KeyFormErrors {
            private_key: Some(if refused {
                format!(
                    "{} Nothing was changed: the current key stays in use.",
                    check.summary
                )
            } else {
                format!("{} The new key was not switched on. Tick “Activate anyway” to switch without Apple's confirmation.", check.summary)
            }),
            ..KeyFormErrors::default()
        };
        return refuse_rotation(&cx, &form, errors, !refused).await;
    }
    let saved = crate::keys::save(
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
    crate::apple_calls::record_check(state, saved.row_id, &check).await?;
    let note = if check.ok {
        check.summary.as_str()
    } else {
        "It was switched on without Apple's confirmation: Verify now once Apple can be reached."
    };
    Ok(redirect_with_flash(
        &crate::urls::keys(&project.slug),
        if check.ok { "ok" } else { "warn" },
        &format!("{} {note}", rotated(parsed.key_id.as_str(), &saved)),
    ))
}

/// What is true of the project's keys after a rotation.
fn rotated(key_id: &str, saved: &Saved) -> String {
    match &saved.replaced {
        None => format!("Key {key_id} is now the key in use."),
        Some(old) if old.health().is_refused() => format!(
            "Key {key_id} is now the key in use. Key {}, which Apple refused, is retired and its private part destroyed.",
            old.key_id
        ),
        Some(old) => format!(
            "Key {key_id} is now the key in use. Key {} is retired and its private part destroyed.",
            old.key_id
        ),
    }
}

/// "Key X is the key in use (verified)." — for messages that say what stayed as it was.
pub fn in_use_sentence(key: &crate::store::keys::KeyRow) -> String {
    format!(
        "Key {} stays in use ({}).",
        key.key_id,
        key_health(key.health()).word
    )
}
