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

/// An attempt counted as failed before it is checked; [`Attempt::not_a_failure`] takes it back when the check
/// passes or never ran.
#[must_use]
pub struct Attempt(Vec<i64>);

impl Attempt {
    pub async fn not_a_failure(self, store: &Store) -> anyhow::Result<()> {
        Ok(store.forget_login_attempt(&self.0).await?)
    }
}

/// Whether an attempt may be checked.
pub enum Admission {
    Admitted(Attempt),
    /// Refused without a check (and not counted): the account or the address is paused for this many minutes.
    Paused {
        minutes: i64,
    },
}

/// Counts an attempt of `email` from `ip` (a password or a code) as failed before it is checked, so attempts sent at
/// once each see the others, and refuses it when the limits are reached. Sign-in, its second step and the account
/// page's password check all go through here, so they share one count.
pub async fn admit(store: &Store, email: &str, ip: &str, now: i64) -> anyhow::Result<Admission> {
    let subjects = [account_subject(email, ip), address_subject(ip)];
    let ids = store.record_login_attempt(&subjects, now).await?;
    match locked_until(store, email, ip, now).await? {
        Some(until) => {
            // A refused attempt checked nothing, so it does not count towards the lock.
            store.forget_login_attempt(&ids).await?;
            Ok(Admission::Paused {
                minutes: ((until - now) / 60_000 + 1).max(1),
            })
        }
        None => Ok(Admission::Admitted(Attempt(ids))),
    }
}

/// "1 minute", "15 minutes".
pub fn minutes(n: i64) -> String {
    format!("{n} minute{}", if n == 1 { "" } else { "s" })
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
