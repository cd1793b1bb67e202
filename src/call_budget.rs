//! The rate-limit budget kept in the database, so every instance sharing it draws from one budget.
//!
//! An instance takes units in blocks (at most 1 % of the hour's budget, at most 100 calls) and spends them from
//! memory, so a support page's three Apple calls cost no database write each; the last blocks of an hour are
//! taken one unit at a time. What an instance reserved but did not spend is lost for that hour: about a block
//! per endpoint and instance (more only if calls raced for an empty reservation), well inside the 10 % margin the
//! budget keeps below Apple's quota.
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::apple::budget::HOUR_MS;
use crate::apple::{CallBudget, Endpoint, Environment};
use crate::store::Store;

/// At most this many units are reserved at once.
const MAX_BLOCK: i64 = 100;

/// Units this instance has reserved and not yet spent, per app, environment, endpoint and hour.
type Reserved = HashMap<(String, Environment, &'static str, i64), i64>;

pub struct StoreBudget {
    store: Store,
    /// Replaces Apple's published Production figure per hour (Sandbox still gets a tenth).
    override_per_hour: Option<u64>,
    calls: AtomicU64,
    reserved: Mutex<Reserved>,
}

/// Units reserved at once for an hourly budget of `limit`.
fn block_size(limit: i64) -> i64 {
    (limit / 100).clamp(1, MAX_BLOCK)
}

impl StoreBudget {
    pub fn new(store: Store, override_per_hour: Option<u64>) -> Self {
        StoreBudget {
            store,
            override_per_hour,
            calls: AtomicU64::new(0),
            reserved: Mutex::new(HashMap::new()),
        }
    }

    pub fn limit(&self, env: Environment, endpoint: Endpoint) -> i64 {
        i64::try_from(endpoint.hourly_budget(env, self.override_per_hour)).unwrap_or(i64::MAX)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Reserved> {
        self.reserved.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Spends a unit reserved earlier this hour, if one is left.
    fn spend_reserved(&self, app: &str, env: Environment, endpoint: Endpoint, hour: i64) -> bool {
        let mut reserved = self.lock();
        reserved.retain(|k, left| k.3 == hour && *left > 0);
        match reserved.get_mut(&(app.to_owned(), env, endpoint.as_str(), hour)) {
            Some(left) => {
                *left -= 1;
                true
            }
            None => false,
        }
    }

    fn keep_reserved(&self, app: &str, env: Environment, endpoint: Endpoint, hour: i64, n: i64) {
        if n > 0 {
            *self
                .lock()
                .entry((app.to_owned(), env, endpoint.as_str(), hour))
                .or_insert(0) += n;
        }
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
            if self.spend_reserved(app, env, endpoint, hour) {
                return Ok(());
            }
            let block = block_size(limit);
            let (env_name, endpoint_name) = (env.as_str(), endpoint.as_str());
            let taken = match self
                .store
                .take_call_budget_block(app, env_name, endpoint_name, hour, limit, block)
                .await
            {
                Ok(true) => {
                    // One unit for this call, the rest for the calls that follow.
                    self.keep_reserved(app, env, endpoint, hour, block - 1);
                    Ok(true)
                }
                Ok(false) if block > 1 => {
                    self.store
                        .take_call_budget(app, env_name, endpoint_name, hour, limit)
                        .await
                }
                other => other,
            };
            match taken {
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
