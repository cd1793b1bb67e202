//! The life of an In-App Purchase key: active, failing, retired, revoked.

/// Where an In-App Purchase key is in its life. The store keeps it as the word `as_str()` gives
/// (`apple_keys.status`), and parses it back at its edge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyStatus {
    /// In use, and Apple accepts it.
    Active,
    /// In use, but Apple refused it repeatedly (401s); a success turns it active again.
    Failing,
    /// Replaced by a newer key; its private part is destroyed.
    Retired,
    /// Stopped by hand; its private part is destroyed and it is never used again.
    Revoked,
}

impl KeyStatus {
    pub const ALL: [KeyStatus; 4] = [
        KeyStatus::Active,
        KeyStatus::Failing,
        KeyStatus::Retired,
        KeyStatus::Revoked,
    ];

    /// The text stored in `apple_keys.status`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Active => "active",
            KeyStatus::Failing => "failing",
            KeyStatus::Retired => "retired",
            KeyStatus::Revoked => "revoked",
        }
    }

    /// Whether calls are signed with this key: a project has at most one such key (the `apple_keys_one_in_use`
    /// index). SQL that filters for it says
    /// `crate::store::keys::KEY_IN_USE`.
    pub fn is_in_use(self) -> bool {
        matches!(self, KeyStatus::Active | KeyStatus::Failing)
    }
}
