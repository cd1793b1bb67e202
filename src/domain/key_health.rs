//! A key's health: what storedesk recorded about an In-App Purchase key (its status, what the last Verify now
//! found in each environment, whether a call signed with it ever succeeded, 401s since) read as one state, so
//! Step 3, the keys page, the 401 banner and the project overview all say the same of it.
use super::KeyStatus;

/// How one environment answered the last conclusive Verify now. Stored as the word `as_str()` gives
/// (`apple_keys.sandbox_check`, `apple_keys.production_check`); an inconclusive answer (Apple unreachable, its own
/// 5xx) is not stored, so the previous verdict stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// Apple took the token: the Key ID, Issuer ID, `.p8` and bundle ID belong together.
    Accepted,
    /// HTTP 401.
    Refused,
}

impl Verdict {
    pub const ALL: [Verdict; 2] = [Verdict::Accepted, Verdict::Refused];

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Accepted => "accepted",
            Verdict::Refused => "refused",
        }
    }
}

/// 401s from calls in a row after which a key in use is stored as `failing`.
pub const FAILING_AFTER_401S: i64 = 2;

/// What storedesk recorded about one key, as the health reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyFacts {
    pub status: KeyStatus,
    pub sandbox: Option<Verdict>,
    pub production: Option<Verdict>,
    /// Apple accepted it at least once: a call signed with it succeeded, or a check passed.
    pub ever_accepted: bool,
    /// 401s since its last success.
    pub auth_failures: i64,
}

impl KeyFacts {
    fn refused_in_both(&self) -> bool {
        self.sandbox == Some(Verdict::Refused) && self.production == Some(Verdict::Refused)
    }

    /// Apple has never taken this key in use, so its Key ID or Issuer ID may be wrong and may be corrected in
    /// place (the stored `.p8` kept). Once Apple accepted it, the three belong together and only Rotate changes them.
    pub fn correctable(&self) -> bool {
        self.status.is_in_use()
            && !self.ever_accepted
            && self.sandbox != Some(Verdict::Accepted)
            && self.production != Some(Verdict::Accepted)
    }
}

/// Where a key stands, each state with one word, one badge and one sentence (`crate::present::status::key_health`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyHealth {
    /// In use; Apple has not accepted it yet (never checked, or the check was inconclusive).
    NotVerified,
    /// In use; the last check was accepted in Sandbox and in Production.
    Verified,
    /// In use; Sandbox accepted it, Production answered 401 (an app not yet released there).
    SandboxOnly,
    /// In use; Production accepted it, Sandbox answered 401.
    ProductionOnly,
    /// In use; calls signed with it succeed, but no check covered both environments.
    Working,
    /// In use; the last check was refused in both environments.
    Refused,
    /// In use; calls keep being refused (repeated 401s).
    Failing,
    /// Replaced by a newer key.
    Retired,
    /// Replaced while Apple was refusing it: most likely revoked in App Store Connect.
    RetiredAfterRefusal,
    /// Marked revoked by hand.
    Revoked,
}

impl KeyHealth {
    pub const ALL: [KeyHealth; 10] = [
        KeyHealth::NotVerified,
        KeyHealth::Verified,
        KeyHealth::SandboxOnly,
        KeyHealth::ProductionOnly,
        KeyHealth::Working,
        KeyHealth::Refused,
        KeyHealth::Failing,
        KeyHealth::Retired,
        KeyHealth::RetiredAfterRefusal,
        KeyHealth::Revoked,
    ];

    /// The one reading of the facts. A refusal in both environments outranks everything while the key is in use
    /// (it is said at once, not after a second 401); a call that succeeds afterwards clears those verdicts in the
    /// store, so a key that works again does not stay "refused".
    pub fn of(f: &KeyFacts) -> KeyHealth {
        use Verdict::{Accepted, Refused};
        match f.status {
            KeyStatus::Revoked => KeyHealth::Revoked,
            KeyStatus::Retired if f.refused_in_both() || f.auth_failures >= FAILING_AFTER_401S => {
                KeyHealth::RetiredAfterRefusal
            }
            KeyStatus::Retired => KeyHealth::Retired,
            KeyStatus::Active | KeyStatus::Failing if f.refused_in_both() => KeyHealth::Refused,
            KeyStatus::Failing => KeyHealth::Failing,
            KeyStatus::Active => match (f.sandbox, f.production) {
                (Some(Accepted), Some(Accepted)) => KeyHealth::Verified,
                (Some(Accepted), Some(Refused)) => KeyHealth::SandboxOnly,
                (Some(Refused), Some(Accepted)) => KeyHealth::ProductionOnly,
                (Some(Accepted), _) | (_, Some(Accepted)) => KeyHealth::Working,
                _ if f.ever_accepted => KeyHealth::Working,
                _ => KeyHealth::NotVerified,
            },
        }
    }

    pub fn is_in_use(self) -> bool {
        !matches!(
            self,
            KeyHealth::Retired | KeyHealth::RetiredAfterRefusal | KeyHealth::Revoked
        )
    }

    /// Apple refuses the key in use: the 401 banner and its guide are shown.
    pub fn is_refused(self) -> bool {
        matches!(self, KeyHealth::Refused | KeyHealth::Failing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Verdict::{Accepted, Refused};

    fn facts(status: KeyStatus) -> KeyFacts {
        KeyFacts {
            status,
            sandbox: None,
            production: None,
            ever_accepted: false,
            auth_failures: 0,
        }
    }

    fn checked(
        status: KeyStatus,
        sandbox: Option<Verdict>,
        production: Option<Verdict>,
    ) -> KeyFacts {
        KeyFacts {
            sandbox,
            production,
            ever_accepted: sandbox == Some(Accepted) || production == Some(Accepted),
            ..facts(status)
        }
    }

    #[test]
    fn a_key_in_use_follows_its_last_check() {
        use KeyStatus::Active;
        assert_eq!(KeyHealth::of(&facts(Active)), KeyHealth::NotVerified);
        let cases = [
            (Some(Accepted), Some(Accepted), KeyHealth::Verified),
            (Some(Accepted), Some(Refused), KeyHealth::SandboxOnly),
            (Some(Refused), Some(Accepted), KeyHealth::ProductionOnly),
            (Some(Accepted), None, KeyHealth::Working),
            (None, Some(Accepted), KeyHealth::Working),
            (Some(Refused), None, KeyHealth::NotVerified),
            (None, Some(Refused), KeyHealth::NotVerified),
            (Some(Refused), Some(Refused), KeyHealth::Refused),
        ];
        for (sandbox, production, expected) in cases {
            assert_eq!(
                KeyHealth::of(&checked(Active, sandbox, production)),
                expected,
                "{sandbox:?} / {production:?}"
            );
        }
    }

    #[test]
    fn calls_that_succeeded_make_an_unchecked_key_working() {
        let f = KeyFacts {
            ever_accepted: true,
            ..facts(KeyStatus::Active)
        };
        assert_eq!(KeyHealth::of(&f), KeyHealth::Working);
        assert!(!f.correctable());
    }

    #[test]
    fn a_refusal_in_both_is_said_at_once_whatever_the_status() {
        for status in [KeyStatus::Active, KeyStatus::Failing] {
            let f = checked(status, Some(Refused), Some(Refused));
            assert_eq!(KeyHealth::of(&f), KeyHealth::Refused);
            assert!(KeyHealth::of(&f).is_refused());
        }
    }

    #[test]
    fn repeated_401s_make_even_a_verified_key_failing() {
        let f = KeyFacts {
            auth_failures: 3,
            ..checked(KeyStatus::Failing, Some(Accepted), Some(Accepted))
        };
        assert_eq!(KeyHealth::of(&f), KeyHealth::Failing);
        assert!(KeyHealth::Failing.is_refused());
        assert!(!KeyHealth::Verified.is_refused());
    }

    #[test]
    fn a_key_replaced_while_apple_refused_it_says_so() {
        assert_eq!(
            KeyHealth::of(&facts(KeyStatus::Retired)),
            KeyHealth::Retired
        );
        let refused = checked(KeyStatus::Retired, Some(Refused), Some(Refused));
        assert_eq!(KeyHealth::of(&refused), KeyHealth::RetiredAfterRefusal);
        let failing = KeyFacts {
            auth_failures: FAILING_AFTER_401S,
            ..checked(KeyStatus::Retired, Some(Accepted), Some(Accepted))
        };
        assert_eq!(KeyHealth::of(&failing), KeyHealth::RetiredAfterRefusal);
        let one_401 = KeyFacts {
            auth_failures: 1,
            ..facts(KeyStatus::Retired)
        };
        assert_eq!(KeyHealth::of(&one_401), KeyHealth::Retired);
    }

    #[test]
    fn a_revoked_key_is_revoked_whatever_was_recorded() {
        let f = checked(KeyStatus::Revoked, Some(Refused), Some(Refused));
        assert_eq!(KeyHealth::of(&f), KeyHealth::Revoked);
        assert!(!KeyHealth::Revoked.is_in_use());
        assert!(!f.correctable());
    }

    #[test]
    fn only_a_key_in_use_that_apple_never_accepted_is_correctable() {
        assert!(facts(KeyStatus::Active).correctable());
        assert!(checked(KeyStatus::Failing, Some(Refused), Some(Refused)).correctable());
        assert!(!checked(KeyStatus::Active, Some(Accepted), Some(Refused)).correctable());
        assert!(!checked(KeyStatus::Active, None, Some(Accepted)).correctable());
        assert!(!facts(KeyStatus::Retired).correctable());
    }

    #[test]
    fn every_state_is_listed_once() {
        let mut seen = std::collections::HashSet::new();
        assert!(KeyHealth::ALL.iter().all(|h| seen.insert(*h)));
        let in_use = KeyHealth::ALL.iter().filter(|h| h.is_in_use()).count();
        assert_eq!(in_use, 7);
    }
}
