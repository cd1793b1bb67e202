//! Where a destination may point, checked before anything is stored: an `https://` URL (`http://` only to this
//! machine, for local development) with a host, no credentials, and never a link-local address or a cloud
//! metadata service — a URL typed into a form must not turn storedesk into a way to read the cloud machine's own
//! credentials. Private addresses are allowed: publishers' backends often live there.
//!
//! A name is checked as typed; where it leads is checked again when a delivery connects ([`forbidden_ip`], after
//! DNS resolution), so a name that later resolves to 169.254.169.254 is still not reached.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub const URL_MAX_LEN: usize = 2048;

/// Host names of cloud metadata services (Google Cloud's); the others are reached by address.
const METADATA_NAMES: &[&str] = &["metadata.google.internal", "metadata.goog"];

/// Why a typed URL was refused; each `Display` is the sentence shown under the field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("Enter the URL of your server that should receive Apple's notifications, such as https://api.example.com/apple/notifications.")]
    Empty,
    #[error("A destination's URL is at most 2,048 characters long.")]
    TooLong,
    #[error("This is not a URL. Enter the whole address, starting with https://.")]
    NotAUrl,
    #[error("The URL has no host. Enter the server's name or address after https://, such as https://api.example.com/apple/notifications.")]
    NoHost,
    #[error("The URL must start with https://, so that notifications travel encrypted. Plain http:// is accepted only for this machine (localhost, 127.0.0.1 or [::1]).")]
    NotHttps,
    #[error("Leave the user name and password out of the URL: it is shown on pages and in the audit log, and storedesk signs every delivery instead.")]
    Credentials,
    #[error("Link-local addresses (169.254.0.0/16 and fe80::/10) are refused: they reach the network the server runs in, not your backend.")]
    LinkLocal,
    #[error("This is a cloud metadata service (169.254.169.254, fd00:ec2::254, 100.100.100.200, metadata.google.internal), which storedesk never sends anything to.")]
    Metadata,
    #[error("0.0.0.0 and [::] name no server. Enter your server's own name or address.")]
    Unspecified,
}

/// A URL a destination may use: the URL as the `url` crate normalises it, and its host for sentences.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DestinationUrl {
    pub url: String,
    pub host: String,
}

/// Whether `host` is this machine.
fn is_loopback(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(d) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    }
}

/// Link-local addresses (169.254.0.0/16, fe80::/10) and the cloud metadata services (169.254.169.254,
/// fd00:ec2::254, 100.100.100.200), also when written as IPv4-mapped IPv6. Private addresses are allowed.
pub fn forbidden_ip(ip: IpAddr) -> bool {
    ip_problem(ip).is_some_and(|p| p != UrlError::Unspecified)
}

fn ip_problem(ip: IpAddr) -> Option<UrlError> {
    match ip {
        IpAddr::V4(v4) => v4_problem(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4_problem(v4),
            None if v6 == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) => {
                Some(UrlError::Metadata)
            }
            None if (v6.segments()[0] & 0xffc0) == 0xfe80 => Some(UrlError::LinkLocal),
            None if v6.is_unspecified() => Some(UrlError::Unspecified),
            None => None,
        },
    }
}

fn v4_problem(v4: Ipv4Addr) -> Option<UrlError> {
    if v4 == Ipv4Addr::new(169, 254, 169, 254) || v4 == Ipv4Addr::new(100, 100, 100, 200) {
        Some(UrlError::Metadata)
    } else if v4.is_link_local() {
        Some(UrlError::LinkLocal)
    } else if v4.is_unspecified() {
        Some(UrlError::Unspecified)
    } else {
        None
    }
}

/// Checks a typed destination URL.
pub fn parse_destination_url(input: &str) -> Result<DestinationUrl, UrlError> {
    let raw = input.trim();
    if raw.is_empty() {
        return Err(UrlError::Empty);
    }
    if raw.chars().count() > URL_MAX_LEN {
        return Err(UrlError::TooLong);
    }
    if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(UrlError::NotAUrl);
    }
    let url = url::Url::parse(raw).map_err(|e| match e {
        url::ParseError::EmptyHost => UrlError::NoHost,
        _ => UrlError::NotAUrl,
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(UrlError::NotAUrl);
    }
    let host = url.host().ok_or(UrlError::NoHost)?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UrlError::Credentials);
    }
    match &host {
        url::Host::Ipv4(ip) => ip_problem(IpAddr::V4(*ip)).map_or(Ok(()), Err)?,
        url::Host::Ipv6(ip) => ip_problem(IpAddr::V6(*ip)).map_or(Ok(()), Err)?,
        url::Host::Domain(d) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            if METADATA_NAMES.contains(&d.as_str()) {
                return Err(UrlError::Metadata);
            }
        }
    }
    if url.scheme() == "http" && !is_loopback(&host) {
        return Err(UrlError::NotHttps);
    }
    let host = host.to_string();
    Ok(DestinationUrl {
        url: url.as_str().to_owned(),
        host,
    })
}

/// The host of a stored destination URL, for sentences about a delivery (`api.example.com`).
pub fn host_of(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "the destination".into())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn good_urls_are_kept_as_normalised() {
        let d =
            parse_destination_url("  https://API.example.com/apple/notifications?x=1 ").unwrap();
        assert_eq!(d.url, "https://api.example.com/apple/notifications?x=1");
        assert_eq!(d.host, "api.example.com");
        for ok in [
            "https://10.0.0.5:8443/hook",
            "https://192.168.1.2/hook",
            "https://172.16.0.1/hook",
            "https://[fd00::1]/hook",
            "https://backend.internal/hook",
            "http://127.0.0.1:8081/hook",
            "http://localhost/hook",
            "http://[::1]:9000/x",
        ] {
            assert!(parse_destination_url(ok).is_ok(), "{ok}");
        }
        assert_eq!(
            parse_destination_url("https://example.com").unwrap().url,
            "https://example.com/"
        );
    }

    #[test]
    fn every_bad_url_has_its_sentence() {
        use UrlError::*;
        let cases: &[(&str, UrlError)] = &[
            ("", Empty),
            ("   ", Empty),
            ("api.example.com/apple", NotAUrl),
            ("https://api.example.com/a b", NotAUrl),
            ("ftp://api.example.com/x", NotAUrl),
            ("mailto:ops@example.com", NotAUrl),
            ("https://", NoHost),
            ("https:///", NoHost),
            ("http://api.example.com/apple", NotHttps),
            ("http://10.0.0.5/hook", NotHttps),
            ("https://user:pass@api.example.com/x", Credentials),
            ("https://token@api.example.com/x", Credentials),
            ("https://169.254.0.1/x", LinkLocal),
            ("https://[fe80::1]/x", LinkLocal),
            ("https://169.254.169.254/latest/meta-data/", Metadata),
            ("http://169.254.169.254/latest/meta-data/", Metadata),
            ("https://2852039166/", Metadata),
            ("https://[::ffff:169.254.169.254]/", Metadata),
            ("https://[fd00:ec2::254]/", Metadata),
            ("https://100.100.100.200/", Metadata),
            (
                "http://metadata.google.internal/computeMetadata/v1/",
                Metadata,
            ),
            ("https://METADATA.GOOGLE.INTERNAL./x", Metadata),
            ("https://metadata.goog/x", Metadata),
            ("https://0.0.0.0/x", Unspecified),
            ("https://[::]/x", Unspecified),
        ];
        for (input, error) in cases {
            assert_eq!(
                parse_destination_url(input).err().as_ref(),
                Some(error),
                "{input:?}"
            );
        }
        let long = format!("https://api.example.com/{}", "a".repeat(URL_MAX_LEN));
        assert_eq!(parse_destination_url(&long).err(), Some(TooLong));
    }

    #[test]
    fn every_sentence_is_one_sentence() {
        use UrlError::*;
        for e in [
            Empty,
            TooLong,
            NotAUrl,
            NoHost,
            NotHttps,
            Credentials,
            LinkLocal,
            Metadata,
            Unspecified,
        ] {
            let s = e.to_string();
            assert!(s.ends_with('.'), "{s}");
            assert!(s
                .chars()
                .next()
                .is_some_and(|c| c.is_uppercase() || c.is_ascii_digit()));
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn link_local_and_metadata_addresses_are_forbidden_at_delivery() {
        for bad in [
            "169.254.169.254",
            "169.254.0.1",
            "100.100.100.200",
            "fe80::1",
            "febf::1",
            "fd00:ec2::254",
            "::ffff:169.254.169.254",
        ] {
            assert!(forbidden_ip(ip(bad)), "{bad}");
        }
        for good in [
            "127.0.0.1",
            "10.0.0.5",
            "192.168.1.2",
            "172.16.0.1",
            "100.100.100.201",
            "8.8.8.8",
            "::1",
            "fd00::1",
            "fec0::1",
        ] {
            assert!(!forbidden_ip(ip(good)), "{good}");
        }
    }

    #[test]
    fn the_host_names_a_destination() {
        assert_eq!(host_of("https://api.example.com/x"), "api.example.com");
        assert_eq!(host_of("nonsense"), "the destination");
    }
}
