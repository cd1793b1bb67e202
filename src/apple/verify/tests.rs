//! Verifier tests: Apple's signed test vectors, and chains and payloads signed here with the test PKI.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use std::path::PathBuf;
use std::time::Duration;

use app_store_server_library::models::notification_type_v2::NotificationTypeV2;
use app_store_server_library::models::product_type::ProductType;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use chrono::TimeZone as _;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::SigningKey;
use p256::pkcs8::DecodePrivateKey as _;
use serde_json::json;

use super::*;

fn fixture_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/apple")
        .join(rel)
}

fn fixture(rel: &str) -> Vec<u8> {
    std::fs::read(fixture_path(rel)).unwrap_or_else(|e| panic!("fixture {rel}: {e}"))
}

fn fixture_str(rel: &str) -> String {
    String::from_utf8(fixture(rel)).unwrap().trim().to_owned()
}

fn pem_der(rel: &str) -> Vec<u8> {
    root_ders(&fixture(rel)).unwrap().remove(0)
}

fn test_ca_verifier() -> SignedDataVerifier {
    SignedDataVerifier::with_roots(vec![fixture("python-tests/certs/testCA.der")]).unwrap()
}

fn sandbox_app() -> AppIdentity {
    AppIdentity {
        bundle_id: "com.example".into(),
        app_apple_id: Some(1234),
        environment: Environment::Sandbox,
    }
}

fn production_app(app_apple_id: Option<i64>) -> AppIdentity {
    AppIdentity {
        bundle_id: "com.example".into(),
        app_apple_id,
        environment: Environment::Production,
    }
}

fn test_leaf_key() -> SigningKey {
    let pem = String::from_utf8(fixture("java-test-pki/testLeaf.key")).unwrap();
    SigningKey::from(p256::SecretKey::from_sec1_pem(&pem).unwrap())
}

/// The public test chain (leaf, intermediate, root) as DER.
fn test_chain() -> Vec<Vec<u8>> {
    vec![
        pem_der("java-test-pki/testLeaf.pem"),
        pem_der("java-test-pki/testIntermediate.pem"),
        pem_der("java-test-pki/testCA.pem"),
    ]
}

fn sign_jws(key: &SigningKey, x5c: &[Vec<u8>], payload: &serde_json::Value) -> String {
    let certs: Vec<String> = x5c.iter().map(|d| STANDARD.encode(d)).collect();
    let header = json!({"alg": "ES256", "typ": "JWT", "x5c": certs});
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap()),
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(payload).unwrap())
    );
    let sig: p256::ecdsa::Signature = key.sign(signing_input.as_bytes());
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
}

/// 2025-11-01, the date Apple's own chain tests use; inside every test certificate's validity.
const SIGNED_2025_MS: i64 = 1_761_962_975_000;

fn sandbox_transaction(signed_date: serde_json::Value) -> serde_json::Value {
    json!({
        "transactionId": "2000000442013708",
        "originalTransactionId": "2000000442013708",
        "bundleId": "com.example",
        "productId": "com.example.premium",
        "environment": "Sandbox",
        "signedDate": signed_date,
        "type": "Auto-Renewable Subscription",
    })
}

// ---- Apple's mock_signed_data vectors ----

#[test]
fn test_notification_verifies_and_decodes() {
    let v = test_ca_verifier();
    let jws = fixture_str("python-tests/mock_signed_data/testNotification");
    let verified = v.verify_notification(&jws, &sandbox_app()).unwrap();
    assert_eq!(
        verified.payload.notification_type,
        Some(NotificationTypeV2::Test)
    );
    assert_eq!(
        verified.raw["notificationUUID"],
        "9ad56bd2-0bc6-42e0-af24-fd996d87a1e6"
    );
    let data = verified.payload.data.unwrap();
    assert_eq!(data.environment, Some(LibEnvironment::Sandbox));
    assert_eq!(data.app_apple_id, Some(1234));
}

#[test]
fn test_notification_refused_for_production() {
    let v = test_ca_verifier();
    let jws = fixture_str("python-tests/mock_signed_data/testNotification");
    let err = v
        .verify_notification(&jws, &production_app(Some(1234)))
        .unwrap_err();
    assert_eq!(
        err,
        VerifyError::WrongEnvironment {
            expected: "Production".into(),
            got: "Sandbox".into()
        }
    );
    assert_eq!(err.code(), "INVALID_ENVIRONMENT");

    let err = v
        .verify_notification(&jws, &production_app(Some(1235)))
        .unwrap_err();
    assert_eq!(
        err,
        VerifyError::WrongAppAppleId {
            expected: 1235,
            got: Some(1234)
        }
    );
    assert_eq!(err.code(), "INVALID_APP_IDENTIFIER");

    let err = v
        .verify_notification(&jws, &production_app(None))
        .unwrap_err();
    assert_eq!(err, VerifyError::AppAppleIdNotConfigured);
}

#[test]
fn transaction_info_verifies_and_checks_bundle() {
    let v = test_ca_verifier();
    let jws = fixture_str("python-tests/mock_signed_data/transactionInfo");
    let verified = v.verify_transaction(&jws, &sandbox_app()).unwrap();
    assert_eq!(verified.payload.environment, Some(LibEnvironment::Sandbox));
    assert_eq!(verified.payload.bundle_id.as_deref(), Some("com.example"));

    let other = AppIdentity {
        bundle_id: "com.other".into(),
        ..sandbox_app()
    };
    let err = v.verify_transaction(&jws, &other).unwrap_err();
    assert_eq!(
        err,
        VerifyError::WrongBundleId {
            expected: "com.other".into(),
            got: Some("com.example".into())
        }
    );
    assert!(err.to_string().contains("\"com.example\""));

    let err = v
        .verify_transaction(&jws, &production_app(Some(1234)))
        .unwrap_err();
    assert!(matches!(err, VerifyError::WrongEnvironment { .. }));
}

#[test]
fn renewal_info_verifies_and_checks_environment_only() {
    let v = test_ca_verifier();
    let jws = fixture_str("python-tests/mock_signed_data/renewalInfo");
    let other_bundle = AppIdentity {
        bundle_id: "com.anything".into(),
        ..sandbox_app()
    };
    let verified = v.verify_renewal_info(&jws, &other_bundle).unwrap();
    assert_eq!(verified.payload.environment, Some(LibEnvironment::Sandbox));
    let err = v
        .verify_renewal_info(&jws, &production_app(Some(1234)))
        .unwrap_err();
    assert!(matches!(err, VerifyError::WrongEnvironment { .. }));
}

#[test]
fn wrong_bundle_id_vector_is_refused() {
    let v = test_ca_verifier();
    let jws = fixture_str("python-tests/mock_signed_data/wrongBundleId");
    let expected = AppIdentity {
        bundle_id: "com.examplex".into(),
        ..sandbox_app()
    };
    let err = v.verify_notification(&jws, &expected).unwrap_err();
    assert_eq!(
        err,
        VerifyError::WrongBundleId {
            expected: "com.examplex".into(),
            got: Some("com.example.wrong".into())
        }
    );
}

#[test]
fn missing_x5c_is_refused() {
    let v = test_ca_verifier();
    let jws = fixture_str("python-tests/mock_signed_data/missingX5CHeaderClaim");
    let err = v.verify_notification(&jws, &sandbox_app()).unwrap_err();
    assert_eq!(err, VerifyError::MissingX5c);
    assert_eq!(err.code(), "VERIFICATION_FAILURE");
}

#[test]
fn malformed_jws_is_refused() {
    let v = test_ca_verifier();
    for jws in ["a.b.c", "a.b.c.d", "", "abc", "a..c"] {
        let err = v.verify_notification(jws, &sandbox_app()).unwrap_err();
        assert!(
            matches!(err, VerifyError::MalformedJws(_)),
            "{jws:?} gave {err:?}"
        );
        assert_eq!(err.code(), "VERIFICATION_FAILURE");
    }
}

#[test]
fn tampered_data_fails_the_signature() {
    let v = test_ca_verifier();
    let jws = fixture_str("python-tests/mock_signed_data/testNotification");
    let parts: Vec<&str> = jws.split('.').collect();

    // Change a payload value but keep valid JSON, so only the signature can catch it.
    let mut payload: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    payload["notificationUUID"] = json!("9ad56bd2-0bc6-42e0-af24-fd996d87a1e7");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&payload).unwrap()),
        parts[2]
    );
    assert_eq!(
        v.verify_notification(&forged, &sandbox_app()).unwrap_err(),
        VerifyError::BadSignature
    );

    // Flip one character of the signature.
    let mut sig: Vec<char> = parts[2].chars().collect();
    sig[10] = if sig[10] == 'A' { 'B' } else { 'A' };
    let flipped = format!(
        "{}.{}.{}",
        parts[0],
        parts[1],
        sig.into_iter().collect::<String>()
    );
    assert_eq!(
        v.verify_notification(&flipped, &sandbox_app()).unwrap_err(),
        VerifyError::BadSignature
    );
}

#[test]
fn default_roots_reject_the_test_chain() {
    let v = SignedDataVerifier::new();
    assert_eq!(v.root_count(), 1);
    let jws = fixture_str("python-tests/mock_signed_data/testNotification");
    let err = v.verify_notification(&jws, &sandbox_app()).unwrap_err();
    assert!(matches!(err, VerifyError::UntrustedChain(_)), "got {err:?}");
    assert_eq!(err.code(), "INVALID_CHAIN");
}

#[test]
fn extra_roots_accept_der_and_pem() {
    let v = SignedDataVerifier::new()
        .with_extra_roots(vec![fixture("python-tests/certs/testCA.der")])
        .unwrap();
    assert_eq!(v.root_count(), 2);
    let jws = fixture_str("python-tests/mock_signed_data/transactionInfo");
    v.verify_transaction(&jws, &sandbox_app()).unwrap();

    let v = SignedDataVerifier::with_roots(vec![fixture("java-test-pki/testCA.pem")]).unwrap();
    v.verify_transaction(&jws, &sandbox_app()).unwrap();

    assert!(matches!(
        SignedDataVerifier::with_roots(vec![b"not a certificate".to_vec()]),
        Err(VerifyError::InvalidRoot(_))
    ));
}

#[test]
fn xcode_data_is_never_accepted() {
    let v = SignedDataVerifier::new()
        .with_extra_roots(vec![fixture("python-tests/certs/testCA.der")])
        .unwrap();
    let app = AppIdentity {
        bundle_id: "com.example.naturelab.backyardbirds.example".into(),
        app_apple_id: None,
        environment: Environment::Sandbox,
    };
    let tx = fixture_str("python-tests/xcode/xcode-signed-transaction");
    assert_eq!(
        v.verify_transaction(&tx, &app).unwrap_err(),
        VerifyError::WrongChainLength(1)
    );
    let renewal = fixture_str("python-tests/xcode/xcode-signed-renewal-info");
    assert_eq!(
        v.verify_renewal_info(&renewal, &app).unwrap_err(),
        VerifyError::WrongChainLength(1)
    );
    let app_tx = fixture_str("python-tests/xcode/xcode-signed-app-transaction");
    let err = v.verify_app_transaction(&app_tx, &app).unwrap_err();
    assert_eq!(err, VerifyError::WrongChainLength(1));
    assert_eq!(err.code(), "INVALID_CHAIN_LENGTH");
}

// ---- Payloads we sign ourselves with the public test PKI ----

#[test]
fn own_payload_signed_with_test_pki_verifies() {
    let v = test_ca_verifier();
    let mut payload = sandbox_transaction(json!(SIGNED_2025_MS));
    payload["someFutureField"] = json!({"nested": true});
    payload["inAppOwnershipType"] = json!("SOMETHING_NEW");
    let jws = sign_jws(&test_leaf_key(), &test_chain(), &payload);
    let verified = v.verify_transaction(&jws, &sandbox_app()).unwrap();
    assert_eq!(
        verified.payload.transaction_id.as_deref(),
        Some("2000000442013708")
    );
    assert_eq!(
        verified.payload.r#type,
        Some(ProductType::AutoRenewableSubscription)
    );
    // Unknown fields stay in the raw JSON; unknown enum values stay raw in the typed payload.
    assert_eq!(verified.raw["someFutureField"]["nested"], true);
    assert!(matches!(
        verified.payload.in_app_ownership_type,
        Some(app_store_server_library::models::in_app_ownership_type::InAppOwnershipType::NotSupported(ref s)) if s == "SOMETHING_NEW"
    ));
}

#[test]
fn float_and_string_dates_are_accepted() {
    let v = test_ca_verifier();
    for date in [json!(1_761_962_975_000.729_7_f64), json!("1761962975000")] {
        let jws = sign_jws(&test_leaf_key(), &test_chain(), &sandbox_transaction(date));
        let verified = v.verify_transaction(&jws, &sandbox_app()).unwrap();
        assert_eq!(
            verified.payload.signed_date.map(|d| d.timestamp_millis()),
            Some(SIGNED_2025_MS)
        );
    }
}

#[test]
fn x5c_root_entry_is_ignored() {
    let v = test_ca_verifier();
    let mut chain = test_chain();
    chain[2] = b"junk".to_vec();
    let jws = sign_jws(
        &test_leaf_key(),
        &chain,
        &sandbox_transaction(json!(SIGNED_2025_MS)),
    );
    v.verify_transaction(&jws, &sandbox_app()).unwrap();
}

#[test]
fn wrong_chain_lengths_are_refused() {
    let v = test_ca_verifier();
    let payload = sandbox_transaction(json!(SIGNED_2025_MS));
    let mut chain = test_chain();
    chain.pop();
    let jws = sign_jws(&test_leaf_key(), &chain, &payload);
    assert_eq!(
        v.verify_transaction(&jws, &sandbox_app()).unwrap_err(),
        VerifyError::WrongChainLength(2)
    );
    let mut chain = test_chain();
    chain.push(chain[2].clone());
    let jws = sign_jws(&test_leaf_key(), &chain, &payload);
    assert_eq!(
        v.verify_transaction(&jws, &sandbox_app()).unwrap_err(),
        VerifyError::WrongChainLength(4)
    );
}

#[test]
fn unsupported_algorithm_and_bad_certificates_are_refused() {
    let v = test_ca_verifier();
    let payload = sandbox_transaction(json!(SIGNED_2025_MS));
    let jws = sign_jws(&test_leaf_key(), &test_chain(), &payload);
    let parts: Vec<&str> = jws.split('.').collect();
    let mut header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    header["alg"] = json!("none");
    let none_alg = format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap()),
        parts[1],
        parts[2]
    );
    assert_eq!(
        v.verify_transaction(&none_alg, &sandbox_app()).unwrap_err(),
        VerifyError::UnsupportedAlgorithm
    );

    let mut chain = test_chain();
    chain[0] = b"not a certificate".to_vec();
    let jws = sign_jws(&test_leaf_key(), &chain, &payload);
    let err = v.verify_transaction(&jws, &sandbox_app()).unwrap_err();
    assert!(
        matches!(err, VerifyError::BadCertificate { which: "leaf", .. }),
        "{err:?}"
    );
    assert_eq!(err.code(), "INVALID_CERTIFICATE");
}

#[test]
fn payload_of_the_wrong_shape_is_refused() {
    let v = test_ca_verifier();
    let payload = json!({"bundleId": 42, "environment": "Sandbox", "signedDate": SIGNED_2025_MS});
    let jws = sign_jws(&test_leaf_key(), &test_chain(), &payload);
    let err = v.verify_transaction(&jws, &sandbox_app()).unwrap_err();
    assert!(matches!(err, VerifyError::PayloadShape { .. }), "{err:?}");
}

#[test]
fn intermediate_without_marker_oid_is_refused() {
    let v = test_ca_verifier();
    let chain = vec![
        pem_der("java-test-pki/testInvalidIntermediateLeaf.pem"),
        pem_der("java-test-pki/testInvalidOIDIntermediate.pem"),
        pem_der("java-test-pki/testCA.pem"),
    ];
    let jws = sign_jws(
        &test_leaf_key(),
        &chain,
        &sandbox_transaction(json!(SIGNED_2025_MS)),
    );
    let err = v.verify_transaction(&jws, &sandbox_app()).unwrap_err();
    assert_eq!(
        err,
        VerifyError::MissingMarkerOid {
            which: "intermediate",
            oid: "1.2.840.113635.100.6.2.1"
        }
    );
    assert!(err.to_string().contains("1.2.840.113635.100.6.2.1"));
}

#[test]
fn leaf_without_marker_oid_is_refused() {
    let v = test_ca_verifier();
    let chain = vec![
        pem_der("java-test-pki/testInvalidOIDLeaf.pem"),
        pem_der("java-test-pki/testIntermediate.pem"),
        pem_der("java-test-pki/testCA.pem"),
    ];
    let jws = sign_jws(
        &test_leaf_key(),
        &chain,
        &sandbox_transaction(json!(SIGNED_2025_MS)),
    );
    assert_eq!(
        v.verify_transaction(&jws, &sandbox_app()).unwrap_err(),
        VerifyError::MissingMarkerOid {
            which: "leaf",
            oid: "1.2.840.113635.100.6.11.1"
        }
    );
}

#[test]
fn signed_date_after_expiry_is_refused_even_with_a_warm_cache() {
    let v = test_ca_verifier();
    let ok = sign_jws(
        &test_leaf_key(),
        &test_chain(),
        &sandbox_transaction(json!(SIGNED_2025_MS)),
    );
    v.verify_transaction(&ok, &sandbox_app()).unwrap();
    assert_eq!(v.cache_len(), 1);

    // 2042-04-12, the date Apple's tests use for an expired chain.
    let late_ms = 2_280_946_846_000_i64;
    let late = sign_jws(
        &test_leaf_key(),
        &test_chain(),
        &sandbox_transaction(json!(late_ms)),
    );
    let err = v.verify_transaction(&late, &sandbox_app()).unwrap_err();
    assert_eq!(
        err,
        VerifyError::NotValidAtDate(DateTime::from_timestamp_millis(late_ms).unwrap())
    );
    assert!(err.to_string().contains("2042-04-12"), "{err}");
    assert_eq!(v.cache_hits(), 1, "the expired check used the cached chain");

    // Before the certificates existed.
    let early = sign_jws(
        &test_leaf_key(),
        &test_chain(),
        &sandbox_transaction(json!(1_600_000_000_000_i64)),
    );
    assert!(matches!(
        v.verify_transaction(&early, &sandbox_app()).unwrap_err(),
        VerifyError::NotValidAtDate(_)
    ));
}

#[test]
fn second_verify_of_a_chain_hits_the_cache() {
    let v = test_ca_verifier();
    let jws = fixture_str("python-tests/mock_signed_data/testNotification");
    assert_eq!(v.cache_len(), 0);
    v.verify_notification(&jws, &sandbox_app()).unwrap();
    assert_eq!((v.cache_len(), v.cache_hits()), (1, 0));
    v.verify_notification(&jws, &sandbox_app()).unwrap();
    assert_eq!((v.cache_len(), v.cache_hits()), (1, 1));

    // renewalInfo carries a different leaf/intermediate pair: a new entry.
    let renewal = fixture_str("python-tests/mock_signed_data/renewalInfo");
    v.verify_renewal_info(&renewal, &sandbox_app()).unwrap();
    assert_eq!((v.cache_len(), v.cache_hits()), (2, 1));

    // A failing chain is not cached.
    let bad = sign_jws(
        &test_leaf_key(),
        &[
            pem_der("java-test-pki/testInvalidOIDLeaf.pem"),
            pem_der("java-test-pki/testIntermediate.pem"),
            pem_der("java-test-pki/testCA.pem"),
        ],
        &sandbox_transaction(json!(SIGNED_2025_MS)),
    );
    assert!(v.verify_transaction(&bad, &sandbox_app()).is_err());
    assert_eq!(v.cache_len(), 2);

    // A forged signature on a cached chain still fails.
    let parts: Vec<&str> = jws.split('.').collect();
    let other_sig = renewal.split('.').nth(2).unwrap();
    let forged = format!("{}.{}.{}", parts[0], parts[1], other_sig);
    assert_eq!(
        v.verify_notification(&forged, &sandbox_app()).unwrap_err(),
        VerifyError::BadSignature
    );
}

#[test]
fn a_known_header_still_gets_every_check_its_text_implies() {
    let v = test_ca_verifier();
    let payload = sandbox_transaction(json!(SIGNED_2025_MS));
    let ok = sign_jws(&test_leaf_key(), &test_chain(), &payload);
    v.verify_transaction(&ok, &sandbox_app()).unwrap();
    v.verify_transaction(&ok, &sandbox_app()).unwrap();
    assert_eq!(
        (v.cache_len(), v.cache_hits()),
        (1, 1),
        "the known header reused the chain"
    );

    // The same certificates under another algorithm: another header text, checked in full.
    let certs: Vec<String> = test_chain().iter().map(|d| STANDARD.encode(d)).collect();
    let header = json!({"alg": "ES384", "typ": "JWT", "x5c": certs});
    let parts: Vec<&str> = ok.split('.').collect();
    let other = format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap()),
        parts[1],
        parts[2]
    );
    assert_eq!(
        v.verify_transaction(&other, &sandbox_app()).unwrap_err(),
        VerifyError::UnsupportedAlgorithm
    );
    // A known header with a payload that is not JSON fails as it would cold.
    let broken = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode("nope"),
        parts[2]
    );
    assert_eq!(
        v.verify_transaction(&broken, &sandbox_app()).unwrap_err(),
        VerifyError::MalformedJws("the payload is not JSON".into())
    );
    // And a known header does not vouch for a signature.
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(&sandbox_transaction(json!(SIGNED_2025_MS + 1))).unwrap()),
        parts[2]
    );
    assert_eq!(
        v.verify_transaction(&forged, &sandbox_app()).unwrap_err(),
        VerifyError::BadSignature
    );
}

#[test]
fn headers_beyond_the_last_few_are_still_recognised() {
    let v = test_ca_verifier();
    let certs: Vec<String> = test_chain().iter().map(|d| STANDARD.encode(d)).collect();
    let payload = URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(&sandbox_transaction(json!(SIGNED_2025_MS))).unwrap());
    // Eight header texts for one chain, more than are kept as text: each is validated once, then found again.
    let signed: Vec<String> = (0..8)
        .map(|i| {
            let header = json!({"alg": "ES256", "typ": "JWT", "kid": i, "x5c": certs});
            let input = format!(
                "{}.{payload}",
                URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap())
            );
            let sig: p256::ecdsa::Signature = test_leaf_key().sign(input.as_bytes());
            format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
        })
        .collect();
    v.verify_transaction(&signed[0], &sandbox_app()).unwrap();
    assert_eq!((v.cache_len(), v.cache_hits()), (1, 0));
    for jws in &signed[1..] {
        // Another header text with the same x5c: its chain comes from the cache.
        v.verify_transaction(jws, &sandbox_app()).unwrap();
    }
    assert_eq!((v.cache_len(), v.cache_hits()), (1, 7));
    for jws in signed.iter().chain(signed.iter().rev()) {
        v.verify_transaction(jws, &sandbox_app()).unwrap();
    }
    assert_eq!(v.cache_hits(), 7 + 16, "every known header found its chain");
    // A recent header with another header's signature is still refused.
    let (input, _) = signed[7].rsplit_once('.').unwrap();
    let (_, other_sig) = signed[6].rsplit_once('.').unwrap();
    assert_eq!(
        v.verify_transaction(&format!("{input}.{other_sig}"), &sandbox_app())
            .unwrap_err(),
        VerifyError::BadSignature
    );
    v.clear_cache();
    assert_eq!(v.cache_len(), 0);
    v.verify_transaction(&signed[0], &sandbox_app()).unwrap();
    assert_eq!(
        v.cache_hits(),
        7 + 16 + 1,
        "a cleared cache forgets the headers too"
    );
}

#[test]
fn cache_is_bounded_and_expires() {
    let v = test_ca_verifier().with_cache_limits(1, Duration::from_secs(900));
    let a = fixture_str("python-tests/mock_signed_data/testNotification");
    let b = fixture_str("python-tests/mock_signed_data/renewalInfo");
    v.verify_notification(&a, &sandbox_app()).unwrap();
    v.verify_renewal_info(&b, &sandbox_app()).unwrap();
    assert_eq!(v.cache_len(), 1);
    v.verify_notification(&a, &sandbox_app()).unwrap();
    assert_eq!(v.cache_hits(), 0, "the first entry was evicted");

    let v = test_ca_verifier().with_cache_limits(8, Duration::ZERO);
    v.verify_notification(&a, &sandbox_app()).unwrap();
    v.verify_notification(&a, &sandbox_app()).unwrap();
    assert_eq!(v.cache_hits(), 0, "expired entries are revalidated");
    assert_eq!(v.cache_len(), 1);
}

#[test]
fn verifier_is_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<SignedDataVerifier>();
    let v = std::sync::Arc::new(test_ca_verifier());
    let jws = fixture_str("python-tests/mock_signed_data/testNotification");
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let v = v.clone();
            let jws = jws.clone();
            std::thread::spawn(move || v.verify_notification(&jws, &sandbox_app()).is_ok())
        })
        .collect();
    for h in handles {
        assert!(h.join().unwrap());
    }
    assert_eq!(v.cache_len(), 1);
}

// ---- Notification identity: data / summary / externalPurchaseToken / appData ----

fn signed_model(name: &str, edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let mut payload: serde_json::Value =
        serde_json::from_slice(&fixture(&format!("python-tests/models/{name}.json"))).unwrap();
    edit(&mut payload);
    sign_jws(&test_leaf_key(), &test_chain(), &payload)
}

#[test]
fn summary_notification_identity() {
    let v = test_ca_verifier();
    let jws = signed_model("signedSummaryNotification", |p| {
        p["summary"]["environment"] = json!("Sandbox");
    });
    let verified = v.verify_notification(&jws, &sandbox_app()).unwrap();
    assert_eq!(verified.payload.summary.unwrap().succeeded_count, Some(5));
    let jws = signed_model("signedSummaryNotification", |p| {
        p["summary"]["environment"] = json!("Production");
    });
    v.verify_notification(&jws, &production_app(Some(41234)))
        .unwrap();
    assert_eq!(
        v.verify_notification(&jws, &production_app(Some(1)))
            .unwrap_err(),
        VerifyError::WrongAppAppleId {
            expected: 1,
            got: Some(41234)
        }
    );
    // LocalTesting (as in Apple's vector) is never accepted.
    let jws = signed_model("signedSummaryNotification", |_| {});
    assert_eq!(
        v.verify_notification(&jws, &sandbox_app()).unwrap_err(),
        VerifyError::WrongEnvironment {
            expected: "Sandbox".into(),
            got: "LocalTesting".into()
        }
    );
}

#[test]
fn external_purchase_token_environment_comes_from_the_id_prefix() {
    let v = test_ca_verifier();
    let production = signed_model("signedExternalPurchaseTokenNotification", |_| {});
    v.verify_notification(&production, &production_app(Some(55555)))
        .unwrap();
    assert!(matches!(
        v.verify_notification(&production, &sandbox_app())
            .unwrap_err(),
        VerifyError::WrongEnvironment { .. }
    ));
    let (_, env, _) = v
        .verify_notification_any_env(&production, "com.example", Some(55555))
        .unwrap();
    assert_eq!(env, Environment::Production);

    let sandbox = signed_model("signedExternalPurchaseTokenSandboxNotification", |_| {});
    v.verify_notification(&sandbox, &sandbox_app()).unwrap();
    let (_, env, _) = v
        .verify_notification_any_env(&sandbox, "com.example", None)
        .unwrap();
    assert_eq!(env, Environment::Sandbox);
}

#[test]
fn app_data_notification_identity() {
    let v = test_ca_verifier();
    let jws = signed_model("signedRescindConsentNotification", |p| {
        p["appData"]["environment"] = json!("Sandbox");
    });
    let verified = v.verify_notification(&jws, &sandbox_app()).unwrap();
    assert_eq!(verified.payload.app_data.unwrap().app_apple_id, Some(41234));
}

#[test]
fn notification_without_identity_is_refused() {
    let v = test_ca_verifier();
    let payload = json!({
        "notificationType": "TEST",
        "notificationUUID": "00000000-0000-0000-0000-000000000000",
        "signedDate": SIGNED_2025_MS,
    });
    let jws = sign_jws(&test_leaf_key(), &test_chain(), &payload);
    let err = v.verify_notification(&jws, &sandbox_app()).unwrap_err();
    assert_eq!(
        err,
        VerifyError::WrongBundleId {
            expected: "com.example".into(),
            got: None
        }
    );
    assert_eq!(err.code(), "INVALID_APP_IDENTIFIER");
}

#[test]
fn any_env_notification_checks_its_own_environment() {
    let v = test_ca_verifier();
    let sandbox = fixture_str("python-tests/mock_signed_data/testNotification");
    let (verified, env, _) = v
        .verify_notification_any_env(&sandbox, "com.example", None)
        .unwrap();
    assert_eq!(env, Environment::Sandbox);
    assert_eq!(verified.raw["notificationType"], "TEST");
    assert!(matches!(
        v.verify_notification_any_env(&sandbox, "com.other", Some(1234))
            .unwrap_err(),
        VerifyError::WrongBundleId { .. }
    ));

    let production = signed_model("signedNotification", |p| {
        p["data"]["environment"] = json!("Production");
        p["data"]["bundleId"] = json!("com.example");
        p["signedDate"] = json!(SIGNED_2025_MS);
    });
    let (_, env, _) = v
        .verify_notification_any_env(&production, "com.example", Some(41234))
        .unwrap();
    assert_eq!(env, Environment::Production);
    let err = v
        .verify_notification_any_env(&production, "com.example", None)
        .unwrap_err();
    assert_eq!(err, VerifyError::AppAppleIdNotConfigured);
    assert!(err.to_string().contains("set the App Apple ID"));
    assert!(matches!(
        v.verify_notification_any_env(&production, "com.example", Some(7))
            .unwrap_err(),
        VerifyError::WrongAppAppleId { .. }
    ));

    let local = signed_model("signedNotification", |p| {
        p["data"]["bundleId"] = json!("com.example");
    });
    assert!(matches!(
        v.verify_notification_any_env(&local, "com.example", Some(41234))
            .unwrap_err(),
        VerifyError::WrongEnvironment { .. }
    ));
}

#[test]
fn app_transaction_checks_bundle_app_id_and_receipt_type() {
    let v = test_ca_verifier();
    let sandbox = signed_model("appTransaction", |p| {
        p["receiptType"] = json!("Sandbox");
    });
    let verified = v.verify_app_transaction(&sandbox, &sandbox_app()).unwrap();
    assert_eq!(verified.payload.app_apple_id, Some(531_412));

    let production = signed_model("appTransaction", |p| {
        p["receiptType"] = json!("Production");
    });
    v.verify_app_transaction(&production, &production_app(Some(531_412)))
        .unwrap();
    assert!(matches!(
        v.verify_app_transaction(&production, &production_app(Some(1)))
            .unwrap_err(),
        VerifyError::WrongAppAppleId { .. }
    ));
}

// ---- Path validation alone ----

#[test]
fn real_apple_chain_validates_at_2025_10_31() {
    let v = SignedDataVerifier::new();
    let leaf = fixture("apple-real-chain/ProdECCReceiptSigning-2025-09.der");
    let intermediate = fixture("apple-real-chain/AppleWWDRCA-G6.der");
    let at = Utc.with_ymd_and_hms(2025, 10, 31, 12, 0, 0).unwrap();
    let chain = v.validate_chain(&leaf, &intermediate, at).unwrap();
    assert_eq!(
        chain.not_before,
        Utc.with_ymd_and_hms(2025, 9, 19, 19, 44, 51).unwrap()
    );
    assert_eq!(
        chain.not_after,
        Utc.with_ymd_and_hms(2027, 10, 13, 17, 47, 23).unwrap()
    );

    let after = Utc.with_ymd_and_hms(2028, 1, 1, 0, 0, 0).unwrap();
    assert_eq!(
        v.validate_chain(&leaf, &intermediate, after).unwrap_err(),
        VerifyError::NotValidAtDate(after)
    );
    // The test root must not vouch for Apple's chain, and Apple's root not for a swapped pair.
    assert!(matches!(
        test_ca_verifier()
            .validate_chain(&leaf, &intermediate, at)
            .unwrap_err(),
        VerifyError::UntrustedChain(_)
    ));
    assert!(matches!(
        v.validate_chain(&intermediate, &leaf, at).unwrap_err(),
        VerifyError::UntrustedChain(_)
    ));
    // The compiled-in root equals the published fixture.
    assert_eq!(
        crate::apple::apple_root_g3_der(),
        fixture("apple-real-chain/AppleRootCA-G3.der").as_slice()
    );
}

#[test]
fn test_chain_validates_directly() {
    let v = test_ca_verifier();
    let chain = test_chain();
    let at = DateTime::from_timestamp(1_761_962_975, 0).unwrap();
    let validated = v.validate_chain(&chain[0], &chain[1], at).unwrap();
    assert_eq!(validated.leaf_key, *test_leaf_key().verifying_key());
    let late = DateTime::from_timestamp(2_280_946_846, 0).unwrap();
    assert!(matches!(
        v.validate_chain(&chain[0], &chain[1], late).unwrap_err(),
        VerifyError::NotValidAtDate(_)
    ));
}

// ---- Chains built with rcgen: Apple's shape (P-384 CA, P-256 leaf) and broken variants ----

struct Pki {
    root_der: Vec<u8>,
    intermediate_der: Vec<u8>,
    leaf_der: Vec<u8>,
    leaf_key: SigningKey,
}

fn ca_params(name: &str, marker: bool) -> rcgen::CertificateParams {
    let mut p = rcgen::CertificateParams::default();
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name
        .push(rcgen::DnType::CommonName, name.to_string());
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
    p.not_before = rcgen::date_time_ymd(2024, 1, 1);
    p.not_after = rcgen::date_time_ymd(2034, 1, 1);
    if marker {
        p.custom_extensions
            .push(rcgen::CustomExtension::from_oid_content(
                &[1, 2, 840, 113635, 100, 6, 2, 1],
                vec![0x05, 0x00],
            ));
    }
    p
}

fn build_pki(intermediate_is_ca: bool, leaf_not_after: (i32, u8, u8)) -> Pki {
    let root_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
    let mut root_params = ca_params("Test Root", false);
    root_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let root = root_params.self_signed(&root_key).unwrap();

    let int_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
    let mut int_params = ca_params("Test WWDR", true);
    if !intermediate_is_ca {
        int_params.is_ca = rcgen::IsCa::ExplicitNoCa;
    }
    let intermediate = int_params.signed_by(&int_key, &root, &root_key).unwrap();

    let leaf_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut leaf_params = rcgen::CertificateParams::default();
    leaf_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Test Receipt Signing");
    leaf_params.not_before = rcgen::date_time_ymd(2024, 1, 1);
    leaf_params.not_after =
        rcgen::date_time_ymd(leaf_not_after.0, leaf_not_after.1, leaf_not_after.2);
    leaf_params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    leaf_params
        .custom_extensions
        .push(rcgen::CustomExtension::from_oid_content(
            &[1, 2, 840, 113635, 100, 6, 11, 1],
            vec![0x05, 0x00],
        ));
    let leaf = leaf_params
        .signed_by(&leaf_key, &intermediate, &int_key)
        .unwrap();

    Pki {
        root_der: root.der().to_vec(),
        intermediate_der: intermediate.der().to_vec(),
        leaf_der: leaf.der().to_vec(),
        leaf_key: SigningKey::from_pkcs8_der(&leaf_key.serialize_der()).unwrap(),
    }
}

#[test]
fn apple_shaped_p384_chain_verifies_end_to_end() {
    let pki = build_pki(true, (2030, 1, 1));
    let v = SignedDataVerifier::with_roots(vec![pki.root_der.clone()]).unwrap();
    let jws = sign_jws(
        &pki.leaf_key,
        &[
            pki.leaf_der.clone(),
            pki.intermediate_der.clone(),
            pki.root_der.clone(),
        ],
        &sandbox_transaction(json!(SIGNED_2025_MS)),
    );
    v.verify_transaction(&jws, &sandbox_app()).unwrap();
    // Apple's real root doesn't know this PKI.
    assert!(matches!(
        SignedDataVerifier::new()
            .verify_transaction(&jws, &sandbox_app())
            .unwrap_err(),
        VerifyError::UntrustedChain(_)
    ));
}

#[test]
fn intermediate_that_is_not_a_ca_is_refused() {
    let pki = build_pki(false, (2030, 1, 1));
    let v = SignedDataVerifier::with_roots(vec![pki.root_der.clone()]).unwrap();
    let at = Utc.with_ymd_and_hms(2025, 6, 1, 0, 0, 0).unwrap();
    assert_eq!(
        v.validate_chain(&pki.leaf_der, &pki.intermediate_der, at)
            .unwrap_err(),
        VerifyError::UntrustedChain("the intermediate certificate is not a certificate authority")
    );
}

#[test]
fn expired_leaf_is_refused_at_a_later_signed_date() {
    let pki = build_pki(true, (2025, 1, 1));
    let v = SignedDataVerifier::with_roots(vec![pki.root_der.clone()]).unwrap();
    let jws = sign_jws(
        &pki.leaf_key,
        &[
            pki.leaf_der.clone(),
            pki.intermediate_der.clone(),
            pki.root_der.clone(),
        ],
        &sandbox_transaction(json!(SIGNED_2025_MS)),
    );
    let err = v.verify_transaction(&jws, &sandbox_app()).unwrap_err();
    assert!(matches!(err, VerifyError::NotValidAtDate(_)), "{err:?}");
    assert!(err.to_string().contains("2025-11-01"), "{err}");
}

#[test]
fn leaf_from_another_intermediate_is_refused() {
    let a = build_pki(true, (2030, 1, 1));
    let b = build_pki(true, (2030, 1, 1));
    let v = SignedDataVerifier::with_roots(vec![a.root_der.clone()]).unwrap();
    let at = Utc.with_ymd_and_hms(2025, 6, 1, 0, 0, 0).unwrap();
    // Same names, different keys: only the signature check can tell.
    assert_eq!(
        v.validate_chain(&b.leaf_der, &a.intermediate_der, at)
            .unwrap_err(),
        VerifyError::UntrustedChain("the leaf certificate was not issued by the intermediate")
    );
    assert!(matches!(
        v.validate_chain(&b.leaf_der, &b.intermediate_der, at)
            .unwrap_err(),
        VerifyError::UntrustedChain(_)
    ));
}

/// The three certificates of `pki` as a JWS header carries them, with another leaf or intermediate when given.
fn chain_of(pki: &Pki, leaf: Option<&[u8]>, intermediate: Option<&[u8]>) -> Vec<Vec<u8>> {
    vec![
        leaf.unwrap_or(&pki.leaf_der).to_vec(),
        intermediate.unwrap_or(&pki.intermediate_der).to_vec(),
        pki.root_der.clone(),
    ]
}

#[test]
fn a_changed_chain_is_validated_again_with_the_cache_warm() {
    let a = build_pki(true, (2030, 1, 1));
    let b = build_pki(true, (2030, 1, 1));
    let v = SignedDataVerifier::with_roots(vec![a.root_der.clone()]).unwrap();
    let payload = sandbox_transaction(json!(SIGNED_2025_MS));
    let good = sign_jws(&a.leaf_key, &chain_of(&a, None, None), &payload);
    v.verify_transaction(&good, &sandbox_app()).unwrap();
    v.verify_transaction(&good, &sandbox_app()).unwrap();
    assert_eq!(
        (v.cache_len(), v.cache_hits()),
        (1, 1),
        "the chain is cached"
    );

    // Another leaf (same names, another key) under the cached intermediate, signed with its own key.
    let other_leaf = sign_jws(
        &b.leaf_key,
        &chain_of(&a, Some(&b.leaf_der), None),
        &payload,
    );
    assert_eq!(
        v.verify_transaction(&other_leaf, &sandbox_app())
            .unwrap_err(),
        VerifyError::UntrustedChain("the leaf certificate was not issued by the intermediate")
    );
    // The cached leaf under another intermediate.
    let other_intermediate = sign_jws(
        &a.leaf_key,
        &chain_of(&a, None, Some(&b.intermediate_der)),
        &payload,
    );
    assert!(matches!(
        v.verify_transaction(&other_intermediate, &sandbox_app())
            .unwrap_err(),
        VerifyError::UntrustedChain(_)
    ));
    // The cached leaf with one byte of its own signature changed.
    let mut altered = a.leaf_der.clone();
    let last = altered.len() - 1;
    altered[last] ^= 0x01;
    let altered_leaf = sign_jws(&a.leaf_key, &chain_of(&a, Some(&altered), None), &payload);
    assert!(matches!(
        v.verify_transaction(&altered_leaf, &sandbox_app())
            .unwrap_err(),
        VerifyError::UntrustedChain(_) | VerifyError::BadCertificate { .. }
    ));
    assert_eq!(
        (v.cache_len(), v.cache_hits()),
        (1, 1),
        "none of the changed chains was taken from the cache or added to it"
    );
    // The cached chain still serves its own payloads.
    v.verify_transaction(&good, &sandbox_app()).unwrap();
    assert_eq!(v.cache_hits(), 2);
}

#[test]
fn an_expired_leaf_is_refused_with_its_chain_cached() {
    // The leaf expires on 2025-01-01; a payload signed before then warms the cache.
    let pki = build_pki(true, (2025, 1, 1));
    let v = SignedDataVerifier::with_roots(vec![pki.root_der.clone()]).unwrap();
    let june_2024_ms = 1_717_200_000_000_i64;
    let before = sign_jws(
        &pki.leaf_key,
        &chain_of(&pki, None, None),
        &sandbox_transaction(json!(june_2024_ms)),
    );
    v.verify_transaction(&before, &sandbox_app()).unwrap();
    assert_eq!(v.cache_len(), 1);

    let after = sign_jws(
        &pki.leaf_key,
        &chain_of(&pki, None, None),
        &sandbox_transaction(json!(SIGNED_2025_MS)),
    );
    let err = v.verify_transaction(&after, &sandbox_app()).unwrap_err();
    assert_eq!(
        err,
        VerifyError::NotValidAtDate(DateTime::from_timestamp_millis(SIGNED_2025_MS).unwrap())
    );
    assert_eq!(
        v.cache_hits(),
        1,
        "the refusal came from the cached chain's window"
    );
}

#[test]
fn a_forged_signature_under_a_cached_chain_is_refused() {
    let v = test_ca_verifier();
    let payload = sandbox_transaction(json!(SIGNED_2025_MS));
    v.verify_transaction(
        &sign_jws(&test_leaf_key(), &test_chain(), &payload),
        &sandbox_app(),
    )
    .unwrap();
    // The cached chain's header with a payload signed by a key that is not the leaf's.
    let stranger = SigningKey::random(&mut rand::rngs::OsRng);
    let forged = sign_jws(&stranger, &test_chain(), &payload);
    assert_eq!(
        v.verify_transaction(&forged, &sandbox_app()).unwrap_err(),
        VerifyError::BadSignature
    );
    // And one whose signature is the right one with a byte changed.
    let altered = badly_signed(&payload);
    assert_eq!(
        v.verify_transaction(&altered, &sandbox_app()).unwrap_err(),
        VerifyError::BadSignature
    );
    assert_eq!(
        v.cache_hits(),
        2,
        "both were checked against the cached chain"
    );
}

// ---- copies verified before, signed again ----

/// A copy of `payload` whose signature does not verify (the last byte of a real signature changed).
fn badly_signed(payload: &serde_json::Value) -> String {
    let jws = sign_jws(&test_leaf_key(), &test_chain(), payload);
    let (signed, signature) = jws.rsplit_once('.').unwrap();
    let mut bytes = URL_SAFE_NO_PAD.decode(signature).unwrap();
    if let Some(last) = bytes.last_mut() {
        *last ^= 1;
    }
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(bytes))
}

fn recognise(
    jws: &str,
    before: &serde_json::Value,
) -> Option<Verified<JWSTransactionDecodedPayload>> {
    let stored = before.to_string();
    SignedDataVerifier::recognise_transaction(jws, &sandbox_app(), |id| {
        (before["transactionId"].as_str() == Some(id)).then_some(stored.as_str())
    })
}

#[test]
fn a_copy_signed_again_is_taken_as_the_copy_verified_before() {
    let before = sandbox_transaction(json!(SIGNED_2025_MS));
    let again = sandbox_transaction(json!(SIGNED_2025_MS + 60_000));
    let jws = badly_signed(&again);
    assert!(matches!(
        test_ca_verifier().verify_transaction(&jws, &sandbox_app()),
        Err(VerifyError::BadSignature)
    ));
    let taken = recognise(&jws, &before).unwrap();
    // Everything shown is what was checked: the earlier copy, its signedDate included.
    assert_eq!(taken.raw, before);
    assert_eq!(
        taken.payload.signed_date.map(|d| d.timestamp_millis()),
        Some(SIGNED_2025_MS)
    );
    assert_eq!(
        taken.payload.transaction_id.as_deref(),
        Some("2000000442013708")
    );
    // The same copy, once more: no signedDate at all on either side changes nothing either.
    let mut undated = before.clone();
    undated.as_object_mut().unwrap().remove("signedDate");
    assert!(recognise(&badly_signed(&undated), &undated).is_some());
}

#[test]
fn a_copy_that_says_anything_new_is_not_recognised() {
    let before = sandbox_transaction(json!(SIGNED_2025_MS));
    type Edit = Box<dyn Fn(&mut serde_json::Value)>;
    let changed: [(&str, Edit); 6] = [
        (
            "a refund",
            Box::new(|p| p["revocationDate"] = json!(SIGNED_2025_MS)),
        ),
        (
            "another product",
            Box::new(|p| p["productId"] = json!("com.example.other")),
        ),
        (
            "a field removed",
            Box::new(|p| {
                p.as_object_mut().unwrap().remove("type");
            }),
        ),
        (
            "a number as text",
            Box::new(|p| p["transactionId"] = json!(2000000442013708_i64)),
        ),
        (
            "a nested signedDate",
            Box::new(|p| p["extra"] = json!({"signedDate": 1})),
        ),
        (
            "signedDate turned into text",
            Box::new(|p| p["signedDate"] = json!("later")),
        ),
    ];
    for (what, edit) in changed {
        let mut now = before.clone();
        edit(&mut now);
        let found = recognise(&badly_signed(&now), &before);
        if what == "signedDate turned into text" {
            // Only signedDate differs, whatever its form: the earlier copy is what is taken.
            assert_eq!(found.map(|v| v.raw), Some(before.clone()), "{what}");
        } else {
            assert!(found.is_none(), "{what} was recognised");
        }
    }
    // No copy of this transaction, or a JWS that cannot be read: not recognised (the caller verifies in full).
    let jws = badly_signed(&before);
    assert!(SignedDataVerifier::recognise_transaction(&jws, &sandbox_app(), |_| None).is_none());
    for broken in ["", "a.b", "a.%%%.c", "a.e30.c"] {
        assert!(recognise(broken, &before).is_none(), "{broken:?}");
    }
}

#[test]
fn a_recognised_copy_still_meets_the_project_identity() {
    let before = sandbox_transaction(json!(SIGNED_2025_MS));
    let jws = badly_signed(&before);
    let stored = before.to_string();
    let other_bundle = AppIdentity {
        bundle_id: "com.example.renamed".into(),
        ..sandbox_app()
    };
    assert!(
        SignedDataVerifier::recognise_transaction(&jws, &other_bundle, |_| Some(stored.as_str()))
            .is_none()
    );
    assert!(SignedDataVerifier::recognise_transaction(
        &jws,
        &production_app(Some(1234)),
        |_| Some(stored.as_str())
    )
    .is_none());
    // A stored payload that is not a transaction's shape is not taken either.
    assert!(
        SignedDataVerifier::recognise_transaction(&jws, &sandbox_app(), |_| Some("[1, 2]"))
            .is_none()
    );
}

// ---- JWS inside a verified notification (Envelope) ----

/// A Sandbox notification signed with the test leaf, carrying `transaction` as its signedTransactionInfo.
fn notification_carrying(transaction: &str) -> String {
    sign_jws(
        &test_leaf_key(),
        &test_chain(),
        &json!({
            "notificationType": "DID_RENEW",
            "notificationUUID": "002e14d5-51f5-4503-b5a8-c3a1af68eb20",
            "version": "2.0",
            "signedDate": SIGNED_2025_MS,
            "data": {
                "bundleId": "com.example",
                "environment": "Sandbox",
                "signedTransactionInfo": transaction,
            },
        }),
    )
}

fn with_signature(jws: &str, signature: &[u8]) -> String {
    let (signed, _) = jws.rsplit_once('.').unwrap();
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature))
}

#[test]
fn a_jws_under_the_notifications_own_header_is_covered_by_its_signature() {
    let v = test_ca_verifier();
    let inner = sign_jws(
        &test_leaf_key(),
        &test_chain(),
        &sandbox_transaction(json!(SIGNED_2025_MS)),
    );
    // Its own signature no longer matches: alone it is refused, inside the signed notification it is what the
    // notification's signature covers.
    let inner = with_signature(&inner, &[7u8; 64]);
    assert_eq!(
        v.verify_transaction(&inner, &sandbox_app()).unwrap_err(),
        VerifyError::BadSignature
    );
    let outer = notification_carrying(&inner);
    let (_, env, envelope) = v
        .verify_notification_any_env(&outer, "com.example", None)
        .unwrap();
    assert_eq!(env, Environment::Sandbox);
    let t = v
        .verify_enclosed_transaction(&inner, &sandbox_app(), envelope)
        .unwrap();
    assert_eq!(t.raw["transactionId"], "2000000442013708");
    // The claims are still checked.
    let other_app = AppIdentity {
        bundle_id: "com.other".into(),
        ..sandbox_app()
    };
    assert!(matches!(
        v.verify_enclosed_transaction(&inner, &other_app, envelope)
            .unwrap_err(),
        VerifyError::WrongBundleId { .. }
    ));
    // A signature of the wrong shape is refused as ring would refuse it.
    let short = with_signature(&inner, &[7u8; 63]);
    assert_eq!(
        v.verify_enclosed_transaction(&short, &sandbox_app(), envelope)
            .unwrap_err(),
        VerifyError::BadSignature
    );
}

#[test]
fn a_jws_under_another_header_inside_a_notification_is_verified_in_full() {
    let v = test_ca_verifier();
    // Same key and chain, another header text (a `kid` added): not the bytes the envelope names.
    let certs: Vec<String> = test_chain().iter().map(|d| STANDARD.encode(d)).collect();
    let header = json!({"alg": "ES256", "kid": "other", "x5c": certs});
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap()),
        URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(&sandbox_transaction(json!(SIGNED_2025_MS))).unwrap())
    );
    let sig: p256::ecdsa::Signature = test_leaf_key().sign(signing_input.as_bytes());
    let good = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()));
    let forged = with_signature(&good, &[7u8; 64]);
    for (inner, expected) in [(&good, None), (&forged, Some(VerifyError::BadSignature))] {
        let outer = notification_carrying(inner);
        let (_, _, envelope) = v
            .verify_notification_any_env(&outer, "com.example", None)
            .unwrap();
        let got = v
            .verify_enclosed_transaction(inner, &sandbox_app(), envelope)
            .err();
        assert_eq!(got, expected);
    }
}
