//! Server-side sessions: the cookie holds a random token, the table holds only its SHA-256.
use super::users::{User, UserRow};
use super::{Store, StoreResult};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct SessionRow {
    pub id: i64,
    pub user_id: i64,
    pub csrf_token: String,
    pub created_at: i64,
    pub last_seen_at: i64,
}

impl Store {
    pub async fn create_session(
        &self,
        token_hash: &str,
        user_id: i64,
        csrf_token: &str,
        ip: &str,
        user_agent: &str,
    ) -> StoreResult<i64> {
        let now = crate::clock::now_ms();
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, last_seen_at, ip, user_agent) \
             VALUES ($1, $2, $3, $4, $4, $5, $6) RETURNING id",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(csrf_token)
        .bind(now)
        .bind(ip)
        .bind(user_agent.chars().take(200).collect::<String>())
        .fetch_one(self.pool())
        .await?;
        Ok(id)
    }

    /// The session and its user in one statement: every signed-in request needs both.
    pub async fn session_by_token_hash(
        &self,
        token_hash: &str,
    ) -> StoreResult<Option<(SessionRow, User)>> {
        #[derive(sqlx::FromRow)]
        struct Joined {
            session_id: i64,
            csrf_token: String,
            session_created_at: i64,
            last_seen_at: i64,
            #[sqlx(flatten)]
            user: UserRow,
        }
        let joined = sqlx::query_as::<_, Joined>(
            "SELECT s.id AS session_id, s.csrf_token, s.created_at AS session_created_at, s.last_seen_at, \
             u.id, u.email, u.password_hash, u.role, u.disabled, u.created_at, u.password_changed_at, \
             u.must_change_password FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(self.pool())
        .await?;
        let Some(j) = joined else { return Ok(None) };
        let session = SessionRow {
            id: j.session_id,
            user_id: j.user.id,
            csrf_token: j.csrf_token,
            created_at: j.session_created_at,
            last_seen_at: j.last_seen_at,
        };
        Ok(Some((session, User::try_from(j.user)?)))
    }

    pub async fn touch_session(&self, id: i64, now: i64) -> StoreResult<()> {
        sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Ends the session of a token, if it still exists (a session presented at sign-in is replaced by a new one).
    pub async fn delete_session_by_token_hash(&self, token_hash: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn delete_session(&self, id: i64) -> StoreResult<()> {
        sqlx::query("DELETE FROM sessions WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn count_sessions_of(&self, user_id: i64) -> StoreResult<i64> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM sessions WHERE user_id = $1")
            .bind(user_id)
            .fetch_one(self.pool())
            .await?;
        Ok(n)
    }

    pub async fn delete_expired_sessions(
        &self,
        idle_before: i64,
        created_before: i64,
    ) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE last_seen_at < $1 OR created_at < $2")
            .bind(idle_before)
            .bind(created_before)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }
}

impl Store {
    /// Moves every session's clock back, as if time had passed; only the tests use it.
    #[doc(hidden)]
    pub async fn age_sessions_for_tests(&self, by_ms: i64) -> StoreResult<()> {
        sqlx::query(
            "UPDATE sessions SET last_seen_at = last_seen_at - $1, created_at = created_at - $1",
        )
        .bind(by_ms)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}
