//! App Store Server Notifications V2: what arrives (webhook), what is fetched (backfill) and what the gap job
//! recovers all go through `ingest`, so every stored notification was verified the same way.
pub mod ingest;
pub mod test_notification;

// The log's pages and background work (issue 6).
pub mod auto_consumption;
pub mod backfill;
pub mod chart;
pub mod consumption;
pub mod decoded;
pub mod gap;
pub mod history;
pub mod words;

pub use ingest::{ingest, prepare, verify_notification, IngestError, Source, VerifiedNotification};
