//! The replay job: queues the notifications a replay matches for its destination, in batches, in the background.
//! A replay is taken under a lease on its own row (`store::forwarding::replays`), so one instance works on it at a
//! time and another takes it over when its holder dies; each batch moves the replay's cursor in the same
//! transaction that queues its deliveries, so the page's progress (queued of matched) is always what was queued.
//! The delivery workers then send what it queued like any other delivery, with the notification's `webhook-id`.
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::store::forwarding::replays::Batch;
use crate::store::Store;

/// Notifications queued per transaction: small enough to keep a write short on SQLite, where the webhook's writer
/// waits behind it.
pub const BATCH: i64 = 500;
/// How long a replay stays with the instance that took it without a batch renewing it.
pub const LEASE_MS: i64 = 30_000;
/// How often each instance looks for a replay to work on.
pub const INTERVAL: Duration = Duration::from_secs(2);
/// Batches per run at most, so one run never holds a worker for long; the next run goes on.
const MAX_BATCHES: usize = 400;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReplayRun {
    /// Replays worked on.
    pub replays: usize,
    /// Deliveries queued.
    pub queued: i64,
    /// Replays finished in this run.
    pub finished: usize,
}

/// One run at `now_ms` (moved on by the time batches take): takes each replay nobody holds and queues it to the
/// end, batch by batch.
pub async fn run_once(store: &Store, holder: &str, now_ms: i64) -> anyhow::Result<ReplayRun> {
    let started = Instant::now();
    let clock = || now_ms + i64::try_from(started.elapsed().as_millis()).unwrap_or(0);
    let mut run = ReplayRun::default();
    let mut batches = 0;
    while batches < MAX_BATCHES {
        let Some(replay) = store
            .claim_forward_replay(holder, clock(), LEASE_MS)
            .await?
        else {
            break;
        };
        run.replays += 1;
        while batches < MAX_BATCHES {
            batches += 1;
            match store
                .forward_replay_batch(&replay, holder, clock(), LEASE_MS, BATCH)
                .await?
            {
                Batch::Queued(n) => run.queued += n,
                Batch::Done => {
                    run.finished += 1;
                    break;
                }
                Batch::LostLease => break,
            }
        }
    }
    Ok(run)
}

/// Starts the job on this instance. Called once from `startup.rs`.
pub fn spawn_schedule(store: Store) {
    let holder = format!("instance-{}", uuid::Uuid::new_v4());
    let store = Arc::new(store);
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(INTERVAL);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            ticker.tick().await;
            match run_once(&store, &holder, crate::clock::now_ms()).await {
                Ok(run) if run == ReplayRun::default() => {}
                Ok(run) => tracing::info!(
                    replays = run.replays,
                    queued = run.queued,
                    finished = run.finished,
                    "replay job ran"
                ),
                Err(e) => tracing::error!(error = ?e, "replay job failed"),
            }
        }
    });
}
