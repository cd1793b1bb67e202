//! `/projects/{project}/offers`: a promotional offer signature from a form, for a test build or a support case.
//! Admins and leads only: signing uses the project's key, which support never handles (product.md).
use std::collections::HashMap;

use actix_web::http::{header, StatusCode};
use actix_web::HttpResponse;
use askama::Template;
use serde::Deserialize;

use crate::auth::csrf::CsrfForm;
use crate::error::AppError;
use crate::offers::{self, OfferField, OfferInput, SignError, SignedOffer};
use crate::present::time;
use crate::routes::{render, Layout, ProjectContext};

/// The key that would sign, as the page names it.
pub struct KeyInUse {
    pub key_id: String,
    pub fingerprint: String,
}

/// The result as the page shows it.
pub struct OfferResult {
    pub signed: SignedOffer,
    pub signed_at: String,
    pub usable_until: String,
}

#[derive(Template)]
#[template(path = "projects/offers.html")]
pub struct OffersPage {
    pub layout: Layout,
    pub slug: String,
    pub bundle_id: String,
    pub key: Option<KeyInUse>,
    pub form: OfferFormValues,
    pub errors: HashMap<&'static str, String>,
    pub form_error: Option<String>,
    pub result: Option<OfferResult>,
}

impl OffersPage {
    /// The error sentence of a form field, if any (templates look fields up by name).
    pub fn error(&self, field: &str) -> Option<&String> {
        self.errors.get(field)
    }
}

#[derive(Deserialize, Default, Clone)]
pub struct OfferFormValues {
    #[serde(default)]
    pub product_id: String,
    #[serde(default)]
    pub offer_id: String,
    #[serde(default)]
    pub app_account_token: String,
    #[serde(default)]
    pub transaction_id: String,
    #[serde(default)]
    pub nonce: String,
    #[serde(default)]
    pub timestamp: String,
}

async fn offers_page(cx: &ProjectContext) -> Result<OffersPage, AppError> {
    let project = &cx.project;
    let key = cx
        .state
        .store
        .keys_of_project(project.id)
        .await?
        .into_iter()
        .find(|k| k.status.is_in_use())
        .map(|k| KeyInUse {
            key_id: k.key_id,
            fingerprint: k.fingerprint,
        });
    Ok(OffersPage {
        layout: cx.layout("Promotional offers", "offers"),
        slug: project.slug.clone(),
        bundle_id: project.bundle_id.clone(),
        key,
        form: OfferFormValues::default(),
        errors: HashMap::new(),
        form_error: None,
        result: None,
    })
}

pub async fn page(cx: ProjectContext) -> Result<HttpResponse, AppError> {
    cx.ok(&offers_page(&cx).await?)
}

/// Signs and answers 200 with the result on the page. Nothing is stored but the audit row, so there is no next
/// page to redirect to; reloading signs again with a fresh nonce, which is harmless.
pub async fn sign(
    cx: ProjectContext,
    form: CsrfForm<OfferFormValues>,
) -> Result<HttpResponse, AppError> {
    let (state, project, user, req) = (&cx.state, &cx.project, &cx.user, &cx.req);
    let mut page = offers_page(&cx).await?;
    page.form = form.into_inner();
    let input = OfferInput {
        product_id: page.form.product_id.clone(),
        offer_id: page.form.offer_id.clone(),
        app_account_token: page.form.app_account_token.clone(),
        application_username: String::new(),
        transaction_id: page.form.transaction_id.clone(),
        nonce: page.form.nonce.clone(),
        timestamp: page.form.timestamp.clone(),
    };
    let request = match offers::parse(&input, uuid::Uuid::new_v4(), crate::clock::now_ms()) {
        Ok(r) => r,
        Err(errors) => {
            page.errors = errors
                .into_iter()
                .map(|(field, message)| (OfferField::form_name(field), message))
                .collect();
            return render(req, StatusCode::UNPROCESSABLE_ENTITY, &page);
        }
    };
    match offers::sign_for_project(
        &state.store,
        &state.settings.keyring(),
        project,
        &request,
        &user.actor(),
    )
    .await
    {
        Ok(signed) => {
            let now = crate::clock::now_ms();
            let until = signed.timestamp + offers::VALIDITY_MS;
            page.result = Some(OfferResult {
                signed_at: time::utc_and_relative(signed.timestamp, now),
                usable_until: time::utc_and_relative(until, now),
                signed,
            });
            let mut response = render(req, StatusCode::OK, &page)?;
            response.headers_mut().insert(
                header::CACHE_CONTROL,
                header::HeaderValue::from_static("no-store"),
            );
            Ok(response)
        }
        Err(e @ SignError::NoKey(_)) => {
            page.form_error = Some(e.to_string());
            render(req, StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(SignError::Unexpected(e)) => Err(AppError::Unexpected(e)),
    }
}
