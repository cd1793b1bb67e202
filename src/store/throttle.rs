//! Failed sign-ins, counted per account and per client address in the database so every instance sees them.
use super::{Store, StoreResult};

impl Store {
    /// Counts a sign-in attempt as failed before its password is checked: attempts sent at once then each see
    /// the others when they count (counted after the slow password check, they would all pass the limit).
    /// Returns the rows, for [`Store::forget_login_attempt`] when the attempt is refused by the lock or succeeds.
    pub async fn record_login_attempt(
        &self,
        subjects: &[String],
        at: i64,
    ) -> StoreResult<Vec<i64>> {
        let mut tx = self.pool().begin().await?;
        let mut ids = Vec::with_capacity(subjects.len());
        for subject in subjects {
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO login_failures (subject, at) VALUES ($1, $2) RETURNING id",
            )
            .bind(subject)
            .bind(at)
            .fetch_one(&mut *tx)
            .await?;
            ids.push(id);
        }
        tx.commit().await?;
        Ok(ids)
    }

    pub async fn forget_login_attempt(&self, ids: &[i64]) -> StoreResult<()> {
        for id in ids {
            sqlx::query("DELETE FROM login_failures WHERE id = $1")
                .bind(id)
                .execute(self.pool())
                .await?;
        }
        Ok(())
    }

    /// Failures since `since`, and the oldest of them (which decides when the lock lifts).
    pub async fn login_failures_since(
        &self,
        subject: &str,
        since: i64,
    ) -> StoreResult<(i64, Option<i64>)> {
        let (n, oldest): (i64, Option<i64>) = sqlx::query_as(
            "SELECT COUNT(*), MIN(at) FROM login_failures WHERE subject = $1 AND at >= $2",
        )
        .bind(subject)
        .bind(since)
        .fetch_one(self.pool())
        .await?;
        Ok((n, oldest))
    }

    pub async fn clear_login_failures(&self, subject: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM login_failures WHERE subject = $1")
            .bind(subject)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Removes failures recorded before `before`; returns how many.
    pub async fn prune_login_failures(&self, before: i64) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM login_failures WHERE at < $1")
            .bind(before)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }
}
