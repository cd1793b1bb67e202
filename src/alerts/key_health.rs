//! The health of a project's key in use as the overview and the alert job read it: the one key-health state
//! (`domain::KeyHealth`, read from the key's row) with its word, badge and sentence (`present::status::key_health`,
//! the same the keys page and Step 3 show), plus what an alert needs: which episode of trouble it is about.
use crate::domain::KeyHealth as State;
use crate::present::status::key_health as words;
use crate::store::keys::KeyRow;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyHealthState {
    /// The project has no key in use.
    NoKey,
    /// The key in use, in the one state machine of a key's health.
    Key(State),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyHealth {
    pub state: KeyHealthState,
    pub word: &'static str,
    /// CSS class: `badge-good`, `badge-warn`, `badge-bad`, `badge-neutral`.
    pub badge: &'static str,
    /// The key's health sentence, naming the key.
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
        matches!(self.state, KeyHealthState::Key(s) if s.is_refused())
    }
}

/// The health of `key`, the project's key in use (or none).
pub fn key_health(key: Option<&KeyRow>, _now_ms: i64) -> KeyHealth {
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
    let state = k.health();
    let w = words(state);
    let trouble = state
        .is_refused()
        .then(|| format!("{}:{}", k.id, k.last_success_at.unwrap_or(0)));
    KeyHealth {
        state: KeyHealthState::Key(state),
        word: w.word,
        badge: w.class,
        sentence: format!("Key {} is {}: {}", k.key_id, w.word, w.sentence),
        row_id: Some(k.id),
        key_id: Some(k.key_id.clone()),
        trouble,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use crate::domain::KeyStatus;

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
            sandbox_check: None,
            production_check: None,
            checked_at: None,
        }
    }

    #[test]
    fn the_overview_and_the_alerts_read_the_one_key_health() {
        let none = key_health(None, NOW);
        assert_eq!(
            (none.state, none.badge),
            (KeyHealthState::NoKey, "badge-neutral")
        );
        assert!(!none.needs_action());
        let untried = key_health(Some(&key(KeyStatus::Active, 0, None)), NOW);
        assert_eq!(untried.state, KeyHealthState::Key(State::NotVerified));
        assert!(!untried.needs_action());
        let working = key_health(Some(&key(KeyStatus::Active, 0, Some(NOW - 3_600_000))), NOW);
        assert_eq!(working.state, KeyHealthState::Key(State::Working));
        let words = crate::present::status::key_health(State::Working);
        assert_eq!(
            working.sentence,
            format!("Key 2X9R4HXF34 is {}: {}", words.word, words.sentence)
        );
        let failing = key_health(
            Some(&key(KeyStatus::Failing, 3, Some(NOW - 7_200_000))),
            NOW,
        );
        assert_eq!(failing.state, KeyHealthState::Key(State::Failing));
        assert_eq!(failing.badge, "badge-bad");
        assert!(failing.needs_action());
    }

    #[test]
    fn a_failing_key_is_one_trouble_until_it_works_again() {
        let failing = key_health(Some(&key(KeyStatus::Failing, 2, None)), NOW);
        let worse = key_health(Some(&key(KeyStatus::Failing, 5, None)), NOW);
        assert_eq!(failing.trouble.as_deref(), Some("7:0"));
        assert_eq!(failing.trouble, worse.trouble);
        let relapse = key_health(Some(&key(KeyStatus::Failing, 2, Some(NOW - 1_000))), NOW);
        assert_ne!(relapse.trouble, failing.trouble);
        assert_eq!(
            key_health(Some(&key(KeyStatus::Active, 0, Some(NOW))), NOW).trouble,
            None
        );
    }
}
