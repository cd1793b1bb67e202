#![allow(clippy::unwrap_used)]
//! Verifying Apple's signed data: a warm chain cache should cost about one P-256 signature check (ring's, which
//! the verifier uses; the p256 crate's is measured beside it for the record).
//! The "notification" group measures what the webhook does with one notification on its verification threads:
//! the notification's signature check under a warm cache (the JWS nested under its header are covered by it),
//! decoding, and the row it stores (`notifications::ingest::prepare`), on
//! notifications signed by the simulator like those of `benches/webhook-load.sh`.
//! Run: `cargo bench --bench verify`. Figures go to docs/benchmarks.md.
use std::hint::black_box;

use base64::Engine;
use criterion::{criterion_group, criterion_main, Criterion};
use p256::ecdsa::signature::Verifier;
use storedesk::apple::{AppIdentity, Environment, SignedDataVerifier};
use storedesk::apple_sim::{NotificationSpec, SimConfig, SimEnvironment};
use storedesk::notifications::ingest::{prepare, verify_notification, Source};
use storedesk::store::Project;

// The same allocator as the storedesk binary (src/main.rs): the notification cases allocate.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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

/// Distinct notifications (each with its nested transaction and renewal info, one millisecond apart) signed by the
/// simulator, the verifier trusting its root, and a project for its app.
fn simulator_notifications(count: usize) -> (Vec<String>, SignedDataVerifier, Project) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let sim = storedesk::apple_sim::spawn(SimConfig::default())
            .await
            .unwrap();
        let seed = sim.seed();
        let base = storedesk::clock::now_ms();
        let bodies = (0..count)
            .map(|i| {
                let spec = NotificationSpec::new("DID_RENEW")
                    .transaction(&seed.active_monthly.transaction_id);
                sim.sign_notification_at(SimEnvironment::Production, spec, base - i as i64)
                    .unwrap()
            })
            .collect();
        let verifier = SignedDataVerifier::new()
            .with_extra_roots(vec![sim.root_ca_pem().into_bytes()])
            .unwrap();
        let project = Project {
            id: 1,
            slug: "bench".into(),
            name: "Bench".into(),
            bundle_id: seed.bundle_id.clone(),
            app_apple_id: Some(seed.app_apple_id),
            environment: "Production".into(),
            created_at: 0,
            updated_at: 0,
        };
        sim.stop().await;
        (bodies, verifier, project)
    })
}

fn notification(c: &mut Criterion) {
    let (bodies, verifier, project) = simulator_notifications(512);
    prepare(&verifier, &project, &bodies[0], Source::Webhook).unwrap();
    let mut group = c.benchmark_group("notification");
    let mut i = 0;
    group.bench_function("verified (three checks, warm cache)", |b| {
        b.iter(|| {
            i = (i + 1) % bodies.len();
            verify_notification(&verifier, &project, black_box(&bodies[i])).unwrap()
        })
    });
    group.bench_function("prepared for the store (verified, row built)", |b| {
        b.iter(|| {
            i = (i + 1) % bodies.len();
            prepare(&verifier, &project, black_box(&bodies[i]), Source::Webhook).unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, bench, notification);
criterion_main!(benches);
