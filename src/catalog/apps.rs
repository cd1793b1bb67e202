//! The team's apps as Step 1's key sees them: the list the project form offers, and whether the project's typed
//! Bundle ID and App Apple ID agree with App Store Connect.
use crate::apple::connect::ConnectApp;
use crate::state::AppState;
use crate::store::Project;

/// The apps, or the sentence that says why they could not be listed; `None` without a Step 1 key.
pub async fn team_apps(
    state: &AppState,
    project: &Project,
) -> anyhow::Result<Option<Result<Vec<ConnectApp>, String>>> {
    let Some((_, mut session)) = super::open_session(state, project).await? else {
        return Ok(None);
    };
    Ok(Some(
        session
            .apps()
            .await
            .map_err(|e| super::refusal_sentence(&e)),
    ))
}

/// How the project's typed values stand against one app of the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppMatch {
    /// Both agree.
    Same,
    /// The sentence to show.
    Differs(String),
}

/// The project's values against App Store Connect's app, as a warning when they disagree.
pub fn mismatch(project: &Project, app: &ConnectApp) -> Option<String> {
    let mut parts = Vec::new();
    if project.bundle_id != app.bundle_id {
        parts.push(format!(
            "its bundle ID is {} in App Store Connect but {} in this project",
            app.bundle_id, project.bundle_id
        ));
    }
    if let Some(id) = project.app_apple_id {
        if id.to_string() != app.id {
            parts.push(format!(
                "its Apple ID is {} in App Store Connect but {id} in this project",
                app.id
            ));
        }
    }
    if parts.is_empty() {
        None
    } else {
        Some(format!(
            "This project disagrees with App Store Connect about “{}”: {}. Notifications and lookups are checked \
             against the project's values, so correct them (choose the app below, or edit the project).",
            app.name,
            parts.join("; ")
        ))
    }
}

/// Of the listed apps, the one the project names (by Apple ID, else by bundle ID), and how the two agree.
pub fn project_app<'a>(
    project: &Project,
    apps: &'a [ConnectApp],
) -> Option<(&'a ConnectApp, AppMatch)> {
    let by_id = project
        .app_apple_id
        .and_then(|id| apps.iter().find(|a| a.id == id.to_string()));
    let app = by_id.or_else(|| apps.iter().find(|a| a.bundle_id == project.bundle_id))?;
    Some((
        app,
        match mismatch(project, app) {
            None => AppMatch::Same,
            Some(s) => AppMatch::Differs(s),
        },
    ))
}
