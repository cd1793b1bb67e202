//! `GET /api/v1/projects/{project}/catalog` (scope `read`): the product catalog of the project's last complete sync
//! from App Store Connect, as the store keeps it: the app, when it was synced, the billing grace period, the
//! subscription groups and every product with its prices and promotional offers. Before the first sync: 200 with
//! nulls and empty lists, so a backend can ask at any time.
use actix_web::web;
use serde::Serialize;

use super::{ok, ApiProject, ApiResult};
use crate::domain::catalog::{GracePeriod, Group, Price, Product, PromoOffer};
use crate::state::AppState;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CatalogJson {
    /// The app the catalog belongs to; null before the first complete sync.
    pub app: Option<AppJson>,
    /// When the last complete sync finished (RFC 3339, UTC); null before the first.
    pub synced_at: Option<String>,
    /// The app's Billing Grace Period setting; null when not known.
    pub grace_period: Option<GracePeriodJson>,
    /// Sorted by group id.
    pub groups: Vec<GroupJson>,
    /// Sorted by product id.
    pub products: Vec<ProductJson>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppJson {
    /// App Store Connect's id of the app (its Apple ID), as App Store Connect writes it: a string of digits.
    pub app_apple_id: String,
    pub name: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GracePeriodJson {
    pub opt_in: bool,
    pub sandbox_opt_in: bool,
    /// `THREE_DAYS`, `SIXTEEN_DAYS` or `TWENTY_EIGHT_DAYS`.
    pub duration: String,
    /// `ALL_RENEWALS` or `PAID_TO_PAID_ONLY`.
    pub renewal_type: String,
    /// In words: "On for 16 days, all renewals (Sandbox: on)".
    pub description: String,
}

impl From<&GracePeriod> for GracePeriodJson {
    fn from(g: &GracePeriod) -> Self {
        GracePeriodJson {
            opt_in: g.opt_in,
            sandbox_opt_in: g.sandbox_opt_in,
            duration: g.duration.clone(),
            renewal_type: g.renewal_type.clone(),
            description: g.describe(),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupJson {
    pub group_id: String,
    pub reference_name: String,
}

impl From<&Group> for GroupJson {
    fn from(g: &Group) -> Self {
        GroupJson {
            group_id: g.group_id.clone(),
            reference_name: g.reference_name.clone(),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductJson {
    pub product_id: String,
    /// The reference name set in App Store Connect.
    pub name: String,
    /// `AUTO_RENEWABLE`, `NON_RENEWING_SUBSCRIPTION`, `CONSUMABLE` or `NON_CONSUMABLE`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// As App Store Connect says it: `APPROVED`, `READY_TO_SUBMIT`, `REMOVED_FROM_SALE`, …
    pub state: String,
    /// Auto-renewable subscriptions only (null otherwise), as in `subscriptionGroupIdentifier`.
    pub subscription_group_id: Option<String>,
    /// 1 is the group's highest level of service.
    pub group_level: Option<i64>,
    /// `ONE_MONTH`, `ONE_YEAR`, …
    pub subscription_period: Option<String>,
    /// Sorted by territory.
    pub prices: Vec<PriceJson>,
    /// Promotional offers, sorted by identifier.
    pub offers: Vec<OfferJson>,
}

impl From<&Product> for ProductJson {
    fn from(p: &Product) -> Self {
        ProductJson {
            product_id: p.product_id.clone(),
            name: p.name.clone(),
            kind: p.kind.as_str(),
            state: p.state.clone(),
            subscription_group_id: p.group_id.clone(),
            group_level: p.group_level,
            subscription_period: p.period.clone(),
            prices: p.prices.iter().map(PriceJson::from).collect(),
            offers: p.offers.iter().map(OfferJson::from).collect(),
        }
    }
}

/// A price in one storefront, as Apple writes it: decimal strings in the storefront's currency.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PriceJson {
    /// ISO 3166-1 alpha-3 (`USA`).
    pub territory: String,
    /// ISO 4217 (`USD`); empty when Apple did not say.
    pub currency: String,
    pub customer_price: String,
    pub proceeds: String,
}

impl From<&Price> for PriceJson {
    fn from(p: &Price) -> Self {
        PriceJson {
            territory: p.territory.clone(),
            currency: p.currency.clone(),
            customer_price: p.customer_price.clone(),
            proceeds: p.proceeds.clone(),
        }
    }
}

/// A promotional offer: `offerIdentifier` is what `offers/signature` takes.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OfferJson {
    pub offer_identifier: String,
    pub name: String,
    /// `FREE_TRIAL`, `PAY_AS_YOU_GO` or `PAY_UP_FRONT`.
    pub mode: String,
    /// `ONE_MONTH`, `THREE_MONTHS`, …
    pub duration: String,
    pub number_of_periods: i64,
}

impl From<&PromoOffer> for OfferJson {
    fn from(o: &PromoOffer) -> Self {
        OfferJson {
            offer_identifier: o.code.clone(),
            name: o.name.clone(),
            mode: o.mode.clone(),
            duration: o.duration.clone(),
            number_of_periods: o.periods,
        }
    }
}

pub async fn show(state: web::Data<AppState>, api: ApiProject) -> ApiResult {
    let project_id = api.project.id;
    let (synced, catalog) = tokio::join!(
        state.store.catalog_state(project_id),
        state.store.catalog(project_id)
    );
    let (synced, catalog) = (synced?, catalog?);
    ok(&CatalogJson {
        app: synced.as_ref().map(|s| AppJson {
            app_apple_id: s.app_id.clone(),
            name: s.app_name.clone(),
        }),
        synced_at: synced
            .as_ref()
            .map(|s| crate::present::time::iso(s.synced_at)),
        grace_period: catalog.grace_period.as_ref().map(GracePeriodJson::from),
        groups: catalog.groups.iter().map(GroupJson::from).collect(),
        products: catalog.products.iter().map(ProductJson::from).collect(),
    })
}
