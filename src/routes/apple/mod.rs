//! `/apple/…`: what Apple calls.
pub mod notifications;
