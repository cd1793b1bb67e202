//! Forwarding in the database: `forward_destinations` (the publisher's servers that receive Apple's notifications,
//! `destinations.rs`), `forward_deliveries` (one row per notification and destination, written in the same
//! transaction as the notification) and `forward_replays` (a date range sent again to one destination).
pub mod deliveries;
pub mod destinations;
pub mod log;
pub mod replays;

pub use deliveries::{Attempt, Claimed, DeliveryState, Outcome, Outgoing, QueueStats, ROUND_MS};
pub use destinations::{
    DestinationRow, DestinationSettings, SealedSecretRow, SecretSeal, MAX_DESTINATIONS,
    TOO_MANY_DESTINATIONS,
};
pub use log::{DeliveryLogRow, DestinationQueue, LogFilter, StatusFilter, LOG_PAGE};
pub use replays::{Batch, NewReplay, ReplayRow};
