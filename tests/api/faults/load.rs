//! Webhook load as Apple and a load balancer make it: workers post signed notifications to the instances in turn
//! (a refused connection is tried on the next instance, as a proxy would), and a notification not answered 200 is
//! sent again a moment later (Apple retries it). Every attempt is recorded with its answer and how long it took.
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Longer than any bound a test asserts, so that a hanging request shows as slow rather than as cut off.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);
/// The pause before a notification not answered 200 is sent again (Apple waits far longer; the tests can't).
const RETRY_PAUSE: Duration = Duration::from_millis(50);

#[derive(Clone, Debug)]
pub struct Attempt {
    pub uuid: String,
    /// The HTTP status, or None when no answer came (connection refused or reset, or the client's timeout).
    pub status: Option<u16>,
    /// Which of the targets answered (or was tried last).
    pub target: usize,
    pub sent: Instant,
    pub took: Duration,
}

struct Shared {
    targets: Vec<String>,
    queue: Mutex<VecDeque<(String, String)>>,
    attempts: Mutex<Vec<Attempt>>,
    stop: AtomicBool,
    next_target: AtomicUsize,
}

pub struct Load {
    shared: Arc<Shared>,
    workers: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    /// Starts `workers` tasks posting `notifications` ((uuid, body) pairs) to the webhook URLs in `targets`.
    pub fn start(
        targets: Vec<String>,
        notifications: Vec<(String, String)>,
        workers: usize,
    ) -> Load {
        let shared = Arc::new(Shared {
            targets,
            queue: Mutex::new(notifications.into_iter().collect()),
            attempts: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
            next_target: AtomicUsize::new(0),
        });
        let client = reqwest::Client::builder()
            .timeout(CLIENT_TIMEOUT)
            .build()
            .expect("client");
        let workers = (0..workers)
            .map(|_| tokio::spawn(work(shared.clone(), client.clone())))
            .collect();
        Load { shared, workers }
    }

    pub fn attempts(&self) -> Vec<Attempt> {
        self.shared
            .attempts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Waits until `count` attempts match `what`; panics after `limit`, saying `waiting_for`.
    pub async fn wait_for(
        &self,
        waiting_for: &str,
        count: usize,
        limit: Duration,
        what: impl Fn(&Attempt) -> bool,
    ) {
        let deadline = Instant::now() + limit;
        loop {
            if self.attempts().iter().filter(|a| what(a)).count() >= count {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "waited {limit:?} for {count} × {waiting_for}; attempts so far: {}",
                summary(&self.attempts())
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Lets the workers go on until every notification was answered 200 (at most `limit`), then stops them; every
    /// attempt made.
    pub async fn finish(self, limit: Duration) -> Vec<Attempt> {
        let deadline = Instant::now() + limit;
        while !self
            .shared
            .queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
            || self.workers.iter().any(|w| !w.is_finished())
        {
            assert!(
                Instant::now() < deadline,
                "not every notification was answered 200 within {limit:?}; attempts: {}",
                summary(&self.attempts())
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.shared.stop.store(true, Ordering::SeqCst);
        for w in self.workers {
            w.await.expect("a load worker panicked");
        }
        Arc::try_unwrap(self.shared)
            .ok()
            .expect("the workers are done")
            .attempts
            .into_inner()
            .unwrap_or_else(|e| e.into_inner())
    }
}

/// The UUIDs answered 200, once each.
pub fn answered_200(attempts: &[Attempt]) -> Vec<String> {
    let mut uuids: Vec<String> = attempts
        .iter()
        .filter(|a| a.status == Some(200))
        .map(|a| a.uuid.clone())
        .collect();
    uuids.sort();
    uuids.dedup();
    uuids
}

/// How many attempts got each answer, for failure messages.
pub fn summary(attempts: &[Attempt]) -> String {
    let mut counts = std::collections::BTreeMap::new();
    for a in attempts {
        let key = a.status.map_or("no answer".to_owned(), |s| s.to_string());
        *counts.entry(key).or_insert(0) += 1;
    }
    format!("{counts:?}")
}

async fn work(shared: Arc<Shared>, client: reqwest::Client) {
    while !shared.stop.load(Ordering::SeqCst) {
        let next = shared
            .queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop_front();
        let Some((uuid, body)) = next else {
            return;
        };
        let first = shared.next_target.fetch_add(1, Ordering::Relaxed);
        let mut status = None;
        for i in 0..shared.targets.len() {
            let target = (first + i) % shared.targets.len();
            let sent = Instant::now();
            let answer = client
                .post(&shared.targets[target])
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await;
            // The body is read to the end, as Apple does, before the answer counts.
            status = match answer {
                Ok(r) => {
                    let s = r.status().as_u16();
                    r.bytes().await.ok().map(|_| s)
                }
                Err(_) => None,
            };
            shared
                .attempts
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(Attempt {
                    uuid: uuid.clone(),
                    status,
                    target,
                    sent,
                    took: sent.elapsed(),
                });
            // Only a refused or broken connection goes to the next instance; an answer is an answer.
            if status.is_some() {
                break;
            }
        }
        if status != Some(200) {
            shared
                .queue
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push_back((uuid, body));
            tokio::time::sleep(RETRY_PAUSE).await;
        }
    }
}
