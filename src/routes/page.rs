//! The frame every page shares: the layout (navigation, flash message, CSRF token), rendering with the right
//! status, redirects with a one-time message, and field errors for forms.
use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::http::{header, StatusCode};
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use askama::Template;
use futures_util::future::LocalBoxFuture;

use crate::auth::CurrentUser;
use crate::domain::Role;
use crate::error::AppError;
use crate::present::duration;
use crate::state::AppState;
use crate::store::notification_log::Waiting;
use crate::store::Project;
use crate::urls::{urldecode, urlencode};

pub const FLASH_COOKIE: &str = "storedesk_flash";

pub fn redirect(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location.to_string()))
        .finish()
}

/// A 303 that shows `message` once on the next page.
pub fn redirect_with_flash(location: &str, kind: &str, message: &str) -> HttpResponse {
    let cookie = Cookie::build(FLASH_COOKIE, urlencode(&format!("{kind}|{message}")))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .finish();
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location.to_string()))
        .cookie(cookie)
        .finish()
}

#[derive(Clone, Debug)]
pub struct Flash {
    pub kind: String,
    pub message: String,
}

#[derive(Clone, Debug)]
pub struct UserNav {
    pub email: String,
    pub role: String,
    pub is_admin: bool,
    pub can_manage: bool,
}

#[derive(Clone, Debug)]
pub struct ProjectLink {
    pub slug: String,
    pub name: String,
    pub current: bool,
}

#[derive(Clone, Debug)]
pub struct ProjectNav {
    pub slug: String,
    pub name: String,
    pub section: &'static str,
    pub can_settings: bool,
    /// Consumption requests waiting for an answer: "2 waiting", and "next due in 5 h 12 min" (empty when none).
    pub waiting: String,
    pub waiting_due: String,
    /// Signed data from a root other than Apple's is trusted (STOREDESK_APPLE_EXTRA_ROOTS, with a simulator on
    /// this machine): every project page says so, since what it shows is then not Apple's.
    pub test_roots: bool,
}

/// What every page's frame needs: title, navigation, the flash message and the CSRF token for its forms.
#[derive(Clone, Debug)]
pub struct Layout {
    pub title: String,
    pub css: &'static str,
    pub js: &'static str,
    pub user: Option<UserNav>,
    pub projects: Vec<ProjectLink>,
    pub project: Option<ProjectNav>,
    pub flash: Option<Flash>,
    pub csrf_token: String,
}

impl Layout {
    pub fn anonymous(title: &str, req: &HttpRequest) -> Self {
        Layout {
            title: title.to_string(),
            css: crate::assets::css_url(),
            js: crate::assets::js_url(),
            user: None,
            projects: Vec::new(),
            project: None,
            flash: read_flash(req),
            csrf_token: String::new(),
        }
    }

    pub async fn new(
        state: &AppState,
        req: &HttpRequest,
        user: &CurrentUser,
        title: &str,
        project: Option<(&Project, &'static str)>,
    ) -> Result<Self, AppError> {
        let projects = state.store.list_projects().await?;
        let project = project.map(|(p, section)| (p, section, Waiting::default()));
        Ok(Self::with_projects(req, user, title, project, &projects))
    }

    fn with_projects(
        req: &HttpRequest,
        user: &CurrentUser,
        title: &str,
        project: Option<(&Project, &'static str, Waiting)>,
        projects: &[Project],
    ) -> Self {
        let current = project.map(|(p, _, _)| p.id);
        let now = crate::clock::now_ms();
        Layout {
            title: title.to_string(),
            css: crate::assets::css_url(),
            js: crate::assets::js_url(),
            user: Some(UserNav {
                email: user.email.clone(),
                role: user.role.as_str().to_string(),
                is_admin: user.role == Role::Admin,
                can_manage: user.is(Role::MANAGERS),
            }),
            projects: projects
                .iter()
                .map(|p| ProjectLink {
                    slug: p.slug.clone(),
                    name: p.name.clone(),
                    current: Some(p.id) == current,
                })
                .collect(),
            project: project.map(|(p, section, waiting)| ProjectNav {
                slug: p.slug.clone(),
                name: p.name.clone(),
                section,
                can_settings: user.is(Role::MANAGERS),
                waiting: match waiting.count {
                    0 => String::new(),
                    n => format!("{n} waiting"),
                },
                waiting_due: waiting
                    .nearest_deadline
                    .filter(|_| waiting.count > 0)
                    .map(|at| format!("next {}", duration::due_in(at, now)))
                    .unwrap_or_default(),
                test_roots: req
                    .app_data::<web::Data<AppState>>()
                    .is_some_and(|s| !s.settings.apple.extra_roots.is_empty()),
            }),
            flash: read_flash(req),
            csrf_token: user.csrf_token.clone(),
        }
    }
}

fn read_flash(req: &HttpRequest) -> Option<Flash> {
    let raw = urldecode(req.cookie(FLASH_COOKIE)?.value());
    let (kind, message) = raw.split_once('|')?;
    let kind = if kind == "ok" || kind == "warn" || kind == "error" {
        kind
    } else {
        "ok"
    };
    Some(Flash {
        kind: kind.to_string(),
        message: message.chars().take(2000).collect(),
    })
}

/// A CSV file to download (`text/csv`), kept by no cache: histories are customer data.
pub fn csv_download(file_name: &str, body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{file_name}\""),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}

/// Renders a page; a flash message shown on it is cleared in the same response.
pub fn render<T: Template>(
    req: &HttpRequest,
    status: StatusCode,
    page: &T,
) -> Result<HttpResponse, AppError> {
    let html = page
        .render()
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!("template: {e}")))?;
    let mut response = HttpResponse::build(status);
    response.content_type("text/html; charset=utf-8");
    if req.cookie(FLASH_COOKIE).is_some() {
        response.cookie(crate::auth::session::removal_cookie(FLASH_COOKIE, false));
    }
    Ok(response.body(html))
}

pub fn ok<T: Template>(req: &HttpRequest, page: &T) -> Result<HttpResponse, AppError> {
    render(req, StatusCode::OK, page)
}

pub fn unprocessable<T: Template>(req: &HttpRequest, page: &T) -> Result<HttpResponse, AppError> {
    render(req, StatusCode::UNPROCESSABLE_ENTITY, page)
}

pub fn state(req: &HttpRequest) -> Result<web::Data<AppState>, AppError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| AppError::Unexpected(anyhow::anyhow!("application state missing")))
}

/// What a project's page or form starts from: the signed-in user (whose role the route table admitted), the
/// project named by `{project}` in the URL, and the projects for the navigation, all from one read. A slug that
/// names no project is a 404.
pub struct ProjectContext {
    pub user: CurrentUser,
    pub project: Project,
    pub state: web::Data<AppState>,
    pub req: HttpRequest,
    projects: Vec<Project>,
    /// The consumption requests waiting for an answer, for the navigation's count.
    pub waiting: Waiting,
}

impl ProjectContext {
    /// The page frame, with `section` marked in the project's navigation.
    pub fn layout(&self, title: &str, section: &'static str) -> Layout {
        Layout::with_projects(
            &self.req,
            &self.user,
            title,
            Some((&self.project, section, self.waiting)),
            &self.projects,
        )
    }

    /// Renders a page with 200.
    pub fn ok<T: Template>(&self, page: &T) -> Result<HttpResponse, AppError> {
        ok(&self.req, page)
    }

    /// Renders a form page whose input was refused, with 422.
    pub fn unprocessable<T: Template>(&self, page: &T) -> Result<HttpResponse, AppError> {
        unprocessable(&self.req, page)
    }
}

impl FromRequest for ProjectContext {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let user = CurrentUser::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move {
            let user = user.await?;
            let state = state(&req)?;
            let slug = req.match_info().get("project").unwrap_or_default();
            // What cannot be a slug names no project (and is not sent to the database, which may refuse some text).
            if crate::domain::Slug::parse(slug).is_err() {
                return Err(AppError::NotFound);
            }
            // The navigation's count of waiting consumption requests is one small indexed statement, found by
            // slug so that it runs beside the project list's read instead of after it.
            let (projects, waiting) = tokio::join!(
                state.store.list_projects(),
                state
                    .store
                    .consumption_waiting(slug, crate::clock::now_ms())
            );
            let (projects, waiting) = (projects?, waiting?);
            let project = projects
                .iter()
                .find(|p| p.slug == slug)
                .cloned()
                .ok_or(AppError::NotFound)?;
            Ok(ProjectContext {
                user,
                project,
                state,
                req,
                projects,
                waiting,
            })
        })
    }
}

/// Field errors by field name, for templates (`errors.get("from")`).
#[derive(Clone, Debug, Default)]
pub struct FieldErrors(pub Vec<crate::support::FieldError>);

impl FieldErrors {
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }

    pub fn has(&self, field: &str) -> bool {
        self.get(field).is_some()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
