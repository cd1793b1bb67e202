//! Alerts for what must not wait: a consumption request open (and a reminder before its deadline), a key Apple
//! refuses or that is failing, notifications that never arrived (the gap check). Each project chooses where they
//! go (e-mail recipients, Slack-compatible incoming webhooks) and which events each gets; a background job finds
//! the events, claims one alert per event and channel in the database, and delivers it, retrying with backoff.
pub mod events;
pub mod job;
pub mod key_health;
pub mod send;
pub mod target;

pub use job::{run_once, spawn_schedule, AlertRun, Run, LEASE_NAME};
pub use key_health::{key_health, KeyHealth, KeyHealthState};
