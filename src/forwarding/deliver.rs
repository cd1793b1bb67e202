//! One delivery attempt: Apple's body, signed, POSTed to the destination with connect and total timeouts, no
//! redirects followed, and the answer read up to a bound. The HTTP client refuses link-local and cloud metadata
//! addresses after resolving a name, and an address written in the URL before connecting.
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::sign::{webhook_id, Signer};
use super::target::forbidden_ip;
use crate::config::ForwardSettings;
use crate::store::forwarding::Outgoing;
use crate::telemetry::innermost_cause as cause;

/// What is kept of an answer (the delivery log shows it).
pub const RESPONSE_KEPT: usize = 1024;
/// What is read of an answer at most; a longer one is cut and its connection dropped.
pub const RESPONSE_READ: usize = 64 * 1024;

pub const USER_AGENT: &str = concat!("storedesk/", env!("CARGO_PKG_VERSION"));

const REFUSED_ADDRESS: &str = "The destination's address is link-local or a cloud metadata service, which storedesk never calls; change the destination's URL.";

/// How one attempt went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub status: Option<u16>,
    pub latency_ms: i64,
    /// The first [`RESPONSE_KEPT`] bytes of the answer (as text).
    pub response: Option<String>,
    /// `None` when delivered (2xx); else the sentence saying why not.
    pub error: Option<String>,
}

/// Resolves names as the system does, without the forbidden addresses; a name with only those fails.
struct GuardedResolver;

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let allowed: Vec<SocketAddr> = found.filter(|a| !forbidden_ip(a.ip())).collect();
            if allowed.is_empty() {
                return Err(REFUSED_ADDRESS.into());
            }
            let addrs: Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

/// The client every delivery of this instance shares: connections to a destination are kept between deliveries.
pub fn client(settings: &ForwardSettings) -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(settings.connect_timeout())
        .timeout(settings.timeout)
        .user_agent(USER_AGENT)
        .dns_resolver(Arc::new(GuardedResolver))
        .build()
        .map_err(|e| {
            anyhow::anyhow!(
                "could not build forwarding's HTTP client: {}",
                e.without_url()
            )
        })
}

/// Sends `n` to `url`, signed by `signer`; `now` is the worker's clock (for the rotation overlap).
pub async fn send(
    client: &reqwest::Client,
    url: &str,
    signer: &Signer,
    n: &Outgoing,
    timeout: Duration,
    now: i64,
) -> Sent {
    let started = Instant::now();
    let elapsed =
        |started: Instant| i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    let failed = |error: String| Sent {
        status: None,
        latency_ms: elapsed(started),
        response: None,
        error: Some(error),
    };
    match url::Url::parse(url)
        .ok()
        .and_then(|u| u.host().map(|h| h.to_owned()))
    {
        Some(url::Host::Ipv4(ip)) if forbidden_ip(ip.into()) => {
            return failed(REFUSED_ADDRESS.into())
        }
        Some(url::Host::Ipv6(ip)) if forbidden_ip(ip.into()) => {
            return failed(REFUSED_ADDRESS.into())
        }
        Some(_) => {}
        None => return failed("The destination's URL cannot be used; change it.".into()),
    }
    let body = n.body();
    let id = webhook_id(&n.notification_uuid);
    // The signature's timestamp is the wall clock: receivers refuse one more than five minutes off.
    let timestamp = crate::clock::now_ms() / 1000;
    let mut request = client
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", &id)
        .header("webhook-timestamp", timestamp.to_string())
        .header(
            "webhook-signature",
            signer.signature(&id, timestamp, &body, now),
        )
        .header("x-storedesk-notification-type", &n.notification_type)
        .header("x-storedesk-environment", &n.environment)
        .header("x-storedesk-notification-uuid", &n.notification_uuid)
        .header("x-storedesk-signed-date", n.signed_date.to_string());
    if let Some(subtype) = &n.subtype {
        request = request.header("x-storedesk-notification-subtype", subtype);
    }
    let seconds = match timeout.as_millis() {
        1000 => "1 second".to_owned(),
        ms if ms % 1000 == 0 => format!("{} seconds", ms / 1000),
        ms => format!("{:.1} seconds", ms as f64 / 1000.0),
    };
    let response = match request.body(body).send().await {
        Ok(r) => r,
        Err(e) if e.is_timeout() => {
            return failed(format!("The receiver did not answer within {seconds}."))
        }
        Err(e) if e.is_connect() => {
            return failed(format!("Could not connect to the receiver: {}.", cause(&e)))
        }
        Err(e) => return failed(format!("The receiver could not be reached: {}.", cause(&e))),
    };
    let status = response.status();
    let (response_text, read_error) = read_bounded(response).await;
    let latency_ms = elapsed(started);
    let error = if status.is_redirection() {
        Some(format!(
            "The receiver redirected (HTTP {}); storedesk does not follow redirects: set the destination's URL to the address that answers.",
            status.as_u16()
        ))
    } else if !status.is_success() {
        Some(format!("The receiver answered HTTP {}.", status.as_u16()))
    } else {
        // A 2xx whose body was cut short or timed out still says the receiver took the notification.
        let _ = read_error;
        None
    };
    Sent {
        status: Some(status.as_u16()),
        latency_ms,
        response: Some(response_text),
        error,
    }
}

/// Reads the answer up to [`RESPONSE_READ`] bytes and keeps the first [`RESPONSE_KEPT`], as text.
async fn read_bounded(mut response: reqwest::Response) -> (String, Option<String>) {
    let mut kept: Vec<u8> = Vec::new();
    let mut read = 0usize;
    let mut error = None;
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                read += chunk.len();
                let room = RESPONSE_KEPT.saturating_sub(kept.len());
                kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if read >= RESPONSE_READ {
                    break;
                }
            }
            Ok(None) => break,
            Err(e) => {
                error = Some(cause(&e));
                break;
            }
        }
    }
    (text_of(&kept), error)
}

/// Bytes as text, a character cut at the end dropped.
fn text_of(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(e) if e.error_len().is_none() => {
            String::from_utf8_lossy(&bytes[..e.valid_up_to()]).into_owned()
        }
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_character_cut_by_the_bound_is_dropped() {
        let bytes = "aé".as_bytes();
        assert_eq!(text_of(&bytes[..2]), "a");
        assert_eq!(text_of(bytes), "aé");
    }
}
