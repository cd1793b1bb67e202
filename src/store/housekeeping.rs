//! What the housekeeping job removes: expired sessions, old sign-in failures, and — only when a retention is set —
//! old notifications and finished forwarding deliveries. Removals go in batches, so one run never holds the
//! database (SQLite's single writer above all) for long. The audit log is never touched.
use super::{Store, StoreResult};

/// Rows removed per statement.
const BATCH: i64 = 1_000;

impl Store {
    /// Removes pending sign-ins (and passkey ceremonies) that expired by `now`: a right password whose second step
    /// never came leaves no row behind once the housekeeping has run. Counts the pending sign-ins.
    pub async fn delete_expired_pending_sign_ins(&self, now: i64) -> StoreResult<u64> {
        sqlx::query("DELETE FROM passkey_ceremonies WHERE expires_at <= $1")
            .bind(now)
            .execute(self.pool())
            .await?;
        Ok(
            sqlx::query("DELETE FROM pending_sign_ins WHERE expires_at <= $1")
                .bind(now)
                .execute(self.pool())
                .await?
                .rows_affected(),
        )
    }

    /// Removes notifications received before `before`, a batch at a time, except those a forwarding delivery still
    /// waits to send (a pending delivery is never lost to retention). Their consumption answers go with them.
    pub async fn prune_notifications(&self, before: i64) -> StoreResult<u64> {
        self.prune_in_batches(
            "DELETE FROM notifications WHERE id IN (SELECT n.id FROM notifications n WHERE n.received_at < $1 \
             AND NOT EXISTS (SELECT 1 FROM forward_deliveries d WHERE d.notification_id = n.id \
             AND d.status = 'pending') LIMIT $2)",
            before,
        )
        .await
    }

    /// Removes forwarding deliveries that ended (delivered or dead) before `before`.
    pub async fn prune_forward_deliveries(&self, before: i64) -> StoreResult<u64> {
        self.prune_in_batches(
            "DELETE FROM forward_deliveries WHERE id IN (SELECT id FROM forward_deliveries \
             WHERE status <> 'pending' AND COALESCE(delivered_at, last_attempt_at, created_at) < $1 LIMIT $2)",
            before,
        )
        .await
    }

    async fn prune_in_batches(&self, sql: &str, before: i64) -> StoreResult<u64> {
        let mut total = 0;
        loop {
            let done = sqlx::query(sql)
                .bind(before)
                .bind(BATCH)
                .execute(self.pool())
                .await?
                .rows_affected();
            total += done;
            if done < BATCH.unsigned_abs() {
                return Ok(total);
            }
        }
    }
}
