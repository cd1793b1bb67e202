//! One sync of a project's catalog: read everything from App Store Connect with Step 1's key, compare it with the
//! catalog held, and replace it in one transaction — or, when Apple refuses, fails or its hourly limit is reached,
//! keep the catalog held and say why. One sync per project at a time, across instances (a lease).
use crate::apple::connect::ConnectError;
use crate::domain::catalog::changes;
use crate::state::AppState;
use crate::store::catalog::{FAILED, RATE_LIMITED};
use crate::store::{Actor, Project};

/// A sync holds its project's lease at most this long; a sync that dies leaves it to expire.
const LEASE_MS: i64 = 10 * 60 * 1000;

/// How a sync ended, for the page that started it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncReport {
    /// `complete`, `failed`, `rate_limited`, or `busy` (another sync of this project runs) / `no_key`.
    pub outcome: &'static str,
    pub sentence: String,
}

pub fn lease_name(project_id: i64) -> String {
    format!("catalog_sync:{project_id}")
}

/// Syncs the project's catalog now; `started_by` is the person or `system (schedule)`.
pub async fn sync_project(
    state: &AppState,
    project: &Project,
    actor: &Actor,
    holder: &str,
) -> anyhow::Result<SyncReport> {
    let now = crate::clock::now_ms();
    let lease = lease_name(project.id);
    if !state
        .store
        .try_acquire_lease(&lease, holder, now, LEASE_MS)
        .await?
    {
        return Ok(SyncReport {
            outcome: "busy",
            sentence: "A sync of this catalog is already running; its result will show here when it ends. \
                       Nothing else was started."
                .to_owned(),
        });
    }
    let report = run(state, project, actor).await;
    if let Err(e) = state.store.release_lease(&lease, holder).await {
        tracing::warn!(error = ?e, "catalog sync lease not released; it expires by itself");
    }
    report
}

async fn run(state: &AppState, project: &Project, actor: &Actor) -> anyhow::Result<SyncReport> {
    let Some((row, mut session)) = super::open_session(state, project).await? else {
        return Ok(SyncReport {
            outcome: "no_key",
            sentence: "This project has no App Store Connect API key (Step 1), so the catalog cannot be synced. \
                       Add one in Project Settings → Stores → Apple App Store."
                .to_owned(),
        });
    };
    let sync_id = state
        .store
        .start_catalog_sync(project.id, &actor.email)
        .await?;
    let app_id = match project.app_apple_id {
        Some(id) => Ok(id.to_string()),
        None => match session.apps().await {
            Ok(apps) => apps
                .into_iter()
                .find(|a| a.bundle_id == project.bundle_id)
                .map(|a| a.id)
                .ok_or_else(|| {
                    format!(
                        "None of the apps key {} can see has the bundle ID {}. Choose the app at Step 1, or \
                         check the key's app access.",
                        row.key_id, project.bundle_id
                    )
                }),
            Err(e) => Err(super::refusal_sentence(&e)),
        },
    };
    let fetched = match app_id {
        Ok(app_id) => session.catalog(&app_id).await.map_err(|e| {
            (
                failure_outcome(&e),
                failure_sentence(&e, session.requests()),
            )
        }),
        Err(sentence) => Err((FAILED, sentence)),
    };
    let requests = i64::try_from(session.requests()).unwrap_or(i64::MAX);
    let (app, catalog) = match fetched {
        Ok(found) => found,
        Err((outcome, sentence)) => {
            state
                .store
                .end_catalog_sync(sync_id, outcome, &sentence, requests)
                .await?;
            audit(state, project, actor, outcome, &sentence).await;
            state.metrics.inc(
                "storedesk_catalog_syncs_total",
                &format!("outcome=\"{outcome}\""),
            );
            return Ok(SyncReport { outcome, sentence });
        }
    };
    // Another app than the one held (the project was pointed at another app) starts a catalog afresh: a list of
    // every product "removed" and "new" would say nothing.
    let first = state
        .store
        .catalog_state(project.id)
        .await?
        .is_none_or(|held| held.app_id != app.id);
    // The held catalog is read only when there is one to compare with.
    let found = if first {
        Vec::new()
    } else {
        changes(&state.store.catalog(project.id).await?, &catalog)
    };
    let subscriptions = catalog
        .products
        .iter()
        .filter(|p| p.group_id.is_some())
        .count();
    let counts = format!(
        "{} product(s): {} subscription(s) in {} group(s) and {} in-app purchase(s)",
        catalog.products.len(),
        subscriptions,
        catalog.groups.len(),
        catalog.products.len() - subscriptions
    );
    let sentence = if first {
        format!(
            "First sync of “{}”: {counts}, in {requests} request(s).",
            app.name
        )
    } else if found.is_empty() {
        format!(
            "Synced “{}”: nothing changed ({counts}; {requests} request(s)).",
            app.name
        )
    } else {
        format!(
            "Synced “{}”: {} change(s) ({counts}; {requests} request(s)).",
            app.name,
            found.len()
        )
    };
    state
        .store
        .complete_catalog_sync(
            project.id, sync_id, &app.id, &app.name, &catalog, &found, &sentence, requests,
        )
        .await?;
    audit(state, project, actor, "complete", &sentence).await;
    state
        .metrics
        .inc("storedesk_catalog_syncs_total", "outcome=\"complete\"");
    Ok(SyncReport {
        outcome: "complete",
        sentence,
    })
}

fn failure_outcome(e: &ConnectError) -> &'static str {
    if *e == ConnectError::RateLimited {
        RATE_LIMITED
    } else {
        FAILED
    }
}

fn failure_sentence(e: &ConnectError, requests: u64) -> String {
    match e {
        ConnectError::RateLimited => format!(
            "Stopped after {requests} request(s): App Store Connect's hourly request limit for this key is reached \
             (429). The catalog is unchanged from the last complete sync; the next scheduled sync tries again, or \
             sync by hand in an hour."
        ),
        ConnectError::Forbidden { .. } => format!(
            "App Store Connect refused the key part of the catalog (403): the key's role is below App Manager, or it \
             has no access to this app. The catalog is unchanged. ({e})"
        ),
        other => format!(
            "{} The catalog is unchanged from the last complete sync.",
            super::refusal_sentence(other)
        ),
    }
}

async fn audit(state: &AppState, project: &Project, actor: &Actor, outcome: &str, sentence: &str) {
    if let Err(e) = state
        .store
        .audit(actor, "catalog.sync", Some(project.id), outcome, sentence)
        .await
    {
        tracing::warn!(error = ?e, "catalog sync not audited");
    }
}
