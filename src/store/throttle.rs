//! Failed sign-ins, counted per account and per client address in the database so every instance sees them.
use super::{Store, StoreResult};

impl Store {
    pub async fn record_login_failure(&self, subjects: &[String], at: i64) -> StoreResult<()> {
        let mut tx = self.pool().begin().await?;
        for subject in subjects {
            sqlx::query("INSERT INTO login_failures (subject, at) VALUES ($1, $2)")
                .bind(subject)
                .bind(at)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
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

    pub async fn prune_login_failures(&self, before: i64) -> StoreResult<()> {
        sqlx::query("DELETE FROM login_failures WHERE at < $1")
            .bind(before)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
