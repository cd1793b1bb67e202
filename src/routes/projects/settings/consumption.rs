//! `/projects/{project}/settings/consumption`: the automatic consumption policy (admins and leads), linked from
//! the consumption requests' page. What the policy does with each request is `notifications::auto_consumption`.
use actix_web::HttpResponse;
use askama::Template;
use serde::Deserialize;

use crate::auth::csrf::CsrfForm;
use crate::error::AppError;
use crate::notifications::auto_consumption::{MAX_WAIT_MINUTES, MODES};
use crate::notifications::consumption::{DELIVERY_STATUSES, REFUND_PREFERENCES, SAMPLE_CHOICES};
use crate::routes::{redirect_with_flash, FieldErrors, Layout, ProjectContext};
use crate::store::consumption_policy::{PolicyRow, AUTOMATIC, OFF};
use crate::support::FieldError;

/// A project's policy as the form gives it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PolicyForm {
    #[serde(default)]
    pub mode: String,
    #[serde(default)]
    pub consent_declared: Option<String>,
    #[serde(default)]
    pub delivery_status: String,
    #[serde(default)]
    pub refund_preference: String,
    #[serde(default)]
    pub sample_content_provided: String,
    #[serde(default)]
    pub wait_minutes: String,
}

impl PolicyForm {
    pub fn of(p: &PolicyRow) -> Self {
        PolicyForm {
            mode: p.mode.clone(),
            consent_declared: (p.consent_declared != 0).then(|| "yes".to_owned()),
            delivery_status: p.delivery_status.clone(),
            refund_preference: p.refund_preference.clone(),
            sample_content_provided: if p.sample_content_provided != 0 {
                "true"
            } else {
                "false"
            }
            .into(),
            wait_minutes: p.wait_minutes.to_string(),
        }
    }

    pub fn default_for_new() -> Self {
        PolicyForm {
            mode: OFF.into(),
            consent_declared: None,
            delivery_status: "DELIVERED".into(),
            refund_preference: String::new(),
            sample_content_provided: "true".into(),
            wait_minutes: "30".into(),
        }
    }

    /// Checks every field; the errors name their field.
    pub fn parse(&self, project_id: i64, by: &str) -> Result<PolicyRow, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mode = self.mode.trim();
        if !MODES.iter().any(|(m, _)| *m == mode) {
            errors.push(FieldError {
                field: "mode",
                message: "Choose off, dry run or automatic.".into(),
            });
        }
        let delivery = self.delivery_status.trim();
        if !DELIVERY_STATUSES.iter().any(|(d, _)| *d == delivery) {
            errors.push(FieldError {
                field: "delivery_status",
                message: "Choose how your app delivers purchases, from the list.".into(),
            });
        }
        let refund = self.refund_preference.trim();
        if !REFUND_PREFERENCES.iter().any(|(r, _)| *r == refund) {
            errors.push(FieldError {
                field: "refund_preference",
                message: "Choose a refund preference from the list, or “No preference”.".into(),
            });
        }
        let sample = match self.sample_content_provided.trim() {
            "true" => 1,
            "false" => 0,
            _ => {
                errors.push(FieldError {
                    field: "sample_content_provided",
                    message: "Say whether customers can try a sample, a trial or a description before buying."
                        .into(),
                });
                0
            }
        };
        let wait = match self.wait_minutes.trim().parse::<i64>() {
            Ok(w) if (0..=MAX_WAIT_MINUTES).contains(&w) => w,
            _ => {
                errors.push(FieldError {
                    field: "wait_minutes",
                    message: format!(
                        "Wait a whole number of minutes from 0 to {MAX_WAIT_MINUTES} for your backend's data; \
                         storedesk answers 30 minutes before Apple's deadline in any case."
                    ),
                });
                0
            }
        };
        let consent = self.consent_declared.is_some();
        if mode == AUTOMATIC && !consent {
            errors.push(FieldError {
                field: "consent_declared",
                message: "Automatic answers send customerConsented: tick the box only if your app obtains the \
                          customer's consent to share consumption data with Apple. Without it, choose dry run or \
                          off."
                    .into(),
            });
        }
        if errors.is_empty() {
            Ok(PolicyRow {
                project_id,
                mode: mode.to_owned(),
                consent_declared: i64::from(consent),
                delivery_status: delivery.to_owned(),
                refund_preference: refund.to_owned(),
                sample_content_provided: sample,
                wait_minutes: wait,
                updated_by: by.to_owned(),
                updated_at: crate::clock::now_ms(),
            })
        } else {
            Err(errors)
        }
    }
}

#[derive(Template)]
#[template(path = "projects/settings/consumption.html")]
pub struct PolicyPage {
    pub layout: Layout,
    pub action: String,
    pub queue_url: String,
    pub form: PolicyForm,
    pub errors: FieldErrors,
    pub modes: &'static [(&'static str, &'static str)],
    pub deliveries: &'static [(&'static str, &'static str)],
    pub refunds: &'static [(&'static str, &'static str)],
    pub samples: &'static [(&'static str, &'static str)],
    pub max_wait: i64,
    pub updated: Option<String>,
}

async fn build(cx: &ProjectContext, form: Option<PolicyForm>) -> Result<PolicyPage, AppError> {
    let saved = cx.state.store.consumption_policy(cx.project.id).await?;
    let now = crate::clock::now_ms();
    Ok(PolicyPage {
        layout: cx.layout("Automatic consumption answers", "notifications"),
        action: crate::urls::consumption_policy(&cx.project.slug),
        queue_url: crate::urls::consumption(&cx.project.slug),
        updated: saved.as_ref().map(|p| {
            format!(
                "{}, by {}",
                crate::present::time::utc_and_relative(p.updated_at, now),
                p.updated_by
            )
        }),
        form: form.unwrap_or_else(|| {
            saved
                .as_ref()
                .map_or_else(PolicyForm::default_for_new, PolicyForm::of)
        }),
        errors: FieldErrors::default(),
        modes: MODES,
        deliveries: DELIVERY_STATUSES,
        refunds: REFUND_PREFERENCES,
        samples: &SAMPLE_CHOICES[1..],
        max_wait: MAX_WAIT_MINUTES,
    })
}

pub async fn page(cx: ProjectContext) -> Result<HttpResponse, AppError> {
    let page = build(&cx, None).await?;
    cx.ok(&page)
}

pub async fn save(
    cx: ProjectContext,
    form: CsrfForm<PolicyForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let actor = cx.user.actor();
    let policy = match form.parse(cx.project.id, &actor.email) {
        Ok(p) => p,
        Err(errors) => {
            let mut page = build(&cx, Some(form)).await?;
            page.errors = FieldErrors(errors);
            return cx.unprocessable(&page);
        }
    };
    cx.state.store.save_consumption_policy(&policy).await?;
    let detail = format!(
        "mode {}, consent declared {}, delivery {}, refund preference {}, sample provided {}, wait {} min",
        policy.mode,
        if policy.consent_declared != 0 { "yes" } else { "no" },
        policy.delivery_status,
        if policy.refund_preference.is_empty() { "none" } else { &policy.refund_preference },
        if policy.sample_content_provided != 0 { "yes" } else { "no" },
        policy.wait_minutes
    );
    cx.state
        .store
        .audit(
            &actor,
            "consumption.policy",
            Some(cx.project.id),
            &cx.project.slug,
            &detail,
        )
        .await?;
    let message = match policy.mode.as_str() {
        OFF => "Saved: the policy is off, and people answer each consumption request.",
        AUTOMATIC => "Saved: storedesk answers each consumption request within minutes.",
        _ => "Saved: storedesk shows what it would send for each request, and sends nothing.",
    };
    Ok(redirect_with_flash(
        &crate::urls::consumption_policy(&cx.project.slug),
        "ok",
        message,
    ))
}
