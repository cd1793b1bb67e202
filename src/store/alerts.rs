//! Alerts in the database: `alert_channels` (where a project's alerts go, `channels.rs`) and `alert_deliveries`
//! (one row per event and channel, the claim that makes each alert go out once, `deliveries.rs`).
pub mod channels;
pub mod deliveries;

pub use channels::{
    AlertEvents, ChannelKind, ChannelRow, NewChannel, SealFor, SealedUrlRow, ALREADY_THERE_EMAIL,
    ALREADY_THERE_WEBHOOK, MAX_CHANNELS, TOO_MANY,
};
pub use deliveries::{DeliveryRow, DeliveryStatus, NewAlert};
