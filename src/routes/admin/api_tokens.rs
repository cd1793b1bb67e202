//! `/admin/api-tokens`: API tokens for the JSON API, each for one project with scope `read` or `sign`.
//! Admins only: a token acts without a person behind it.
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use secrecy::ExposeSecret;
use serde::Deserialize;

use crate::auth::api_token as token;
use crate::auth::csrf::{CsrfForm, NoFields};
use crate::auth::CurrentUser;
use crate::domain::ApiScope;
use crate::error::AppError;
use crate::present::time;
use crate::routes::{ok, redirect_with_flash, render, Layout};
use crate::state::AppState;
use crate::store::StoreError;

pub struct TokenRow {
    pub id: i64,
    pub name: String,
    pub project_slug: String,
    pub project_name: String,
    pub scope: String,
    pub prefix: String,
    pub created_by: String,
    pub created_at: String,
    pub last_used: String,
    pub revoked: Option<String>,
}

pub struct ProjectChoice {
    pub slug: String,
    pub name: String,
}

#[derive(Default)]
pub struct TokenFormErrors {
    pub name: Option<String>,
    pub project: Option<String>,
    pub scope: Option<String>,
}

impl TokenFormErrors {
    fn any(&self) -> bool {
        self.name.is_some() || self.project.is_some() || self.scope.is_some()
    }
}

/// A token just made, for the one page that shows it.
pub struct NewToken {
    pub name: String,
    pub project_slug: String,
    pub scope: String,
    pub token: String,
}

#[derive(Template)]
#[template(path = "admin/api_tokens.html")]
pub struct ApiTokensPage {
    pub layout: Layout,
    pub tokens: Vec<TokenRow>,
    pub projects: Vec<ProjectChoice>,
    pub form_name: String,
    pub form_project: String,
    pub form_scope: String,
    pub errors: TokenFormErrors,
    pub new_token: Option<NewToken>,
    pub public_url: String,
}

async fn page(
    state: &AppState,
    req: &HttpRequest,
    user: &CurrentUser,
) -> Result<ApiTokensPage, AppError> {
    let now = crate::clock::now_ms();
    let tokens = state.store.list_api_tokens().await?;
    let projects = state.store.list_projects().await?;
    Ok(ApiTokensPage {
        layout: Layout::new(state, req, user, "API tokens", None).await?,
        tokens: tokens
            .into_iter()
            .map(|t| TokenRow {
                id: t.id,
                last_used: t
                    .last_used_at
                    .map(|at| time::utc_and_relative(at, now))
                    .unwrap_or_else(|| "never".into()),
                revoked: t.revoked_at.map(|at| {
                    format!(
                        "{} by {}",
                        time::utc_and_relative(at, now),
                        t.revoked_by.clone().unwrap_or_default()
                    )
                }),
                name: t.name,
                project_slug: t.project_slug,
                project_name: t.project_name,
                scope: t.scope,
                prefix: t.prefix,
                created_by: t.created_by,
                created_at: time::utc_and_relative(t.created_at, now),
            })
            .collect(),
        form_project: projects.first().map(|p| p.slug.clone()).unwrap_or_default(),
        projects: projects
            .into_iter()
            .map(|p| ProjectChoice {
                slug: p.slug,
                name: p.name,
            })
            .collect(),
        form_name: String::new(),
        form_scope: "read".into(),
        errors: TokenFormErrors::default(),
        new_token: None,
        public_url: state.settings.public_url.trim_end_matches('/').to_string(),
    })
}

pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    ok(&req, &page(&state, &req, &user).await?)
}

#[derive(Deserialize)]
pub struct NewTokenForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    project: String,
    #[serde(default)]
    scope: String,
}

/// Creates a token and answers 200 with the page that shows it, once.
///
/// Not the usual 303 + flash: the token would then travel in a cookie (kept by the browser, sent with every
/// request until cleared) or in a URL (kept in history and access logs). Rendered into this one response with
/// `Cache-Control: no-store`, it exists only on this screen; reloading re-posts the form and makes another
/// token rather than showing this one again.
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    form: CsrfForm<NewTokenForm>,
) -> Result<HttpResponse, AppError> {
    let mut page = page(&state, &req, &user).await?;
    page.form_name = form.name.trim().to_string();
    page.form_project = form.project.clone();
    page.form_scope = form.scope.clone();
    let name = token::parse_name(&form.name)
        .map_err(|e| page.errors.name = Some(e.into()))
        .ok();
    let scope = ApiScope::parse(&form.scope)
        .map_err(|e| page.errors.scope = Some(e.to_string()))
        .ok();
    let project = if form.project.trim().is_empty() {
        None
    } else {
        state.store.project_by_slug(form.project.trim()).await?
    };
    if project.is_none() {
        page.errors.project = Some(if page.projects.is_empty() {
            "There is no project yet. Create the project first; a token always belongs to one project.".into()
        } else {
            "Choose the project this token may use.".into()
        });
    }
    let (Some(name), Some(scope), Some(project)) = (name, scope, project) else {
        debug_assert!(page.errors.any());
        return render(&req, StatusCode::UNPROCESSABLE_ENTITY, &page);
    };
    let issued = token::issue(&state.store, project.id, &name, scope, &user.actor()).await?;
    let mut page = self::page(&state, &req, &user).await?;
    page.new_token = Some(NewToken {
        name: issued.row.name,
        project_slug: issued.row.project_slug,
        scope: issued.row.scope,
        token: issued.token.expose_secret().to_string(),
    });
    let mut response = render(&req, StatusCode::OK, &page)?;
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}

pub async fn revoke(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    match state.store.revoke_api_token(*path, &user.actor()).await {
        Ok(row) => Ok(redirect_with_flash(
            &crate::urls::admin_api_tokens(),
            "warn",
            &format!(
                "The token “{}” ({}) for {} is revoked. Calls with it now answer 401.",
                row.name, row.prefix, row.project_slug
            ),
        )),
        Err(StoreError::Conflict(message)) => Ok(redirect_with_flash(
            &crate::urls::admin_api_tokens(),
            "error",
            &message,
        )),
        Err(e) => Err(e.into()),
    }
}
