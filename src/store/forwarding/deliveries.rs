//! Rows of `forward_deliveries`: queued with the notification they carry (same transaction), claimed by the
//! delivery workers with a lease, and closed as delivered, retried or dead; plus a destination's health, written
//! with the results, and **Redeliver**.
//!
//! A claim is one `UPDATE … WHERE lease is free … RETURNING`: two instances that read the same due rows cannot both
//! take one, on SQLite (one writer) as on PostgreSQL (the second UPDATE re-reads the row after the first commits and
//! finds it leased; `SKIP LOCKED` lets it take other rows instead of waiting). A lease past its time is free again,
//! so an instance that died mid-attempt loses its rows to the others.
use sqlx::AnyConnection;

use crate::store::{audit, Actor, Store, StoreError, StoreResult};

/// After this long in one round (from the notification's arrival, or a redeliver or replay), a delivery is dead.
pub const ROUND_MS: i64 = 72 * 3_600_000;

/// Delivered results per statement (6 parameters each).
const DELIVERED_CHUNK: usize = 128;

/// Notification ids per statement when queueing.
const ENQUEUE_CHUNK: usize = 256;

/// Queues, on `conn` (the transaction storing the notifications), one delivery per destination of the project that
/// wants each of the notifications `ids` (environment and type), paused destinations included: nothing is lost
/// while a destination is paused. `origin` follows the notification's source.
pub async fn enqueue_new(conn: &mut AnyConnection, ids: &[i64], now: i64) -> StoreResult<()> {
    for chunk in ids.chunks(ENQUEUE_CHUNK) {
        let list: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
        let sql = format!(
            "INSERT INTO forward_deliveries (destination_id, notification_id, project_id, status, origin, attempts, \
             created_at, round_started_at, next_attempt_at) \
             SELECT d.id, n.id, n.project_id, 'pending', \
             CASE n.source WHEN 'recovered' THEN 'gap' WHEN 'backfill' THEN 'backfill' ELSE 'webhook' END, \
             0, $1, $1, $1 \
             FROM notifications n JOIN forward_destinations d ON d.project_id = n.project_id \
             WHERE n.id IN ({}) \
             AND ((n.environment = 'Production' AND d.production = 1) OR (n.environment = 'Sandbox' AND d.sandbox = 1)) \
             AND (d.types = '' OR d.types LIKE '%,' || n.notification_type || ',%') \
             ORDER BY d.id, n.id \
             ON CONFLICT (destination_id, notification_id) DO NOTHING",
            list.join(", ")
        );
        let mut query = sqlx::query(&sql).bind(now);
        for id in chunk {
            query = query.bind(*id);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// A delivery a worker holds the lease of.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Claimed {
    pub id: i64,
    pub destination_id: i64,
    pub project_id: i64,
    pub notification_id: i64,
    /// Attempts before this one, in this round.
    pub attempts: i64,
    pub round_started_at: i64,
}

/// What a delivery sends: the notification's fields for the headers, and Apple's body.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Outgoing {
    pub id: i64,
    pub notification_uuid: String,
    pub notification_type: String,
    pub subtype: Option<String>,
    pub environment: String,
    pub signed_date: i64,
    pub signed_payload: String,
    pub raw_body: Option<String>,
}

impl Outgoing {
    /// Apple's request body: as it arrived when it was not Apple's usual form, else that form rebuilt (a JWS holds
    /// only base64url characters and dots, so it needs no escaping).
    pub fn body(&self) -> String {
        match &self.raw_body {
            Some(raw) => raw.clone(),
            None => apple_form(&self.signed_payload),
        }
    }
}

/// `{"signedPayload":"<jws>"}`, byte for byte as Apple sends it.
pub fn apple_form(signed_payload: &str) -> String {
    format!("{{\"signedPayload\":\"{signed_payload}\"}}")
}

/// How one attempt ended.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// The receiver answered 2xx.
    Delivered,
    /// Anything else; retried at `retry_at` unless the round is over.
    Failed { error: String, retry_at: i64 },
    /// The worker let the lease go without sending (the lease was about to run out before it could start).
    Released,
}

/// One attempt's result, written with others in one transaction.
#[derive(Clone, Debug)]
pub struct Attempt {
    pub delivery_id: i64,
    pub destination_id: i64,
    /// When the attempt started and ended (the clock the worker runs on).
    pub started_at: i64,
    pub finished_at: i64,
    pub status: Option<i64>,
    pub latency_ms: Option<i64>,
    /// The first 1 KiB of the answer.
    pub response: Option<String>,
    pub outcome: Outcome,
}

/// A delivery's state, as the tests and the delivery log read it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct DeliveryState {
    pub id: i64,
    pub status: String,
    pub origin: String,
    pub attempts: i64,
    pub created_at: i64,
    pub round_started_at: i64,
    pub next_attempt_at: i64,
    pub lease_owner: Option<String>,
    pub delivered_at: Option<i64>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub last_response: Option<String>,
}

/// The queue as `/metrics` shows it: pending deliveries (paused destinations' included) and the oldest one's
/// arrival.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueStats {
    pub depth: i64,
    pub oldest_created_at: Option<i64>,
}

impl Store {
    /// Enabled destinations that have deliveries due at `now` whose lease is free: a read, so an idle worker
    /// never takes SQLite's write lock from the webhook's writer.
    pub async fn destinations_with_due_deliveries(&self, now: i64) -> StoreResult<Vec<i64>> {
        let rows: Vec<(i64,)> = sqlx::query_as(
            "SELECT d.id FROM forward_destinations d WHERE d.enabled = 1 AND EXISTS (\
             SELECT 1 FROM forward_deliveries fd WHERE fd.destination_id = d.id AND fd.status = 'pending' \
             AND fd.next_attempt_at <= $1 AND (fd.lease_until IS NULL OR fd.lease_until < $1)) ORDER BY d.id",
        )
        .bind(now)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    /// Takes the lease of at most `limit` due deliveries of one enabled destination, oldest due first, for `owner`
    /// until `lease_until`.
    pub async fn claim_deliveries(
        &self,
        destination_id: i64,
        owner: &str,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> StoreResult<Vec<Claimed>> {
        let skip_locked = if self.is_postgres() {
            " FOR UPDATE SKIP LOCKED"
        } else {
            ""
        };
        let sql = format!(
            "UPDATE forward_deliveries SET lease_owner = $1, lease_until = $2 \
             WHERE id IN (SELECT fd.id FROM forward_deliveries fd WHERE fd.destination_id = $3 \
             AND fd.status = 'pending' AND fd.next_attempt_at <= $4 \
             AND (fd.lease_until IS NULL OR fd.lease_until < $4) \
             AND EXISTS (SELECT 1 FROM forward_destinations d WHERE d.id = fd.destination_id AND d.enabled = 1) \
             ORDER BY fd.next_attempt_at LIMIT $5{skip_locked}) \
             AND status = 'pending' AND (lease_until IS NULL OR lease_until < $4) \
             RETURNING id, destination_id, project_id, notification_id, attempts, round_started_at"
        );
        Ok(sqlx::query_as::<_, Claimed>(&sql)
            .bind(owner)
            .bind(lease_until)
            .bind(destination_id)
            .bind(now)
            .bind(limit)
            .fetch_all(self.pool())
            .await?)
    }

    /// The notifications `ids` as deliveries send them.
    pub async fn outgoing_notifications(&self, ids: &[i64]) -> StoreResult<Vec<Outgoing>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(ENQUEUE_CHUNK) {
            let list: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT id, notification_uuid, notification_type, subtype, environment, signed_date, \
                 signed_payload, raw_body FROM notifications WHERE id IN ({})",
                list.join(", ")
            );
            let mut query = sqlx::query_as::<_, Outgoing>(&sql);
            for id in chunk {
                query = query.bind(*id);
            }
            out.extend(query.fetch_all(self.pool()).await?);
        }
        Ok(out)
    }

    /// Writes attempts' results in one transaction: each delivery (only while `owner` still holds it: a row taken
    /// over after its lease ran out belongs to the other worker now), then each destination's health.
    pub async fn record_attempts(&self, owner: &str, attempts: &[Attempt]) -> StoreResult<()> {
        if attempts.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool().begin().await?;
        // Deliveries, the bulk under load, in a few multi-row statements; failures and releases one by one.
        let delivered: Vec<&Attempt> = attempts
            .iter()
            .filter(|a| matches!(a.outcome, Outcome::Delivered))
            .collect();
        for chunk in delivered.chunks(DELIVERED_CHUNK) {
            let rows: Vec<String> = (0..chunk.len())
                .map(|i| {
                    let p = 2 + i * 6;
                    format!(
                        "(${}, ${}, ${}, ${}, ${}, ${})",
                        p,
                        p + 1,
                        p + 2,
                        p + 3,
                        p + 4,
                        p + 5
                    )
                })
                .collect();
            // A VALUES list's columns are column1, column2… on both databases.
            let sql = format!(
                "UPDATE forward_deliveries SET status = 'delivered', attempts = attempts + 1, \
                 last_attempt_at = v.column2, delivered_at = v.column3, last_status = v.column4, \
                 last_latency_ms = v.column5, last_error = NULL, last_response = v.column6, lease_owner = NULL, \
                 lease_until = NULL FROM (VALUES {}) AS v WHERE forward_deliveries.id = v.column1 \
                 AND forward_deliveries.lease_owner = $1",
                rows.join(", ")
            );
            let mut query = sqlx::query(&sql).bind(owner);
            for a in chunk {
                query = query
                    .bind(a.delivery_id)
                    .bind(a.started_at)
                    .bind(a.finished_at)
                    .bind(a.status.unwrap_or(200))
                    .bind(a.latency_ms.unwrap_or(0))
                    .bind(a.response.clone().unwrap_or_default());
            }
            query.execute(&mut *tx).await?;
        }
        for a in attempts {
            let query = match &a.outcome {
                Outcome::Delivered => continue,
                // The round's end is read from the row: a redeliver during the attempt started a new round.
                Outcome::Failed { error, retry_at } => sqlx::query(
                    "UPDATE forward_deliveries SET attempts = attempts + 1, last_attempt_at = $1, \
                     last_status = $2, last_latency_ms = $3, last_error = $4, last_response = $5, \
                     status = CASE WHEN $6 >= round_started_at + $7 THEN 'dead' ELSE 'pending' END, \
                     next_attempt_at = CASE WHEN $8 < round_started_at + $7 THEN $8 ELSE round_started_at + $7 END, \
                     lease_owner = NULL, lease_until = NULL \
                     WHERE id = $9 AND lease_owner = $10",
                )
                .bind(a.started_at)
                .bind(a.status)
                .bind(a.latency_ms)
                .bind(error)
                .bind(&a.response)
                .bind(a.finished_at)
                .bind(ROUND_MS)
                .bind(*retry_at)
                .bind(a.delivery_id)
                .bind(owner),
                Outcome::Released => sqlx::query(
                    "UPDATE forward_deliveries SET lease_owner = NULL, lease_until = NULL \
                     WHERE id = $1 AND lease_owner = $2",
                )
                .bind(a.delivery_id)
                .bind(owner),
            };
            query.execute(&mut *tx).await?;
        }
        for h in health_of(attempts) {
            sqlx::query(
                "UPDATE forward_destinations SET \
                 consecutive_failures = CASE WHEN $1 = 1 THEN $2 ELSE consecutive_failures + $2 END, \
                 last_success_at = COALESCE($3, last_success_at), \
                 last_failure_at = COALESCE($4, last_failure_at), \
                 last_failure = COALESCE($5, last_failure) WHERE id = $6",
            )
            .bind(i64::from(h.last_success_at.is_some()))
            .bind(h.failures_since_success)
            .bind(h.last_success_at)
            .bind(h.last_failure_at)
            .bind(h.last_failure)
            .bind(h.destination_id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The delivery of one notification to one destination, if there is one.
    pub async fn forward_delivery(
        &self,
        destination_id: i64,
        notification_id: i64,
    ) -> StoreResult<Option<DeliveryState>> {
        Ok(sqlx::query_as::<_, DeliveryState>(
            "SELECT id, status, origin, attempts, created_at, round_started_at, next_attempt_at, lease_owner, \
             delivered_at, last_status, last_error, last_response FROM forward_deliveries \
             WHERE destination_id = $1 AND notification_id = $2",
        )
        .bind(destination_id)
        .bind(notification_id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Pending deliveries and the oldest one's arrival, over every project.
    pub async fn forward_queue_stats(&self) -> StoreResult<QueueStats> {
        let (depth, oldest): (i64, Option<i64>) = sqlx::query_as(
            "SELECT COUNT(*), MIN(created_at) FROM forward_deliveries WHERE status = 'pending'",
        )
        .fetch_one(self.pool())
        .await?;
        Ok(QueueStats {
            depth,
            oldest_created_at: oldest,
        })
    }

    /// **Redeliver**: the delivery of a notification to a destination starts a new round now (pending, no
    /// attempts, 72 hours from now), with its audit row; the row is made if the notification was stored before
    /// the destination existed or did not match it. An attempt in flight keeps its lease and finishes. `NotFound`
    /// when the notification or the destination is not the project's.
    pub async fn redeliver(
        &self,
        project_id: i64,
        notification_id: i64,
        destination_id: i64,
        actor: &Actor,
    ) -> StoreResult<()> {
        let now = crate::clock::now_ms();
        let mut tx = self.pool().begin().await?;
        let found: Option<(String, String, String)> = sqlx::query_as(
            "SELECT d.name, n.notification_uuid, n.notification_type FROM forward_destinations d \
             JOIN notifications n ON n.project_id = d.project_id \
             WHERE d.id = $1 AND n.id = $2 AND d.project_id = $3",
        )
        .bind(destination_id)
        .bind(notification_id)
        .bind(project_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((name, uuid, notification_type)) = found else {
            return Err(StoreError::NotFound);
        };
        sqlx::query(
            "INSERT INTO forward_deliveries (destination_id, notification_id, project_id, status, origin, attempts, \
             created_at, round_started_at, next_attempt_at) VALUES ($1, $2, $3, 'pending', 'redeliver', 0, $4, $4, $4) \
             ON CONFLICT (destination_id, notification_id) DO UPDATE SET status = 'pending', origin = 'redeliver', \
             attempts = 0, round_started_at = $4, next_attempt_at = $4, delivered_at = NULL",
        )
        .bind(destination_id)
        .bind(notification_id)
        .bind(project_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        audit::record(
            &mut tx,
            actor,
            "forwarding.redeliver",
            Some(project_id),
            &name,
            &format!("{notification_type} {uuid}"),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// One destination's health after a batch of results, in the order they came.
#[derive(Debug, Default, PartialEq, Eq)]
struct Health {
    destination_id: i64,
    /// Failures after the batch's last success (or all of them, added to the count, when none succeeded).
    failures_since_success: i64,
    last_success_at: Option<i64>,
    last_failure_at: Option<i64>,
    last_failure: Option<String>,
}

fn health_of(attempts: &[Attempt]) -> Vec<Health> {
    let mut out: Vec<Health> = Vec::new();
    for a in attempts {
        let i = match out
            .iter()
            .position(|h| h.destination_id == a.destination_id)
        {
            Some(i) => i,
            None => {
                out.push(Health {
                    destination_id: a.destination_id,
                    ..Health::default()
                });
                out.len() - 1
            }
        };
        let h = &mut out[i];
        match &a.outcome {
            Outcome::Delivered => {
                h.last_success_at = Some(h.last_success_at.unwrap_or(0).max(a.finished_at));
                h.failures_since_success = 0;
            }
            Outcome::Failed { error, .. } => {
                h.failures_since_success += 1;
                h.last_failure_at = Some(a.finished_at);
                h.last_failure = Some(error.clone());
            }
            Outcome::Released => {}
        }
    }
    out.retain(|h| h.last_success_at.is_some() || h.last_failure_at.is_some());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(destination_id: i64, at: i64, ok: bool) -> Attempt {
        Attempt {
            delivery_id: at,
            destination_id,
            started_at: at,
            finished_at: at,
            status: Some(if ok { 200 } else { 500 }),
            latency_ms: Some(1),
            response: None,
            outcome: if ok {
                Outcome::Delivered
            } else {
                Outcome::Failed {
                    error: format!("e{at}"),
                    retry_at: at + 1,
                }
            },
        }
    }

    #[test]
    fn health_counts_the_failures_after_the_last_success() {
        let h = health_of(&[
            attempt(1, 1, false),
            attempt(2, 2, false),
            attempt(1, 3, true),
            attempt(1, 4, false),
            attempt(2, 5, false),
        ]);
        assert_eq!(
            h,
            vec![
                Health {
                    destination_id: 1,
                    failures_since_success: 1,
                    last_success_at: Some(3),
                    last_failure_at: Some(4),
                    last_failure: Some("e4".into()),
                },
                Health {
                    destination_id: 2,
                    failures_since_success: 2,
                    last_success_at: None,
                    last_failure_at: Some(5),
                    last_failure: Some("e5".into()),
                },
            ]
        );
    }

    #[test]
    fn apples_form_is_rebuilt_byte_for_byte() {
        assert_eq!(apple_form("a.b-_.c"), r#"{"signedPayload":"a.b-_.c"}"#);
    }
}
