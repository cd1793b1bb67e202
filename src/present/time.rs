//! Moments. Pages show UTC to the minute beside the relative time (`2026-11-26 14:03 UTC (3 days ago)`);
//! CSV and machines get ISO 8601 with seconds. Times are UNIX milliseconds, as in the database and
//! in Apple's payloads.
use serde::Serialize;

/// A moment as pages show it, for views that place the two parts apart.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct When {
    pub ms: i64,
    pub utc: String,
    pub relative: String,
}

impl When {
    pub fn at(ms: i64, now_ms: i64) -> Self {
        When {
            ms,
            utc: utc(ms),
            relative: relative(ms, now_ms),
        }
    }

    /// ISO 8601 in UTC with seconds, for CSV and machines.
    pub fn iso(&self) -> String {
        iso(self.ms)
    }
}

/// `2026-11-26 14:03 UTC`. A time chrono can't represent (Apple controls the number) reads "unknown date".
pub fn utc(at_ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(at_ms)
        .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| "unknown date".into())
}

/// "3 days ago" / "in 2 hours".
pub fn relative(at_ms: i64, now_ms: i64) -> String {
    // Saturating: the moment may come from Apple and be anything an i64 holds.
    let delta = now_ms.saturating_sub(at_ms) / 1000;
    let future = delta < 0;
    let abs = delta.unsigned_abs();
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

/// `2026-11-26 14:03 UTC (3 days ago)`: the two side by side, as one text.
pub fn utc_and_relative(at_ms: i64, now_ms: i64) -> String {
    format!("{} ({})", utc(at_ms), relative(at_ms, now_ms))
}

/// `2026-11-26T14:03:09Z`; empty for a time chrono can't represent.
pub fn iso(at_ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(at_ms)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// `2026-11-26`, the UTC day, as date inputs and day ranges show it; empty for a time chrono can't represent.
pub fn day(at_ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(at_ms)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000;

    #[test]
    fn relative_time_reads_like_a_person_would_say_it() {
        assert_eq!(relative(NOW - 10_000, NOW), "just now");
        assert_eq!(relative(NOW + 10_000, NOW), "in a few seconds");
        assert_eq!(relative(NOW - 60_000, NOW), "1 minute ago");
        assert_eq!(relative(NOW - 3_600_000, NOW), "1 hour ago");
        assert_eq!(relative(NOW + 2 * 3_600_000, NOW), "in 2 hours");
        assert_eq!(relative(NOW - 3 * 86_400_000, NOW), "3 days ago");
        assert_eq!(relative(NOW - 90 * 86_400_000, NOW), "3 months ago");
        assert_eq!(relative(NOW - 3 * 365 * 86_400_000, NOW), "3 years ago");
    }

    #[test]
    fn extreme_moments_do_not_overflow() {
        assert!(relative(i64::MIN, NOW).ends_with("years ago"));
        assert!(relative(i64::MAX, NOW).starts_with("in "));
        assert_eq!(utc(i64::MAX), "unknown date");
        assert_eq!(iso(i64::MAX), "");
        assert_eq!(day(i64::MAX), "");
    }

    #[test]
    fn utc_iso_and_day() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(iso(1_764_165_789_000), "2025-11-26T14:03:09Z");
        assert_eq!(day(1_764_165_789_000), "2025-11-26");
        assert_eq!(
            utc_and_relative(NOW - 3 * 86_400_000, NOW),
            "2027-01-12 08:00 UTC (3 days ago)"
        );
        let w = When::at(NOW - 3 * 86_400_000, NOW);
        assert_eq!(w.utc, "2027-01-12 08:00 UTC");
        assert_eq!(w.relative, "3 days ago");
        assert_eq!(w.iso(), "2027-01-12T08:00:00Z");
    }
}
