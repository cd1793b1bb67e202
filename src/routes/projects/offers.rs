//! `/projects/{project}/offers`: a promotional offer signature from a form, for a test build or a support case.
//! Admins and leads only: signing uses the project's key, which support never handles (product.md).
//!
//! With a synced catalog that lists auto-renewable subscriptions, the product and the offer are picked from it
//! (two selects under the same field names) and held to it when signing; without one, both are typed.
use std::collections::HashMap;

use actix_web::http::{header, StatusCode};
use actix_web::HttpResponse;
use askama::Template;
use serde::Deserialize;

use crate::auth::csrf::CsrfForm;
use crate::domain::catalog::Catalog;
use crate::error::AppError;
use crate::offers::{self, OfferField, OfferInput, SignError, SignedOffer};
use crate::present::time;
use crate::routes::{render, Layout, ProjectContext};
use crate::store::catalog::CatalogNames;

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
    /// The catalog's subscriptions and offers to pick from; `None` without a catalog that lists subscriptions.
    pub choices: Option<CatalogChoices>,
    /// The catalog's names, for the signed product's name.
    pub names: CatalogNames,
    /// Held for the check when signing.
    catalog: Catalog,
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

/// One `<option>`.
pub struct Choice {
    pub value: String,
    pub text: String,
    pub selected: bool,
}

/// An `<optgroup>` of the product select: one subscription group's subscriptions.
pub struct ProductGroup {
    group_id: Option<String>,
    pub label: String,
    pub products: Vec<Choice>,
}

/// An `<optgroup>` of the offer select: one subscription's promotional offers.
pub struct OfferGroup {
    pub product_id: String,
    pub label: String,
    pub offers: Vec<Choice>,
}

/// The two selects' contents, from the catalog.
pub struct CatalogChoices {
    pub products: Vec<ProductGroup>,
    pub offers: Vec<OfferGroup>,
    /// No subscription has a promotional offer yet.
    pub no_offers: bool,
}

impl CatalogChoices {
    /// The catalog's subscriptions by group (groups by name, subscriptions by level of service then name), the
    /// current values selected; `None` when the catalog lists no auto-renewable subscription.
    pub fn of(catalog: &Catalog, product_id: &str, offer_id: &str) -> Option<Self> {
        if !offers::catalog::applies(catalog) {
            return None;
        }
        let (product_id, offer_id) = (product_id.trim(), offer_id.trim());
        let mut subscriptions: Vec<_> = offers::catalog::subscriptions(catalog).collect();
        let group_label = |id: &Option<String>| match id.as_deref() {
            Some(g) => catalog
                .group(g)
                .map(|x| x.reference_name.clone())
                .unwrap_or_else(|| format!("Subscription group {g}")),
            None => "Subscriptions in no group".to_owned(),
        };
        subscriptions.sort_by(|a, b| {
            let key = |p: &&crate::domain::catalog::Product| {
                (
                    group_label(&p.group_id),
                    p.group_id.clone(),
                    p.group_level.unwrap_or(i64::MAX),
                    p.name.clone(),
                )
            };
            key(a).cmp(&key(b))
        });
        let mut products: Vec<ProductGroup> = Vec::new();
        for p in &subscriptions {
            let choice = Choice {
                value: p.product_id.clone(),
                text: format!("{} — {}", p.name, p.product_id),
                selected: p.product_id == product_id,
            };
            // Sorted by group, so a group's subscriptions are next to each other.
            match products.last_mut() {
                Some(g) if g.group_id == p.group_id => g.products.push(choice),
                _ => products.push(ProductGroup {
                    group_id: p.group_id.clone(),
                    label: group_label(&p.group_id),
                    products: vec![choice],
                }),
            }
        }
        // The offer stays selected under its own product, or under the first that has it.
        let chosen = subscriptions
            .iter()
            .find(|p| p.product_id == product_id && p.offers.iter().any(|o| o.code == offer_id))
            .or_else(|| {
                subscriptions
                    .iter()
                    .find(|p| p.offers.iter().any(|o| o.code == offer_id))
            })
            .map(|p| p.product_id.as_str());
        let offers: Vec<OfferGroup> = subscriptions
            .iter()
            .filter(|p| !p.offers.is_empty())
            .map(|p| OfferGroup {
                product_id: p.product_id.clone(),
                label: p.name.clone(),
                offers: p
                    .offers
                    .iter()
                    .map(|o| Choice {
                        value: o.code.clone(),
                        text: offers::catalog::offer_words(o),
                        selected: Some(p.product_id.as_str()) == chosen && o.code == offer_id,
                    })
                    .collect(),
            })
            .collect();
        Some(CatalogChoices {
            no_offers: offers.is_empty(),
            products,
            offers,
        })
    }
}

async fn offers_page(cx: &ProjectContext) -> Result<OffersPage, AppError> {
    let project = &cx.project;
    let (keys, catalog) = tokio::join!(
        cx.state.store.keys_of_project(project.id),
        cx.state.store.catalog(project.id)
    );
    let catalog = catalog?;
    let key = keys?
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
        choices: CatalogChoices::of(&catalog, "", ""),
        names: CatalogNames::from_pairs(
            catalog
                .products
                .iter()
                .map(|p| (p.product_id.clone(), p.name.clone())),
            catalog
                .groups
                .iter()
                .map(|g| (g.group_id.clone(), g.reference_name.clone())),
        ),
        catalog,
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
    page.choices = CatalogChoices::of(&page.catalog, &page.form.product_id, &page.form.offer_id);
    let input = OfferInput {
        product_id: page.form.product_id.clone(),
        offer_id: page.form.offer_id.clone(),
        app_account_token: page.form.app_account_token.clone(),
        application_username: String::new(),
        transaction_id: page.form.transaction_id.clone(),
        nonce: page.form.nonce.clone(),
        timestamp: page.form.timestamp.clone(),
    };
    let request = match offers::parse_with_catalog(
        &input,
        &page.catalog,
        uuid::Uuid::new_v4(),
        crate::clock::now_ms(),
    ) {
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
