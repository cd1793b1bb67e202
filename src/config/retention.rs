//! How long storedesk keeps what piles up (`STOREDESK_KEEP_NOTIFICATIONS_DAYS`, `STOREDESK_KEEP_DELIVERIES_DAYS`):
//! forever unless told. The audit log has no such setting: it is never pruned.
use std::time::Duration;

use super::ConfigError;

const DAY: Duration = Duration::from_secs(24 * 3600);

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Retention {
    /// Notifications received longer ago than this are removed (with their consumption answers), unless a
    /// forwarding delivery of theirs is still pending. `None`: kept forever.
    pub notifications: Option<Duration>,
    /// Forwarding deliveries that ended (delivered or dead) longer ago than this are removed. `None`: forever.
    pub deliveries: Option<Duration>,
}

/// Reads a number of days (at least 1); empty or `forever` keeps everything.
pub fn parse_days(
    variable: &'static str,
    raw: Option<&str>,
) -> Result<Option<Duration>, ConfigError> {
    let raw = raw.map(str::trim).unwrap_or("");
    if raw.is_empty() || raw.eq_ignore_ascii_case("forever") {
        return Ok(None);
    }
    raw.parse::<u32>()
        .ok()
        .filter(|d| *d >= 1)
        .map(|d| Some(DAY * d))
        .ok_or_else(|| {
            ConfigError::new(variable, "a whole number of days (at least 1), or forever")
        })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn days_or_forever() {
        let v = "STOREDESK_KEEP_NOTIFICATIONS_DAYS";
        assert_eq!(parse_days(v, None).unwrap(), None);
        assert_eq!(parse_days(v, Some("forever")).unwrap(), None);
        assert_eq!(parse_days(v, Some(" 90 ")).unwrap(), Some(DAY * 90));
        for bad in ["0", "-3", "1.5", "90d"] {
            assert_eq!(
                parse_days(v, Some(bad)).unwrap_err().to_string(),
                "STOREDESK_KEEP_NOTIFICATIONS_DAYS is set but wrong: it should be a whole number of days (at least 1), or forever."
            );
        }
    }
}
