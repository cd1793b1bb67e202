//! Rows of `connect_keys`: Step 1's App Store Connect API keys. Sealing happens in `crate::keys`; this file only
//! moves bytes. The lifecycle is `apple_keys`' (active → retired on replacement, revoked by hand), with exactly one
//! key in use per project (the `connect_keys_one_in_use` index).
use sqlx::{Any, Transaction};

use super::keys::{KeyStatus, KeyTable, NewKeyRow, KEY_IN_USE};
use super::{audit, Actor, Store, StoreResult};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ConnectKeyRow {
    pub id: i64,
    pub project_id: i64,
    pub key_id: String,
    pub issuer_id: String,
    pub fingerprint: String,
    pub master_key_id: String,
    pub status: KeyStatus,
    pub uploaded_by: String,
    pub uploaded_at: i64,
    pub retired_at: Option<i64>,
    pub verified_at: Option<i64>,
    pub verify_summary: Option<String>,
}

/// A sealed App Store Connect API key and what its seal is bound to.
pub use super::keys::SealedRow as SealedConnectKey;

const COLUMNS: &str =
    "id, project_id, key_id, issuer_id, fingerprint, master_key_id, status, uploaded_by, \
                       uploaded_at, retired_at, verified_at, verify_summary";

impl Store {
    /// Retires the App Store Connect API key in use (destroying its private part) and inserts the new row as
    /// active, in the caller's transaction; returns the new row's id and the key replaced.
    pub(crate) async fn insert_active_connect_key(
        tx: &mut Transaction<'static, Any>,
        new: &NewKeyRow<'_>,
        actor: &Actor,
    ) -> StoreResult<(i64, Option<ConnectKeyRow>)> {
        let now = crate::clock::now_ms();
        super::projects::lock_project(tx, new.project_id).await?;
        let replaced = sqlx::query_as::<_, ConnectKeyRow>(&format!(
            "SELECT {COLUMNS} FROM connect_keys WHERE project_id = $1 AND status {KEY_IN_USE}"
        ))
        .bind(new.project_id)
        .fetch_optional(&mut **tx)
        .await?;
        if let Some(old) = &replaced {
            KeyTable::Connect
                .end_use(tx, old.id, KeyStatus::Retired, now)
                .await?;
            audit::record(
                tx,
                actor,
                "connect_key.retire",
                Some(new.project_id),
                &old.key_id,
                "App Store Connect API key replaced by a new one; private part destroyed",
            )
            .await?;
        }
        let id = KeyTable::Connect.insert_active(tx, new, now).await?;
        Ok((id, replaced))
    }

    /// Every App Store Connect API key the project has had, newest first.
    pub async fn connect_keys_of_project(
        &self,
        project_id: i64,
    ) -> StoreResult<Vec<ConnectKeyRow>> {
        Ok(sqlx::query_as::<_, ConnectKeyRow>(&format!(
            "SELECT {COLUMNS} FROM connect_keys WHERE project_id = $1 ORDER BY id DESC"
        ))
        .bind(project_id)
        .fetch_all(self.pool())
        .await?)
    }

    pub async fn connect_key_in_use(&self, project_id: i64) -> StoreResult<Option<ConnectKeyRow>> {
        Ok(sqlx::query_as::<_, ConnectKeyRow>(&format!(
            "SELECT {COLUMNS} FROM connect_keys WHERE project_id = $1 AND status {KEY_IN_USE}"
        ))
        .bind(project_id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Every sealed App Store Connect API key.
    pub async fn all_sealed_connect_keys(&self) -> StoreResult<Vec<SealedConnectKey>> {
        KeyTable::Connect.sealed_rows(self).await
    }

    /// The key in use with its sealed private part, to be opened for one piece of work.
    pub async fn sealed_connect_key_row_in_use(
        &self,
        project_id: i64,
    ) -> StoreResult<Option<(ConnectKeyRow, SealedConnectKey)>> {
        let Some(row) = self.connect_key_in_use(project_id).await? else {
            return Ok(None);
        };
        let sealed = sqlx::query_as::<_, SealedConnectKey>(
            "SELECT id, project_id, key_id, master_key_id, sealed_key FROM connect_keys \
             WHERE id = $1 AND sealed_key IS NOT NULL",
        )
        .bind(row.id)
        .fetch_optional(self.pool())
        .await?;
        Ok(sealed.map(|s| (row, s)))
    }

    /// Records what Verify now found: `Some(true)` (Apple accepted the key: last success now, status active),
    /// `Some(false)` (Apple refused it: status failing) or `None` (Apple did not say: status kept); `summary` is
    /// the sentence the wizard shows.
    pub async fn record_connect_key_check(
        &self,
        row_id: i64,
        verdict: Option<bool>,
        summary: &str,
    ) -> StoreResult<()> {
        let code: i64 = match verdict {
            Some(true) => 1,
            Some(false) => 0,
            None => 2,
        };
        sqlx::query(
            "UPDATE connect_keys SET verified_at = CASE WHEN $1 = 1 THEN $2 ELSE verified_at END, \
             verify_summary = $3, status = CASE WHEN status IN ('active', 'failing') \
             THEN (CASE WHEN $1 = 1 THEN 'active' WHEN $1 = 0 THEN 'failing' ELSE status END) ELSE status END \
             WHERE id = $4",
        )
        .bind(code)
        .bind(crate::clock::now_ms())
        .bind(summary)
        .bind(row_id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The sealed bytes of the key in use (for a test that checks they are not the key in clear).
    pub async fn sealed_connect_key_in_use(&self, project_id: i64) -> StoreResult<Option<Vec<u8>>> {
        let row: Option<(Option<Vec<u8>>,)> = sqlx::query_as(&format!(
            "SELECT sealed_key FROM connect_keys WHERE project_id = $1 AND status {KEY_IN_USE}"
        ))
        .bind(project_id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.and_then(|(b,)| b))
    }

    /// Marks the App Store Connect API key in use revoked and destroys its private part, audited; `false` when the
    /// project has no such key in use.
    pub async fn revoke_connect_key(&self, project_id: i64, actor: &Actor) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        super::projects::lock_project(&mut tx, project_id).await?;
        let row = sqlx::query_as::<_, ConnectKeyRow>(&format!(
            "SELECT {COLUMNS} FROM connect_keys WHERE project_id = $1 AND status {KEY_IN_USE}"
        ))
        .bind(project_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(false);
        };
        KeyTable::Connect
            .end_use(&mut tx, row.id, KeyStatus::Revoked, crate::clock::now_ms())
            .await?;
        audit::record(
            &mut tx,
            actor,
            "connect_key.revoke",
            Some(project_id),
            &row.key_id,
            "App Store Connect API key marked revoked; private part destroyed",
        )
        .await?;
        tx.commit().await?;
        self.flush_destroyed().await;
        Ok(true)
    }
}
