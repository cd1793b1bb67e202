//! Apple's notification types, subtypes and consumption request reasons in words a support agent reads at a
//! glance. Unknown values (Apple adds them without notice) are shown raw, never refused. The values a
//! notification shares with the support desk (prices, subscription status, a transaction's enumerations)
//! are worded by `crate::present`.

/// Every notificationType Apple documents, in the order the filter lists them.
pub const KNOWN_TYPES: &[&str] = &[
    "SUBSCRIBED",
    "DID_RENEW",
    "DID_CHANGE_RENEWAL_PREF",
    "DID_CHANGE_RENEWAL_STATUS",
    "OFFER_REDEEMED",
    "DID_FAIL_TO_RENEW",
    "GRACE_PERIOD_EXPIRED",
    "EXPIRED",
    "PRICE_INCREASE",
    "REFUND",
    "REFUND_DECLINED",
    "REFUND_REVERSED",
    "CONSUMPTION_REQUEST",
    "REVOKE",
    "RENEWAL_EXTENDED",
    "RENEWAL_EXTENSION",
    "ONE_TIME_CHARGE",
    "EXTERNAL_PURCHASE_TOKEN",
    "RESCIND_CONSENT",
    "METADATA_UPDATE",
    "MIGRATION",
    "PRICE_CHANGE",
    "TEST",
];

/// Every subtype Apple documents.
pub const KNOWN_SUBTYPES: &[&str] = &[
    "INITIAL_BUY",
    "RESUBSCRIBE",
    "UPGRADE",
    "DOWNGRADE",
    "AUTO_RENEW_ENABLED",
    "AUTO_RENEW_DISABLED",
    "VOLUNTARY",
    "BILLING_RETRY",
    "PRICE_INCREASE",
    "PRODUCT_NOT_FOR_SALE",
    "GRACE_PERIOD",
    "BILLING_RECOVERY",
    "PENDING",
    "ACCEPTED",
    "SUMMARY",
    "FAILURE",
    "UNREPORTED",
    "CREATED",
    "ACTIVE_TOKEN_REMINDER",
];

/// A short label for a badge.
pub fn type_label(t: &str) -> String {
    match t {
        "SUBSCRIBED" => "subscribed",
        "DID_CHANGE_RENEWAL_PREF" => "plan change",
        "DID_CHANGE_RENEWAL_STATUS" => "auto-renew changed",
        "OFFER_REDEEMED" => "offer redeemed",
        "DID_RENEW" => "renewed",
        "EXPIRED" => "expired",
        "DID_FAIL_TO_RENEW" => "renewal failed",
        "GRACE_PERIOD_EXPIRED" => "grace period over",
        "PRICE_INCREASE" => "price increase",
        "REFUND" => "refunded",
        "REFUND_DECLINED" => "refund declined",
        "REFUND_REVERSED" => "refund reversed",
        "CONSUMPTION_REQUEST" => "consumption request",
        "RENEWAL_EXTENDED" => "renewal extended",
        "RENEWAL_EXTENSION" => "mass extension",
        "REVOKE" => "family access revoked",
        "TEST" => "test",
        "EXTERNAL_PURCHASE_TOKEN" => "external purchase",
        "ONE_TIME_CHARGE" => "one-time purchase",
        "RESCIND_CONSENT" => "consent withdrawn",
        "METADATA_UPDATE" => "metadata update",
        "MIGRATION" => "migration",
        "PRICE_CHANGE" => "price change",
        other => return other.to_ascii_lowercase().replace('_', " "),
    }
    .to_owned()
}

/// Badge colour class; the label always carries the meaning too.
pub fn type_badge(t: &str, subtype: Option<&str>) -> &'static str {
    match (t, subtype) {
        (
            "SUBSCRIBED" | "DID_RENEW" | "OFFER_REDEEMED" | "ONE_TIME_CHARGE" | "REFUND_REVERSED",
            _,
        )
        | ("RENEWAL_EXTENDED", _)
        | ("DID_CHANGE_RENEWAL_STATUS", Some("AUTO_RENEW_ENABLED")) => "badge-good",
        ("REFUND" | "REVOKE" | "EXPIRED" | "GRACE_PERIOD_EXPIRED", _) => "badge-bad",
        ("DID_FAIL_TO_RENEW" | "PRICE_INCREASE" | "CONSUMPTION_REQUEST", _)
        | ("DID_CHANGE_RENEWAL_STATUS", Some("AUTO_RENEW_DISABLED")) => "badge-warn",
        _ => "badge-neutral",
    }
}

pub fn subtype_label(s: &str) -> String {
    match s {
        "INITIAL_BUY" => "first purchase",
        "RESUBSCRIBE" => "resubscribed",
        "UPGRADE" => "upgrade",
        "DOWNGRADE" => "downgrade",
        "AUTO_RENEW_ENABLED" => "auto-renew on",
        "AUTO_RENEW_DISABLED" => "auto-renew off",
        "VOLUNTARY" => "customer cancelled",
        "BILLING_RETRY" => "billing retry ended",
        "PRICE_INCREASE" => "price increase refused",
        "PRODUCT_NOT_FOR_SALE" => "product not for sale",
        "GRACE_PERIOD" => "grace period",
        "BILLING_RECOVERY" => "billing recovered",
        "PENDING" => "awaiting consent",
        "ACCEPTED" => "accepted",
        "SUMMARY" => "summary",
        "FAILURE" => "failure",
        "UNREPORTED" => "unreported",
        "CREATED" => "created",
        "ACTIVE_TOKEN_REMINDER" => "active token reminder",
        other => return other.to_ascii_lowercase().replace('_', " "),
    }
    .to_owned()
}

/// What the notification means, in one or two sentences.
pub fn meaning(t: &str, subtype: Option<&str>) -> String {
    let s = match (t, subtype) {
        ("SUBSCRIBED", Some("RESUBSCRIBE")) => "The customer subscribed again to a subscription group they had left.",
        ("SUBSCRIBED", _) => "The customer subscribed to this subscription group for the first time.",
        ("DID_CHANGE_RENEWAL_PREF", Some("UPGRADE")) => "The customer upgraded their subscription; the upgrade takes effect immediately.",
        ("DID_CHANGE_RENEWAL_PREF", Some("DOWNGRADE")) => "The customer chose to downgrade; the new product takes effect at the next renewal.",
        ("DID_CHANGE_RENEWAL_PREF", _) => "The customer went back to their current product, cancelling a pending downgrade.",
        ("DID_CHANGE_RENEWAL_STATUS", Some("AUTO_RENEW_ENABLED")) => "The customer turned automatic renewal back on.",
        ("DID_CHANGE_RENEWAL_STATUS", _) => "Automatic renewal was turned off (by the customer, or by Apple after a refund); the subscription ends with the current period.",
        ("OFFER_REDEEMED", Some("INITIAL_BUY")) => "The customer redeemed an offer for their first subscription in this group.",
        ("OFFER_REDEEMED", Some("RESUBSCRIBE")) => "The customer redeemed an offer to subscribe again.",
        ("OFFER_REDEEMED", Some("UPGRADE")) => "The customer redeemed an offer to upgrade; it takes effect immediately.",
        ("OFFER_REDEEMED", Some("DOWNGRADE")) => "The customer redeemed an offer to downgrade; it takes effect at the next renewal.",
        ("OFFER_REDEEMED", _) => "The customer redeemed an offer for their current subscription.",
        ("DID_RENEW", Some("BILLING_RECOVERY")) => "The subscription renewed after an earlier renewal had failed: billing recovered.",
        ("DID_RENEW", _) => "The subscription renewed.",
        ("EXPIRED", Some("VOLUNTARY")) => "The subscription expired because the customer turned off automatic renewal.",
        ("EXPIRED", Some("BILLING_RETRY")) => "The subscription expired because billing retry ended without a successful payment.",
        ("EXPIRED", Some("PRICE_INCREASE")) => "The subscription expired because the customer did not consent to a price increase.",
        ("EXPIRED", Some("PRODUCT_NOT_FOR_SALE")) => "The subscription expired because the product was not for sale when it was due to renew.",
        ("EXPIRED", _) => "The subscription expired.",
        ("DID_FAIL_TO_RENEW", Some("GRACE_PERIOD")) => "The renewal failed because of a billing problem; the customer keeps access during the billing grace period while Apple retries.",
        ("DID_FAIL_TO_RENEW", _) => "The renewal failed because of a billing problem; Apple keeps retrying (billing retry) and the customer has no access until a payment succeeds.",
        ("GRACE_PERIOD_EXPIRED", _) => "The billing grace period ended without a successful payment; access stops while Apple keeps retrying.",
        ("PRICE_INCREASE", Some("ACCEPTED")) => "The customer accepted a price increase (or it needed no consent).",
        ("PRICE_INCREASE", _) => "Apple told the customer about a price increase that needs their consent; they have not answered yet.",
        ("REFUND", _) => "Apple refunded this transaction; take back what it granted.",
        ("REFUND_DECLINED", _) => "Apple declined the customer's refund request.",
        ("REFUND_REVERSED", _) => "Apple reversed an earlier refund (for example after a dispute); grant the content or service again.",
        ("CONSUMPTION_REQUEST", _) => "The customer asked for a refund, and Apple asks for consumption information to decide. Answer within 12 hours of the request.",
        ("RENEWAL_EXTENDED", _) => "The subscription's renewal date was extended.",
        ("RENEWAL_EXTENSION", Some("FAILURE")) => "During a renewal date extension for all subscribers, this subscription could not be extended.",
        ("RENEWAL_EXTENSION", _) => "A renewal date extension for all eligible subscribers finished; the summary has the counts.",
        ("REVOKE", _) => "Family Sharing access to this purchase ended: the purchaser stopped sharing it, left the family, or was refunded.",
        ("TEST", _) => "A test notification, requested to check that the notification URL works.",
        ("EXTERNAL_PURCHASE_TOKEN", Some("UNREPORTED")) => "An external purchase token was created but not reported to Apple in time.",
        ("EXTERNAL_PURCHASE_TOKEN", _) => "News about an external purchase token.",
        ("ONE_TIME_CHARGE", _) => "The customer bought a consumable, non-consumable or non-renewing subscription.",
        ("RESCIND_CONSENT", _) => "A parent or guardian withdrew consent for a child's use of the app.",
        ("METADATA_UPDATE", _) => "The metadata of an Advanced Commerce API subscription changed.",
        ("MIGRATION", _) => "An Advanced Commerce API subscription was migrated.",
        ("PRICE_CHANGE", _) => "The price of an Advanced Commerce API subscription changed.",
        (other, _) => {
            return format!(
                "Apple sent a notification type storedesk does not know yet ({other}); its data is kept as received."
            )
        }
    };
    s.to_owned()
}

pub fn source_label(source: &str) -> &'static str {
    match source {
        "webhook" => "delivered by Apple",
        "backfill" => "fetched by a backfill",
        "recovered" => "recovered (never arrived)",
        _ => "other",
    }
}

pub fn consumption_reason(reason: &str) -> String {
    match reason {
        "UNINTENDED_PURCHASE" => "The customer didn't mean to make the purchase.".to_owned(),
        "FULFILLMENT_ISSUE" => {
            "The customer had a problem receiving or using the purchase.".to_owned()
        }
        "UNSATISFIED_WITH_PURCHASE" => {
            "The customer is not satisfied with the purchase.".to_owned()
        }
        "LEGAL" => "The customer asked for a refund for a legal reason.".to_owned(),
        "OTHER" => "Another reason.".to_owned(),
        other => format!("A reason storedesk does not know yet ({other})."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_codes_are_shown_not_refused() {
        assert_eq!(type_label("NEW_THING"), "new thing");
        assert!(meaning("NEW_THING", None).contains("NEW_THING"));
        assert_eq!(type_badge("NEW_THING", None), "badge-neutral");
    }

    #[test]
    fn every_known_type_has_its_own_words() {
        for t in KNOWN_TYPES {
            assert!(!meaning(t, None).contains("does not know"), "{t}");
        }
        for s in KNOWN_SUBTYPES {
            assert!(!subtype_label(s).contains('_'), "{s}");
        }
    }
}
