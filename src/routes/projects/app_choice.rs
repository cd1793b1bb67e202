//! The project form's list of the team's apps (Step 1's key): choosing one fills the Bundle ID and App Apple ID
//! from App Store Connect, and typed values that disagree with it are said so.
use crate::apple::connect::ConnectApp;
use crate::catalog::apps::{mismatch, project_app, AppMatch};
use crate::error::AppError;
use crate::state::AppState;
use crate::store::Project;

/// One option of the list.
pub struct AppChoice {
    pub id: String,
    pub name: String,
    pub bundle_id: String,
    pub selected: bool,
}

/// What the form shows about App Store Connect; empty for a project without a Step 1 key.
#[derive(Default)]
pub struct AppChoices {
    pub apps: Vec<AppChoice>,
    /// Why the list could not be read.
    pub note: Option<String>,
    /// The project's saved values against App Store Connect.
    pub mismatch: Option<String>,
    /// The sentence next to the list after a post whose chosen app could not be used.
    pub error: Option<String>,
}

/// Reads the list (one App Store Connect call, bounded like every wait) for the project's form.
pub async fn for_project(
    state: &AppState,
    project: &Project,
    chosen: &str,
) -> Result<(AppChoices, Option<Vec<ConnectApp>>), AppError> {
    let Some(listed) = crate::catalog::team_apps(state, project).await? else {
        return Ok((AppChoices::default(), None));
    };
    Ok(match listed {
        Ok(apps) => (choices(project, &apps, chosen), Some(apps)),
        Err(sentence) => (
            AppChoices {
                note: Some(format!(
                    "The apps could not be listed from App Store Connect: {sentence}"
                )),
                ..AppChoices::default()
            },
            None,
        ),
    })
}

fn choices(project: &Project, apps: &[ConnectApp], chosen: &str) -> AppChoices {
    let (current, agreement) = match project_app(project, apps) {
        Some((app, m)) => (Some(app.id.clone()), Some(m)),
        None => (None, None),
    };
    let mismatch = match agreement {
        Some(AppMatch::Differs(sentence)) => Some(sentence),
        Some(AppMatch::Same) => None,
        None => Some(format!(
            "None of the {} app(s) Step 1's key can see has this project's bundle ID {}{}. Choose the app from the \
             list, or check the key's app access in App Store Connect.",
            apps.len(),
            project.bundle_id,
            project
                .app_apple_id
                .map(|id| format!(" or Apple ID {id}"))
                .unwrap_or_default()
        )),
    };
    let selected = if chosen.is_empty() {
        current.unwrap_or_default()
    } else {
        chosen.to_owned()
    };
    AppChoices {
        apps: apps
            .iter()
            .map(|a| AppChoice {
                selected: a.id == selected,
                id: a.id.clone(),
                name: a.name.clone(),
                bundle_id: a.bundle_id.clone(),
            })
            .collect(),
        note: None,
        mismatch,
        error: None,
    }
}

/// The app the form chose, from the list read again on the server (the browser's values are never trusted).
pub fn chosen<'a>(apps: &'a [ConnectApp], id: &str) -> Option<&'a ConnectApp> {
    apps.iter().find(|a| a.id == id.trim())
}

/// The sentence after a save, when the saved values disagree with App Store Connect.
pub fn after_save(project: &Project, apps: &[ConnectApp]) -> Option<String> {
    match project_app(project, apps) {
        Some((app, _)) => mismatch(project, app),
        None => choices(project, apps, "").mismatch,
    }
}
