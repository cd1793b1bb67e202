//! Counters for `/metrics` in the Prometheus text format. Per-process by nature: Prometheus scrapes each instance.
use std::collections::BTreeMap;
use std::sync::Mutex;

#[derive(Default, Debug)]
pub struct Metrics {
    counters: Mutex<BTreeMap<(&'static str, String), u64>>,
    gauges: Mutex<BTreeMap<&'static str, i64>>,
}

const HELP: &[(&str, &str)] = &[
    (
        "storedesk_http_responses_total",
        "HTTP responses by status class.",
    ),
    ("storedesk_login_failures_total", "Failed sign-in attempts."),
    (
        "storedesk_apple_calls_total",
        "Calls to the App Store Server API by outcome.",
    ),
    (
        "storedesk_notifications_total",
        "App Store Server Notifications received by outcome.",
    ),
    (
        "storedesk_apple_online_checks_total",
        "Online (OCSP) checks of live notifications' certificates by outcome.",
    ),
    (
        "storedesk_api_auth_failures_total",
        "JSON API requests refused for their token, by reason.",
    ),
    (
        "storedesk_backfills_total",
        "Notification backfills finished, by outcome.",
    ),
    (
        "storedesk_gap_checks_total",
        "Runs of the notification gap check on this instance.",
    ),
    (
        "storedesk_consumption_answers_total",
        "Consumption information sent to Apple, by Apple's verdict (unanswered: no answer in time).",
    ),
    (
        "storedesk_catalog_syncs_total",
        "Catalog syncs with App Store Connect by outcome (complete, failed, rate_limited).",
    ),
    (
        "storedesk_consumption_policy_total",
        "What the automatic consumption policy did with a request (sent, dry_run, skipped without consent, failed).",
    ),
    (
        "storedesk_forward_deliveries_total",
        "Forwarding's delivery attempts on this instance, by outcome (delivered, failed and retried, dead).",
    ),
];

/// Values read now and then rather than counted (forwarding's queue, read from the database every few seconds).
const GAUGES: &[(&str, &str)] = &[
    (
        "storedesk_database_available",
        "1 while this instance's database answers its probe (every second, 2 s timeout), 0 while it does not.",
    ),
    (
        "storedesk_forward_queue_depth",
        "Forwarding deliveries waiting (pending, paused destinations' included), over every instance.",
    ),
    (
        "storedesk_forward_oldest_undelivered_seconds",
        "Age of the oldest pending forwarding delivery, in seconds (0 when none waits).",
    ),
];

impl Metrics {
    /// `labels` is the inside of `{...}`, e.g. `class="2xx"`.
    pub fn inc(&self, name: &'static str, labels: &str) {
        let mut map = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        *map.entry((name, labels.to_string())).or_insert(0) += 1;
    }

    pub fn set_gauge(&self, name: &'static str, value: i64) {
        let mut map = self.gauges.lock().unwrap_or_else(|e| e.into_inner());
        map.insert(name, value);
    }

    pub fn render(&self) -> String {
        let map = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = String::new();
        for (name, help) in HELP {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} counter\n"));
            let mut any = false;
            for ((n, labels), value) in map.iter() {
                if n == name {
                    any = true;
                    if labels.is_empty() {
                        out.push_str(&format!("{n} {value}\n"));
                    } else {
                        out.push_str(&format!("{n}{{{labels}}} {value}\n"));
                    }
                }
            }
            if !any && !name.contains("http") {
                out.push_str(&format!("{name} 0\n"));
            }
        }
        drop(map);
        let gauges = self.gauges.lock().unwrap_or_else(|e| e.into_inner());
        for (name, help) in GAUGES {
            let value = gauges.get(name).copied().unwrap_or(0);
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n"
            ));
        }
        out
    }
}
