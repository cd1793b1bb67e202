//! Sign-in throttling. Failures are counted per account *and address* together, and per address alone, so one
//! address's guesses lock that address out — never the account's owner signing in from elsewhere, and never the
//! other users behind the same proxy once `STOREDESK_TRUSTED_PROXIES` names it. An IPv6 client counts by its /64.
use crate::store::Store;

pub const WINDOW_MS: i64 = 15 * 60 * 1000;
/// Failures for one account from one address before that address is refused for that account.
pub const MAX_PER_ACCOUNT: i64 = 5;
/// Failures from one address, whatever accounts they tried, before the address is refused.
pub const MAX_PER_ADDRESS: i64 = 20;

/// The address as throttling counts it (an IPv6 address by its /64); text that is no address counts as itself.
fn address_key(ip: &str) -> String {
    ip.parse::<std::net::IpAddr>()
        .map_or_else(|_| ip.to_owned(), crate::client_address::throttle_key)
}

/// One account tried from one address.
pub fn account_subject(email: &str, ip: &str) -> String {
    format!(
        "account:{}|address:{}",
        email.trim().to_ascii_lowercase(),
        address_key(ip)
    )
}

pub fn address_subject(ip: &str) -> String {
    format!("address:{}", address_key(ip))
}

/// When this attempt, already counted by [`Store::record_login_attempt`], finds sign-in locked: the time (ms) at
/// which it opens again. The limits are the failures allowed before the lock, so the attempt after them is refused.
pub async fn locked_until(
    store: &Store,
    email: &str,
    ip: &str,
    now: i64,
) -> anyhow::Result<Option<i64>> {
    let since = now - WINDOW_MS;
    let (per_account, oldest_a) = store
        .login_failures_since(&account_subject(email, ip), since)
        .await?;
    let (per_address, oldest_b) = store
        .login_failures_since(&address_subject(ip), since)
        .await?;
    let mut until = None;
    if per_account > MAX_PER_ACCOUNT {
        until = oldest_a.map(|t| t + WINDOW_MS);
    }
    if per_address > MAX_PER_ADDRESS {
        let b = oldest_b.map(|t| t + WINDOW_MS);
        until = until.max(b);
    }
    Ok(until)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_is_counted_per_address_and_ipv6_by_its_64() {
        assert_eq!(
            account_subject(" Ana@Example.com ", "2001:db8:1:2::77"),
            "account:ana@example.com|address:2001:db8:1:2::/64"
        );
        assert_eq!(
            address_subject("2001:db8:1:2:ffff::1"),
            "address:2001:db8:1:2::/64"
        );
        assert_eq!(address_subject("198.51.100.7"), "address:198.51.100.7");
        assert_eq!(address_subject("unknown"), "address:unknown");
    }
}
