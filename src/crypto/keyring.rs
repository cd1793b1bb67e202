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

    /// Opens a value sealed under the master key `master_key_id` names (the current one or a previous one).
    /// `what` names the value in the error ("key ABC123", "the webhook of alert channel 4"), which never holds the
    /// value itself.
    pub fn open_sealed(
        &self,
        master_key_id: &str,
        sealed: &[u8],
        aad: &[u8],
        what: &str,
    ) -> Result<zeroize::Zeroizing<Vec<u8>>, ResealError> {
        let master = self
            .by_id(master_key_id)
            .ok_or_else(|| ResealError::UnknownMasterKey {
                what: what.to_owned(),
                master_key_id: master_key_id.to_owned(),
            })?;
        master
            .open(sealed, aad)
            .map_err(|source| ResealError::Unreadable {
                what: what.to_owned(),
                source,
            })
    }

    /// What a master-key rotation does to one sealed value: opens it under the master key it names and seals it
    /// under `new` with the same associated data.
    pub fn reseal(
        &self,
        new: &MasterKey,
        master_key_id: &str,
        sealed: &[u8],
        aad: &[u8],
        what: &str,
    ) -> Result<Vec<u8>, ResealError> {
        let plain = self.open_sealed(master_key_id, sealed, aad, what)?;
        Ok(new.seal(&plain, aad))
    }
}

/// Why a sealed value could not be opened (or, during a master-key rotation, re-sealed).
#[derive(Debug, thiserror::Error)]
pub enum ResealError {
    #[error("{what} is sealed under master key {master_key_id}, which this instance does not have; start it with that key in STOREDESK_MASTER_KEY or STOREDESK_PREVIOUS_MASTER_KEYS")]
    UnknownMasterKey { what: String, master_key_id: String },
    #[error("could not open {what}: {source}")]
    Unreadable {
        what: String,
        source: super::CryptoError,
    },
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn a_resealed_value_opens_under_the_new_key_only_and_errors_name_what_not_the_value() {
        let (old, new) = (MasterKey::generate(), MasterKey::generate());
        let sealed = old.seal(b"the secret", b"aad");
        let keyring = Keyring::new(old.clone(), Vec::new());
        let resealed = keyring
            .reseal(&new, &old.key_id(), &sealed, b"aad", "thing 1")
            .unwrap();
        let after = Keyring::new(new.clone(), Vec::new());
        let plain = after
            .open_sealed(&new.key_id(), &resealed, b"aad", "thing 1")
            .unwrap();
        assert_eq!(plain.as_slice(), b"the secret");
        // The old key no longer opens it, the new one not with other associated data.
        assert!(old.open(&resealed, b"aad").is_err());
        let e = after
            .open_sealed(&new.key_id(), &resealed, b"other", "thing 1")
            .unwrap_err();
        assert!(e.to_string().starts_with("could not open thing 1: "), "{e}");
        // A key the keyring does not hold is named, with the variables that give it.
        let e = after
            .open_sealed(&old.key_id(), &sealed, b"aad", "thing 1")
            .unwrap_err();
        let said = e.to_string();
        assert!(said.contains(&format!(
            "thing 1 is sealed under master key {}",
            old.key_id()
        )));
        assert!(said.contains("STOREDESK_PREVIOUS_MASTER_KEYS"));
        assert!(!said.contains("the secret"));
    }
}
