//! Target `jws`: the signed-data verifier (`SignedDataVerifier`): the three base64url parts, the header and its
//! x5c chain, certificate parsing and the path to a trusted root, the signature, the payload typed as each kind
//! the app verifies, and the claims checks. The first byte chooses what the rest is (its value modulo 16):
//!
//! - 0–3: a whole JWS, verified as a notification (either environment, as the webhook does), a transaction,
//!   renewal info or an app transaction;
//! - 4–7: a payload, which the harness signs with Apple's header and the test chain so that the fuzzer gets past
//!   the signature to the payload's typing and the claims checks; verified as the same four kinds;
//! - 8–11: a header JSON, a newline and a payload, signed by the harness: the header's fields and x5c entries as
//!   the verifier reads them;
//! - 12–15: two certificates, a big-endian u16 length and the leaf's DER, then the intermediate's DER, validated
//!   as a chain (`validate_chain`) at a date inside the test chain's validity.
use chrono::{TimeZone as _, Utc};
use storedesk::apple::{AppIdentity, Environment, SignedDataVerifier, VerifyError};

use super::mode_and_rest;
use super::pki::{sign, sign_payload, verifier};

/// The project's identity the fixtures are made for (Apple's test data says `com.example` and app 41234).
pub const BUNDLE_ID: &str = "com.example";
pub const APP_APPLE_ID: i64 = 41234;

/// A transaction "verified before", for `recognise_transaction` (Apple's model, as the index stores it).
const STORED_TRANSACTION: &str =
    include_str!("../../../fixtures/apple/python-tests/models/signedTransaction.json");

pub fn run(data: &[u8]) {
    let (mode, rest) = mode_and_rest(data);
    let mode = mode % 16;
    match mode {
        0..=3 => verify_as(mode, &String::from_utf8_lossy(rest)),
        4..=7 => verify_as(mode % 4, &sign_payload(rest)),
        8..=11 => {
            let (header, payload) = match rest.iter().position(|b| *b == b'\n') {
                Some(at) => (&rest[..at], &rest[at + 1..]),
                None => (rest, &[][..]),
            };
            verify_as(mode % 4, &sign(header, payload));
        }
        _ => certificates(mode, rest),
    }
}

fn identity(environment: Environment) -> AppIdentity {
    AppIdentity {
        bundle_id: BUNDLE_ID.into(),
        app_apple_id: Some(APP_APPLE_ID),
        environment,
    }
}

fn verify_as(kind: u8, jws: &str) {
    let v: &SignedDataVerifier = verifier();
    let sandbox = identity(Environment::Sandbox);
    match kind {
        0 => check(
            v.verify_notification_any_env(jws, BUNDLE_ID, Some(APP_APPLE_ID))
                .map(|(n, _, _)| n.raw),
        ),
        1 => {
            check(v.verify_transaction(jws, &sandbox).map(|t| t.raw));
            // The shortcut for a copy of a transaction verified before reads the JWS without checking it.
            if let Some(t) = SignedDataVerifier::recognise_transaction(jws, &sandbox, |_| {
                Some(STORED_TRANSACTION)
            }) {
                assert!(t.raw.is_object());
            }
        }
        2 => check(v.verify_renewal_info(jws, &sandbox).map(|r| r.raw)),
        _ => check(
            v.verify_app_transaction(jws, &identity(Environment::Production))
                .map(|a| a.raw),
        ),
    }
}

fn check(result: Result<serde_json::Value, VerifyError>) {
    match result {
        Ok(raw) => assert!(raw.is_object(), "a verified payload that is not an object"),
        Err(e) => {
            assert!(!e.to_string().is_empty());
            assert!(!e.code().is_empty());
        }
    }
}

fn certificates(mode: u8, rest: &[u8]) {
    let (leaf, intermediate) = match rest {
        [hi, lo, tail @ ..] => {
            let n = usize::from(u16::from_be_bytes([*hi, *lo])).min(tail.len());
            tail.split_at(n)
        }
        _ => (rest, &[][..]),
    };
    // Inside the test chain's validity (2023-2033) and the real Apple chain's in the seeds.
    let at = if mode % 2 == 0 {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
    } else {
        Utc.with_ymd_and_hms(2024, 6, 1, 0, 0, 0)
    };
    let Some(at) = at.single() else { return };
    match verifier().validate_chain(leaf, intermediate, at) {
        Ok(chain) => assert!(chain.not_before <= chain.not_after),
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}
