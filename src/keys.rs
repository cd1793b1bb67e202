//! The key vault: seals a parsed `.p8` under the master key, opens it in memory when a call is signed, and
//! re-seals everything under a new master key. The private part never leaves this module as bytes.
use std::sync::Arc;

use anyhow::Context;
use zeroize::Zeroizing;

use crate::crypto::{Keyring, MasterKey};
use crate::domain::{ApplePrivateKey, IssuerId, KeyHealth, KeyId};
use crate::store::keys::{KeyRow, KeyTable, NewKeyRow, SealedKeyRow};
use crate::store::{Actor, Project, Store};

mod correct;

pub use correct::{correct_key, CorrectError, Corrected};

/// Associated data binds a sealed key to its project and row: a copied ciphertext opens nowhere else.
fn aad(project_id: i64, row_id: i64, key_id: &str) -> Vec<u8> {
    format!("storedesk/apple-key/v1/project:{project_id}/row:{row_id}/kid:{key_id}").into_bytes()
}

/// What a save does when the project has a key in use by the time it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnKeyInUse {
    /// Retire it (Rotate, after Apple accepted the new key; the demo; tests).
    Replace,
    /// Save nothing: the error is a [`crate::store::StoreError::Conflict`] saying
    /// [`crate::store::keys::ALREADY_HAS_A_KEY`] (Step 3,
    /// which sets a first key only, even when another upload was faster).
    Refuse,
}

/// Stores `key` as the project's key in use; the previous one (if any) is retired and its private part destroyed,
/// all in one transaction with the audit rows. Returns the new row's id.
#[allow(clippy::too_many_arguments)]
pub async fn save_key(
    store: &Store,
    keyring: &Keyring,
    project: &Project,
    key_id: &KeyId,
    issuer_id: &IssuerId,
    key: &ApplePrivateKey,
    actor: &Actor,
    in_use: OnKeyInUse,
) -> anyhow::Result<i64> {
    let saved = save(
        store, keyring, project, key_id, issuer_id, key, actor, in_use,
    )
    .await?;
    Ok(saved.row_id)
}

/// A key just stored, and the key it replaced as it was just before (so a page can say what became of it).
#[derive(Debug)]
pub struct Saved {
    pub row_id: i64,
    pub replaced: Option<KeyRow>,
}

/// [`save_key`], also telling which key was replaced.
#[allow(clippy::too_many_arguments)]
pub async fn save(
    store: &Store,
    keyring: &Keyring,
    project: &Project,
    key_id: &KeyId,
    issuer_id: &IssuerId,
    key: &ApplePrivateKey,
    actor: &Actor,
    in_use: OnKeyInUse,
) -> anyhow::Result<Saved> {
    let master = keyring.current();
    let fingerprint = key.public_key_fingerprint();
    let mut tx = store.begin().await?;
    let (row_id, replaced) = Store::insert_active_key(
        &mut tx,
        &NewKeyRow {
            project_id: project.id,
            key_id: key_id.as_str(),
            issuer_id: issuer_id.as_str(),
            fingerprint: &fingerprint,
            master_key_id: &master.key_id(),
            uploaded_by: &actor.email,
        },
        actor,
        in_use == OnKeyInUse::Refuse,
    )
    .await?;
    let der = key.to_pkcs8_der();
    let sealed = master.seal(&der, &aad(project.id, row_id, key_id.as_str()));
    KeyTable::Apple.set_sealed(&mut tx, row_id, &sealed).await?;
    let detail = match &replaced {
        Some(old) => format!(
            "issuer {}; fingerprint {fingerprint}; replaces {}",
            issuer_id.as_str(),
            old.key_id
        ),
        None => format!("issuer {}; fingerprint {fingerprint}", issuer_id.as_str()),
    };
    crate::store::audit::record(
        &mut tx,
        actor,
        "key.save",
        Some(project.id),
        key_id.as_str(),
        &detail,
    )
    .await?;
    tx.commit().await.context("could not store the key")?;
    if replaced.is_some() {
        store.flush_destroyed().await;
    }
    Ok(Saved { row_id, replaced })
}

/// Stores `key` as the project's App Store Connect API key (Step 1), sealed like the In-App Purchase key but under
/// its own associated data (a sealed key of one kind opens as neither the other kind nor in another row); the key
/// in use before, if any, is retired and its private part destroyed, in one transaction with the audit rows.
pub async fn save_connect_key(
    store: &Store,
    keyring: &Keyring,
    project: &Project,
    key_id: &KeyId,
    issuer_id: &IssuerId,
    key: &ApplePrivateKey,
    actor: &Actor,
) -> anyhow::Result<i64> {
    let master = keyring.current();
    let fingerprint = key.public_key_fingerprint();
    let mut tx = store.begin().await?;
    let (row_id, replaced) = Store::insert_active_connect_key(
        &mut tx,
        &NewKeyRow {
            project_id: project.id,
            key_id: key_id.as_str(),
            issuer_id: issuer_id.as_str(),
            fingerprint: &fingerprint,
            master_key_id: &master.key_id(),
            uploaded_by: &actor.email,
        },
        actor,
    )
    .await?;
    let sealed = master.seal(
        &key.to_pkcs8_der(),
        &connect_key_aad(project.id, row_id, key_id.as_str()),
    );
    KeyTable::Connect
        .set_sealed(&mut tx, row_id, &sealed)
        .await?;
    let detail = match &replaced {
        Some(old) => format!(
            "App Store Connect API key; issuer {}; fingerprint {fingerprint}; replaces {}",
            issuer_id.as_str(),
            old.key_id
        ),
        None => format!(
            "App Store Connect API key; issuer {}; fingerprint {fingerprint}",
            issuer_id.as_str()
        ),
    };
    crate::store::audit::record(
        &mut tx,
        actor,
        "connect_key.save",
        Some(project.id),
        key_id.as_str(),
        &detail,
    )
    .await?;
    tx.commit()
        .await
        .context("could not store the App Store Connect API key")?;
    if replaced.is_some() {
        store.flush_destroyed().await;
    }
    Ok(row_id)
}

/// The project's App Store Connect API key in use, opened for one piece of work (a Verify now, a sync, an app
/// list), with its row; `None` when Step 1 has no key.
pub async fn connect_key_in_use(
    store: &Store,
    keyring: &Keyring,
    project_id: i64,
) -> anyhow::Result<
    Option<(
        crate::store::connect_keys::ConnectKeyRow,
        crate::apple::connect::ConnectCredentials,
    )>,
> {
    let Some((row, sealed)) = store.sealed_connect_key_row_in_use(project_id).await? else {
        return Ok(None);
    };
    let der = keyring.open_sealed(
        &sealed.master_key_id,
        &sealed.sealed_key,
        &connect_key_aad(sealed.project_id, sealed.id, &sealed.key_id),
        &format!("App Store Connect API key {}", sealed.key_id),
    )?;
    let key = ApplePrivateKey::from_pkcs8_der(&der).map_err(|e| {
        anyhow::anyhow!(
            "stored App Store Connect API key {} does not parse: {e}",
            sealed.key_id
        )
    })?;
    let credentials = crate::apple::connect::ConnectCredentials {
        key_id: row.key_id.clone(),
        issuer_id: row.issuer_id.clone(),
        signing_key: Arc::new(key.signing_key()),
    };
    Ok(Some((row, credentials)))
}

/// The health of the project's key as every page shows it: the key in use, or, when there is none, the last key
/// the project had (retired or revoked); `None` when it never had one.
pub async fn project_key_health(
    store: &Store,
    project_id: i64,
) -> anyhow::Result<Option<(KeyRow, KeyHealth)>> {
    let rows = store.keys_of_project(project_id).await?;
    let key = rows
        .iter()
        .find(|r| r.status.is_in_use())
        .or_else(|| rows.first())
        .cloned();
    Ok(key.map(|k| {
        let health = k.health();
        (k, health)
    }))
}

/// A key opened for signing. Cloning shares the one in-memory copy.
#[derive(Clone)]
pub struct OpenedKey {
    pub row_id: i64,
    pub key_id: KeyId,
    pub issuer_id: IssuerId,
    pub fingerprint: String,
    pub signing_key: Arc<p256::ecdsa::SigningKey>,
}

impl std::fmt::Debug for OpenedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenedKey")
            .field("row_id", &self.row_id)
            .field("key_id", &self.key_id.as_str())
            .field("fingerprint", &self.fingerprint)
            .finish()
    }
}

fn open_row(keyring: &Keyring, row: &SealedKeyRow) -> anyhow::Result<Zeroizing<Vec<u8>>> {
    Ok(keyring.open_sealed(
        &row.master_key_id,
        &row.sealed_key,
        &aad(row.project_id, row.id, &row.key_id),
        &format!("key {}", row.key_id),
    )?)
}

/// The project's key in use as API calls need it: read from the database on every call (so a rotation on another
/// instance is seen at once), but decrypted only if an API token must be signed (see `SigningKeySource`).
#[derive(Clone, Debug)]
pub struct KeyInUse {
    pub row_id: i64,
    /// When read, the row already held a recent success and no failure: a success need not be written again.
    pub success_on_record: bool,
    pub key_id: KeyId,
    pub issuer_id: IssuerId,
    pub signing_key: crate::apple::SigningKeySource,
}

impl From<&OpenedKey> for KeyInUse {
    fn from(key: &OpenedKey) -> Self {
        KeyInUse {
            row_id: key.row_id,
            success_on_record: false,
            key_id: key.key_id.clone(),
            issuer_id: key.issuer_id.clone(),
            signing_key: key.signing_key.clone().into(),
        }
    }
}

pub async fn key_in_use(
    store: &Store,
    keyring: &Keyring,
    project_id: i64,
) -> anyhow::Result<Option<KeyInUse>> {
    let Some(row) = store.sealed_key_in_use(project_id).await? else {
        return Ok(None);
    };
    let success_on_record = row.success_on_record(crate::clock::now_ms());
    let (row_id, key_id, issuer_id, fingerprint) = (
        row.id,
        KeyId::from_store(row.key_id.clone()),
        IssuerId::from_store(row.issuer_id.clone()),
        row.fingerprint.clone(),
    );
    let keyring = keyring.clone();
    let open = move || {
        parse_row(&keyring, &row)
            .map(|key| key.signing_key())
            .map_err(|e| e.to_string())
    };
    Ok(Some(KeyInUse {
        row_id,
        success_on_record,
        key_id,
        issuer_id,
        signing_key: crate::apple::SigningKeySource::on_demand(fingerprint, open),
    }))
}

/// Decrypts a stored key row and parses its private key.
fn parse_row(keyring: &Keyring, row: &SealedKeyRow) -> anyhow::Result<ApplePrivateKey> {
    let der = open_row(keyring, row)?;
    ApplePrivateKey::from_pkcs8_der(&der)
        .map_err(|e| anyhow::anyhow!("stored key {} does not parse: {e}", row.key_id))
}

/// Reads the project's key in use from the database (so a rotation on another instance is seen at once) and opens it.
pub async fn open_key_in_use(
    store: &Store,
    keyring: &Keyring,
    project_id: i64,
) -> anyhow::Result<Option<OpenedKey>> {
    let Some(row) = store.sealed_key_in_use(project_id).await? else {
        return Ok(None);
    };
    let key = parse_row(keyring, &row)?;
    Ok(Some(OpenedKey {
        row_id: row.id,
        key_id: KeyId::from_store(row.key_id),
        issuer_id: IssuerId::from_store(row.issuer_id),
        fingerprint: row.fingerprint,
        signing_key: Arc::new(key.signing_key()),
    }))
}

/// Re-seals every stored private key under `new`, one row at a time; each row is updated atomically, so a reader
/// holding both keys can always open it.
pub async fn rotate_master_key(
    store: &Store,
    old: &MasterKey,
    new: &MasterKey,
) -> anyhow::Result<usize> {
    let keyring = Keyring::new(old.clone(), Vec::new());
    let new_id = new.key_id();
    // Step 3's In-App Purchase keys, then Step 1's App Store Connect API keys: the same rows, bound to other
    // associated data.
    let (mut count, mut connect_keys) = (0, 0);
    for (table, resealed) in [
        (KeyTable::Apple, &mut count),
        (KeyTable::Connect, &mut connect_keys),
    ] {
        for row in table.sealed_rows(store).await? {
            if row.master_key_id == new_id {
                continue;
            }
            let (row_aad, what) = match table {
                KeyTable::Apple => (aad(row.project_id, row.id, &row.key_id), "key"),
                KeyTable::Connect => (
                    connect_key_aad(row.project_id, row.id, &row.key_id),
                    "App Store Connect API key",
                ),
            };
            let sealed = keyring.reseal(
                new,
                &row.master_key_id,
                &row.sealed_key,
                &row_aad,
                &format!("{what} {}", row.key_id),
            )?;
            if table
                .reseal(store, row.id, &row.master_key_id, &sealed, &new_id)
                .await?
            {
                *resealed += 1;
            }
        }
    }
    // Alert webhooks' URLs are sealed under the same master key.
    let mut urls = 0;
    for row in store.all_sealed_alert_urls().await? {
        if row.master_key_id == new_id {
            continue;
        }
        let sealed = keyring.reseal(
            new,
            &row.master_key_id,
            &row.sealed_url,
            &webhook_aad(row.project_id, row.id),
            &format!("the webhook of alert channel {}", row.id),
        )?;
        if store
            .reseal_alert_url(row.id, &row.master_key_id, &sealed, &new_id)
            .await?
        {
            urls += 1;
        }
    }
    // Forwarding destinations' signing secrets (and a previous one still in force) too.
    let mut secrets = 0;
    for row in store.all_sealed_forward_secrets().await? {
        if row.master_key_id == new_id {
            continue;
        }
        let aad = forward_secret_aad(row.project_id, row.id);
        let what = format!("the signing secret of forwarding destination {}", row.id);
        let sealed = keyring.reseal(new, &row.master_key_id, &row.sealed_secret, &aad, &what)?;
        let previous = match (&row.sealed_previous, &row.previous_master_key_id) {
            (Some(p), Some(k)) => Some(keyring.reseal(new, k, p, &aad, &what)?),
            _ => None,
        };
        if store
            .reseal_forward_secrets(
                row.id,
                &row.master_key_id,
                &sealed,
                previous.as_deref(),
                &new_id,
            )
            .await?
        {
            secrets += 1;
        }
    }
    store.set_setting(MASTER_KEY_SETTING, &new_id).await?;
    store
        .audit(
            &Actor::system("storedesk master-key rotate"),
            "master_key.rotate",
            None,
            &new_id,
            &format!(
                "{count} key(s), {connect_keys} App Store Connect API key(s), {urls} alert webhook URL(s) and \
                 {secrets} forwarding secret(s) re-sealed"
            ),
        )
        .await?;
    Ok(count)
}

/// Associated data binds a sealed App Store Connect API key to its project, row and Key ID, and sets it apart from
/// an In-App Purchase key's.
pub fn connect_key_aad(project_id: i64, row_id: i64, key_id: &str) -> Vec<u8> {
    format!("storedesk/connect-key/v1/project:{project_id}/row:{row_id}/kid:{key_id}").into_bytes()
}

/// The setting that names the master key the database's keys are sealed under.
pub const MASTER_KEY_SETTING: &str = "master_key_id";

/// The first start records which master key the database is encrypted with; a later start with another key is
/// refused with a sentence, instead of failing later on garbage.
pub async fn ensure_master_key(store: &Store, keyring: &Keyring) -> anyhow::Result<()> {
    let id = keyring.current().key_id();
    match store.setting(MASTER_KEY_SETTING).await? {
        None => {
            store.set_setting(MASTER_KEY_SETTING, &id).await?;
            Ok(())
        }
        Some(stored) if keyring.knows(&stored) => Ok(()),
        Some(stored) => anyhow::bail!(
            "STOREDESK_MASTER_KEY is not the master key this database was encrypted with (it has key id {stored}; the given key has id {id}). \
             Start with the original key, or run `storedesk master-key rotate` with the original as STOREDESK_MASTER_KEY."
        ),
    }
}

/// Associated data binds a sealed webhook URL to its project and alert channel.
fn webhook_aad(project_id: i64, channel_id: i64) -> Vec<u8> {
    format!("storedesk/alert-webhook/v1/project:{project_id}/channel:{channel_id}").into_bytes()
}

/// Seals an alert webhook's URL (a secret: whoever has it can post to the channel) for its channel's row:
/// `(sealed bytes, master key id)`.
pub fn seal_webhook_url(
    keyring: &Keyring,
    project_id: i64,
    channel_id: i64,
    url: &secrecy::SecretString,
) -> (Vec<u8>, String) {
    use secrecy::ExposeSecret;
    let master = keyring.current();
    (
        master.seal(
            url.expose_secret().as_bytes(),
            &webhook_aad(project_id, channel_id),
        ),
        master.key_id(),
    )
}

/// Opens an alert webhook's URL for one delivery.
pub fn open_webhook_url(
    keyring: &Keyring,
    project_id: i64,
    channel_id: i64,
    sealed: &[u8],
    master_key_id: &str,
) -> anyhow::Result<secrecy::SecretString> {
    let plain = keyring.open_sealed(
        master_key_id,
        sealed,
        &webhook_aad(project_id, channel_id),
        "the webhook's URL",
    )?;
    let url = String::from_utf8(plain.to_vec())
        .map_err(|_| anyhow::anyhow!("the webhook's URL is not text once opened"))?;
    Ok(secrecy::SecretString::from(url))
}

/// Associated data binds a sealed signing secret to its project and forwarding destination.
fn forward_secret_aad(project_id: i64, destination_id: i64) -> Vec<u8> {
    format!("storedesk/forward-secret/v1/project:{project_id}/destination:{destination_id}")
        .into_bytes()
}

/// Seals a forwarding destination's signing secret (`whsec_…`) for its row: `(sealed bytes, master key id)`.
pub fn seal_forward_secret(
    keyring: &Keyring,
    project_id: i64,
    destination_id: i64,
    secret: &secrecy::SecretString,
) -> (Vec<u8>, String) {
    use secrecy::ExposeSecret;
    let master = keyring.current();
    (
        master.seal(
            secret.expose_secret().as_bytes(),
            &forward_secret_aad(project_id, destination_id),
        ),
        master.key_id(),
    )
}

/// Opens a forwarding destination's signing secret for one delivery.
pub fn open_forward_secret(
    keyring: &Keyring,
    project_id: i64,
    destination_id: i64,
    sealed: &[u8],
    master_key_id: &str,
) -> anyhow::Result<secrecy::SecretString> {
    let plain = keyring.open_sealed(
        master_key_id,
        sealed,
        &forward_secret_aad(project_id, destination_id),
        "the destination's signing secret",
    )?;
    let secret = String::from_utf8(plain.to_vec())
        .map_err(|_| anyhow::anyhow!("the destination's signing secret is not text once opened"))?;
    Ok(secrecy::SecretString::from(secret))
}
