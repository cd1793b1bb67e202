//! What Step 4 of the App Store wizard shows: the notification URL to paste into App Store Connect (with a warning
//! when Apple cannot reach it), when a notification last arrived per environment, and the latest test
//! notifications with the step's state.
use std::net::IpAddr;

use super::StepState;
use crate::apple::Environment;
use crate::error::AppError;
use crate::notifications::test_notification::{self, TestState};
use crate::present::time;
use crate::state::AppState;
use crate::store::Project;

/// The URL to paste into App Store Connect.
pub fn notification_url(state: &AppState, token: &str) -> String {
    crate::urls::apple_notifications(&state.settings.public_url, token)
}

pub struct LastReceived {
    pub environment: &'static str,
    /// `2026-11-26 14:03 UTC (3 days ago)`
    pub when: Option<String>,
}

pub struct TestRow {
    pub href: String,
    pub environment: String,
    pub requested_at: String,
    pub requested_ago: String,
    pub word: &'static str,
    pub badge: &'static str,
}

/// What the wizard shows in Step 4.
pub struct Step4View {
    pub url: String,
    /// Why Apple cannot deliver to `url`, one sentence each; empty when nothing is known to be wrong.
    pub url_problems: Vec<String>,
    pub last: Vec<LastReceived>,
    pub tests: Vec<TestRow>,
    pub has_key: bool,
    pub confirm_error: Option<String>,
}

/// Step 4 proves Production readiness only with a Production notification that arrived; before that it is
/// failing when the latest test was not delivered here, "Sandbox only" when only Sandbox notifications arrived,
/// and waiting while a test is on its way.
fn step_state(production: bool, sandbox: bool, latest: Option<TestState>) -> StepState {
    match (production, latest, sandbox) {
        (true, _, _) => StepState::VERIFIED,
        (false, Some(TestState::Failing | TestState::DeliveredElsewhere), _) => StepState::FAILING,
        (false, _, true) => StepState::SANDBOX_ONLY,
        (false, Some(_), false) => StepState::WAITING,
        (false, None, false) => StepState::NOT_STARTED,
    }
}

/// Step 4's content and its state.
pub async fn step4_view(
    state: &AppState,
    project: &Project,
    has_key: bool,
) -> Result<(Step4View, StepState), AppError> {
    let token = state.store.notification_token(project.id).await?;
    let now = crate::clock::now_ms();
    let mut last = Vec::new();
    let (mut production, mut sandbox) = (false, false);
    for env in [Environment::Production, Environment::Sandbox] {
        let at = state
            .store
            .last_webhook_notification(project.id, env.as_str())
            .await?;
        match env {
            Environment::Production => production = at.is_some(),
            Environment::Sandbox => sandbox = at.is_some(),
        }
        last.push(LastReceived {
            environment: env.as_str(),
            when: at.map(|at| time::utc_and_relative(at, now)),
        });
    }
    let mut tests = Vec::new();
    let mut latest: Option<TestState> = None;
    for row in state.store.recent_test_notifications(project.id, 5).await? {
        let status = test_notification::status(state, project, row, false).await?;
        let s = status.state();
        latest.get_or_insert(s);
        tests.push(TestRow {
            href: crate::urls::test_notification(&project.slug, status.row.id),
            environment: status.row.environment.clone(),
            requested_at: time::utc(status.row.requested_at),
            requested_ago: time::relative(status.row.requested_at, now),
            word: s.word(),
            badge: s.badge(),
        });
    }
    Ok((
        Step4View {
            url: notification_url(state, &token),
            url_problems: public_url_problems(&state.settings.public_url),
            last,
            tests,
            has_key,
            confirm_error: None,
        },
        step_state(production, sandbox, latest),
    ))
}

const SET_PUBLIC_URL: &str = "Set STOREDESK_PUBLIC_URL to the https:// address the internet reaches this server by (for a trial, a tunnel or reverse proxy with a public name), then restart storedesk.";

/// Why Apple cannot deliver to an address under `public_url`: Apple sends notifications only to `https://`
/// addresses it can reach from the internet, so `http://`, loopback and private addresses are named. Host names
/// are not resolved (the server's own DNS may differ from Apple's); names only a local network can know are.
pub fn public_url_problems(public_url: &str) -> Vec<String> {
    let Ok(url) = reqwest::Url::parse(public_url) else {
        return Vec::new();
    };
    let mut problems = Vec::new();
    if url.scheme() != "https" {
        problems.push(format!(
            "Apple delivers notifications only to https:// addresses (TLS 1.2 or newer), and this URL starts with {}://.",
            url.scheme()
        ));
    }
    let host = url.host_str().unwrap_or_default();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let name = bare.trim_end_matches('.').to_ascii_lowercase();
    match bare.parse::<IpAddr>() {
        Ok(ip) if is_loopback(ip) => problems.push(format!(
            "{host} is a loopback address: it names the machine it is used on, so Apple cannot reach it."
        )),
        Ok(ip) if is_private(ip) => problems.push(format!(
            "{host} is a private network address, which Apple cannot reach from the internet."
        )),
        Ok(_) => {}
        Err(_) if name == "localhost" || name.ends_with(".localhost") => problems.push(format!(
            "{host} is a loopback address: it names the machine it is used on, so Apple cannot reach it."
        )),
        Err(_) if is_local_name(&name) => problems.push(format!(
            "{host} is a name only a local network knows, which Apple cannot look up."
        )),
        Err(_) => {}
    }
    if !problems.is_empty() {
        problems.push(SET_PUBLIC_URL.to_owned());
    }
    problems
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// Addresses the internet does not route to a server: RFC 1918, shared (100.64/10), link-local, unspecified,
/// unique-local and link-local IPv6.
fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || (a == 100 && (64..128).contains(&b))
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_private(IpAddr::V4(v4)),
            None => {
                let first = v6.segments()[0];
                v6.is_unspecified() || (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80
            }
        },
    }
}

/// A single-label name, or one under a suffix reserved for local networks.
fn is_local_name(name: &str) -> bool {
    !name.contains('.')
        || [".local", ".internal", ".lan", ".home.arpa", ".intranet"]
            .iter()
            .any(|suffix| name.ends_with(suffix))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(url: &str) -> Vec<String> {
        public_url_problems(url)
    }

    #[test]
    fn a_public_https_address_has_no_problem() {
        for url in [
            "https://storedesk.example.com",
            "https://storedesk.example.com:8443/base",
            "https://203.0.113.7",
            "https://[2001:db8::7]",
            "https://100.128.0.1",
        ] {
            assert!(problems(url).is_empty(), "{url}: {:?}", problems(url));
        }
    }

    #[test]
    fn http_is_named_and_says_what_to_set() {
        assert_eq!(
            problems("http://storedesk.example.com"),
            vec![
                "Apple delivers notifications only to https:// addresses (TLS 1.2 or newer), and this URL starts with http://.".to_owned(),
                SET_PUBLIC_URL.to_owned(),
            ]
        );
    }

    #[test]
    fn loopback_addresses_and_names_are_named() {
        for (url, host) in [
            ("https://127.0.0.1:8080", "127.0.0.1"),
            ("https://127.8.9.10", "127.8.9.10"),
            ("https://[::1]:8080", "[::1]"),
            ("https://[::ffff:127.0.0.1]", "[::ffff:7f00:1]"),
            ("https://localhost:8080", "localhost"),
            ("https://app.localhost", "app.localhost"),
        ] {
            assert_eq!(
                problems(url),
                vec![
                    format!("{host} is a loopback address: it names the machine it is used on, so Apple cannot reach it."),
                    SET_PUBLIC_URL.to_owned(),
                ],
                "{url}"
            );
        }
        // The default public URL (http:// and the bind address) gets both sentences.
        assert_eq!(problems("http://127.0.0.1:8080").len(), 3);
    }

    #[test]
    fn private_addresses_and_local_names_are_named() {
        for (url, host) in [
            ("https://10.1.2.3", "10.1.2.3"),
            ("https://172.16.0.9", "172.16.0.9"),
            ("https://192.168.1.20:8443", "192.168.1.20"),
            ("https://169.254.10.1", "169.254.10.1"),
            ("https://100.64.0.1", "100.64.0.1"),
            ("https://0.0.0.0:8080", "0.0.0.0"),
            ("https://[fd12:3456::1]", "[fd12:3456::1]"),
            ("https://[fe80::1]", "[fe80::1]"),
        ] {
            assert_eq!(
                problems(url)[0],
                format!("{host} is a private network address, which Apple cannot reach from the internet."),
                "{url}"
            );
        }
        for host in ["storedesk", "nas.local", "desk.internal", "desk.home.arpa"] {
            assert_eq!(
                problems(&format!("https://{host}"))[0],
                format!("{host} is a name only a local network knows, which Apple cannot look up."),
            );
        }
    }

    #[test]
    fn production_readiness_needs_a_production_notification() {
        let word = |p, s, l| step_state(p, s, l).word;
        assert_eq!(word(false, false, None), "not started");
        assert_eq!(word(false, false, Some(TestState::Waiting)), "waiting");
        assert_eq!(word(false, true, Some(TestState::Arrived)), "Sandbox only");
        assert_eq!(word(false, true, None), "Sandbox only");
        assert_eq!(word(false, true, Some(TestState::Failing)), "failing");
        assert_eq!(
            word(false, false, Some(TestState::DeliveredElsewhere)),
            "failing"
        );
        assert_eq!(word(true, false, Some(TestState::Failing)), "verified");
        assert_eq!(word(true, true, None), "verified");
    }
}
