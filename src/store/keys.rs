//! Rows of `apple_keys`. Sealing and opening happen in `crate::keys`; this file only moves bytes.
use sqlx::{Any, Transaction};

use super::status_text::status_text;
use super::{audit, Actor, Store, StoreError, StoreResult};

pub use crate::domain::KeyStatus;

// Parsed from `apple_keys.status` at the store's edge.
status_text!(KeyStatus, "key status");

/// SQL for "`status` is a key in use" ([`KeyStatus::is_in_use`]); the migration's `apple_keys_one_in_use`
/// index says the same words, and a test checks this list against the enum.
pub(crate) const KEY_IN_USE: &str = "IN ('active', 'failing')";

/// Why Step 3 saved nothing: a key is in use, and replacing it is Rotate's work (which checks the new key with
/// Apple first).
pub const ALREADY_HAS_A_KEY: &str =
    "This project already has a key in use, so nothing was saved. To replace it, use Rotate below.";

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct KeyRow {
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
    pub last_success_at: Option<i64>,
    pub last_failure_at: Option<i64>,
    pub last_failure: Option<String>,
    pub auth_failures: i64,
    pub verified_at: Option<i64>,
    pub verify_summary: Option<String>,
}

#[derive(Clone, sqlx::FromRow)]
pub struct SealedKeyRow {
    pub id: i64,
    pub project_id: i64,
    pub key_id: String,
    pub issuer_id: String,
    pub fingerprint: String,
    pub master_key_id: String,
    pub sealed_key: Vec<u8>,
    /// The row's health, read in the same statement, so a caller can tell whether a success needs writing.
    pub status: KeyStatus,
    pub auth_failures: i64,
    pub last_success_at: Option<i64>,
}

impl SealedKeyRow {
    /// The row already says what another success would write: active, no failures, a success within the
    /// minute (`record_key_call` writes a success at most once a minute).
    pub fn success_on_record(&self, now_ms: i64) -> bool {
        self.status == KeyStatus::Active
            && self.auth_failures == 0
            && self.last_success_at.is_some_and(|at| at >= now_ms - 60_000)
    }
}

const KEY_COLUMNS: &str = "id, project_id, key_id, issuer_id, fingerprint, master_key_id, status, uploaded_by, uploaded_at, \
                           retired_at, last_success_at, last_failure_at, last_failure, auth_failures, verified_at, verify_summary";

/// What a new key row needs before its sealed bytes exist (they are bound to the row id).
pub struct NewKeyRow<'a> {
    pub project_id: i64,
    pub key_id: &'a str,
    pub issuer_id: &'a str,
    pub fingerprint: &'a str,
    pub master_key_id: &'a str,
    pub uploaded_by: &'a str,
}

impl Store {
    pub(crate) async fn begin(&self) -> StoreResult<Transaction<'static, Any>> {
        Ok(self.pool().begin().await?)
    }

    /// Retires the key in use (destroying its private part) and inserts the new row as active, in the caller's
    /// transaction; the caller seals the key with the returned row id and commits.
    pub(crate) async fn insert_active_key(
        tx: &mut Transaction<'static, Any>,
        new: &NewKeyRow<'_>,
        actor: &Actor,
        first_only: bool,
    ) -> StoreResult<(i64, Option<String>)> {
        let now = crate::clock::now_ms();
        // Two rotations at once would otherwise both retire the same old key, and the second would collide with the
        // first's new one on `apple_keys_one_in_use`; in turn, the second replaces the first's key.
        super::projects::lock_project(tx, new.project_id).await?;
        let replaced: Option<(i64, String)> = sqlx::query_as(&format!(
            "SELECT id, key_id FROM apple_keys WHERE project_id = $1 AND status {KEY_IN_USE}"
        ))
        .bind(new.project_id)
        .fetch_optional(&mut **tx)
        .await?;
        if first_only && replaced.is_some() {
            return Err(StoreError::Conflict(ALREADY_HAS_A_KEY.to_owned()));
        }
        if let Some((old_id, old_key_id)) = &replaced {
            sqlx::query("UPDATE apple_keys SET status = $1, sealed_key = NULL, retired_at = $2 WHERE id = $3")
                .bind(KeyStatus::Retired.as_str())
                .bind(now)
                .bind(old_id)
                .execute(&mut **tx)
                .await?;
            audit::record(
                tx,
                actor,
                "key.retire",
                Some(new.project_id),
                old_key_id,
                "replaced by a new key; private part destroyed",
            )
            .await?;
        }
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO apple_keys (project_id, key_id, issuer_id, fingerprint, master_key_id, status, uploaded_by, uploaded_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(new.project_id)
        .bind(new.key_id)
        .bind(new.issuer_id)
        .bind(new.fingerprint)
        .bind(new.master_key_id)
        .bind(KeyStatus::Active.as_str())
        .bind(new.uploaded_by)
        .bind(now)
        .fetch_one(&mut **tx)
        .await?;
        Ok((id, replaced.map(|r| r.1)))
    }

    pub(crate) async fn set_sealed_key(
        tx: &mut Transaction<'static, Any>,
        id: i64,
        sealed: &[u8],
    ) -> StoreResult<()> {
        sqlx::query("UPDATE apple_keys SET sealed_key = $1 WHERE id = $2")
            .bind(sealed)
            .bind(id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    pub async fn keys_of_project(&self, project_id: i64) -> StoreResult<Vec<KeyRow>> {
        Ok(sqlx::query_as::<_, KeyRow>(&format!(
            "SELECT {KEY_COLUMNS} FROM apple_keys WHERE project_id = $1 ORDER BY id DESC"
        ))
        .bind(project_id)
        .fetch_all(self.pool())
        .await?)
    }

    pub async fn key_in_use(&self, project_id: i64) -> StoreResult<Option<KeyRow>> {
        Ok(sqlx::query_as::<_, KeyRow>(&format!(
            "SELECT {KEY_COLUMNS} FROM apple_keys WHERE project_id = $1 AND status {KEY_IN_USE}"
        ))
        .bind(project_id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// The sealed private part of the key in use, read in one statement so a concurrent rotation is seen whole.
    pub async fn sealed_key_in_use(&self, project_id: i64) -> StoreResult<Option<SealedKeyRow>> {
        Ok(sqlx::query_as::<_, SealedKeyRow>(&format!(
            "SELECT id, project_id, key_id, issuer_id, fingerprint, master_key_id, sealed_key, status, auth_failures, \
             last_success_at FROM apple_keys \
             WHERE project_id = $1 AND status {KEY_IN_USE} AND sealed_key IS NOT NULL",
        ))
        .bind(project_id)
        .fetch_optional(self.pool())
        .await?)
    }

    pub async fn all_sealed_keys(&self) -> StoreResult<Vec<SealedKeyRow>> {
        Ok(sqlx::query_as::<_, SealedKeyRow>(
            "SELECT id, project_id, key_id, issuer_id, fingerprint, master_key_id, sealed_key, status, auth_failures, \
             last_success_at FROM apple_keys WHERE sealed_key IS NOT NULL ORDER BY id",
        )
        .fetch_all(self.pool())
        .await?)
    }

    /// Replaces one row's sealed bytes only if nobody changed the row meanwhile (a rotation or revocation wins).
    pub async fn reseal_key(
        &self,
        id: i64,
        old_master_key_id: &str,
        sealed: &[u8],
        new_master_key_id: &str,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE apple_keys SET sealed_key = $1, master_key_id = $2 WHERE id = $3 AND master_key_id = $4 AND sealed_key IS NOT NULL",
        )
        .bind(sealed)
        .bind(new_master_key_id)
        .bind(id)
        .bind(old_master_key_id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Stops all use of a key at once: status revoked, private part destroyed.
    pub async fn revoke_key(&self, project_id: i64, id: i64, actor: &Actor) -> StoreResult<KeyRow> {
        let now = crate::clock::now_ms();
        let mut tx = self.pool().begin().await?;
        super::projects::lock_project(&mut tx, project_id).await?;
        let row = sqlx::query_as::<_, KeyRow>(&format!(
            "SELECT {KEY_COLUMNS} FROM apple_keys WHERE id = $1 AND project_id = $2"
        ))
        .bind(id)
        .bind(project_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        if row.status == KeyStatus::Revoked {
            return Err(StoreError::Conflict(
                "This key is already marked revoked.".into(),
            ));
        }
        sqlx::query("UPDATE apple_keys SET status = $1, sealed_key = NULL, retired_at = COALESCE(retired_at, $2) WHERE id = $3")
            .bind(KeyStatus::Revoked.as_str())
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        audit::record(
            &mut tx,
            actor,
            "key.revoke",
            Some(project_id),
            &row.key_id,
            &format!("was {}; private part destroyed", row.status.as_str()),
        )
        .await?;
        tx.commit().await?;
        Ok(row)
    }

    /// Records the outcome of a call signed with this key. Repeated 401s turn an active key `failing`; a success heals it.
    /// The words in the SQL are [`KeyStatus::Active`] and [`KeyStatus::Failing`], written as text: the database
    /// changes the status in the same statement that counts the failures, so the count and the status always agree.
    pub async fn record_key_call(
        &self,
        id: i64,
        outcome: Result<(), (&str, bool)>,
    ) -> StoreResult<()> {
        let now = crate::clock::now_ms();
        match outcome {
            Ok(()) => {
                // A busy key succeeds many times a minute; its last success is written at most once a minute
                // (while nothing needs repairing), so a page's calls don't each cost a database write.
                sqlx::query(
                    "UPDATE apple_keys SET last_success_at = $1, auth_failures = 0, \
                     status = CASE WHEN status = 'failing' THEN 'active' ELSE status END WHERE id = $2 \
                     AND (last_success_at IS NULL OR last_success_at < $1 - 60000 OR auth_failures <> 0 \
                     OR status = 'failing')",
                )
                .bind(now)
                .bind(id)
                .execute(self.pool())
                .await?;
            }
            Err((what, unauthorized)) => {
                sqlx::query(
                    "UPDATE apple_keys SET last_failure_at = $1, last_failure = $2, \
                     auth_failures = auth_failures + $3, \
                     status = CASE WHEN status = 'active' AND auth_failures + $3 >= 2 THEN 'failing' ELSE status END WHERE id = $4",
                )
                .bind(now)
                .bind(what)
                .bind(i64::from(unauthorized))
                .bind(id)
                .execute(self.pool())
                .await?;
            }
        }
        Ok(())
    }

    pub async fn record_key_verification(
        &self,
        id: i64,
        summary: &str,
        ok: bool,
    ) -> StoreResult<()> {
        sqlx::query("UPDATE apple_keys SET verified_at = CASE WHEN $1 = 1 THEN $2 ELSE verified_at END, verify_summary = $3 WHERE id = $4")
            .bind(i64::from(ok))
            .bind(crate::clock::now_ms())
            .bind(summary)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn every_key_status_round_trips_through_its_stored_text() {
        let words: Vec<&str> = KeyStatus::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(words, ["active", "failing", "retired", "revoked"]);
        for status in KeyStatus::ALL {
            assert_eq!(KeyStatus::parse(status.as_str()), Ok(status));
            assert_eq!(status.to_string(), status.as_str());
        }
    }

    #[test]
    fn an_unknown_key_status_is_refused_by_name() {
        for word in ["paused", "Active", " active", ""] {
            let error = KeyStatus::parse(word).unwrap_err();
            assert_eq!(error.value, word);
            assert_eq!(
                error.to_string(),
                format!("unknown key status {word:?} in the database")
            );
        }
    }

    #[test]
    fn the_sql_for_a_key_in_use_lists_exactly_the_statuses_in_use() {
        let words: Vec<String> = KeyStatus::ALL
            .into_iter()
            .filter(|s| s.is_in_use())
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        assert_eq!(KEY_IN_USE, format!("IN ({})", words.join(", ")));
    }
}
