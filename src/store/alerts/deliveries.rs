//! Rows of `alert_deliveries`: one per event and channel. Inserting it claims the alert (its unique key makes a
//! second claim a no-op), and it keeps the message, the attempts, the next retry and the outcome.
use crate::store::status_text::status_text;
use crate::store::{audit, Actor, Store, StoreResult};

/// Where one alert is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeliveryStatus {
    /// Claimed and not yet delivered: due at `next_attempt_at`.
    Pending,
    Sent,
    /// Given up: too many attempts, or the event stopped waiting (a deadline passed).
    Failed,
}

impl DeliveryStatus {
    pub const ALL: [DeliveryStatus; 3] = [
        DeliveryStatus::Pending,
        DeliveryStatus::Sent,
        DeliveryStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Failed => "failed",
        }
    }
}

status_text!(DeliveryStatus, "alert delivery status");

/// One alert: an event for one channel, with its message and where its delivery is.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct DeliveryRow {
    pub id: i64,
    pub channel_id: i64,
    pub project_id: i64,
    pub event_key: String,
    pub subject: String,
    pub body: String,
    pub status: DeliveryStatus,
    pub attempts: i64,
    pub created_at: i64,
    pub next_attempt_at: i64,
    pub expires_at: Option<i64>,
    pub sent_at: Option<i64>,
    pub last_error: Option<String>,
}

const DELIVERY_COLUMNS: &str =
    "id, channel_id, project_id, event_key, subject, body, status, attempts, created_at, \
     next_attempt_at, expires_at, sent_at, last_error";

/// An alert to claim: the event, its message, and until when it is worth sending.
pub struct NewAlert<'a> {
    pub channel_id: i64,
    pub project_id: i64,
    pub event_key: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
    pub expires_at: Option<i64>,
}

impl Store {
    /// Claims one alert: the row is the promise that it goes out, and its unique (channel, event) key makes a
    /// second claim of the same event a no-op. True when this call claimed it.
    pub async fn claim_alert(&self, alert: &NewAlert<'_>, now_ms: i64) -> StoreResult<bool> {
        let row: Option<(i64,)> = sqlx::query_as(
            "INSERT INTO alert_deliveries (channel_id, project_id, event_key, subject, body, status, attempts, \
             created_at, next_attempt_at, expires_at) VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $6, $7) \
             ON CONFLICT (channel_id, event_key) DO NOTHING RETURNING id",
        )
        .bind(alert.channel_id)
        .bind(alert.project_id)
        .bind(alert.event_key)
        .bind(alert.subject)
        .bind(alert.body)
        .bind(now_ms)
        .bind(alert.expires_at)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.is_some())
    }

    /// Claims a reminder only for a channel that got the first alert of `first_event_key` before
    /// `first_claimed_before`: a reminder right after the first alert would say nothing new.
    pub async fn claim_reminder(
        &self,
        alert: &NewAlert<'_>,
        first_event_key: &str,
        first_claimed_before: i64,
        now_ms: i64,
    ) -> StoreResult<bool> {
        // SQLite needs the SELECT of an INSERT … ON CONFLICT to have a WHERE clause; this one has.
        let row: Option<(i64,)> = sqlx::query_as(
            "INSERT INTO alert_deliveries (channel_id, project_id, event_key, subject, body, status, attempts, \
             created_at, next_attempt_at, expires_at) \
             SELECT $1, $2, $3, $4, $5, 'pending', 0, $6, $6, $7 WHERE EXISTS (SELECT 1 FROM alert_deliveries f \
             WHERE f.channel_id = $1 AND f.event_key = $8 AND f.created_at < $9) \
             ON CONFLICT (channel_id, event_key) DO NOTHING RETURNING id",
        )
        .bind(alert.channel_id)
        .bind(alert.project_id)
        .bind(alert.event_key)
        .bind(alert.subject)
        .bind(alert.body)
        .bind(now_ms)
        .bind(alert.expires_at)
        .bind(first_event_key)
        .bind(first_claimed_before)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.is_some())
    }

    /// Alerts whose next attempt is due, oldest first.
    pub async fn due_alerts(&self, now_ms: i64, limit: i64) -> StoreResult<Vec<DeliveryRow>> {
        Ok(sqlx::query_as::<_, DeliveryRow>(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM alert_deliveries WHERE status = 'pending' AND next_attempt_at <= $1 \
             ORDER BY next_attempt_at, id LIMIT $2"
        ))
        .bind(now_ms)
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }

    /// Takes one due alert for an attempt: counts the attempt and moves its next attempt to `retry_at`, in one
    /// statement, so of two instances only one sends it, and an attempt that never reports back (a crash) is
    /// retried at `retry_at`. False when another instance took it first or it is no longer due.
    pub async fn start_alert_attempt(
        &self,
        id: i64,
        now_ms: i64,
        retry_at: i64,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE alert_deliveries SET attempts = attempts + 1, next_attempt_at = $1 \
             WHERE id = $2 AND status = 'pending' AND next_attempt_at <= $3",
        )
        .bind(retry_at)
        .bind(id)
        .bind(now_ms)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The alert went out: recorded on it, on its channel, and in the audit log, in one transaction.
    pub async fn alert_sent(
        &self,
        alert: &DeliveryRow,
        label: &str,
        now_ms: i64,
    ) -> StoreResult<()> {
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "UPDATE alert_deliveries SET status = 'sent', sent_at = $1, last_error = NULL WHERE id = $2",
        )
        .bind(now_ms)
        .bind(alert.id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE alert_channels SET last_sent_at = $1 WHERE id = $2")
            .bind(now_ms)
            .bind(alert.channel_id)
            .execute(&mut *tx)
            .await?;
        audit::record(
            &mut tx,
            &Actor::system("alerts"),
            "alerts.sent",
            Some(alert.project_id),
            label,
            &alert.subject,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// An attempt failed: the error is kept on the alert and its channel. With `retry_at` the alert waits for its
    /// next attempt; without, it is given up (and that is audited).
    pub async fn alert_failed(
        &self,
        alert: &DeliveryRow,
        label: &str,
        error: &str,
        now_ms: i64,
        retry_at: Option<i64>,
    ) -> StoreResult<()> {
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "UPDATE alert_deliveries SET status = $1, next_attempt_at = $2, last_error = $3 WHERE id = $4",
        )
        .bind(match retry_at {
            Some(_) => DeliveryStatus::Pending.as_str(),
            None => DeliveryStatus::Failed.as_str(),
        })
        .bind(retry_at.unwrap_or(alert.next_attempt_at))
        .bind(error)
        .bind(alert.id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE alert_channels SET last_error = $1, last_error_at = $2 WHERE id = $3")
            .bind(error)
            .bind(now_ms)
            .bind(alert.channel_id)
            .execute(&mut *tx)
            .await?;
        if retry_at.is_none() {
            audit::record(
                &mut tx,
                &Actor::system("alerts"),
                "alerts.given_up",
                Some(alert.project_id),
                label,
                &format!("{}: {error}", alert.subject),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// An alert whose event stopped waiting before it could be sent (a consumption request's deadline passed):
    /// given up without blaming its channel.
    pub async fn alert_expired(&self, alert: &DeliveryRow) -> StoreResult<()> {
        sqlx::query(
            "UPDATE alert_deliveries SET status = 'failed', \
             last_error = COALESCE(last_error, 'not sent before its deadline') WHERE id = $1",
        )
        .bind(alert.id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// A project's latest alerts, newest first (the settings page lists them).
    pub async fn recent_alerts(
        &self,
        project_id: i64,
        limit: i64,
    ) -> StoreResult<Vec<DeliveryRow>> {
        Ok(sqlx::query_as::<_, DeliveryRow>(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM alert_deliveries WHERE project_id = $1 ORDER BY id DESC LIMIT $2"
        ))
        .bind(project_id)
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn every_delivery_status_round_trips_through_its_stored_text() {
        let words: Vec<&str> = DeliveryStatus::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(words, ["pending", "sent", "failed"]);
        for status in DeliveryStatus::ALL {
            assert_eq!(DeliveryStatus::parse(status.as_str()), Ok(status));
        }
        assert!(DeliveryStatus::parse("expired").is_err());
    }
}
