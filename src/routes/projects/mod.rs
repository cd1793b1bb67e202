//! `/projects`, `/projects/new`, `/projects/{project}` and `/projects/{project}/edit`: the project list, the create
//! and edit forms and the overview. Each area of a project has its folder below, named as in its URL.
pub mod form;
pub mod keys;
pub mod notifications;
pub mod offers;
pub mod settings;
pub mod subscriptions;
pub mod transactions;

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use crate::auth::CurrentUser;
use crate::domain::Role;
use crate::error::AppError;
use crate::routes::{ok, project_by_slug, redirect_with_flash, unprocessable, Layout};
use crate::state::AppState;
use crate::store::{Project, StoreError};
use form::{ProjectErrors, ProjectForm};

const MANAGERS: &[Role] = &[Role::Admin, Role::Lead];

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
        can_create: user.is(MANAGERS),
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
}

pub async fn new_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    user.require(MANAGERS)?;
    let page = ProjectFormPage {
        layout: Layout::new(&state, &req, &user, "New project", None).await?,
        form: ProjectForm {
            environment: "Production".into(),
            ..Default::default()
        },
        errors: ProjectErrors::default(),
        action: "/projects".into(),
        submit_label: "Create project",
    };
    ok(&req, &page)
}

pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    form: web::Form<ProjectForm>,
) -> Result<HttpResponse, AppError> {
    user.require(MANAGERS)?;
    user.check_csrf(&form.csrf_token)?;
    let form = form.into_inner();
    let parsed = match form.parse() {
        Ok(p) => p,
        Err(errors) => {
            return refuse(&req, &state, &user, form, errors, "/projects".into(), None).await
        }
    };
    match state.store.create_project(&parsed, &user.actor()).await {
        Ok(project) => Ok(redirect_with_flash(
            &format!("/projects/{}/settings/stores/apple", project.slug),
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
            refuse(&req, &state, &user, form, errors, "/projects".into(), None).await
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
    action: String,
    project: Option<&Project>,
) -> Result<HttpResponse, AppError> {
    let (title, submit_label) = if project.is_some() {
        ("Edit project", "Save changes")
    } else {
        ("New project", "Create project")
    };
    let page = ProjectFormPage {
        layout: Layout::new(state, req, user, title, project.map(|p| (p, "edit"))).await?,
        form,
        errors,
        action,
        submit_label,
    };
    unprocessable(req, &page)
}

#[derive(Template)]
#[template(path = "projects/overview.html")]
pub struct OverviewPage {
    pub layout: Layout,
    pub project: ProjectRow,
    pub can_edit: bool,
}

pub async fn overview(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let project = project_by_slug(&state, &path).await?;
    let page = OverviewPage {
        layout: Layout::new(
            &state,
            &req,
            &user,
            &project.name,
            Some((&project, "overview")),
        )
        .await?,
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
        can_edit: user.is(MANAGERS),
    };
    ok(&req, &page)
}

pub async fn edit_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    user.require(MANAGERS)?;
    let project = project_by_slug(&state, &path).await?;
    let page = ProjectFormPage {
        layout: Layout::new(
            &state,
            &req,
            &user,
            "Edit project",
            Some((&project, "edit")),
        )
        .await?,
        form: ProjectForm::from_project(&project),
        errors: ProjectErrors::default(),
        action: format!("/projects/{}/edit", project.slug),
        submit_label: "Save changes",
    };
    ok(&req, &page)
}

pub async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    form: web::Form<ProjectForm>,
) -> Result<HttpResponse, AppError> {
    user.require(MANAGERS)?;
    user.check_csrf(&form.csrf_token)?;
    let project = project_by_slug(&state, &path).await?;
    let form = form.into_inner();
    let action = format!("/projects/{}/edit", project.slug);
    let parsed = match form.parse() {
        Ok(p) => p,
        Err(errors) => {
            return refuse(&req, &state, &user, form, errors, action, Some(&project)).await
        }
    };
    match state
        .store
        .update_project(project.id, &parsed, &user.actor())
        .await
    {
        Ok(updated) => Ok(redirect_with_flash(
            &format!("/projects/{}", updated.slug),
            "ok",
            "Project saved.",
        )),
        Err(StoreError::Conflict(message)) => {
            let errors = ProjectErrors {
                slug: Some(message),
                ..Default::default()
            };
            refuse(&req, &state, &user, form, errors, action, Some(&project)).await
        }
        Err(e) => Err(e.into()),
    }
}
