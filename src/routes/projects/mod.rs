//! `/projects`, `/projects/new`, `/projects/{project}` and `/projects/{project}/edit`: the project list, the create
//! and edit forms and the overview. Each area of a project has its folder below, named as in its URL.
pub mod app_choice;
pub mod catalog;
pub mod customers;
pub mod desk;
pub mod extend_all;
pub mod form;
pub mod keys;
pub mod notifications;
pub mod offers;
pub mod settings;
pub mod subscriptions;
pub mod transactions;

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use crate::alerts::{key_health, KeyHealth, KeyHealthState};
use crate::auth::csrf::CsrfForm;
use crate::auth::CurrentUser;
use crate::domain::Environment;
use crate::domain::Role;
use crate::error::AppError;
use crate::notifications::gap::{self, GapSettings};
use crate::notifications::history::DAY_MS;
use crate::present::{duration, time};
use crate::routes::{ok, redirect_with_flash, unprocessable, Layout, ProjectContext};
use crate::state::AppState;
use crate::store::notification_log::{QueueState, CONSUMPTION_DEADLINE_MS};
use crate::store::StoreError;
use form::{ProjectErrors, ProjectForm};

pub struct ProjectRow {
    pub slug: String,
    pub name: String,
    pub bundle_id: String,
    pub app_apple_id: String,
    pub environment: String,
}

#[derive(Template)]
#[template(path = "projects/list.html")]
pub struct ProjectListPage {
    pub layout: Layout,
    pub projects: Vec<ProjectRow>,
    pub can_create: bool,
}

pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    let projects = state.store.list_projects().await?;
    let page = ProjectListPage {
        layout: Layout::new(&state, &req, &user, "Projects", None).await?,
        projects: projects
            .into_iter()
            .map(|p| ProjectRow {
                app_apple_id: p
                    .app_apple_id
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| "not set".into()),
                slug: p.slug,
                name: p.name,
                bundle_id: p.bundle_id,
                environment: p.environment,
            })
            .collect(),
        can_create: user.is(Role::MANAGERS),
    };
    ok(&req, &page)
}

#[derive(Template)]
#[template(path = "projects/form.html")]
pub struct ProjectFormPage {
    pub layout: Layout,
    pub form: ProjectForm,
    pub errors: ProjectErrors,
    pub action: String,
    pub submit_label: &'static str,
    /// The team's apps from App Store Connect (edit form, with Step 1's key).
    pub apps: app_choice::AppChoices,
}

pub async fn new_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    let page = ProjectFormPage {
        layout: Layout::new(&state, &req, &user, "New project", None).await?,
        form: ProjectForm {
            environment: "Production".into(),
            ..Default::default()
        },
        errors: ProjectErrors::default(),
        action: crate::urls::projects(),
        submit_label: "Create project",
        apps: app_choice::AppChoices::default(),
    };
    ok(&req, &page)
}

pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    form: CsrfForm<ProjectForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let parsed = match form.parse() {
        Ok(p) => p,
        Err(errors) => return refuse(&req, &state, &user, form, errors).await,
    };
    match state.store.create_project(&parsed, &user.actor()).await {
        Ok(project) => Ok(redirect_with_flash(
            &crate::urls::apple_settings(&project.slug),
            "ok",
            &format!(
                "Project “{}” created. Next: connect it to the App Store.",
                project.name
            ),
        )),
        Err(StoreError::Conflict(message)) => {
            let errors = ProjectErrors {
                slug: Some(message),
                ..Default::default()
            };
            refuse(&req, &state, &user, form, errors).await
        }
        Err(e) => Err(e.into()),
    }
}

async fn refuse(
    req: &HttpRequest,
    state: &AppState,
    user: &CurrentUser,
    form: ProjectForm,
    errors: ProjectErrors,
) -> Result<HttpResponse, AppError> {
    let page = ProjectFormPage {
        layout: Layout::new(state, req, user, "New project", None).await?,
        form,
        errors,
        action: crate::urls::projects(),
        submit_label: "Create project",
        apps: app_choice::AppChoices::default(),
    };
    unprocessable(req, &page)
}

/// One thing that needs doing, with the link to where it is done (none for a role that cannot do it there).
pub struct Need {
    pub text: String,
    pub link: Option<(String, &'static str)>,
}

pub struct LastNotification {
    pub environment: &'static str,
    pub when: String,
}

#[derive(Template)]
#[template(path = "projects/overview.html")]
pub struct OverviewPage {
    pub layout: Layout,
    pub project: ProjectRow,
    pub can_edit: bool,
    pub key: KeyHealth,
    pub last: Vec<LastNotification>,
    pub needs: Vec<Need>,
    /// Open consumption requests beyond those listed.
    pub more_requests: usize,
    /// "Alerts go to 2 places." (for those who may change it)
    pub alerts: Option<String>,
}

/// Open requests listed one by one on the overview; the rest are counted with a link to the queue.
const REQUESTS_LISTED: usize = 10;

pub async fn overview(cx: ProjectContext) -> Result<HttpResponse, AppError> {
    let (state, project) = (&cx.state, &cx.project);
    let slug = project.slug.as_str();
    let now = crate::clock::now_ms();
    let can_edit = cx.user.is(Role::MANAGERS);
    let gap_days = GapSettings::from_env().unwrap_or_default().lookback_days;
    let (key, production, sandbox, open, gaps) = tokio::join!(
        state.store.key_in_use(project.id),
        state
            .store
            .last_webhook_notification(project.id, Environment::Production.as_str()),
        state
            .store
            .last_webhook_notification(project.id, Environment::Sandbox.as_str()),
        state
            .store
            .consumption_queue(project.id, QueueState::Open, now, 100),
        state
            .store
            .gaps_since(project.id, now - gap_days * DAY_MS, true),
    );
    let key = key_health(key?.as_ref(), now);
    let (production, sandbox, open, gaps) = (production?, sandbox?, open?, gaps?);

    let mut needs = Vec::new();
    for r in open.iter().take(REQUESTS_LISTED) {
        let n = &r.notification;
        let deadline = n.signed_date + CONSUMPTION_DEADLINE_MS;
        let about = match (&n.transaction_id, &n.product_id) {
            (Some(t), Some(p)) => format!("transaction {t} ({p})"),
            (Some(t), None) => format!("transaction {t}"),
            _ => "a purchase".to_owned(),
        };
        needs.push(Need {
            text: format!(
                "Answer Apple's consumption request about {about} in {}: {} ({}).",
                n.environment,
                duration::due_in(deadline, now),
                time::utc(deadline)
            ),
            link: Some((crate::urls::consumption_request(slug, n.id), "Answer it")),
        });
    }
    match key.state {
        KeyHealthState::NoKey => needs.push(Need {
            text: "Add the project's In-App Purchase key (Step 3 of the App Store settings): without it storedesk \
                   cannot ask Apple anything."
                .into(),
            link: can_edit.then(|| (crate::urls::apple_settings(slug), "Add the key")),
        }),
        _ if key.needs_action() => needs.push(Need {
            text: key.sentence.clone(),
            link: Some((crate::urls::keys(slug), "Check the key")),
        }),
        _ => {}
    }
    for sentence in gap::banner_sentences(&gaps, gap_days) {
        needs.push(Need {
            text: format!("{sentence} Check the notification URL in App Store Connect."),
            link: Some((crate::urls::notifications(slug), "See the notifications")),
        });
    }
    if production.is_none() && sandbox.is_none() {
        needs.push(Need {
            text: "No notification from Apple has arrived yet: paste the notification URL into App Store Connect \
                   and send a test notification (Step 4 of the App Store settings)."
                .into(),
            link: can_edit.then(|| (crate::urls::apple_step4(slug), "Go to Step 4")),
        });
    }
    let alerts = if can_edit {
        let channels = state.store.alert_channels(project.id).await?;
        Some(match channels.len() {
            0 => "No alerts are sent for this project yet.".to_owned(),
            1 => "Alerts go to 1 place.".to_owned(),
            n => format!("Alerts go to {n} places."),
        })
    } else {
        None
    };
    let when = |at: Option<i64>| {
        at.map(|at| time::utc_and_relative(at, now))
            .unwrap_or_else(|| "never".into())
    };
    let page = OverviewPage {
        layout: cx.layout(&project.name, "overview"),
        project: ProjectRow {
            slug: project.slug.clone(),
            name: project.name.clone(),
            bundle_id: project.bundle_id.clone(),
            app_apple_id: project
                .app_apple_id
                .map(|v| v.to_string())
                .unwrap_or_else(|| "not set".into()),
            environment: project.environment.clone(),
        },
        can_edit,
        key,
        last: vec![
            LastNotification {
                environment: Environment::Production.as_str(),
                when: when(production),
            },
            LastNotification {
                environment: Environment::Sandbox.as_str(),
                when: when(sandbox),
            },
        ],
        needs,
        more_requests: open.len().saturating_sub(REQUESTS_LISTED),
        alerts,
    };
    cx.ok(&page)
}

/// The edit form, as first shown or with the sentences of a refused edit.
fn edit_page(
    cx: &ProjectContext,
    form: ProjectForm,
    errors: ProjectErrors,
    apps: app_choice::AppChoices,
) -> ProjectFormPage {
    ProjectFormPage {
        layout: cx.layout("Edit project", "edit"),
        form,
        errors,
        action: crate::urls::project_edit(&cx.project.slug),
        submit_label: "Save changes",
        apps,
    }
}

pub async fn edit_form(cx: ProjectContext) -> Result<HttpResponse, AppError> {
    let form = ProjectForm::from_project(&cx.project);
    let (apps, _) = app_choice::for_project(&cx.state, &cx.project, "").await?;
    cx.ok(&edit_page(&cx, form, ProjectErrors::default(), apps))
}

pub async fn update(
    cx: ProjectContext,
    form: CsrfForm<ProjectForm>,
) -> Result<HttpResponse, AppError> {
    let mut form = form.into_inner();
    let (mut choices, listed) =
        app_choice::for_project(&cx.state, &cx.project, &form.connect_app).await?;
    // An app chosen from the list sets both values, as App Store Connect has them.
    if !form.connect_app.trim().is_empty() {
        match listed
            .as_deref()
            .map(|apps| app_choice::chosen(apps, &form.connect_app))
        {
            Some(Some(app)) => {
                form.bundle_id = app.bundle_id.clone();
                form.app_apple_id = app.id.clone();
            }
            _ => {
                choices.error = Some(choices.note.clone().unwrap_or_else(|| {
                    "App Store Connect does not list this app for Step 1's key (any more). Choose another, \
                     or type the Bundle ID and App Apple ID below. Nothing was saved."
                        .to_owned()
                }));
                return cx.unprocessable(&edit_page(&cx, form, ProjectErrors::default(), choices));
            }
        }
    }
    let parsed = match form.parse() {
        Ok(p) => p,
        Err(errors) => return cx.unprocessable(&edit_page(&cx, form, errors, choices)),
    };
    match cx
        .state
        .store
        .update_project(cx.project.id, &parsed, &cx.user.actor())
        .await
    {
        Ok(updated) => Ok(
            match listed.and_then(|apps| app_choice::after_save(&updated, &apps)) {
                Some(warning) => redirect_with_flash(
                    &crate::urls::project(&updated.slug),
                    "warn",
                    &format!("Project saved. {warning}"),
                ),
                None => redirect_with_flash(
                    &crate::urls::project(&updated.slug),
                    "ok",
                    "Project saved.",
                ),
            },
        ),
        Err(StoreError::Conflict(message)) => {
            let errors = ProjectErrors {
                slug: Some(message),
                ..Default::default()
            };
            cx.unprocessable(&edit_page(&cx, form, errors, choices))
        }
        Err(e) => Err(e.into()),
    }
}
