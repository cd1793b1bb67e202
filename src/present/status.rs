//! Statuses as product.md's badges: a word and a colour class, never the colour alone.
use serde::Serialize;

use crate::domain::KeyHealth;

/// A state as a word and a badge colour.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StatusBadge {
    /// Apple's value, when the state is one Apple sent.
    pub raw: Option<i64>,
    pub word: String,
    /// CSS class: `badge-good`, `badge-warn`, `badge-bad`, `badge-neutral`.
    pub class: &'static str,
}

/// A subscription's status as Apple sends it (`status` of a notification's data, of the subscription
/// statuses): 1 active, 2 expired, 3 billing retry, 4 grace period, 5 revoked.
pub fn subscription_badge(raw: i64) -> StatusBadge {
    let (word, class) = match raw {
        1 => ("active", "badge-good"),
        // Neutral: most subscriptions end this way, and nothing is wrong.
        2 => ("expired", "badge-neutral"),
        3 => ("billing retry", "badge-warn"),
        4 => ("grace period", "badge-warn"),
        5 => ("revoked", "badge-bad"),
        other => {
            return StatusBadge {
                raw: Some(other),
                word: format!("status {other}"),
                class: "badge-neutral",
            }
        }
    };
    StatusBadge {
        raw: Some(raw),
        word: word.to_owned(),
        class,
    }
}

/// What the customer has of one subscription now, as the support desk tells it first: Apple's status (1–5)
/// read together with the renewal info and the latest transaction, so that a free trial, a refund and a Family
/// Sharing revocation each have their own word.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionState {
    Active,
    /// Active, in an introductory free trial.
    FreeTrial,
    /// The renewal charge failed; the customer keeps access while Apple retries (status 4).
    GracePeriod,
    /// The renewal charge failed; Apple retries it and the customer has no access (status 3).
    BillingRetry,
    Expired,
    /// Apple took it back because Family Sharing of it stopped (status 5, `FAMILY_REVOKE`).
    Revoked,
    /// Apple refunded it (status 5 with a refund).
    Refunded,
    /// Only storedesk's index answered, and the last period it knows of has ended: without Apple it is not
    /// known whether it expired or is in a grace period or billing retry.
    PeriodEnded,
    /// A status Apple sent that this version of storedesk does not know.
    Unknown,
}

impl SubscriptionState {
    /// The code machines read (the JSON API's `state`).
    pub fn code(self) -> &'static str {
        match self {
            SubscriptionState::Active => "active",
            SubscriptionState::FreeTrial => "free_trial",
            SubscriptionState::GracePeriod => "grace_period",
            SubscriptionState::BillingRetry => "billing_retry",
            SubscriptionState::Expired => "expired",
            SubscriptionState::Revoked => "revoked",
            SubscriptionState::Refunded => "refunded",
            SubscriptionState::PeriodEnded => "period_ended",
            SubscriptionState::Unknown => "unknown",
        }
    }

    /// Its badge: product.md's words, a free trial's and the index's own.
    pub fn badge(self, raw_status: Option<i64>) -> StatusBadge {
        let (word, class) = match self {
            SubscriptionState::Active => ("active", "badge-good"),
            SubscriptionState::FreeTrial => ("free trial", "badge-good"),
            SubscriptionState::GracePeriod => ("grace period", "badge-warn"),
            SubscriptionState::BillingRetry => ("billing retry", "badge-warn"),
            // Neutral, as Apple's status 2: most subscriptions end this way.
            SubscriptionState::Expired => ("expired", "badge-neutral"),
            SubscriptionState::Revoked => ("revoked", "badge-bad"),
            SubscriptionState::Refunded => ("refunded", "badge-bad"),
            SubscriptionState::PeriodEnded => ("period ended", "badge-neutral"),
            SubscriptionState::Unknown => {
                return match raw_status {
                    Some(raw) => subscription_badge(raw),
                    None => StatusBadge {
                        raw: None,
                        word: "unknown".into(),
                        class: "badge-neutral",
                    },
                }
            }
        };
        StatusBadge {
            raw: raw_status,
            word: word.to_owned(),
            class,
        }
    }
}

/// What one transaction says of itself, for history rows and the matched transaction: never the state of the
/// subscription it belongs to (a period that ended may be in a grace period, or renewed by a later transaction).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TransactionFact {
    /// A one-time purchase (no period).
    Purchased,
    /// Its period runs until a moment still ahead.
    CurrentPeriod,
    /// Its period is over.
    PeriodEnded,
    /// The customer moved to another product of the group during this period.
    Upgraded,
    Refunded,
    /// Access ended because Family Sharing stopped.
    Revoked,
}

impl TransactionFact {
    pub fn badge(self) -> StatusBadge {
        let (word, class) = match self {
            TransactionFact::Purchased => ("purchased", "badge-neutral"),
            TransactionFact::CurrentPeriod => ("current period", "badge-neutral"),
            TransactionFact::PeriodEnded => ("period ended", "badge-neutral"),
            TransactionFact::Upgraded => ("upgraded", "badge-neutral"),
            TransactionFact::Refunded => ("refunded", "badge-bad"),
            TransactionFact::Revoked => ("revoked", "badge-bad"),
        };
        StatusBadge {
            raw: None,
            word: word.to_owned(),
            class,
        }
    }

    /// The word the JSON API's `status` of a transaction has always carried (`active`, `expired`, …), kept so that
    /// no client breaks; it describes the transaction's own period, as it always did.
    pub fn api_status(self) -> &'static str {
        match self {
            TransactionFact::Purchased => "purchased",
            TransactionFact::CurrentPeriod => "active",
            TransactionFact::PeriodEnded => "expired",
            TransactionFact::Upgraded => "upgraded",
            TransactionFact::Refunded => "refunded",
            TransactionFact::Revoked => "revoked",
        }
    }
}

/// A key's health in words: its badge (word and colour) and the one sentence that says what is true of it. Step 3,
/// the keys page, the 401 banner and the project overview all show these, so they never disagree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyHealthWords {
    pub word: &'static str,
    /// CSS class, as [`StatusBadge::class`].
    pub class: &'static str,
    pub sentence: &'static str,
}

pub fn key_health(health: KeyHealth) -> KeyHealthWords {
    let (word, class, sentence) = match health {
        KeyHealth::NotVerified => (
            "not verified",
            "badge-warn",
            "Saved and encrypted, but Apple has not accepted it yet. Verify now asks Apple in Sandbox and in Production.",
        ),
        KeyHealth::Verified => (
            "verified",
            "badge-good",
            "Apple accepted this key in Sandbox and in Production.",
        ),
        KeyHealth::SandboxOnly => (
            "Sandbox only",
            "badge-warn",
            "Apple accepted this key in Sandbox; Production refused it (HTTP 401), most likely because the app has not been released in Production yet.",
        ),
        KeyHealth::ProductionOnly => (
            "Production only",
            "badge-warn",
            "Apple accepted this key in Production; Sandbox refused it (HTTP 401), which Sandbox sometimes does for a while. Verify again later.",
        ),
        KeyHealth::Working => (
            "active",
            "badge-good",
            "Apple accepts calls signed with this key. Verify now checks it in Sandbox and in Production.",
        ),
        KeyHealth::Refused => (
            "refused",
            "badge-bad",
            "Apple refused this key in Sandbox and in Production (HTTP 401): its Key ID, Issuer ID and .p8 do not belong together, or it was revoked in App Store Connect.",
        ),
        KeyHealth::Failing => (
            "failing",
            "badge-bad",
            "Apple keeps refusing calls signed with this key (HTTP 401). Work through the causes of a 401; a key revoked in App Store Connect must be replaced with Rotate.",
        ),
        KeyHealth::Retired => (
            "retired",
            "badge-neutral",
            "Replaced by a newer key; its private part was destroyed.",
        ),
        KeyHealth::RetiredAfterRefusal => (
            "refused, retired",
            "badge-bad",
            "Replaced while Apple refused it (HTTP 401), most likely because it was revoked in App Store Connect; its private part was destroyed.",
        ),
        KeyHealth::Revoked => (
            "revoked",
            "badge-bad",
            "Marked revoked: its private part was destroyed and storedesk never uses it again.",
        ),
    };
    KeyHealthWords {
        word,
        class,
        sentence,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(raw: i64) -> (String, &'static str) {
        let b = subscription_badge(raw);
        (b.word, b.class)
    }

    #[test]
    fn each_subscription_status_has_its_word_and_colour() {
        assert_eq!(shown(1), ("active".into(), "badge-good"));
        assert_eq!(shown(5), ("revoked".into(), "badge-bad"));
        assert_eq!(shown(9), ("status 9".into(), "badge-neutral"));
        assert_eq!(shown(0), ("status 0".into(), "badge-neutral"));
        assert_eq!(subscription_badge(3).raw, Some(3));
    }

    // Where the notification detail page (notifications/words.rs) and the support desk
    // (support/present.rs) used to disagree.

    #[test]
    fn an_expired_subscription_is_neutral() {
        // words: "expired" in badge-bad; the support desk: badge-neutral.
        assert_eq!(shown(2), ("expired".into(), "badge-neutral"));
    }

    #[test]
    fn billing_retry_and_grace_period_use_product_words() {
        // words: "in billing retry" and "in billing grace period"; the support desk: product.md's words.
        assert_eq!(shown(3), ("billing retry".into(), "badge-warn"));
        assert_eq!(shown(4), ("grace period".into(), "badge-warn"));
    }

    #[test]
    fn each_state_of_a_subscription_has_its_word_and_colour() {
        let shown = |s: SubscriptionState| {
            let b = s.badge(None);
            (b.word, b.class)
        };
        assert_eq!(
            shown(SubscriptionState::Active),
            ("active".into(), "badge-good")
        );
        assert_eq!(
            shown(SubscriptionState::FreeTrial),
            ("free trial".into(), "badge-good")
        );
        assert_eq!(
            shown(SubscriptionState::GracePeriod),
            ("grace period".into(), "badge-warn")
        );
        assert_eq!(
            shown(SubscriptionState::BillingRetry),
            ("billing retry".into(), "badge-warn")
        );
        assert_eq!(
            shown(SubscriptionState::Expired),
            ("expired".into(), "badge-neutral")
        );
        assert_eq!(
            shown(SubscriptionState::Revoked),
            ("revoked".into(), "badge-bad")
        );
        assert_eq!(
            shown(SubscriptionState::Refunded),
            ("refunded".into(), "badge-bad")
        );
        assert_eq!(
            shown(SubscriptionState::PeriodEnded),
            ("period ended".into(), "badge-neutral")
        );
        assert_eq!(SubscriptionState::Unknown.badge(Some(9)).word, "status 9");
        assert_eq!(SubscriptionState::FreeTrial.code(), "free_trial");
    }

    #[test]
    fn a_transaction_speaks_of_its_own_period_and_the_api_keeps_its_words() {
        assert_eq!(TransactionFact::PeriodEnded.badge().word, "period ended");
        assert_eq!(
            TransactionFact::CurrentPeriod.badge().word,
            "current period"
        );
        assert_eq!(TransactionFact::Refunded.badge().class, "badge-bad");
        assert_eq!(TransactionFact::PeriodEnded.api_status(), "expired");
        assert_eq!(TransactionFact::CurrentPeriod.api_status(), "active");
    }

    #[test]
    fn each_key_health_has_its_own_word_and_sentence() {
        let words: Vec<KeyHealthWords> = KeyHealth::ALL.into_iter().map(key_health).collect();
        for (i, a) in words.iter().enumerate() {
            for b in &words[i + 1..] {
                assert_ne!(a.word, b.word);
                assert_ne!(a.sentence, b.sentence);
            }
            assert!(a.sentence.ends_with('.'), "{}", a.sentence);
        }
        // Refused keys are never shown in a calm colour, whatever else they are.
        for health in KeyHealth::ALL.into_iter().filter(|h| h.is_refused()) {
            assert_eq!(key_health(health).class, "badge-bad");
        }
        assert_eq!(key_health(KeyHealth::Verified).class, "badge-good");
        assert_eq!(key_health(KeyHealth::Retired).class, "badge-neutral");
    }
}
