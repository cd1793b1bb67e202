//! The rate-limit budget kept in the database, so every instance sharing it draws from one budget.
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::apple::budget::HOUR_MS;
use crate::apple::{CallBudget, Endpoint, Environment};
use crate::store::Store;

pub struct StoreBudget {
    store: Store,
    /// Replaces Apple's published Production figure per hour (Sandbox still gets a tenth).
    override_per_hour: Option<u64>,
    calls: AtomicU64,
}

impl StoreBudget {
    pub fn new(store: Store, override_per_hour: Option<u64>) -> Self {
        StoreBudget {
            store,
            override_per_hour,
            calls: AtomicU64::new(0),
        }
    }

    pub fn limit(&self, env: Environment, endpoint: Endpoint) -> i64 {
        i64::try_from(endpoint.hourly_budget(env, self.override_per_hour)).unwrap_or(i64::MAX)
    }
}

impl CallBudget for StoreBudget {
    fn take<'a>(
        &'a self,
        app: &'a str,
        env: Environment,
        endpoint: Endpoint,
    ) -> Pin<Box<dyn Future<Output = Result<(), i64>> + Send + 'a>> {
        Box::pin(async move {
            let hour = crate::clock::now_ms().div_euclid(HOUR_MS);
            let limit = self.limit(env, endpoint);
            if self.calls.fetch_add(1, Ordering::Relaxed) % 1000 == 0 {
                if let Err(e) = self.store.prune_call_budget(hour - 24).await {
                    tracing::warn!(error = %e, "could not prune the Apple call budget");
                }
            }
            match self
                .store
                .take_call_budget(app, env.as_str(), endpoint.as_str(), hour, limit)
                .await
            {
                Ok(true) => Ok(()),
                Ok(false) => {
                    tracing::warn!(%env, endpoint = endpoint.as_str(), app, "Apple call held back: hourly budget spent");
                    Err((hour + 1) * HOUR_MS)
                }
                // The budget guards Apple's limit; a database fault here must not also stop support work.
                Err(e) => {
                    tracing::warn!(error = %e, "Apple call budget unavailable; the call goes ahead");
                    Ok(())
                }
            }
        })
    }
}
