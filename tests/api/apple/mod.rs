//! `/apple/…`: what Apple calls.
mod notification_writer;
pub mod notifications;
mod online_checks;
