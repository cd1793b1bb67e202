//! Rows of `second_factors`, `recovery_codes` and `pending_sign_ins`. Sealing, codes and their checks happen in
//! `crate::auth::second_factor`; this file only moves bytes and hashes.
use subtle::ConstantTimeEq;

use super::{audit, Actor, Store, StoreError, StoreResult};

/// The authenticator app's kind; passkeys have a table of their own (`super::passkeys`).
pub const TOTP: &str = "totp";

#[derive(Clone, sqlx::FromRow)]
pub struct SecondFactorRow {
    pub id: i64,
    pub user_id: i64,
    pub kind: String,
    pub sealed_secret: Vec<u8>,
    pub master_key_id: String,
    pub created_at: i64,
    pub confirmed_at: Option<i64>,
    pub last_step: i64,
}

impl std::fmt::Debug for SecondFactorRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecondFactorRow")
            .field("user_id", &self.user_id)
            .field("kind", &self.kind)
            .field("confirmed_at", &self.confirmed_at)
            .finish_non_exhaustive()
    }
}

/// A right password waiting for its second factor.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct PendingSignIn {
    pub id: i64,
    pub user_id: i64,
    pub next_path: String,
}

const COLUMNS: &str =
    "id, user_id, kind, sealed_secret, master_key_id, created_at, confirmed_at, last_step";

impl Store {
    /// The user's second factor of `kind`, confirmed or still waiting for its first code.
    pub async fn second_factor(
        &self,
        user_id: i64,
        kind: &str,
    ) -> StoreResult<Option<SecondFactorRow>> {
        Ok(sqlx::query_as::<_, SecondFactorRow>(&format!(
            "SELECT {COLUMNS} FROM second_factors WHERE user_id = $1 AND kind = $2"
        ))
        .bind(user_id)
        .bind(kind)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Whether the user has any confirmed second factor (the sign-in's second step is asked for).
    /// A passkey counts as one.
    pub async fn has_second_factor(&self, user_id: i64) -> StoreResult<bool> {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM second_factors WHERE user_id = $1 AND confirmed_at IS NOT NULL) \
                  + (SELECT COUNT(*) FROM passkeys WHERE user_id = $2)",
        )
        .bind(user_id)
        .bind(user_id)
        .fetch_one(self.pool())
        .await?;
        Ok(n > 0)
    }

    /// Whether the user's authenticator app (TOTP) is on.
    pub async fn has_totp(&self, user_id: i64) -> StoreResult<bool> {
        Ok(self
            .second_factor(user_id, TOTP)
            .await?
            .is_some_and(|row| row.confirmed_at.is_some()))
    }

    /// The users who have a confirmed second factor (the users page marks them).
    pub async fn users_with_second_factor(&self) -> StoreResult<Vec<i64>> {
        let rows: Vec<(i64,)> = sqlx::query_as(
            "SELECT user_id FROM second_factors WHERE confirmed_at IS NOT NULL \
             UNION SELECT user_id FROM passkeys",
        )
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    /// Starts (or starts again) an enrolment: an unconfirmed row with the sealed secret. Refused with a conflict
    /// when the method is already confirmed.
    pub async fn begin_second_factor(
        &self,
        user_id: i64,
        kind: &str,
        sealed_secret: &[u8],
        master_key_id: &str,
    ) -> StoreResult<()> {
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "DELETE FROM second_factors WHERE user_id = $1 AND kind = $2 AND confirmed_at IS NULL",
        )
        .bind(user_id)
        .bind(kind)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO second_factors (user_id, kind, sealed_secret, master_key_id, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(user_id)
        .bind(kind)
        .bind(sealed_secret)
        .bind(master_key_id)
        .bind(crate::clock::now_ms())
        .execute(&mut *tx)
        .await
        .map_err(|e| match StoreError::from(e) {
            StoreError::Conflict(_) => {
                StoreError::Conflict("Two-step sign-in is already on for this account.".into())
            }
            other => other,
        })?;
        tx.commit().await?;
        Ok(())
    }

    /// Makes a waiting enrolment active, with the step of the code that confirmed it (used, so it cannot sign in
    /// again) and a fresh set of recovery codes; audited. False when there was no waiting enrolment.
    pub async fn confirm_second_factor(
        &self,
        user_id: i64,
        kind: &str,
        step: i64,
        recovery_hashes: &[String],
        actor: &Actor,
    ) -> StoreResult<bool> {
        let mut tx = self.pool().begin().await?;
        let done = sqlx::query(
            "UPDATE second_factors SET confirmed_at = $1, last_step = $2 \
             WHERE user_id = $3 AND kind = $4 AND confirmed_at IS NULL",
        )
        .bind(crate::clock::now_ms())
        .bind(step)
        .bind(user_id)
        .bind(kind)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        replace_codes(&mut tx, user_id, recovery_hashes).await?;
        audit::record(
            &mut tx,
            actor,
            "auth.second_factor_enrolled",
            None,
            &actor.email,
            &format!(
                "{kind} turned on; {} recovery codes issued",
                recovery_hashes.len()
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Records `step` as the last accepted code's, only if it is later than the last one: false for a code already
    /// used (also when two requests carry the same code at once: only one of them wins).
    pub async fn accept_code_step(&self, user_id: i64, kind: &str, step: i64) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE second_factors SET last_step = $1 \
             WHERE user_id = $2 AND kind = $3 AND confirmed_at IS NOT NULL AND last_step < $1",
        )
        .bind(step)
        .bind(user_id)
        .bind(kind)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Consumes the unused recovery code with this hash, compared in constant time against each of the user's.
    /// True when one was found and consumed now.
    pub async fn use_recovery_code(&self, user_id: i64, code_hash: &str) -> StoreResult<bool> {
        let rows: Vec<(i64, String)> = sqlx::query_as(
            "SELECT id, code_hash FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
        )
        .bind(user_id)
        .fetch_all(self.pool())
        .await?;
        let mut found = None;
        for (id, stored) in &rows {
            if bool::from(stored.as_bytes().ct_eq(code_hash.as_bytes())) {
                found = Some(*id);
            }
        }
        let Some(id) = found else { return Ok(false) };
        let done =
            sqlx::query("UPDATE recovery_codes SET used_at = $1 WHERE id = $2 AND used_at IS NULL")
                .bind(crate::clock::now_ms())
                .bind(id)
                .execute(self.pool())
                .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn recovery_codes_left(&self, user_id: i64) -> StoreResult<i64> {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
        )
        .bind(user_id)
        .fetch_one(self.pool())
        .await?;
        Ok(n)
    }

    /// A new set of recovery codes; the old ones stop working. Audited.
    pub async fn replace_recovery_codes(
        &self,
        user_id: i64,
        hashes: &[String],
        actor: &Actor,
    ) -> StoreResult<()> {
        let mut tx = self.pool().begin().await?;
        replace_codes(&mut tx, user_id, hashes).await?;
        audit::record(
            &mut tx,
            actor,
            "auth.second_factor_recovery_codes_replaced",
            None,
            &actor.email,
            &format!(
                "{} new recovery codes; the old ones no longer work",
                hashes.len()
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes every second factor of the user and their recovery codes; with `end_sessions` (an admin's reset)
    /// every session of theirs ends too. Audited as `action` about `target`.
    pub async fn remove_second_factors(
        &self,
        user_id: i64,
        end_sessions: bool,
        action: &str,
        actor: &Actor,
    ) -> StoreResult<String> {
        let mut tx = self.pool().begin().await?;
        let (email,): (String,) = sqlx::query_as("SELECT email FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?;
        let removed = sqlx::query("DELETE FROM second_factors WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let passkeys = sqlx::query("DELETE FROM passkeys WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let removed = removed + passkeys;
        sqlx::query("DELETE FROM passkey_ceremonies WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM pending_sign_ins WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        if end_sessions {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
        }
        let detail = match (removed, end_sessions) {
            (0, true) => "had no second factor; sessions ended",
            (0, false) => "had no second factor",
            (_, true) => "second factor and recovery codes removed; sessions ended",
            (_, false) => "second factor and recovery codes removed",
        };
        let detail = if passkeys > 0 {
            format!("{detail}; {passkeys} passkey(s) removed")
        } else {
            detail.to_string()
        };
        audit::record(&mut tx, actor, action, None, &email, &detail).await?;
        tx.commit().await?;
        Ok(email)
    }

    /// Every confirmed or waiting secret, for a master-key rotation.
    pub async fn all_sealed_second_factors(&self) -> StoreResult<Vec<SecondFactorRow>> {
        Ok(sqlx::query_as::<_, SecondFactorRow>(&format!(
            "SELECT {COLUMNS} FROM second_factors ORDER BY id"
        ))
        .fetch_all(self.pool())
        .await?)
    }

    /// Replaces one row's sealed secret only if it is still sealed under `old_master_key_id`.
    pub async fn reseal_second_factor(
        &self,
        id: i64,
        old_master_key_id: &str,
        sealed: &[u8],
        new_master_key_id: &str,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE second_factors SET sealed_secret = $1, master_key_id = $2 WHERE id = $3 AND master_key_id = $4",
        )
        .bind(sealed)
        .bind(new_master_key_id)
        .bind(id)
        .bind(old_master_key_id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records a right password waiting for its second factor (expired ones are cleared on the way).
    pub async fn create_pending_sign_in(
        &self,
        token_hash: &str,
        user_id: i64,
        next_path: &str,
        now: i64,
        expires_at: i64,
    ) -> StoreResult<()> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM pending_sign_ins WHERE expires_at <= $1")
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO pending_sign_ins (token_hash, user_id, next_path, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(next_path)
        .bind(now)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The pending sign-in of this token if it has not expired.
    pub async fn pending_sign_in(
        &self,
        token_hash: &str,
        now: i64,
    ) -> StoreResult<Option<PendingSignIn>> {
        Ok(sqlx::query_as::<_, PendingSignIn>(
            "SELECT id, user_id, next_path FROM pending_sign_ins WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Ends a pending sign-in; true only for the one request that ended it (single use).
    pub async fn consume_pending_sign_in(&self, id: i64) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM pending_sign_ins WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }
}

async fn replace_codes(
    conn: &mut sqlx::AnyConnection,
    user_id: i64,
    hashes: &[String],
) -> StoreResult<()> {
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    for hash in hashes {
        sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)")
            .bind(user_id)
            .bind(hash)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}
