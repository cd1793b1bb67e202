//! Rows of `apple_keys`. Sealing and opening happen in `crate::keys`; this file only moves bytes.
use sqlx::{Any, Transaction};

use super::status_text::status_text;
use super::{audit, Actor, Store, StoreError, StoreResult};

pub use crate::domain::KeyStatus;
use crate::domain::{KeyFacts, KeyHealth, Verdict, FAILING_AFTER_401S};

// Parsed from `apple_keys.status` at the store's edge.
status_text!(KeyStatus, "key status");
// Parsed from `apple_keys.sandbox_check` and `production_check`.
status_text!(Verdict, "verification verdict");

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
    /// What the last conclusive Verify now found in each environment.
    pub sandbox_check: Option<Verdict>,
    pub production_check: Option<Verdict>,
    pub checked_at: Option<i64>,
}

impl KeyRow {
    pub fn facts(&self) -> KeyFacts {
        KeyFacts {
            status: self.status,
            sandbox: self.sandbox_check,
            production: self.production_check,
            ever_accepted: self.verified_at.is_some() || self.last_success_at.is_some(),
            auth_failures: self.auth_failures,
        }
    }

    /// The key's one state, as every page shows it.
    pub fn health(&self) -> KeyHealth {
        KeyHealth::of(&self.facts())
    }
}

/// What one Verify now found, as the key row records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyCheck {
    /// `None`: this environment's answer was inconclusive, and the previous verdict stands.
    pub sandbox: Option<Verdict>,
    pub production: Option<Verdict>,
    /// Apple accepted the key where it matters (the check's own judgement).
    pub ok: bool,
    pub summary: String,
    /// The key row's short failure text when no environment accepted the key.
    pub failure: Option<String>,
}

impl KeyCheck {
    fn accepted_somewhere(&self) -> bool {
        self.sandbox == Some(Verdict::Accepted) || self.production == Some(Verdict::Accepted)
    }

    fn refused_in_both(&self) -> bool {
        self.sandbox == Some(Verdict::Refused) && self.production == Some(Verdict::Refused)
    }
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
                           retired_at, last_success_at, last_failure_at, last_failure, auth_failures, verified_at, verify_summary, \
                           sandbox_check, production_check, checked_at";

/// What a new key row needs before its sealed bytes exist (they are bound to the row id).
pub struct NewKeyRow<'a> {
    pub project_id: i64,
    pub key_id: &'a str,
    pub issuer_id: &'a str,
    pub fingerprint: &'a str,
    pub master_key_id: &'a str,
    pub uploaded_by: &'a str,
}

/// The two tables of keys with one lifecycle (uploaded active, retired on replacement, revoked by hand; the private
/// part sealed once the row id is known and destroyed when the key leaves use): Step 3's In-App Purchase keys and
/// Step 1's App Store Connect API keys. The row operations below serve both.
/// A sealed private part and what its seal is bound to (project, row, Key ID), in either key table.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct SealedRow {
    pub id: i64,
    pub project_id: i64,
    pub key_id: String,
    pub master_key_id: String,
    pub sealed_key: Vec<u8>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyTable {
    Apple,
    Connect,
}

impl KeyTable {
    fn name(self) -> &'static str {
        match self {
            KeyTable::Apple => "apple_keys",
            KeyTable::Connect => "connect_keys",
        }
    }

    /// Takes row `id` out of use as `status` (retired or revoked) and destroys its private part. A key retired
    /// earlier keeps the time it left use.
    pub(crate) async fn end_use(
        self,
        tx: &mut Transaction<'static, Any>,
        id: i64,
        status: KeyStatus,
        now: i64,
    ) -> StoreResult<()> {
        sqlx::query(&format!(
            "UPDATE {} SET status = $1, sealed_key = NULL, retired_at = COALESCE(retired_at, $2) WHERE id = $3",
            self.name()
        ))
        .bind(status.as_str())
        .bind(now)
        .bind(id)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Inserts the new key's row as active, without its sealed bytes (they are bound to the row id); its id.
    pub(crate) async fn insert_active(
        self,
        tx: &mut Transaction<'static, Any>,
        new: &NewKeyRow<'_>,
        now: i64,
    ) -> StoreResult<i64> {
        let (id,): (i64,) = sqlx::query_as(&format!(
            "INSERT INTO {} (project_id, key_id, issuer_id, fingerprint, master_key_id, status, uploaded_by, \
             uploaded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
            self.name()
        ))
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
        Ok(id)
    }

    /// Every row that still holds a sealed private part, oldest first (for `master-key rotate`).
    pub(crate) async fn sealed_rows(self, store: &Store) -> StoreResult<Vec<SealedRow>> {
        Ok(sqlx::query_as::<_, SealedRow>(&format!(
            "SELECT id, project_id, key_id, master_key_id, sealed_key FROM {} WHERE sealed_key IS NOT NULL ORDER BY id",
            self.name()
        ))
        .fetch_all(store.pool())
        .await?)
    }

    /// Replaces row `id`'s sealed bytes with the same key sealed under `new_master_key_id`, unless another run
    /// did it first; `true` when this call did.
    pub(crate) async fn reseal(
        self,
        store: &Store,
        id: i64,
        old_master_key_id: &str,
        sealed: &[u8],
        new_master_key_id: &str,
    ) -> StoreResult<bool> {
        let done = sqlx::query(&format!(
            "UPDATE {} SET sealed_key = $1, master_key_id = $2 WHERE id = $3 AND master_key_id = $4 \
             AND sealed_key IS NOT NULL",
            self.name()
        ))
        .bind(sealed)
        .bind(new_master_key_id)
        .bind(id)
        .bind(old_master_key_id)
        .execute(store.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Stores row `id`'s sealed private part.
    pub(crate) async fn set_sealed(
        self,
        tx: &mut Transaction<'static, Any>,
        id: i64,
        sealed: &[u8],
    ) -> StoreResult<()> {
        sqlx::query(&format!(
            "UPDATE {} SET sealed_key = $1 WHERE id = $2",
            self.name()
        ))
        .bind(sealed)
        .bind(id)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}

impl Store {
    pub(crate) async fn begin(&self) -> StoreResult<Transaction<'static, Any>> {
        Ok(self.pool().begin().await?)
    }

    /// Retires the key in use (destroying its private part) and inserts the new row as active, in the caller's
    /// transaction; the caller seals the key with the returned row id and commits. Returns the new row's id and
    /// the replaced key as it was just before (its health says whether Apple was refusing it).
    pub(crate) async fn insert_active_key(
        tx: &mut Transaction<'static, Any>,
        new: &NewKeyRow<'_>,
        actor: &Actor,
        first_only: bool,
    ) -> StoreResult<(i64, Option<KeyRow>)> {
        let now = crate::clock::now_ms();
        // Two rotations at once would otherwise both retire the same old key, and the second would collide with the
        // first's new one on `apple_keys_one_in_use`; in turn, the second replaces the first's key.
        super::projects::lock_project(tx, new.project_id).await?;
        let replaced = sqlx::query_as::<_, KeyRow>(&format!(
            "SELECT {KEY_COLUMNS} FROM apple_keys WHERE project_id = $1 AND status {KEY_IN_USE}"
        ))
        .bind(new.project_id)
        .fetch_optional(&mut **tx)
        .await?;
        if first_only && replaced.is_some() {
            return Err(StoreError::Conflict(ALREADY_HAS_A_KEY.to_owned()));
        }
        if let Some(old) = &replaced {
            KeyTable::Apple
                .end_use(tx, old.id, KeyStatus::Retired, now)
                .await?;
            let detail = if old.health().is_refused() {
                "replaced by a new key while Apple refused it (HTTP 401); private part destroyed"
            } else {
                "replaced by a new key; private part destroyed"
            };
            audit::record(
                tx,
                actor,
                "key.retire",
                Some(new.project_id),
                &old.key_id,
                detail,
            )
            .await?;
        }
        let id = KeyTable::Apple.insert_active(tx, new, now).await?;
        Ok((id, replaced))
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

    /// Stops all use of a key at once: status revoked, private part destroyed. `typed_key_id` is the confirmation
    /// the person typed; it is compared with the row inside the transaction, so a key whose Key ID was corrected
    /// meanwhile is not revoked under a name the person did not type.
    pub async fn revoke_key(
        &self,
        project_id: i64,
        id: i64,
        typed_key_id: &str,
        actor: &Actor,
    ) -> StoreResult<KeyRow> {
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
        if row.key_id != typed_key_id {
            return Err(StoreError::Conflict(format!(
                "The key's Key ID is now {}, not the one confirmed; nothing was changed.",
                row.key_id
            )));
        }
        KeyTable::Apple
            .end_use(&mut tx, id, KeyStatus::Revoked, now)
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
        self.flush_destroyed().await;
        Ok(row)
    }

    /// After a private part is destroyed: on SQLite, `secure_delete` has zeroed its bytes in the page, and a
    /// checkpoint that truncates the write-ahead log drops the log's older copies of that page, so the ciphertext is
    /// left in neither file. (PostgreSQL keeps old row versions until VACUUM; the sealing under the master key is
    /// what protects them there — README, "Security".) A failure is logged, not raised: the key is destroyed either
    /// way, and the next checkpoint drops the copies.
    pub(crate) async fn flush_destroyed(&self) {
        if self.is_postgres() {
            return;
        }
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(self.pool())
            .await
        {
            tracing::warn!(error = %e, "could not checkpoint after destroying a key");
        }
    }

    /// The key row to correct and its sealed bytes, read in the caller's transaction after the project's row is
    /// locked, so a rotation, revocation or other correction is either wholly before or wholly after it.
    pub(crate) async fn key_for_correction(
        tx: &mut Transaction<'static, Any>,
        project_id: i64,
        id: i64,
    ) -> StoreResult<Option<(KeyRow, Option<Vec<u8>>)>> {
        super::projects::lock_project(tx, project_id).await?;
        let Some(row) = sqlx::query_as::<_, KeyRow>(&format!(
            "SELECT {KEY_COLUMNS} FROM apple_keys WHERE id = $1 AND project_id = $2"
        ))
        .bind(id)
        .bind(project_id)
        .fetch_optional(&mut **tx)
        .await?
        else {
            return Ok(None);
        };
        let (sealed,): (Option<Vec<u8>>,) =
            sqlx::query_as("SELECT sealed_key FROM apple_keys WHERE id = $1")
                .bind(id)
                .fetch_one(&mut **tx)
                .await?;
        Ok(Some((row, sealed)))
    }

    /// Gives a key row corrected identifiers and the private part re-sealed under them. What was recorded about
    /// the old identifiers (checks, 401s) no longer describes the key, so it is cleared: the key is unverified.
    pub(crate) async fn correct_key(
        tx: &mut Transaction<'static, Any>,
        id: i64,
        key_id: &str,
        issuer_id: &str,
        sealed: &[u8],
        master_key_id: &str,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE apple_keys SET key_id = $1, issuer_id = $2, sealed_key = $3, master_key_id = $4, status = $5, \
             auth_failures = 0, verified_at = NULL, verify_summary = NULL, sandbox_check = NULL, \
             production_check = NULL, checked_at = NULL WHERE id = $6",
        )
        .bind(key_id)
        .bind(issuer_id)
        .bind(sealed)
        .bind(master_key_id)
        .bind(KeyStatus::Active.as_str())
        .bind(id)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Records the outcome of a call signed with this key. Repeated 401s turn an active key `failing`; a success
    /// heals it, and a refusal in both environments recorded by an earlier check no longer describes it.
    /// The words in the SQL are [`KeyStatus::Active`], [`KeyStatus::Failing`] and [`Verdict::Refused`], written as
    /// text: the database changes the status in the same statement that counts the failures, so the count and the
    /// status always agree.
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
                     status = CASE WHEN status = 'failing' THEN 'active' ELSE status END, \
                     sandbox_check = CASE WHEN sandbox_check = 'refused' AND production_check = 'refused' \
                                     THEN NULL ELSE sandbox_check END, \
                     production_check = CASE WHEN sandbox_check = 'refused' AND production_check = 'refused' \
                                        THEN NULL ELSE production_check END \
                     WHERE id = $2 \
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
                     status = CASE WHEN status = 'active' AND auth_failures + $3 >= $5 THEN 'failing' ELSE status END WHERE id = $4",
                )
                .bind(now)
                .bind(what)
                .bind(i64::from(unauthorized))
                .bind(id)
                .bind(FAILING_AFTER_401S)
                .execute(self.pool())
                .await?;
            }
        }
        Ok(())
    }

    /// Records what one Verify now found. Acceptance anywhere is a success (the last success, the 401 count, a
    /// `failing` key healed); a refusal in both environments is said at once: the key turns `failing` without
    /// waiting for a second 401. A retired or revoked key keeps its status.
    pub async fn record_key_check(&self, id: i64, check: &KeyCheck) -> StoreResult<()> {
        let now = crate::clock::now_ms();
        let (accepted, refused) = (check.accepted_somewhere(), check.refused_in_both());
        sqlx::query(
            "UPDATE apple_keys SET checked_at = $1, verify_summary = $2, \
             sandbox_check = COALESCE($3, sandbox_check), production_check = COALESCE($4, production_check), \
             verified_at = CASE WHEN $5 = 1 THEN $1 ELSE verified_at END, \
             last_success_at = CASE WHEN $6 = 1 THEN $1 ELSE last_success_at END, \
             auth_failures = CASE WHEN $6 = 1 THEN 0 WHEN $7 = 1 THEN auth_failures + 1 ELSE auth_failures END, \
             last_failure_at = CASE WHEN $8 IS NULL THEN last_failure_at ELSE $1 END, \
             last_failure = COALESCE($8, last_failure), \
             status = CASE WHEN status NOT IN ('active', 'failing') THEN status \
                           WHEN $7 = 1 THEN 'failing' WHEN $6 = 1 THEN 'active' ELSE status END \
             WHERE id = $9",
        )
        .bind(now)
        .bind(&check.summary)
        .bind(check.sandbox.map(Verdict::as_str))
        .bind(check.production.map(Verdict::as_str))
        .bind(i64::from(check.ok))
        .bind(i64::from(accepted))
        .bind(i64::from(refused))
        .bind(check.failure.as_deref().filter(|_| !accepted))
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
