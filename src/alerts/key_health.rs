//! The health of a project's key in use, in one word, a badge and one sentence, from what the key's row records
//! today (`apple_keys.status`, the count of Apple's refusals in a row, the last success and failure). The
//! overview and the alert job both read it here, so a finer state machine for keys replaces this one function.
use crate::present::time;
use crate::store::keys::{KeyRow, KeyStatus};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyHealthState {
    /// The project has no key in use.
    NoKey,
    /// Saved, and Apple has not been asked with it yet.
    Untried,
    /// Apple accepted the last call signed with it.
    Working,
    /// Apple refused the last call signed with it, but has accepted it before: one more refusal marks it failing.
    Doubted,
    /// Apple refused it and has never accepted it (a wrong Key ID, Issuer ID or `.p8`, or a key revoked at Apple).
    Refused,
    /// Apple refused it repeatedly: nothing signed with it works.
    Failing,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyHealth {
    pub state: KeyHealthState,
    pub word: &'static str,
    /// CSS class: `badge-good`, `badge-warn`, `badge-bad`, `badge-neutral`.
    pub badge: &'static str,
    pub sentence: String,
    /// The key row's id, when there is a key.
    pub row_id: Option<i64>,
    pub key_id: Option<String>,
    /// The episode of trouble an alert is about: the key's row and its last success before the refusals, so a
    /// key that recovers and fails again is a new event, and one that goes from refused to failing is not.
    pub trouble: Option<String>,
}

impl KeyHealth {
    /// Apple refuses the key: someone must act (an alert goes out, the overview lists it).
    pub fn needs_action(&self) -> bool {
        matches!(
            self.state,
            KeyHealthState::Refused | KeyHealthState::Failing
        )
    }
}

/// The health of `key`, the project's key in use (or none).
pub fn key_health(key: Option<&KeyRow>, now_ms: i64) -> KeyHealth {
    let Some(k) = key else {
        return KeyHealth {
            state: KeyHealthState::NoKey,
            word: "no key",
            badge: "badge-neutral",
            sentence: "This project has no In-App Purchase key yet, so storedesk cannot ask Apple anything."
                .into(),
            row_id: None,
            key_id: None,
            trouble: None,
        };
    };
    let last_failure = match (&k.last_failure, k.last_failure_at) {
        (Some(what), Some(at)) => format!("{what}, {}", time::utc_and_relative(at, now_ms)),
        _ => "no details".into(),
    };
    let (state, word, badge, sentence) = if k.status == KeyStatus::Failing {
        (
            KeyHealthState::Failing,
            "failing",
            "badge-bad",
            format!(
                "Apple refused key {} {} times in a row (last: {last_failure}). Nothing signed with it works until \
                 it is fixed.",
                k.key_id, k.auth_failures
            ),
        )
    } else if k.auth_failures > 0 && k.last_success_at.is_none() {
        (
            KeyHealthState::Refused,
            "refused",
            "badge-bad",
            format!(
                "Apple refused key {} ({last_failure}) and has never accepted it: the Key ID, Issuer ID and .p8 do \
                 not belong together, or the key was revoked in App Store Connect.",
                k.key_id
            ),
        )
    } else if k.auth_failures > 0 {
        (
            KeyHealthState::Doubted,
            "refused once",
            "badge-warn",
            format!(
                "Apple refused the last call signed with key {} ({last_failure}); it accepted the key before. One \
                 more refusal marks the key failing.",
                k.key_id
            ),
        )
    } else if let Some(at) = k.last_success_at {
        (
            KeyHealthState::Working,
            "working",
            "badge-good",
            format!(
                "Apple accepts key {} (last success {}).",
                k.key_id,
                time::utc_and_relative(at, now_ms)
            ),
        )
    } else {
        (
            KeyHealthState::Untried,
            "not tried yet",
            "badge-neutral",
            format!(
                "Key {} is saved; Apple has not been asked with it yet. Verify it to know it works.",
                k.key_id
            ),
        )
    };
    let trouble = matches!(state, KeyHealthState::Refused | KeyHealthState::Failing)
        .then(|| format!("{}:{}", k.id, k.last_success_at.unwrap_or(0)));
    KeyHealth {
        state,
        word,
        badge,
        sentence,
        row_id: Some(k.id),
        key_id: Some(k.key_id.clone()),
        trouble,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000;

    fn key(status: KeyStatus, failures: i64, success: Option<i64>) -> KeyRow {
        KeyRow {
            id: 7,
            project_id: 1,
            key_id: "2X9R4HXF34".into(),
            issuer_id: "57246542-96fe-1a63-e053-0824d011072a".into(),
            fingerprint: "ab".into(),
            master_key_id: "m".into(),
            status,
            uploaded_by: "admin@example.com".into(),
            uploaded_at: NOW - 86_400_000,
            retired_at: None,
            last_success_at: success,
            last_failure_at: (failures > 0).then_some(NOW - 60_000),
            last_failure: (failures > 0).then(|| "HTTP 401 in Production".to_string()),
            auth_failures: failures,
            verified_at: None,
            verify_summary: None,
        }
    }

    #[test]
    fn each_state_has_its_word_badge_and_sentence() {
        let none = key_health(None, NOW);
        assert_eq!(
            (none.state, none.badge),
            (KeyHealthState::NoKey, "badge-neutral")
        );
        let untried = key_health(Some(&key(KeyStatus::Active, 0, None)), NOW);
        assert_eq!(untried.state, KeyHealthState::Untried);
        let working = key_health(Some(&key(KeyStatus::Active, 0, Some(NOW - 3_600_000))), NOW);
        assert_eq!(
            working.sentence,
            "Apple accepts key 2X9R4HXF34 (last success 2027-01-15 07:00 UTC (1 hour ago))."
        );
        let refused = key_health(Some(&key(KeyStatus::Active, 1, None)), NOW);
        assert_eq!(
            (refused.state, refused.badge),
            (KeyHealthState::Refused, "badge-bad")
        );
        assert!(refused.sentence.starts_with(
            "Apple refused key 2X9R4HXF34 (HTTP 401 in Production, 2027-01-15 07:59 UTC (1 minute ago)) and has never accepted it"
        ));
        let doubted = key_health(Some(&key(KeyStatus::Active, 1, Some(NOW - 7_200_000))), NOW);
        assert_eq!(
            (doubted.state, doubted.badge),
            (KeyHealthState::Doubted, "badge-warn")
        );
        assert!(!doubted.needs_action());
        let failing = key_health(
            Some(&key(KeyStatus::Failing, 3, Some(NOW - 7_200_000))),
            NOW,
        );
        assert_eq!(failing.state, KeyHealthState::Failing);
        assert!(failing
            .sentence
            .starts_with("Apple refused key 2X9R4HXF34 3 times in a row"));
    }

    #[test]
    fn a_refused_key_that_starts_failing_is_the_same_trouble_and_a_relapse_is_new() {
        let refused = key_health(Some(&key(KeyStatus::Active, 1, None)), NOW);
        let failing = key_health(Some(&key(KeyStatus::Failing, 2, None)), NOW);
        assert_eq!(refused.trouble.as_deref(), Some("7:0"));
        assert_eq!(refused.trouble, failing.trouble);
        let relapse = key_health(Some(&key(KeyStatus::Failing, 2, Some(NOW - 1_000))), NOW);
        assert_ne!(relapse.trouble, failing.trouble);
        assert_eq!(
            key_health(Some(&key(KeyStatus::Active, 0, Some(NOW))), NOW).trouble,
            None
        );
    }
}
