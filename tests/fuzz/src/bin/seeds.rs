//! Writes the seed corpora (tests/fuzz/corpus/<target>/seed-*) from the repository's fixtures, Apple's published
//! test data and notifications the Apple simulator signs. Run once from tests/fuzz (`run.sh seeds`); the seeds are
//! committed, so a campaign or CI never needs this.
use std::fs;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};
use storedesk::apple_sim::{spawn, NotificationSpec, SimConfig, SimEnvironment};
use storedesk::domain::ApplePrivateKey;
use storedesk_fuzz::harness::jws::{APP_APPLE_ID, BUNDLE_ID};
use storedesk_fuzz::harness::pki::{pem_der, pki, sign_payload};

const FIXTURES: &str = "../fixtures";

fn fixture(path: &str) -> Vec<u8> {
    let full = Path::new(FIXTURES).join(path);
    fs::read(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

fn model(name: &str) -> Value {
    serde_json::from_slice(&fixture(&format!("apple/python-tests/models/{name}.json")))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

struct Corpus {
    dir: PathBuf,
}

impl Corpus {
    fn new(target: &str) -> Self {
        let dir = Path::new("corpus").join(target);
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        Corpus { dir }
    }

    fn put(&self, name: &str, mode: Option<u8>, bytes: &[u8]) {
        let mut data = Vec::with_capacity(bytes.len() + 1);
        data.extend(mode);
        data.extend_from_slice(bytes);
        let path = self.dir.join(format!("seed-{name}"));
        fs::write(&path, data).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

/// Apple's test notification model, made to match the harness's project in `environment`.
fn notification(environment: &str, nested: bool) -> Value {
    let mut n = model("signedNotification");
    n["data"]["environment"] = json!(environment);
    n["data"]["bundleId"] = json!(BUNDLE_ID);
    n["data"]["appAppleId"] = json!(APP_APPLE_ID);
    if nested {
        let mut t = model("signedTransaction");
        t["environment"] = json!(environment);
        t["bundleId"] = json!(BUNDLE_ID);
        let mut r = model("signedRenewalInfo");
        r["environment"] = json!(environment);
        n["data"]["signedTransactionInfo"] = t;
        n["data"]["signedRenewalInfo"] = r;
    } else {
        if let Some(d) = n["data"].as_object_mut() {
            d.remove("signedTransactionInfo");
            d.remove("signedRenewalInfo");
        }
    }
    n
}

/// `notification` with its nested payloads signed, as a JWS.
fn signed_notification(n: &Value) -> String {
    let mut n = n.clone();
    if let Some(data) = n.get_mut("data").and_then(Value::as_object_mut) {
        for field in ["signedTransactionInfo", "signedRenewalInfo"] {
            if let Some(nested) = data.get_mut(field) {
                if nested.is_object() {
                    *nested = json!(sign_payload(nested.to_string().as_bytes()));
                }
            }
        }
    }
    sign_payload(n.to_string().as_bytes())
}

/// The payload of a JWS, with its nested JWS decoded in place.
fn decoded(jws: &str) -> Value {
    let payload = jws.split('.').nth(1).unwrap_or_default();
    let mut value: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap_or_default())
            .unwrap_or(Value::Null);
    if let Some(data) = value.get_mut("data").and_then(Value::as_object_mut) {
        for field in ["signedTransactionInfo", "signedRenewalInfo"] {
            if let Some(Value::String(nested)) = data.get(field).cloned() {
                data.insert(field.into(), decoded(&nested));
            }
        }
    }
    value
}

fn p8_seeds() {
    let c = Corpus::new("p8");
    for name in [
        "SubscriptionKey_ABCDE12345.p8",
        "apple-testSigningKey.p8",
        "p256-pkcs8-no-inner-params.p8",
        "rsa2048-pkcs1.pem",
        "rsa2048-pkcs8.pem",
    ] {
        c.put(name, None, &fixture(&format!("keys/{name}")));
    }
    c.put(
        "sec1.key",
        None,
        &fixture("apple/java-test-pki/testLeaf.key"),
    );
    c.put(
        "certificate.pem",
        None,
        &fixture("apple/java-test-pki/testCA.pem"),
    );
    let pem = fixture("keys/SubscriptionKey_ABCDE12345.p8");
    let key = ApplePrivateKey::parse(&pem).unwrap_or_else(|e| panic!("the fixture key: {e}"));
    c.put("key.der", None, &key.to_pkcs8_der());
    let text = String::from_utf8_lossy(&pem).into_owned();
    c.put("crlf.p8", None, text.replace('\n', "\r\n").as_bytes());
    c.put("one-line.p8", None, text.replace('\n', " ").as_bytes());
    c.put("escaped.p8", None, text.replace('\n', "\\n").as_bytes());
    c.put(
        "two-blocks.p8",
        None,
        format!(
            "{text}{}",
            String::from_utf8_lossy(&fixture("apple/java-test-pki/testCA.pem"))
        )
        .as_bytes(),
    );
    c.put("truncated.p8", None, &pem[..pem.len() / 2]);
}

fn jws_seeds(simulator: &[String]) {
    let c = Corpus::new("jws");
    let signed = "apple/python-tests/mock_signed_data";
    for (mode, name) in [
        (0, "testNotification"),
        (0, "wrongBundleId"),
        (1, "transactionInfo"),
        (1, "missingX5CHeaderClaim"),
        (2, "renewalInfo"),
    ] {
        c.put(name, Some(mode), &fixture(&format!("{signed}/{name}")));
    }
    // In the team's vector store beside the repository, not in tests/fixtures: taken when it is there.
    let legacy = Path::new(
        "../../../shared/vectors/apple/fixtures/python-tests/mock_signed_data/legacyTransaction",
    );
    if let Ok(bytes) = fs::read(legacy) {
        c.put("legacyTransaction", Some(1), &bytes);
    }
    for (mode, name) in [
        (1, "xcode-signed-transaction"),
        (2, "xcode-signed-renewal-info"),
        (3, "xcode-signed-app-transaction"),
    ] {
        c.put(
            name,
            Some(mode),
            &fixture(&format!("apple/python-tests/xcode/{name}")),
        );
    }
    let mut transaction = model("signedTransaction");
    transaction["environment"] = json!("Sandbox");
    let mut renewal = model("signedRenewalInfo");
    renewal["environment"] = json!("Sandbox");
    let mut app = model("appTransaction");
    app["receiptType"] = json!("Production");
    app["bundleId"] = json!(BUNDLE_ID);
    app["appAppleId"] = json!(APP_APPLE_ID);
    let sandbox = notification("Sandbox", false);
    for (mode, name, payload) in [
        (4, "notification.json", &sandbox),
        (5, "transaction.json", &transaction),
        (6, "renewal-info.json", &renewal),
        (7, "app-transaction.json", &app),
    ] {
        c.put(name, Some(mode), payload.to_string().as_bytes());
        // The same, signed whole: a good JWS, the path through the chain cache.
        c.put(
            &format!("signed-{name}"),
            Some(mode - 4),
            sign_payload(payload.to_string().as_bytes()).as_bytes(),
        );
    }
    for name in [
        "signedConsumptionRequestNotification",
        "signedSummaryNotification",
        "signedExternalPurchaseTokenNotification",
        "signedRescindConsentNotification",
    ] {
        c.put(
            &format!("{name}.json"),
            Some(4),
            model(name).to_string().as_bytes(),
        );
    }
    let header = &pki().header_json;
    c.put(
        "header-and-notification",
        Some(8),
        format!("{header}\n{sandbox}").as_bytes(),
    );
    c.put(
        "header-and-transaction",
        Some(9),
        format!("{header}\n{transaction}").as_bytes(),
    );
    for (i, jws) in simulator.iter().enumerate() {
        c.put(&format!("simulator-{i}"), Some(0), jws.as_bytes());
    }
    let pair = |leaf: &[u8], intermediate: &[u8]| {
        let mut out = u16::try_from(leaf.len())
            .unwrap_or(0)
            .to_be_bytes()
            .to_vec();
        out.extend_from_slice(leaf);
        out.extend_from_slice(intermediate);
        out
    };
    let [leaf, intermediate, _] = &pki().chain;
    c.put("chain-test", Some(13), &pair(leaf, intermediate));
    let real = |name: &str| fixture(&format!("apple/apple-real-chain/{name}.der"));
    c.put(
        "chain-apple",
        Some(12),
        &pair(
            &real("ProdECCReceiptSigning-2025-09"),
            &real("AppleWWDRCA-G6"),
        ),
    );
    let pem = |name: &str| {
        pem_der(&String::from_utf8_lossy(&fixture(&format!(
            "apple/java-test-pki/{name}.pem"
        ))))
    };
    c.put(
        "chain-leaf-without-oid",
        Some(13),
        &pair(&pem("testInvalidOIDLeaf"), intermediate),
    );
    c.put(
        "chain-intermediate-without-oid",
        Some(13),
        &pair(leaf, &pem("testInvalidOIDIntermediate")),
    );
    c.put(
        "chain-leaf-of-bad-intermediate",
        Some(13),
        &pair(&pem("testInvalidIntermediateLeaf"), intermediate),
    );
}

fn webhook_seeds(simulator: &[String]) {
    let c = Corpus::new("webhook");
    let body = |jws: &str| json!({ "signedPayload": jws }).to_string();
    let sandbox = notification("Sandbox", true);
    let mut production = notification("Production", true);
    production["data"]["signedTransactionInfo"]["environment"] = json!("Production");
    production["data"]["signedRenewalInfo"]["environment"] = json!("Production");
    c.put("sandbox.json", Some(1), sandbox.to_string().as_bytes());
    c.put(
        "production.json",
        Some(1),
        production.to_string().as_bytes(),
    );
    c.put(
        "without-nested.json",
        Some(1),
        notification("Sandbox", false).to_string().as_bytes(),
    );
    c.put(
        "signed-body",
        Some(0),
        body(&signed_notification(&sandbox)).as_bytes(),
    );
    c.put(
        "unusual-body",
        Some(0),
        format!(
            "{{ \"signedPayload\" : \"{}\", \"other\": [1, 2.5e3, null] }}\n",
            signed_notification(&production)
        )
        .as_bytes(),
    );
    let apple = String::from_utf8_lossy(&fixture(
        "apple/python-tests/mock_signed_data/testNotification",
    ))
    .into_owned();
    c.put(
        "apple-test-notification",
        Some(0),
        body(apple.trim()).as_bytes(),
    );
    for (i, jws) in simulator.iter().enumerate() {
        // As the simulator delivers it (signed by its own root, which this verifier does not trust) ...
        c.put(&format!("simulator-{i}"), Some(0), body(jws).as_bytes());
        // ... and its payload, for the harness to sign.
        c.put(
            &format!("simulator-{i}.json"),
            Some(1),
            decoded(jws).to_string().as_bytes(),
        );
    }
}

fn multipart_seeds() {
    let c = Corpus::new("multipart");
    let key = fixture("keys/SubscriptionKey_ABCDE12345.p8");
    let boundary = "----WebKitFormBoundary7MA4YWxkTrZu0gW";
    let field = |name: &str, value: &str| {
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        )
        .into_bytes()
    };
    let file = |file_name: &str, bytes: &[u8]| {
        let mut out = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"private_key\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .into_bytes();
        out.extend_from_slice(bytes);
        out.extend_from_slice(b"\r\n");
        out
    };
    let form = |parts: &[Vec<u8>]| {
        let mut out = format!("multipart/form-data; boundary={boundary}\n").into_bytes();
        for p in parts {
            out.extend_from_slice(p);
        }
        out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        out
    };
    let csrf = field("csrf_token", "q8bVx0Yt3Jm1o0iKqS8X2Q");
    let key_id = field("key_id", "ABCDE12345");
    let issuer = field("issuer_id", "57246542-96fe-1a63-e053-0824d011072a");
    let good = form(&[
        csrf.clone(),
        key_id.clone(),
        issuer.clone(),
        file("SubscriptionKey_ABCDE12345.p8", &key),
        field("activate_anyway", "1"),
    ]);
    c.put("upload", Some(0), &good);
    c.put("upload-in-7-byte-chunks", Some(7), &good);
    c.put(
        "upload-no-file",
        Some(0),
        &form(&[csrf.clone(), key_id.clone(), issuer.clone(), file("", b"")]),
    );
    c.put(
        "upload-wrong-name",
        Some(64),
        &form(&[
            csrf.clone(),
            key_id.clone(),
            issuer.clone(),
            file("AuthKey_ABCDE12345.p8", &key),
        ]),
    );
    c.put(
        "upload-unexpected-field",
        Some(0),
        &form(&[csrf.clone(), field("comment", "hello")]),
    );
    c.put(
        "upload-rsa",
        Some(0),
        &form(&[
            csrf,
            key_id,
            issuer,
            file("key.pem", &fixture("keys/rsa2048-pkcs8.pem")),
        ]),
    );
}

fn simulator_notifications() -> Vec<String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    runtime.block_on(async {
        let sim = spawn(SimConfig {
            bundle_id: BUNDLE_ID.into(),
            app_apple_id: APP_APPLE_ID,
            ..SimConfig::default()
        })
        .await
        .unwrap_or_else(|e| panic!("simulator: {e}"));
        let seed = sim.seed();
        let mut out = Vec::new();
        for (env, spec) in [
            (SimEnvironment::Sandbox, NotificationSpec::new("TEST")),
            (
                SimEnvironment::Sandbox,
                NotificationSpec::new("DID_RENEW").transaction(&seed.active_monthly.transaction_id),
            ),
            (
                SimEnvironment::Production,
                NotificationSpec::new("CONSUMPTION_REQUEST")
                    .transaction(&seed.active_monthly.transaction_id),
            ),
            (
                SimEnvironment::Sandbox,
                NotificationSpec::new("REFUND").transaction(&seed.active_monthly.transaction_id),
            ),
        ] {
            match sim.sign_notification(env, spec) {
                Ok(jws) => out.push(jws),
                Err(e) => eprintln!("simulator did not sign: {e}"),
            }
        }
        sim.stop().await;
        out
    })
}

fn main() {
    let simulator = simulator_notifications();
    p8_seeds();
    jws_seeds(&simulator);
    webhook_seeds(&simulator);
    multipart_seeds();
}
