//! **Send test event**: one synchronous POST to a destination, signed like every delivery (Standard Webhooks, with
//! the destination's current secret and, during a rotation's 24 hours, the previous one), so a publisher can
//! check their endpoint and their signature check before a real notification arrives. Nothing is queued or
//! retried; the page shows what the receiver answered.
//!
//! The body is not Apple's: `{"signedPayload":null,"storedesk":"test","sentAt":<ms>}`, with the header
//! `x-storedesk-notification-type: STOREDESK_TEST`, so a receiver can tell it from a notification before handing
//! `signedPayload` to Apple's library.
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::sign::Signer;
use super::target::{forbidden_ip, host_of};
use crate::crypto::Keyring;
use crate::store::forwarding::DestinationRow;
use crate::telemetry::innermost_cause as cause;

pub const TEST_TYPE: &str = "STOREDESK_TEST";
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const TOTAL_TIMEOUT: Duration = Duration::from_secs(15);
/// The answer is read up to this much, and its first [`KEPT`] bytes are kept.
const READ_LIMIT: usize = 64 * 1024;
pub const KEPT: usize = 1024;

/// What the receiver did with the test event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestOutcome {
    pub delivered: bool,
    pub status: Option<u16>,
    pub latency_ms: i64,
    /// The first 1 KiB of the answer (lossy UTF-8).
    pub answer: String,
    /// Why it failed, in a sentence; None when the receiver answered 2xx.
    pub error: Option<String>,
    pub webhook_id: String,
}

/// The test event's body at `now` (ms).
pub fn body(now_ms: i64) -> String {
    format!(r#"{{"signedPayload":null,"storedesk":"test","sentAt":{now_ms}}}"#)
}

/// The `webhook-signature` header, signed as every delivery is ([`Signer`]): the current secret, then the
/// previous one while it signs.
fn signature(
    keyring: &Keyring,
    d: &DestinationRow,
    id: &str,
    timestamp: i64,
    body: &str,
    now_ms: i64,
) -> anyhow::Result<String> {
    Ok(Signer::open(keyring, d, now_ms)?.signature(id, timestamp, body, now_ms))
}

/// Where the URL's host leads, refused when any address is link-local or a metadata service. The client is then
/// pinned to these addresses, so a second lookup cannot lead elsewhere.
async fn resolve(url: &url::Url) -> Result<Vec<SocketAddr>, String> {
    let host = url.host_str().unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = url.port_or_known_default().unwrap_or(443);
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|_| format!("The name {host} could not be resolved."))?
        .collect();
    if addrs.is_empty() {
        return Err(format!("The name {host} could not be resolved."));
    }
    if addrs.iter().any(|a| forbidden_ip(a.ip())) {
        return Err(format!(
            "{host} leads to a link-local or cloud metadata address, which storedesk never sends anything to."
        ));
    }
    Ok(addrs)
}

/// Sends the test event to `destination` now and says what happened. Only a failure to open the secret is an
/// `Err`; everything the receiver or the network does is an outcome.
pub async fn send(
    keyring: &Keyring,
    destination: &DestinationRow,
    now_ms: i64,
) -> anyhow::Result<TestOutcome> {
    let webhook_id = format!("msg_test_{}", uuid::Uuid::new_v4().simple());
    let body = body(now_ms);
    let timestamp = now_ms.div_euclid(1000);
    let signature = signature(keyring, destination, &webhook_id, timestamp, &body, now_ms)?;
    let failed = |error: String, latency_ms: i64| TestOutcome {
        delivered: false,
        status: None,
        latency_ms,
        answer: String::new(),
        error: Some(error),
        webhook_id: webhook_id.clone(),
    };
    let Ok(url) = url::Url::parse(&destination.settings.url) else {
        return Ok(failed("The destination's URL cannot be read.".into(), 0));
    };
    let addrs = match resolve(&url).await {
        Ok(addrs) => addrs,
        Err(e) => return Ok(failed(e, 0)),
    };
    let host = host_of(&destination.settings.url);
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(TOTAL_TIMEOUT)
        .user_agent(concat!("storedesk/", env!("CARGO_PKG_VERSION")))
        .resolve_to_addrs(url.host_str().unwrap_or_default(), &addrs)
        .build()?;
    let started = Instant::now();
    let elapsed = || i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    let sent = client
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", &webhook_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .header("x-storedesk-notification-type", TEST_TYPE)
        .body(body)
        .send()
        .await;
    let mut response = match sent {
        Ok(r) => r,
        Err(e) if e.is_timeout() => {
            return Ok(failed(
                format!("{host} did not answer within 15 seconds."),
                elapsed(),
            ))
        }
        Err(e) => {
            return Ok(failed(
                format!("{host} could not be reached: {}.", cause(&e)),
                elapsed(),
            ))
        }
    };
    let status = response.status();
    let mut bytes = Vec::new();
    let mut read_error = None;
    while bytes.len() < READ_LIMIT {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            Ok(None) => break,
            Err(e) => {
                read_error = Some(if e.is_timeout() {
                    format!("{host} did not finish its answer within 15 seconds.")
                } else {
                    format!("{host}'s answer broke off: {}.", cause(&e))
                });
                break;
            }
        }
    }
    let latency_ms = elapsed();
    bytes.truncate(KEPT);
    let answer = String::from_utf8_lossy(&bytes).into_owned();
    let code = status.as_u16();
    let error = if status.is_redirection() {
        Some(format!(
            "{host} answered with a redirect (HTTP {code}). storedesk does not follow redirects: enter the address it redirects to."
        ))
    } else if !status.is_success() {
        Some(format!("{host} answered HTTP {code}."))
    } else {
        read_error
    };
    Ok(TestOutcome {
        delivered: error.is_none(),
        status: Some(code),
        latency_ms,
        answer,
        error,
        webhook_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_body_is_json_with_no_signed_payload() {
        let v: serde_json::Value =
            serde_json::from_str(&body(1_700_000_000_000)).unwrap_or_default();
        assert_eq!(v["signedPayload"], serde_json::Value::Null);
        assert_eq!(v["storedesk"], "test");
        assert_eq!(v["sentAt"], 1_700_000_000_000_i64);
    }
}
