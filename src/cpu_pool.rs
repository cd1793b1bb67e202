//! A few threads for CPU-bound work (JWS verification), fed through a bounded queue.
//!
//! Verifying one notification costs about a millisecond of CPU (three ES256 checks plus decoding). Done on an
//! actix worker it would stall every other request of that worker meanwhile; on tokio's blocking pool it would
//! grow hundreds of threads under load. Here at most `threads` verifications run at once, the async workers stay
//! free to answer pages, and a full queue is an immediate "busy" instead of an ever longer wait.
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

type Job = Box<dyn FnOnce() + Send + 'static>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    /// Every thread is busy and the queue is full: the caller should ask to be called again later.
    #[error("the verification queue is full")]
    Busy,
    /// The job panicked or the pool is shutting down: the work could not be done.
    #[error("the verification step could not run")]
    Failed,
}

pub struct CpuPool {
    queue: SyncSender<Job>,
    threads: usize,
}

impl std::fmt::Debug for CpuPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CpuPool")
            .field("threads", &self.threads)
            .finish()
    }
}

impl CpuPool {
    /// `threads` workers (at least one) and room for `queue` waiting jobs. The threads end when the pool is dropped.
    pub fn new(name: &str, threads: usize, queue: usize) -> std::io::Result<Self> {
        let threads = threads.max(1);
        let (sender, receiver) = sync_channel::<Job>(queue.max(1));
        let receiver = Arc::new(Mutex::new(receiver));
        for i in 0..threads {
            let receiver = receiver.clone();
            std::thread::Builder::new()
                .name(format!("{name}-{i}"))
                .spawn(move || work(&receiver))?;
        }
        Ok(CpuPool {
            queue: sender,
            threads,
        })
    }

    /// One thread per core: the work is pure CPU, more threads would only take turns.
    pub fn per_core(name: &str, queue: usize) -> std::io::Result<Self> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::new(name, cores, queue)
    }

    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Runs `f` on a pool thread and waits for its result without blocking the caller's thread.
    pub async fn run<T, F>(&self, f: F) -> Result<T, PoolError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        self.submit(f)?.result().await
    }

    /// Queues `f` at once, so that it runs while the caller goes on with other work, and says where its result
    /// will arrive.
    pub fn submit<T, F>(&self, f: F) -> Result<Submitted<T>, PoolError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move || {
            // A panic must not take the thread down with it; the caller hears about it as a failure.
            let result = catch_unwind(AssertUnwindSafe(f));
            let _ = reply.send(result);
        });
        self.queue.try_send(job).map_err(|e| match e {
            TrySendError::Full(_) => PoolError::Busy,
            TrySendError::Disconnected(_) => PoolError::Failed,
        })?;
        Ok(Submitted(answer))
    }
}

/// A job queued with [`CpuPool::submit`].
pub struct Submitted<T>(oneshot::Receiver<std::thread::Result<T>>);

impl<T> Submitted<T> {
    pub async fn result(self) -> Result<T, PoolError> {
        match self.0.await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(_)) | Err(_) => Err(PoolError::Failed),
        }
    }
}

fn work(receiver: &Mutex<Receiver<Job>>) {
    loop {
        let job = {
            let guard = receiver.lock().unwrap_or_else(|e| e.into_inner());
            guard.recv()
        };
        match job {
            Ok(job) => job(),
            // The pool was dropped: no more work will come.
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_work_and_returns_its_result() {
        let pool = CpuPool::new("test", 2, 8).unwrap();
        assert_eq!(pool.run(|| 6 * 7).await, Ok(42));
    }

    #[tokio::test]
    async fn a_panicking_job_is_a_failure_and_the_pool_keeps_working() {
        let pool = CpuPool::new("test", 1, 8).unwrap();
        let r: Result<(), _> = pool.run(|| panic!("boom")).await;
        assert_eq!(r, Err(PoolError::Failed));
        assert_eq!(pool.run(|| 1).await, Ok(1));
    }

    #[tokio::test]
    async fn a_full_queue_answers_busy_at_once() {
        let pool = Arc::new(CpuPool::new("test", 1, 1).unwrap());
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let (started, is_started) = oneshot::channel::<()>();
        // Occupy the only thread until released.
        let p = pool.clone();
        let blocker = tokio::spawn(async move {
            p.run(move || {
                let _ = started.send(());
                let _ = wait.recv();
            })
            .await
        });
        is_started.await.unwrap();
        // One job fits in the queue (polling it once puts it there); the next one does not.
        let queued = pool.run(|| 2);
        tokio::pin!(queued);
        tokio::select! {
            biased;
            _ = &mut queued => panic!("the queued job ran while the only thread was busy"),
            _ = async {} => {}
        }
        assert_eq!(pool.run(|| 3).await, Err(PoolError::Busy));
        release.send(()).unwrap();
        assert_eq!(blocker.await.unwrap(), Ok(()));
        assert_eq!(queued.await, Ok(2));
    }
}
