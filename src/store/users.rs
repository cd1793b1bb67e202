//! People who sign in, with their role.
use super::{audit, Actor, Store, StoreError, StoreResult};
use crate::domain::{Email, Role};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct UserRow {
    pub id: i64,
    pub email: String,
    pub password_hash: String,
    pub role: String,
    pub disabled: i64,
    pub created_at: i64,
    pub password_changed_at: i64,
    pub must_change_password: i64,
}

#[derive(Clone, Debug)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: i64,
    /// The password was issued by an admin (or the command line) and must be replaced at sign-in.
    pub must_change_password: bool,
    pub(crate) password_hash: String,
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;
    fn try_from(r: UserRow) -> Result<Self, StoreError> {
        let role = Role::parse(&r.role)
            .map_err(|_| StoreError::Other(anyhow::anyhow!("user {} has an unknown role", r.id)))?;
        Ok(User {
            id: r.id,
            email: r.email,
            role,
            disabled: r.disabled != 0,
            created_at: r.created_at,
            must_change_password: r.must_change_password != 0,
            password_hash: r.password_hash,
        })
    }
}

const USER_COLUMNS: &str =
    "id, email, password_hash, role, disabled, created_at, password_changed_at, must_change_password";

impl Store {
    #[tracing::instrument(skip_all)]
    /// Adds a user. `issued`: the password was made for them by someone else (shown to an admin), so they must
    /// choose their own at first sign-in.
    pub async fn create_user(
        &self,
        email: &Email,
        password_hash: &str,
        role: Role,
        issued: bool,
        actor: &Actor,
    ) -> StoreResult<User> {
        let now = crate::clock::now_ms();
        let mut tx = self.pool().begin().await?;
        let row = sqlx::query_as::<_, UserRow>(&format!(
            "INSERT INTO users (email, password_hash, role, disabled, created_at, password_changed_at, \
             must_change_password) VALUES ($1, $2, $3, 0, $4, $4, $5) RETURNING {USER_COLUMNS}"
        ))
        .bind(email.as_str())
        .bind(password_hash)
        .bind(role.as_str())
        .bind(now)
        .bind(i64::from(issued))
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| match StoreError::from(e) {
            StoreError::Conflict(_) => StoreError::Conflict("A user with this e-mail address already exists.".into()),
            other => other,
        })?;
        audit::record(
            &mut tx,
            actor,
            "user.create",
            None,
            email.as_str(),
            &format!("role {}", role.as_str()),
        )
        .await?;
        tx.commit().await?;
        User::try_from(row)
    }

    pub async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        let row = sqlx::query_as::<_, UserRow>(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE email = $1"
        ))
        .bind(email)
        .fetch_optional(self.pool())
        .await?;
        row.map(User::try_from).transpose()
    }

    pub async fn user_by_id(&self, id: i64) -> StoreResult<User> {
        let row = sqlx::query_as::<_, UserRow>(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .ok_or(StoreError::NotFound)?;
        User::try_from(row)
    }

    pub async fn list_users(&self) -> StoreResult<Vec<User>> {
        let rows = sqlx::query_as::<_, UserRow>(&format!(
            "SELECT {USER_COLUMNS} FROM users ORDER BY email"
        ))
        .fetch_all(self.pool())
        .await?;
        rows.into_iter().map(User::try_from).collect()
    }

    pub async fn count_users(&self) -> StoreResult<i64> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users")
            .fetch_one(self.pool())
            .await?;
        Ok(n)
    }

    /// Changes role and/or disabled flag, refusing any change that would leave no active admin.
    /// The check and the change share one transaction so two admins demoting each other cannot both win.
    #[tracing::instrument(skip_all)]
    pub async fn update_user_access(
        &self,
        id: i64,
        role: Role,
        disabled: bool,
        actor: &Actor,
    ) -> StoreResult<User> {
        let mut tx = self.pool().begin().await?;
        if self.postgres {
            // Serialise concurrent admin changes on PostgreSQL; SQLite already has a single writer.
            sqlx::query("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE")
                .execute(&mut *tx)
                .await?;
        } else {
            // Take the write lock up front so the count below cannot go stale.
            sqlx::query("UPDATE users SET id = id WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        let before = sqlx::query_as::<_, UserRow>(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        let before = User::try_from(before)?;
        let loses_admin =
            before.role == Role::Admin && !before.disabled && (role != Role::Admin || disabled);
        if loses_admin {
            let (admins,): (i64,) =
                sqlx::query_as("SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = 0")
                    .fetch_one(&mut *tx)
                    .await?;
            if admins <= 1 {
                return Err(StoreError::Conflict(
                    "This is the last active admin. Make another user an admin first, so that someone can still manage users.".into(),
                ));
            }
        }
        sqlx::query("UPDATE users SET role = $1, disabled = $2 WHERE id = $3")
            .bind(role.as_str())
            .bind(i64::from(disabled))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if disabled {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        let detail = format!(
            "role {} -> {}; {}",
            before.role.as_str(),
            role.as_str(),
            if disabled { "disabled" } else { "enabled" }
        );
        audit::record(&mut tx, actor, "user.update", None, &before.email, &detail).await?;
        tx.commit().await?;
        self.user_by_id(id).await
    }

    /// Sets a new password and ends every other session of the user, in one transaction.
    #[tracing::instrument(skip_all)]
    pub async fn set_password(
        &self,
        user_id: i64,
        password_hash: &str,
        keep_session_id: Option<i64>,
        actor: &Actor,
    ) -> StoreResult<()> {
        let now = crate::clock::now_ms();
        let mut tx = self.pool().begin().await?;
        // Written before anything is read: on SQLite a transaction that has read cannot wait for the write lock.
        let email: (String,) = sqlx::query_as(
            "UPDATE users SET password_hash = $1, password_changed_at = $2, must_change_password = 0 \
             WHERE id = $3 RETURNING email",
        )
        .bind(password_hash)
        .bind(now)
        .bind(user_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id <> $2")
            .bind(user_id)
            .bind(keep_session_id.unwrap_or(-1))
            .execute(&mut *tx)
            .await?;
        audit::record(
            &mut tx,
            actor,
            "user.password",
            None,
            &email.0,
            "password changed; other sessions ended",
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// An admin's reset: a new issued password the user must replace at sign-in; every session of the user ends
    /// and their sign-in failures are forgotten, in one transaction.
    #[tracing::instrument(skip_all)]
    pub async fn reset_password(
        &self,
        user_id: i64,
        password_hash: &str,
        actor: &Actor,
    ) -> StoreResult<User> {
        let now = crate::clock::now_ms();
        let mut tx = self.pool().begin().await?;
        let (email,): (String,) = sqlx::query_as(
            "UPDATE users SET password_hash = $1, password_changed_at = $2, must_change_password = 1 \
             WHERE id = $3 RETURNING email",
        )
        .bind(password_hash)
        .bind(now)
        .bind(user_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        super::throttle::clear_account_failures(&mut tx, &email).await?;
        audit::record(
            &mut tx,
            actor,
            "user.password_reset",
            None,
            &email,
            "new one-time password issued; sessions ended; sign-in unlocked",
        )
        .await?;
        tx.commit().await?;
        self.user_by_id(user_id).await
    }

    /// Forgets the user's failed sign-ins from every address, so a locked account can sign in again; audited.
    /// Returns how many failures were forgotten.
    pub async fn unlock_user(&self, email: &str, actor: &Actor) -> StoreResult<u64> {
        let mut tx = self.pool().begin().await?;
        let n = super::throttle::clear_account_failures(&mut tx, email).await?;
        audit::record(
            &mut tx,
            actor,
            "user.unlock",
            None,
            email,
            &format!("{n} failed sign-in attempts forgotten"),
        )
        .await?;
        tx.commit().await?;
        Ok(n)
    }
}
