#![allow(clippy::unwrap_used)]
//! Verifying Apple's signed data: a warm chain cache should cost about one P-256 signature check (ring's, which
//! the verifier uses; the p256 crate's is measured beside it for the record).
//! Run: `cargo bench --bench verify`. Figures go to docs/benchmarks.md.
use std::hint::black_box;

use base64::Engine;
use criterion::{criterion_group, criterion_main, Criterion};
use p256::ecdsa::signature::Verifier;
use storedesk::apple::{AppIdentity, Environment, SignedDataVerifier};

const JWS: &str =
    include_str!("../tests/fixtures/apple/python-tests/mock_signed_data/transactionInfo");
const TEST_CA: &[u8] = include_bytes!("../tests/fixtures/apple/python-tests/certs/testCA.der");

fn bare_check_inputs() -> (p256::ecdsa::VerifyingKey, Vec<u8>, p256::ecdsa::Signature) {
    use x509_cert::der::{Decode, Encode};
    let jws = JWS.trim();
    let mut parts = jws.split('.');
    let (header, payload, signature) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let header: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap();
    let leaf = base64::engine::general_purpose::STANDARD
        .decode(header["x5c"][0].as_str().unwrap())
        .unwrap();
    let cert = x509_cert::Certificate::from_der(&leaf).unwrap();
    let spki = cert
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .unwrap();
    let key =
        <p256::ecdsa::VerifyingKey as p256::pkcs8::DecodePublicKey>::from_public_key_der(&spki)
            .unwrap();
    let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(signature)
        .unwrap();
    (
        key,
        format!(
            "{header_b64}.{payload}",
            header_b64 = jws.split('.').next().unwrap()
        )
        .into_bytes(),
        p256::ecdsa::Signature::from_slice(&sig).unwrap(),
    )
}

fn bench(c: &mut Criterion) {
    let identity = AppIdentity {
        bundle_id: "com.example".into(),
        app_apple_id: None,
        environment: Environment::Sandbox,
    };
    let jws = JWS.trim();
    let (key, message, signature) = bare_check_inputs();
    assert!(key.verify(&message, &signature).is_ok());

    let mut group = c.benchmark_group("verify");
    group.bench_function("bare P-256 signature check, p256 crate", |b| {
        b.iter(|| {
            key.verify(black_box(&message), black_box(&signature))
                .is_ok()
        })
    });

    let point = key.to_encoded_point(false);
    let ring_key = ring::signature::UnparsedPublicKey::new(
        &ring::signature::ECDSA_P256_SHA256_FIXED,
        point.as_bytes().to_vec(),
    );
    let fixed = signature.to_bytes();
    assert!(ring_key.verify(&message, &fixed).is_ok());
    group.bench_function("bare P-256 signature check, ring", |b| {
        b.iter(|| {
            ring_key
                .verify(black_box(&message), black_box(&fixed))
                .is_ok()
        })
    });

    let warm = SignedDataVerifier::with_roots(vec![TEST_CA.to_vec()]).unwrap();
    warm.verify_transaction(jws, &identity).unwrap();
    group.bench_function("signed transaction, warm chain cache", |b| {
        b.iter(|| warm.verify_transaction(black_box(jws), &identity).unwrap())
    });

    let cold = SignedDataVerifier::with_roots(vec![TEST_CA.to_vec()]).unwrap();
    group.bench_function("signed transaction, cold (whole chain)", |b| {
        b.iter(|| {
            cold.clear_cache();
            cold.verify_transaction(black_box(jws), &identity).unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
