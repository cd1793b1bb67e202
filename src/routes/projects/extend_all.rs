//! `/projects/{project}/subscriptions/extend-all`: Extend for all customers (admin and lead). The form, the
//! project's requests, and one request's progress, which Apple reports through its status endpoint and, at the
//! end, a summary notification.
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::auth::csrf::{CsrfForm, NoFields};
use crate::error::AppError;
use crate::present::labels::{extend_reason, EXTEND_REASONS};
use crate::present::time;
use crate::routes::{redirect_with_flash, FieldErrors, Layout, ProjectContext};
use crate::store::mass_extensions::{MassExtensionRow, ACCEPTED, COMPLETE, REFUSED};
use crate::support::mass_extension::{self, MassExtendRequest, MAX_DAYS};

/// One request as the pages show it.
pub struct RequestView {
    pub href: String,
    pub check_url: String,
    pub again_url: String,
    pub product_id: String,
    pub environment: String,
    pub days: i64,
    pub reason: String,
    pub storefronts: String,
    pub requested_by: String,
    pub requested: String,
    pub request_identifier: String,
    pub word: &'static str,
    pub badge: &'static str,
    pub sentence: String,
    pub in_progress: bool,
    pub outcome_unknown: bool,
    pub attempts: i64,
    pub progress: String,
    pub last_checked: Option<String>,
    pub summary_href: Option<String>,
}

impl RequestView {
    fn of(slug: &str, row: &MassExtensionRow, summary_id: Option<i64>, now: i64) -> Self {
        let (word, badge) = match row.state.as_str() {
            COMPLETE => ("complete", "badge-good"),
            ACCEPTED => ("in progress", "badge-warn"),
            REFUSED => ("refused", "badge-bad"),
            _ => ("outcome unknown", "badge-warn"),
        };
        let counts = match (row.succeeded_count, row.failed_count) {
            (Some(s), Some(f)) => format!("{s} subscription(s) extended, {f} not extended"),
            (Some(s), None) => format!("{s} subscription(s) extended"),
            _ => String::new(),
        };
        let progress = match row.state.as_str() {
            COMPLETE => format!(
                "Apple finished{}{}.",
                row.complete_date
                    .map(|d| format!(" {}", time::utc_and_relative(d, now)))
                    .unwrap_or_default(),
                if counts.is_empty() {
                    String::new()
                } else {
                    format!(": {counts}")
                }
            ),
            ACCEPTED => format!(
                "Apple is still working; this can take hours, and the page follows it by itself.{}",
                if counts.is_empty() {
                    String::new()
                } else {
                    format!(" So far: {counts}.")
                }
            ),
            _ => String::new(),
        };
        RequestView {
            href: crate::urls::extend_all_request(slug, row.id),
            check_url: crate::urls::extend_all_check(slug, row.id),
            again_url: crate::urls::extend_all_again(slug, row.id),
            product_id: row.product_id.clone(),
            environment: row.environment.clone(),
            days: row.days,
            reason: format!(
                "{} · {}",
                row.reason_code,
                extend_reason(row.reason_code).text
            ),
            storefronts: if row.storefronts.is_empty() {
                "every storefront".into()
            } else {
                row.storefronts.replace(',', ", ")
            },
            requested_by: row.requested_by.clone(),
            requested: time::utc_and_relative(row.created_at, now),
            request_identifier: row.request_identifier.clone(),
            word,
            badge,
            // The sentence of the sending ("…can take hours") is history once Apple says it is done.
            sentence: if row.state == COMPLETE {
                String::new()
            } else {
                row.sentence.clone()
            },
            in_progress: row.in_progress(),
            outcome_unknown: row.outcome_unknown(),
            attempts: row.attempts,
            progress,
            last_checked: row.last_checked_at.map(|t| time::utc_and_relative(t, now)),
            summary_href: summary_id.map(|id| crate::urls::notification(slug, id)),
        }
    }
}

#[derive(Deserialize, Default, Clone, Debug)]
pub struct ExtendAllForm {
    #[serde(default)]
    pub product_id: String,
    #[serde(default)]
    pub extend_by_days: String,
    #[serde(default)]
    pub extend_reason_code: String,
    #[serde(default)]
    pub storefronts: String,
    #[serde(default)]
    pub confirm: Option<String>,
}

#[derive(Template)]
#[template(path = "projects/extend_all.html")]
pub struct ExtendAllPage {
    pub layout: Layout,
    pub action: String,
    pub environment: String,
    pub products: Vec<String>,
    pub reasons: &'static [(i64, &'static str)],
    pub max_days: i64,
    pub form: ExtendAllForm,
    pub errors: FieldErrors,
    pub requests: Vec<RequestView>,
    /// The catalog's names of the products shown (empty without a synced catalog).
    pub names: crate::store::catalog::CatalogNames,
}

#[derive(Template)]
#[template(path = "projects/extend_all_request.html")]
pub struct RequestPage {
    pub layout: Layout,
    pub list_url: String,
    pub r: RequestView,
    /// The catalog's names of the products shown (empty without a synced catalog).
    pub names: crate::store::catalog::CatalogNames,
}

async fn list_page(cx: &ProjectContext, form: ExtendAllForm) -> Result<ExtendAllPage, AppError> {
    let (state, project) = (&cx.state, &cx.project);
    let now = crate::clock::now_ms();
    let rows = state.store.mass_extensions(project.id).await?;
    Ok(ExtendAllPage {
        layout: cx.layout("Extend for all customers", "transactions"),
        action: crate::urls::extend_all(&project.slug),
        environment: project.environment.clone(),
        products: state.store.auto_renewable_product_ids(project.id).await?,
        reasons: EXTEND_REASONS,
        max_days: MAX_DAYS,
        form,
        errors: FieldErrors::default(),
        requests: rows
            .iter()
            .map(|r| RequestView::of(&project.slug, r, None, now))
            .collect(),
        names: state.store.catalog_names(project.id).await?,
    })
}

pub async fn page(cx: ProjectContext) -> Result<HttpResponse, AppError> {
    let page = list_page(
        &cx,
        ExtendAllForm {
            extend_by_days: "7".into(),
            extend_reason_code: "3".into(),
            ..ExtendAllForm::default()
        },
    )
    .await?;
    cx.ok(&page)
}

pub async fn submit(
    cx: ProjectContext,
    form: CsrfForm<ExtendAllForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let parsed = MassExtendRequest::parse(
        &form.product_id,
        &form.extend_by_days,
        &form.extend_reason_code,
        &form.storefronts,
        form.confirm.is_some(),
    );
    let request = match parsed {
        Ok(r) => r,
        Err(errors) => {
            let mut page = list_page(&cx, form).await?;
            page.errors = FieldErrors(errors);
            return cx.unprocessable(&page);
        }
    };
    let row = mass_extension::start(&cx.state, &cx.project, &cx.user.actor(), &request).await?;
    let (kind, message) = match row.state.as_str() {
        ACCEPTED => (
            "ok",
            format!(
                "Apple accepted the request to extend every active subscriber of {} by {} day(s). It works \
                 through them in the background; this page follows its progress.",
                row.product_id, row.days
            ),
        ),
        REFUSED => ("error", format!("Nothing was extended. {}", row.sentence)),
        _ => ("error", row.sentence.clone()),
    };
    Ok(redirect_with_flash(
        &crate::urls::extend_all_request(&cx.project.slug, row.id),
        kind,
        &message,
    ))
}

async fn the_request(cx: &ProjectContext, id: i64) -> Result<MassExtensionRow, AppError> {
    cx.state
        .store
        .mass_extension(cx.project.id, id)
        .await?
        .ok_or(AppError::NotFound)
}

pub async fn request(
    cx: ProjectContext,
    path: web::Path<(String, i64)>,
) -> Result<HttpResponse, AppError> {
    let (_, id) = path.into_inner();
    let row = mass_extension::link_summary(&cx.state, the_request(&cx, id).await?).await?;
    let summary_id = match &row.summary_notification_uuid {
        Some(uuid) => cx
            .state
            .store
            .notification_by_uuid(cx.project.id, uuid)
            .await?
            .map(|n| n.id),
        None => None,
    };
    let now = crate::clock::now_ms();
    let page = RequestPage {
        layout: cx.layout("Extension for all customers", "transactions"),
        list_url: crate::urls::extend_all(&cx.project.slug),
        r: RequestView::of(&cx.project.slug, &row, summary_id, now),
        names: cx.state.store.catalog_names(cx.project.id).await?,
    };
    cx.ok(&page)
}

pub async fn check(
    cx: ProjectContext,
    path: web::Path<(String, i64)>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let (_, id) = path.into_inner();
    let row = mass_extension::link_summary(&cx.state, the_request(&cx, id).await?).await?;
    let location = crate::urls::extend_all_request(&cx.project.slug, row.id);
    if !row.in_progress() {
        return Ok(redirect_with_flash(
            &location,
            "ok",
            "Nothing to ask Apple: this request is not in progress.",
        ));
    }
    Ok(
        match mass_extension::check(&cx.state, &cx.project, &row).await? {
            Ok(p) if p.complete => {
                redirect_with_flash(&location, "ok", "Apple says the extension is complete.")
            }
            Ok(_) => redirect_with_flash(&location, "ok", "Apple says it is still working."),
            Err(p) => redirect_with_flash(
                &location,
                "error",
                &format!("Apple's progress could not be read. {}", p.sentence),
            ),
        },
    )
}

pub async fn again(
    cx: ProjectContext,
    path: web::Path<(String, i64)>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let (_, id) = path.into_inner();
    let row = the_request(&cx, id).await?;
    let location = crate::urls::extend_all_request(&cx.project.slug, row.id);
    match mass_extension::send_again(&cx.state, &cx.project, &cx.user.actor(), row).await? {
        None => Ok(redirect_with_flash(
            &location,
            "error",
            "Nothing was sent: this request's outcome is known now (see below).",
        )),
        Some(row) if row.state == ACCEPTED => Ok(redirect_with_flash(
            &location,
            "ok",
            "Apple accepted the request; it works through the subscribers in the background.",
        )),
        Some(row) => Ok(redirect_with_flash(&location, "error", &row.sentence)),
    }
}
