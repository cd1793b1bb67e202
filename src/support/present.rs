//! Apple's data in plain words: money from milliunits with the currency's decimals, dates in UTC with the
//! relative time, and every enumeration named — unknown values are kept and shown as such, never dropped.
//!
//! Everything here works on the decoded JSON exactly as Apple signed it (`Verified::raw`, or the `decoded`
//! column of the index), so a value the typed models don't know still reaches the page.
use serde::Serialize;
use serde_json::Value;

pub(crate) use crate::apple::fields::{flag, int, owned, text};

/// A moment shown as `2026-11-26 14:03 UTC` next to "3 days ago".
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct When {
    pub ms: i64,
    pub utc: String,
    pub relative: String,
}

impl When {
    pub fn at(ms: i64, now_ms: i64) -> Self {
        When {
            ms,
            utc: crate::clock::utc(ms),
            relative: crate::clock::relative(ms, now_ms),
        }
    }

    /// ISO 8601 in UTC with seconds, for CSV and machines.
    pub fn iso(&self) -> String {
        iso(self.ms)
    }
}

pub fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// An amount of money as Apple sends it (milliunits: 9990 = 9.99) and as people read it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Money {
    pub milliunits: i64,
    pub currency: String,
    /// `9.99 EUR`, `1,500 JPY`, `12.345 KWD`.
    pub text: String,
    /// The amount alone, `9.99`, for CSV.
    pub amount: String,
}

/// ISO 4217 minor units; currencies not listed have two.
pub fn currency_decimals(code: &str) -> u32 {
    match code {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX"
        | "UYI" | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        "CLF" | "UYW" => 4,
        _ => 2,
    }
}

fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The amount with the currency's decimals; a milliunit value finer than them keeps all three, because
/// rounding someone's money on a support page would be wrong.
pub fn amount(milliunits: i64, currency: &str) -> String {
    let sign = if milliunits < 0 { "-" } else { "" };
    let abs = milliunits.unsigned_abs();
    let whole = group_thousands(abs / 1000);
    let frac = abs % 1000;
    let decimals = currency_decimals(currency);
    let fraction = if decimals >= 3 {
        let scaled = frac * 10u64.pow(decimals - 3);
        format!(".{scaled:0width$}", width = decimals as usize)
    } else {
        let unit = 10u64.pow(3 - decimals);
        if frac % unit == 0 {
            if decimals == 0 {
                String::new()
            } else {
                format!(".{:0width$}", frac / unit, width = decimals as usize)
            }
        } else {
            format!(".{frac:03}")
        }
    };
    format!("{sign}{whole}{fraction}")
}

pub fn money(milliunits: i64, currency: &str) -> Money {
    let amount = amount(milliunits, currency);
    Money {
        milliunits,
        currency: currency.to_owned(),
        text: format!("{amount} {currency}"),
        amount,
    }
}

/// An enumeration value from Apple: its raw value (as text) and our words for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Label {
    pub raw: Option<String>,
    pub text: String,
    /// False when this version of storedesk does not know the value.
    pub known: bool,
}

impl Label {
    fn known(raw: impl Into<String>, text: &str) -> Self {
        Label {
            raw: Some(raw.into()),
            text: text.to_owned(),
            known: true,
        }
    }

    fn unknown(raw: impl Into<String>, what: &str) -> Self {
        let raw = raw.into();
        Label {
            text: format!("{what} “{raw}” (a value this version of storedesk does not know)"),
            raw: Some(raw),
            known: false,
        }
    }

    fn absent(text: &str) -> Self {
        Label {
            raw: None,
            text: text.to_owned(),
            known: true,
        }
    }
}

pub fn product_type(raw: Option<&str>) -> Label {
    match raw {
        None => Label::absent("unknown product type"),
        Some("Auto-Renewable Subscription") => {
            Label::known("Auto-Renewable Subscription", "auto-renewable subscription")
        }
        Some("Non-Renewing Subscription") => {
            Label::known("Non-Renewing Subscription", "non-renewing subscription")
        }
        Some("Consumable") => Label::known("Consumable", "consumable"),
        Some("Non-Consumable") => Label::known("Non-Consumable", "non-consumable"),
        Some(other) => Label::unknown(other, "product type"),
    }
}

pub fn ownership(raw: Option<&str>) -> Label {
    match raw {
        None | Some("PURCHASED") => Label {
            raw: raw.map(str::to_owned),
            text: "purchased by the customer".into(),
            known: true,
        },
        Some("FAMILY_SHARED") => Label::known(
            "FAMILY_SHARED",
            "shared with the customer through Family Sharing",
        ),
        Some(other) => Label::unknown(other, "ownership"),
    }
}

pub fn transaction_reason(raw: Option<&str>) -> Label {
    match raw {
        None => Label::absent("not stated"),
        Some("PURCHASE") => Label::known("PURCHASE", "purchase"),
        Some("RENEWAL") => Label::known("RENEWAL", "automatic renewal"),
        Some(other) => Label::unknown(other, "transaction reason"),
    }
}

pub fn revocation_reason(raw: Option<i64>) -> Label {
    match raw {
        None => Label::absent("no reason given"),
        Some(0) => Label::known(
            "0",
            "refunded for another reason, for example an accidental purchase",
        ),
        Some(1) => Label::known(
            "1",
            "refunded because of an actual or perceived issue in the app",
        ),
        Some(other) => Label::unknown(other.to_string(), "revocation reason"),
    }
}

pub fn revocation_type(raw: Option<&str>) -> Label {
    match raw {
        None => Label::absent("revoked"),
        Some("REFUND_FULL") => Label::known("REFUND_FULL", "full refund"),
        Some("REFUND_PRORATED") => Label::known("REFUND_PRORATED", "partial (prorated) refund"),
        Some("FAMILY_REVOKE") => Label::known(
            "FAMILY_REVOKE",
            "access ended because Family Sharing stopped",
        ),
        Some(other) => Label::unknown(other, "revocation type"),
    }
}

pub fn offer_type(raw: Option<i64>) -> Label {
    match raw {
        None => Label::absent("no offer"),
        Some(1) => Label::known("1", "introductory offer"),
        Some(2) => Label::known("2", "promotional offer"),
        Some(3) => Label::known("3", "offer code"),
        Some(4) => Label::known("4", "win-back offer"),
        Some(other) => Label::unknown(other.to_string(), "offer type"),
    }
}

pub fn offer_discount_type(raw: Option<&str>) -> Option<Label> {
    Some(match raw? {
        "FREE_TRIAL" => Label::known("FREE_TRIAL", "free trial"),
        "PAY_AS_YOU_GO" => Label::known("PAY_AS_YOU_GO", "pay as you go"),
        "PAY_UP_FRONT" => Label::known("PAY_UP_FRONT", "pay up front"),
        "ONE_TIME" => Label::known("ONE_TIME", "one-time discount"),
        other => Label::unknown(other, "discount type"),
    })
}

pub fn expiration_intent(raw: Option<i64>) -> Option<Label> {
    Some(match raw? {
        1 => Label::known("1", "the customer cancelled"),
        2 => Label::known("2", "a billing error (the payment failed)"),
        3 => Label::known("3", "the customer did not agree to a price increase"),
        4 => Label::known("4", "the product was not available at renewal"),
        5 => Label::known("5", "another reason"),
        other => Label::unknown(other.to_string(), "expiration intent"),
    })
}

pub fn auto_renew_status(raw: Option<i64>) -> Label {
    match raw {
        None => Label::absent("not stated"),
        Some(1) => Label::known("1", "on: it renews automatically"),
        Some(0) => Label::known("0", "off: it ends at the end of the period"),
        Some(other) => Label::unknown(other.to_string(), "auto-renew status"),
    }
}

pub fn price_increase_status(raw: Option<i64>) -> Option<Label> {
    Some(match raw? {
        0 => Label::known(
            "0",
            "a price increase is pending; the customer has not responded yet",
        ),
        1 => Label::known(
            "1",
            "the customer agreed to the price increase (or was told of one that needs no consent)",
        ),
        other => Label::unknown(other.to_string(), "price increase status"),
    })
}

/// Apple's reasons for extending a renewal date (`extendReasonCode`).
pub const EXTEND_REASONS: &[(i64, &str)] = &[
    (0, "undeclared"),
    (1, "customer satisfaction"),
    (2, "other"),
    (3, "service issue or outage"),
];

pub fn extend_reason(code: i64) -> Label {
    EXTEND_REASONS
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(c, text)| Label::known(c.to_string(), text))
        .unwrap_or_else(|| Label::unknown(code.to_string(), "extension reason"))
}

/// A subscription's state as a word and a badge colour: the words of product.md's status badges.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StatusBadge {
    pub raw: Option<i64>,
    pub word: String,
    /// CSS class: `badge-good`, `badge-warn`, `badge-bad`, `badge-neutral`.
    pub class: &'static str,
}

pub fn status_badge(raw: i64) -> StatusBadge {
    let (word, class) = match raw {
        1 => ("active", "badge-good"),
        2 => ("expired", "badge-neutral"),
        3 => ("billing retry", "badge-warn"),
        4 => ("grace period", "badge-warn"),
        5 => ("revoked", "badge-bad"),
        _ => ("unknown status", "badge-neutral"),
    };
    StatusBadge {
        raw: Some(raw),
        word: if class == "badge-neutral" && raw != 2 {
            format!("status {raw}")
        } else {
            word.to_owned()
        },
        class,
    }
}

/// `P1M` → `1 month`, `P2W` → `2 weeks`, `P1Y6M` → `1 year 6 months`. Anything else is shown as sent.
pub fn iso_duration(raw: &str) -> String {
    let Some(rest) = raw.strip_prefix('P') else {
        return raw.to_owned();
    };
    let mut parts = Vec::new();
    let mut number = String::new();
    for c in rest.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            'Y' => "year",
            'M' => "month",
            'W' => "week",
            'D' => "day",
            _ => return raw.to_owned(),
        };
        let Ok(n) = number.parse::<u64>() else {
            return raw.to_owned();
        };
        parts.push(format!("{n} {unit}{}", if n == 1 { "" } else { "s" }));
        number.clear();
    }
    if parts.is_empty() || !number.is_empty() {
        return raw.to_owned();
    }
    parts.join(" ")
}

/// `50000` (milliunits of a percent) → `50 %`.
pub fn percentage(milli: i64) -> String {
    let whole = milli / 1000;
    let frac = (milli % 1000).abs();
    if frac == 0 {
        format!("{whole} %")
    } else {
        let f = format!("{frac:03}");
        format!("{whole}.{} %", f.trim_end_matches('0'))
    }
}

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

/// How a transaction stands today, as one badge.
fn transaction_badge(v: &Value, now_ms: i64) -> StatusBadge {
    let badge = |word: &str, class: &'static str| StatusBadge {
        raw: None,
        word: word.to_owned(),
        class,
    };
    if int(v, "revocationDate").is_some() {
        return if text(v, "revocationType") == Some("FAMILY_REVOKE") {
            badge("revoked", "badge-bad")
        } else {
            badge("refunded", "badge-bad")
        };
    }
    if flag(v, "isUpgraded") == Some(true) {
        return badge("upgraded", "badge-neutral");
    }
    match int(v, "expiresDate") {
        Some(e) if e > now_ms => badge("active", "badge-good"),
        Some(_) => badge("expired", "badge-neutral"),
        None => badge("purchased", "badge-good"),
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
    pub ownership: Label,
    pub family_shared: bool,
    pub environment: String,
    pub storefront: Option<String>,
    pub transaction_reason: Label,
    pub is_upgraded: bool,
    pub revocation: Option<RevocationView>,
    /// One sentence: not refunded / refunded in full on … / …
    pub refund_status: String,
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
            price: int(v, "price").map(|p| money(p, text(v, "currency").unwrap_or("XXX"))),
            quantity: int(v, "quantity"),
            offer: offer_words(
                int(v, "offerType"),
                text(v, "offerDiscountType"),
                text(v, "offerPeriod"),
                text(v, "offerIdentifier"),
            ),
            ownership: ownership(ownership_raw),
            family_shared: ownership_raw == Some("FAMILY_SHARED"),
            environment: owned(v, "environment").unwrap_or_else(|| "unknown".into()),
            storefront: owned(v, "storefront"),
            transaction_reason: transaction_reason(text(v, "transactionReason")),
            is_upgraded: flag(v, "isUpgraded") == Some(true),
            revocation,
            refund_status,
            badge: transaction_badge(v, now_ms),
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
            renewal_price: int(v, "renewalPrice")
                .map(|p| money(p, text(v, "currency").unwrap_or("XXX"))),
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
    fn money_uses_the_currency_decimals() {
        assert_eq!(money(9_990, "EUR").text, "9.99 EUR");
        assert_eq!(money(1_500_000, "JPY").text, "1,500 JPY");
        assert_eq!(money(12_345, "KWD").text, "12.345 KWD");
        assert_eq!(money(0, "USD").text, "0.00 USD");
        assert_eq!(money(129_990, "CAD").text, "129.99 CAD");
        assert_eq!(money(1_234_567_890, "USD").text, "1,234,567.89 USD");
        assert_eq!(money(12_340, "CLF").text, "12.3400 CLF");
        // Finer than the currency allows: all three milliunit digits, not a rounded amount.
        assert_eq!(money(9_995, "EUR").text, "9.995 EUR");
        assert_eq!(money(1_500_500, "JPY").text, "1,500.500 JPY");
        assert_eq!(money(-9_990, "USD").text, "-9.99 USD");
        assert_eq!(money(9_990, "EUR").amount, "9.99");
    }

    #[test]
    fn durations_and_percentages_read_naturally() {
        assert_eq!(iso_duration("P1M"), "1 month");
        assert_eq!(iso_duration("P2W"), "2 weeks");
        assert_eq!(iso_duration("P1Y6M"), "1 year 6 months");
        assert_eq!(iso_duration("P3D"), "3 days");
        assert_eq!(iso_duration("PT5M"), "PT5M");
        assert_eq!(iso_duration("bogus"), "bogus");
        assert_eq!(percentage(50_000), "50 %");
        assert_eq!(percentage(12_500), "12.5 %");
    }

    #[test]
    fn unknown_enum_values_are_kept_and_said_to_be_unknown() {
        let l = product_type(Some("Super Subscription"));
        assert!(!l.known);
        assert_eq!(l.raw.as_deref(), Some("Super Subscription"));
        assert!(l.text.contains("Super Subscription"));
        assert!(revocation_reason(Some(7)).text.contains("“7”"));
        assert!(!offer_type(Some(9)).known);
        assert!(!expiration_intent(Some(42)).unwrap().known);
        assert_eq!(status_badge(9).word, "status 9");
        assert_eq!(status_badge(3).word, "billing retry");
        assert_eq!(status_badge(2).word, "expired");
        assert_eq!(extend_reason(3).text, "service issue or outage");
    }

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
