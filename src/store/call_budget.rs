//! Rows of `apple_call_budget`: one counter per app, environment, endpoint and hour.
use super::{Store, StoreResult};

impl Store {
    /// Takes one unit if fewer than `limit` were used this hour. One statement, so two instances racing for
    /// the last unit can't both get it.
    pub async fn take_call_budget(
        &self,
        app: &str,
        environment: &str,
        endpoint: &str,
        hour: i64,
        limit: i64,
    ) -> StoreResult<bool> {
        self.take_call_budget_block(app, environment, endpoint, hour, limit, 1)
            .await
    }

    /// Takes `block` units at once if all of them fit under `limit` this hour.
    pub async fn take_call_budget_block(
        &self,
        app: &str,
        environment: &str,
        endpoint: &str,
        hour: i64,
        limit: i64,
        block: i64,
    ) -> StoreResult<bool> {
        if block > limit {
            return Ok(false);
        }
        let taken: Option<(i64,)> = sqlx::query_as(
            "INSERT INTO apple_call_budget (app, environment, endpoint, hour, used) VALUES ($1, $2, $3, $4, $6) \
             ON CONFLICT (app, environment, endpoint, hour) DO UPDATE SET used = apple_call_budget.used + $6 \
             WHERE apple_call_budget.used + $6 <= $5 RETURNING used",
        )
        .bind(app)
        .bind(environment)
        .bind(endpoint)
        .bind(hour)
        .bind(limit)
        .bind(block)
        .fetch_optional(self.pool())
        .await?;
        Ok(taken.is_some())
    }

    pub async fn call_budget_used(
        &self,
        app: &str,
        environment: &str,
        endpoint: &str,
        hour: i64,
    ) -> StoreResult<i64> {
        let used: Option<(i64,)> = sqlx::query_as(
            "SELECT used FROM apple_call_budget WHERE app = $1 AND environment = $2 AND endpoint = $3 AND hour = $4",
        )
        .bind(app)
        .bind(environment)
        .bind(endpoint)
        .bind(hour)
        .fetch_optional(self.pool())
        .await?;
        Ok(used.map(|(n,)| n).unwrap_or(0))
    }

    /// Forgets hours before `hour`; their counters no longer limit anything.
    pub async fn prune_call_budget(&self, before_hour: i64) -> StoreResult<u64> {
        Ok(sqlx::query("DELETE FROM apple_call_budget WHERE hour < $1")
            .bind(before_hour)
            .execute(self.pool())
            .await?
            .rows_affected())
    }
}
