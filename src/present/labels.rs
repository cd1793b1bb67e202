//! Apple's enumerations in words: each value keeps its raw form beside our words, and a value this version
//! of storedesk does not know is shown raw and said to be unknown, never dropped (Apple adds values without
//! notice).
use serde::Serialize;

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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn unknown_values_are_kept_and_said_to_be_unknown() {
        let l = product_type(Some("Super Subscription"));
        assert!(!l.known);
        assert_eq!(l.raw.as_deref(), Some("Super Subscription"));
        assert!(l.text.contains("Super Subscription"));
        assert!(revocation_reason(Some(7)).text.contains("“7”"));
        assert!(!offer_type(Some(9)).known);
        assert!(!expiration_intent(Some(42)).unwrap().known);
        assert_eq!(extend_reason(3).text, "service issue or outage");
        assert!(!extend_reason(42).known);
    }

    #[test]
    fn absent_values_say_so() {
        assert_eq!(product_type(None).text, "unknown product type");
        assert_eq!(offer_type(None).text, "no offer");
        assert!(expiration_intent(None).is_none());
        assert!(price_increase_status(None).is_none());
        assert_eq!(ownership(None).text, "purchased by the customer");
    }

    // Where the notification detail page (notifications/words.rs) and the support desk
    // (support/present.rs) used to word the same value differently.

    #[test]
    fn ownership_in_words() {
        // words: "bought by the customer", "shared through Family Sharing", and an unknown value raw.
        assert_eq!(
            ownership(Some("PURCHASED")).text,
            "purchased by the customer"
        );
        assert_eq!(
            ownership(Some("FAMILY_SHARED")).text,
            "shared with the customer through Family Sharing"
        );
        assert_eq!(
            ownership(Some("LENT")).text,
            "ownership “LENT” (a value this version of storedesk does not know)"
        );
    }

    #[test]
    fn transaction_reason_in_words() {
        // words: "a purchase", "an automatic renewal".
        assert_eq!(transaction_reason(Some("PURCHASE")).text, "purchase");
        assert_eq!(
            transaction_reason(Some("RENEWAL")).text,
            "automatic renewal"
        );
    }

    #[test]
    fn revocation_reason_in_words() {
        // words: "… such as an accidental purchase", and "reason 7" for an unknown value.
        assert_eq!(
            revocation_reason(Some(0)).text,
            "refunded for another reason, for example an accidental purchase"
        );
        assert_eq!(
            revocation_reason(Some(1)).text,
            "refunded because of an actual or perceived issue in the app"
        );
        assert_eq!(
            revocation_reason(Some(7)).text,
            "revocation reason “7” (a value this version of storedesk does not know)"
        );
    }

    #[test]
    fn expiration_intent_in_words() {
        // words: "a billing error", "the customer did not consent to a price increase", "reason 42".
        let text = |v| expiration_intent(Some(v)).unwrap().text;
        assert_eq!(text(1), "the customer cancelled");
        assert_eq!(text(2), "a billing error (the payment failed)");
        assert_eq!(text(3), "the customer did not agree to a price increase");
        assert_eq!(text(4), "the product was not available at renewal");
        assert_eq!(text(5), "another reason");
        assert!(text(42).contains("“42”"));
    }

    #[test]
    fn price_increase_status_in_words() {
        // words: "the customer has not responded to the price increase" and
        // "the customer consented to the price increase (or needed not)".
        let text = |v| price_increase_status(Some(v)).unwrap().text;
        assert_eq!(
            text(0),
            "a price increase is pending; the customer has not responded yet"
        );
        assert_eq!(
            text(1),
            "the customer agreed to the price increase (or was told of one that needs no consent)"
        );
    }

    #[test]
    fn offer_type_in_words() {
        // The same words in both; words showed "offer type 9" for an unknown value.
        assert_eq!(offer_type(Some(1)).text, "introductory offer");
        assert_eq!(offer_type(Some(4)).text, "win-back offer");
        assert_eq!(
            offer_type(Some(9)).text,
            "offer type “9” (a value this version of storedesk does not know)"
        );
    }
}
