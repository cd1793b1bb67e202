//! Forwarding's settings: whether this instance runs the delivery workers and how often an idle one looks for
//! work (`STOREDESK_FORWARD_INTERVAL`), how many requests one destination gets at once from this instance
//! (`STOREDESK_FORWARD_CONCURRENCY`), and how long one attempt may take (`STOREDESK_FORWARD_TIMEOUT`).
use std::time::Duration;

use super::ConfigError;

#[derive(Clone, Debug)]
pub struct ForwardSettings {
    /// How often an idle worker looks for due deliveries; `None`: this instance delivers nothing (the tests drive
    /// `forwarding::run_once` themselves; another instance may do the work).
    pub interval: Option<Duration>,
    /// Requests in flight to one destination from this instance.
    pub concurrency: usize,
    /// One attempt, from connecting to the last byte of the answer.
    pub timeout: Duration,
}

impl Default for ForwardSettings {
    fn default() -> Self {
        Self {
            interval: Some(Duration::from_millis(250)),
            concurrency: 8,
            timeout: Duration::from_secs(15),
        }
    }
}

impl ForwardSettings {
    /// Connecting gets at most 5 seconds of the attempt's time.
    pub fn connect_timeout(&self) -> Duration {
        self.timeout.min(Duration::from_secs(5))
    }
}

/// Reads the three variables; an empty or absent one keeps its default.
pub fn forward_settings(
    interval: Option<&str>,
    concurrency: Option<&str>,
    timeout: Option<&str>,
) -> Result<ForwardSettings, ConfigError> {
    let mut s = ForwardSettings::default();
    if let Some(raw) = interval.filter(|v| !v.trim().is_empty()) {
        s.interval = match raw.trim().to_ascii_lowercase().as_str() {
            "off" => None,
            v => Some(
                parse_duration(v)
                    .filter(|d| *d >= Duration::from_millis(10) && *d <= Duration::from_secs(60))
                    .ok_or_else(|| {
                        ConfigError::new(
                            "STOREDESK_FORWARD_INTERVAL",
                            "a wait between 10ms and 60s (250ms, 1s) or off",
                        )
                    })?,
            ),
        };
    }
    if let Some(raw) = concurrency.filter(|v| !v.trim().is_empty()) {
        s.concurrency = raw
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=256).contains(n))
            .ok_or_else(|| {
                ConfigError::new(
                    "STOREDESK_FORWARD_CONCURRENCY",
                    "a whole number from 1 to 256",
                )
            })?;
    }
    if let Some(raw) = timeout.filter(|v| !v.trim().is_empty()) {
        s.timeout = parse_duration(&raw.trim().to_ascii_lowercase())
            .filter(|d| *d >= Duration::from_millis(100) && *d <= Duration::from_secs(120))
            .ok_or_else(|| {
                ConfigError::new(
                    "STOREDESK_FORWARD_TIMEOUT",
                    "a time between 100ms and 120s, such as 15s",
                )
            })?;
    }
    Ok(s)
}

/// `250ms`, `2s`, `1m`, or a bare number of seconds.
pub(super) fn parse_duration(v: &str) -> Option<Duration> {
    let (digits, unit) = match v.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => v.split_at(i),
        None => (v, "s"),
    };
    let n: u64 = digits.parse().ok()?;
    match unit.trim() {
        "ms" => Some(Duration::from_millis(n)),
        "s" => Some(Duration::from_secs(n)),
        "m" => Some(Duration::from_secs(n.checked_mul(60)?)),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn each_variable_reads_as_people_write_it() {
        let s = forward_settings(Some("1s"), Some("4"), Some("2500ms")).unwrap();
        assert_eq!(s.interval, Some(Duration::from_secs(1)));
        assert_eq!(s.concurrency, 4);
        assert_eq!(s.timeout, Duration::from_millis(2500));
        assert_eq!(s.connect_timeout(), Duration::from_millis(2500));
        assert_eq!(
            forward_settings(Some("off"), None, None).unwrap().interval,
            None
        );
        let d = forward_settings(None, Some(""), None).unwrap();
        assert_eq!((d.concurrency, d.timeout), (8, Duration::from_secs(15)));
        assert_eq!(d.connect_timeout(), Duration::from_secs(5));
    }

    #[test]
    fn wrong_values_name_their_variable() {
        let e = forward_settings(Some("5ms"), None, None).unwrap_err();
        assert_eq!(e.variable, "STOREDESK_FORWARD_INTERVAL");
        let e = forward_settings(None, Some("0"), None).unwrap_err();
        assert_eq!(e.variable, "STOREDESK_FORWARD_CONCURRENCY");
        let e = forward_settings(None, None, Some("1h")).unwrap_err();
        assert_eq!(e.variable, "STOREDESK_FORWARD_TIMEOUT");
    }
}
