//! `/projects/{project}/subscriptions/{original_transaction_id}`: every subscription group's state, and the
//! renewal-date extension for admins and leads.
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::auth::csrf::CsrfForm;
use crate::domain::{Role, TransactionId};
use crate::error::AppError;
use crate::present::labels::EXTEND_REASONS;
use crate::routes::{redirect_with_flash, render, FieldErrors, Layout, ProjectContext};
use crate::store::catalog::CatalogNames;
use crate::support::subscription::ExtendAttempt;
use crate::support::subscription::MAX_EXTEND_DAYS;
use crate::support::{ExtendRequest, SubscriptionReport};

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
    /// The catalog's names of products and subscription groups (empty without a synced catalog).
    pub names: CatalogNames,
}

impl SubscriptionPage {
    pub fn search_url(&self, id: &str) -> String {
        crate::urls::search(&self.slug, id)
    }

    pub fn extend_all_url(&self) -> String {
        crate::urls::extend_all(&self.slug)
    }

    pub fn extend_url(&self, id: &str) -> String {
        crate::urls::subscription_extend(&self.slug, id)
    }

    pub fn fix(&self, f: &crate::support::Freshness) -> Option<super::desk::FixLink> {
        super::desk::fix_for(&self.slug, f)
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
    /// The request identifier of an extension whose outcome is not known, sent again as it was.
    #[serde(default)]
    pub again: String,
}

async fn build(cx: &ProjectContext, id: &str) -> Result<SubscriptionPage, AppError> {
    let actor = cx.user.actor();
    let (report, names) = tokio::join!(
        crate::support::subscription_status(&cx.state, &cx.project, &actor, id),
        cx.state.store.catalog_names(cx.project.id)
    );
    let (report, names) = (report?, names?);
    Ok(SubscriptionPage {
        layout: cx.layout("Subscription", "transactions"),
        slug: cx.project.slug.clone(),
        report,
        can_extend: cx.user.is(Role::MANAGERS),
        reasons: EXTEND_REASONS,
        max_days: MAX_EXTEND_DAYS,
        form_for: String::new(),
        form: ExtendForm {
            days: "7".into(),
            reason: "1".into(),
            ..ExtendForm::default()
        },
        errors: FieldErrors::default(),
        names,
    })
}

/// The original transaction id `/subscriptions/{id}` names, when it is a subscription's address (its page answers
/// 404 otherwise, and its forms are refused the same way).
fn names_a_subscription(id: &str) -> Option<TransactionId> {
    TransactionId::parse(id).ok()
}

pub async fn page(
    cx: ProjectContext,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (_, id) = path.into_inner();
    let page = build(&cx, &id).await?;
    if names_a_subscription(&id).is_none() {
        return render(&cx.req, StatusCode::NOT_FOUND, &page);
    }
    cx.ok(&page)
}

pub async fn extend(
    cx: ProjectContext,
    path: web::Path<(String, String)>,
    form: CsrfForm<ExtendForm>,
) -> Result<HttpResponse, AppError> {
    let (state, project, user) = (&cx.state, &cx.project, &cx.user);
    let (_, id) = path.into_inner();
    // No subscription page has this address, so no form could have sent it: nothing goes to Apple.
    let Some(original) = names_a_subscription(&id) else {
        return Err(AppError::NotFound);
    };
    let form = form.into_inner();
    let location = crate::urls::subscription(&project.slug, &id);
    let unsettled =
        crate::support::subscription::unsettled_extension(state, project, &original).await?;
    let attempt = match (form.again.trim(), unsettled) {
        // The same request again: its identifier, days and reason as stored, whatever else the form holds.
        (again, Some(row)) if !again.is_empty() && again == row.request_identifier => {
            ExtendAttempt::Again(row)
        }
        (again, _) if !again.is_empty() => {
            return Ok(redirect_with_flash(
                &location,
                "error",
                "Nothing was sent: that extension is no longer waiting to be sent again (its outcome is known now, \
                 see below).",
            ));
        }
        (_, Some(row)) => {
            return Ok(redirect_with_flash(
                &location,
                "error",
                &format!(
                    "Nothing was sent: it is not known whether Apple carried out the extension by {} day(s) sent \
                     earlier. Send that same request again first (Apple applies it only once), or the renewal date \
                     may be extended twice.",
                    row.days
                ),
            ));
        }
        (_, None) => match ExtendRequest::parse(&form.days, &form.reason, &form.note) {
            Ok(r) => ExtendAttempt::New(r),
            Err(errors) => {
                let mut page = build(&cx, &id).await?;
                page.form_for = id.clone();
                page.form = form;
                page.errors = FieldErrors(errors);
                return cx.unprocessable(&page);
            }
        },
    };
    match crate::support::extend_renewal_date(state, project, &user.actor(), &original, attempt)
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
        // Whether it was extended is not known: the problem's sentence says so, and what to check first.
        Err(problem) if crate::support::subscription::outcome_unknown(&problem) => {
            Ok(redirect_with_flash(&location, "error", &problem.sentence))
        }
        // Another extension is on its way: nothing was sent, and whether the date moves is that one's outcome.
        Err(problem) if problem.sentence == crate::support::subscription::IN_FLIGHT => {
            Ok(redirect_with_flash(&location, "error", &problem.sentence))
        }
        Err(problem) => Ok(redirect_with_flash(
            &location,
            "error",
            &format!("The renewal date was not extended. {}", problem.sentence),
        )),
    }
}
