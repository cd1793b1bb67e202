//! What the forwarding pages and the JSON API read of `forward_deliveries`: a destination's delivery log (filtered,
//! paged newest first), its queue (waiting, dead, the oldest undelivered), and one notification's deliveries.
//! The delivery workers write these rows (`deliveries.rs`); this file only reads them, but for Redeliver.
use sqlx::FromRow;

use crate::store::{audit, Actor, Store, StoreResult};

/// A page of the delivery log holds this many rows.
pub const LOG_PAGE: i64 = 50;

/// Which deliveries a log shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusFilter {
    Delivered,
    /// Pending, not tried yet in this round.
    Waiting,
    /// Pending after at least one failed attempt.
    Retrying,
    Dead,
}

impl StatusFilter {
    pub const ALL: [StatusFilter; 4] = [
        StatusFilter::Delivered,
        StatusFilter::Waiting,
        StatusFilter::Retrying,
        StatusFilter::Dead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StatusFilter::Delivered => "delivered",
            StatusFilter::Waiting => "waiting",
            StatusFilter::Retrying => "retrying",
            StatusFilter::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == s.trim())
    }

    fn sql(self) -> &'static str {
        match self {
            StatusFilter::Delivered => "d.status = 'delivered'",
            StatusFilter::Waiting => "d.status = 'pending' AND d.attempts = 0",
            StatusFilter::Retrying => "d.status = 'pending' AND d.attempts > 0",
            StatusFilter::Dead => "d.status = 'dead'",
        }
    }
}

/// A log's filters; `before` is the id of the last row of the previous page (pages go newest first).
#[derive(Clone, Debug, Default)]
pub struct LogFilter {
    pub destination_id: Option<i64>,
    pub status: Option<StatusFilter>,
    /// `Production` or `Sandbox`.
    pub environment: Option<String>,
    pub before: Option<i64>,
    pub limit: i64,
}

/// One delivery with the notification it carries.
#[derive(Clone, Debug, FromRow, PartialEq, Eq)]
pub struct DeliveryLogRow {
    pub id: i64,
    pub destination_id: i64,
    pub notification_id: i64,
    pub notification_uuid: String,
    pub notification_type: String,
    pub subtype: Option<String>,
    pub environment: String,
    pub signed_date: i64,
    /// `pending`, `delivered` or `dead`.
    pub status: String,
    /// What queued it: `webhook`, `gap`, `backfill`, `redeliver`, `replay`.
    pub origin: String,
    pub attempts: i64,
    pub created_at: i64,
    pub round_started_at: i64,
    pub next_attempt_at: i64,
    pub last_attempt_at: Option<i64>,
    pub delivered_at: Option<i64>,
    pub last_status: Option<i64>,
    pub last_latency_ms: Option<i64>,
    pub last_error: Option<String>,
    pub last_response: Option<String>,
}

impl DeliveryLogRow {
    /// The status people read (the delivery log's filter, the API's `status`): a pending delivery not tried yet in
    /// this round is waiting, one tried already is retrying. The same rule as [`StatusFilter`]'s SQL.
    pub fn shown_status(&self) -> StatusFilter {
        match self.status.as_str() {
            "delivered" => StatusFilter::Delivered,
            "dead" => StatusFilter::Dead,
            _ if self.attempts > 0 => StatusFilter::Retrying,
            _ => StatusFilter::Waiting,
        }
    }
}

const LOG_COLUMNS: &str = "d.id, d.destination_id, d.notification_id, n.notification_uuid, n.notification_type, \
     n.subtype, n.environment, n.signed_date, d.status, d.origin, d.attempts, d.created_at, d.round_started_at, \
     d.next_attempt_at, d.last_attempt_at, d.delivered_at, d.last_status, d.last_latency_ms, d.last_error, \
     d.last_response";

/// A destination's queue: what waits (pending, also while paused), what died, and since when the oldest waits.
#[derive(Clone, Copy, Debug, Default, FromRow, PartialEq, Eq)]
pub struct DestinationQueue {
    pub destination_id: i64,
    pub pending: i64,
    pub dead: i64,
    /// When the oldest pending delivery's round began (its arrival, or its redeliver or replay).
    pub oldest_pending_since: Option<i64>,
}

impl Store {
    /// The delivery log of a project (of one destination when the filter names it), newest first.
    pub async fn forward_delivery_log(
        &self,
        project_id: i64,
        filter: &LogFilter,
    ) -> StoreResult<Vec<DeliveryLogRow>> {
        let mut sql = format!(
            "SELECT {LOG_COLUMNS} FROM forward_deliveries d JOIN notifications n ON n.id = d.notification_id \
             WHERE d.project_id = $1"
        );
        let mut n = 1;
        let mut next = || {
            n += 1;
            n
        };
        if filter.destination_id.is_some() {
            sql.push_str(&format!(" AND d.destination_id = ${}", next()));
        }
        if let Some(status) = filter.status {
            sql.push_str(&format!(" AND {}", status.sql()));
        }
        if filter.environment.is_some() {
            sql.push_str(&format!(" AND n.environment = ${}", next()));
        }
        if filter.before.is_some() {
            sql.push_str(&format!(" AND d.id < ${}", next()));
        }
        sql.push_str(&format!(" ORDER BY d.id DESC LIMIT ${}", next()));
        let mut query = sqlx::query_as::<_, DeliveryLogRow>(&sql).bind(project_id);
        if let Some(id) = filter.destination_id {
            query = query.bind(id);
        }
        if let Some(env) = &filter.environment {
            query = query.bind(env.clone());
        }
        if let Some(before) = filter.before {
            query = query.bind(before);
        }
        Ok(query
            .bind(filter.limit.clamp(1, 500))
            .fetch_all(self.pool())
            .await?)
    }

    /// One notification's deliveries, one per destination that has a row for it.
    pub async fn forward_deliveries_of(
        &self,
        project_id: i64,
        notification_id: i64,
    ) -> StoreResult<Vec<DeliveryLogRow>> {
        Ok(sqlx::query_as::<_, DeliveryLogRow>(&format!(
            "SELECT {LOG_COLUMNS} FROM forward_deliveries d JOIN notifications n ON n.id = d.notification_id \
             WHERE d.project_id = $1 AND d.notification_id = $2 ORDER BY d.destination_id"
        ))
        .bind(project_id)
        .bind(notification_id)
        .fetch_all(self.pool())
        .await?)
    }

    /// Each destination's queue in a project (destinations with no delivery yet are left out).
    pub async fn forward_queues(&self, project_id: i64) -> StoreResult<Vec<DestinationQueue>> {
        Ok(sqlx::query_as::<_, DestinationQueue>(
            "SELECT destination_id, \
             CAST(SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END) AS BIGINT) AS pending, \
             CAST(SUM(CASE WHEN status = 'dead' THEN 1 ELSE 0 END) AS BIGINT) AS dead, \
             MIN(CASE WHEN status = 'pending' THEN round_started_at END) AS oldest_pending_since \
             FROM forward_deliveries WHERE project_id = $1 GROUP BY destination_id",
        )
        .bind(project_id)
        .fetch_all(self.pool())
        .await?)
    }

    /// Records a Send test event in the audit log (what the receiver answered; never the secret or the body).
    pub async fn record_forward_test(
        &self,
        project_id: i64,
        destination_name: &str,
        outcome: &str,
        actor: &Actor,
    ) -> StoreResult<()> {
        let mut tx = self.pool().begin().await?;
        audit::record(
            &mut tx,
            actor,
            "forwarding.test",
            Some(project_id),
            destination_name,
            outcome,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
