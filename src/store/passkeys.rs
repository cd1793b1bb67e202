//! Rows of `passkeys` and `passkey_ceremonies`. The WebAuthn checks happen in `crate::auth::passkey`; this file
//! only moves the credentials (webauthn-rs's JSON: public key and counter, nothing secret) and the ceremonies'
//! state.
use super::{audit, Actor, Store, StoreError, StoreResult};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct PasskeyRow {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    /// The credential id, base64url: what the browser names the passkey by.
    pub credential_id: String,
    /// webauthn-rs's `Passkey` as JSON.
    pub credential: String,
    /// The host it was made for.
    pub rp_id: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

const COLUMNS: &str =
    "id, user_id, name, credential_id, credential, rp_id, created_at, last_used_at";

/// What a ceremony belongs to: the session that enrols a passkey, or the pending sign-in that asks for one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CeremonyOwner {
    Session(i64),
    PendingSignIn(i64),
}

impl CeremonyOwner {
    fn column(self) -> &'static str {
        match self {
            CeremonyOwner::Session(_) => "session_id",
            CeremonyOwner::PendingSignIn(_) => "pending_sign_in_id",
        }
    }

    fn id(self) -> i64 {
        match self {
            CeremonyOwner::Session(id) | CeremonyOwner::PendingSignIn(id) => id,
        }
    }
}

/// A ceremony taken out of the table (so it cannot be used again).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Ceremony {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub state: String,
    pub expires_at: i64,
}

/// The answer to a removal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Removal {
    /// Removed; the name of what was removed, and whether any second factor is left.
    Removed { name: String, factors_left: i64 },
    /// Refused: it is the user's last second factor and their role must have one.
    LastOfRequiredRole,
}

pub const DUPLICATE_CREDENTIAL: &str =
    "This passkey is already registered with storedesk, for this account or another; nothing was added.";

/// Confirmed second factors of any kind the user has: TOTP and passkeys.
async fn factors_of(conn: &mut sqlx::AnyConnection, user_id: i64) -> StoreResult<i64> {
    let (totp,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM second_factors WHERE user_id = $1 AND confirmed_at IS NOT NULL",
    )
    .bind(user_id)
    .fetch_one(&mut *conn)
    .await?;
    let (passkeys,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM passkeys WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(&mut *conn)
        .await?;
    Ok(totp + passkeys)
}

/// Locks the user's row until the commit (see `projects::lock_project`): two removals at once of a user's last two
/// second factors then run one after the other, and the later one sees the earlier one's.
async fn lock_user(conn: &mut sqlx::AnyConnection, user_id: i64) -> StoreResult<String> {
    let done = sqlx::query("UPDATE users SET id = id WHERE id = $1")
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    if done.rows_affected() != 1 {
        return Err(StoreError::NotFound);
    }
    let (email,): (String,) = sqlx::query_as("SELECT email FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_one(&mut *conn)
        .await?;
    Ok(email)
}

impl Store {
    /// The user's passkeys, oldest first.
    pub async fn passkeys_of(&self, user_id: i64) -> StoreResult<Vec<PasskeyRow>> {
        Ok(sqlx::query_as::<_, PasskeyRow>(&format!(
            "SELECT {COLUMNS} FROM passkeys WHERE user_id = $1 ORDER BY created_at, id"
        ))
        .bind(user_id)
        .fetch_all(self.pool())
        .await?)
    }

    /// Stores a new passkey; audited. A name the user already gave another passkey, or a credential already
    /// registered (to anyone), is refused with a conflict naming it.
    pub async fn add_passkey(
        &self,
        user_id: i64,
        name: &str,
        credential_id: &str,
        credential: &str,
        rp_id: &str,
        actor: &Actor,
    ) -> StoreResult<i64> {
        let mut tx = self.pool().begin().await?;
        let email = lock_user(&mut tx, user_id).await?;
        let (same_name,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM passkeys WHERE user_id = $1 AND name = $2")
                .bind(user_id)
                .bind(name)
                .fetch_one(&mut *tx)
                .await?;
        if same_name > 0 {
            return Err(StoreError::Conflict(duplicate_name(name)));
        }
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO passkeys (user_id, name, credential_id, credential, rp_id, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(user_id)
        .bind(name)
        .bind(credential_id)
        .bind(credential)
        .bind(rp_id)
        .bind(crate::clock::now_ms())
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| match StoreError::from(e) {
            StoreError::Conflict(_) => StoreError::Conflict(DUPLICATE_CREDENTIAL.into()),
            other => other,
        })?;
        audit::record(
            &mut tx,
            actor,
            "auth.passkey_added",
            None,
            &email,
            &format!("passkey \u{201c}{name}\u{201d} added for {rp_id}"),
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Records a passkey's use at sign-in: its credential with the new counter, and when.
    pub async fn passkey_used(&self, id: i64, credential: &str, now: i64) -> StoreResult<()> {
        sqlx::query("UPDATE passkeys SET credential = $1, last_used_at = $2 WHERE id = $3")
            .bind(credential)
            .bind(now)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Removes one of the user's passkeys; audited. With `keep_one` (the user's role must have a second factor)
    /// the last one is refused. When no second factor is left, the recovery codes go too.
    pub async fn remove_passkey(
        &self,
        user_id: i64,
        passkey_id: i64,
        keep_one: bool,
        actor: &Actor,
    ) -> StoreResult<Removal> {
        let mut tx = self.pool().begin().await?;
        let email = lock_user(&mut tx, user_id).await?;
        let (name,): (String,) =
            sqlx::query_as("SELECT name FROM passkeys WHERE id = $1 AND user_id = $2")
                .bind(passkey_id)
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(StoreError::NotFound)?;
        if keep_one && factors_of(&mut tx, user_id).await? <= 1 {
            return Ok(Removal::LastOfRequiredRole);
        }
        sqlx::query("DELETE FROM passkeys WHERE id = $1")
            .bind(passkey_id)
            .execute(&mut *tx)
            .await?;
        let factors_left = factors_of(&mut tx, user_id).await?;
        if factors_left == 0 {
            sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
        }
        audit::record(
            &mut tx,
            actor,
            "auth.passkey_removed",
            None,
            &email,
            &format!("passkey \u{201c}{name}\u{201d} removed"),
        )
        .await?;
        tx.commit().await?;
        Ok(Removal::Removed { name, factors_left })
    }

    /// Turns the user's authenticator app (TOTP) off; audited as `auth.second_factor_disabled`. With `keep_one`
    /// (the user's role must have a second factor) it is refused when it is the last second factor. When no second
    /// factor is left, the recovery codes go too. `Removed` with an empty name when TOTP was not on.
    pub async fn remove_totp(
        &self,
        user_id: i64,
        keep_one: bool,
        actor: &Actor,
    ) -> StoreResult<Removal> {
        let mut tx = self.pool().begin().await?;
        let email = lock_user(&mut tx, user_id).await?;
        let (on,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM second_factors WHERE user_id = $1 AND kind = $2 AND confirmed_at IS NOT NULL",
        )
        .bind(user_id)
        .bind(super::second_factor::TOTP)
        .fetch_one(&mut *tx)
        .await?;
        if on > 0 && keep_one && factors_of(&mut tx, user_id).await? <= 1 {
            return Ok(Removal::LastOfRequiredRole);
        }
        sqlx::query("DELETE FROM second_factors WHERE user_id = $1 AND kind = $2")
            .bind(user_id)
            .bind(super::second_factor::TOTP)
            .execute(&mut *tx)
            .await?;
        let factors_left = factors_of(&mut tx, user_id).await?;
        if factors_left == 0 {
            sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM pending_sign_ins WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
        }
        let detail = match (on > 0, factors_left) {
            (false, _) => "the authenticator app was not on",
            (true, 0) => "authenticator app and recovery codes removed",
            (true, _) => "authenticator app removed; passkeys and recovery codes kept",
        };
        audit::record(
            &mut tx,
            actor,
            "auth.second_factor_disabled",
            None,
            &email,
            detail,
        )
        .await?;
        tx.commit().await?;
        Ok(Removal::Removed {
            name: if on > 0 { "totp".into() } else { String::new() },
            factors_left,
        })
    }

    /// Keeps a ceremony's state for its second request, replacing the owner's earlier one (expired ones of anyone
    /// are cleared on the way).
    pub async fn begin_passkey_ceremony(
        &self,
        owner: CeremonyOwner,
        user_id: i64,
        name: &str,
        state: &str,
        now: i64,
        expires_at: i64,
    ) -> StoreResult<()> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM passkey_ceremonies WHERE expires_at <= $1")
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(&format!(
            "DELETE FROM passkey_ceremonies WHERE {} = $1",
            owner.column()
        ))
        .bind(owner.id())
        .execute(&mut *tx)
        .await?;
        sqlx::query(&format!(
            "INSERT INTO passkey_ceremonies (user_id, {}, name, state, expires_at) VALUES ($1, $2, $3, $4, $5)",
            owner.column()
        ))
        .bind(user_id)
        .bind(owner.id())
        .bind(name)
        .bind(state)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Takes the owner's ceremony out of the table: only one request gets it (single use). None when there is
    /// none, or it expired by `now` (removed all the same).
    pub async fn take_passkey_ceremony(
        &self,
        owner: CeremonyOwner,
        now: i64,
    ) -> StoreResult<Option<Ceremony>> {
        let found = sqlx::query_as::<_, Ceremony>(&format!(
            "SELECT id, user_id, name, state, expires_at FROM passkey_ceremonies WHERE {} = $1",
            owner.column()
        ))
        .bind(owner.id())
        .fetch_optional(self.pool())
        .await?;
        let Some(ceremony) = found else {
            return Ok(None);
        };
        let done = sqlx::query("DELETE FROM passkey_ceremonies WHERE id = $1")
            .bind(ceremony.id)
            .execute(self.pool())
            .await?;
        if done.rows_affected() != 1 || ceremony.expires_at <= now {
            return Ok(None);
        }
        Ok(Some(ceremony))
    }
}

pub fn duplicate_name(name: &str) -> String {
    format!(
        "You already have a passkey named \u{201c}{name}\u{201d}. Choose another name; nothing was added."
    )
}
