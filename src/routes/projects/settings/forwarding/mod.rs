//! `/projects/{project}/settings/forwarding`: where the project's notifications are forwarded (the publisher's own
//! servers), each destination with its health and queue, and the form that adds one. A destination's own page
//! (delivery log, settings, replays) is `destination.rs`; its buttons are `actions.rs` and `replay.rs`.
//!
//! A destination's signing secret is shown once, on the answer to the form that made it (or rotated it): 200
//! with `Cache-Control: no-store`, not a redirect, so it never travels in a cookie or a URL; afterwards only the
//! sealed secret exists.
pub mod actions;
pub mod destination;
pub mod form;
pub mod replay;

use actix_web::http::{header, StatusCode};
use actix_web::HttpResponse;
use askama::Template;
use secrecy::{ExposeSecret, SecretString};

use crate::auth::csrf::CsrfForm;
use crate::domain::Role;
use crate::error::AppError;
use crate::forwarding::health::Health;
use crate::present::{duration, time};
use crate::routes::{render, Layout, ProjectContext};
use crate::store::forwarding::{DestinationQueue, DestinationRow};
use crate::store::StoreError;
use form::{DestinationForm, FormView};

/// A destination as the pages show it.
pub struct DestinationView {
    pub id: i64,
    pub name: String,
    pub url: String,
    pub word: &'static str,
    pub badge: &'static str,
    pub health: String,
    pub environments: &'static str,
    pub types: String,
    pub enabled: bool,
    pub waiting: i64,
    /// "since 2026-11-27 05:06 UTC (3 hours ago)" for the oldest undelivered notification.
    pub oldest_waiting: Option<String>,
    pub dead: i64,
    pub last_success: String,
    pub last_failure: Option<String>,
    pub created: String,
    /// While a rotated-out secret still signs: until when.
    pub previous_until: Option<String>,
}

impl DestinationView {
    pub fn of(d: &DestinationRow, queue: Option<&DestinationQueue>, now: i64) -> Self {
        let health = Health::of(d);
        let q = queue.copied().unwrap_or_default();
        DestinationView {
            id: d.id,
            name: d.settings.name.clone(),
            url: d.settings.url.clone(),
            word: health.word(),
            badge: health.badge(),
            health: health.sentence(),
            environments: match (d.settings.production, d.settings.sandbox) {
                (true, true) => "Production and Sandbox",
                (true, false) => "Production",
                (false, true) => "Sandbox",
                (false, false) => "none",
            },
            types: match d.settings.types.is_empty() {
                true => "every type".into(),
                false => d.settings.types.join(", "),
            },
            enabled: d.settings.enabled,
            waiting: q.pending,
            oldest_waiting: q.oldest_pending_since.map(|at| {
                format!(
                    "the oldest for {} (since {})",
                    duration::span(now.saturating_sub(at).max(0)),
                    time::utc(at)
                )
            }),
            dead: q.dead,
            last_success: d
                .last_success_at
                .map(|at| time::utc_and_relative(at, now))
                .unwrap_or_else(|| "never".into()),
            last_failure: match (&d.last_failure, d.last_failure_at) {
                (Some(e), Some(at)) => Some(format!("{} — {e}", time::utc_and_relative(at, now))),
                (None, Some(at)) => Some(time::utc_and_relative(at, now)),
                _ => None,
            },
            created: format!(
                "{} by {}",
                time::utc_and_relative(d.created_at, now),
                d.created_by
            ),
            previous_until: d
                .previous_in_force(now)
                .and(d.previous_until)
                .map(time::utc),
        }
    }
}

#[derive(Template)]
#[template(path = "projects/settings/forwarding/list.html")]
pub struct ForwardingPage {
    pub layout: Layout,
    pub slug: String,
    pub can_manage: bool,
    pub destinations: Vec<DestinationView>,
    pub form: FormView,
    pub at_limit: bool,
}

pub async fn forwarding_page(cx: &ProjectContext) -> Result<ForwardingPage, AppError> {
    let now = crate::clock::now_ms();
    let store = &cx.state.store;
    let (rows, queues) = tokio::join!(
        store.forward_destinations(cx.project.id),
        store.forward_queues(cx.project.id)
    );
    let (rows, queues) = (rows?, queues?);
    Ok(ForwardingPage {
        layout: cx.layout("Forwarding", "forwarding"),
        slug: cx.project.slug.clone(),
        can_manage: cx.user.is(Role::MANAGERS),
        at_limit: i64::try_from(rows.len()).unwrap_or(i64::MAX)
            >= crate::store::forwarding::MAX_DESTINATIONS,
        destinations: rows
            .iter()
            .map(|d| {
                let q = queues.iter().find(|q| q.destination_id == d.id);
                DestinationView::of(d, q, now)
            })
            .collect(),
        form: FormView::empty(),
    })
}

pub async fn page(cx: ProjectContext) -> Result<HttpResponse, AppError> {
    cx.ok(&forwarding_page(&cx).await?)
}

/// The page that shows a signing secret, once.
#[derive(Template)]
#[template(path = "projects/settings/forwarding/secret.html")]
pub struct SecretPage {
    pub layout: Layout,
    pub slug: String,
    pub id: i64,
    pub name: String,
    pub secret: String,
    /// After a rotation: until when the previous secret signs too.
    pub previous_until: Option<String>,
}

/// Renders the secret's page: 200, kept by no cache.
pub fn secret_response(cx: &ProjectContext, page: &SecretPage) -> Result<HttpResponse, AppError> {
    let mut response = render(&cx.req, StatusCode::OK, page)?;
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}

pub async fn add(
    cx: ProjectContext,
    form: CsrfForm<DestinationForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let settings = match form::check(&form, true) {
        Ok(settings) => settings,
        Err(shown) => return refuse(&cx, *shown).await,
    };
    let secret: SecretString = crate::forwarding::secret::generate();
    let keyring = cx.state.settings.keyring();
    let project_id = cx.project.id;
    let seal = |destination_id: i64| {
        crate::keys::seal_forward_secret(&keyring, project_id, destination_id, &secret)
    };
    let added = cx
        .state
        .store
        .add_forward_destination(project_id, &settings, &seal, &cx.user.actor())
        .await;
    match added {
        Ok(id) => secret_response(
            &cx,
            &SecretPage {
                layout: cx.layout(
                    &format!("Destination “{}” added", settings.name),
                    "forwarding",
                ),
                slug: cx.project.slug.clone(),
                id,
                name: settings.name,
                secret: secret.expose_secret().to_owned(),
                previous_until: None,
            },
        ),
        Err(StoreError::Conflict(message)) => {
            let mut shown = FormView::of(&settings);
            shown.url_error = Some(message);
            refuse(&cx, shown).await
        }
        Err(e) => Err(e.into()),
    }
}

async fn refuse(cx: &ProjectContext, shown: FormView) -> Result<HttpResponse, AppError> {
    let mut page = forwarding_page(cx).await?;
    page.form = shown;
    cx.unprocessable(&page)
}
