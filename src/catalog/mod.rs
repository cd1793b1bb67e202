//! The App Store Connect side of a project (Step 1's key): proving the key (Verify now), the team's apps (the
//! app found by itself), and the product catalog kept in sync, on demand and on a schedule.
pub mod apps;
pub mod schedule;
pub mod sync;
pub mod verify;

pub use apps::{team_apps, AppMatch};
pub use sync::{sync_project, SyncReport};
pub use verify::{verify_connect_key, ConnectVerdict};

/// Step 1's key in use, opened, and a session of App Store Connect calls with it; `None` when the project has no
/// such key. Verify now, the app list and the sync all start here.
pub(crate) async fn open_session(
    state: &crate::state::AppState,
    project: &crate::store::Project,
) -> anyhow::Result<
    Option<(
        crate::store::connect_keys::ConnectKeyRow,
        crate::apple::connect::ConnectSession,
    )>,
> {
    let opened =
        crate::keys::connect_key_in_use(&state.store, &state.settings.keyring(), project.id)
            .await?;
    Ok(opened.map(|(row, credentials)| (row, state.connect.session(credentials))))
}

/// What App Store Connect's refusal of a key most likely means, said once for Verify now, the app list and the
/// sync: the reader is the person who made the key.
pub fn refusal_sentence(e: &crate::apple::connect::ConnectError) -> String {
    use crate::apple::connect::ConnectError as E;
    match e {
        E::Unauthorized => "App Store Connect did not accept this key (401 NOT_AUTHORIZED). Most likely, most \
             common first: it is an In-App Purchase key (from the In-App Purchase tab, named SubscriptionKey_….p8) \
             rather than an App Store Connect API key — only a key from Users and Access → Integrations → App Store \
             Connect API works at Step 1; the Issuer ID is not the one shown above the keys on the App Store Connect \
             API tab; the key was revoked in App Store Connect (generate a new one and upload it here); or this \
             server's clock is off by more than a few minutes."
            .to_owned(),
        E::RateLimited => "App Store Connect's hourly request limit for this key is reached (429). Apple counts \
             every request of the past hour; wait an hour, or use another key for other tools."
            .to_owned(),
        E::Timeout | E::Network(_) => format!(
            "{e} Nothing about the key is known from this attempt; try again in a few minutes."
        ),
        other => other.to_string(),
    }
}

/// A person waited [`crate::config::AppleSettings::answer_within`] and App Store Connect had not answered.
pub fn no_answer_within(within: std::time::Duration) -> String {
    format!(
        "App Store Connect did not answer within {} s. Nothing about the key is known from this attempt; try \
         again in a few minutes.",
        within.as_secs()
    )
}
