//! Addresses of the console's pages, built in one place: percent-encoding, query strings and the sign-in redirect.
//! Handlers, templates and error pages call these instead of writing URLs by hand. Ids are taken by value or by
//! reference (`Borrow`), as templates pass them by reference.
use std::borrow::Borrow;

pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

pub fn urldecode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Some(b) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Builds `path?k=v&…` with every value percent-encoded.
pub fn link(path: &str, pairs: &[(&str, String)]) -> String {
    if pairs.is_empty() {
        return path.to_owned();
    }
    let query = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect::<Vec<_>>()
        .join("&");
    format!("{path}?{query}")
}

/// The sign-in page, leading back to `next` afterwards when that is a path of this console.
pub fn login(next: &str) -> String {
    if next.is_empty() || next == "/" || !next.starts_with('/') || next.starts_with("//") {
        "/login".to_string()
    } else {
        format!("/login?next={}", urlencode(next))
    }
}

/// One path segment: like [`urlencode`], and a slash too, so a value can never reach another route.
fn segment(s: &str) -> String {
    urlencode(s).replace('/', "%2F")
}

// One function per route of the console (`crate::routes::TABLE`), in the table's order; a test in
// `routes::tests` checks that each address they build is a route, and that every page has its function.

pub fn account() -> String {
    "/account".into()
}

/// The sign-in's second step (a code after the right password).
pub fn login_second_step() -> String {
    "/login/second-step".into()
}

/// Starts two-step sign-in's set-up (POST).
pub fn account_second_factor() -> String {
    "/account/second-factor".into()
}

pub fn account_second_factor_confirm() -> String {
    "/account/second-factor/confirm".into()
}

pub fn account_second_factor_disable() -> String {
    "/account/second-factor/disable".into()
}

pub fn account_recovery_codes() -> String {
    "/account/second-factor/recovery-codes".into()
}

/// The options for adding a passkey (JSON for `static/passkeys.js`).
pub fn account_passkey_options() -> String {
    "/account/passkeys/options".into()
}

/// Adds the passkey the browser made.
pub fn account_passkeys() -> String {
    "/account/passkeys".into()
}

pub fn account_passkey_remove(id: impl Borrow<i64>) -> String {
    format!("/account/passkeys/{}/remove", id.borrow())
}

/// The options for signing in with a passkey (JSON for `static/passkeys.js`).
pub fn login_second_step_passkey_options() -> String {
    "/login/second-step/passkey/options".into()
}

/// The second step passed with a passkey.
pub fn login_second_step_passkey() -> String {
    "/login/second-step/passkey".into()
}

pub fn logout() -> String {
    "/logout".into()
}

pub fn transactions(slug: &str) -> String {
    format!("/projects/{}/transactions", segment(slug))
}

/// The Transactions page searching one id.
pub fn search(slug: &str, q: &str) -> String {
    link(&transactions(slug), &[("q", q.to_owned())])
}

pub fn history_csv(slug: &str, transaction_id: &str) -> String {
    format!(
        "{}/{}/history.csv",
        transactions(slug),
        segment(transaction_id)
    )
}

pub fn subscription(slug: &str, original_transaction_id: &str) -> String {
    format!(
        "/projects/{}/subscriptions/{}",
        segment(slug),
        segment(original_transaction_id)
    )
}

pub fn subscription_extend(slug: &str, original_transaction_id: &str) -> String {
    format!("{}/extend", subscription(slug, original_transaction_id))
}

/// Extend for all customers: the form and the project's requests.
pub fn extend_all(slug: &str) -> String {
    format!("/projects/{}/subscriptions/extend-all", segment(slug))
}

/// One mass extension's progress.
pub fn extend_all_request(slug: &str, id: i64) -> String {
    format!("{}/{id}", extend_all(slug))
}

/// Ask Apple now how far a mass extension got.
pub fn extend_all_check(slug: &str, id: i64) -> String {
    format!("{}/check", extend_all_request(slug, id))
}

/// Send again a mass extension whose outcome is not known.
pub fn extend_all_again(slug: &str, id: i64) -> String {
    format!("{}/again", extend_all_request(slug, id))
}

/// A customer's page, by any of their transaction ids (an original transaction id, usually) or by their app
/// account token.
pub fn customer(slug: &str, id: &str) -> String {
    format!("/projects/{}/customers/{}", segment(slug), segment(id))
}

pub fn projects() -> String {
    "/projects".into()
}

pub fn new_project() -> String {
    "/projects/new".into()
}

pub fn project(slug: &str) -> String {
    format!("/projects/{}", segment(slug))
}

pub fn project_edit(slug: &str) -> String {
    format!("{}/edit", project(slug))
}

/// The App Store wizard (Steps 1 to 4).
pub fn apple_settings(slug: &str) -> String {
    format!("{}/settings/stores/apple", project(slug))
}

/// Step 4 of the wizard, scrolled to.
pub fn apple_step4(slug: &str) -> String {
    format!("{}#step4", apple_settings(slug))
}

pub fn apple_connect_key(slug: &str) -> String {
    format!("{}/connect-key", apple_settings(slug))
}

pub fn apple_connect_key_revoke(slug: &str) -> String {
    format!("{}/revoke", apple_connect_key(slug))
}

pub fn apple_connect_key_verify(slug: &str) -> String {
    format!("{}/verify", apple_connect_key(slug))
}

pub fn catalog(slug: &str) -> String {
    format!("{}/catalog", project(slug))
}

pub fn catalog_sync(slug: &str) -> String {
    format!("{}/sync", catalog(slug))
}

pub fn apple_key(slug: &str) -> String {
    format!("{}/key", apple_settings(slug))
}

pub fn notification_url_regenerate(slug: &str) -> String {
    format!("{}/notification-url/regenerate", apple_settings(slug))
}

pub fn test_notifications(slug: &str) -> String {
    format!("{}/test-notification", apple_settings(slug))
}

pub fn test_notification(slug: &str, id: impl Borrow<i64>) -> String {
    let id = *id.borrow();
    format!("{}/{id}", test_notifications(slug))
}

pub fn test_notification_status(slug: &str, id: impl Borrow<i64>) -> String {
    let id = *id.borrow();
    format!("{}/status", test_notification(slug, id))
}

pub fn keys(slug: &str) -> String {
    format!("{}/keys", project(slug))
}

pub fn key_revoke(slug: &str, id: impl Borrow<i64>) -> String {
    let id = *id.borrow();
    format!("{}/{id}/revoke", keys(slug))
}

pub fn keys_verify(slug: &str) -> String {
    format!("{}/verify", keys(slug))
}

pub fn key_correct(slug: &str, id: impl Borrow<i64>) -> String {
    let id = *id.borrow();
    format!("{}/{id}/correct", keys(slug))
}

pub fn admin_users() -> String {
    "/admin/users".into()
}

pub fn admin_user(id: impl Borrow<i64>) -> String {
    let id = *id.borrow();
    format!("/admin/users/{id}")
}

pub fn admin_user_unlock(id: impl Borrow<i64>) -> String {
    format!("{}/unlock", admin_user(id))
}

pub fn admin_user_reset_second_factor(id: impl Borrow<i64>) -> String {
    format!("{}/reset-second-factor", admin_user(id))
}

pub fn admin_user_reset_password(id: impl Borrow<i64>) -> String {
    format!("{}/reset-password", admin_user(id))
}

pub fn admin_audit() -> String {
    "/admin/audit".into()
}

pub fn admin_api_tokens() -> String {
    "/admin/api-tokens".into()
}

pub fn admin_api_token_revoke(id: impl Borrow<i64>) -> String {
    let id = *id.borrow();
    format!("/admin/api-tokens/{id}/revoke")
}

pub fn notifications(slug: &str) -> String {
    format!("{}/notifications", project(slug))
}

pub fn refunds(slug: &str) -> String {
    format!("{}/refunds", notifications(slug))
}

pub fn consumption(slug: &str) -> String {
    format!("{}/consumption", notifications(slug))
}

/// The automatic consumption policy.
pub fn consumption_policy(slug: &str) -> String {
    format!("{}/settings/consumption", project(slug))
}

/// One request in the consumption queue, scrolled to.
pub fn consumption_request(slug: &str, notification_id: impl Borrow<i64>) -> String {
    let notification_id = *notification_id.borrow();
    format!("{}#request-{notification_id}", consumption(slug))
}

pub fn consumption_answer(slug: &str, notification_id: impl Borrow<i64>) -> String {
    let notification_id = *notification_id.borrow();
    format!("{}/{notification_id}", consumption(slug))
}

pub fn backfill(slug: &str) -> String {
    format!("{}/backfill", notifications(slug))
}

pub fn gaps_acknowledge(slug: &str) -> String {
    format!("{}/gaps/acknowledge", notifications(slug))
}

pub fn notification(slug: &str, id: impl Borrow<i64>) -> String {
    let id = *id.borrow();
    format!("{}/{id}", notifications(slug))
}

pub fn offers(slug: &str) -> String {
    format!("{}/offers", project(slug))
}

/// Where a project's alerts go (e-mail recipients, webhooks) and which events each gets.
pub fn alert_settings(slug: &str) -> String {
    format!("{}/settings/alerts", project(slug))
}

pub fn alert_email(slug: &str) -> String {
    format!("{}/email", alert_settings(slug))
}

pub fn alert_webhooks(slug: &str) -> String {
    format!("{}/webhooks", alert_settings(slug))
}

pub fn alert_channel_remove(slug: &str, id: impl Borrow<i64>) -> String {
    let id = *id.borrow();
    format!("{}/{id}/remove", alert_settings(slug))
}

pub fn alert_channel_test(slug: &str, id: impl Borrow<i64>) -> String {
    let id = *id.borrow();
    format!("{}/{id}/test", alert_settings(slug))
}

/// A notification's deliveries start a new round to one destination (the form names it).
pub fn notification_redeliver(slug: &str, id: impl Borrow<i64>) -> String {
    format!("{}/redeliver", notification(slug, id))
}

/// Where a project's notifications are forwarded (the publisher's own servers), with each destination's health.
pub fn forwarding(slug: &str) -> String {
    format!("{}/settings/forwarding", project(slug))
}

/// One destination: its delivery log, settings, replays and actions.
pub fn forwarding_destination(slug: &str, id: impl Borrow<i64>) -> String {
    let id = *id.borrow();
    format!("{}/{id}", forwarding(slug))
}

/// A destination's delivery log with its filters and page (`before`: the last delivery id of the previous page).
pub fn forwarding_log(
    slug: &str,
    id: impl Borrow<i64>,
    status: &str,
    environment: &str,
    before: Option<i64>,
) -> String {
    let mut pairs = Vec::new();
    if !status.is_empty() {
        pairs.push(("status", status.to_owned()));
    }
    if !environment.is_empty() {
        pairs.push(("environment", environment.to_owned()));
    }
    if let Some(before) = before {
        pairs.push(("before", before.to_string()));
    }
    format!("{}#log", link(&forwarding_destination(slug, id), &pairs))
}

pub fn forwarding_pause(slug: &str, id: impl Borrow<i64>) -> String {
    format!("{}/pause", forwarding_destination(slug, id))
}

pub fn forwarding_resume(slug: &str, id: impl Borrow<i64>) -> String {
    format!("{}/resume", forwarding_destination(slug, id))
}

pub fn forwarding_rotate(slug: &str, id: impl Borrow<i64>) -> String {
    format!("{}/rotate", forwarding_destination(slug, id))
}

pub fn forwarding_remove(slug: &str, id: impl Borrow<i64>) -> String {
    format!("{}/remove", forwarding_destination(slug, id))
}

pub fn forwarding_test(slug: &str, id: impl Borrow<i64>) -> String {
    format!("{}/test", forwarding_destination(slug, id))
}

pub fn forwarding_replay(slug: &str, id: impl Borrow<i64>) -> String {
    format!("{}/replay", forwarding_destination(slug, id))
}

/// The JSON API's delivery log of a project.
pub fn api_forward_deliveries(slug: &str) -> String {
    format!("/api/v1/projects/{}/forwarding/deliveries", segment(slug))
}

/// The JSON API's transactions endpoint of a project.
pub fn api_transactions(slug: &str) -> String {
    format!("/api/v1/projects/{}/transactions", segment(slug))
}

/// Where Apple delivers a project's notifications, under the console's public URL.
pub fn apple_notifications(public_url: &str, token: &str) -> String {
    format!(
        "{}/apple/notifications/{}",
        public_url.trim_end_matches('/'),
        segment(token)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urlencoding_round_trips() {
        let s = "ok|Saved “Key” 100% & done";
        assert_eq!(urldecode(&urlencode(s)), s);
        assert_eq!(urlencode("/projects?x=1"), "/projects%3Fx%3D1");
    }
}
