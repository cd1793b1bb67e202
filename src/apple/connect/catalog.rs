//! Reading one app's whole catalog: in-app purchases and their prices, subscription groups, their subscriptions
//! with prices and promotional offers, and the app's billing grace period. One request at a time (Apple counts
//! every request against the key's hour), every collection to its last page.
use std::collections::HashMap;

use super::document::Resource;
use super::{ConnectApp, ConnectError, ConnectSession};
use crate::domain::catalog::{
    Catalog, GracePeriod, Group, Price, Product, ProductKind, PromoOffer,
};

/// Apple's largest page: fewer requests for the same catalog.
pub const CATALOG_PAGE_LIMIT: u32 = 200;

impl ConnectSession {
    /// The app and its catalog as App Store Connect has them now.
    pub async fn catalog(
        &mut self,
        app_apple_id: &str,
    ) -> Result<(ConnectApp, Catalog), ConnectError> {
        let app = self.app(app_apple_id).await?;
        let limit = ("limit", CATALOG_PAGE_LIMIT.to_string());
        let mut catalog = Catalog::default();

        let url = self.url(
            &["v1", "apps", app_apple_id, "inAppPurchasesV2"],
            std::slice::from_ref(&limit),
        )?;
        for iap in self.collection(url).await?.0 {
            let Some(kind) = ProductKind::parse(&iap.text("inAppPurchaseType")) else {
                tracing::info!(kind = %iap.text("inAppPurchaseType"), "App Store Connect named a product type storedesk does not know; kept as non-consumable");
                catalog
                    .products
                    .push(product(&iap, ProductKind::NonConsumable, None, Vec::new()));
                continue;
            };
            let prices = self.in_app_purchase_prices(&iap.id).await?;
            catalog.products.push(product(&iap, kind, None, prices));
        }

        let url = self.url(
            &["v1", "apps", app_apple_id, "subscriptionGroups"],
            std::slice::from_ref(&limit),
        )?;
        for group in self.collection(url).await?.0 {
            catalog.groups.push(Group {
                group_id: group.id.clone(),
                reference_name: group.text("referenceName"),
            });
            let url = self.url(
                &["v1", "subscriptionGroups", &group.id, "subscriptions"],
                std::slice::from_ref(&limit),
            )?;
            for sub in self.collection(url).await?.0 {
                let url = self.url(
                    &["v1", "subscriptions", &sub.id, "prices"],
                    &[
                        limit.clone(),
                        ("include", "subscriptionPricePoint,territory".into()),
                    ],
                )?;
                let (data, included) = self.collection(url).await?;
                let prices = current_prices(&data, &included, "subscriptionPricePoint");
                let mut p = product(&sub, ProductKind::AutoRenewable, Some(&group.id), prices);
                let url = self.url(
                    &["v1", "subscriptions", &sub.id, "promotionalOffers"],
                    std::slice::from_ref(&limit),
                )?;
                p.offers = self
                    .collection(url)
                    .await?
                    .0
                    .iter()
                    .map(|o| PromoOffer {
                        code: o.text("offerCode"),
                        name: o.text("name"),
                        mode: o.text("offerMode"),
                        duration: o.text("duration"),
                        periods: o.int("numberOfPeriods").unwrap_or(1),
                    })
                    .collect();
                catalog.products.push(p);
            }
        }

        let url = self.url(
            &["v1", "apps", app_apple_id, "subscriptionGracePeriod"],
            &[],
        )?;
        catalog.grace_period = match self.get(url).await {
            Ok(doc) => {
                let g = doc.single()?;
                Some(GracePeriod {
                    opt_in: g.flag("optIn").unwrap_or(false),
                    sandbox_opt_in: g.flag("sandboxOptIn").unwrap_or(false),
                    duration: g.text("duration"),
                    renewal_type: g.text("renewalType"),
                })
            }
            // An app that never set one (or has no subscriptions) has none to read.
            Err(ConnectError::NotFound { .. }) => None,
            Err(e) => return Err(e),
        };
        catalog.normalize();
        Ok((app, catalog))
    }

    /// An in-app purchase's prices: the ones set by hand, then the ones App Store Connect derives for the other
    /// storefronts (a storefront set by hand keeps its own).
    async fn in_app_purchase_prices(&mut self, iap_id: &str) -> Result<Vec<Price>, ConnectError> {
        let mut prices = Vec::new();
        for which in ["manualPrices", "automaticPrices"] {
            let url = self.url(
                &["v1", "inAppPurchasePriceSchedules", iap_id, which],
                &[
                    ("limit", CATALOG_PAGE_LIMIT.to_string()),
                    ("include", "inAppPurchasePricePoint,territory".into()),
                ],
            )?;
            let (data, included) = match self.collection(url).await {
                Ok(found) => found,
                // A schedule without derived prices answers 404 for them.
                Err(ConnectError::NotFound { .. }) if which == "automaticPrices" => continue,
                Err(e) => return Err(e),
            };
            for price in current_prices(&data, &included, "inAppPurchasePricePoint") {
                if !prices
                    .iter()
                    .any(|p: &Price| p.territory == price.territory)
                {
                    prices.push(price);
                }
            }
        }
        Ok(prices)
    }
}

fn product(r: &Resource, kind: ProductKind, group: Option<&str>, prices: Vec<Price>) -> Product {
    Product {
        product_id: r.text("productId"),
        connect_id: r.id.clone(),
        name: r.text("name"),
        kind,
        state: r.text("state"),
        group_id: group.map(str::to_owned),
        group_level: if group.is_some() {
            r.int("groupLevel")
        } else {
            None
        },
        period: r.opt_text("subscriptionPeriod"),
        prices,
        offers: Vec::new(),
    }
}

/// The price in effect today in each territory: of the entries that have started (no `startDate`, or one not
/// after today) and not ended, the one that started last. Scheduled future prices are left out.
fn current_prices(data: &[Resource], included: &[Resource], point_relation: &str) -> Vec<Price> {
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let by_id: HashMap<(&str, &str), &Resource> = included
        .iter()
        .map(|r| ((r.kind.as_str(), r.id.as_str()), r))
        .collect();
    let point_type = format!("{point_relation}s");
    let mut chosen: HashMap<String, (String, Price)> = HashMap::new();
    for entry in data {
        let start = entry.opt_text("startDate").unwrap_or_default();
        if !start.is_empty() && start > today {
            continue;
        }
        if entry.opt_text("endDate").is_some_and(|end| end <= today) {
            continue;
        }
        let Some(territory) = entry.related("territory") else {
            continue;
        };
        let Some(point) = entry
            .related(point_relation)
            .and_then(|id| by_id.get(&(point_type.as_str(), id)))
        else {
            continue;
        };
        let currency = by_id
            .get(&("territories", territory))
            .map(|t| t.text("currency"))
            .unwrap_or_default();
        let price = Price {
            territory: territory.to_owned(),
            currency,
            customer_price: point.text("customerPrice"),
            proceeds: point.text("proceeds"),
        };
        match chosen.get(territory) {
            Some((earlier, _)) if *earlier > start => {}
            _ => {
                chosen.insert(territory.to_owned(), (start, price));
            }
        }
    }
    let mut prices: Vec<Price> = chosen.into_values().map(|(_, p)| p).collect();
    prices.sort_by(|a, b| a.territory.cmp(&b.territory));
    prices
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resources(json: &str) -> Vec<Resource> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn the_price_in_effect_today_is_chosen_per_territory() {
        let data = resources(
            r#"[
            {"type":"subscriptionPrices","id":"a","attributes":{"startDate":null},
             "relationships":{"territory":{"data":{"type":"territories","id":"USA"}},
                              "subscriptionPricePoint":{"data":{"type":"subscriptionPricePoints","id":"p1"}}}},
            {"type":"subscriptionPrices","id":"b","attributes":{"startDate":"2020-01-01"},
             "relationships":{"territory":{"data":{"type":"territories","id":"USA"}},
                              "subscriptionPricePoint":{"data":{"type":"subscriptionPricePoints","id":"p2"}}}},
            {"type":"subscriptionPrices","id":"c","attributes":{"startDate":"2999-01-01"},
             "relationships":{"territory":{"data":{"type":"territories","id":"USA"}},
                              "subscriptionPricePoint":{"data":{"type":"subscriptionPricePoints","id":"p3"}}}}
        ]"#,
        );
        let included = resources(
            r#"[
            {"type":"subscriptionPricePoints","id":"p1","attributes":{"customerPrice":"8.99","proceeds":"6.29"}},
            {"type":"subscriptionPricePoints","id":"p2","attributes":{"customerPrice":"9.99","proceeds":"6.99"}},
            {"type":"subscriptionPricePoints","id":"p3","attributes":{"customerPrice":"12.99","proceeds":"9.09"}},
            {"type":"territories","id":"USA","attributes":{"currency":"USD"}}
        ]"#,
        );
        let prices = current_prices(&data, &included, "subscriptionPricePoint");
        assert_eq!(
            prices,
            vec![Price {
                territory: "USA".into(),
                currency: "USD".into(),
                customer_price: "9.99".into(),
                proceeds: "6.99".into()
            }]
        );
    }
}
