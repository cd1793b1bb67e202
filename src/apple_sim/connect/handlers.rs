//! The App Store Connect API handlers. Each goes through `answer`, which does what App Store Connect does before
//! looking at the request: count it, authenticate the token as a Connect key's, spend the key's hourly budget,
//! apply a queued failure and the key's role; every answer after authentication carries `X-Rate-Limit`.

use std::sync::atomic::Ordering;

use actix_web::http::header::{AUTHORIZATION, CONTENT_TYPE};
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::Value;

use super::catalog::{App, Catalog, Item, ItemKind, Price};
use super::errors::ConnectError;
use super::paging::{self, Target};
use super::params::{Params, Spec, SINGLE};
use super::resources;
use crate::apple_sim::auth::ConnectCaller;
use crate::apple_sim::state::{lock, now_ms, SimState};

/// What the key's role must allow: listing apps is open to every role, the catalog only to Admin and App
/// Manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reads {
    Apps,
    Catalog,
}

/// A call that passed the gate.
struct Call<'a> {
    caller: ConnectCaller,
    target: Target<'a>,
    /// `http://HOST/connect`, the prefix of every link.
    base: String,
    page_cap: Option<usize>,
}

fn answer(
    req: &HttpRequest,
    st: &SimState,
    reads: Reads,
    work: impl FnOnce(&Call<'_>, &Catalog) -> Result<Value, ConnectError>,
) -> HttpResponse {
    let connect = &st.connect;
    connect.requests.fetch_add(1, Ordering::Relaxed);
    let now = now_ms();
    let authorization = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let verdict = lock(&st.keys).authenticate_connect(authorization, now.div_euclid(1000));
    let caller = match verdict {
        Ok(caller) => caller,
        Err(reason) => {
            tracing::debug!(%reason, path = req.path(), "apple-sim Connect API answers 401");
            return ConnectError::NotAuthorized.response(None);
        }
    };
    let rate = match lock(&connect.limiter).check(&caller.key_id, now) {
        Ok(rate) => rate,
        Err(rate) => return ConnectError::RateLimited.response(Some(rate)),
    };
    if connect.take_failure() {
        return ConnectError::Unexpected.response(Some(rate));
    }
    if reads == Reads::Catalog && !caller.role.reads_catalog() {
        return ConnectError::Forbidden.response(Some(rate));
    }

    let origin = {
        let info = req.connection_info();
        format!("{}://{}", info.scheme(), info.host())
    };
    let call = Call {
        caller,
        target: Target {
            origin: &origin,
            path: req.path(),
            query: req.query_string(),
        },
        base: format!("{origin}{}", super::SCOPE),
        page_cap: *lock(&connect.page_size),
    };
    let result = work(&call, &lock(&connect.catalog));
    match result {
        Ok(body) => HttpResponse::Ok()
            .insert_header((CONTENT_TYPE, "application/json"))
            .insert_header(("X-Rate-Limit", rate.value()))
            .body(body.to_string()),
        Err(e) => e.response(Some(rate)),
    }
}

/// An app of the team the key may see: 404 when the team has none with this id, 403 when the key is limited to
/// other apps.
fn visible_app<'c>(
    call: &Call<'_>,
    catalog: &'c Catalog,
    id: &str,
) -> Result<&'c App, ConnectError> {
    let app = catalog.app(id).ok_or_else(|| ConnectError::NotFound {
        kind: "apps",
        id: id.to_owned(),
    })?;
    if call.caller.may_see(&app.id) {
        Ok(app)
    } else {
        Err(ConnectError::Forbidden)
    }
}

/// A subscription (or, with `subscription` false, an in-app purchase) of an app the key may see.
fn visible_item<'c>(
    call: &Call<'_>,
    catalog: &'c Catalog,
    id: &str,
    subscription: bool,
    kind: &'static str,
) -> Result<&'c Item, ConnectError> {
    let item = catalog
        .item(id)
        .filter(|i| i.is_subscription() == subscription)
        .ok_or_else(|| ConnectError::NotFound {
            kind,
            id: id.to_owned(),
        })?;
    visible_app(call, catalog, &item.app_id)?;
    Ok(item)
}

fn price_of<'i>(item: &'i Item, resource: &Value) -> Option<&'i Price> {
    let territory = resource
        .get("relationships")
        .and_then(|r| r.get("territory"))
        .and_then(|t| t.get("data"))
        .and_then(|d| d.get("id"))
        .and_then(Value::as_str)?;
    item.prices.iter().find(|p| p.territory == territory)
}

const APPS: Spec = Spec {
    collection: true,
    filters: &["bundleId", "name", "sku", "id"],
    includes: &[],
};

pub(crate) async fn list_apps(req: HttpRequest, st: web::Data<SimState>) -> HttpResponse {
    answer(&req, &st, Reads::Apps, |call, catalog| {
        let params = Params::parse(call.target.query, &APPS)?;
        let apps = catalog
            .apps
            .iter()
            .filter(|a| call.caller.may_see(&a.id))
            .map(|a| resources::app(&call.base, a))
            .collect();
        paging::collection(&call.target, &params, call.page_cap, apps, |_| Vec::new())
    })
}

pub(crate) async fn get_app(
    req: HttpRequest,
    st: web::Data<SimState>,
    path: web::Path<String>,
) -> HttpResponse {
    answer(&req, &st, Reads::Apps, |call, catalog| {
        let params = Params::parse(call.target.query, &SINGLE)?;
        let app = visible_app(call, catalog, &path)?;
        Ok(paging::single(
            &call.target,
            &params,
            resources::app(&call.base, app),
        ))
    })
}

const IN_APP_PURCHASES: Spec = Spec {
    collection: true,
    filters: &["productId", "name", "inAppPurchaseType", "state"],
    includes: &[],
};

pub(crate) async fn app_in_app_purchases(
    req: HttpRequest,
    st: web::Data<SimState>,
    path: web::Path<String>,
) -> HttpResponse {
    answer(&req, &st, Reads::Catalog, |call, catalog| {
        let params = Params::parse(call.target.query, &IN_APP_PURCHASES)?;
        let app = visible_app(call, catalog, &path)?;
        let items = catalog
            .items
            .iter()
            .filter(|i| i.app_id == app.id && !i.is_subscription())
            .map(|i| resources::item(&call.base, i))
            .collect();
        paging::collection(&call.target, &params, call.page_cap, items, |_| Vec::new())
    })
}

const GROUPS: Spec = Spec {
    collection: true,
    filters: &["referenceName"],
    includes: &[],
};

pub(crate) async fn app_subscription_groups(
    req: HttpRequest,
    st: web::Data<SimState>,
    path: web::Path<String>,
) -> HttpResponse {
    answer(&req, &st, Reads::Catalog, |call, catalog| {
        let params = Params::parse(call.target.query, &GROUPS)?;
        let app = visible_app(call, catalog, &path)?;
        let groups = catalog
            .groups
            .iter()
            .filter(|g| g.app_id == app.id)
            .map(|g| resources::group(&call.base, g))
            .collect();
        paging::collection(&call.target, &params, call.page_cap, groups, |_| Vec::new())
    })
}

pub(crate) async fn app_grace_period(
    req: HttpRequest,
    st: web::Data<SimState>,
    path: web::Path<String>,
) -> HttpResponse {
    answer(&req, &st, Reads::Catalog, |call, catalog| {
        let params = Params::parse(call.target.query, &SINGLE)?;
        let app = visible_app(call, catalog, &path)?;
        Ok(paging::single(
            &call.target,
            &params,
            resources::grace_period(&call.base, app),
        ))
    })
}

pub(crate) async fn get_group(
    req: HttpRequest,
    st: web::Data<SimState>,
    path: web::Path<String>,
) -> HttpResponse {
    answer(&req, &st, Reads::Catalog, |call, catalog| {
        let params = Params::parse(call.target.query, &SINGLE)?;
        let group = catalog.group(&path).ok_or_else(|| ConnectError::NotFound {
            kind: "subscriptionGroups",
            id: path.to_string(),
        })?;
        visible_app(call, catalog, &group.app_id)?;
        Ok(paging::single(
            &call.target,
            &params,
            resources::group(&call.base, group),
        ))
    })
}

const SUBSCRIPTIONS: Spec = Spec {
    collection: true,
    filters: &["productId", "name", "state"],
    includes: &[],
};

pub(crate) async fn group_subscriptions(
    req: HttpRequest,
    st: web::Data<SimState>,
    path: web::Path<String>,
) -> HttpResponse {
    answer(&req, &st, Reads::Catalog, |call, catalog| {
        let params = Params::parse(call.target.query, &SUBSCRIPTIONS)?;
        let group = catalog.group(&path).ok_or_else(|| ConnectError::NotFound {
            kind: "subscriptionGroups",
            id: path.to_string(),
        })?;
        visible_app(call, catalog, &group.app_id)?;
        let items = catalog
            .items
            .iter()
            .filter(|i| {
                matches!(&i.kind, ItemKind::Subscription { group_id, .. } if *group_id == group.id)
            })
            .map(|i| resources::item(&call.base, i))
            .collect();
        paging::collection(&call.target, &params, call.page_cap, items, |_| Vec::new())
    })
}

pub(crate) async fn get_subscription(
    req: HttpRequest,
    st: web::Data<SimState>,
    path: web::Path<String>,
) -> HttpResponse {
    single_item(&req, &st, &path, true, "subscriptions")
}

const SUBSCRIPTION_PRICES: Spec = Spec {
    collection: true,
    filters: &["territory", "subscriptionPricePoint"],
    includes: &["subscriptionPricePoint", "territory"],
};

pub(crate) async fn subscription_prices(
    req: HttpRequest,
    st: web::Data<SimState>,
    path: web::Path<String>,
) -> HttpResponse {
    price_list(&req, &st, &path, &SUBSCRIPTION_PRICE_LIST)
}

pub(crate) async fn subscription_promotional_offers(
    req: HttpRequest,
    st: web::Data<SimState>,
    path: web::Path<String>,
) -> HttpResponse {
    const OFFERS: Spec = Spec {
        collection: true,
        filters: &[],
        includes: &[],
    };
    answer(&req, &st, Reads::Catalog, |call, catalog| {
        let params = Params::parse(call.target.query, &OFFERS)?;
        let item = visible_item(call, catalog, &path, true, "subscriptions")?;
        let offers = item
            .offers
            .iter()
            .map(|o| resources::promotional_offer(&call.base, o))
            .collect();
        paging::collection(&call.target, &params, call.page_cap, offers, |_| Vec::new())
    })
}

pub(crate) async fn get_in_app_purchase(
    req: HttpRequest,
    st: web::Data<SimState>,
    path: web::Path<String>,
) -> HttpResponse {
    single_item(&req, &st, &path, false, "inAppPurchases")
}

/// One subscription or in-app purchase by its resource id.
fn single_item(
    req: &HttpRequest,
    st: &SimState,
    id: &str,
    subscription: bool,
    kind: &'static str,
) -> HttpResponse {
    answer(req, st, Reads::Catalog, |call, catalog| {
        let params = Params::parse(call.target.query, &SINGLE)?;
        let item = visible_item(call, catalog, id, subscription, kind)?;
        Ok(paging::single(
            &call.target,
            &params,
            resources::item(&call.base, item),
        ))
    })
}

pub(crate) async fn in_app_purchase_price_schedule(
    req: HttpRequest,
    st: web::Data<SimState>,
    path: web::Path<String>,
) -> HttpResponse {
    answer(&req, &st, Reads::Catalog, |call, catalog| {
        let params = Params::parse(call.target.query, &SINGLE)?;
        let item = visible_item(call, catalog, &path, false, "inAppPurchases")?;
        Ok(paging::single(
            &call.target,
            &params,
            resources::price_schedule(&call.base, item),
        ))
    })
}

const MANUAL_PRICES: Spec = Spec {
    collection: true,
    filters: &["territory"],
    includes: &["inAppPurchasePricePoint", "territory"],
};

pub(crate) async fn in_app_purchase_manual_prices(
    req: HttpRequest,
    st: web::Data<SimState>,
    path: web::Path<String>,
) -> HttpResponse {
    price_list(&req, &st, &path, &MANUAL_PRICE_LIST)
}

/// The prices App Store Connect derives from the base storefront's for the storefronts not set by hand: none here,
/// since the seed sets every storefront it sells in by hand. Served (empty) because Apple serves it.
pub(crate) async fn in_app_purchase_automatic_prices(
    req: HttpRequest,
    st: web::Data<SimState>,
    path: web::Path<String>,
) -> HttpResponse {
    answer(&req, &st, Reads::Catalog, |call, catalog| {
        let params = Params::parse(call.target.query, &MANUAL_PRICES)?;
        visible_item(call, catalog, &path, false, "inAppPurchasePriceSchedules")?;
        paging::collection(&call.target, &params, call.page_cap, Vec::new(), |_| {
            Vec::new()
        })
    })
}

/// What tells a subscription's price list from an in-app purchase's manual prices: the same answer otherwise.
struct PriceList {
    spec: &'static Spec,
    subscription: bool,
    /// The resource type the id in the path names, for its 404.
    kind: &'static str,
    /// The price point's relationship, as `include` names it.
    point: &'static str,
    price: fn(&str, &Item, &Price) -> Value,
    price_point: fn(&str, &Item, &Price) -> Value,
}

const SUBSCRIPTION_PRICE_LIST: PriceList = PriceList {
    spec: &SUBSCRIPTION_PRICES,
    subscription: true,
    kind: "subscriptions",
    point: "subscriptionPricePoint",
    price: resources::subscription_price,
    price_point: resources::subscription_price_point,
};

const MANUAL_PRICE_LIST: PriceList = PriceList {
    spec: &MANUAL_PRICES,
    subscription: false,
    kind: "inAppPurchasePriceSchedules",
    point: "inAppPurchasePricePoint",
    price: resources::iap_price,
    price_point: resources::iap_price_point,
};

fn price_list(req: &HttpRequest, st: &SimState, id: &str, list: &PriceList) -> HttpResponse {
    answer(req, st, Reads::Catalog, |call, catalog| {
        let params = Params::parse(call.target.query, list.spec)?;
        let item = visible_item(call, catalog, id, list.subscription, list.kind)?;
        let prices = item
            .prices
            .iter()
            .map(|p| (list.price)(&call.base, item, p))
            .collect();
        let includes = &params.includes;
        paging::collection(&call.target, &params, call.page_cap, prices, |resource| {
            let Some(price) = price_of(item, resource) else {
                return Vec::new();
            };
            let mut extra = Vec::new();
            if includes.iter().any(|i| i == list.point) {
                extra.push((list.price_point)(&call.base, item, price));
            }
            if includes.iter().any(|i| i == "territory") {
                extra.push(resources::territory(&call.base, price));
            }
            extra
        })
    })
}

/// Anything under `/connect` that is not one of the paths above.
pub(crate) async fn unknown_path(req: HttpRequest, st: web::Data<SimState>) -> HttpResponse {
    answer(&req, &st, Reads::Apps, |_, _| {
        Err(ConnectError::PathNotFound)
    })
}

/// A defined path called with another method than GET: the simulator serves reads only.
pub(crate) async fn method_not_allowed(req: HttpRequest, st: web::Data<SimState>) -> HttpResponse {
    answer(&req, &st, Reads::Apps, |_, _| {
        Err(ConnectError::MethodNotAllowed)
    })
}
