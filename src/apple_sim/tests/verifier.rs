//! The simulator's signed data passes our own verifier when (and only when) its root is configured.

use serde_json::json;

use super::{jws_payload, TestSim};
use crate::apple::{AppIdentity, Environment, SignedDataVerifier};
use crate::apple_sim::{Fault, NotificationSpec, SimEnvironment};

fn identity(env: Environment) -> AppIdentity {
    AppIdentity {
        bundle_id: "com.storedesk.demo".into(),
        app_apple_id: Some(1_234_567_890),
        environment: env,
    }
}

#[tokio::test]
async fn every_kind_of_signed_data_verifies_with_the_simulator_root() {
    let t = TestSim::start().await;
    let seed = t.sim.seed();
    let verifier = SignedDataVerifier::new()
        .with_extra_roots(vec![t.sim.root_ca_der()])
        .unwrap();
    let production = identity(Environment::Production);

    let (_, body) = t
        .get_json(&format!(
            "/inApps/v1/subscriptions/{}",
            seed.grace_period_original_id
        ))
        .await;
    let item = &body["data"][0]["lastTransactions"][0];
    let tx = verifier
        .verify_transaction(item["signedTransactionInfo"].as_str().unwrap(), &production)
        .unwrap();
    assert_eq!(
        tx.raw["originalTransactionId"],
        json!(seed.grace_period_original_id)
    );
    verifier
        .verify_renewal_info(item["signedRenewalInfo"].as_str().unwrap(), &production)
        .unwrap();
    // The environment in the payload is the one of the host called.
    assert!(verifier
        .verify_transaction(
            item["signedTransactionInfo"].as_str().unwrap(),
            &identity(Environment::Sandbox)
        )
        .is_err());

    let (_, body) = t
        .get_json(&format!(
            "/inApps/v1/transactions/appTransactions/{}",
            seed.app_transaction_id
        ))
        .await;
    verifier
        .verify_app_transaction(
            body["signedAppTransactionInfo"].as_str().unwrap(),
            &production,
        )
        .unwrap();

    // Seeded history notifications and freshly signed ones alike.
    let now = chrono::Utc::now().timestamp_millis();
    let (_, body) = t
        .json(
            reqwest::Method::POST,
            "sandbox",
            "/inApps/v1/notifications/history",
            Some(json!({ "startDate": now - 20 * 86_400_000_i64, "endDate": now })),
        )
        .await;
    for item in body["notificationHistory"].as_array().unwrap() {
        let jws = item["signedPayload"].as_str().unwrap();
        verifier
            .verify_notification(jws, &identity(Environment::Sandbox))
            .unwrap_or_else(|e| panic!("{e}: {}", jws_payload(jws)));
    }
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    t.sim.set_notification_url(
        SimEnvironment::Production,
        Some(format!("http://{}/", closed.local_addr().unwrap())),
    );
    drop(closed);
    let outcome = t
        .sim
        .send_notification(
            SimEnvironment::Production,
            NotificationSpec::new("SUBSCRIBED")
                .subtype("RESUBSCRIBE")
                .transaction(&seed.expired_original_id),
        )
        .await
        .unwrap();
    verifier
        .verify_notification(&outcome.signed_payload, &production)
        .unwrap();
}

#[tokio::test]
async fn apples_roots_alone_and_the_bad_signature_fault_are_refused() {
    let t = TestSim::start().await;
    let id = t.sim.seed().active_monthly.transaction_id;
    let production = identity(Environment::Production);
    let (_, body) = t.get_json(&format!("/inApps/v1/transactions/{id}")).await;
    let jws = body["signedTransactionInfo"].as_str().unwrap();
    assert!(SignedDataVerifier::new()
        .verify_transaction(jws, &production)
        .is_err());

    let verifier = SignedDataVerifier::with_roots(vec![t.sim.root_ca_pem().into_bytes()]).unwrap();
    verifier.verify_transaction(jws, &production).unwrap();
    t.sim.inject_fault(Fault::BadSignature { count: 1 });
    let (_, body) = t.get_json(&format!("/inApps/v1/transactions/{id}")).await;
    assert!(verifier
        .verify_transaction(body["signedTransactionInfo"].as_str().unwrap(), &production)
        .is_err());
}
