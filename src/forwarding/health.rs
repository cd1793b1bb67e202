//! A destination's health, read from what the delivery workers record on its row (failures in a row, the last
//! success and failure), in one place for the forwarding pages and Step 4's banner.
use crate::store::forwarding::DestinationRow;

/// A destination is *failing* after this many failed attempts in a row (a success resets the count). One or two
/// failures are a receiver's restart or a deploy; three in a row, retried with backoff, are minutes of trouble.
pub const FAILING_AFTER: i64 = 3;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    Paused,
    Failing { in_a_row: i64 },
    NoDeliveryYet,
    Healthy,
}

impl Health {
    pub fn of(d: &DestinationRow) -> Health {
        if !d.settings.enabled {
            Health::Paused
        } else if d.consecutive_failures >= FAILING_AFTER {
            Health::Failing {
                in_a_row: d.consecutive_failures,
            }
        } else if d.last_success_at.is_none() && d.last_failure_at.is_none() {
            Health::NoDeliveryYet
        } else {
            Health::Healthy
        }
    }

    /// The badge's word.
    pub fn word(self) -> &'static str {
        match self {
            Health::Paused => "paused",
            Health::Failing { .. } => "failing",
            Health::NoDeliveryYet => "no delivery yet",
            Health::Healthy => "healthy",
        }
    }

    /// The badge's class.
    pub fn badge(self) -> &'static str {
        match self {
            Health::Paused => "badge-neutral",
            Health::Failing { .. } => "badge-bad",
            Health::NoDeliveryYet => "badge-neutral",
            Health::Healthy => "badge-good",
        }
    }

    /// One sentence for the page.
    pub fn sentence(self) -> String {
        match self {
            Health::Paused => "Paused: notifications are recorded for it and wait; resuming delivers them.".into(),
            Health::Failing { in_a_row } => format!(
                "Failing: the last {in_a_row} attempts failed in a row. Deliveries are retried with backoff for 72 hours."
            ),
            Health::NoDeliveryYet => "Nothing has been delivered to it yet.".into(),
            Health::Healthy => "Healthy: its last attempt succeeded or it recovers from a short failure.".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::forwarding::DestinationSettings;

    fn row(enabled: bool, failures: i64, success: Option<i64>) -> DestinationRow {
        DestinationRow {
            id: 1,
            project_id: 1,
            settings: DestinationSettings {
                name: "b".into(),
                url: "https://example.com/".into(),
                production: true,
                sandbox: true,
                types: vec![],
                enabled,
            },
            sealed_secret: vec![],
            master_key_id: String::new(),
            sealed_previous: None,
            previous_master_key_id: None,
            previous_until: None,
            created_by: String::new(),
            created_at: 0,
            updated_at: 0,
            consecutive_failures: failures,
            last_success_at: success,
            last_failure_at: (failures > 0).then_some(5),
            last_failure: None,
        }
    }

    #[test]
    fn health_follows_the_row() {
        assert_eq!(Health::of(&row(false, 9, None)), Health::Paused);
        assert_eq!(
            Health::of(&row(true, 3, Some(1))),
            Health::Failing { in_a_row: 3 }
        );
        assert_eq!(Health::of(&row(true, 2, Some(1))), Health::Healthy);
        assert_eq!(Health::of(&row(true, 0, None)), Health::NoDeliveryYet);
        assert_eq!(Health::of(&row(true, 0, Some(1))), Health::Healthy);
    }
}
