//! `/projects/{project}/notifications/consumption`: the CONSUMPTION_REQUEST queue with Apple's 12-hour deadline,
//! and one form per request that sends consumption information to Apple. Every role may answer.
use actix_web::{web, HttpResponse};
use askama::Template;

use super::view::{Choice, NotificationView};
use crate::apple::AppleError;
use crate::auth::csrf::CsrfForm;
use crate::domain::TransactionId;
use crate::error::AppError;
use crate::notifications::auto_consumption::{self, BackendData};
use crate::notifications::consumption::{
    self, ConsumptionErrors, ConsumptionForm, CONSENT_CHOICES, DELIVERY_STATUSES,
    REFUND_PREFERENCES, SAMPLE_CHOICES,
};
use crate::notifications::decoded;
use crate::present::duration::time_left;
use crate::present::time;
use crate::routes::{redirect_with_flash, Layout, ProjectContext};
use crate::store::notification_log::{ConsumptionRequestRow, QueueState, CONSUMPTION_DEADLINE_MS};
use crate::store::notification_work::ConsumptionOutcome;
use crate::store::Project;

const AUTO_RENEWABLE: &str = "Auto-Renewable Subscription";

pub struct AnswerView {
    pub at: String,
    pub by: String,
    pub what: String,
    pub accepted: bool,
    /// Apple did not answer in time: neither accepted nor refused.
    pub unanswered: bool,
    pub error: Option<String>,
}

pub struct FormView {
    pub consent: Vec<Choice>,
    pub sample: Vec<Choice>,
    pub delivery: Vec<Choice>,
    pub refund: Vec<Choice>,
    pub percentage: String,
    pub errors: ConsumptionErrors,
    pub invalid: bool,
}

impl FormView {
    fn of(form: &ConsumptionForm, errors: ConsumptionErrors) -> Self {
        let mut delivery = vec![("", "Choose…")];
        delivery.extend_from_slice(DELIVERY_STATUSES);
        FormView {
            consent: Choice::list(CONSENT_CHOICES, form.customer_consented.trim()),
            sample: Choice::list(SAMPLE_CHOICES, form.sample_content_provided.trim()),
            delivery: Choice::list(&delivery, form.delivery_status.trim()),
            refund: Choice::list(REFUND_PREFERENCES, form.refund_preference.trim()),
            percentage: form.consumption_percentage.trim().to_owned(),
            invalid: !errors.is_empty(),
            errors,
        }
    }
}

pub struct RequestView {
    pub n: NotificationView,
    pub reason: Option<String>,
    pub product_type: Option<String>,
    pub price: Option<String>,
    pub auto_renewable: bool,
    pub deadline: String,
    pub time_left: String,
    pub state_word: &'static str,
    pub state_badge: &'static str,
    pub answered: bool,
    pub answers: Vec<AnswerView>,
    pub form: FormView,
    /// Open the form at once (it has errors, or the request is still open).
    pub open: bool,
    pub action: String,
    /// What the project's consumption policy did with it, in words.
    pub policy: Option<String>,
}

#[derive(Template)]
#[template(path = "projects/notifications/consumption.html")]
pub struct ConsumptionPage {
    pub layout: Layout,
    pub slug: String,
    pub open: Vec<RequestView>,
    pub overdue: Vec<RequestView>,
    pub answered: Vec<RequestView>,
    /// The catalog's names of the products shown (empty without a synced catalog).
    pub names: crate::store::catalog::CatalogNames,
}

fn request_view(
    project: &Project,
    r: &ConsumptionRequestRow,
    answers: &[crate::store::notification_work::ConsumptionAnswer],
    autos: &[crate::store::consumption_policy::AutoRow],
    policy: Option<&crate::store::consumption_policy::PolicyRow>,
    now: i64,
) -> RequestView {
    let n = &r.notification;
    let summary = serde_json::from_str(&n.payload)
        .map(|v| decoded::summary_of(&v))
        .unwrap_or_default();
    let deadline = n.signed_date + CONSUMPTION_DEADLINE_MS;
    let (state_word, state_badge) = match (r.answered_at, deadline > now) {
        (Some(_), _) => ("answered", "badge-good"),
        (None, true) => ("waiting for an answer", "badge-warn"),
        (None, false) => ("not answered", "badge-bad"),
    };
    let mine: Vec<AnswerView> = answers
        .iter()
        .filter(|a| {
            a.notification_id == n.id
                || (Some(&a.transaction_id) == n.transaction_id.as_ref()
                    && a.sent_at >= n.signed_date)
        })
        .map(|a| AnswerView {
            at: time::utc_and_relative(a.sent_at, now),
            by: a.sent_by.clone(),
            what: consumption::describe(&a.request),
            accepted: a.outcome == ConsumptionOutcome::Accepted,
            unanswered: a.outcome == ConsumptionOutcome::Unanswered,
            error: a.error.clone(),
        })
        .collect();
    let auto = autos.iter().find(|a| a.notification_id == n.id);
    let pending = || {
        let backend: Option<BackendData> = auto
            .and_then(|a| a.backend.as_deref())
            .and_then(|b| serde_json::from_str(b).ok());
        policy
            .filter(|_| r.answered_at.is_none() && deadline > now)
            .and_then(|p| auto_consumption::pending_sentence(p, backend.as_ref(), r))
    };
    let policy = match auto.filter(|a| !a.sentence.is_empty()) {
        Some(a) => Some(match &a.body {
            Some(body) => format!("{} ({})", a.sentence, consumption::describe(body)),
            None => a.sentence.clone(),
        }),
        None => pending(),
    };
    RequestView {
        policy,
        n: NotificationView::new(&project.slug, n, now),
        reason: summary.consumption_reason,
        auto_renewable: summary.product_type.as_deref() == Some(AUTO_RENEWABLE),
        product_type: summary.product_type,
        price: summary.price,
        deadline: time::utc(deadline),
        time_left: time_left(deadline, now),
        state_word,
        state_badge,
        answered: r.answered_at.is_some(),
        answers: mine,
        form: FormView::of(&ConsumptionForm::default(), ConsumptionErrors::default()),
        open: r.answered_at.is_none() && deadline > now,
        action: crate::urls::consumption_answer(&project.slug, n.id),
    }
}

/// The queue; `focus` puts one request's entered values and errors back on its form.
async fn build_page(
    cx: &ProjectContext,
    focus: Option<(&ConsumptionRequestRow, &ConsumptionForm, ConsumptionErrors)>,
) -> Result<ConsumptionPage, AppError> {
    let (state, project) = (&cx.state, &cx.project);
    let now = crate::clock::now_ms();
    let mut lists = Vec::new();
    for (s, limit) in [
        (QueueState::Open, 200),
        (QueueState::Overdue, 50),
        (QueueState::Answered, 50),
    ] {
        let mut rows = state
            .store
            .consumption_queue(project.id, s, now, limit)
            .await?;
        if let Some((f, _, _)) = &focus {
            let same_state = match (
                f.answered_at,
                f.notification.signed_date + CONSUMPTION_DEADLINE_MS > now,
            ) {
                (Some(_), _) => s == QueueState::Answered,
                (None, true) => s == QueueState::Open,
                (None, false) => s == QueueState::Overdue,
            };
            if same_state && !rows.iter().any(|r| r.notification.id == f.notification.id) {
                rows.insert(0, (*f).clone());
            }
        }
        lists.push(rows);
    }
    let ids: Vec<String> = lists
        .iter()
        .flatten()
        .filter_map(|r| r.notification.transaction_id.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let answers = state
        .store
        .consumption_answers_for(project.id, &ids)
        .await?;
    let autos = state.store.consumption_autos(project.id).await?;
    let policy = state.store.consumption_policy(project.id).await?;
    let mut views: Vec<Vec<RequestView>> = lists
        .iter()
        .map(|rows| {
            rows.iter()
                .map(|r| request_view(project, r, &answers, &autos, policy.as_ref(), now))
                .collect()
        })
        .collect();
    if let Some((f, form, errors)) = focus {
        for v in views.iter_mut().flatten() {
            if v.n.id == f.notification.id {
                v.form = FormView::of(form, errors.clone());
                v.open = true;
            }
        }
    }
    let answered = views.pop().unwrap_or_default();
    let overdue = views.pop().unwrap_or_default();
    let open = views.pop().unwrap_or_default();
    Ok(ConsumptionPage {
        layout: cx.layout("Consumption requests", "notifications"),
        slug: project.slug.clone(),
        open,
        overdue,
        answered,
        names: state.store.catalog_names(project.id).await?,
    })
}

pub async fn page(cx: ProjectContext) -> Result<HttpResponse, AppError> {
    cx.ok(&build_page(&cx, None).await?)
}

/// Validates, sends to Apple, and records the answer (who, when, what, Apple's verdict) with its audit entry.
pub async fn send(
    cx: ProjectContext,
    path: web::Path<(String, i64)>,
    form: CsrfForm<ConsumptionForm>,
) -> Result<HttpResponse, AppError> {
    let (state, project, user) = (&cx.state, &cx.project, &cx.user);
    let (_, id) = path.into_inner();
    let request = state
        .store
        .consumption_request(project.id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let n = &request.notification;
    let Some(transaction_id) = n.transaction_id.clone() else {
        return Err(AppError::BadRequest(
            "This consumption request names no transaction, so there is nothing to answer.".into(),
        ));
    };
    // Apple signed the id, and it goes into Apple's URL only in the shape Apple gives its ids.
    if TransactionId::parse(&transaction_id).is_err() {
        return Err(AppError::BadRequest(
            "This consumption request names a transaction id Apple does not issue, so there is nothing to answer."
                .into(),
        ));
    }
    let summary = serde_json::from_str(&n.payload)
        .map(|v| decoded::summary_of(&v))
        .unwrap_or_default();
    let auto_renewable = summary.product_type.as_deref() == Some(AUTO_RENEWABLE);
    let body = match consumption::validate(&form, auto_renewable) {
        Ok(body) => body,
        Err(errors) => {
            let page = build_page(&cx, Some((&request, &form, errors))).await?;
            return cx.unprocessable(&page);
        }
    };
    // Taken for this person: not while the project's policy is sending it or after it sent it.
    if !crate::notifications::auto_consumption::claim_for_person(state, project, n.id).await? {
        return Ok(redirect_with_flash(
            &crate::urls::consumption_request(&project.slug, n.id),
            "error",
            "Nothing was sent: the project's consumption policy is answering this request or has answered it (see \
             below).",
        ));
    }
    let result = crate::notifications::auto_consumption::send_answer(
        state,
        project,
        &request,
        &body,
        &user.actor(),
    )
    .await?;
    let back = crate::urls::consumption_request(&project.slug, n.id);
    match result {
        Ok(()) => {
            Ok(redirect_with_flash(
                &back,
                "ok",
                &format!(
                    "Apple accepted the consumption information for transaction {transaction_id}."
                ),
            ))
        }
        Err(AppleError::NoAnswer { within }) => {
            Ok(redirect_with_flash(
                &back,
                "error",
                &format!(
                    "{} storedesk can't tell whether Apple received the consumption information for transaction {transaction_id}, so this request stays open: send it again in a minute.",
                    crate::apple::silence(within)
                ),
            ))
        }
        Err(e) => {
            Ok(redirect_with_flash(
                &back,
                "error",
                &format!(
                    "Apple did not accept the consumption information for transaction {transaction_id}. {}",
                    e.sentence()
                ),
            ))
        }
    }
}
