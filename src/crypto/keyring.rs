//! The master keys one process holds: the current one, used for sealing, and previous ones still accepted for
//! opening while `master-key rotate` runs.
use super::MasterKey;

/// The master keys this process can open rows with: the current one (used for sealing) and previous ones
/// (accepted while `master-key rotate` runs, so readers never stop).
#[derive(Clone)]
pub struct Keyring {
    current: MasterKey,
    previous: Vec<MasterKey>,
}

impl Keyring {
    pub fn new(current: MasterKey, previous: Vec<MasterKey>) -> Self {
        Self { current, previous }
    }

    pub fn current(&self) -> &MasterKey {
        &self.current
    }

    pub fn by_id(&self, id: &str) -> Option<&MasterKey> {
        std::iter::once(&self.current)
            .chain(self.previous.iter())
            .find(|k| k.key_id() == id)
    }

    pub fn knows(&self, id: &str) -> bool {
        self.by_id(id).is_some()
    }
}
