//! App Store Connect's rate limit: a budget of requests per API key over a rolling hour (3600 by default).

use std::collections::{HashMap, VecDeque};

use super::errors::RateHeader;

const HOUR_MS: i64 = 3_600_000;
pub(crate) const APPLE_HOURLY_LIMIT: u64 = 3600;

#[derive(Default)]
pub(crate) struct KeyRateLimiter {
    per_hour: Option<u64>,
    /// When each counted call of a key arrived, oldest first; calls older than an hour fall off the front.
    calls: HashMap<String, VecDeque<i64>>,
}

impl KeyRateLimiter {
    pub(crate) fn set_limit(&mut self, per_hour: Option<u64>) {
        self.per_hour = per_hour;
    }

    /// Counts one call of `key_id`: `Ok` with what remains, or `Err` (remaining 0) when the hour's budget is
    /// spent, in which case the refused call is not counted.
    pub(crate) fn check(&mut self, key_id: &str, now_ms: i64) -> Result<RateHeader, RateHeader> {
        let limit = self.per_hour.unwrap_or(APPLE_HOURLY_LIMIT);
        let calls = self.calls.entry(key_id.to_owned()).or_default();
        while calls.front().is_some_and(|t| now_ms - t >= HOUR_MS) {
            calls.pop_front();
        }
        let used = u64::try_from(calls.len()).unwrap_or(u64::MAX);
        if used >= limit {
            return Err(RateHeader {
                limit,
                remaining: 0,
            });
        }
        calls.push_back(now_ms);
        Ok(RateHeader {
            limit,
            remaining: limit - used - 1,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn each_key_has_its_own_rolling_hour() {
        let mut rl = KeyRateLimiter::default();
        rl.set_limit(Some(2));
        assert_eq!(rl.check("A", 0).unwrap().remaining, 1);
        assert_eq!(rl.check("A", 1_000).unwrap().remaining, 0);
        assert_eq!(rl.check("A", 2_000).unwrap_err().remaining, 0);
        assert_eq!(rl.check("B", 2_000).unwrap().remaining, 1);
        // The first call leaves the window an hour after it was made, the second a second later.
        assert_eq!(rl.check("A", HOUR_MS).unwrap().remaining, 0);
        assert!(rl.check("A", HOUR_MS + 500).is_err());
        assert!(rl.check("A", HOUR_MS + 1_000).is_ok());
    }

    #[test]
    fn apple_allows_3600_an_hour() {
        let mut rl = KeyRateLimiter::default();
        let header = rl.check("A", 0).unwrap();
        assert_eq!(header.value(), "user-hour-lim:3600;user-hour-rem:3599;");
    }
}
