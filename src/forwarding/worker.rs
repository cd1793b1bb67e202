//! The delivery workers: claim due deliveries with a lease, send them (at most `concurrency` at once per
//! destination from this instance), and write the results in batches with each destination's health.
//!
//! Two ways to run: [`spawn`] (from `startup`), a loop that claims as soon as a destination has room and writes
//! results from a task of its own; and [`run_once`], one pass over everything due at a given time, for the tests
//! (the clock is a parameter, as in the alert job, so a test crosses 72 hours without waiting).
//!
//! A claim takes up to [`WAVES`] × `concurrency` rows of one destination (more while it answers fast), and their
//! lease covers that many attempts one after another; a row whose lease would run out before its attempt could
//! finish is let go unsent instead, so a lease taken over by another instance is never sent by both.
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use rand::Rng as _;
use tokio::sync::{mpsc, Notify, Semaphore};

use super::deliver::{self, Sent};
use super::sign::Signer;
use crate::config::ForwardSettings;
use crate::state::AppState;
use crate::store::forwarding::{Attempt, Claimed, DestinationRow, Outcome, Outgoing, ROUND_MS};

/// Rows claimed per destination: this many rounds of `concurrency` attempts.
pub const WAVES: usize = 4;
/// Time left on a lease below which an attempt is not started (beyond the attempt's own timeout).
const LEASE_MARGIN_MS: i64 = 5_000;
/// Results written per transaction at most.
const RESULT_BATCH: usize = 512;
/// How often the queue's gauges are read for `/metrics`.
const GAUGE_EVERY: Duration = Duration::from_secs(5);

pub const METRIC: &str = "storedesk_forward_deliveries_total";

/// The first retry waits 30 seconds; each next one twice as long, at most an hour; ±20 % so that a destination
/// that comes back is not hit by its whole backlog at once.
pub fn backoff_ms(failed_attempts: i64) -> i64 {
    let doublings = u32::try_from(failed_attempts.clamp(1, 12) - 1).unwrap_or(0);
    (30_000_i64 << doublings).min(3_600_000)
}

fn with_jitter(ms: i64) -> i64 {
    let factor: f64 = rand::thread_rng().gen_range(0.8..=1.2);
    (ms as f64 * factor) as i64
}

/// What one pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tick {
    pub delivered: usize,
    /// Failed attempts that will be retried.
    pub failed: usize,
    /// Failed attempts that ended their round: the delivery is dead.
    pub dead: usize,
    /// Claimed rows let go unsent.
    pub released: usize,
}

/// A clock that starts at `base` (the tick's `now`) and moves with real time.
#[derive(Clone, Copy)]
struct Clock {
    base: i64,
    started: Instant,
}

impl Clock {
    fn at(base: i64) -> Self {
        Clock {
            base,
            started: Instant::now(),
        }
    }

    fn now(&self) -> i64 {
        self.base + i64::try_from(self.started.elapsed().as_millis()).unwrap_or(0)
    }
}

/// What one instance's workers share: its lease owner id, the HTTP client, and opened signing secrets.
pub struct Engine {
    owner: String,
    settings: ForwardSettings,
    client: reqwest::Client,
    /// By destination id: the row's `updated_at` when opened (a rotation changes it) and the signer.
    signers: Mutex<HashMap<i64, (i64, Arc<Signer>)>>,
}

/// One destination's claimed rows, with what sending them needs.
struct Batch {
    destination: DestinationRow,
    signer: Result<Arc<Signer>, String>,
    rows: Vec<(Claimed, Option<Outgoing>)>,
    lease_until: i64,
}

impl Engine {
    pub fn new(settings: ForwardSettings, owner: String) -> anyhow::Result<Engine> {
        Ok(Engine {
            client: deliver::client(&settings)?,
            settings,
            owner,
            signers: Mutex::new(HashMap::new()),
        })
    }

    fn lease_ms(&self) -> i64 {
        let timeout = i64::try_from(self.settings.timeout.as_millis()).unwrap_or(15_000);
        timeout * WAVES as i64 + 2 * LEASE_MARGIN_MS
    }

    fn timeout_ms(&self) -> i64 {
        i64::try_from(self.settings.timeout.as_millis()).unwrap_or(15_000)
    }

    fn signer(
        &self,
        state: &AppState,
        d: &DestinationRow,
        now: i64,
    ) -> Result<Arc<Signer>, String> {
        let mut cache = self.signers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((updated_at, signer)) = cache.get(&d.id) {
            if *updated_at == d.updated_at {
                return Ok(signer.clone());
            }
        }
        match Signer::open(&state.settings.keyring(), d, now) {
            Ok(signer) => {
                let signer = Arc::new(signer);
                cache.insert(d.id, (d.updated_at, signer.clone()));
                Ok(signer)
            }
            Err(e) => {
                tracing::error!(destination = d.id, error = %e, "could not open a forwarding destination's signing secret");
                Err("storedesk could not open the destination's signing secret (see the server log); it will try again.".into())
            }
        }
    }

    /// Claims up to `limit` due rows of one destination and loads what sending them needs; `None` if none.
    async fn claim(
        &self,
        state: &AppState,
        destination_id: i64,
        now: i64,
        limit: usize,
    ) -> anyhow::Result<Option<Batch>> {
        let lease_until = now + self.lease_ms();
        let claimed = state
            .store
            .claim_deliveries(
                destination_id,
                &self.owner,
                now,
                lease_until,
                i64::try_from(limit).unwrap_or(1),
            )
            .await?;
        let Some(first) = claimed.first() else {
            return Ok(None);
        };
        let project_id = first.project_id;
        let Some(destination) = state
            .store
            .forward_destination(project_id, destination_id)
            .await?
        else {
            // Removed meanwhile: its deliveries went with it.
            return Ok(None);
        };
        let ids: Vec<i64> = claimed.iter().map(|c| c.notification_id).collect();
        let mut outgoing: HashMap<i64, Outgoing> = state
            .store
            .outgoing_notifications(&ids)
            .await?
            .into_iter()
            .map(|o| (o.id, o))
            .collect();
        let signer = self.signer(state, &destination, now);
        let rows = claimed
            .into_iter()
            .map(|c| {
                let o = outgoing.remove(&c.notification_id);
                (c, o)
            })
            .collect();
        Ok(Some(Batch {
            destination,
            signer,
            rows,
            lease_until,
        }))
    }

    /// One attempt of one claimed row, at the worker's `clock`.
    async fn attempt(
        &self,
        destination: &DestinationRow,
        signer: &Result<Arc<Signer>, String>,
        claimed: &Claimed,
        outgoing: Option<&Outgoing>,
        lease_until: i64,
        clock: Clock,
    ) -> Attempt {
        let started_at = clock.now();
        let release = Attempt {
            delivery_id: claimed.id,
            destination_id: claimed.destination_id,
            started_at,
            finished_at: started_at,
            status: None,
            latency_ms: None,
            response: None,
            outcome: Outcome::Released,
        };
        let Some(n) = outgoing else {
            return release;
        };
        if lease_until - started_at < self.timeout_ms() + LEASE_MARGIN_MS {
            return release;
        }
        let sent = match signer {
            Ok(signer) => {
                deliver::send(
                    &self.client,
                    &destination.settings.url,
                    signer,
                    n,
                    self.settings.timeout,
                    started_at,
                )
                .await
            }
            Err(sentence) => Sent {
                status: None,
                latency_ms: 0,
                response: None,
                error: Some(sentence.clone()),
            },
        };
        let finished_at = clock.now();
        let outcome = match sent.error {
            None => Outcome::Delivered,
            Some(error) => Outcome::Failed {
                error,
                retry_at: finished_at + with_jitter(backoff_ms(claimed.attempts + 1)),
            },
        };
        Attempt {
            finished_at,
            status: sent.status.map(i64::from),
            latency_ms: Some(sent.latency_ms),
            response: sent.response,
            outcome,
            ..release
        }
    }
}

/// Counts an attempt in `tick` and in `/metrics`; `round_started_at` tells a failure that ends the round.
fn tally(state: &AppState, tick: &mut Tick, a: &Attempt, round_started_at: i64) {
    let label = match &a.outcome {
        Outcome::Delivered => {
            tick.delivered += 1;
            "delivered"
        }
        Outcome::Failed { .. } if a.finished_at >= round_started_at + ROUND_MS => {
            tick.dead += 1;
            "dead"
        }
        Outcome::Failed { .. } => {
            tick.failed += 1;
            "failed"
        }
        Outcome::Released => {
            tick.released += 1;
            return;
        }
    };
    state.metrics.inc(METRIC, &format!("outcome=\"{label}\""));
}

/// One pass at `now`: every delivery due then (of enabled destinations, lease free) is attempted once, at most
/// `concurrency` at a time per destination, and the results written. `owner` names this worker's leases.
pub async fn run_once(state: &AppState, owner: &str, now: i64) -> anyhow::Result<Tick> {
    let engine = Engine::new(state.settings.forwarding.clone(), owner.to_owned())?;
    let clock = Clock::at(now);
    let concurrency = state.settings.forwarding.concurrency;
    let mut tick = Tick::default();
    loop {
        let mut claimed_any = false;
        for destination_id in state.store.destinations_with_due_deliveries(now).await? {
            let Some(batch) = engine
                .claim(state, destination_id, now, concurrency * WAVES)
                .await?
            else {
                continue;
            };
            claimed_any = true;
            let attempts: Vec<(Attempt, i64)> = futures_util::stream::iter(batch.rows.iter())
                .map(|(c, o)| {
                    let (engine, batch) = (&engine, &batch);
                    async move {
                        let a = engine
                            .attempt(
                                &batch.destination,
                                &batch.signer,
                                c,
                                o.as_ref(),
                                batch.lease_until,
                                clock,
                            )
                            .await;
                        (a, c.round_started_at)
                    }
                })
                .buffer_unordered(concurrency)
                .collect()
                .await;
            for (a, round) in &attempts {
                tally(state, &mut tick, a, *round);
            }
            let attempts: Vec<Attempt> = attempts.into_iter().map(|(a, _)| a).collect();
            state.store.record_attempts(owner, &attempts).await?;
        }
        // A failed attempt is due again only later, a delivered one never: the pass ends when nothing is claimed.
        if !claimed_any {
            break;
        }
    }
    refresh_gauges(state, now).await;
    Ok(tick)
}

/// Sets the queue's gauges: pending deliveries, and the age of the oldest.
async fn refresh_gauges(state: &AppState, now: i64) {
    match state.store.forward_queue_stats().await {
        Ok(stats) => {
            state
                .metrics
                .set_gauge("storedesk_forward_queue_depth", stats.depth);
            let age = stats
                .oldest_created_at
                .map_or(0, |at| (now - at).max(0) / 1000);
            state
                .metrics
                .set_gauge("storedesk_forward_oldest_undelivered_seconds", age);
        }
        Err(e) => tracing::warn!(error = %e, "could not read forwarding's queue for /metrics"),
    }
}

/// Starts this instance's delivery workers (unless `STOREDESK_FORWARD_INTERVAL=off`). Called once from `startup`.
pub fn spawn(state: Arc<AppState>) -> anyhow::Result<()> {
    let Some(interval) = state.settings.forwarding.interval else {
        tracing::info!("forwarding's delivery workers are off on this instance (STOREDESK_FORWARD_INTERVAL=off)");
        return Ok(());
    };
    let owner = format!("instance-{}", uuid::Uuid::new_v4());
    let engine = Arc::new(Engine::new(state.settings.forwarding.clone(), owner)?);
    let (results, received) = mpsc::channel::<Attempt>(RESULT_BATCH * 8);
    tokio::spawn(write_results(state.clone(), engine.owner.clone(), received));
    tokio::spawn(dispatch(state, engine, results, interval));
    Ok(())
}

/// Claims for each destination with room, starts its attempts, and waits for room or for the interval.
async fn dispatch(
    state: Arc<AppState>,
    engine: Arc<Engine>,
    results: mpsc::Sender<Attempt>,
    interval: Duration,
) {
    let concurrency = engine.settings.concurrency;
    let mut lanes: HashMap<i64, Arc<Lane>> = HashMap::new();
    let room = Arc::new(Notify::new());
    let mut gauges_at = Instant::now() - GAUGE_EVERY;
    loop {
        let now = crate::clock::now_ms();
        if gauges_at.elapsed() >= GAUGE_EVERY {
            refresh_gauges(&state, now).await;
            gauges_at = Instant::now();
        }
        let due = match state.store.destinations_with_due_deliveries(now).await {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(error = %e, "forwarding could not look for due deliveries");
                tokio::time::sleep(interval.max(Duration::from_secs(1))).await;
                continue;
            }
        };
        let mut claimed_any = false;
        for destination_id in due {
            let lane = lanes
                .entry(destination_id)
                .or_insert_with(|| Arc::new(Lane::new(concurrency)))
                .clone();
            let holding = lane.held.load(Ordering::SeqCst);
            let capacity = lane.capacity(concurrency);
            // A destination is claimed for again once half its room is free: claims come in batches.
            if holding > capacity / 2 {
                continue;
            }
            let batch = match engine
                .claim(&state, destination_id, now, capacity - holding)
                .await
            {
                Ok(Some(b)) => Arc::new(b),
                Ok(None) => continue,
                Err(e) => {
                    tracing::error!(destination = destination_id, error = %e, "forwarding could not claim deliveries");
                    continue;
                }
            };
            claimed_any = true;
            lane.held.fetch_add(batch.rows.len(), Ordering::SeqCst);
            for i in 0..batch.rows.len() {
                let (state, engine, batch, results, lane, room) = (
                    state.clone(),
                    engine.clone(),
                    batch.clone(),
                    results.clone(),
                    lane.clone(),
                    room.clone(),
                );
                tokio::spawn(async move {
                    let _permit = lane.permits.acquire().await;
                    let (claimed, outgoing) = &batch.rows[i];
                    let clock = Clock::at(crate::clock::now_ms());
                    let a = engine
                        .attempt(
                            &batch.destination,
                            &batch.signer,
                            claimed,
                            outgoing.as_ref(),
                            batch.lease_until,
                            clock,
                        )
                        .await;
                    tally(&state, &mut Tick::default(), &a, claimed.round_started_at);
                    lane.observe(&a);
                    let _ = results.send(a).await;
                    lane.done(&room, concurrency);
                });
            }
        }
        if !claimed_any {
            tokio::select! {
                _ = room.notified() => {}
                _ = state.intake.writer().committed().notified() => {}
                _ = tokio::time::sleep(interval) => {}
            }
        }
    }
}

/// Rows claimed for a fast destination at most: a claim is a write, and on SQLite it waits for the webhook's
/// writer, so a destination that answers in milliseconds is claimed for in large batches.
const FAST_CLAIM: usize = 256;
/// An answer slower than this (or a failure) makes a destination slow: its claims shrink to [`WAVES`] rounds.
const FAST_MS: i64 = 100;

/// One destination on this instance: rows claimed and not yet done, the permits of its concurrency limit, and
/// whether its last attempt was fast.
struct Lane {
    held: AtomicUsize,
    permits: Semaphore,
    slow: std::sync::atomic::AtomicBool,
}

impl Lane {
    fn new(concurrency: usize) -> Self {
        Lane {
            held: AtomicUsize::new(0),
            permits: Semaphore::new(concurrency),
            slow: std::sync::atomic::AtomicBool::new(true),
        }
    }

    /// How many rows it may hold: [`WAVES`] rounds of its concurrency while it is slow (their lease covers them
    /// one round after another), up to [`FAST_CLAIM`] while it answers fast.
    fn capacity(&self, concurrency: usize) -> usize {
        let slow = concurrency * WAVES;
        match self.slow.load(Ordering::SeqCst) {
            true => slow,
            false => FAST_CLAIM.max(slow),
        }
    }

    fn observe(&self, a: &Attempt) {
        let fast =
            matches!(a.outcome, Outcome::Delivered) && a.latency_ms.is_some_and(|ms| ms < FAST_MS);
        if !matches!(a.outcome, Outcome::Released) {
            self.slow.store(!fast, Ordering::SeqCst);
        }
    }

    /// One row done: the dispatcher is woken when the destination has room for a claim again (not at every
    /// attempt, which would make it look for due work thousands of times a second under load).
    fn done(&self, room: &Notify, concurrency: usize) {
        let left = self.held.fetch_sub(1, Ordering::SeqCst).saturating_sub(1);
        if left <= self.capacity(concurrency) / 2 {
            room.notify_one();
        }
    }
}

/// Writes results as they come, many per transaction; a failed write is tried again, and if it keeps failing
/// the rows' leases run out and they are attempted again (a duplicate, with the same `webhook-id`).
async fn write_results(state: Arc<AppState>, owner: String, mut received: mpsc::Receiver<Attempt>) {
    let mut batch = Vec::with_capacity(RESULT_BATCH);
    loop {
        if received.recv_many(&mut batch, RESULT_BATCH).await == 0 {
            return;
        }
        for wait in [0u64, 200, 1_000, 5_000] {
            tokio::time::sleep(Duration::from_millis(wait)).await;
            match state.store.record_attempts(&owner, &batch).await {
                Ok(()) => break,
                Err(e) => {
                    tracing::error!(error = %e, rows = batch.len(), "forwarding could not record delivery results")
                }
            }
        }
        batch.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_30_seconds_up_to_an_hour() {
        let seconds: Vec<i64> = (1..=9).map(|a| backoff_ms(a) / 1000).collect();
        assert_eq!(seconds, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
        for _ in 0..100 {
            let j = with_jitter(100_000);
            assert!((80_000..=120_000).contains(&j), "{j}");
        }
    }
}
