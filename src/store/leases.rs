//! Leases on named background jobs, so that of several instances sharing one database only one runs a
//! scheduled job at a time. A lease is a row (job name, holder, expires_at); it is taken by one atomic
//! upsert that succeeds only when the row is new, expired, or already ours, on SQLite and PostgreSQL alike.
use super::{Store, StoreResult};

#[derive(Debug, Clone, sqlx::FromRow, PartialEq, Eq)]
pub struct Lease {
    pub name: String,
    pub holder: String,
    pub expires_at: i64,
    pub acquired_at: i64,
}

impl Store {
    /// Takes (or renews) the lease `name` for `holder` until `now_ms + ttl_ms`. Returns false when another
    /// holder has it and it has not expired. Two callers racing get exactly one `true`: on PostgreSQL the
    /// second upsert waits for the first and then sees an unexpired row; SQLite serialises writers.
    pub async fn try_acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now_ms: i64,
        ttl_ms: i64,
    ) -> StoreResult<bool> {
        let row: Option<(String,)> = sqlx::query_as(
            "INSERT INTO job_leases (name, holder, expires_at, acquired_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at, \
             acquired_at = excluded.acquired_at \
             WHERE job_leases.expires_at <= excluded.acquired_at OR job_leases.holder = excluded.holder \
             RETURNING holder",
        )
        .bind(name)
        .bind(holder)
        .bind(now_ms.saturating_add(ttl_ms))
        .bind(now_ms)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.is_some_and(|(h,)| h == holder))
    }

    /// Gives the lease up early (only if still ours), so another instance may take it at once.
    pub async fn release_lease(&self, name: &str, holder: &str) -> StoreResult<()> {
        sqlx::query("UPDATE job_leases SET expires_at = 0 WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn lease(&self, name: &str) -> StoreResult<Option<Lease>> {
        Ok(sqlx::query_as::<_, Lease>(
            "SELECT name, holder, expires_at, acquired_at FROM job_leases WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(self.pool())
        .await?)
    }
}
