//! Wall-clock time in UNIX milliseconds, the one unit used in the database and by Apple.
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

/// "3 days ago" / "in 2 hours": pages show UTC and the relative time side by side.
pub fn relative(at_ms: i64, now_ms: i64) -> String {
    let delta = (now_ms - at_ms) / 1000;
    let (abs, future) = if delta < 0 {
        (-delta, true)
    } else {
        (delta, false)
    };
    let (n, unit) = if abs < 45 {
        return if future {
            "in a few seconds".into()
        } else {
            "just now".into()
        };
    } else if abs < 3600 {
        ((abs + 30) / 60, "minute")
    } else if abs < 86_400 {
        ((abs + 1800) / 3600, "hour")
    } else if abs < 86_400 * 60 {
        ((abs + 43_200) / 86_400, "day")
    } else if abs < 86_400 * 730 {
        ((abs + 86_400 * 15) / (86_400 * 30), "month")
    } else {
        (abs / (86_400 * 365), "year")
    };
    let plural = if n == 1 { "" } else { "s" };
    if future {
        format!("in {n} {unit}{plural}")
    } else {
        format!("{n} {unit}{plural} ago")
    }
}

/// `2026-11-26 14:03 UTC`
pub fn utc(at_ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(at_ms)
        .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| "unknown date".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_time_reads_like_a_person_would_say_it() {
        let now = 1_800_000_000_000;
        assert_eq!(relative(now - 10_000, now), "just now");
        assert_eq!(relative(now - 3 * 86_400_000, now), "3 days ago");
        assert_eq!(relative(now - 3_600_000, now), "1 hour ago");
        assert_eq!(relative(now + 2 * 3_600_000, now), "in 2 hours");
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
    }

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
