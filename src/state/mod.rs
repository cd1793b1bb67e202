//! What every request handler and background job shares: the store, the settings, the Apple client and verifier,
//! and the threads that verify Apple's signed data. It sits below the services and the routes so that they can
//! all take it without importing the file that builds the server (`startup`).
use std::sync::Arc;

use crate::apple::connect::ConnectClient;
use crate::apple::{AppleClient, SignedDataVerifier};
use crate::config::Settings;
use crate::cpu_pool::CpuPool;
use crate::metrics::Metrics;
use crate::store::Store;

pub mod database;
pub mod intake;

pub use database::DatabaseWatch;
pub use intake::Intake;

/// Shared by every request handler through `web::Data`.
pub struct AppState {
    pub store: Store,
    pub settings: Settings,
    pub metrics: Arc<Metrics>,
    pub apple: AppleClient,
    /// The App Store Connect API (Step 1's key, the catalog).
    pub connect: ConnectClient,
    /// Shared with the threads that verify a page's transactions while its other Apple calls are in flight.
    pub verifier: Arc<SignedDataVerifier>,
    /// Whether the database answers; requests fail fast with a 503 while it does not.
    pub database: DatabaseWatch,
    /// The notification webhook's verification threads and group-commit writer.
    pub intake: Intake,
    /// Threads that verify a lookup page's transactions while the page goes on (its Apple calls, its words).
    pub page_pool: CpuPool,
}
