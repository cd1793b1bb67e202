//! Who is on the other end of a request. Behind a TLS proxy every connection comes from the proxy, so the
//! client's address is taken from `X-Forwarded-For` (or, without it, `Forwarded`) — but only when the connection
//! comes from a proxy named in `STOREDESK_TRUSTED_PROXIES`: anyone else could write those headers themselves.
//! The list is read right to left (each proxy appends the address it saw), skipping the trusted hops; the first
//! address that is not a trusted proxy is the client.
use std::net::IpAddr;

use ipnet::IpNet;

/// The proxies whose forwarding headers are believed: addresses and networks (CIDR).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an IP address or a network in CIDR form (such as 10.0.0.2, 192.168.0.0/16 or fd00::/8)")]
pub struct NotAnAddress(pub String);

impl TrustedProxies {
    /// Parses a list separated by commas or spaces: `127.0.0.1, 10.0.0.0/8, ::1`. Empty trusts nobody.
    pub fn parse(raw: &str) -> Result<Self, NotAnAddress> {
        let mut nets = Vec::new();
        for item in raw
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
        {
            let net = match item.parse::<IpNet>() {
                Ok(net) => net.trunc(),
                Err(_) => item
                    .parse::<IpAddr>()
                    .map(IpNet::from)
                    .map_err(|_| NotAnAddress(item.to_owned()))?,
            };
            nets.push(net);
        }
        Ok(TrustedProxies(nets))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// For the start-up log: the networks as given.
    pub fn describe(&self) -> String {
        let all: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        all.join(", ")
    }
}

/// An IPv4 address that arrived mapped into IPv6 (`::ffff:10.0.0.1`) is that IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The client's address: the peer itself, unless the peer is a trusted proxy and says whom it forwards.
/// `forwarded_for` and `forwarded` are the request's `X-Forwarded-For` and `Forwarded` header values (each
/// occurrence, in order).
pub fn client_address(
    peer: Option<IpAddr>,
    forwarded_for: &[&str],
    forwarded: &[&str],
    trusted: &TrustedProxies,
) -> Option<IpAddr> {
    let peer = canonical(peer?);
    if !trusted.trusts(peer) {
        return Some(peer);
    }
    let hops: Vec<&str> = if forwarded_for.is_empty() {
        forwarded
            .iter()
            .flat_map(|v| v.split(','))
            .filter_map(forwarded_for_param)
            .collect()
    } else {
        forwarded_for.iter().flat_map(|v| v.split(',')).collect()
    };
    let mut client = peer;
    for hop in hops.iter().rev() {
        // A hop that is not an address (`unknown`, an obfuscated name, garbage) ends the chain: what lies left of
        // it cannot be told apart from what a client wrote.
        let Some(ip) = parse_hop(hop) else {
            break;
        };
        client = ip;
        if !trusted.trusts(ip) {
            break;
        }
    }
    Some(client)
}

/// The client's address as text (for the audit log, logs and throttling), from a request's peer and headers.
pub fn of_request(
    peer: Option<std::net::SocketAddr>,
    headers: &actix_web::http::header::HeaderMap,
    trusted: &TrustedProxies,
) -> String {
    let values = |name: &str| -> Vec<&str> {
        headers
            .get_all(name)
            .filter_map(|v| v.to_str().ok())
            .collect()
    };
    client_address(
        peer.map(|p| p.ip()),
        &values("x-forwarded-for"),
        &values("forwarded"),
        trusted,
    )
    .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
}

/// The `for=` of one `Forwarded` element (RFC 7239): `for=192.0.2.60;proto=https`, `for="[2001:db8::1]:4711"`.
fn forwarded_for_param(element: &str) -> Option<&str> {
    element.split(';').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("for")
            .then_some(value.trim())
    })
}

/// An address as a hop names it: bare, quoted, with a port, IPv6 in brackets.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim().trim_matches('"');
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Some(rest) = hop.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok().map(canonical);
    }
    let (host, port) = hop.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    host.parse().ok().map(canonical)
}

/// What sign-in throttling counts an address as: an IPv4 address itself, an IPv6 address by its /64 (one
/// customer's line usually holds a whole /64, so counting single IPv6 addresses would let one guesser rotate
/// through billions of them).
pub fn throttle_key(ip: IpAddr) -> String {
    match canonical(ip) {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let seg = v6.segments();
            let net = std::net::Ipv6Addr::new(seg[0], seg[1], seg[2], seg[3], 0, 0, 0, 0);
            format!("{net}/64")
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn proxies(s: &str) -> TrustedProxies {
        TrustedProxies::parse(s).unwrap()
    }

    #[test]
    fn the_list_takes_addresses_and_networks() {
        let t = proxies("127.0.0.1, 10.0.0.0/8 fd00::/8");
        assert!(t.trusts(ip("127.0.0.1")));
        assert!(t.trusts(ip("10.200.3.4")));
        assert!(t.trusts(ip("::ffff:10.1.1.1")));
        assert!(t.trusts(ip("fd12::7")));
        assert!(!t.trusts(ip("127.0.0.2")));
        assert!(!t.trusts(ip("192.168.1.1")));
        assert!(proxies("").is_empty());
        assert_eq!(
            TrustedProxies::parse("10.0.0.0/8, proxy.local")
                .unwrap_err()
                .to_string(),
            "\"proxy.local\" is not an IP address or a network in CIDR form (such as 10.0.0.2, 192.168.0.0/16 or fd00::/8)"
        );
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
    }

    #[test]
    fn headers_from_an_untrusted_peer_are_ignored() {
        let none = TrustedProxies::default();
        assert_eq!(
            client_address(Some(ip("203.0.113.9")), &["1.2.3.4"], &[], &none),
            Some(ip("203.0.113.9"))
        );
        let t = proxies("10.0.0.1");
        assert_eq!(
            client_address(Some(ip("203.0.113.9")), &["1.2.3.4"], &[], &t),
            Some(ip("203.0.113.9"))
        );
    }

    #[test]
    fn a_trusted_proxy_names_the_client_read_right_to_left() {
        let t = proxies("10.0.0.0/8");
        // The client wrote a false first entry; the proxy appended the address it saw.
        assert_eq!(
            client_address(Some(ip("10.0.0.5")), &["6.6.6.6, 198.51.100.7"], &[], &t),
            Some(ip("198.51.100.7"))
        );
        // Two trusted hops (a load balancer, then Caddy) are skipped.
        assert_eq!(
            client_address(Some(ip("10.0.0.5")), &["198.51.100.7", "10.0.0.9"], &[], &t),
            Some(ip("198.51.100.7"))
        );
        // Every hop trusted: the leftmost is the client.
        assert_eq!(
            client_address(Some(ip("10.0.0.5")), &["10.1.1.1"], &[], &t),
            Some(ip("10.1.1.1"))
        );
        // No header: the proxy itself.
        assert_eq!(
            client_address(Some(ip("10.0.0.5")), &[], &[], &t),
            Some(ip("10.0.0.5"))
        );
        // Garbage ends the chain at the last address read.
        assert_eq!(
            client_address(Some(ip("10.0.0.5")), &["1.2.3.4, unknown"], &[], &t),
            Some(ip("10.0.0.5"))
        );
    }

    #[test]
    fn forwarded_is_read_when_there_is_no_x_forwarded_for() {
        let t = proxies("127.0.0.1");
        assert_eq!(
            client_address(
                Some(ip("127.0.0.1")),
                &[],
                &["for=192.0.2.60;proto=https, for=\"[2001:db8:cafe::17]:4711\""],
                &t
            ),
            Some(ip("2001:db8:cafe::17"))
        );
        assert_eq!(
            client_address(Some(ip("127.0.0.1")), &[], &["for=192.0.2.43:8080"], &t),
            Some(ip("192.0.2.43"))
        );
    }

    #[test]
    fn ipv6_is_throttled_by_its_64() {
        assert_eq!(
            throttle_key(ip("2001:db8:1:2:aaaa::1")),
            "2001:db8:1:2::/64"
        );
        assert_eq!(
            throttle_key(ip("2001:db8:1:2:bbbb::9")),
            throttle_key(ip("2001:db8:1:2:aaaa::1"))
        );
        assert_eq!(throttle_key(ip("198.51.100.7")), "198.51.100.7");
        assert_eq!(throttle_key(ip("::ffff:198.51.100.7")), "198.51.100.7");
    }
}
