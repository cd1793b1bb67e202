//! Addresses a destination may never reach, checked again when a delivery connects (after DNS resolution), so a
//! name that later resolves to a cloud metadata service is refused even though its URL was accepted.
//! (The forwarding pages validate the typed URL; the delivery side needs only [`forbidden_ip`].)
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Link-local addresses (169.254.0.0/16, fe80::/10) and the cloud metadata services (169.254.169.254,
/// fd00:ec2::254, 100.100.100.200), also when written as IPv4-mapped IPv6. Private addresses are allowed:
/// publishers' backends often live there.
pub fn forbidden_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => forbidden_v4(v4),
            None => {
                (v6.segments()[0] & 0xffc0) == 0xfe80
                    || v6 == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)
            }
        },
    }
}

fn forbidden_v4(v4: Ipv4Addr) -> bool {
    v4.is_link_local() || v4 == Ipv4Addr::new(100, 100, 100, 200)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
    }

    #[test]
    fn link_local_and_metadata_addresses_are_forbidden() {
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
}
