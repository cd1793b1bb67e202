//! The catalog as JSON:API resource objects (`type`, `id`, `attributes`, `relationships`, `links.self`), with
//! the attribute names and resource types App Store Connect uses. `base` is `http://HOST/connect`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};

use super::catalog::{format_decimal, share, App, Group, Item, ItemKind, Price, PromoOffer};

/// Proceeds: 70 % of the customer price, 85 % from a subscriber's second year of paid service.
const PROCEEDS_PERCENT: i64 = 70;
const PROCEEDS_YEAR2_PERCENT: i64 = 85;

fn self_link(base: &str, path: &str) -> Value {
    json!({ "self": format!("{base}{path}") })
}

/// A to-many relationship is only linked (no `data`), as App Store Connect answers without `include`.
fn linked(base: &str, owner: &str, name: &str) -> Value {
    json!({
        "links": {
            "self": format!("{base}{owner}/relationships/{name}"),
            "related": format!("{base}{owner}/{name}"),
        }
    })
}

fn to_one(kind: &str, id: &str) -> Value {
    json!({ "data": { "type": kind, "id": id } })
}

/// Price and price point ids are opaque at Apple (base64 of a small JSON); ours change with the price, as a
/// new price point would.
fn opaque_id(parts: &Value) -> String {
    URL_SAFE_NO_PAD.encode(parts.to_string())
}

pub(crate) fn app(base: &str, app: &App) -> Value {
    let path = format!("/v1/apps/{}", app.id);
    json!({
        "type": "apps",
        "id": app.id,
        "attributes": {
            "name": app.name,
            "bundleId": app.bundle_id,
            "sku": app.sku,
            "primaryLocale": app.primary_locale,
        },
        "relationships": {
            "inAppPurchasesV2": linked(base, &path, "inAppPurchasesV2"),
            "subscriptionGroups": linked(base, &path, "subscriptionGroups"),
            "subscriptionGracePeriod": linked(base, &path, "subscriptionGracePeriod"),
        },
        "links": self_link(base, &path),
    })
}

pub(crate) fn grace_period(base: &str, app: &App) -> Value {
    let g = &app.grace_period;
    json!({
        "type": "subscriptionGracePeriods",
        "id": app.id,
        "attributes": {
            "optIn": g.opt_in,
            "sandboxOptIn": g.sandbox_opt_in,
            "duration": g.duration,
            "renewalType": g.renewal_type,
        },
        "links": self_link(base, &format!("/v1/subscriptionGracePeriods/{}", app.id)),
    })
}

pub(crate) fn group(base: &str, group: &Group) -> Value {
    let path = format!("/v1/subscriptionGroups/{}", group.id);
    json!({
        "type": "subscriptionGroups",
        "id": group.id,
        "attributes": { "referenceName": group.reference_name },
        "relationships": { "subscriptions": linked(base, &path, "subscriptions") },
        "links": self_link(base, &path),
    })
}

/// A subscription (`subscriptions`) or an in-app purchase (`inAppPurchases`, the V2 resource).
pub(crate) fn item(base: &str, item: &Item) -> Value {
    match &item.kind {
        ItemKind::Subscription {
            period,
            group_level,
            ..
        } => {
            let path = format!("/v1/subscriptions/{}", item.id);
            json!({
                "type": "subscriptions",
                "id": item.id,
                "attributes": {
                    "name": item.name,
                    "productId": item.product_id,
                    "familySharable": false,
                    "state": item.state,
                    "subscriptionPeriod": period,
                    "reviewNote": null,
                    "groupLevel": group_level,
                },
                "relationships": {
                    "prices": linked(base, &path, "prices"),
                    "promotionalOffers": linked(base, &path, "promotionalOffers"),
                },
                "links": self_link(base, &path),
            })
        }
        ItemKind::InAppPurchase { iap_type } => {
            let path = format!("/v2/inAppPurchases/{}", item.id);
            json!({
                "type": "inAppPurchases",
                "id": item.id,
                "attributes": {
                    "name": item.name,
                    "productId": item.product_id,
                    "inAppPurchaseType": iap_type,
                    "state": item.state,
                    "reviewNote": null,
                    "familySharable": false,
                },
                "relationships": {
                    "iapPriceSchedule": linked(base, &path, "iapPriceSchedule"),
                },
                "links": self_link(base, &path),
            })
        }
    }
}

/// An in-app purchase's price schedule: its id is the in-app purchase's.
pub(crate) fn price_schedule(base: &str, item: &Item) -> Value {
    let path = format!("/v1/inAppPurchasePriceSchedules/{}", item.id);
    json!({
        "type": "inAppPurchasePriceSchedules",
        "id": item.id,
        "relationships": { "manualPrices": linked(base, &path, "manualPrices") },
        "links": self_link(base, &path),
    })
}

pub(crate) fn territory(base: &str, price: &Price) -> Value {
    json!({
        "type": "territories",
        "id": price.territory,
        "attributes": { "currency": price.currency },
        "links": self_link(base, &format!("/v1/territories/{}", price.territory)),
    })
}

fn point_id(item: &Item, price: &Price) -> String {
    opaque_id(&json!({ "s": item.id, "t": price.territory, "p": price.milli.to_string() }))
}

fn price_id(item: &Item, price: &Price) -> String {
    opaque_id(&json!({ "s": item.id, "t": price.territory, "p": price.milli.to_string(), "sd": 0 }))
}

pub(crate) fn subscription_price(base: &str, item: &Item, price: &Price) -> Value {
    let id = price_id(item, price);
    json!({
        "type": "subscriptionPrices",
        "id": id,
        "attributes": { "startDate": null, "preserved": false },
        "relationships": {
            "subscriptionPricePoint": to_one("subscriptionPricePoints", &point_id(item, price)),
            "territory": to_one("territories", price.territory),
        },
        "links": self_link(base, &format!("/v1/subscriptionPrices/{id}")),
    })
}

pub(crate) fn subscription_price_point(base: &str, item: &Item, price: &Price) -> Value {
    let id = point_id(item, price);
    json!({
        "type": "subscriptionPricePoints",
        "id": id,
        "attributes": {
            "customerPrice": format_decimal(price.milli, price.currency),
            "proceeds": format_decimal(share(price.milli, PROCEEDS_PERCENT), price.currency),
            "proceedsYear2": format_decimal(share(price.milli, PROCEEDS_YEAR2_PERCENT), price.currency),
        },
        "links": self_link(base, &format!("/v1/subscriptionPricePoints/{id}")),
    })
}

pub(crate) fn iap_price(base: &str, item: &Item, price: &Price) -> Value {
    let id = price_id(item, price);
    json!({
        "type": "inAppPurchasePrices",
        "id": id,
        "attributes": { "startDate": null, "endDate": null },
        "relationships": {
            "inAppPurchasePricePoint": to_one("inAppPurchasePricePoints", &point_id(item, price)),
            "territory": to_one("territories", price.territory),
        },
        "links": self_link(base, &format!("/v1/inAppPurchasePrices/{id}")),
    })
}

pub(crate) fn iap_price_point(base: &str, item: &Item, price: &Price) -> Value {
    let id = point_id(item, price);
    json!({
        "type": "inAppPurchasePricePoints",
        "id": id,
        "attributes": {
            "customerPrice": format_decimal(price.milli, price.currency),
            "proceeds": format_decimal(share(price.milli, PROCEEDS_PERCENT), price.currency),
        },
        "links": self_link(base, &format!("/v1/inAppPurchasePricePoints/{id}")),
    })
}

pub(crate) fn promotional_offer(base: &str, offer: &PromoOffer) -> Value {
    json!({
        "type": "subscriptionPromotionalOffers",
        "id": offer.id,
        "attributes": {
            "name": offer.name,
            "offerCode": offer.offer_code,
            "duration": offer.duration,
            "offerMode": offer.offer_mode,
            "numberOfPeriods": offer.number_of_periods,
        },
        "links": self_link(base, &format!("/v1/subscriptionPromotionalOffers/{}", offer.id)),
    })
}
