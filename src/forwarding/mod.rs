//! Forwarding: Apple's notifications, once verified and stored, sent on to the publisher's own servers — Apple's
//! body byte for byte, signed as Standard Webhooks, retried for 72 hours, never lost. A service beside the support
//! desk and the notification log: it reads and writes through `store` (deliveries are queued in the same
//! transaction that stores a notification) and its workers are started by `startup`.
pub mod deliver;
pub mod health;
pub mod replay;
pub mod secret;
pub mod sign;
pub mod target;
pub mod test_event;
pub mod worker;

pub use worker::{run_once, spawn as spawn_workers, Tick};
