//! Correcting the Key ID or Issuer ID of a key Apple has never accepted, keeping its stored `.p8`: the private
//! part is opened under the old identifiers and sealed again under the new ones (the associated data names the
//! Key ID), in one transaction with the audit row.
use anyhow::Context;

use super::aad;
use crate::crypto::Keyring;
use crate::domain::{IssuerId, KeyId};
use crate::store::keys::KeyRow;
use crate::store::{Actor, Project, Store};

/// The key before and after its correction.
#[derive(Debug)]
pub struct Corrected {
    pub before: KeyRow,
    pub key_id: KeyId,
    pub issuer_id: IssuerId,
}

impl Corrected {
    /// "Key ID A → B; Issuer ID x → y" for what changed.
    pub fn changes(&self) -> String {
        let mut parts = Vec::new();
        if self.before.key_id != self.key_id.as_str() {
            parts.push(format!(
                "Key ID {} → {}",
                self.before.key_id,
                self.key_id.as_str()
            ));
        }
        if self.before.issuer_id != self.issuer_id.as_str() {
            parts.push(format!(
                "Issuer ID {} → {}",
                self.before.issuer_id,
                self.issuer_id.as_str()
            ));
        }
        parts.join("; ")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CorrectError {
    /// No such key in this project.
    #[error("no such key")]
    NotFound,
    /// The key is not in use, or Apple has accepted it: its identifiers are not in doubt.
    #[error("the key can no longer be corrected")]
    NotCorrectable(Box<KeyRow>),
    /// Both identifiers are what is stored already.
    #[error("nothing to correct")]
    Unchanged,
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl From<crate::store::StoreError> for CorrectError {
    fn from(e: crate::store::StoreError) -> Self {
        CorrectError::Other(e.into())
    }
}

/// Gives key row `row_id` of `project` the identifiers `key_id` and `issuer_id`, keeping its private part, when
/// Apple has never accepted it. What was recorded about the old identifiers is cleared (the key is unverified
/// again); the audit row `key.correct` names both identifiers before and after.
pub async fn correct_key(
    store: &Store,
    keyring: &Keyring,
    project: &Project,
    row_id: i64,
    key_id: &KeyId,
    issuer_id: &IssuerId,
    actor: &Actor,
) -> Result<Corrected, CorrectError> {
    let mut tx = store.begin().await?;
    let (row, sealed) = Store::key_for_correction(&mut tx, project.id, row_id)
        .await?
        .ok_or(CorrectError::NotFound)?;
    let sealed = match sealed {
        Some(sealed) if row.facts().correctable() => sealed,
        _ => return Err(CorrectError::NotCorrectable(Box::new(row))),
    };
    if row.key_id == key_id.as_str() && row.issuer_id == issuer_id.as_str() {
        return Err(CorrectError::Unchanged);
    }
    let old = keyring.by_id(&row.master_key_id).ok_or_else(|| {
        anyhow::anyhow!(
            "key {} is sealed under master key {}, which this instance does not have",
            row.key_id,
            row.master_key_id
        )
    })?;
    let plain = old
        .open(&sealed, &aad(project.id, row.id, &row.key_id))
        .map_err(|e| anyhow::anyhow!("could not open key {}: {e}", row.key_id))?;
    let master = keyring.current();
    let resealed = master.seal(&plain, &aad(project.id, row.id, key_id.as_str()));
    drop(plain);
    Store::correct_key(
        &mut tx,
        row.id,
        key_id.as_str(),
        issuer_id.as_str(),
        &resealed,
        &master.key_id(),
    )
    .await?;
    let corrected = Corrected {
        before: row,
        key_id: key_id.clone(),
        issuer_id: issuer_id.clone(),
    };
    crate::store::audit::record(
        &mut tx,
        actor,
        "key.correct",
        Some(project.id),
        key_id.as_str(),
        &format!(
            "{}; .p8 kept (fingerprint {})",
            corrected.changes(),
            corrected.before.fingerprint
        ),
    )
    .await?;
    tx.commit()
        .await
        .context("could not store the correction")?;
    Ok(corrected)
}
