//! Wall-clock time in UNIX milliseconds, the one unit used in the database and by Apple. How a time is shown
//! is `crate::present::time`'s business.
use std::time::{SystemTime, UNIX_EPOCH};

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Midnight UTC of a `YYYY-MM-DD` day (surrounding spaces ignored), in ms; forms and filters take days so.
pub fn parse_day(s: &str) -> Option<i64> {
    chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|dt| dt.and_utc().timestamp_millis())
}

/// A filter's day that may be left empty: empty is `Ok(None)`, a day is its midnight, anything else is refused.
pub fn optional_day(s: &str) -> Result<Option<i64>, NotADay> {
    if s.trim().is_empty() {
        return Ok(None);
    }
    parse_day(s).map(Some).ok_or(NotADay)
}

/// Text that is not a `YYYY-MM-DD` day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotADay;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_read_as_their_midnight_in_utc() {
        assert_eq!(parse_day("1970-01-02"), Some(86_400_000));
        assert_eq!(parse_day(" 1970-01-01 "), Some(0));
        assert_eq!(parse_day("1970-13-01"), None);
        assert_eq!(parse_day("01/02/1970"), None);
        assert_eq!(optional_day("  "), Ok(None));
        assert_eq!(optional_day("1970-01-02"), Ok(Some(86_400_000)));
        assert_eq!(optional_day("yesterday"), Err(NotADay));
    }
}
