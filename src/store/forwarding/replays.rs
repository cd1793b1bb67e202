//! Rows of `forward_replays`: a date range of stored notifications (with environment and type filters) sent again
//! to one destination. Starting one counts what it matches; the replay job (`crate::forwarding::replay`) then
//! takes it under a lease and queues the matching notifications in batches, each batch one transaction that
//! moves the replay's cursor, so a job that dies is taken over where it stopped and queues nothing twice.
use sqlx::FromRow;

use crate::store::{audit, Actor, Store, StoreError, StoreResult};

/// What a person asked to replay, already checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewReplay {
    pub destination_id: i64,
    /// Apple's signedDate, from (inclusive) and to (exclusive), ms.
    pub from_ms: i64,
    pub to_ms: i64,
    /// `Production` or `Sandbox`; None for both.
    pub environment: Option<String>,
    /// Empty for every type.
    pub types: Vec<String>,
}

impl NewReplay {
    fn types_column(&self) -> String {
        match self.types.is_empty() {
            true => String::new(),
            false => format!(",{},", self.types.join(",")),
        }
    }
}

#[derive(Clone, Debug, FromRow, PartialEq, Eq)]
pub struct ReplayRow {
    pub id: i64,
    pub destination_id: i64,
    pub project_id: i64,
    pub from_ms: i64,
    pub to_ms: i64,
    pub environment: Option<String>,
    pub types: String,
    /// `running`, `done` or `failed`.
    pub status: String,
    pub matched: i64,
    pub queued: i64,
    pub cursor: i64,
    pub lease_owner: Option<String>,
    pub lease_until: Option<i64>,
    pub error: Option<String>,
    pub created_by: String,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}

const REPLAY_COLUMNS: &str =
    "id, destination_id, project_id, from_ms, to_ms, environment, types, status, \
     matched, queued, cursor, lease_owner, lease_until, error, created_by, created_at, finished_at";

/// The notifications a replay matches (`$1` project, `$2`/`$3` the range, `$4` environment or '', `$5` types).
const MATCHES: &str = "n.project_id = $1 AND n.signed_date >= $2 AND n.signed_date < $3 \
     AND ($4 = '' OR n.environment = $4) AND ($5 = '' OR $5 LIKE '%,' || n.notification_type || ',%')";

/// What one batch did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Batch {
    /// This many more deliveries were queued.
    Queued(i64),
    /// Nothing was left: the replay is done.
    Done,
    /// Another instance holds the replay now.
    LostLease,
}

impl Store {
    /// Starts a replay: counts what it matches and records it, with its audit row. The job queues it.
    pub async fn start_forward_replay(
        &self,
        project_id: i64,
        replay: &NewReplay,
        actor: &Actor,
    ) -> StoreResult<ReplayRow> {
        let now = crate::clock::now_ms();
        let mut tx = self.pool().begin().await?;
        // The destination's row is written first: it must be the project's, and a removal waits for this.
        let name: Option<(String,)> = sqlx::query_as(
            "UPDATE forward_destinations SET updated_at = updated_at WHERE id = $1 AND project_id = $2 RETURNING name",
        )
        .bind(replay.destination_id)
        .bind(project_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((name,)) = name else {
            return Err(StoreError::NotFound);
        };
        let environment = replay.environment.clone().unwrap_or_default();
        let types = replay.types_column();
        let (matched,): (i64,) = sqlx::query_as(&format!(
            "SELECT COUNT(*) FROM notifications n WHERE {MATCHES}"
        ))
        .bind(project_id)
        .bind(replay.from_ms)
        .bind(replay.to_ms)
        .bind(&environment)
        .bind(&types)
        .fetch_one(&mut *tx)
        .await?;
        let row = sqlx::query_as::<_, ReplayRow>(&format!(
            "INSERT INTO forward_replays (destination_id, project_id, from_ms, to_ms, environment, types, status, \
             matched, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             RETURNING {REPLAY_COLUMNS}"
        ))
        .bind(replay.destination_id)
        .bind(project_id)
        .bind(replay.from_ms)
        .bind(replay.to_ms)
        .bind(replay.environment.clone())
        .bind(&types)
        .bind(if matched == 0 { "done" } else { "running" })
        .bind(matched)
        .bind(&actor.email)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        audit::record(
            &mut tx,
            actor,
            "forwarding.replay",
            Some(project_id),
            &name,
            &format!(
                "{} to {}; {}; {}; {matched} notifications",
                crate::present::time::utc(replay.from_ms),
                crate::present::time::utc(replay.to_ms),
                replay
                    .environment
                    .as_deref()
                    .unwrap_or("Production and Sandbox"),
                match replay.types.is_empty() {
                    true => "every type".to_owned(),
                    false => replay.types.join(", "),
                }
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(row)
    }

    /// A destination's replays, newest first.
    pub async fn forward_replays(
        &self,
        project_id: i64,
        destination_id: i64,
        limit: i64,
    ) -> StoreResult<Vec<ReplayRow>> {
        Ok(sqlx::query_as::<_, ReplayRow>(&format!(
            "SELECT {REPLAY_COLUMNS} FROM forward_replays WHERE project_id = $1 AND destination_id = $2 \
             ORDER BY id DESC LIMIT $3"
        ))
        .bind(project_id)
        .bind(destination_id)
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }

    /// Takes the oldest running replay that nobody holds (or whose holder's lease ran out) for `holder` until
    /// `now + lease_ms`. One statement, so two instances never take the same replay.
    pub async fn claim_forward_replay(
        &self,
        holder: &str,
        now: i64,
        lease_ms: i64,
    ) -> StoreResult<Option<ReplayRow>> {
        Ok(sqlx::query_as::<_, ReplayRow>(&format!(
            "UPDATE forward_replays SET lease_owner = $1, lease_until = $2 WHERE id = (SELECT id FROM \
             forward_replays WHERE status = 'running' AND (lease_until IS NULL OR lease_until < $3) \
             ORDER BY id LIMIT 1) AND status = 'running' AND (lease_until IS NULL OR lease_until < $3) \
             RETURNING {REPLAY_COLUMNS}"
        ))
        .bind(holder)
        .bind(now + lease_ms)
        .bind(now)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Queues the next `size` matching notifications of a replay `holder` holds (a new round for each: pending,
    /// no attempts, origin `replay`), moves its cursor and renews its lease, in one transaction.
    pub async fn forward_replay_batch(
        &self,
        replay: &ReplayRow,
        holder: &str,
        now: i64,
        lease_ms: i64,
        size: i64,
    ) -> StoreResult<Batch> {
        let mut tx = self.pool().begin().await?;
        let (cursor,): (i64,) = match sqlx::query_as(
            "UPDATE forward_replays SET lease_until = $1 WHERE id = $2 AND lease_owner = $3 \
             AND status = 'running' RETURNING cursor",
        )
        .bind(now + lease_ms)
        .bind(replay.id)
        .bind(holder)
        .fetch_optional(&mut *tx)
        .await?
        {
            Some(c) => c,
            None => return Ok(Batch::LostLease),
        };
        let environment = replay.environment.clone().unwrap_or_default();
        let ids: Vec<(i64,)> = sqlx::query_as(&format!(
            "SELECT n.id FROM notifications n WHERE {MATCHES} AND n.id > $6 ORDER BY n.id LIMIT $7"
        ))
        .bind(replay.project_id)
        .bind(replay.from_ms)
        .bind(replay.to_ms)
        .bind(&environment)
        .bind(&replay.types)
        .bind(cursor)
        .bind(size)
        .fetch_all(&mut *tx)
        .await?;
        let Some(&(last,)) = ids.last() else {
            sqlx::query(
                "UPDATE forward_replays SET status = 'done', finished_at = $1, lease_owner = NULL, \
                 lease_until = NULL WHERE id = $2",
            )
            .bind(now)
            .bind(replay.id)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            return Ok(Batch::Done);
        };
        sqlx::query(&format!(
            "INSERT INTO forward_deliveries (destination_id, notification_id, project_id, status, origin, attempts, \
             created_at, round_started_at, next_attempt_at) \
             SELECT $8, n.id, n.project_id, 'pending', 'replay', 0, $9, $9, $9 FROM notifications n \
             WHERE {MATCHES} AND n.id > $6 AND n.id <= $7 \
             ON CONFLICT (destination_id, notification_id) DO UPDATE SET status = 'pending', origin = 'replay', \
             attempts = 0, round_started_at = $9, next_attempt_at = $9, delivered_at = NULL"
        ))
        .bind(replay.project_id)
        .bind(replay.from_ms)
        .bind(replay.to_ms)
        .bind(&environment)
        .bind(&replay.types)
        .bind(cursor)
        .bind(last)
        .bind(replay.destination_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let count = i64::try_from(ids.len()).unwrap_or(i64::MAX);
        sqlx::query("UPDATE forward_replays SET cursor = $1, queued = queued + $2 WHERE id = $3")
            .bind(last)
            .bind(count)
            .bind(replay.id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Batch::Queued(count))
    }
}
