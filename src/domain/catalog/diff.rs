//! What changed between the catalog storedesk held and the one App Store Connect just described, as sentences a
//! person reads on the catalog page. Prices are summed up per product (a price change in 175 storefronts is one
//! line, not 175).
use std::collections::BTreeMap;

use super::{Catalog, GracePeriod, Product};

/// One change; `product_id` is set when it concerns one product (so a product's page could list its own).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub product_id: Option<String>,
    pub sentence: String,
}

impl Change {
    fn of(product_id: &str, sentence: String) -> Self {
        Self {
            product_id: Some(product_id.to_owned()),
            sentence,
        }
    }

    fn general(sentence: String) -> Self {
        Self {
            product_id: None,
            sentence,
        }
    }
}

/// How many storefronts a price line names before it says "and N more".
const PRICES_NAMED: usize = 3;

/// The changes from `old` to `new`, in a stable order: groups, products (by product id), then the grace period.
/// Both catalogs must be normalized.
pub fn changes(old: &Catalog, new: &Catalog) -> Vec<Change> {
    let mut out = Vec::new();
    let old_groups: BTreeMap<&str, &str> = old
        .groups
        .iter()
        .map(|g| (g.group_id.as_str(), g.reference_name.as_str()))
        .collect();
    let new_groups: BTreeMap<&str, &str> = new
        .groups
        .iter()
        .map(|g| (g.group_id.as_str(), g.reference_name.as_str()))
        .collect();
    for (id, name) in &new_groups {
        match old_groups.get(id) {
            None => out.push(Change::general(format!(
                "New subscription group “{name}” ({id})."
            ))),
            Some(was) if was != name => out.push(Change::general(format!(
                "Subscription group {id} renamed from “{was}” to “{name}”."
            ))),
            Some(_) => {}
        }
    }
    for (id, name) in &old_groups {
        if !new_groups.contains_key(id) {
            out.push(Change::general(format!(
                "Subscription group “{name}” ({id}) is no longer in App Store Connect."
            )));
        }
    }

    let old_products: BTreeMap<&str, &Product> = old
        .products
        .iter()
        .map(|p| (p.product_id.as_str(), p))
        .collect();
    let new_products: BTreeMap<&str, &Product> = new
        .products
        .iter()
        .map(|p| (p.product_id.as_str(), p))
        .collect();
    let mut ids: Vec<&str> = old_products
        .keys()
        .chain(new_products.keys())
        .copied()
        .collect();
    ids.sort_unstable();
    ids.dedup();
    for id in ids {
        match (old_products.get(id), new_products.get(id)) {
            (None, Some(p)) => out.push(Change::of(
                id,
                format!(
                    "New {}: “{}” ({id}).",
                    p.kind.label().to_lowercase(),
                    p.name
                ),
            )),
            (Some(p), None) => out.push(Change::of(
                id,
                format!("“{}” ({id}) is no longer in App Store Connect.", p.name),
            )),
            (Some(was), Some(now)) => product_changes(was, now, &mut out),
            (None, None) => {}
        }
    }

    if old.grace_period != new.grace_period {
        out.push(Change::general(match &new.grace_period {
            Some(g) => format!(
                "Billing grace period is now: {} (was: {}).",
                g.describe(),
                describe_grace(old.grace_period.as_ref())
            ),
            None => {
                "App Store Connect no longer reports a billing grace period setting.".to_owned()
            }
        }));
    }
    out
}

fn describe_grace(grace: Option<&GracePeriod>) -> String {
    grace.map_or_else(|| "not known".to_owned(), GracePeriod::describe)
}

fn product_changes(was: &Product, now: &Product, out: &mut Vec<Change>) {
    let id = now.product_id.as_str();
    if was.name != now.name {
        out.push(Change::of(
            id,
            format!("{id} renamed from “{}” to “{}”.", was.name, now.name),
        ));
    }
    let name = &now.name;
    if was.state != now.state {
        out.push(Change::of(
            id,
            format!(
                "“{name}” is now {} (was {}).",
                super::state_label(&now.state).to_lowercase(),
                super::state_label(&was.state).to_lowercase()
            ),
        ));
    }
    if was.kind != now.kind {
        out.push(Change::of(
            id,
            format!(
                "“{name}” is now a {} (was a {}).",
                now.kind.label().to_lowercase(),
                was.kind.label().to_lowercase()
            ),
        ));
    }
    if was.group_id != now.group_id || was.group_level != now.group_level {
        out.push(Change::of(
            id,
            format!(
                "“{name}” moved to group {} at level {} (was group {} at level {}).",
                now.group_id.as_deref().unwrap_or("none"),
                level(now.group_level),
                was.group_id.as_deref().unwrap_or("none"),
                level(was.group_level)
            ),
        ));
    }
    if was.period != now.period {
        out.push(Change::of(
            id,
            format!(
                "“{name}” now renews every {} (was {}).",
                now.period
                    .as_deref()
                    .map_or("—".into(), super::period_label),
                was.period
                    .as_deref()
                    .map_or("—".into(), super::period_label)
            ),
        ));
    }
    if let Some(sentence) = price_changes(was, now) {
        out.push(Change::of(id, sentence));
    }
    let old_offers: BTreeMap<&str, &str> = was
        .offers
        .iter()
        .map(|o| (o.code.as_str(), o.name.as_str()))
        .collect();
    for offer in &now.offers {
        match was.offers.iter().find(|o| o.code == offer.code) {
            None => out.push(Change::of(
                id,
                format!(
                    "New promotional offer for “{name}”: “{}” ({}).",
                    offer.name, offer.code
                ),
            )),
            Some(before) if before != offer => out.push(Change::of(
                id,
                format!("Promotional offer {} of “{name}” changed.", offer.code),
            )),
            Some(_) => {}
        }
    }
    for (code, offer_name) in old_offers {
        if !now.offers.iter().any(|o| o.code == code) {
            out.push(Change::of(
                id,
                format!(
                    "Promotional offer “{offer_name}” ({code}) of “{name}” is no longer in App Store Connect."
                ),
            ));
        }
    }
}

fn level(level: Option<i64>) -> String {
    level.map_or_else(|| "—".to_owned(), |l| l.to_string())
}

/// "Prices of “Pro Monthly” changed in 2 storefronts: USA 9.99 → 10.99 USD, JPN 1500 → 1600 JPY."
fn price_changes(was: &Product, now: &Product) -> Option<String> {
    let old: BTreeMap<&str, (&str, &str)> = was
        .prices
        .iter()
        .map(|p| {
            (
                p.territory.as_str(),
                (p.customer_price.as_str(), p.currency.as_str()),
            )
        })
        .collect();
    let mut lines = Vec::new();
    let mut count = 0usize;
    for p in &now.prices {
        let line = match old.get(p.territory.as_str()) {
            Some((price, _)) if *price == p.customer_price => continue,
            Some((price, _)) => format!(
                "{} {price} → {} {}",
                p.territory, p.customer_price, p.currency
            ),
            None => format!("{} new at {} {}", p.territory, p.customer_price, p.currency),
        };
        count += 1;
        if lines.len() < PRICES_NAMED {
            lines.push(line);
        }
    }
    for territory in old.keys() {
        if !now.prices.iter().any(|p| p.territory == *territory) {
            count += 1;
            if lines.len() < PRICES_NAMED {
                lines.push(format!("{territory} no longer priced"));
            }
        }
    }
    if count == 0 {
        return None;
    }
    let more = count.saturating_sub(lines.len());
    let tail = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    Some(format!(
        "Prices of “{}” changed in {count} storefront{}: {}{tail}.",
        now.name,
        if count == 1 { "" } else { "s" },
        lines.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::catalog::{Group, Price, ProductKind, PromoOffer};

    fn product(id: &str, name: &str) -> Product {
        Product {
            product_id: id.into(),
            connect_id: "1".into(),
            name: name.into(),
            kind: ProductKind::AutoRenewable,
            state: "APPROVED".into(),
            group_id: Some("1".into()),
            group_level: Some(1),
            period: Some("ONE_MONTH".into()),
            prices: vec![Price {
                territory: "USA".into(),
                currency: "USD".into(),
                customer_price: "9.99".into(),
                proceeds: "6.99".into(),
            }],
            offers: vec![PromoOffer {
                code: "winback".into(),
                name: "Win-back".into(),
                mode: "FREE_TRIAL".into(),
                duration: "ONE_MONTH".into(),
                periods: 1,
            }],
        }
    }

    fn catalog(products: Vec<Product>) -> Catalog {
        let mut c = Catalog {
            groups: vec![Group {
                group_id: "1".into(),
                reference_name: "Pro".into(),
            }],
            products,
            grace_period: None,
        };
        c.normalize();
        c
    }

    #[test]
    fn the_same_catalog_has_no_changes() {
        let c = catalog(vec![product("a", "A"), product("b", "B")]);
        assert!(changes(&c, &c.clone()).is_empty());
    }

    #[test]
    fn renames_states_additions_and_removals_are_each_one_sentence() {
        let old = catalog(vec![product("a", "A"), product("b", "B")]);
        let mut renamed = product("a", "A plus");
        renamed.state = "REMOVED_FROM_SALE".into();
        let new = catalog(vec![renamed, product("c", "C")]);
        let sentences: Vec<String> = changes(&old, &new)
            .into_iter()
            .map(|c| c.sentence)
            .collect();
        assert_eq!(
            sentences,
            vec![
                "a renamed from “A” to “A plus”.",
                "“A plus” is now removed from sale (was approved).",
                "“B” (b) is no longer in App Store Connect.",
                "New auto-renewable subscription: “C” (c).",
            ]
        );
    }

    #[test]
    fn price_changes_are_summed_up_per_product() {
        let old = catalog(vec![product("a", "A")]);
        let mut p = product("a", "A");
        p.prices[0].customer_price = "10.99".into();
        for t in ["CAN", "DEU", "FRA", "GBR"] {
            p.prices.push(Price {
                territory: t.into(),
                currency: "EUR".into(),
                customer_price: "1".into(),
                proceeds: "1".into(),
            });
        }
        let new = catalog(vec![p]);
        let all = changes(&old, &new);
        assert_eq!(all.len(), 1);
        assert_eq!(
            all[0].sentence,
            "Prices of “A” changed in 5 storefronts: CAN new at 1 EUR, DEU new at 1 EUR, FRA new at 1 EUR and 2 more."
        );
        assert_eq!(all[0].product_id.as_deref(), Some("a"));
    }

    #[test]
    fn groups_offers_and_grace_period_are_reported() {
        let old = catalog(vec![product("a", "A")]);
        let mut new = old.clone();
        new.groups[0].reference_name = "Pro plan".into();
        new.products[0].offers.clear();
        new.grace_period = Some(GracePeriod {
            opt_in: true,
            sandbox_opt_in: false,
            duration: "SIXTEEN_DAYS".into(),
            renewal_type: "ALL_RENEWALS".into(),
        });
        let sentences: Vec<String> = changes(&old, &new)
            .into_iter()
            .map(|c| c.sentence)
            .collect();
        assert_eq!(
            sentences,
            vec![
                "Subscription group 1 renamed from “Pro” to “Pro plan”.",
                "Promotional offer “Win-back” (winback) of “A” is no longer in App Store Connect.",
                "Billing grace period is now: On for 16 days, all renewals (Sandbox: off) (was: not known).",
            ]
        );
    }
}
