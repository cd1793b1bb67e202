//! Spans of time: what is left until a deadline, and Apple's ISO 8601 periods (an offer's `P1M`).

/// "5 h 12 min left", "40 min left", "overdue by 3 h", "overdue by 2 days".
pub fn time_left(deadline_ms: i64, now_ms: i64) -> String {
    let left = deadline_ms.saturating_sub(now_ms);
    if left > 0 {
        format!("{} left", span(left))
    } else {
        format!("overdue by {}", span(left))
    }
}

/// "due in 5 h 12 min", "due in 40 min", "overdue by 3 h": a deadline where a sentence names what is due.
pub fn due_in(deadline_ms: i64, now_ms: i64) -> String {
    let left = deadline_ms.saturating_sub(now_ms);
    if left > 0 {
        format!("due in {}", span(left))
    } else {
        format!("overdue by {}", span(left))
    }
}

/// A length of time (its sign ignored) as a person deciding what to do first reads it: "2 days", "5 h 12 min",
/// "11 h", "40 min"; never less than "1 min".
pub fn span(ms: i64) -> String {
    let minutes = ms.unsigned_abs() / 60_000;
    if minutes >= 48 * 60 {
        format!("{} days", minutes / (24 * 60))
    } else if minutes >= 60 {
        let (h, m) = (minutes / 60, minutes % 60);
        // Past ten hours the minutes are noise for someone deciding what to answer first.
        if m == 0 || h >= 10 {
            format!("{h} h")
        } else {
            format!("{h} h {m} min")
        }
    } else {
        format!("{} min", minutes.max(1))
    }
}

/// `P1M` → `1 month`, `P2W` → `2 weeks`, `P1Y6M` → `1 year 6 months`. Anything else (a time part, a value
/// storedesk can't read) is shown as Apple sent it.
pub fn iso_duration(raw: &str) -> String {
    let Some(rest) = raw.strip_prefix('P') else {
        return raw.to_owned();
    };
    let mut parts = Vec::new();
    let mut number = String::new();
    for c in rest.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            'Y' => "year",
            'M' => "month",
            'W' => "week",
            'D' => "day",
            _ => return raw.to_owned(),
        };
        let Ok(n) = number.parse::<u64>() else {
            return raw.to_owned();
        };
        parts.push(format!("{n} {unit}{}", if n == 1 { "" } else { "s" }));
        number.clear();
    }
    if parts.is_empty() || !number.is_empty() {
        return raw.to_owned();
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_left_reads_naturally() {
        let h = 3_600_000;
        assert_eq!(time_left(5 * h + 12 * 60_000, 0), "5 h 12 min left");
        assert_eq!(time_left(40 * 60_000, 0), "40 min left");
        assert_eq!(time_left(10_000, 0), "1 min left");
        assert_eq!(time_left(0, 3 * h), "overdue by 3 h");
        assert_eq!(time_left(0, 60 * h), "overdue by 2 days");
        assert_eq!(time_left(0, 0), "overdue by 1 min");
        assert_eq!(time_left(11 * h + 59 * 60_000, 0), "11 h left");
        assert!(time_left(i64::MIN, i64::MAX).starts_with("overdue by "));
    }

    #[test]
    fn due_in_names_the_deadline() {
        let h = 3_600_000;
        assert_eq!(due_in(5 * h + 12 * 60_000, 0), "due in 5 h 12 min");
        assert_eq!(due_in(0, 3 * h), "overdue by 3 h");
        assert_eq!(span(-2 * h), "2 h");
    }

    #[test]
    fn iso_durations_read_naturally() {
        assert_eq!(iso_duration("P1M"), "1 month");
        assert_eq!(iso_duration("P2W"), "2 weeks");
        assert_eq!(iso_duration("P1Y6M"), "1 year 6 months");
        assert_eq!(iso_duration("P3D"), "3 days");
        assert_eq!(iso_duration("PT5M"), "PT5M");
        assert_eq!(iso_duration("P"), "P");
        assert_eq!(iso_duration("P1"), "P1");
        assert_eq!(
            iso_duration("P99999999999999999999D"),
            "P99999999999999999999D"
        );
        assert_eq!(iso_duration("bogus"), "bogus");
    }
}
