//! The team's apps and product catalog as App Store Connect holds them, built from the seed's products so that
//! product ids, subscription group ids and prices match the transactions the simulator signs. Tests edit it
//! (rename, state, removal, price) to make "what changed" visible to a catalog sync.

use crate::apple_sim::data::{Product, ProductKind};
use crate::apple_sim::seed::{
    CLOUD_MONTHLY, CLOUD_YEARLY, COINS_100, COINS_500, GROUP_CLOUD, GROUP_PRO, PRO_MONTHLY,
    PRO_YEARLY, REMOVE_ADS, SEASON_PASS, THEMES,
};

/// The second app of the team: it has no products, so a list has something to choose from and a key limited to
/// the demo app can be refused it.
pub(crate) const COMPANION_APP_APPLE_ID: i64 = 1_234_567_891;
pub(crate) const COMPANION_BUNDLE_ID: &str = "com.storedesk.companion";

/// Territories served, each with the currency the seed prices it in.
pub(crate) const TERRITORIES: [(&str, &str); 5] = [
    ("USA", "USD"),
    ("DEU", "EUR"),
    ("JPN", "JPY"),
    ("GBR", "GBP"),
    ("CAN", "CAD"),
];

/// Resource ids of subscriptions and in-app purchases: App Store Connect's are 10-digit numbers unrelated to
/// the product id.
const FIRST_ITEM_ID: u64 = 6_450_000_001;
const FIRST_OFFER_ID: u64 = 6_460_000_001;

#[derive(Debug, Clone)]
pub(crate) struct GracePeriod {
    pub opt_in: bool,
    pub sandbox_opt_in: bool,
    pub duration: &'static str,
    pub renewal_type: &'static str,
}

#[derive(Debug, Clone)]
pub(crate) struct App {
    /// The App Apple ID, as a string like every JSON:API id.
    pub id: String,
    pub name: String,
    pub bundle_id: String,
    pub sku: String,
    pub primary_locale: String,
    pub grace_period: GracePeriod,
}

#[derive(Debug, Clone)]
pub(crate) struct Group {
    /// The number transactions carry as `subscriptionGroupIdentifier`.
    pub id: String,
    pub app_id: String,
    pub reference_name: String,
}

#[derive(Debug, Clone)]
pub(crate) enum ItemKind {
    Subscription {
        group_id: String,
        /// `ONE_MONTH`, `ONE_YEAR`.
        period: &'static str,
        /// 1 is the highest level of service in the group.
        group_level: u32,
    },
    InAppPurchase {
        /// `CONSUMABLE`, `NON_CONSUMABLE`, `NON_RENEWING_SUBSCRIPTION`.
        iap_type: &'static str,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct Price {
    pub territory: &'static str,
    pub currency: &'static str,
    /// Customer price in milliunits of `currency`, like the seed's prices.
    pub milli: i64,
}

#[derive(Debug, Clone)]
pub(crate) struct PromoOffer {
    pub id: String,
    pub name: String,
    /// The identifier offer signatures name.
    pub offer_code: String,
    pub duration: &'static str,
    pub offer_mode: &'static str,
    pub number_of_periods: u32,
}

/// A subscription or an in-app purchase.
#[derive(Debug, Clone)]
pub(crate) struct Item {
    pub id: String,
    pub app_id: String,
    pub product_id: String,
    /// The reference name (App Store Connect's `name` attribute).
    pub name: String,
    pub state: String,
    pub kind: ItemKind,
    pub prices: Vec<Price>,
    pub offers: Vec<PromoOffer>,
}

impl Item {
    pub(crate) fn is_subscription(&self) -> bool {
        matches!(self.kind, ItemKind::Subscription { .. })
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Catalog {
    pub apps: Vec<App>,
    pub groups: Vec<Group>,
    pub items: Vec<Item>,
}

fn reference_name(product_id: &str) -> &'static str {
    match product_id {
        PRO_MONTHLY => "Pro Monthly",
        PRO_YEARLY => "Pro Yearly",
        CLOUD_MONTHLY => "Cloud Monthly",
        CLOUD_YEARLY => "Cloud Yearly",
        COINS_100 => "100 Coins",
        COINS_500 => "500 Coins",
        THEMES => "Lifetime Themes",
        REMOVE_ADS => "Remove Ads",
        SEASON_PASS => "Season Pass",
        _ => "Product",
    }
}

/// (offer code, name, mode, duration, number of periods) per subscription.
fn seeded_offers(
    product_id: &str,
) -> &'static [(&'static str, &'static str, &'static str, &'static str, u32)] {
    match product_id {
        PRO_MONTHLY => &[
            (
                "pro_monthly_winback",
                "Win-back: half price for 3 months",
                "PAY_AS_YOU_GO",
                "ONE_MONTH",
                3,
            ),
            (
                "pro_monthly_free_month",
                "One month free",
                "FREE_TRIAL",
                "ONE_MONTH",
                1,
            ),
        ],
        PRO_YEARLY => &[(
            "pro_yearly_upgrade",
            "Upgrade to yearly",
            "PAY_UP_FRONT",
            "ONE_YEAR",
            1,
        )],
        CLOUD_MONTHLY => &[(
            "cloud_half_price",
            "Cloud at half price",
            "PAY_AS_YOU_GO",
            "ONE_MONTH",
            2,
        )],
        _ => &[],
    }
}

fn group_name(group_id: &str) -> &'static str {
    match group_id {
        GROUP_PRO => "Storedesk Pro",
        GROUP_CLOUD => "Cloud Storage",
        _ => "Subscriptions",
    }
}

impl Catalog {
    /// The demo app (`app_apple_id`, `bundle_id`) with every seeded product, and the companion app without any.
    pub(crate) fn build(products: &[Product], app_apple_id: i64, bundle_id: &str) -> Self {
        let app_id = app_apple_id.to_string();
        // Should the configured app take the companion's number, the companion moves one further.
        let companion_id = if app_apple_id == COMPANION_APP_APPLE_ID {
            COMPANION_APP_APPLE_ID + 1
        } else {
            COMPANION_APP_APPLE_ID
        };
        let apps = vec![
            App {
                id: app_id.clone(),
                name: "Storedesk Demo".to_owned(),
                bundle_id: bundle_id.to_owned(),
                sku: "STOREDESK-DEMO".to_owned(),
                primary_locale: "en-US".to_owned(),
                grace_period: GracePeriod {
                    opt_in: true,
                    sandbox_opt_in: true,
                    duration: "SIXTEEN_DAYS",
                    renewal_type: "ALL_RENEWALS",
                },
            },
            App {
                id: companion_id.to_string(),
                name: "Storedesk Companion".to_owned(),
                bundle_id: COMPANION_BUNDLE_ID.to_owned(),
                sku: "STOREDESK-COMPANION".to_owned(),
                primary_locale: "en-US".to_owned(),
                // Billing grace period is off until someone turns it on.
                grace_period: GracePeriod {
                    opt_in: false,
                    sandbox_opt_in: false,
                    duration: "THREE_DAYS",
                    renewal_type: "ALL_RENEWALS",
                },
            },
        ];

        let mut groups: Vec<Group> = Vec::new();
        let mut items = Vec::with_capacity(products.len());
        let mut next_offer = FIRST_OFFER_ID;
        for (n, product) in (0u64..).zip(products) {
            let kind = match (product.kind, product.group) {
                (ProductKind::AutoRenewable, Some(group)) => {
                    if !groups.iter().any(|g| g.id == group) {
                        groups.push(Group {
                            id: group.to_owned(),
                            app_id: app_id.clone(),
                            reference_name: group_name(group).to_owned(),
                        });
                    }
                    let yearly = product.period_days.unwrap_or(0) >= 365;
                    ItemKind::Subscription {
                        group_id: group.to_owned(),
                        period: if yearly { "ONE_YEAR" } else { "ONE_MONTH" },
                        group_level: if yearly { 1 } else { 2 },
                    }
                }
                (ProductKind::Consumable, _) => ItemKind::InAppPurchase {
                    iap_type: "CONSUMABLE",
                },
                (ProductKind::NonConsumable, _) => ItemKind::InAppPurchase {
                    iap_type: "NON_CONSUMABLE",
                },
                // A subscription without a group cannot exist in App Store Connect; the seed has none.
                (ProductKind::NonRenewing, _) | (ProductKind::AutoRenewable, None) => {
                    ItemKind::InAppPurchase {
                        iap_type: "NON_RENEWING_SUBSCRIPTION",
                    }
                }
            };
            let prices = TERRITORIES
                .iter()
                .filter_map(|(territory, currency)| {
                    product
                        .prices
                        .iter()
                        .find(|(c, _)| c == currency)
                        .map(|(_, milli)| Price {
                            territory,
                            currency,
                            milli: *milli,
                        })
                })
                .collect();
            let offers = seeded_offers(product.id)
                .iter()
                .map(|(code, name, mode, duration, periods)| {
                    let id = next_offer.to_string();
                    next_offer += 1;
                    PromoOffer {
                        id,
                        name: (*name).to_owned(),
                        offer_code: (*code).to_owned(),
                        duration,
                        offer_mode: mode,
                        number_of_periods: *periods,
                    }
                })
                .collect();
            items.push(Item {
                id: (FIRST_ITEM_ID + n).to_string(),
                app_id: app_id.clone(),
                product_id: product.id.to_owned(),
                name: reference_name(product.id).to_owned(),
                state: "APPROVED".to_owned(),
                kind,
                prices,
                offers,
            });
        }
        Self {
            apps,
            groups,
            items,
        }
    }

    pub(crate) fn app(&self, id: &str) -> Option<&App> {
        self.apps.iter().find(|a| a.id == id)
    }

    pub(crate) fn group(&self, id: &str) -> Option<&Group> {
        self.groups.iter().find(|g| g.id == id)
    }

    /// By resource id.
    pub(crate) fn item(&self, id: &str) -> Option<&Item> {
        self.items.iter().find(|i| i.id == id)
    }

    fn by_product_id(&mut self, product_id: &str) -> Option<&mut Item> {
        self.items.iter_mut().find(|i| i.product_id == product_id)
    }

    pub(crate) fn rename(&mut self, product_id: &str, name: &str) -> bool {
        self.by_product_id(product_id)
            .map(|i| i.name = name.to_owned())
            .is_some()
    }

    pub(crate) fn set_state(&mut self, product_id: &str, state: &str) -> bool {
        self.by_product_id(product_id)
            .map(|i| i.state = state.to_owned())
            .is_some()
    }

    pub(crate) fn remove(&mut self, product_id: &str) -> bool {
        let before = self.items.len();
        self.items.retain(|i| i.product_id != product_id);
        self.items.len() != before
    }

    /// `customer_price` is a decimal string in the territory's currency ("10.99", "1500"); false for an unknown
    /// product or territory, or a price the currency cannot hold.
    pub(crate) fn set_price(
        &mut self,
        product_id: &str,
        territory: &str,
        customer_price: &str,
    ) -> bool {
        let Some(item) = self.by_product_id(product_id) else {
            return false;
        };
        let Some(price) = item.prices.iter_mut().find(|p| p.territory == territory) else {
            return false;
        };
        match parse_decimal(customer_price, price.currency) {
            Some(milli) => {
                price.milli = milli;
                true
            }
            None => false,
        }
    }
}

/// Digits after the decimal point in App Store prices of this currency.
fn minor_digits(currency: &str) -> u32 {
    match currency {
        "JPY" | "KRW" => 0,
        _ => 2,
    }
}

/// Apple's decimal string for an amount in milliunits: "9.99", "1500" (rounded half up to the currency's unit).
pub(crate) fn format_decimal(milli: i64, currency: &str) -> String {
    let milli = milli.max(0);
    match minor_digits(currency) {
        0 => format!("{}", (milli + 500) / 1000),
        _ => {
            let cents = (milli + 5) / 10;
            format!("{}.{:02}", cents / 100, cents % 100)
        }
    }
}

/// `percent` of a price, as App Store Connect shows proceeds (70 %, or 85 % from a subscriber's second year).
pub(crate) fn share(milli: i64, percent: i64) -> i64 {
    milli.saturating_mul(percent) / 100
}

fn parse_decimal(s: &str, currency: &str) -> Option<i64> {
    let (whole, fraction) = s.split_once('.').unwrap_or((s, ""));
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || whole.len() > 9 || !digits(whole) || !digits(fraction) {
        return None;
    }
    if fraction.len() > minor_digits(currency) as usize {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    let mut milli_fraction = 0i64;
    for (place, b) in fraction.bytes().enumerate() {
        let unit = match place {
            0 => 100,
            _ => 10,
        };
        milli_fraction += i64::from(b - b'0') * unit;
    }
    Some(whole * 1000 + milli_fraction)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn prices_are_apple_decimal_strings_in_the_currency_unit() {
        assert_eq!(format_decimal(9_990, "USD"), "9.99");
        assert_eq!(format_decimal(1_500_000, "JPY"), "1500");
        assert_eq!(format_decimal(share(9_990, 70), "USD"), "6.99");
        assert_eq!(format_decimal(share(9_990, 85), "USD"), "8.49");
        assert_eq!(format_decimal(share(1_500_000, 70), "JPY"), "1050");
        assert_eq!(format_decimal(10_000, "EUR"), "10.00");
    }

    #[test]
    fn decimal_prices_parse_only_in_the_currency_precision() {
        assert_eq!(parse_decimal("10.99", "USD"), Some(10_990));
        assert_eq!(parse_decimal("10.9", "USD"), Some(10_900));
        assert_eq!(parse_decimal("1500", "JPY"), Some(1_500_000));
        assert_eq!(parse_decimal("1500.5", "JPY"), None);
        assert_eq!(parse_decimal("10.999", "USD"), None);
        assert_eq!(parse_decimal("-1", "USD"), None);
        assert_eq!(parse_decimal("", "USD"), None);
        assert_eq!(parse_decimal(".5", "USD"), None);
    }
}
