//! Failed sign-ins, counted per account and per client address in the database so every instance sees them.
use super::{Store, StoreResult};

/// Where an account's per-address subjects start (`crate::auth::throttle::account_subject`).
fn account_prefix(email: &str) -> String {
    format!("account:{}|", email.trim().to_ascii_lowercase())
}

/// Forgets an account's failures from every address (an admin's unlock or reset). Compared by prefix with
/// `substr`, not `LIKE`, since an e-mail address may hold `_` or `%`.
pub(super) async fn clear_account_failures(
    conn: &mut sqlx::AnyConnection,
    email: &str,
) -> StoreResult<u64> {
    let prefix = account_prefix(email);
    let done = sqlx::query(
        "DELETE FROM login_failures WHERE substr(subject, 1, CAST($2 AS INTEGER)) = $1",
    )
    .bind(&prefix)
    .bind(i64::try_from(prefix.chars().count()).unwrap_or(i64::MAX))
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

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

    /// Accounts with at least `at_least` failures from one address since `since`: with the limit, the accounts
    /// whose next sign-in from that address is refused, for the users page.
    pub async fn locked_accounts(
        &self,
        since: i64,
        at_least: i64,
    ) -> StoreResult<std::collections::HashSet<String>> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT subject FROM login_failures WHERE at >= $1 AND subject LIKE 'account:%' \
             GROUP BY subject HAVING COUNT(*) >= $2",
        )
        .bind(since)
        .bind(at_least)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(subject,)| {
                let rest = subject.strip_prefix("account:")?;
                Some(rest.rsplit_once("|address:")?.0.to_owned())
            })
            .collect())
    }
}
