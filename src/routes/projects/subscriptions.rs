//! `/projects/{project}/subscriptions/{original_transaction_id}`: every subscription group's state, and the
//! renewal-date extension for admins and leads.
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::auth::CurrentUser;
use crate::domain::Role;
use crate::error::AppError;
use crate::present::labels::EXTEND_REASONS;
use crate::routes::FieldErrors;
use crate::routes::{ok, project_by_slug, redirect_with_flash, render, unprocessable, Layout};
use crate::state::AppState;
use crate::store::Project;
use crate::support::subscription::MAX_EXTEND_DAYS;
use crate::support::{ExtendRequest, SubscriptionReport};

const EXTENDERS: &[Role] = &[Role::Admin, Role::Lead];

#[derive(Template)]
#[template(path = "projects/subscription.html")]
pub struct SubscriptionPage {
    pub layout: Layout,
    pub slug: String,
    pub report: SubscriptionReport,
    pub can_extend: bool,
    pub reasons: &'static [(i64, &'static str)],
    pub max_days: i32,
    /// The subscription whose extension form failed, with its values and messages.
    pub form_for: String,
    pub form: ExtendForm,
    pub errors: FieldErrors,
}

impl SubscriptionPage {
    pub fn search_url(&self, id: &str) -> String {
        crate::urls::link(
            &format!("/projects/{}/transactions", self.slug),
            &[("q", id.to_owned())],
        )
    }

    pub fn extend_url(&self, id: &str) -> String {
        format!(
            "/projects/{}/subscriptions/{}/extend",
            self.slug,
            crate::urls::urlencode(id)
        )
    }
}

#[derive(Deserialize, Default, Clone, Debug)]
pub struct ExtendForm {
    #[serde(default)]
    pub days: String,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub note: String,
    #[serde(default)]
    pub csrf_token: String,
}

async fn build(
    state: &AppState,
    req: &HttpRequest,
    user: &CurrentUser,
    project: &Project,
    id: &str,
) -> Result<SubscriptionPage, AppError> {
    let report = crate::support::subscription_status(state, project, &user.actor(), id).await?;
    Ok(SubscriptionPage {
        layout: Layout::new(
            state,
            req,
            user,
            "Subscription",
            Some((project, "transactions")),
        )
        .await?,
        slug: project.slug.clone(),
        report,
        can_extend: user.is(EXTENDERS),
        reasons: EXTEND_REASONS,
        max_days: MAX_EXTEND_DAYS,
        form_for: String::new(),
        form: ExtendForm {
            days: "7".into(),
            reason: "1".into(),
            ..ExtendForm::default()
        },
        errors: FieldErrors::default(),
    })
}

/// Whether `/subscriptions/{id}` is a subscription's address (its page answers 404 otherwise, and its forms are
/// refused the same way).
fn names_a_subscription(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())
}

pub async fn page(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (slug, id) = path.into_inner();
    let project = project_by_slug(&state, &slug).await?;
    let page = build(&state, &req, &user, &project, &id).await?;
    if !names_a_subscription(&id) {
        return render(&req, StatusCode::NOT_FOUND, &page);
    }
    ok(&req, &page)
}

pub async fn extend(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(String, String)>,
    form: web::Form<ExtendForm>,
) -> Result<HttpResponse, AppError> {
    user.require(EXTENDERS)?;
    user.check_csrf(&form.csrf_token)?;
    let (slug, id) = path.into_inner();
    let project = project_by_slug(&state, &slug).await?;
    // No subscription page has this address, so no form could have sent it: nothing goes to Apple.
    if !names_a_subscription(&id) {
        return Err(AppError::NotFound);
    }
    let form = form.into_inner();
    let request = match ExtendRequest::parse(&form.days, &form.reason, &form.note) {
        Ok(r) => r,
        Err(errors) => {
            let mut page = build(&state, &req, &user, &project, &id).await?;
            page.form_for = id.clone();
            page.form = form;
            page.errors = FieldErrors(errors);
            return unprocessable(&req, &page);
        }
    };
    let location = format!(
        "/projects/{}/subscriptions/{}",
        project.slug,
        crate::urls::urlencode(&id)
    );
    match crate::support::extend_renewal_date(&state, &project, &user.actor(), &id, &request)
        .await?
    {
        Ok(outcome) => Ok(redirect_with_flash(
            &location,
            "ok",
            &format!(
                "{} Apple request id: {}.",
                outcome.sentence, outcome.request_identifier
            ),
        )),
        Err(problem) => Ok(redirect_with_flash(
            &location,
            "error",
            &format!("The renewal date was not extended. {}", problem.sentence),
        )),
    }
}
