//! App Store Server Notifications V2: what arrives (webhook), what is fetched (backfill) and what the gap job
//! recovers all go through `ingest`, so every stored notification was verified the same way.
pub mod cpu_pool;
pub mod ingest;
pub mod load_fixture;
pub mod test_notification;
pub mod webhook;
pub mod writer;

pub use ingest::{ingest, prepare, verify_notification, IngestError, Source, VerifiedNotification};
