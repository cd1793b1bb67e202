use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use der::{Decode as _, Encode as _};
use p256::ecdsa::signature::Verifier as _;
use p256::pkcs8::DecodePrivateKey as _;
use serde_json::{json, Value};
use x509_cert::Certificate;

use super::{decode_segment, TestSim};
use crate::apple_sim::Fault;

const LEAF_MARKER: &str = "1.2.840.113635.100.6.11.1";
const INTERMEDIATE_MARKER: &str = "1.2.840.113635.100.6.2.1";
const SKI: &str = "2.5.29.14";
const AKI: &str = "2.5.29.35";

fn extension_oids(cert: &Certificate) -> Vec<String> {
    cert.tbs_certificate
        .extensions
        .iter()
        .flatten()
        .map(|e| e.extn_id.to_string())
        .collect()
}

fn marker_value(cert: &Certificate, oid: &str) -> (bool, Vec<u8>) {
    let ext = cert
        .tbs_certificate
        .extensions
        .iter()
        .flatten()
        .find(|e| e.extn_id.to_string() == oid)
        .unwrap();
    (ext.critical, ext.extn_value.as_bytes().to_vec())
}

fn spki_bytes(cert: &Certificate) -> Vec<u8> {
    cert.tbs_certificate
        .subject_public_key_info
        .subject_public_key
        .raw_bytes()
        .to_vec()
}

/// `issuer` (a P-384 key) signed `cert` with ecdsa-with-SHA384.
fn assert_signed_by_p384(cert: &Certificate, issuer: &Certificate) {
    let key = p384::ecdsa::VerifyingKey::from_sec1_bytes(&spki_bytes(issuer)).unwrap();
    let sig = p384::ecdsa::Signature::from_der(cert.signature.raw_bytes()).unwrap();
    let tbs = cert.tbs_certificate.to_der().unwrap();
    key.verify(&tbs, &sig).unwrap();
    assert_eq!(
        cert.signature_algorithm.oid.to_string(),
        "1.2.840.10045.4.3.3"
    );
}

/// Decodes the chain of a JWS and checks the signature with the leaf's P-256 key.
fn verify_jws(jws: &str) -> Result<(Vec<Certificate>, Value), String> {
    let mut parts = jws.split('.');
    let (h, p, s) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let header = decode_segment(h);
    assert_eq!(header["alg"], json!("ES256"));
    assert_eq!(header["typ"], json!("JWT"));
    let chain: Vec<Certificate> = header["x5c"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| Certificate::from_der(&STANDARD.decode(c.as_str().unwrap()).unwrap()).unwrap())
        .collect();
    assert_eq!(chain.len(), 3);
    let leaf_key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&spki_bytes(&chain[0])).unwrap();
    let raw = URL_SAFE_NO_PAD.decode(s).unwrap();
    assert_eq!(raw.len(), 64, "JWS signatures are raw r||s");
    let sig = p256::ecdsa::Signature::from_slice(&raw).unwrap();
    leaf_key
        .verify(format!("{h}.{p}").as_bytes(), &sig)
        .map_err(|e| e.to_string())?;
    Ok((chain, decode_segment(p)))
}

#[tokio::test]
async fn signed_transactions_verify_and_chain_like_apple() {
    let t = TestSim::start().await;
    let id = t.sim.seed().active_monthly.transaction_id;
    let (status, body) = t.get_json(&format!("/inApps/v1/transactions/{id}")).await;
    assert_eq!(status, 200);
    let (chain, payload) = verify_jws(body["signedTransactionInfo"].as_str().unwrap()).unwrap();
    let (leaf, intermediate, root) = (&chain[0], &chain[1], &chain[2]);

    assert_eq!(root.to_der().unwrap(), t.sim.root_ca_der());
    assert!(t
        .sim
        .root_ca_pem()
        .starts_with("-----BEGIN CERTIFICATE-----"));
    assert_signed_by_p384(root, root);
    assert_signed_by_p384(intermediate, root);
    assert_signed_by_p384(leaf, intermediate);

    let leaf_exts = extension_oids(leaf);
    assert!(leaf_exts.contains(&LEAF_MARKER.to_owned()));
    assert!(leaf_exts.contains(&SKI.to_owned()) && leaf_exts.contains(&AKI.to_owned()));
    assert_eq!(marker_value(leaf, LEAF_MARKER), (false, vec![0x05, 0x00]));
    let intermediate_exts = extension_oids(intermediate);
    assert!(intermediate_exts.contains(&INTERMEDIATE_MARKER.to_owned()));
    assert!(
        intermediate_exts.contains(&SKI.to_owned()) && intermediate_exts.contains(&AKI.to_owned())
    );
    assert_eq!(
        marker_value(intermediate, INTERMEDIATE_MARKER),
        (false, vec![0x05, 0x00])
    );

    let signed_date = payload["signedDate"].as_i64().unwrap();
    assert!((chrono::Utc::now().timestamp_millis() - signed_date).abs() < 10_000);
    assert_eq!(payload["appTransactionId"].as_str().map(str::len), Some(18));
}

#[tokio::test]
async fn the_bad_signature_fault_breaks_only_the_next_answer() {
    let t = TestSim::start().await;
    let id = t.sim.seed().active_monthly.original_transaction_id;
    t.sim.inject_fault(Fault::BadSignature { count: 1 });
    let (status, body) = t.get_json(&format!("/inApps/v1/subscriptions/{id}")).await;
    assert_eq!(status, 200);
    let item = &body["data"][0]["lastTransactions"][0];
    assert!(verify_jws(item["signedTransactionInfo"].as_str().unwrap()).is_err());
    assert!(verify_jws(item["signedRenewalInfo"].as_str().unwrap()).is_err());

    let (_, body) = t.get_json(&format!("/inApps/v1/subscriptions/{id}")).await;
    let item = &body["data"][0]["lastTransactions"][0];
    assert!(verify_jws(item["signedTransactionInfo"].as_str().unwrap()).is_ok());
}

#[tokio::test]
async fn a_normal_fault_lets_one_answer_through_before_the_next_fault() {
    let t = TestSim::start().await;
    let id = t.sim.seed().active_monthly.original_transaction_id;
    t.sim.inject_fault(Fault::Normal { count: 1 });
    t.sim.inject_fault(Fault::BadSignature { count: 1 });
    let signed = |body: &serde_json::Value| {
        body["data"][0]["lastTransactions"][0]["signedTransactionInfo"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let path = format!("/inApps/v1/subscriptions/{id}");
    let (status, first) = t.get_json(&path).await;
    assert_eq!(status, 200);
    assert!(verify_jws(&signed(&first)).is_ok());
    let (_, second) = t.get_json(&path).await;
    assert!(verify_jws(&signed(&second)).is_err());
    let (_, third) = t.get_json(&path).await;
    assert!(verify_jws(&signed(&third)).is_ok());
}

#[tokio::test]
async fn issued_keys_look_like_app_store_connect_downloads() {
    let t = TestSim::start().await;
    let key = t.sim.issue_key();
    assert_eq!(key.key_id.len(), 10);
    assert!(key
        .key_id
        .bytes()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()));
    assert_eq!(key.file_name, format!("SubscriptionKey_{}.p8", key.key_id));
    assert_eq!(key.issuer_id, crate::apple_sim::DEFAULT_ISSUER_ID);
    let pem = &key.private_key_pem;
    assert!(pem.starts_with(
        "-----BEGIN PRIVATE KEY-----\nMIGTAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBHkwdwIBAQQg"
    ));
    assert!(pem.ends_with("-----END PRIVATE KEY-----"));
    assert_eq!(pem.lines().count(), 6);
    let secret = p256::SecretKey::from_pkcs8_pem(pem).unwrap();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let parsed = STANDARD.decode(body).unwrap();
    assert_eq!(parsed.len(), 150);
    assert!(parsed.ends_with(secret.public_key().to_sec1_bytes().as_ref()));
    assert!(!format!("{key:?}").contains("MIGTAgEA"));
}

#[tokio::test]
async fn signed_renewal_info_and_app_transactions_verify_too() {
    let t = TestSim::start().await;
    let seed = t.sim.seed();
    let (_, body) = t
        .get_json(&format!(
            "/inApps/v1/subscriptions/{}",
            seed.grace_period_original_id
        ))
        .await;
    let renewal = body["data"][0]["lastTransactions"][0]["signedRenewalInfo"]
        .as_str()
        .unwrap();
    let (_, payload) = verify_jws(renewal).unwrap();
    assert_eq!(payload["environment"], json!("Production"));

    let (status, body) = t
        .get_json(&format!(
            "/inApps/v1/transactions/appTransactions/{}",
            seed.app_transaction_id
        ))
        .await;
    assert_eq!(status, 200);
    let (_, app) = verify_jws(body["signedAppTransactionInfo"].as_str().unwrap()).unwrap();
    assert_eq!(app["receiptType"], json!("Production"));
    assert_eq!(app["appAppleId"], json!(1_234_567_890_i64));
}

#[test]
fn jws_signatures_verify_with_the_signer_key() {
    let pki = crate::apple_sim::pki::Pki::generate().unwrap();
    let jws = pki.signer.sign(&json!({"a": 1}), false);
    let parts: Vec<&str> = jws.split('.').collect();
    let sig =
        p256::ecdsa::Signature::from_slice(&URL_SAFE_NO_PAD.decode(parts[2]).unwrap()).unwrap();
    pki.signer
        .verifying_key()
        .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig)
        .unwrap();
}
