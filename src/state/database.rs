//! Whether the database answers, as one task per process sees it by asking every second.
//!
//! A PostgreSQL server that hangs (stopped with SIGSTOP, a stuck disk, a dead host whose TCP connections were never
//! closed) gives no error: the kernel keeps accepting and acknowledging, and a query simply never returns. Only a
//! clock can tell. Rather than give every request its own long wait, this watch asks the database on a
//! connection of its own with a short timeout and says "unavailable" at once when it does not answer; requests then
//! fail fast with a 503, and those already waiting are cut short (see [`DatabaseWatch::bounded`]). When the
//! database answers again, so does everything else, without a restart.
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::AnyConnection;
use tokio::sync::watch;

use crate::metrics::Metrics;
use crate::store::{Store, StoreResult};

/// How often a database that answers is asked again.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(1);
/// How long one probe may take before the database counts as unavailable. A `SELECT 1` on a server that works
/// answers in well under a millisecond, on a loaded machine in a few; two seconds is far beyond that.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// How often a database that did not answer is asked again, so that recovery is noticed quickly.
const RETRY_INTERVAL: Duration = Duration::from_millis(500);
/// Set to 1 while the database answers, 0 while it does not.
pub const GAUGE: &str = "storedesk_database_available";

/// A handle to the watch; the probing task ends when the last handle is dropped.
#[derive(Debug)]
pub struct DatabaseWatch {
    available: watch::Receiver<bool>,
}

impl DatabaseWatch {
    /// Starts probing on the current tokio runtime. The database counts as available until a probe says otherwise
    /// (the caller has just connected to it).
    pub fn start(store: &Store, metrics: Arc<Metrics>) -> Self {
        let (tx, available) = watch::channel(true);
        metrics.set_gauge(GAUGE, 1);
        tokio::spawn(probe_loop(store.clone(), tx, metrics));
        DatabaseWatch { available }
    }

    /// Whether the last probe was answered.
    pub fn available(&self) -> bool {
        *self.available.borrow()
    }

    /// Resolves once the database is found unavailable (at once if it is now); never if it stays available.
    pub async fn lost(&self) {
        let mut rx = self.available.clone();
        if rx.wait_for(|ok| !*ok).await.is_err() {
            // The probing task is gone (the runtime is shutting down): nothing will ever be found lost.
            std::future::pending::<()>().await;
        }
    }

    /// Runs `work` (database work) for at most `deadline`, and not past the moment the database is found
    /// unavailable. `None` when it was cut short: whatever it was writing may or may not have been committed.
    pub async fn bounded<F: Future>(&self, deadline: Duration, work: F) -> Option<F::Output> {
        tokio::select! {
            done = tokio::time::timeout(deadline, work) => done.ok(),
            () = self.lost() => None,
        }
    }
}

async fn probe_loop(store: Store, tx: watch::Sender<bool>, metrics: Arc<Metrics>) {
    let mut conn: Option<AnyConnection> = None;
    let mut lost_at: Option<Instant> = None;
    while !tx.is_closed() {
        let failure = match tokio::time::timeout(PROBE_TIMEOUT, probe(&store, &mut conn)).await {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(_) => Some(format!("no answer within {} s", PROBE_TIMEOUT.as_secs())),
        };
        match (failure, lost_at) {
            (Some(reason), None) => {
                // A connection that failed or was left mid-query is of no further use; the next probe opens another.
                conn = None;
                lost_at = Some(Instant::now());
                metrics.set_gauge(GAUGE, 0);
                tx.send_replace(false);
                tracing::error!(
                    reason,
                    "the database is not answering; pages and the notification webhook answer 503 until it does"
                );
            }
            (Some(_), Some(_)) => conn = None,
            (None, Some(since)) => {
                lost_at = None;
                metrics.set_gauge(GAUGE, 1);
                tx.send_replace(true);
                tracing::warn!(
                    unavailable_for_ms = since.elapsed().as_millis() as u64,
                    "the database answers again"
                );
            }
            (None, None) => {}
        }
        let pause = if lost_at.is_some() {
            RETRY_INTERVAL
        } else {
            PROBE_INTERVAL
        };
        tokio::time::sleep(pause).await;
    }
}

async fn probe(store: &Store, conn: &mut Option<AnyConnection>) -> StoreResult<()> {
    let conn = match conn {
        Some(c) => c,
        None => conn.insert(store.probe_connection().await?),
    };
    Store::probe(conn).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DatabaseUrl;

    async fn watch() -> (DatabaseWatch, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::connect(&DatabaseUrl::sqlite_file(&dir.path().join("w.db")))
            .await
            .unwrap();
        (
            DatabaseWatch::start(&store, Arc::new(Metrics::default())),
            dir,
        )
    }

    #[tokio::test]
    async fn work_that_outlasts_its_deadline_is_cut_short() {
        let (watch, _dir) = watch().await;
        let started = Instant::now();
        let cut = watch
            .bounded(Duration::from_millis(50), std::future::pending::<()>())
            .await;
        assert_eq!(cut, None);
        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!(
            watch.bounded(Duration::from_secs(1), async { 7 }).await,
            Some(7)
        );
        assert!(watch.available());
    }

    #[tokio::test]
    async fn a_database_that_answers_stays_available_and_is_never_lost() {
        let (watch, _dir) = watch().await;
        // Two probes' time: `lost` must not resolve for a database that answers.
        let lost = tokio::time::timeout(PROBE_INTERVAL * 2, watch.lost()).await;
        assert!(lost.is_err());
        assert!(watch.available());
    }
}
