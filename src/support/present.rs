//! Apple's transactions and renewal info told in plain words for the support desk, with the presentation
//! rules of `crate::present` (money, dates, Apple's enumerations, status badges).
//!
//! Everything here works on the decoded JSON exactly as Apple signed it (`Verified::raw`, or the `decoded`
//! column of the index), so a value the typed models don't know still reaches the page.
use serde::Serialize;
use serde_json::Value;

pub(crate) use crate::apple::fields::{flag, int, owned, text};
use crate::present::duration::iso_duration;
use crate::present::labels::{
    auto_renew_status, expiration_intent, offer_discount_type, offer_type, ownership,
    price_increase_status, product_type, revocation_reason, revocation_type, transaction_reason,
};
use crate::present::money::money;
use crate::present::percent::percentage;
use crate::present::status::TransactionFact;
use crate::present::{Label, StatusBadge};
// Re-exported because `support/mod.rs` and `support/history.rs` (being split on another branch) import them
// from here; new code takes them from `crate::present`.
pub use crate::present::{Money, When};

/// One offer in words: `introductory offer: free trial for 1 month ("launch")`.
pub fn offer_words(
    offer_type_raw: Option<i64>,
    discount: Option<&str>,
    period: Option<&str>,
    identifier: Option<&str>,
) -> Option<String> {
    offer_type_raw?;
    let mut s = offer_type(offer_type_raw).text;
    if let Some(d) = offer_discount_type(discount) {
        s.push_str(": ");
        s.push_str(&d.text);
    }
    if let Some(p) = period {
        s.push_str(" for ");
        s.push_str(&iso_duration(p));
    }
    if let Some(id) = identifier {
        s.push_str(&format!(" (“{id}”)"));
    }
    Some(s)
}

/// What a transaction says of itself today: refunded, revoked, upgraded, its period current or over, or a
/// one-time purchase. Never the subscription's state, which only Apple's statuses tell.
fn transaction_fact(v: &Value, now_ms: i64) -> TransactionFact {
    if int(v, "revocationDate").is_some() {
        return if text(v, "revocationType") == Some("FAMILY_REVOKE") {
            TransactionFact::Revoked
        } else {
            TransactionFact::Refunded
        };
    }
    if flag(v, "isUpgraded") == Some(true) {
        return TransactionFact::Upgraded;
    }
    match int(v, "expiresDate") {
        Some(e) if e > now_ms => TransactionFact::CurrentPeriod,
        Some(_) => TransactionFact::PeriodEnded,
        None => TransactionFact::Purchased,
    }
}

/// The refund status as a code for machines (the CSV): `none`, `refund_full`, `refund_prorated`,
/// `family_revoke`, or `revoked` for a revocation of a type this version does not know (or that names none).
fn refund_code(revocation: Option<&RevocationView>) -> &'static str {
    match revocation.map(|r| r.kind.raw.as_deref()) {
        None => "none",
        Some(Some("REFUND_FULL")) => "refund_full",
        Some(Some("REFUND_PRORATED")) => "refund_prorated",
        Some(Some("FAMILY_REVOKE")) => "family_revoke",
        Some(_) => "revoked",
    }
}

/// A revocation (refund, or Family Sharing ending) in words.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RevocationView {
    pub date: When,
    pub reason: Label,
    pub kind: Label,
    pub percentage: Option<String>,
}

/// One transaction told in plain words, plus its raw values for machines.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TransactionView {
    pub transaction_id: String,
    pub original_transaction_id: String,
    /// True when this is the first transaction of its chain.
    pub is_original: bool,
    pub web_order_line_item_id: Option<String>,
    pub app_account_token: Option<String>,
    pub app_transaction_id: Option<String>,
    pub product_id: String,
    pub product_type: Label,
    pub is_subscription: bool,
    pub subscription_group: Option<String>,
    pub purchase_date: Option<When>,
    pub original_purchase_date: Option<When>,
    pub expires_date: Option<When>,
    pub price: Option<Money>,
    pub quantity: Option<i64>,
    pub offer: Option<String>,
    /// The offer is a free trial (`offerDiscountType` `FREE_TRIAL`).
    pub is_free_trial: bool,
    pub ownership: Label,
    pub family_shared: bool,
    pub environment: String,
    pub storefront: Option<String>,
    pub transaction_reason: Label,
    pub is_upgraded: bool,
    pub revocation: Option<RevocationView>,
    /// One sentence: not refunded / refunded in full on … / …
    pub refund_status: String,
    /// The same as a code: `none`, `refund_full`, `refund_prorated`, `family_revoke` or `revoked`.
    pub refund_code: &'static str,
    /// What the transaction says of itself (its own period, a refund), never the subscription's state.
    pub fact: TransactionFact,
    /// `fact` as a badge.
    pub badge: StatusBadge,
    pub signed_date: Option<When>,
    /// One sentence: "An auto-renewable subscription renewed automatically on … for 9.99 EUR."
    pub summary: String,
}

fn summary_sentence(t: &TransactionView) -> String {
    let kind = &t.product_type.text;
    let article = if kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "An"
    } else {
        "A"
    };
    let verb = match t.transaction_reason.raw.as_deref() {
        Some("RENEWAL") => "renewed automatically",
        _ if t.family_shared => "shared with the customer",
        _ => "bought",
    };
    let mut s = format!("{article} {kind} {verb}");
    if let Some(p) = &t.purchase_date {
        s.push_str(&format!(" on {} ({})", p.utc, p.relative));
    }
    if let Some(m) = &t.price {
        s.push_str(&format!(" for {}", m.text));
    }
    s.push('.');
    s
}

impl TransactionView {
    /// Reads the decoded JSON of a transaction. Missing fields stay empty; nothing here can fail.
    pub fn from_decoded(v: &Value, now_ms: i64) -> Self {
        let when = |key: &str| int(v, key).map(|ms| When::at(ms, now_ms));
        let transaction_id = owned(v, "transactionId").unwrap_or_default();
        let original_transaction_id =
            owned(v, "originalTransactionId").unwrap_or_else(|| transaction_id.clone());
        let product_type_raw = text(v, "type");
        let revocation = int(v, "revocationDate").map(|ms| RevocationView {
            date: When::at(ms, now_ms),
            reason: revocation_reason(int(v, "revocationReason")),
            kind: revocation_type(text(v, "revocationType")),
            percentage: int(v, "revocationPercentage").map(percentage),
        });
        let refund_status = match &revocation {
            None => "Not refunded.".to_owned(),
            Some(r) => {
                let on = format!("{} ({})", r.date.utc, r.date.relative);
                match r.kind.raw.as_deref() {
                    Some("FAMILY_REVOKE") => format!(
                        "Access revoked on {on} because Family Sharing stopped; this is not a refund."
                    ),
                    Some("REFUND_PRORATED") => format!(
                        "Refunded in part{} on {on}. Reason: {}.",
                        r.percentage
                            .as_ref()
                            .map(|p| format!(" ({p})"))
                            .unwrap_or_default(),
                        r.reason.text
                    ),
                    Some("REFUND_FULL") | None => {
                        format!("Refunded in full on {on}. Reason: {}.", r.reason.text)
                    }
                    Some(_) => format!(
                        "Revoked on {on} ({}). Reason: {}.",
                        r.kind.text, r.reason.text
                    ),
                }
            }
        };
        let ownership_raw = text(v, "inAppOwnershipType");
        let fact = transaction_fact(v, now_ms);
        let refund_code = refund_code(revocation.as_ref());
        let mut view = TransactionView {
            is_original: transaction_id == original_transaction_id,
            web_order_line_item_id: owned(v, "webOrderLineItemId"),
            app_account_token: owned(v, "appAccountToken").map(|t| t.to_ascii_lowercase()),
            app_transaction_id: owned(v, "appTransactionId"),
            product_id: owned(v, "productId").unwrap_or_default(),
            product_type: product_type(product_type_raw),
            is_subscription: product_type_raw == Some("Auto-Renewable Subscription"),
            subscription_group: owned(v, "subscriptionGroupIdentifier"),
            purchase_date: when("purchaseDate"),
            original_purchase_date: when("originalPurchaseDate"),
            expires_date: when("expiresDate"),
            price: int(v, "price").map(|p| money(p, text(v, "currency"))),
            quantity: int(v, "quantity"),
            offer: offer_words(
                int(v, "offerType"),
                text(v, "offerDiscountType"),
                text(v, "offerPeriod"),
                text(v, "offerIdentifier"),
            ),
            is_free_trial: text(v, "offerDiscountType") == Some("FREE_TRIAL"),
            ownership: ownership(ownership_raw),
            family_shared: ownership_raw == Some("FAMILY_SHARED"),
            environment: owned(v, "environment").unwrap_or_else(|| "unknown".into()),
            storefront: owned(v, "storefront"),
            transaction_reason: transaction_reason(text(v, "transactionReason")),
            is_upgraded: flag(v, "isUpgraded") == Some(true),
            revocation,
            refund_status,
            refund_code,
            fact,
            badge: fact.badge(),
            signed_date: when("signedDate"),
            transaction_id,
            original_transaction_id,
            summary: String::new(),
        };
        view.summary = summary_sentence(&view);
        view
    }
}

/// Renewal info (the next renewal of one subscription) in plain words.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RenewalView {
    pub auto_renew: Label,
    pub auto_renew_on: bool,
    pub auto_renew_product_id: Option<String>,
    /// The product it renews into differs from the current one (an upgrade, downgrade or crossgrade).
    pub changes_product: bool,
    pub expiration_intent: Option<Label>,
    pub in_billing_retry: bool,
    pub grace_period_ends: Option<When>,
    pub price_increase: Option<Label>,
    pub renewal_date: Option<When>,
    pub renewal_price: Option<Money>,
    pub offer: Option<String>,
    pub recent_subscription_start: Option<When>,
    pub eligible_win_back_offer_ids: Vec<String>,
    pub signed_date: Option<When>,
}

impl RenewalView {
    pub fn from_decoded(v: &Value, now_ms: i64) -> Self {
        let when = |key: &str| int(v, key).map(|ms| When::at(ms, now_ms));
        let auto_renew_product_id = owned(v, "autoRenewProductId");
        let product_id = owned(v, "productId");
        RenewalView {
            auto_renew: auto_renew_status(int(v, "autoRenewStatus")),
            auto_renew_on: int(v, "autoRenewStatus") == Some(1),
            changes_product: matches!((&auto_renew_product_id, &product_id), (Some(a), Some(p)) if a != p),
            auto_renew_product_id,
            expiration_intent: expiration_intent(int(v, "expirationIntent")),
            in_billing_retry: flag(v, "isInBillingRetryPeriod") == Some(true),
            grace_period_ends: when("gracePeriodExpiresDate"),
            price_increase: price_increase_status(int(v, "priceIncreaseStatus")),
            renewal_date: when("renewalDate"),
            renewal_price: int(v, "renewalPrice").map(|p| money(p, text(v, "currency"))),
            offer: offer_words(
                int(v, "offerType"),
                text(v, "offerDiscountType"),
                text(v, "offerPeriod"),
                text(v, "offerIdentifier"),
            ),
            recent_subscription_start: when("recentSubscriptionStartDate"),
            eligible_win_back_offer_ids: v
                .get("eligibleWinBackOfferIds")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            signed_date: when("signedDate"),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_refunded_transaction_reads_as_a_sentence() {
        let now = 1_800_000_000_000;
        let v = json!({
            "transactionId": "20", "originalTransactionId": "10", "productId": "pro.yearly",
            "type": "Auto-Renewable Subscription", "purchaseDate": now - 60 * 86_400_000_i64,
            "expiresDate": now + 300 * 86_400_000_i64, "price": 99_990, "currency": "EUR",
            "revocationDate": now - 50 * 86_400_000_i64, "revocationReason": 1, "revocationType": "REFUND_FULL",
            "inAppOwnershipType": "PURCHASED", "environment": "Sandbox", "transactionReason": "RENEWAL",
            "offerType": 1, "offerDiscountType": "FREE_TRIAL", "offerPeriod": "P1M",
        });
        let t = TransactionView::from_decoded(&v, now);
        assert!(!t.is_original);
        assert!(t.is_subscription);
        assert_eq!(t.badge.word, "refunded");
        assert_eq!(t.price.unwrap().text, "99.99 EUR");
        assert_eq!(
            t.offer.as_deref(),
            Some("introductory offer: free trial for 1 month")
        );
        assert!(t.refund_status.starts_with("Refunded in full on "));
        assert!(t
            .refund_status
            .ends_with("Reason: refunded because of an actual or perceived issue in the app."));
        assert_eq!(t.transaction_reason.text, "automatic renewal");
        assert!(t
            .summary
            .starts_with("An auto-renewable subscription renewed automatically on "));
        assert!(t.summary.ends_with(" for 99.99 EUR."));
    }

    #[test]
    fn renewal_info_reads_as_words() {
        let now = 1_800_000_000_000;
        let r = RenewalView::from_decoded(
            &json!({"autoRenewStatus": 0, "autoRenewProductId": "yearly", "productId": "monthly",
                    "expirationIntent": 1, "isInBillingRetryPeriod": false, "priceIncreaseStatus": 1,
                    "renewalPrice": 1_500_000, "currency": "JPY", "offerType": 2, "offerIdentifier": "back"}),
            now,
        );
        assert!(!r.auto_renew_on);
        assert_eq!(r.auto_renew.text, "off: it ends at the end of the period");
        assert!(r.changes_product);
        assert_eq!(r.expiration_intent.unwrap().text, "the customer cancelled");
        assert_eq!(r.renewal_price.unwrap().text, "1,500 JPY");
        assert_eq!(r.offer.as_deref(), Some("promotional offer (“back”)"));
        assert!(r
            .price_increase
            .unwrap()
            .text
            .starts_with("the customer agreed"));
    }

    #[test]
    fn float_dates_from_xcode_are_truncated() {
        let v = json!({"purchaseDate": 1_697_679_936_049.729_7_f64});
        assert_eq!(int(&v, "purchaseDate"), Some(1_697_679_936_049));
    }
}
