//! The part of the App Store Connect API (JSON:API) storedesk's Step 1 uses: the team's apps, their in-app
//! purchases, subscription groups, subscriptions, prices, promotional offers and billing grace period, served
//! under `/connect` so that it stands in for `https://api.appstoreconnect.apple.com`. Only App Store Connect API
//! keys (`AuthKey_….p8`) get in; the catalog comes from the seed, so ids match the signed transactions.

mod catalog;
mod errors;
mod handlers;
mod paging;
mod params;
mod rate;
mod resources;

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;

use actix_web::{web, Resource};

pub(crate) use catalog::Catalog;
pub(crate) use handlers::unknown_path;

use rate::KeyRateLimiter;

use super::data::Product;

/// Where the API is mounted on the simulator's server.
pub(crate) const SCOPE: &str = "/connect";

/// The Connect API's share of the simulator's state.
pub(crate) struct ConnectState {
    pub catalog: Mutex<Catalog>,
    /// `SimHandle::set_connect_page_size`.
    pub page_size: Mutex<Option<usize>>,
    pub limiter: Mutex<KeyRateLimiter>,
    /// Every call received, refused ones included.
    pub requests: AtomicU64,
    /// Calls still to answer 500 (`SimHandle::connect_fail_next`).
    pub fail_next: AtomicU32,
}

impl ConnectState {
    pub(crate) fn new(products: &[Product], app_apple_id: i64, bundle_id: &str) -> Self {
        Self {
            catalog: Mutex::new(Catalog::build(products, app_apple_id, bundle_id)),
            page_size: Mutex::new(None),
            limiter: Mutex::new(KeyRateLimiter::default()),
            requests: AtomicU64::new(0),
            fail_next: AtomicU32::new(0),
        }
    }

    pub(crate) fn set_rate_limit(&self, per_hour: Option<u64>) {
        super::state::lock(&self.limiter).set_limit(per_hour);
    }

    /// Whether this call is one of the queued failures (and uses it up).
    pub(crate) fn take_failure(&self) -> bool {
        self.fail_next
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok()
    }
}

/// A GET resource; any other method on it gets App Store Connect's 405.
fn get<F, Args>(path: &str, handler: F) -> Resource
where
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    web::resource(path)
        .route(web::get().to(handler))
        .default_service(web::to(handlers::method_not_allowed))
}

/// Mounted under [`SCOPE`]; unknown paths go to [`unknown_path`].
pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(get("/v1/apps", handlers::list_apps))
        .service(get("/v1/apps/{id}", handlers::get_app))
        .service(get(
            "/v1/apps/{id}/inAppPurchasesV2",
            handlers::app_in_app_purchases,
        ))
        .service(get(
            "/v1/apps/{id}/subscriptionGroups",
            handlers::app_subscription_groups,
        ))
        .service(get(
            "/v1/apps/{id}/subscriptionGracePeriod",
            handlers::app_grace_period,
        ))
        .service(get("/v1/subscriptionGroups/{id}", handlers::get_group))
        .service(get(
            "/v1/subscriptionGroups/{id}/subscriptions",
            handlers::group_subscriptions,
        ))
        .service(get("/v1/subscriptions/{id}", handlers::get_subscription))
        .service(get(
            "/v1/subscriptions/{id}/prices",
            handlers::subscription_prices,
        ))
        .service(get(
            "/v1/subscriptions/{id}/promotionalOffers",
            handlers::subscription_promotional_offers,
        ))
        .service(get(
            "/v2/inAppPurchases/{id}",
            handlers::get_in_app_purchase,
        ))
        .service(get(
            "/v2/inAppPurchases/{id}/iapPriceSchedule",
            handlers::in_app_purchase_price_schedule,
        ))
        .service(get(
            "/v1/inAppPurchasePriceSchedules/{id}/manualPrices",
            handlers::in_app_purchase_manual_prices,
        ))
        .service(get(
            "/v1/inAppPurchasePriceSchedules/{id}/automaticPrices",
            handlers::in_app_purchase_automatic_prices,
        ));
}
