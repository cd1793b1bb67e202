//! Wall-clock time in UNIX milliseconds, the one unit used in the database and by Apple.
use std::time::{SystemTime, UNIX_EPOCH};

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

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
}
