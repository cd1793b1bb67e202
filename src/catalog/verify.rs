//! Verify now for Step 1's key: a harmless read that proves the key is an App Store Connect API key of this team,
//! that it can see the project's app, and that its role may read the catalog — or says which of these fails.
use crate::apple::connect::{ConnectApp, ConnectError};
use crate::state::AppState;
use crate::store::Project;

/// What Verify now found, in the words the wizard shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectVerdict {
    /// `Some(true)`: Apple accepted the key for everything Step 1 needs; `Some(false)`: Apple refused it
    /// something; `None`: Apple did not answer, so nothing is known.
    pub verdict: Option<bool>,
    pub sentence: String,
    /// Said beside a success: the project's typed values disagree with App Store Connect.
    pub mismatch: Option<String>,
}

impl ConnectVerdict {
    fn refused(sentence: String) -> Self {
        Self {
            verdict: Some(false),
            sentence,
            mismatch: None,
        }
    }
}

/// Runs the checks with the project's Step 1 key; `None` when the project has none.
pub async fn verify_connect_key(
    state: &AppState,
    project: &Project,
) -> anyhow::Result<Option<ConnectVerdict>> {
    let Some((row, mut session)) = super::open_session(state, project).await? else {
        return Ok(None);
    };
    let within = state.settings.apple.answer_within;
    let verdict = match tokio::time::timeout(within, check(&mut session, project)).await {
        Ok(verdict) => verdict,
        Err(_) => ConnectVerdict {
            verdict: None,
            sentence: super::no_answer_within(within),
            mismatch: None,
        },
    };
    let summary = match &verdict.mismatch {
        Some(m) => format!("{} {m}", verdict.sentence),
        None => verdict.sentence.clone(),
    };
    state
        .store
        .record_connect_key_check(row.id, verdict.verdict, &summary)
        .await?;
    tracing::info!(project = %project.slug, key_id = %row.key_id, verdict = ?verdict.verdict, "App Store Connect API key checked");
    Ok(Some(verdict))
}

async fn check(
    session: &mut crate::apple::connect::ConnectSession,
    project: &Project,
) -> ConnectVerdict {
    let apps = match session.apps().await {
        Ok(apps) => apps,
        Err(e) => return otherwise(&e),
    };
    // The app: by its Apple ID when the project has one (a direct read proves access), else by bundle ID.
    let app: ConnectApp = match project.app_apple_id {
        Some(id) => match session.app(&id.to_string()).await {
            Ok(app) => app,
            Err(ConnectError::NotFound { .. }) => {
                return ConnectVerdict::refused(format!(
                    "App Store Connect accepted the key, but this team has no app with Apple ID {id}. Check the \
                     project's App Apple ID (App Store Connect → App Information → Apple ID), or the key belongs \
                     to another team's account."
                ))
            }
            Err(ConnectError::Forbidden { .. }) => {
                return ConnectVerdict::refused(format!(
                    "App Store Connect accepted the key, but the key has no access to app {id} (403). In Users and \
                     Access → Integrations → App Store Connect API, give the key access to this app, or use a team \
                     key with access to all apps."
                ))
            }
            Err(e) => return otherwise(&e),
        },
        None => match apps.iter().find(|a| a.bundle_id == project.bundle_id) {
            Some(app) => app.clone(),
            None => {
                return ConnectVerdict::refused(format!(
                    "App Store Connect accepted the key, but none of the {} app(s) it can see has the bundle ID {}. \
                     Pick the app from the list below, or check the key's app access.",
                    apps.len(),
                    project.bundle_id
                ))
            }
        },
    };
    match session.probe_catalog(&app.id).await {
        Ok(()) => {}
        Err(ConnectError::Forbidden { .. }) => {
            return ConnectVerdict::refused(format!(
                "App Store Connect accepted the key and it can see “{}”, but it may not read the app's in-app \
                 purchases (403): the key's role is below App Manager. Generate a key with the App Manager or Admin \
                 role and upload it here.",
                app.name
            ))
        }
        Err(e) => return otherwise(&e),
    }
    ConnectVerdict {
        verdict: Some(true),
        sentence: format!(
            "Verified: App Store Connect accepted the key. It sees “{}” ({}, Apple ID {}) and may read its in-app \
             purchases.",
            app.name, app.bundle_id, app.id
        ),
        mismatch: super::apps::mismatch(project, &app),
    }
}

/// A failure no step explains better: Apple's silence or its own error says nothing about the key (verdict unknown);
/// a refusal (401, 403, 404, 429) is the key's.
fn otherwise(e: &ConnectError) -> ConnectVerdict {
    let sentence = super::refusal_sentence(e);
    match e {
        ConnectError::Timeout | ConnectError::Network(_) | ConnectError::Apple { .. } => {
            ConnectVerdict {
                verdict: None,
                sentence,
                mismatch: None,
            }
        }
        _ => ConnectVerdict::refused(sentence),
    }
}
