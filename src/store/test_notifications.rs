//! Rows of `test_notifications` (Step 4's "Send test notification") and the notification facts Step 4 shows.
use super::{audit, Actor, Store, StoreResult};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TestNotificationRow {
    pub id: i64,
    pub project_id: i64,
    pub environment: String,
    pub token: String,
    pub requested_at: i64,
    pub requested_by: String,
    pub apple_checked_at: Option<i64>,
    pub apple_attempts: Option<String>,
    pub apple_note: Option<String>,
}

const COLUMNS: &str =
    "id, project_id, environment, token, requested_at, requested_by, apple_checked_at, \
                       apple_attempts, apple_note";

impl Store {
    /// Records a test notification Apple agreed to send, with its audit entry.
    pub async fn create_test_notification(
        &self,
        project_id: i64,
        environment: &str,
        token: &str,
        requested_at: i64,
        actor: &Actor,
    ) -> StoreResult<i64> {
        let mut tx = self.pool().begin().await?;
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO test_notifications (project_id, environment, token, requested_at, requested_by) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(project_id)
        .bind(environment)
        .bind(token)
        .bind(requested_at)
        .bind(&actor.email)
        .fetch_one(&mut *tx)
        .await?;
        audit::record(
            &mut tx,
            actor,
            "notifications.test_request",
            Some(project_id),
            &format!("test notification {id}"),
            &format!("environment {environment}"),
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    pub async fn test_notification(
        &self,
        project_id: i64,
        id: i64,
    ) -> StoreResult<Option<TestNotificationRow>> {
        Ok(sqlx::query_as::<_, TestNotificationRow>(&format!(
            "SELECT {COLUMNS} FROM test_notifications WHERE project_id = $1 AND id = $2"
        ))
        .bind(project_id)
        .bind(id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Newest first.
    pub async fn recent_test_notifications(
        &self,
        project_id: i64,
        limit: i64,
    ) -> StoreResult<Vec<TestNotificationRow>> {
        Ok(sqlx::query_as::<_, TestNotificationRow>(&format!(
            "SELECT {COLUMNS} FROM test_notifications WHERE project_id = $1 \
             ORDER BY requested_at DESC, id DESC LIMIT $2"
        ))
        .bind(project_id)
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }

    /// Keeps what Get Test Notification Status last said: the attempts (JSON) or a note on why there were none.
    pub async fn record_test_notification_status(
        &self,
        id: i64,
        checked_at: i64,
        attempts: Option<&str>,
        note: Option<&str>,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE test_notifications SET apple_checked_at = $1, apple_attempts = COALESCE($2, apple_attempts), \
             apple_note = $3 WHERE id = $4",
        )
        .bind(checked_at)
        .bind(attempts)
        .bind(note)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// When the first TEST notification of `environment` reached the webhook at or after `since`.
    pub async fn test_notification_arrival(
        &self,
        project_id: i64,
        environment: &str,
        since: i64,
    ) -> StoreResult<Option<i64>> {
        let (at,): (Option<i64>,) = sqlx::query_as(
            "SELECT MIN(received_at) FROM notifications WHERE project_id = $1 AND source = 'webhook' \
             AND environment = $2 AND notification_type = 'TEST' AND received_at >= $3",
        )
        .bind(project_id)
        .bind(environment)
        .bind(since)
        .fetch_one(self.pool())
        .await?;
        Ok(at)
    }

    /// When the webhook last received a notification in `environment`, if ever.
    pub async fn last_webhook_notification(
        &self,
        project_id: i64,
        environment: &str,
    ) -> StoreResult<Option<i64>> {
        let (at,): (Option<i64>,) = sqlx::query_as(
            "SELECT MAX(received_at) FROM notifications WHERE project_id = $1 AND source = 'webhook' \
             AND environment = $2",
        )
        .bind(project_id)
        .bind(environment)
        .fetch_one(self.pool())
        .await?;
        Ok(at)
    }

    /// Replaces the project's notification URL token and records who did it; the old URL answers 404 at once.
    pub async fn regenerate_notification_url(
        &self,
        project_id: i64,
        actor: &Actor,
    ) -> StoreResult<String> {
        let token = super::notifications::new_notification_token();
        let mut tx = self.pool().begin().await?;
        sqlx::query("UPDATE projects SET notification_token = $1 WHERE id = $2")
            .bind(&token)
            .bind(project_id)
            .execute(&mut *tx)
            .await?;
        audit::record(
            &mut tx,
            actor,
            "notifications.url_regenerate",
            Some(project_id),
            "notification URL",
            "the previous URL no longer accepts notifications",
        )
        .await?;
        tx.commit().await?;
        Ok(token)
    }
}
