//! Statuses as product.md's badges: a word and a colour class, never the colour alone.
use serde::Serialize;

use crate::domain::KeyStatus;

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

/// The badge class of a key's state (the word is the state itself: active, failing, retired, revoked).
pub fn key_badge(status: KeyStatus) -> &'static str {
    match status {
        KeyStatus::Active => "badge-good",
        KeyStatus::Failing | KeyStatus::Revoked => "badge-bad",
        KeyStatus::Retired => "badge-neutral",
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
    fn key_states() {
        assert_eq!(key_badge(KeyStatus::Active), "badge-good");
        assert_eq!(key_badge(KeyStatus::Failing), "badge-bad");
        assert_eq!(key_badge(KeyStatus::Revoked), "badge-bad");
        assert_eq!(key_badge(KeyStatus::Retired), "badge-neutral");
    }
}
