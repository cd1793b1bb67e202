//! What the customer has of one subscription now, as one badge and one sentence ("In grace period until …"):
//! from Apple's status read together with the renewal info and the latest transaction, or, when only storedesk's
//! index can answer, from the latest transaction it holds, saying what cannot be known without Apple. The lookup
//! card, the customer page, the subscription page and the JSON API all take their words from here.
use serde::Serialize;

use crate::present::status::SubscriptionState;
use crate::present::{StatusBadge, When};
use crate::support::present::{RenewalView, TransactionView};

/// One subscription's state in words.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StateView {
    pub state: SubscriptionState,
    pub badge: StatusBadge,
    /// One or two sentences for people, the most important first.
    pub sentence: String,
    /// Until when the customer has (or had) access: the period's end, or the grace period's.
    pub until: Option<When>,
    /// Since when the renewal charge is being retried (billing retry, grace period).
    pub since: Option<When>,
    /// Whether it renews by itself; `None` when Apple's renewal info is not at hand.
    pub auto_renew: Option<bool>,
    /// Apple's status (1 active, 2 expired, 3 billing retry, 4 grace period, 5 revoked) when Apple answered.
    pub apple_status: Option<i64>,
}

fn at(w: &When) -> String {
    format!("{} ({})", w.utc, w.relative)
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// "Refunded on …" or "Revoked on …: Family Sharing stopped", from the latest transaction's revocation.
fn revoked(latest: Option<&TransactionView>) -> (SubscriptionState, String, Option<When>) {
    match latest.and_then(|t| t.revocation.as_ref()) {
        Some(r) if r.kind.raw.as_deref() == Some("FAMILY_REVOKE") => (
            SubscriptionState::Revoked,
            format!(
                "Revoked on {}: the family member who shared it stopped Family Sharing, so the customer no longer has access.",
                at(&r.date)
            ),
            Some(r.date.clone()),
        ),
        Some(r) => {
            let part = match (r.kind.raw.as_deref(), &r.percentage) {
                (Some("REFUND_PRORATED"), Some(p)) => format!(" in part ({p})"),
                (Some("REFUND_PRORATED"), None) => " in part".to_owned(),
                _ => String::new(),
            };
            (
                SubscriptionState::Refunded,
                format!(
                    "Refunded{part} on {}; access ended then. Apple's reason: {}.",
                    at(&r.date),
                    r.reason.text
                ),
                Some(r.date.clone()),
            )
        }
        None => (
            SubscriptionState::Revoked,
            "Revoked by Apple; the customer no longer has access.".to_owned(),
            None,
        ),
    }
}

/// What happens at the end of the period, by the renewal info: " Auto-renew is on: …" or "off: …".
fn renewal_clause(
    latest: Option<&TransactionView>,
    renewal: Option<&RenewalView>,
    trial: bool,
) -> String {
    let Some(r) = renewal else {
        return String::new();
    };
    if !r.auto_renew_on {
        return if trial {
            " Auto-renew is off: it ends with the trial.".to_owned()
        } else {
            " Auto-renew is off: it ends then.".to_owned()
        };
    }
    let into = match (&r.auto_renew_product_id, latest) {
        (Some(p), Some(t)) if *p != t.product_id => format!(" as {p}"),
        _ => String::new(),
    };
    let price = r
        .renewal_price
        .as_ref()
        .map(|m| format!(" for {}", m.text))
        .unwrap_or_default();
    if trial {
        format!(" Auto-renew is on: the first paid period starts then{into}{price}.")
    } else {
        format!(" Auto-renew is on: it renews then{into}{price}.")
    }
}

/// A price increase the customer has not answered yet, and Family Sharing: what an agent should know too.
fn notes(latest: Option<&TransactionView>, renewal: Option<&RenewalView>) -> String {
    let mut s = String::new();
    if let Some(pi) = renewal.and_then(|r| r.price_increase.as_ref()) {
        if pi.raw.as_deref() == Some("0") {
            s.push_str(&format!(" {}.", capitalised(&pi.text)));
        }
    }
    if latest.is_some_and(|t| t.family_shared) {
        s.push_str(" Shared with the customer through Family Sharing.");
    }
    s
}

/// The state Apple reports (`status` of Get All Subscription Statuses), in words.
pub fn from_apple(
    status: i64,
    latest: Option<&TransactionView>,
    renewal: Option<&RenewalView>,
) -> StateView {
    let expires = latest.and_then(|t| t.expires_date.clone());
    let auto_renew = renewal.map(|r| r.auto_renew_on);
    let (state, sentence, until, since) = match status {
        1 => {
            let trial = latest.is_some_and(|t| t.is_free_trial);
            let (state, lead) = match (&expires, trial) {
                (Some(e), true) => (
                    SubscriptionState::FreeTrial,
                    format!("In a free trial until {}.", at(e)),
                ),
                (None, true) => (SubscriptionState::FreeTrial, "In a free trial.".into()),
                (Some(e), false) => (
                    SubscriptionState::Active,
                    format!("Active until {}.", at(e)),
                ),
                (None, false) => (SubscriptionState::Active, "Active.".into()),
            };
            (
                state,
                format!(
                    "{lead}{}{}",
                    renewal_clause(latest, renewal, trial),
                    notes(latest, renewal)
                ),
                expires.clone(),
                None,
            )
        }
        2 => {
            let when = expires
                .as_ref()
                .map(|e| format!(" on {}", at(e)))
                .unwrap_or_default();
            let why = renewal
                .and_then(|r| r.expiration_intent.as_ref())
                .map(|i| format!(" because {}", i.text))
                .unwrap_or_default();
            (
                SubscriptionState::Expired,
                format!("Expired{when}{why}."),
                expires.clone(),
                None,
            )
        }
        3 => {
            let since = expires
                .as_ref()
                .map(|e| format!(" since {}", at(e)))
                .unwrap_or_default();
            (
                SubscriptionState::BillingRetry,
                format!(
                    "In billing retry{since}: the renewal charge failed and Apple is retrying it; the customer has no access meanwhile.{}",
                    notes(latest, renewal)
                ),
                expires.clone(),
                expires.clone(),
            )
        }
        4 => {
            let grace_end = renewal.and_then(|r| r.grace_period_ends.clone());
            let until = grace_end
                .as_ref()
                .map(|g| format!(" until {}", at(g)))
                .unwrap_or_default();
            let failed = expires
                .as_ref()
                .map(|e| format!(" on {}", at(e)))
                .unwrap_or_default();
            let off = if auto_renew == Some(false) {
                " Auto-renew is off."
            } else {
                ""
            };
            (
                SubscriptionState::GracePeriod,
                format!(
                    "In grace period{until}: the renewal charge failed{failed} and Apple is retrying it; the customer keeps access meanwhile.{off}{}",
                    notes(latest, renewal)
                ),
                grace_end.or(expires.clone()),
                expires.clone(),
            )
        }
        5 => {
            let (state, sentence, on) = revoked(latest);
            (state, sentence, on, None)
        }
        other => (
            SubscriptionState::Unknown,
            format!("Apple reports status {other}, which this version of storedesk does not know."),
            expires.clone(),
            None,
        ),
    };
    StateView {
        badge: state.badge(Some(status)),
        state,
        sentence,
        until,
        since,
        auto_renew,
        apple_status: Some(status),
    }
}

/// The state as far as storedesk's index knows it, from the subscription's latest transaction there: a refund
/// and a period still running are facts of that transaction; whether an ended period expired, is in a grace
/// period or in billing retry, and whether it renews, only Apple can say.
pub fn from_index(latest: &TransactionView, now_ms: i64) -> StateView {
    let (state, sentence, until) = match &latest.expires_date {
        _ if latest.revocation.is_some() => revoked(Some(latest)),
        Some(e) if e.ms > now_ms && latest.is_free_trial => (
            SubscriptionState::FreeTrial,
            format!(
                "In a free trial until {}, as far as storedesk's index knows; whether it renews is not known without Apple.",
                at(e)
            ),
            Some(e.clone()),
        ),
        Some(e) if e.ms > now_ms => (
            SubscriptionState::Active,
            format!(
                "Active until {}, as far as storedesk's index knows; whether it renews is not known without Apple.",
                at(e)
            ),
            Some(e.clone()),
        ),
        Some(e) => (
            SubscriptionState::PeriodEnded,
            format!(
                "The last period storedesk's index knows of ended on {}; without Apple it is not known whether it expired, renewed since, or is in a grace period or billing retry.",
                at(e)
            ),
            Some(e.clone()),
        ),
        None => (
            SubscriptionState::Unknown,
            "storedesk's index holds no period for it; only Apple can tell its state.".to_owned(),
            None,
        ),
    };
    StateView {
        badge: state.badge(None),
        state,
        sentence,
        until,
        since: None,
        auto_renew: None,
        apple_status: None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_800_000_000_000;
    const DAY: i64 = 86_400_000;

    fn tx(extra: serde_json::Value) -> TransactionView {
        let mut v = json!({
            "transactionId": "2", "originalTransactionId": "1", "productId": "pro.monthly",
            "type": "Auto-Renewable Subscription", "purchaseDate": NOW - 20 * DAY,
            "expiresDate": NOW + 10 * DAY, "price": 9990, "currency": "USD",
        });
        if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
            o.extend(e.clone());
        }
        TransactionView::from_decoded(&v, NOW)
    }

    fn renewal(v: serde_json::Value) -> RenewalView {
        RenewalView::from_decoded(&v, NOW)
    }

    #[test]
    fn active_says_until_when_and_what_happens_then() {
        let t = tx(json!({}));
        let on = renewal(
            json!({"autoRenewStatus": 1, "autoRenewProductId": "pro.monthly", "productId": "pro.monthly",
                   "renewalPrice": 9990, "currency": "USD"}),
        );
        let s = from_apple(1, Some(&t), Some(&on));
        assert_eq!(s.state, SubscriptionState::Active);
        assert_eq!(s.badge.word, "active");
        assert!(s.sentence.starts_with("Active until "), "{}", s.sentence);
        assert!(
            s.sentence
                .ends_with("(in 10 days). Auto-renew is on: it renews then for 9.99 USD."),
            "{}",
            s.sentence
        );
        assert_eq!(s.auto_renew, Some(true));
        let off = renewal(json!({"autoRenewStatus": 0}));
        let s = from_apple(1, Some(&t), Some(&off));
        assert!(s.sentence.ends_with("Auto-renew is off: it ends then."));
        let into = renewal(json!({"autoRenewStatus": 1, "autoRenewProductId": "pro.yearly"}));
        assert!(from_apple(1, Some(&t), Some(&into))
            .sentence
            .ends_with("it renews then as pro.yearly."));
    }

    #[test]
    fn a_free_trial_is_said_to_be_one() {
        let t = tx(json!({"offerType": 1, "offerDiscountType": "FREE_TRIAL", "price": 0}));
        let s = from_apple(1, Some(&t), Some(&renewal(json!({"autoRenewStatus": 1}))));
        assert_eq!(s.state, SubscriptionState::FreeTrial);
        assert_eq!(s.badge.word, "free trial");
        assert!(s.sentence.starts_with("In a free trial until "));
        assert!(s
            .sentence
            .ends_with("Auto-renew is on: the first paid period starts then."));
    }

    #[test]
    fn grace_period_and_billing_retry_are_never_called_expired() {
        let t = tx(json!({"expiresDate": NOW - 2 * DAY}));
        let grace = from_apple(
            4,
            Some(&t),
            Some(&renewal(
                json!({"autoRenewStatus": 1, "isInBillingRetryPeriod": true, "gracePeriodExpiresDate": NOW + 14 * DAY}),
            )),
        );
        assert_eq!(grace.badge.word, "grace period");
        assert!(grace.sentence.starts_with("In grace period until "));
        assert!(grace
            .sentence
            .contains("(in 14 days): the renewal charge failed on "));
        assert!(grace
            .sentence
            .contains("the customer keeps access meanwhile."));
        assert_eq!(grace.until.unwrap().ms, NOW + 14 * DAY);
        let retry = from_apple(
            3,
            Some(&t),
            Some(&renewal(json!({"isInBillingRetryPeriod": true}))),
        );
        assert_eq!(retry.badge.word, "billing retry");
        assert!(retry.sentence.starts_with("In billing retry since "));
        assert!(retry
            .sentence
            .contains("(2 days ago): the renewal charge failed"));
        assert_eq!(retry.since.unwrap().ms, NOW - 2 * DAY);
    }

    #[test]
    fn expired_says_why() {
        let t = tx(json!({"expiresDate": NOW - 35 * DAY}));
        let s = from_apple(
            2,
            Some(&t),
            Some(&renewal(
                json!({"autoRenewStatus": 0, "expirationIntent": 1}),
            )),
        );
        assert_eq!(s.badge.word, "expired");
        assert!(s.sentence.starts_with("Expired on "));
        assert!(
            s.sentence
                .ends_with("(35 days ago) because the customer cancelled."),
            "{}",
            s.sentence
        );
    }

    #[test]
    fn a_refund_and_a_family_revocation_are_told_apart() {
        let refunded = tx(
            json!({"revocationDate": NOW - 5 * DAY, "revocationReason": 1, "revocationType": "REFUND_FULL"}),
        );
        let s = from_apple(5, Some(&refunded), None);
        assert_eq!(s.state, SubscriptionState::Refunded);
        assert!(s.sentence.starts_with("Refunded on "));
        assert!(s.sentence.ends_with(
            "Apple's reason: refunded because of an actual or perceived issue in the app."
        ));
        let family = tx(
            json!({"revocationDate": NOW - 5 * DAY, "revocationReason": 0, "revocationType": "FAMILY_REVOKE"}),
        );
        let s = from_apple(5, Some(&family), None);
        assert_eq!(s.state, SubscriptionState::Revoked);
        assert!(s.sentence.contains("stopped Family Sharing"));
        assert_eq!(from_apple(5, None, None).badge.word, "revoked");
        assert_eq!(from_apple(9, None, None).badge.word, "status 9");
    }

    #[test]
    fn the_index_claims_only_what_its_transaction_says() {
        let running = from_index(&tx(json!({})), NOW);
        assert_eq!(running.badge.word, "active");
        assert!(running
            .sentence
            .contains("as far as storedesk's index knows"));
        assert_eq!(running.auto_renew, None);
        let ended = from_index(&tx(json!({"expiresDate": NOW - DAY})), NOW);
        assert_eq!(ended.state, SubscriptionState::PeriodEnded);
        assert_eq!(ended.badge.word, "period ended");
        assert!(ended.sentence.contains("grace period or billing retry"));
        let refunded = from_index(
            &tx(
                json!({"revocationDate": NOW - DAY, "revocationReason": 0, "revocationType": "REFUND_FULL"}),
            ),
            NOW,
        );
        assert_eq!(refunded.badge.word, "refunded");
    }
}
