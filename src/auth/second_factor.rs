//! The second step of sign-in: TOTP (RFC 6238: SHA-1, 6 digits, 30-second steps, what authenticator apps take)
//! and one-time recovery codes. The secret is sealed under the master key as the Apple keys are
//! (`crate::crypto::seal`), bound to its user; it is shown only while the enrolment waits for its first code.
//!
//! A method is what [`Method`] names; passkeys have their own check (`crate::auth::passkey`), and the sign-in's
//! second page offers whichever methods the user has.
use rand::RngCore as _;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, Secret, TOTP};
use zeroize::Zeroizing;

use crate::crypto::Keyring;
use crate::store::second_factor::{SecondFactorRow, TOTP as TOTP_KIND};
use crate::store::{Actor, Store};

pub const STEP_SECONDS: u64 = 30;
pub const DIGITS: usize = 6;
/// 160 bits, the length RFC 4226 recommends.
const SECRET_BYTES: usize = 20;
pub const RECOVERY_CODES: usize = 10;
/// 80 random bits each: too many to guess even with a fast hash stored.
const RECOVERY_BYTES: usize = 10;
/// How long a right password waits for its second factor.
pub const PENDING_MS: i64 = 5 * 60 * 1000;

/// The ways a second step can be passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Totp,
    RecoveryCode,
    /// A passkey (WebAuthn), checked by `crate::auth::passkey`.
    Passkey,
}

/// Associated data binds a sealed secret to its user and method: a copied ciphertext opens for nobody else.
fn aad(user_id: i64, kind: &str) -> Vec<u8> {
    format!("storedesk/second-factor/v1/user:{user_id}/kind:{kind}").into_bytes()
}

fn totp(secret: &[u8]) -> anyhow::Result<TOTP> {
    TOTP::new(Algorithm::SHA1, DIGITS, 0, STEP_SECONDS, secret.to_vec())
        .map_err(|e| anyhow::anyhow!("the TOTP secret is not usable: {e}"))
}

/// A new enrolment's secret as the page shows it: base32 and the otpauth:// URI authenticator apps read.
pub struct Enrolment {
    pub secret_base32: Zeroizing<String>,
    pub uri: Zeroizing<String>,
}

fn base32(secret: &[u8]) -> Zeroizing<String> {
    match &Secret::Raw(secret.to_vec()).to_encoded() {
        Secret::Encoded(s) => Zeroizing::new(s.clone()),
        Secret::Raw(_) => Zeroizing::new(String::new()),
    }
}

fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// The otpauth:// URI (Key URI format): issuer and account in the label and the issuer again as a parameter.
pub fn otpauth_uri(secret_base32: &str, issuer: &str, account: &str) -> String {
    format!(
        "otpauth://totp/{}:{}?secret={secret_base32}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
        encode(issuer),
        encode(account),
        encode(issuer)
    )
}

/// Starts (or starts over) the user's TOTP enrolment with a new secret, sealed under the current master key.
pub async fn begin_totp(store: &Store, keyring: &Keyring, user_id: i64) -> anyhow::Result<()> {
    let mut secret = Zeroizing::new([0u8; SECRET_BYTES]);
    rand::rngs::OsRng.fill_bytes(secret.as_mut());
    let master = keyring.current();
    let sealed = master.seal(secret.as_ref(), &aad(user_id, TOTP_KIND));
    store
        .begin_second_factor(user_id, TOTP_KIND, &sealed, &master.key_id())
        .await?;
    Ok(())
}

fn open(keyring: &Keyring, row: &SecondFactorRow) -> anyhow::Result<Zeroizing<Vec<u8>>> {
    Ok(keyring.open_sealed(
        &row.master_key_id,
        &row.sealed_secret,
        &aad(row.user_id, &row.kind),
        &format!("the second factor of user {}", row.user_id),
    )?)
}

/// The waiting enrolment's secret as the page shows it, or None when there is none (or it is already confirmed:
/// a confirmed secret is never shown again).
pub async fn pending_enrolment(
    store: &Store,
    keyring: &Keyring,
    user_id: i64,
    issuer: &str,
    account: &str,
) -> anyhow::Result<Option<Enrolment>> {
    let Some(row) = store.second_factor(user_id, TOTP_KIND).await? else {
        return Ok(None);
    };
    if row.confirmed_at.is_some() {
        return Ok(None);
    }
    let secret = open(keyring, &row)?;
    let secret_base32 = base32(&secret);
    let uri = Zeroizing::new(otpauth_uri(&secret_base32, issuer, account));
    Ok(Some(Enrolment { secret_base32, uri }))
}

/// What a typed code turned out to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeCheck {
    /// Right, for this 30-second step, not used before.
    Accepted(i64),
    /// Right, but a code of this step (or a later one) was already accepted.
    Replayed,
    Wrong,
}

/// The current 30-second step at `now_ms`.
pub fn step_at(now_ms: i64) -> i64 {
    now_ms.div_euclid(1000) / STEP_SECONDS as i64
}

/// Checks `code` against the current step and the one before it (clock skew between phone and server); steps up
/// to `last_step` were used already.
fn check_code(secret: &[u8], code: &str, now_ms: i64, last_step: i64) -> anyhow::Result<CodeCheck> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != DIGITS || !code.chars().all(|c| c.is_ascii_digit()) {
        return Ok(CodeCheck::Wrong);
    }
    let totp = totp(secret)?;
    let now = step_at(now_ms);
    for step in [now, now - 1] {
        let Ok(at) = u64::try_from(step) else {
            continue;
        };
        let expected = totp.generate(at * STEP_SECONDS);
        if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) {
            return Ok(if step <= last_step {
                CodeCheck::Replayed
            } else {
                CodeCheck::Accepted(step)
            });
        }
    }
    Ok(CodeCheck::Wrong)
}

/// Why a confirmation did not turn TOTP on.
#[derive(Debug, PartialEq, Eq)]
pub enum ConfirmOutcome {
    /// On, with these recovery codes to show once.
    Confirmed(Vec<String>),
    WrongCode,
    NothingWaiting,
}

pub const WRONG_CONFIRMATION: &str =
    "This code is not right. Type the 6-digit code your app shows now for storedesk; nothing was turned on.";

/// Confirms the waiting enrolment with a code from the user's app; on success TOTP is on and ten recovery codes
/// are made (only their hashes are stored).
pub async fn confirm_totp(
    store: &Store,
    keyring: &Keyring,
    user_id: i64,
    code: &str,
    actor: &Actor,
) -> anyhow::Result<ConfirmOutcome> {
    let Some(row) = store.second_factor(user_id, TOTP_KIND).await? else {
        return Ok(ConfirmOutcome::NothingWaiting);
    };
    if row.confirmed_at.is_some() {
        return Ok(ConfirmOutcome::NothingWaiting);
    }
    let secret = open(keyring, &row)?;
    let CodeCheck::Accepted(step) = check_code(&secret, code, crate::clock::now_ms(), -1)? else {
        return Ok(ConfirmOutcome::WrongCode);
    };
    let codes = new_recovery_codes();
    let hashes: Vec<String> = codes.iter().map(|c| recovery_code_hash(c)).collect();
    if !store
        .confirm_second_factor(user_id, TOTP_KIND, step, &hashes, actor)
        .await?
    {
        return Ok(ConfirmOutcome::NothingWaiting);
    }
    Ok(ConfirmOutcome::Confirmed(codes))
}

/// Ten new recovery codes for a user who has TOTP on (the old ones stop working); None when TOTP is not on.
pub async fn regenerate_recovery_codes(
    store: &Store,
    user_id: i64,
    actor: &Actor,
) -> anyhow::Result<Option<Vec<String>>> {
    if !store.has_second_factor(user_id).await? {
        return Ok(None);
    }
    let codes = new_recovery_codes();
    let hashes: Vec<String> = codes.iter().map(|c| recovery_code_hash(c)).collect();
    store
        .replace_recovery_codes(user_id, &hashes, actor)
        .await?;
    Ok(Some(codes))
}

/// The outcome of a second step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepOutcome {
    Passed(Method),
    Replayed,
    Wrong,
}

/// Checks what the user typed on the second page: a recovery code (consumed) or a TOTP code (its step recorded,
/// so it cannot be used again).
pub async fn verify(
    store: &Store,
    keyring: &Keyring,
    user_id: i64,
    typed: &str,
) -> anyhow::Result<StepOutcome> {
    if looks_like_recovery_code(typed) {
        let used = store
            .use_recovery_code(user_id, &recovery_code_hash(typed))
            .await?;
        return Ok(if used {
            StepOutcome::Passed(Method::RecoveryCode)
        } else {
            StepOutcome::Wrong
        });
    }
    let Some(row) = store
        .second_factor(user_id, TOTP_KIND)
        .await?
        .filter(|r| r.confirmed_at.is_some())
    else {
        return Ok(StepOutcome::Wrong);
    };
    let secret = open(keyring, &row)?;
    match check_code(&secret, typed, crate::clock::now_ms(), row.last_step)? {
        CodeCheck::Accepted(step) => {
            // Two requests with the same code at once: the database lets one of them record the step.
            if store.accept_code_step(user_id, TOTP_KIND, step).await? {
                Ok(StepOutcome::Passed(Method::Totp))
            } else {
                Ok(StepOutcome::Replayed)
            }
        }
        CodeCheck::Replayed => Ok(StepOutcome::Replayed),
        CodeCheck::Wrong => Ok(StepOutcome::Wrong),
    }
}

/// Recovery codes as shown: 16 base32 letters and digits in four groups (`abcd-efgh-ijkl-mnop`).
fn new_recovery_codes() -> Vec<String> {
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut bytes = [0u8; RECOVERY_BYTES];
            rand::rngs::OsRng.fill_bytes(&mut bytes);
            let plain = base32(&bytes).to_ascii_lowercase();
            plain
                .as_bytes()
                .chunks(4)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect::<Vec<_>>()
                .join("-")
        })
        .collect()
}

/// A recovery code as compared: without dashes and spaces, lower case.
fn normalise_recovery_code(typed: &str) -> String {
    typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect::<String>()
        .to_ascii_lowercase()
}

fn looks_like_recovery_code(typed: &str) -> bool {
    normalise_recovery_code(typed).len() == RECOVERY_BYTES * 8 / 5
}

/// What is stored of a recovery code: SHA-256 (hex) of its normalised form.
pub fn recovery_code_hash(code: &str) -> String {
    hex::encode(Sha256::digest(normalise_recovery_code(code).as_bytes()))
}

/// Re-seals every second-factor secret under `new` (a master-key rotation). Returns how many rows changed.
pub async fn reseal_all(
    store: &Store,
    old: &crate::crypto::MasterKey,
    new: &crate::crypto::MasterKey,
) -> anyhow::Result<usize> {
    let keyring = Keyring::new(old.clone(), Vec::new());
    let new_id = new.key_id();
    let mut count = 0;
    for row in store.all_sealed_second_factors().await? {
        if row.master_key_id == new_id {
            continue;
        }
        let sealed = keyring.reseal(
            new,
            &row.master_key_id,
            &row.sealed_secret,
            &aad(row.user_id, &row.kind),
            &format!("the second factor of user {}", row.user_id),
        )?;
        if store
            .reseal_second_factor(row.id, &row.master_key_id, &sealed, &new_id)
            .await?
        {
            count += 1;
        }
    }
    Ok(count)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    /// RFC 6238 appendix B's SHA-1 secret and vectors (the last 6 of its 8 digits).
    const RFC_SECRET: &[u8] = b"12345678901234567890";

    #[test]
    fn codes_match_rfc_6238_vectors() {
        let t = totp(RFC_SECRET).unwrap();
        assert_eq!(t.generate(59), "287082");
        assert_eq!(t.generate(1_111_111_109), "081804");
        assert_eq!(t.generate(2_000_000_000), "279037");
    }

    #[test]
    fn the_current_and_previous_step_pass_once_and_older_ones_never() {
        let t = totp(RFC_SECRET).unwrap();
        let now_ms = 1_111_111_109_000;
        let step = step_at(now_ms);
        let code = |s: i64| t.generate(s as u64 * STEP_SECONDS);
        assert_eq!(
            check_code(RFC_SECRET, &code(step), now_ms, -1).unwrap(),
            CodeCheck::Accepted(step)
        );
        assert_eq!(
            check_code(RFC_SECRET, &code(step - 1), now_ms, -1).unwrap(),
            CodeCheck::Accepted(step - 1)
        );
        assert_eq!(
            check_code(RFC_SECRET, &code(step - 2), now_ms, -1).unwrap(),
            CodeCheck::Wrong
        );
        assert_eq!(
            check_code(RFC_SECRET, &code(step), now_ms, step).unwrap(),
            CodeCheck::Replayed
        );
        assert_eq!(
            check_code(RFC_SECRET, "12a456", now_ms, -1).unwrap(),
            CodeCheck::Wrong
        );
    }

    #[test]
    fn recovery_codes_are_ten_distinct_and_compare_without_dashes_or_case() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), 10);
        let distinct: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(distinct.len(), 10);
        assert_eq!(codes[0].len(), 19);
        assert!(looks_like_recovery_code(&codes[0]));
        assert_eq!(
            recovery_code_hash(&codes[0]),
            recovery_code_hash(&codes[0].replace('-', " ").to_uppercase())
        );
        assert!(!looks_like_recovery_code("123456"));
    }

    #[test]
    fn the_uri_names_the_issuer_and_account() {
        assert_eq!(
            otpauth_uri("JBSWY3DPEHPK3PXP", "storedesk", "ana+ops@example.com"),
            "otpauth://totp/storedesk:ana%2Bops%40example.com?secret=JBSWY3DPEHPK3PXP&issuer=storedesk&algorithm=SHA1&digits=6&period=30"
        );
    }
}
