//! Where an alert may go, checked before anything is stored: an e-mail address, or a Slack-compatible incoming
//! webhook's URL (https, or http to this machine for local development). A webhook's URL is a secret: it is kept
//! as a `SecretString`, shown only masked, and never logged.
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

pub const URL_MAX_LEN: usize = 2048;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WebhookUrlError {
    #[error("Paste the webhook's URL: the https:// address that Slack (or a Slack-compatible service) gives for an incoming webhook.")]
    Empty,
    #[error("A webhook's URL is at most 2,048 characters long.")]
    TooLong,
    #[error("This is not a webhook URL. Paste the whole address, starting with https://.")]
    NotAUrl,
    #[error("The webhook's URL must start with https://: it is a secret, and http:// would send it and every alert unencrypted. Plain http:// is accepted only for this machine (localhost, 127.0.0.1 or [::1]).")]
    NotHttps,
}

/// A webhook URL that may be used: its secret whole, what pages show of it, and the key that refuses it twice.
pub struct WebhookUrl {
    pub url: SecretString,
    /// `https://hooks.slack.com/…XXXX`: the scheme, host and port, and the URL's last four characters.
    pub masked: String,
    /// SHA-256 of the URL, hex: the same webhook added twice is found without keeping the URL in the clear.
    pub target_key: String,
}

impl std::fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.masked)
    }
}

/// Whether `host` (as `url` gives it: an IPv6 address without brackets) is this machine.
pub fn is_loopback(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    }
}

/// Checks a pasted webhook URL.
pub fn parse_webhook_url(input: &str) -> Result<WebhookUrl, WebhookUrlError> {
    let raw = input.trim();
    if raw.is_empty() {
        return Err(WebhookUrlError::Empty);
    }
    if raw.chars().count() > URL_MAX_LEN {
        return Err(WebhookUrlError::TooLong);
    }
    if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(WebhookUrlError::NotAUrl);
    }
    let url = url::Url::parse(raw).map_err(|_| WebhookUrlError::NotAUrl)?;
    let host = url.host().ok_or(WebhookUrlError::NotAUrl)?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&host) => {}
        "http" => return Err(WebhookUrlError::NotHttps),
        _ => return Err(WebhookUrlError::NotAUrl),
    }
    let whole = url.as_str().to_owned();
    let origin = match url.port() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    };
    let after_origin = whole.get(origin.len()..).unwrap_or_default();
    let tail: String = {
        let chars: Vec<char> = after_origin.trim_end_matches('/').chars().collect();
        // Show the last four characters only when the rest stays long enough to be secret.
        if chars.len() >= 16 {
            chars[chars.len() - 4..].iter().collect()
        } else {
            String::new()
        }
    };
    Ok(WebhookUrl {
        masked: format!("{origin}/…{tail}"),
        target_key: hex::encode(Sha256::digest(whole.as_bytes())),
        url: SecretString::from(whole),
    })
}

/// The host of a webhook URL, for sentences about a failed delivery (the host is not the secret; the path is).
pub fn host_of(url: &SecretString) -> String {
    url::Url::parse(url.expose_secret())
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "the webhook".into())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    const SLACK: &str = "https://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXabcd";

    #[test]
    fn a_slack_url_is_kept_whole_and_shown_masked() {
        let w = parse_webhook_url(&format!("  {SLACK} ")).unwrap();
        assert_eq!(w.url.expose_secret(), SLACK);
        assert_eq!(w.masked, "https://hooks.slack.com/…abcd");
        assert_eq!(format!("{w:?}"), "https://hooks.slack.com/…abcd");
        assert_eq!(w.target_key.len(), 64);
        assert_eq!(
            w.target_key,
            parse_webhook_url(SLACK).unwrap().target_key,
            "the same URL is the same target"
        );
    }

    #[test]
    fn loopback_may_use_http_for_local_development() {
        for ok in [
            "http://127.0.0.1:8081/hook",
            "http://localhost/hook",
            "http://[::1]:9000/x",
        ] {
            let w = parse_webhook_url(ok).unwrap();
            assert!(w.masked.starts_with("http://"), "{}", w.masked);
            assert!(
                w.masked.ends_with("/…"),
                "a short path shows nothing: {}",
                w.masked
            );
        }
        assert_eq!(
            parse_webhook_url("http://127.0.0.1:8081/hooks/abcdefghijklmnop")
                .unwrap()
                .masked,
            "http://127.0.0.1:8081/…mnop"
        );
    }

    #[test]
    fn every_bad_url_has_its_sentence() {
        use WebhookUrlError::*;
        let cases: &[(&str, WebhookUrlError)] = &[
            ("", Empty),
            ("   ", Empty),
            ("hooks.slack.com/services/T0", NotAUrl),
            ("https://", NotAUrl),
            ("https://hooks.slack.com/a b", NotAUrl),
            ("ftp://hooks.example.com/x", NotAUrl),
            ("mailto:ops@example.com", NotAUrl),
            ("http://hooks.slack.com/services/T0", NotHttps),
            ("http://10.0.0.5/hook", NotHttps),
        ];
        for (input, error) in cases {
            assert_eq!(
                parse_webhook_url(input).err().as_ref(),
                Some(error),
                "{input:?}"
            );
        }
        let long = format!("https://hooks.slack.com/{}", "a".repeat(URL_MAX_LEN));
        assert_eq!(parse_webhook_url(&long).err(), Some(TooLong));
    }

    #[test]
    fn the_host_names_where_a_delivery_failed() {
        assert_eq!(
            host_of(&SecretString::from(SLACK.to_owned())),
            "hooks.slack.com"
        );
    }
}
