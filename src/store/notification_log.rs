//! Reading the `notifications` table for the log, the chart, the refunds view and the consumption queue.
use super::notifications::{NotificationRow, NOTIFICATION_COLUMNS};
use super::{Store, StoreResult};

/// Filters of the notification log. `None` means "any"; every filter is ANDed.
#[derive(Debug, Clone, Default)]
pub struct LogFilter {
    pub notification_type: Option<String>,
    /// `Some("")` means "no subtype".
    pub subtype: Option<String>,
    pub environment: Option<String>,
    pub source: Option<String>,
    /// signedDate at or after (ms).
    pub since_ms: Option<i64>,
    /// signedDate before (ms).
    pub until_ms: Option<i64>,
    /// Matches the transaction id or the original transaction id.
    pub transaction_id: Option<String>,
    /// Keyset cursor: rows strictly older than (signed_date, id).
    pub before: Option<(i64, i64)>,
    pub limit: i64,
}

/// Types the refunds view shows.
pub const REFUND_TYPES: &[&str] = &["REFUND", "REFUND_DECLINED", "REFUND_REVERSED", "REVOKE"];

/// A notification with the time of the answer Apple accepted for it, if any (only a CONSUMPTION_REQUEST has one).
#[derive(Debug, Clone)]
pub struct ConsumptionRequestRow {
    pub notification: NotificationRow,
    pub answered_at: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueState {
    /// Not answered, deadline not passed.
    Open,
    /// Not answered, deadline passed.
    Overdue,
    Answered,
}

/// Apple asks for an answer within 12 hours of the request's signedDate.
pub const CONSUMPTION_DEADLINE_MS: i64 = 12 * 3_600_000;

/// An accepted answer counts for the request it was sent from, and for every request about the same
/// transaction signed before it (Apple sends new requests, with new UUIDs, while it waits).
const ANSWERED_AT: &str =
    "(SELECT MAX(a.sent_at) FROM consumption_answers a WHERE a.project_id = n.project_id \
     AND a.outcome = 'accepted' AND (a.notification_id = n.id \
     OR (a.transaction_id = n.transaction_id AND a.sent_at >= n.signed_date)))";

fn prefixed_columns() -> String {
    NOTIFICATION_COLUMNS
        .split(", ")
        .map(|c| format!("n.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(sqlx::FromRow)]
struct QueueRow {
    id: i64,
    project_id: i64,
    notification_uuid: String,
    notification_type: String,
    subtype: Option<String>,
    environment: String,
    signed_date: i64,
    transaction_id: Option<String>,
    original_transaction_id: Option<String>,
    product_id: Option<String>,
    source: String,
    received_at: i64,
    payload: String,
    answered_at: Option<i64>,
}

impl From<QueueRow> for ConsumptionRequestRow {
    fn from(r: QueueRow) -> Self {
        ConsumptionRequestRow {
            notification: NotificationRow {
                id: r.id,
                project_id: r.project_id,
                notification_uuid: r.notification_uuid,
                notification_type: r.notification_type,
                subtype: r.subtype,
                environment: r.environment,
                signed_date: r.signed_date,
                transaction_id: r.transaction_id,
                original_transaction_id: r.original_transaction_id,
                product_id: r.product_id,
                source: r.source,
                received_at: r.received_at,
                payload: r.payload,
            },
            answered_at: r.answered_at,
        }
    }
}

impl Store {
    /// Newest first by Apple's signedDate (ties by id), paged by keyset so deep pages cost the same.
    #[tracing::instrument(skip_all)]
    pub async fn list_notifications(
        &self,
        project_id: i64,
        f: &LogFilter,
    ) -> StoreResult<Vec<NotificationRow>> {
        // Optional filters are passed as NULL and short-circuit in SQL: one statement for every combination.
        let sql = format!(
            "SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE project_id = $1 \
               AND ($2 IS NULL OR notification_type = $2) \
               AND ($3 IS NULL OR ($3 = '' AND subtype IS NULL) OR subtype = $3) \
               AND ($4 IS NULL OR environment = $4) \
               AND ($5 IS NULL OR source = $5) \
               AND ($6 IS NULL OR signed_date >= $6) \
               AND ($7 IS NULL OR signed_date < $7) \
               AND ($8 IS NULL OR transaction_id = $8 OR original_transaction_id = $8) \
               AND ($9 IS NULL OR signed_date < $9 OR (signed_date = $9 AND id < $10)) \
             ORDER BY signed_date DESC, id DESC LIMIT $11"
        );
        let rows = sqlx::query_as::<_, NotificationRow>(&sql)
            .bind(project_id)
            .bind(f.notification_type.clone())
            .bind(f.subtype.clone())
            .bind(f.environment.clone())
            .bind(f.source.clone())
            .bind(f.since_ms)
            .bind(f.until_ms)
            .bind(f.transaction_id.clone())
            .bind(f.before.map(|b| b.0))
            .bind(f.before.map(|b| b.1).unwrap_or(0))
            .bind(if f.limit > 0 { f.limit } else { 50 })
            .fetch_all(self.pool())
            .await?;
        Ok(rows)
    }

    /// Notification types this project has received, for the filter's choices.
    pub async fn notification_types_seen(&self, project_id: i64) -> StoreResult<Vec<String>> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT DISTINCT notification_type FROM notifications WHERE project_id = $1 ORDER BY notification_type",
        )
        .bind(project_id)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    /// (notification type, UTC day number since the epoch, count) for signedDate in [since, until).
    pub async fn notifications_per_day(
        &self,
        project_id: i64,
        since_ms: i64,
        until_ms: i64,
        environment: Option<&str>,
    ) -> StoreResult<Vec<(String, i64, i64)>> {
        let rows: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT notification_type, signed_date / 86400000, COUNT(*) FROM notifications \
             WHERE project_id = $1 AND signed_date >= $2 AND signed_date < $3 AND ($4 IS NULL OR environment = $4) \
             GROUP BY notification_type, signed_date / 86400000",
        )
        .bind(project_id)
        .bind(since_ms)
        .bind(until_ms)
        .bind(environment.map(str::to_owned))
        .fetch_all(self.pool())
        .await?;
        Ok(rows)
    }

    /// REFUND, REFUND_DECLINED, REFUND_REVERSED and REVOKE, newest first; `only_type` narrows to one of them.
    pub async fn list_refund_notifications(
        &self,
        project_id: i64,
        only_type: Option<&str>,
        before: Option<(i64, i64)>,
        limit: i64,
    ) -> StoreResult<Vec<NotificationRow>> {
        let types = REFUND_TYPES
            .iter()
            .map(|t| format!("'{t}'"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE project_id = $1 \
               AND notification_type IN ({types}) AND ($2 IS NULL OR notification_type = $2) \
               AND ($3 IS NULL OR signed_date < $3 OR (signed_date = $3 AND id < $4)) \
             ORDER BY signed_date DESC, id DESC LIMIT $5"
        );
        Ok(sqlx::query_as::<_, NotificationRow>(&sql)
            .bind(project_id)
            .bind(only_type.map(str::to_owned))
            .bind(before.map(|b| b.0))
            .bind(before.map(|b| b.1).unwrap_or(0))
            .bind(limit)
            .fetch_all(self.pool())
            .await?)
    }

    /// CONSUMPTION_REQUEST notifications in one state of the queue. Open ones come soonest deadline first,
    /// the others newest first.
    pub async fn consumption_queue(
        &self,
        project_id: i64,
        state: QueueState,
        now_ms: i64,
        limit: i64,
    ) -> StoreResult<Vec<ConsumptionRequestRow>> {
        let (condition, order) = match state {
            QueueState::Open => (
                "q.answered_at IS NULL AND q.signed_date >= $2",
                "q.signed_date ASC, q.id ASC",
            ),
            QueueState::Overdue => (
                "q.answered_at IS NULL AND q.signed_date < $2",
                "q.signed_date DESC, q.id DESC",
            ),
            QueueState::Answered => (
                "q.answered_at IS NOT NULL AND $2 = $2",
                "q.signed_date DESC, q.id DESC",
            ),
        };
        let sql = format!(
            "SELECT * FROM (SELECT {}, {ANSWERED_AT} AS answered_at FROM notifications n \
               WHERE n.project_id = $1 AND n.notification_type = 'CONSUMPTION_REQUEST') q \
             WHERE {condition} ORDER BY {order} LIMIT $3",
            prefixed_columns()
        );
        let rows = sqlx::query_as::<_, QueueRow>(&sql)
            .bind(project_id)
            .bind(now_ms - CONSUMPTION_DEADLINE_MS)
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// One CONSUMPTION_REQUEST with its answered state; `None` when the id is not one of this project's requests.
    pub async fn consumption_request(
        &self,
        project_id: i64,
        notification_id: i64,
    ) -> StoreResult<Option<ConsumptionRequestRow>> {
        let sql = format!(
            "SELECT {}, {ANSWERED_AT} AS answered_at FROM notifications n \
             WHERE n.project_id = $1 AND n.id = $2 AND n.notification_type = 'CONSUMPTION_REQUEST'",
            prefixed_columns()
        );
        let row = sqlx::query_as::<_, QueueRow>(&sql)
            .bind(project_id)
            .bind(notification_id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(Into::into))
    }

    /// The notifications about any of `transaction_ids` (as the transaction or as its original transaction), newest
    /// first, each with the time of the answer Apple accepted when it is a CONSUMPTION_REQUEST: one customer's.
    #[tracing::instrument(skip_all)]
    pub async fn notifications_about(
        &self,
        project_id: i64,
        transaction_ids: &[String],
        limit: i64,
    ) -> StoreResult<Vec<ConsumptionRequestRow>> {
        if transaction_ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids = (2..transaction_ids.len() + 2)
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT {}, {ANSWERED_AT} AS answered_at FROM notifications n WHERE n.project_id = $1 \
               AND (n.original_transaction_id IN ({ids}) OR n.transaction_id IN ({ids})) \
             ORDER BY n.signed_date DESC, n.id DESC LIMIT ${}",
            prefixed_columns(),
            transaction_ids.len() + 2
        );
        let mut query = sqlx::query_as::<_, QueueRow>(&sql).bind(project_id);
        for id in transaction_ids {
            query = query.bind(id.clone());
        }
        let rows = query.bind(limit).fetch_all(self.pool()).await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// How many CONSUMPTION_REQUESTs wait for an answer and are not overdue: the nav can show it.
    pub async fn open_consumption_requests(
        &self,
        project_id: i64,
        now_ms: i64,
    ) -> StoreResult<i64> {
        let sql = format!(
            "SELECT COUNT(*) FROM notifications n WHERE n.project_id = $1 \
               AND n.notification_type = 'CONSUMPTION_REQUEST' AND n.signed_date >= $2 AND {ANSWERED_AT} IS NULL"
        );
        let (count,): (i64,) = sqlx::query_as(&sql)
            .bind(project_id)
            .bind(now_ms - CONSUMPTION_DEADLINE_MS)
            .fetch_one(self.pool())
            .await?;
        Ok(count)
    }

    /// The project navigation's count: how many CONSUMPTION_REQUESTs of the project named `slug` wait for an
    /// answer and are not overdue, and the earliest `signedDate` among them (its deadline is the nearest). One
    /// statement on the `notifications_type` index, found by slug so that it can run beside the read of the
    /// project list.
    pub async fn consumption_waiting(&self, slug: &str, now_ms: i64) -> StoreResult<Waiting> {
        let sql = format!(
            "SELECT COUNT(*), MIN(n.signed_date) FROM notifications n \
             WHERE n.project_id = (SELECT id FROM projects WHERE slug = $1) \
               AND n.notification_type = 'CONSUMPTION_REQUEST' AND n.signed_date >= $2 AND {ANSWERED_AT} IS NULL"
        );
        let (count, oldest): (i64, Option<i64>) = sqlx::query_as(&sql)
            .bind(slug)
            .bind(now_ms - CONSUMPTION_DEADLINE_MS)
            .fetch_one(self.pool())
            .await?;
        Ok(Waiting {
            count,
            nearest_deadline: oldest.map(|at| at + CONSUMPTION_DEADLINE_MS),
        })
    }
}

/// Consumption requests waiting for an answer: how many, and the nearest deadline.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Waiting {
    pub count: i64,
    pub nearest_deadline: Option<i64>,
}
