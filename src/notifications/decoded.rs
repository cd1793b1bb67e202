//! A stored notification's payload (`{"notification", "transaction", "renewalInfo"}` as Apple signed them)
//! turned into labelled facts in plain words for the detail page.
use serde_json::Value;

use super::words;
use crate::present::labels;
use crate::present::money::money;
use crate::present::time::utc_and_relative;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fact {
    pub label: String,
    pub value: String,
    /// An identifier: shown monospace with a copy button.
    pub id: bool,
    /// What the identifier names, so that the page can put the catalog's name beside it.
    pub refers: Refers,
}

/// What an identifier fact names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Refers {
    #[default]
    Nothing,
    Product,
    Group,
}

impl Refers {
    pub fn is_product(&self) -> bool {
        *self == Refers::Product
    }

    pub fn is_group(&self) -> bool {
        *self == Refers::Group
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub title: String,
    pub facts: Vec<Fact>,
}

/// The few things pages other than the detail page also show.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub product_id: Option<String>,
    pub product_type: Option<String>,
    pub price: Option<String>,
    pub purchase_date: Option<i64>,
    pub revocation_date: Option<i64>,
    pub revocation_reason: Option<String>,
    pub consumption_reason: Option<String>,
    pub status: Option<i64>,
}

pub struct Decoded {
    pub sections: Vec<Section>,
    pub summary: Summary,
    /// The stored JSON, indented.
    pub raw_pretty: String,
}

fn ms(v: Option<&Value>) -> Option<i64> {
    let v = v?;
    v.as_i64().or_else(|| v.as_f64().map(|f| f as i64))
}

fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A price Apple sent, shown even when its currency is missing (see `present::money`).
fn price(milliunits: Option<i64>, currency: Option<String>) -> Option<String> {
    milliunits.map(|p| money(p, currency.as_deref()).text)
}

struct Facts(Vec<Fact>);

impl Facts {
    fn plain(&mut self, label: &str, value: Option<String>) {
        if let Some(value) = value {
            self.0.push(Fact {
                label: label.to_owned(),
                value,
                id: false,
                refers: Refers::Nothing,
            });
        }
    }

    fn id(&mut self, label: &str, value: Option<String>) {
        self.naming(label, value, Refers::Nothing);
    }

    /// An identifier of a product or a subscription group.
    fn naming(&mut self, label: &str, value: Option<String>, refers: Refers) {
        if let Some(value) = value {
            self.0.push(Fact {
                label: label.to_owned(),
                value,
                id: true,
                refers,
            });
        }
    }

    fn date(&mut self, label: &str, at: Option<i64>, now: i64) {
        self.plain(label, at.map(|t| utc_and_relative(t, now)));
    }
}

pub fn summary_of(payload: &Value) -> Summary {
    let tx = payload.get("transaction").filter(|t| t.is_object());
    let data = payload.get("notification").and_then(|n| n.get("data"));
    let field = |k: &str| tx.and_then(|t| t.get(k));
    let price = price(ms(field("price")), text(field("currency")));
    Summary {
        product_id: text(field("productId")),
        product_type: text(field("type")),
        price,
        purchase_date: ms(field("purchaseDate")),
        revocation_date: ms(field("revocationDate")),
        revocation_reason: ms(field("revocationReason"))
            .map(|r| labels::revocation_reason(Some(r)).text),
        consumption_reason: data
            .and_then(|d| d.get("consumptionRequestReason"))
            .and_then(Value::as_str)
            .map(words::consumption_reason),
        status: ms(data.and_then(|d| d.get("status"))),
    }
}

/// Decodes the stored payload; a payload that is not JSON (it always is) still shows its raw text.
pub fn decode(stored: &str, now: i64) -> Decoded {
    let payload: Value = serde_json::from_str(stored).unwrap_or(Value::Null);
    let raw_pretty = serde_json::to_string_pretty(&payload).unwrap_or_else(|_| stored.to_owned());
    let mut sections = Vec::new();
    let notification = payload.get("notification");
    let n = |k: &str| notification.and_then(|v| v.get(k));

    let mut f = Facts(Vec::new());
    f.id("Notification UUID", text(n("notificationUUID")));
    f.date("Signed by Apple", ms(n("signedDate")), now);
    f.plain("Version", text(n("version")));
    if let Some(data) = n("data") {
        f.plain("Environment", text(data.get("environment")));
        f.id("Bundle ID", text(data.get("bundleId")));
        f.id("App Apple ID", text(data.get("appAppleId")));
        f.plain("App build", text(data.get("bundleVersion")));
        f.plain(
            "Why the customer asks for a refund",
            data.get("consumptionRequestReason")
                .and_then(Value::as_str)
                .map(|r| format!("{} ({r})", words::consumption_reason(r))),
        );
    }
    sections.push(Section {
        title: "Notification".into(),
        facts: f.0,
    });

    if let Some(summary) = n("summary") {
        let mut f = Facts(Vec::new());
        f.id("Request identifier", text(summary.get("requestIdentifier")));
        f.naming("Product", text(summary.get("productId")), Refers::Product);
        f.plain(
            "Storefronts",
            summary
                .get("storefrontCountryCodes")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                }),
        );
        f.plain(
            "Subscriptions extended",
            text(summary.get("succeededCount")),
        );
        f.plain("Extensions that failed", text(summary.get("failedCount")));
        sections.push(Section {
            title: "Renewal date extension summary".into(),
            facts: f.0,
        });
    }
    if let Some(token) = n("externalPurchaseToken") {
        let mut f = Facts(Vec::new());
        f.id(
            "External purchase ID",
            text(token.get("externalPurchaseId")),
        );
        f.date("Token created", ms(token.get("tokenCreationDate")), now);
        sections.push(Section {
            title: "External purchase token".into(),
            facts: f.0,
        });
    }
    if let Some(app) = n("appData") {
        let mut f = Facts(Vec::new());
        f.plain("Environment", text(app.get("environment")));
        f.id("Bundle ID", text(app.get("bundleId")));
        sections.push(Section {
            title: "App".into(),
            facts: f.0,
        });
    }
    // RESCIND_CONSENT's app transaction, verified when it arrived.
    if let Some(app) = payload.get("appTransaction").filter(|a| a.is_object()) {
        let a = |k: &str| app.get(k);
        let mut f = Facts(Vec::new());
        f.id("App transaction ID", text(a("appTransactionId")));
        f.id("Bundle ID", text(a("bundleId")));
        f.id("App Apple ID", text(a("appAppleId")));
        f.plain("Environment", text(a("receiptType")));
        f.plain("App version", text(a("applicationVersion")));
        f.plain(
            "First version bought",
            text(a("originalApplicationVersion")),
        );
        f.date("First bought", ms(a("originalPurchaseDate")), now);
        f.date("Pre-ordered", ms(a("preorderDate")), now);
        f.plain("First platform", text(a("originalPlatform")));
        f.date("Signed", ms(a("receiptCreationDate")), now);
        sections.push(Section {
            title: "App transaction (signature verified)".into(),
            facts: f.0,
        });
    }

    if let Some(tx) = payload.get("transaction").filter(|t| t.is_object()) {
        let t = |k: &str| tx.get(k);
        let mut f = Facts(Vec::new());
        f.id("Transaction ID", text(t("transactionId")));
        f.id("Original transaction ID", text(t("originalTransactionId")));
        f.naming("Product", text(t("productId")), Refers::Product);
        f.plain("Product type", text(t("type")));
        f.plain("Price", price(ms(t("price")), text(t("currency"))));
        f.plain("Quantity", text(t("quantity")));
        f.date("Purchased", ms(t("purchaseDate")), now);
        f.date("First purchased", ms(t("originalPurchaseDate")), now);
        f.date("Expires", ms(t("expiresDate")), now);
        f.plain(
            "Why",
            text(t("transactionReason")).map(|r| labels::transaction_reason(Some(&r)).text),
        );
        f.plain(
            "Ownership",
            text(t("inAppOwnershipType")).map(|o| labels::ownership(Some(&o)).text),
        );
        f.plain(
            "Offer",
            ms(t("offerType")).map(|o| {
                let words = labels::offer_type(Some(o)).text;
                match text(t("offerIdentifier")) {
                    Some(id) => format!("{words} ({id})"),
                    None => words,
                }
            }),
        );
        f.plain("Storefront", text(t("storefront")));
        f.naming(
            "Subscription group",
            text(t("subscriptionGroupIdentifier")),
            Refers::Group,
        );
        f.id("App account token", text(t("appAccountToken")));
        f.date("Revoked", ms(t("revocationDate")), now);
        f.plain(
            "Revocation reason",
            ms(t("revocationReason")).map(|r| labels::revocation_reason(Some(r)).text),
        );
        f.plain("Revocation type", text(t("revocationType")));
        f.plain(
            "Upgraded",
            t("isUpgraded")
                .and_then(Value::as_bool)
                .filter(|b| *b)
                .map(|_| "yes: replaced by a higher-level subscription".to_owned()),
        );
        f.plain("Environment", text(t("environment")));
        sections.push(Section {
            title: "Transaction".into(),
            facts: f.0,
        });
    }

    if let Some(r) = payload.get("renewalInfo").filter(|r| r.is_object()) {
        let g = |k: &str| r.get(k);
        let mut f = Facts(Vec::new());
        f.plain(
            "Automatic renewal",
            ms(g("autoRenewStatus")).map(|s| if s == 1 { "on" } else { "off" }.to_owned()),
        );
        f.naming(
            "Renews to product",
            text(g("autoRenewProductId")),
            Refers::Product,
        );
        f.date("Next renewal", ms(g("renewalDate")), now);
        f.plain(
            "Renewal price",
            price(ms(g("renewalPrice")), text(g("currency"))),
        );
        f.plain(
            "Why it expired",
            labels::expiration_intent(ms(g("expirationIntent"))).map(|l| l.text),
        );
        f.plain(
            "Billing retry",
            g("isInBillingRetryPeriod")
                .and_then(Value::as_bool)
                .map(|b| {
                    if b {
                        "yes, Apple is retrying the payment"
                    } else {
                        "no"
                    }
                    .to_owned()
                }),
        );
        f.date("Grace period ends", ms(g("gracePeriodExpiresDate")), now);
        f.plain(
            "Price increase",
            labels::price_increase_status(ms(g("priceIncreaseStatus"))).map(|l| l.text),
        );
        f.plain(
            "Offer at renewal",
            ms(g("offerType")).map(|o| labels::offer_type(Some(o)).text),
        );
        f.date(
            "Subscribed without interruption since",
            ms(g("recentSubscriptionStartDate")),
            now,
        );
        sections.push(Section {
            title: "Renewal info".into(),
            facts: f.0,
        });
    }

    Decoded {
        summary: summary_of(&payload),
        sections,
        raw_pretty,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_refund_reads_in_words() {
        let stored = json!({
            "notification": {"notificationType": "REFUND", "notificationUUID": "u-1", "signedDate": 0,
                "data": {"environment": "Production", "status": 5}},
            "transaction": {"transactionId": "2000000000000001", "productId": "coins", "price": 9990,
                "currency": "EUR", "revocationReason": 1, "revocationDate": 0, "type": "Consumable"},
            "renewalInfo": null
        })
        .to_string();
        let d = decode(&stored, 0);
        let all: Vec<&Fact> = d.sections.iter().flat_map(|s| s.facts.iter()).collect();
        let value = |label: &str| {
            all.iter()
                .find(|f| f.label == label)
                .map(|f| f.value.clone())
                .unwrap_or_default()
        };
        assert_eq!(value("Price"), "9.99 EUR");
        assert_eq!(
            value("Revocation reason"),
            "refunded because of an actual or perceived issue in the app"
        );
        assert_eq!(d.summary.status, Some(5));
        assert_eq!(d.summary.price.as_deref(), Some("9.99 EUR"));
        assert!(!d.sections.iter().any(|s| s.title == "Renewal info"));
    }

    #[test]
    fn a_price_without_its_currency_is_still_shown() {
        // This page used to leave such a price out, while the support desk showed "9.99 XXX".
        let stored = json!({
            "notification": {"notificationType": "ONE_TIME_CHARGE", "signedDate": 0},
            "transaction": {"transactionId": "2000000000000002", "price": 9990},
            "renewalInfo": {"renewalPrice": 1_500_000, "currency": ""}
        })
        .to_string();
        let d = decode(&stored, 0);
        assert_eq!(d.summary.price.as_deref(), Some("9.99 XXX"));
        let renewal = d
            .sections
            .iter()
            .find(|s| s.title == "Renewal info")
            .unwrap();
        assert_eq!(renewal.facts[0].label, "Renewal price");
        assert_eq!(renewal.facts[0].value, "1,500.00 XXX");
    }
}
