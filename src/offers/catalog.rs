//! The console's offer form held to the project's catalog (synced from App Store Connect with Step 1's key). Once
//! the catalog lists auto-renewable subscriptions, the form's signature must name one of them and one of that
//! subscription's promotional offers: anything else would be refused by StoreKit at purchase, long after the
//! signature was handed out. Without such a catalog nothing is checked, as before catalogs existed. The JSON API
//! is not held to it (see `routes::api::offers`).
use super::{FieldErrors, OfferField};
use crate::domain::catalog::{
    offer_mode_label, period_label, Catalog, Product, ProductKind, PromoOffer,
};

/// Whether the catalog decides which products and offers may be signed: it lists an auto-renewable subscription.
pub fn applies(catalog: &Catalog) -> bool {
    subscriptions(catalog).next().is_some()
}

/// The catalog's auto-renewable subscriptions, the only products with promotional offers.
pub fn subscriptions(catalog: &Catalog) -> impl Iterator<Item = &Product> {
    catalog
        .products
        .iter()
        .filter(|p| p.kind == ProductKind::AutoRenewable)
}

/// What to do when the catalog seems to miss something: it may be older than App Store Connect.
const SYNC_HINT: &str =
    "If it was just created in App Store Connect, sync the catalog on the Catalog page, then sign again.";

/// The sentence for a product id the catalog does not hold.
pub fn unknown_product(product_id: &str) -> String {
    format!(
        "“{product_id}” is not an auto-renewable subscription in this app's catalog from App Store Connect. {SYNC_HINT}"
    )
}

/// The sentence for a product the catalog holds that is no auto-renewable subscription.
pub fn not_a_subscription(product: &Product) -> String {
    format!(
        "{} ({}) is a {}, not an auto-renewable subscription: only auto-renewable subscriptions have promotional offers.",
        product.name,
        product.product_id,
        product.kind.label().to_lowercase()
    )
}

/// The sentence for an offer identifier that is not one of the product's promotional offers.
pub fn unknown_offer(offer_id: &str, product: &Product) -> String {
    format!(
        "“{offer_id}” is not a promotional offer of {} ({}) in this app's catalog from App Store Connect. {SYNC_HINT}",
        product.name, product.product_id
    )
}

/// An offer in a line: "Win back (WINBACK_50) · Pay as you go, 1 month × 3".
pub fn offer_words(offer: &PromoOffer) -> String {
    format!(
        "{} ({}) · {}, {} × {}",
        offer.name,
        offer.code,
        offer_mode_label(&offer.mode),
        period_label(&offer.duration),
        offer.periods
    )
}

/// The refusals of `product_id` and `offer_id` (as typed; surrounding blanks ignored) by the catalog; none when
/// the catalog does not apply or a field is empty (its own check says so).
pub fn check(catalog: &Catalog, product_id: &str, offer_id: &str) -> FieldErrors {
    let (product_id, offer_id) = (product_id.trim(), offer_id.trim());
    let mut errors = FieldErrors::new();
    if !applies(catalog) || product_id.is_empty() {
        return errors;
    }
    let Some(product) = catalog.product(product_id) else {
        errors.push((OfferField::ProductId, unknown_product(product_id)));
        return errors;
    };
    if product.kind != ProductKind::AutoRenewable {
        errors.push((OfferField::ProductId, not_a_subscription(product)));
        return errors;
    }
    if !offer_id.is_empty() && !product.offers.iter().any(|o| o.code == offer_id) {
        errors.push((OfferField::OfferId, unknown_offer(offer_id, product)));
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        let offer = |code: &str| PromoOffer {
            code: code.into(),
            name: format!("Offer {code}"),
            mode: "PAY_AS_YOU_GO".into(),
            duration: "ONE_MONTH".into(),
            periods: 3,
        };
        let product = |id: &str, kind: ProductKind, offers: Vec<PromoOffer>| Product {
            product_id: id.into(),
            connect_id: "1".into(),
            name: format!("Name of {id}"),
            kind,
            state: "APPROVED".into(),
            group_id: (kind == ProductKind::AutoRenewable).then(|| "21482731".into()),
            group_level: None,
            period: None,
            prices: Vec::new(),
            offers,
        };
        Catalog {
            groups: Vec::new(),
            products: vec![
                product(
                    "pro.monthly",
                    ProductKind::AutoRenewable,
                    vec![offer("WIN")],
                ),
                product(
                    "pro.yearly",
                    ProductKind::AutoRenewable,
                    vec![offer("YEAR")],
                ),
                product("coins", ProductKind::Consumable, Vec::new()),
            ],
            grace_period: None,
        }
    }

    #[test]
    fn without_subscriptions_in_the_catalog_anything_may_be_signed() {
        assert!(check(&Catalog::default(), "any.product", "ANY").is_empty());
        let mut only_coins = catalog();
        only_coins
            .products
            .retain(|p| p.kind != ProductKind::AutoRenewable);
        assert!(!applies(&only_coins));
        assert!(check(&only_coins, "any.product", "ANY").is_empty());
    }

    #[test]
    fn a_product_and_offer_must_be_in_the_catalog_and_belong_together() {
        let c = catalog();
        assert!(applies(&c));
        assert!(check(&c, " pro.monthly ", "WIN").is_empty());
        assert_eq!(
            check(&c, "pro.weekly", "WIN"),
            vec![(OfferField::ProductId, unknown_product("pro.weekly"))]
        );
        assert_eq!(
            check(&c, "pro.monthly", "YEAR"),
            vec![(
                OfferField::OfferId,
                "“YEAR” is not a promotional offer of Name of pro.monthly (pro.monthly) in this app's catalog \
                 from App Store Connect. If it was just created in App Store Connect, sync the catalog on the \
                 Catalog page, then sign again."
                    .to_owned()
            )]
        );
        assert_eq!(
            check(&c, "coins", "WIN"),
            vec![(
                OfferField::ProductId,
                "Name of coins (coins) is a consumable, not an auto-renewable subscription: only auto-renewable \
                 subscriptions have promotional offers."
                    .to_owned()
            )]
        );
        // Empty fields are left to their own sentences.
        assert!(check(&c, "", "").is_empty());
        assert!(check(&c, "pro.monthly", " ").is_empty());
    }

    #[test]
    fn an_offer_is_told_in_one_line() {
        let c = catalog();
        assert_eq!(
            offer_words(&c.products[0].offers[0]),
            "Offer WIN (WIN) · Pay as you go, 1 month × 3"
        );
    }
}
