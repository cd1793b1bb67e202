//! How storedesk shows values to people: Apple's prices, moments and spans of time, statuses and Apple's
//! enumerations in words. Each rule is written once here so that every page, the CSV and the JSON API say the
//! same thing about the same value.
//!
//! Pure functions of their arguments: the caller passes "now", so nothing here reads a clock, a database or
//! the request.
pub mod duration;
pub mod labels;
pub mod money;
pub mod percent;
pub mod status;
pub mod time;

pub use labels::Label;
pub use money::Money;
pub use status::StatusBadge;
pub use time::When;
