//! Sign-in throttling: too many failures for one account or from one address lock sign-in for a while.
use crate::store::Store;

pub const WINDOW_MS: i64 = 15 * 60 * 1000;
pub const MAX_PER_ACCOUNT: i64 = 5;
pub const MAX_PER_ADDRESS: i64 = 20;

pub fn account_subject(email: &str) -> String {
    format!("account:{}", email.trim().to_ascii_lowercase())
}

pub fn address_subject(ip: &str) -> String {
    format!("address:{ip}")
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
        .login_failures_since(&account_subject(email), since)
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
