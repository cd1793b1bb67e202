//! Group commit for incoming notifications: one task owns a database connection and stores, in one
//! transaction, every notification that arrived while the previous transaction was committing; each caller is
//! answered only after the commit that holds its row.
//!
//! SQLite has one writer at a time, and a commit that waits for the disk costs the same for one row as for a
//! hundred. Under load the batches grow by themselves; when traffic is light a batch is a single row and
//! nothing waits for company.
use std::sync::Arc;
use std::time::Duration;

use sqlx::AnyConnection;
use tokio::sync::{mpsc, oneshot, Notify};

use crate::store::notifications::{insert_notification_batch, Inserted, NewNotification};
use crate::store::{Store, StoreError, StoreResult};

/// More rows than this go into the next transaction, so one commit never holds a burst's callers for long.
const MAX_BATCH: usize = 256;
/// Callers waiting for the writer; beyond this `insert` waits for room (the verification pool is bounded too).
const QUEUE: usize = 4096;
/// Rows (about 20 KB each) written before the writer checkpoints the SQLite WAL, between two batches. Small
/// checkpoints keep each pause short: at 512 rows the p99 latency under load was 58 ms, at 128 22 ms, at 64 18 ms
/// (`benches/webhook-load.sh`, 60 s).
const CHECKPOINT_ROWS: u64 = 64;
/// A quiet moment this long also checkpoints what was written since the last checkpoint.
const CHECKPOINT_IDLE: Duration = Duration::from_millis(250);

struct Job {
    row: NewNotification,
    reply: oneshot::Sender<StoreResult<Inserted>>,
}

/// A handle to the writer task; cloning shares the task. The task ends when every handle is dropped.
#[derive(Clone, Debug)]
pub struct NotificationWriter {
    queue: mpsc::Sender<Job>,
    committed: Arc<Notify>,
}

impl NotificationWriter {
    /// Starts the writer on the current tokio runtime.
    pub fn spawn(store: Store) -> Self {
        let (queue, jobs) = mpsc::channel(QUEUE);
        let committed = Arc::new(Notify::new());
        tokio::spawn(run(store, jobs, committed.clone()));
        NotificationWriter { queue, committed }
    }

    /// Notified after each commit that stored new rows: forwarding's workers wake up for their deliveries
    /// instead of waiting for their next look.
    pub fn committed(&self) -> &Notify {
        &self.committed
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

/// When the writer copies the WAL into the database file (SQLite only).
///
/// SQLite can start its WAL over from the beginning only when every frame has been copied back and a new write
/// begins. A checkpoint running beside a writer that never pauses never reaches that point, and the WAL then grows
/// without end (4.6 GB after a minute at 2,400 notifications/s); every commit appends to new blocks of the file, so
/// its fsync also commits file-system metadata and waits behind the checkpoint's writeback, and p99 latency tripled.
/// Checkpointing on the writer's own connection between two batches (its callers already answered) copies every
/// frame, so the next batch rewrites the same few megabytes of WAL in place.
struct Checkpoints {
    sqlite: bool,
    rows: u64,
}

impl Checkpoints {
    fn pending(&self) -> bool {
        self.sqlite && self.rows > 0
    }

    fn due(&self) -> bool {
        self.pending() && self.rows >= CHECKPOINT_ROWS
    }

    async fn run(&mut self, conn: &mut AnyConnection) {
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&mut *conn)
            .await
        {
            tracing::warn!(error = %e, "could not checkpoint the SQLite WAL");
        }
        self.rows = 0;
    }
}

async fn run(store: Store, mut jobs: mpsc::Receiver<Job>, committed: Arc<Notify>) {
    let mut conn: Option<AnyConnection> = None;
    let mut checkpoints = Checkpoints {
        sqlite: !store.is_postgres(),
        rows: 0,
    };
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    loop {
        // With rows not yet checkpointed, a quiet moment is the time to do it.
        let received = match conn.as_mut().filter(|_| checkpoints.pending()) {
            Some(c) => {
                match tokio::time::timeout(CHECKPOINT_IDLE, jobs.recv_many(&mut batch, MAX_BATCH))
                    .await
                {
                    Ok(n) => n,
                    Err(_) => {
                        checkpoints.run(c).await;
                        continue;
                    }
                }
            }
            None => jobs.recv_many(&mut batch, MAX_BATCH).await,
        };
        if received == 0 {
            break;
        }
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
        checkpoints.rows += batch.len() as u64;
        conn = write(connection, &mut batch).await;
        committed.notify_one();
        if let Some(c) = conn.as_mut() {
            if checkpoints.due() {
                checkpoints.run(c).await;
            }
        }
    }
    // Whatever was committed last also reaches the database file.
    if let Some(c) = conn.as_mut() {
        if checkpoints.pending() {
            checkpoints.run(c).await;
        }
    }
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
