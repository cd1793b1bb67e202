//! Rows of `notifications` and each project's notification URL token.
use std::collections::HashMap;

use sqlx::{AnyConnection, Connection as _};

use super::{Project, Store, StoreResult};

/// A verified notification ready to be stored; the fields pages filter on are lifted out of the payload.
#[derive(Debug, Clone)]
pub struct NewNotification {
    pub project_id: i64,
    pub notification_uuid: String,
    pub notification_type: String,
    pub subtype: Option<String>,
    pub environment: String,
    pub signed_date: i64,
    pub transaction_id: Option<String>,
    pub original_transaction_id: Option<String>,
    pub product_id: Option<String>,
    pub source: String,
    pub received_at: i64,
    pub signed_payload: String,
    pub payload: String,
    /// Apple's request body as it arrived, only when it is not exactly `{"signedPayload":"<signed_payload>"}`
    /// (Apple's own form, rebuilt from `signed_payload` when forwarding): forwarding sends Apple's bytes.
    pub raw_body: Option<String>,
    /// Whether a new row is queued for the project's forwarding destinations in the same transaction (false only
    /// for a backfill whose form said not to forward what it fetches).
    pub forward: bool,
    /// The verified transaction the notification carries, for the local transaction index; stored in the same
    /// transaction as the notification, so the index never misses what the log holds.
    pub index: Option<super::transactions::IndexRow>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NotificationRow {
    pub id: i64,
    pub project_id: i64,
    pub notification_uuid: String,
    pub notification_type: String,
    pub subtype: Option<String>,
    pub environment: String,
    pub signed_date: i64,
    pub transaction_id: Option<String>,
    pub original_transaction_id: Option<String>,
    pub product_id: Option<String>,
    pub source: String,
    pub received_at: i64,
    pub payload: String,
}

pub const NOTIFICATION_COLUMNS: &str = "id, project_id, notification_uuid, notification_type, subtype, environment, \
     signed_date, transaction_id, original_transaction_id, product_id, source, received_at, payload";

/// Whether a store call added the row or found it already there (a retry or an overlap).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    New(i64),
    AlreadyPresent(i64),
}

impl Inserted {
    pub fn id(self) -> i64 {
        match self {
            Inserted::New(id) | Inserted::AlreadyPresent(id) => id,
        }
    }

    pub fn is_new(self) -> bool {
        matches!(self, Inserted::New(_))
    }
}

impl Store {
    /// Stores a notification once per (project, notificationUUID); concurrent duplicates are absorbed by the
    /// unique index, so no caller ever sees a conflict.
    pub async fn insert_notification(&self, n: &NewNotification) -> StoreResult<Inserted> {
        let mut tx = self.pool().begin().await?;
        let inserted = insert_one(&mut tx, n).await?;
        if let (Inserted::New(id), true) = (inserted, n.forward) {
            super::forwarding::deliveries::enqueue_new(&mut tx, &[id], crate::clock::now_ms())
                .await?;
        }
        if let Some(row) = &n.index {
            super::transactions::upsert(&mut tx, std::slice::from_ref(row)).await?;
        }
        tx.commit().await?;
        Ok(inserted)
    }

    /// A connection of its own for the webhook's group-commit writer, taken out of the pool for good. On SQLite
    /// its commits wait for the disk (`synchronous = FULL`): a notification answered 200 survives a power cut,
    /// not only a crash, and group commit pays that wait once per batch. SQLite's automatic checkpoint is off on
    /// it: the writer checkpoints between batches, after answering its callers (see `notifications::writer`).
    pub async fn writer_connection(&self) -> StoreResult<AnyConnection> {
        let mut conn = self.pool().acquire().await?.detach();
        if !self.is_postgres() {
            for pragma in [
                "PRAGMA synchronous = FULL",
                "PRAGMA wal_autocheckpoint = 0",
                "PRAGMA journal_size_limit = 67108864",
            ] {
                sqlx::query(pragma).execute(&mut conn).await?;
            }
        }
        Ok(conn)
    }

    pub async fn notification(
        &self,
        project_id: i64,
        id: i64,
    ) -> StoreResult<Option<NotificationRow>> {
        Ok(sqlx::query_as::<_, NotificationRow>(&format!(
            "SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE project_id = $1 AND id = $2"
        ))
        .bind(project_id)
        .bind(id)
        .fetch_optional(self.pool())
        .await?)
    }

    pub async fn notification_by_uuid(
        &self,
        project_id: i64,
        uuid: &str,
    ) -> StoreResult<Option<NotificationRow>> {
        Ok(sqlx::query_as::<_, NotificationRow>(&format!(
            "SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE project_id = $1 AND notification_uuid = $2"
        ))
        .bind(project_id)
        .bind(uuid)
        .fetch_optional(self.pool())
        .await?)
    }

    pub async fn count_notifications(&self, project_id: i64) -> StoreResult<i64> {
        let (n,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM notifications WHERE project_id = $1")
                .bind(project_id)
                .fetch_one(self.pool())
                .await?;
        Ok(n)
    }

    /// The token in the project's notification URL, made on first use.
    pub async fn notification_token(&self, project_id: i64) -> StoreResult<String> {
        let (current,): (Option<String>,) =
            sqlx::query_as("SELECT notification_token FROM projects WHERE id = $1")
                .bind(project_id)
                .fetch_one(self.pool())
                .await?;
        if let Some(token) = current {
            return Ok(token);
        }
        // Two first visits at once: only the first write lands; both then read the same token.
        sqlx::query(
            "UPDATE projects SET notification_token = $1 WHERE id = $2 AND notification_token IS NULL",
        )
        .bind(new_notification_token())
        .bind(project_id)
        .execute(self.pool())
        .await?;
        let (token,): (String,) =
            sqlx::query_as("SELECT notification_token FROM projects WHERE id = $1")
                .bind(project_id)
                .fetch_one(self.pool())
                .await?;
        Ok(token)
    }

    /// Replaces the token: the old notification URL answers 404 from now on.
    pub async fn regenerate_notification_token(&self, project_id: i64) -> StoreResult<String> {
        let token = new_notification_token();
        sqlx::query("UPDATE projects SET notification_token = $1 WHERE id = $2")
            .bind(&token)
            .bind(project_id)
            .execute(self.pool())
            .await?;
        Ok(token)
    }

    pub async fn project_by_notification_token(&self, token: &str) -> StoreResult<Option<Project>> {
        Ok(sqlx::query_as::<_, Project>(&format!(
            "SELECT {} FROM projects WHERE notification_token = $1",
            super::projects::PROJECT_COLUMNS
        ))
        .bind(token)
        .fetch_optional(self.pool())
        .await?)
    }
}

/// Inserts `rows` in one transaction on `conn` and says, row by row, whether it was new (the first of two
/// rows with the same notificationUUID in one batch is the new one). One multi-row INSERT per chunk: a round
/// trip per row would cost more than the rows. Rows go in (project, notificationUUID) order so two batches
/// sharing rows (two instances, one PostgreSQL) can't deadlock.
pub async fn insert_notification_batch(
    conn: &mut AnyConnection,
    rows: &[&NewNotification],
) -> StoreResult<Vec<Inserted>> {
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by(|&a, &b| {
        (rows[a].project_id, &rows[a].notification_uuid)
            .cmp(&(rows[b].project_id, &rows[b].notification_uuid))
    });
    let mut new_ids: HashMap<(i64, &str), i64> = HashMap::with_capacity(rows.len());
    let mut tx = conn.begin().await?;
    for chunk in order.chunks(INSERT_CHUNK) {
        let sql = insert_sql(chunk.len(), "id, project_id, notification_uuid");
        let mut query = sqlx::query_as::<_, (i64, i64, String)>(&sql);
        for &i in chunk {
            query = bind_row(query, rows[i]);
        }
        for (id, project_id, uuid) in query.fetch_all(&mut *tx).await? {
            if let Some(&i) = chunk
                .iter()
                .find(|&&i| rows[i].project_id == project_id && rows[i].notification_uuid == uuid)
            {
                new_ids.insert((project_id, rows[i].notification_uuid.as_str()), id);
            }
        }
    }
    // The new rows' deliveries commit with them: a notification answered 200 is never without its deliveries.
    let forwarded: Vec<i64> = rows
        .iter()
        .filter(|n| n.forward)
        .filter_map(|n| {
            new_ids
                .get(&(n.project_id, n.notification_uuid.as_str()))
                .copied()
        })
        .collect();
    super::forwarding::deliveries::enqueue_new(&mut tx, &forwarded, crate::clock::now_ms()).await?;
    let mut results = Vec::with_capacity(rows.len());
    for n in rows {
        let key = (n.project_id, n.notification_uuid.as_str());
        // The first row of a UUID takes the new id; any later one is its duplicate.
        let result = match new_ids.remove(&key) {
            Some(id) => Inserted::New(id),
            None => {
                let (id,): (i64,) = sqlx::query_as(
                    "SELECT id FROM notifications WHERE project_id = $1 AND notification_uuid = $2",
                )
                .bind(n.project_id)
                .bind(&n.notification_uuid)
                .fetch_one(&mut *tx)
                .await?;
                Inserted::AlreadyPresent(id)
            }
        };
        results.push(result);
    }
    let index: Vec<super::transactions::IndexRow> =
        rows.iter().filter_map(|n| n.index.clone()).collect();
    super::transactions::upsert(&mut tx, &index).await?;
    tx.commit().await?;
    Ok(results)
}

/// Rows per INSERT statement: [`COLUMNS`] parameters each stays far below SQLite's and PostgreSQL's limits.
const INSERT_CHUNK: usize = 256;

/// `INSERT … VALUES ($1, …), …` for `rows` notifications, each new one answering `returning`.
fn insert_sql(rows: usize, returning: &str) -> String {
    let mut sql = String::from(
        "INSERT INTO notifications (project_id, notification_uuid, notification_type, subtype, environment, \
         signed_date, transaction_id, original_transaction_id, product_id, source, received_at, \
         signed_payload, payload, raw_body) VALUES ",
    );
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        let first = row * COLUMNS + 1;
        let params: Vec<String> = (first..first + COLUMNS).map(|p| format!("${p}")).collect();
        sql.push_str(&format!("({})", params.join(", ")));
    }
    sql.push_str(&format!(
        " ON CONFLICT (project_id, notification_uuid) DO NOTHING RETURNING {returning}"
    ));
    sql
}

/// Columns of [`insert_sql`], bound in its order by [`bind_row`].
const COLUMNS: usize = 14;

fn bind_row<'q, O>(
    query: sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments<'q>>,
    n: &'q NewNotification,
) -> sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments<'q>> {
    // Bound as `&str`: sqlx's `Any` borrows those, while a `&String` is copied into the arguments first (the signed
    // payload and its decoded JSON are about 20 KB a row).
    query
        .bind(n.project_id)
        .bind(n.notification_uuid.as_str())
        .bind(n.notification_type.as_str())
        .bind(n.subtype.as_deref())
        .bind(n.environment.as_str())
        .bind(n.signed_date)
        .bind(n.transaction_id.as_deref())
        .bind(n.original_transaction_id.as_deref())
        .bind(n.product_id.as_deref())
        .bind(n.source.as_str())
        .bind(n.received_at)
        .bind(n.signed_payload.as_str())
        .bind(n.payload.as_str())
        .bind(n.raw_body.as_deref())
}

async fn insert_one(conn: &mut AnyConnection, n: &NewNotification) -> StoreResult<Inserted> {
    let sql = insert_sql(1, "id");
    let inserted: Option<(i64,)> = bind_row(sqlx::query_as(&sql), n)
        .fetch_optional(&mut *conn)
        .await?;
    if let Some((id,)) = inserted {
        return Ok(Inserted::New(id));
    }
    let (id,): (i64,) = sqlx::query_as(
        "SELECT id FROM notifications WHERE project_id = $1 AND notification_uuid = $2",
    )
    .bind(n.project_id)
    .bind(&n.notification_uuid)
    .fetch_one(&mut *conn)
    .await?;
    Ok(Inserted::AlreadyPresent(id))
}

/// 32 random bytes, URL-safe: a URL nobody can guess is the only thing keeping strangers from making us verify
/// their payloads, so it is long.
pub(crate) fn new_notification_token() -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
