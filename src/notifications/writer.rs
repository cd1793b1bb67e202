//! Group commit for incoming notifications: one task owns a database connection and stores, in one
//! transaction, every notification that arrived while the previous transaction was committing; each caller is
//! answered only after the commit that holds its row.
//!
//! SQLite has one writer at a time, and a commit that waits for the disk costs the same for one row as for a
//! hundred. Under load the batches grow by themselves; when traffic is light a batch is a single row and
//! nothing waits for company.
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sqlx::AnyConnection;
use tokio::sync::{mpsc, oneshot};

use crate::store::notifications::{insert_notification_batch, Inserted, NewNotification};
use crate::store::{Store, StoreError, StoreResult};

/// More rows than this go into the next transaction, so one commit never holds a burst's callers for long.
const MAX_BATCH: usize = 256;
/// Callers waiting for the writer; beyond this `insert` waits for room (the verification pool is bounded too).
const QUEUE: usize = 4096;
/// How often the WAL is checkpointed beside the writer while rows come in (SQLite only).
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

struct Job {
    row: NewNotification,
    reply: oneshot::Sender<StoreResult<Inserted>>,
}

/// A handle to the writer task; cloning shares the task. The task ends when every handle is dropped.
#[derive(Clone, Debug)]
pub struct NotificationWriter {
    queue: mpsc::Sender<Job>,
}

impl NotificationWriter {
    /// Starts the writer on the current tokio runtime, and on SQLite the checkpointer beside it.
    pub fn spawn(store: Store) -> Self {
        let (queue, jobs) = mpsc::channel(QUEUE);
        let progress = Arc::new(Progress::default());
        if !store.is_postgres() {
            tokio::spawn(checkpoint(store.clone(), progress.clone()));
        }
        tokio::spawn(run(store, jobs, progress));
        NotificationWriter { queue }
    }

    /// Stores the row (once per project and notificationUUID) and returns after the commit.
    pub async fn insert(&self, row: NewNotification) -> StoreResult<Inserted> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Job { row, reply })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

fn stopped() -> StoreError {
    StoreError::Other(anyhow::anyhow!("the notification writer has stopped"))
}

/// Shared by the writer and the checkpointer.
#[derive(Default)]
struct Progress {
    rows: AtomicU64,
    stopped: AtomicBool,
}

/// The writer's connection never checkpoints (so no caller waits behind a checkpoint); this task does, on a
/// pool connection, while rows keep arriving. A PASSIVE checkpoint neither waits for nor blocks the writer.
async fn checkpoint(store: Store, progress: Arc<Progress>) {
    let mut seen = 0;
    while !progress.stopped.load(Ordering::Relaxed) {
        tokio::time::sleep(CHECKPOINT_EVERY).await;
        let rows = progress.rows.load(Ordering::Relaxed);
        if rows != seen {
            seen = rows;
            if let Err(e) = store.checkpoint_wal().await {
                tracing::warn!(error = %e, "could not checkpoint the SQLite WAL");
            }
        }
    }
    // Whatever the writer committed last still reaches the database file.
    let _ = store.checkpoint_wal().await;
}

async fn run(store: Store, mut jobs: mpsc::Receiver<Job>, progress: Arc<Progress>) {
    let mut conn: Option<AnyConnection> = None;
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    while jobs.recv_many(&mut batch, MAX_BATCH).await > 0 {
        // Rows whose callers gave up (the request was cancelled) still go in: Apple may never send them again.
        let connection = match conn.take() {
            Some(c) => c,
            None => match store.writer_connection().await {
                Ok(c) => c,
                Err(e) => {
                    tracing::error!(error = %e, "the notification writer could not get a database connection");
                    for job in batch.drain(..) {
                        let _ = job.reply.send(Err(StoreError::Other(anyhow::anyhow!(
                            "no database connection for the notification writer"
                        ))));
                    }
                    continue;
                }
            },
        };
        let rows = batch.len() as u64;
        conn = write(connection, &mut batch).await;
        progress.rows.fetch_add(rows, Ordering::Relaxed);
    }
    progress.stopped.store(true, Ordering::Relaxed);
}

/// Writes one batch and answers its callers; returns the connection if it is still fit for use.
async fn write(mut conn: AnyConnection, batch: &mut Vec<Job>) -> Option<AnyConnection> {
    let rows: Vec<&NewNotification> = batch.iter().map(|j| &j.row).collect();
    match insert_notification_batch(&mut conn, &rows).await {
        Ok(results) => {
            for (job, result) in batch.drain(..).zip(results) {
                let _ = job.reply.send(Ok(result));
            }
            Some(conn)
        }
        Err(e) if batch.len() == 1 => {
            tracing::warn!(error = %e, "a notification could not be stored");
            if let Some(job) = batch.pop() {
                let _ = job.reply.send(Err(e));
            }
            // The error may have broken the connection; a fresh one costs little.
            None
        }
        Err(e) => {
            // One bad row (its project deleted meanwhile, say) must not fail the others: one transaction each.
            tracing::warn!(error = %e, rows = batch.len(), "a batch of notifications failed; storing them one by one");
            let mut healthy = true;
            for job in batch.drain(..) {
                let result = insert_notification_batch(&mut conn, &[&job.row])
                    .await
                    .map(|r| r.first().copied());
                let result = match result {
                    Ok(Some(inserted)) => Ok(inserted),
                    Ok(None) => Err(StoreError::Other(anyhow::anyhow!("no result for the row"))),
                    Err(e) => {
                        healthy = false;
                        Err(e)
                    }
                };
                let _ = job.reply.send(result);
            }
            healthy.then_some(conn)
        }
    }
}
