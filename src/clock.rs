//! Wall-clock time in UNIX milliseconds, the one unit used in the database and by Apple. How a time is shown
//! is `crate::present::time`'s business.
use std::time::{SystemTime, UNIX_EPOCH};

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
