//! `/projects`, `/projects/new`, `/projects/{project}` and `/projects/{project}/edit`: the project list, the create
//! and edit forms and the overview. Each area of a project has its folder below, named as in its URL.
pub mod customers;
pub mod desk;
pub mod form;
pub mod keys;
pub mod notifications;
pub mod offers;
pub mod settings;
pub mod subscriptions;
pub mod transactions;

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use crate::auth::csrf::CsrfForm;
use crate::auth::CurrentUser;
use crate::domain::Role;
use crate::error::AppError;
use crate::routes::{ok, redirect_with_flash, unprocessable, Layout, ProjectContext};
use crate::state::AppState;
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

pub async fn overview(cx: ProjectContext) -> Result<HttpResponse, AppError> {
    let project = &cx.project;
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
        can_edit: cx.user.is(Role::MANAGERS),
    };
    cx.ok(&page)
}

/// The edit form, as first shown or with the sentences of a refused edit.
fn edit_page(cx: &ProjectContext, form: ProjectForm, errors: ProjectErrors) -> ProjectFormPage {
    ProjectFormPage {
        layout: cx.layout("Edit project", "edit"),
        form,
        errors,
        action: crate::urls::project_edit(&cx.project.slug),
        submit_label: "Save changes",
    }
}

pub async fn edit_form(cx: ProjectContext) -> Result<HttpResponse, AppError> {
    let form = ProjectForm::from_project(&cx.project);
    cx.ok(&edit_page(&cx, form, ProjectErrors::default()))
}

pub async fn update(
    cx: ProjectContext,
    form: CsrfForm<ProjectForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let parsed = match form.parse() {
        Ok(p) => p,
        Err(errors) => return cx.unprocessable(&edit_page(&cx, form, errors)),
    };
    match cx
        .state
        .store
        .update_project(cx.project.id, &parsed, &cx.user.actor())
        .await
    {
        Ok(updated) => Ok(redirect_with_flash(
            &crate::urls::project(&updated.slug),
            "ok",
            "Project saved.",
        )),
        Err(StoreError::Conflict(message)) => {
            let errors = ProjectErrors {
                slug: Some(message),
                ..Default::default()
            };
            cx.unprocessable(&edit_page(&cx, form, errors))
        }
        Err(e) => Err(e.into()),
    }
}
