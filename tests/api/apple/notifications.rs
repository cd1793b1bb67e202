//! `POST /apple/notifications/{token}`: every answer, idempotency under concurrency, the simulator delivering
//! end to end, tampering, identity mismatches, our own failures, and a crash mid-load.
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};
use storedesk::apple_sim::{NotificationSpec, SimConfig, SimEnvironment, SimHandle};

use crate::helpers::{Ready, TestApp};
use crate::with_ready;

pub async fn webhook_url(r: &Ready) -> String {
    let token = r.app.store.notification_token(r.project.id).await.unwrap();
    r.app.url(&format!("/apple/notifications/{token}"))
}

pub fn body(jws: &str) -> String {
    json!({ "signedPayload": jws }).to_string()
}

/// A renewal of the seeded active subscription: a notification with a nested transaction and renewal info.
pub fn renewal(sim: &SimHandle, env: SimEnvironment) -> String {
    let id = sim.seed().active_monthly.transaction_id;
    sim.sign_notification(env, NotificationSpec::new("DID_RENEW").transaction(&id))
        .unwrap()
}

pub fn payload_of(jws: &str) -> Value {
    let part = jws.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// The same JWS with another payload and the original signature: what a forger without Apple's key can make.
fn with_payload(jws: &str, payload: &Value) -> String {
    let parts: Vec<&str> = jws.split('.').collect();
    format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(payload.to_string()),
        parts[2]
    )
}

/// POSTs `body`; error bodies get their request id checked against the header and replaced by "<id>".
pub async fn deliver(url: &str, body: impl Into<reqwest::Body>) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let header = response
        .headers()
        .get("x-request-id")
        .map(|v| v.to_str().unwrap().to_owned());
    let mut json: Value = response.json().await.unwrap();
    if let Some(id) = json.pointer_mut("/error/request_id") {
        assert_eq!(
            id.as_str(),
            header.as_deref(),
            "request id in body and header"
        );
        *id = json!("<id>");
    }
    (status, json)
}

fn error(code: &str, message: &str) -> Value {
    json!({"error": {"code": code, "message": message, "request_id": "<id>"}})
}

async fn count(r: &Ready) -> i64 {
    r.app.store.count_notifications(r.project.id).await.unwrap()
}

async fn metrics(app: &TestApp) -> String {
    app.metrics().await
}

const SIGNATURE: &str = "The signature does not match the signed data; it was altered or not signed by Apple. Nothing was stored.";

with_ready!(a_signed_notification_is_stored_once_and_answered_200, |r| {
    let url = webhook_url(&r).await;
    let jws = renewal(&r.sim, SimEnvironment::Sandbox);
    let uuid = payload_of(&jws)["notificationUUID"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        deliver(&url, body(&jws)).await,
        (200, json!({"result": "accepted", "notificationUUID": uuid}))
    );
    let row = r
        .app
        .store
        .notification_by_uuid(r.project.id, &uuid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.notification_type, "DID_RENEW");
    assert_eq!(row.environment, "Sandbox");
    assert_eq!(row.source, "webhook");
    let seed = r.sim.seed();
    assert_eq!(
        row.original_transaction_id.as_deref(),
        Some(seed.active_monthly.original_transaction_id.as_str())
    );
    let stored: Value = serde_json::from_str(&row.payload).unwrap();
    assert_eq!(stored["notification"]["notificationUUID"], json!(uuid));
    assert!(stored["transaction"]["transactionId"].is_string());
    assert!(stored["renewalInfo"]["autoRenewProductId"].is_string());

    // Apple's retry of the same notification: 200 again, no second row.
    assert_eq!(
        deliver(&url, body(&jws)).await,
        (
            200,
            json!({"result": "duplicate", "notificationUUID": uuid})
        )
    );
    assert_eq!(count(&r).await, 1);
    let m = metrics(&r.app).await;
    assert!(
        m.contains("storedesk_notifications_total{outcome=\"accepted\"} 1\n"),
        "{m}"
    );
    assert!(
        m.contains("storedesk_notifications_total{outcome=\"duplicate\"} 1\n"),
        "{m}"
    );
});

with_ready!(
    concurrent_deliveries_of_one_notification_make_one_row,
    |r| {
        let url = webhook_url(&r).await;
        let jws = renewal(&r.sim, SimEnvironment::Production);
        let answers =
            futures_util::future::join_all((0..20).map(|_| deliver(&url, body(&jws)))).await;
        assert!(answers.iter().all(|(s, _)| *s == 200), "{answers:?}");
        let accepted = answers
            .iter()
            .filter(|(_, b)| b["result"] == "accepted")
            .count();
        assert_eq!(accepted, 1, "{answers:?}");
        assert_eq!(count(&r).await, 1);
    }
);

with_ready!(the_simulator_delivers_to_the_project_url_end_to_end, |r| {
    let url = webhook_url(&r).await;
    r.sim
        .set_notification_url(SimEnvironment::Production, Some(url.clone()));
    let seed = r.sim.seed();
    let outcome = r
        .sim
        .send_notification(
            SimEnvironment::Production,
            NotificationSpec::new("DID_CHANGE_RENEWAL_STATUS")
                .subtype("AUTO_RENEW_DISABLED")
                .transaction(&seed.active_monthly.transaction_id),
        )
        .await
        .unwrap();
    assert_eq!(outcome.send_attempt_result, "SUCCESS");
    assert_eq!(outcome.http_status, Some(200));
    let row = r
        .app
        .store
        .notification_by_uuid(r.project.id, &outcome.notification_uuid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.environment, "Production");
    assert_eq!(row.subtype.as_deref(), Some("AUTO_RENEW_DISABLED"));
    // The transaction it carries is in the local index, so the support desk can answer without Apple.
    let transaction_id = row.transaction_id.clone().unwrap();
    let indexed = r
        .app
        .store
        .indexed_by_transaction_id(r.project.id, &transaction_id)
        .await
        .unwrap();
    assert_eq!(indexed.len(), 1, "{indexed:?}");
    assert_eq!(indexed[0].source, "notification");
    assert_eq!(indexed[0].environment, "Production");
    assert_eq!(
        Some(indexed[0].original_transaction_id.as_str()),
        row.original_transaction_id.as_deref()
    );
    // Sandbox falls back to the Production URL, as at Apple; one project takes both environments.
    let sandbox = r
        .sim
        .send_notification(SimEnvironment::Sandbox, NotificationSpec::new("TEST"))
        .await
        .unwrap();
    assert_eq!(sandbox.send_attempt_result, "SUCCESS");
    // A retry carries the same UUID.
    let retry = r
        .sim
        .send_notification(
            SimEnvironment::Production,
            NotificationSpec::new("DID_CHANGE_RENEWAL_STATUS")
                .subtype("AUTO_RENEW_DISABLED")
                .transaction(&seed.active_monthly.transaction_id)
                .retry_of(&outcome.notification_uuid),
        )
        .await
        .unwrap();
    assert_eq!(retry.send_attempt_result, "SUCCESS");
    assert_eq!(count(&r).await, 2);
});

with_ready!(an_unknown_notification_url_is_404, |r| {
    let jws = renewal(&r.sim, SimEnvironment::Sandbox);
    let expected = error(
        "not_found",
        "No project has this notification URL. If it was regenerated, copy the new URL from the project's App Store settings (Step 4) into App Store Connect.",
    );
    for token in ["nope", &"A".repeat(43), &"A".repeat(44)] {
        let url = r.app.url(&format!("/apple/notifications/{token}"));
        assert_eq!(
            deliver(&url, body(&jws)).await,
            (404, expected.clone()),
            "{token}"
        );
    }
    assert_eq!(count(&r).await, 0);
    let m = metrics(&r.app).await;
    assert!(
        m.contains("storedesk_notifications_total{outcome=\"unknown_project\"} 3\n"),
        "{m}"
    );
});

with_ready!(a_stranger_is_refused_before_its_body_arrives, |r| {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    // Arrange: a request to a notification URL no project has, whose body never comes (a slow sender holding
    // the handler open, a byte a minute).
    let base = r.app.url("");
    let address = base
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let token = "A".repeat(43);
    let head = format!(
        "POST /apple/notifications/{token} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         Content-Length: 60000\r\n\r\n{{"
    );

    // Act
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 512];
    let read =
        tokio::time::timeout(std::time::Duration::from_secs(3), stream.read(&mut answer)).await;

    // Assert: the answer comes at once, without waiting for the body.
    let n = read
        .expect("answered without waiting for the body")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
    assert_eq!(count(&r).await, 0);
});

with_ready!(a_body_over_64_kib_is_413_and_not_read, |r| {
    let url = webhook_url(&r).await;
    let big = body(&"a".repeat(64 * 1024));
    assert_eq!(
        deliver(&url, big).await,
        (
            413,
            error(
                "payload_too_large",
                "The body is larger than 64 KiB, so it was not read. App Store Server Notifications are much smaller."
            )
        )
    );
    assert_eq!(count(&r).await, 0);
});

// Found by fuzzing (docs/fuzzing.md): a byte that is not UTF-8 in a field the JSON parser skips. The body was
// stored for forwarding with a replacement character instead of as it came; now it is refused.
with_ready!(
    a_body_that_is_not_utf8_is_400_even_with_a_good_signed_payload,
    |r| {
        let url = webhook_url(&r).await;
        let jws = renewal(&r.sim, SimEnvironment::Sandbox);
        let mut bad = format!("{{\"signedPayload\":\"{jws}\",\"note\":\"").into_bytes();
        bad.extend_from_slice(b"\x80\"}");
        assert_eq!(
        deliver(&url, bad).await,
        (
            400,
            error(
                "malformed_body",
                "The body must be a JSON object with a non-empty signedPayload string, as App Store Server Notifications V2 send it."
            )
        )
    );
        assert_eq!(count(&r).await, 0);
        // The same body with a character in UTF-8 there is stored.
        let good = format!("{{\"signedPayload\":\"{jws}\",\"note\":\"é\"}}");
        assert_eq!(deliver(&url, good).await.0, 200);
        assert_eq!(count(&r).await, 1);
    }
);

with_ready!(malformed_bodies_are_400, |r| {
    let url = webhook_url(&r).await;
    let expected = error(
        "malformed_body",
        "The body must be a JSON object with a non-empty signedPayload string, as App Store Server Notifications V2 send it.",
    );
    for bad in [
        "",
        "not json",
        "[]",
        r#"{"payload": "x"}"#,
        r#"{"signedPayload": 42}"#,
        r#"{"signedPayload": "  "}"#,
    ] {
        assert_eq!(deliver(&url, bad).await, (400, expected.clone()), "{bad}");
    }
    // A string that is not a JWS gets past the shape check and is refused by verification.
    assert_eq!(
        deliver(&url, body("abc")).await,
        (
            400,
            error(
                "verification_failure",
                "The signed data is not a well-formed JWS (it must have exactly three dot-separated parts). Nothing was stored."
            )
        )
    );
    assert_eq!(count(&r).await, 0);
    let m = metrics(&r.app).await;
    assert!(
        m.contains(
            "storedesk_notifications_total{outcome=\"rejected\",reason=\"MALFORMED_BODY\"} 6\n"
        ),
        "{m}"
    );
});

with_ready!(
    a_tampered_signature_or_payload_is_400_and_nothing_is_stored,
    |r| {
        let url = webhook_url(&r).await;
        let jws = renewal(&r.sim, SimEnvironment::Sandbox);
        // One character of the signature changed.
        let sig_at = jws.rfind('.').unwrap() + 10;
        let mut bytes = jws.clone().into_bytes();
        bytes[sig_at] = if bytes[sig_at] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(bytes).unwrap();
        assert_eq!(
            deliver(&url, body(&flipped)).await,
            (400, error("verification_failure", SIGNATURE))
        );
        // The outer payload changed (another notification type), signature kept.
        let mut p = payload_of(&jws);
        p["notificationType"] = json!("REFUND");
        assert_eq!(
            deliver(&url, body(&with_payload(&jws, &p))).await,
            (400, error("verification_failure", SIGNATURE))
        );
        // Signed by someone else's chain (another simulator: same shape, untrusted root).
        let other = storedesk::apple_sim::spawn(SimConfig::default())
            .await
            .unwrap();
        assert_eq!(
        deliver(&url, body(&renewal(&other, SimEnvironment::Sandbox))).await,
        (
            400,
            error(
                "invalid_chain",
                "The certificate chain does not lead to a trusted Apple root: the intermediate certificate was not issued by a trusted root. Nothing was stored."
            )
        )
    );
        // A transaction under another chain's header inside a correctly signed notification is verified on its
        // own, and refused.
        let foreign = payload_of(&renewal(&other, SimEnvironment::Sandbox))["data"]
            ["signedTransactionInfo"]
            .clone();
        let mut p = payload_of(&jws);
        p["data"]["signedTransactionInfo"] = foreign;
        assert_eq!(
            deliver(&url, body(&r.sim.sign_json(&p))).await,
            (
                400,
                error(
                    "invalid_chain",
                    "The certificate chain does not lead to a trusted Apple root: the intermediate certificate was not issued by a trusted root. Nothing was stored."
                )
            )
        );
        assert_eq!(count(&r).await, 0);
        let m = metrics(&r.app).await;
        assert!(
        m.contains("storedesk_notifications_total{outcome=\"rejected\",reason=\"VERIFICATION_FAILURE\"} 2\n"),
        "{m}"
    );
    }
);

// Apple signs a notification and the JWS inside it under one header. The notification's signature covers every
// byte of those JWS, theirs included, so they are not checked a second time (docs/decisions.md): what is stored is
// exactly what the verified notification carries.
with_ready!(
    a_nested_jws_under_the_notifications_header_is_taken_as_the_notification_signed_it,
    |r| {
        let url = webhook_url(&r).await;
        let jws = renewal(&r.sim, SimEnvironment::Sandbox);
        let mut p = payload_of(&jws);
        let nested = p["data"]["signedTransactionInfo"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(nested.split('.').next(), jws.split('.').next());
        let mut tx = payload_of(&nested);
        tx["productId"] = json!("com.storedesk.free");
        // The nested JWS's own signature no longer matches its payload; the notification's does.
        p["data"]["signedTransactionInfo"] = json!(with_payload(&nested, &tx));
        let uuid = p["notificationUUID"].as_str().unwrap().to_owned();
        assert_eq!(
            deliver(&url, body(&r.sim.sign_json(&p))).await,
            (200, json!({"result": "accepted", "notificationUUID": uuid}))
        );
        let row = r
            .app
            .store
            .notification_by_uuid(r.project.id, &uuid)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.product_id.as_deref(), Some("com.storedesk.free"));
        // Outside a notification the same JWS is checked in full, and refused.
        assert!(crate::projects::notifications::signed::verifier(&r.sim)
            .verify_transaction(
                &with_payload(&nested, &tx),
                &storedesk::apple::AppIdentity {
                    bundle_id: r.project.bundle_id.clone(),
                    app_apple_id: r.project.app_apple_id,
                    environment: storedesk::domain::Environment::Sandbox,
                }
            )
            .is_err_and(|e| e == storedesk::apple::VerifyError::BadSignature));
    }
);

// Found by fuzzing (docs/fuzzing.md): a certificate in x5c with a field that claims 33 MB inside 184 bytes. The
// certificate decoder used to allocate the claimed size before reading it; the lengths are checked first now.
with_ready!(
    a_certificate_whose_lengths_run_past_its_end_is_refused_unread,
    |r| {
        let url = webhook_url(&r).await;
        let jws = renewal(&r.sim, SimEnvironment::Sandbox);
        let parts: Vec<&str> = jws.split('.').collect();
        let mut header: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        let der = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/keys/der-length-overrun.der"
        ))
        .unwrap();
        header["x5c"][0] = json!(base64::engine::general_purpose::STANDARD.encode(&der));
        let forged = format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            parts[1],
            parts[2]
        );
        assert_eq!(
        deliver(&url, body(&forged)).await,
        (
            400,
            error(
                "invalid_certificate",
                "The leaf certificate in the signed data could not be read (not DER X.509: a length runs past the end). Nothing was stored."
            )
        )
    );
        assert_eq!(count(&r).await, 0);
    }
);

with_ready!(another_apps_or_environments_data_is_400, |r| {
    let url = webhook_url(&r).await;
    let jws = renewal(&r.sim, SimEnvironment::Sandbox);
    // Another bundle ID, correctly signed.
    let mut p = payload_of(&jws);
    p["data"]["bundleId"] = json!("com.other.app");
    assert_eq!(
        deliver(&url, body(&r.sim.sign_json(&p))).await,
        (
            400,
            error(
                "invalid_app_identifier",
                "The signed data is for bundle id \"com.other.app\", but this project's bundle id is \"com.storedesk.demo\". Nothing was stored."
            )
        )
    );
    // Production data for another App Apple ID.
    let mut p = payload_of(&renewal(&r.sim, SimEnvironment::Production));
    p["data"]["appAppleId"] = json!(99);
    assert_eq!(
        deliver(&url, body(&r.sim.sign_json(&p))).await,
        (
            400,
            error(
                "invalid_app_identifier",
                "The signed data is for App Apple ID 99, but this project's App Apple ID is 1234567890. Nothing was stored."
            )
        )
    );
    // Xcode's environment is never accepted.
    let mut p = payload_of(&jws);
    p["data"]["environment"] = json!("Xcode");
    assert_eq!(
        deliver(&url, body(&r.sim.sign_json(&p))).await,
        (
            400,
            error(
                "invalid_environment",
                "The signed data is from the Xcode environment, but Production or Sandbox was expected. Nothing was stored."
            )
        )
    );
    // A Sandbox notification carrying a Production transaction.
    let production = payload_of(&renewal(&r.sim, SimEnvironment::Production));
    let mut p = payload_of(&jws);
    p["data"]["signedTransactionInfo"] = production["data"]["signedTransactionInfo"].clone();
    assert_eq!(
        deliver(&url, body(&r.sim.sign_json(&p))).await,
        (
            400,
            error(
                "invalid_environment",
                "The signed data is from the Production environment, but Sandbox was expected. Nothing was stored."
            )
        )
    );
    assert_eq!(count(&r).await, 0);
});

with_ready!(a_regenerated_url_leaves_the_old_one_answering_404, |r| {
    let old = webhook_url(&r).await;
    let wizard = "/projects/demo/settings/stores/apple";
    let response = r
        .admin
        .post_form(
            wizard,
            "/projects/demo/settings/stores/apple/notification-url/regenerate",
            &[("confirm", "yes")],
        )
        .await;
    crate::helpers::assert_redirect_to(&response, "/projects/demo/settings/stores/apple#step4");
    let new = webhook_url(&r).await;
    assert_ne!(old, new);
    let jws = renewal(&r.sim, SimEnvironment::Sandbox);
    assert_eq!(deliver(&old, body(&jws)).await.0, 404);
    assert_eq!(deliver(&new, body(&jws)).await.0, 200);
    assert!(r.admin.get_text(wizard).await.contains(&new));
});

with_ready!(our_own_failure_is_503_and_the_retry_is_stored, |r| {
    use sqlx::Connection as _;
    let url = webhook_url(&r).await;
    sqlx::any::install_default_drivers();
    let mut db = sqlx::AnyConnection::connect(r.app.settings.database_url.as_str())
        .await
        .unwrap();
    sqlx::query("ALTER TABLE notifications RENAME TO notifications_away")
        .execute(&mut db)
        .await
        .unwrap();
    let jws = renewal(&r.sim, SimEnvironment::Sandbox);
    let response = reqwest::Client::new()
        .post(&url)
        .body(body(&jws))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 503);
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("5")
    );
    let json: Value = response.json().await.unwrap();
    assert_eq!(json["error"]["code"], "unavailable");
    assert_eq!(
        json["error"]["message"],
        "storedesk could not store this notification (its database is unavailable); send it again later."
    );
    sqlx::query("ALTER TABLE notifications_away RENAME TO notifications")
        .execute(&mut db)
        .await
        .unwrap();
    // Apple's retry lands.
    assert_eq!(deliver(&url, body(&jws)).await.1["result"], "accepted");
    assert_eq!(count(&r).await, 1);
    let m = metrics(&r.app).await;
    assert!(
        m.contains("storedesk_notifications_total{outcome=\"error\",reason=\"STORE_FAILURE\"} 1\n"),
        "{m}"
    );
});

mod crash {
    //! The real binary on SQLite, killed with SIGKILL mid-load: every notification answered 200 must be there.
    use std::process::{Child, Command, Stdio};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use secrecy::ExposeSecret as _;
    use storedesk::apple_sim::{NotificationSpec, SimConfig, SimEnvironment};
    use storedesk::config::DatabaseUrl;
    use storedesk::domain::{AppAppleId, BundleId, Environment, Slug};
    use storedesk::store::{Actor, NewProject, Store};

    pub(super) fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    fn serve(dir: &std::path::Path, db: &DatabaseUrl, key: &str, roots: &str, port: u16) -> Child {
        Command::new(env!("CARGO_BIN_EXE_storedesk"))
            .arg("serve")
            .env_clear()
            .env("STOREDESK_DATABASE_URL", db.as_str())
            .env("STOREDESK_DATA_DIR", dir)
            .env("STOREDESK_MASTER_KEY", key)
            .env("STOREDESK_BIND", format!("127.0.0.1:{port}"))
            .env("STOREDESK_APPLE_PRODUCTION_URL", crate::helpers::NO_APPLE)
            .env("STOREDESK_APPLE_SANDBOX_URL", crate::helpers::NO_APPLE)
            .env("STOREDESK_APPLE_EXTRA_ROOTS", roots)
            .env("STOREDESK_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }

    pub(super) async fn wait_ready(base: &str) {
        for _ in 0..300 {
            if let Ok(r) = reqwest::get(format!("{base}/readyz")).await {
                if r.status().is_success() {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("storedesk serve did not become ready at {base}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_kill_mid_load_loses_nothing_that_was_answered_200() {
        let dir = tempfile::tempdir().unwrap();
        let db = DatabaseUrl::sqlite_file(&dir.path().join("crash.db"));
        let sim = storedesk::apple_sim::spawn(SimConfig::default())
            .await
            .unwrap();
        let seed = sim.seed();
        let roots = dir.path().join("sim-root.pem");
        std::fs::write(&roots, sim.root_ca_pem()).unwrap();
        let key = storedesk::crypto::MasterKey::generate()
            .to_base64_secret()
            .expose_secret()
            .to_owned();

        let store = Store::connect(&db).await.unwrap();
        store.migrate().await.unwrap();
        let project = store
            .create_project(
                &NewProject {
                    name: "Crash".into(),
                    slug: Slug::parse("crash").unwrap(),
                    bundle_id: BundleId::parse(&seed.bundle_id).unwrap(),
                    app_apple_id: Some(AppAppleId::from_i64(seed.app_apple_id).unwrap()),
                    environment: Environment::parse("Production").unwrap(),
                },
                &Actor::system("test"),
            )
            .await
            .unwrap();
        let token = store.notification_token(project.id).await.unwrap();

        // Distinct notifications, each with its own nested transaction and renewal info.
        let base = chrono::Utc::now().timestamp_millis();
        let notifications: Vec<(String, String)> = (0..400)
            .map(|i| {
                let uuid = uuid::Uuid::new_v4().to_string();
                let mut spec = NotificationSpec::new("DID_RENEW")
                    .transaction(&seed.active_monthly.transaction_id);
                spec.notification_uuid = Some(uuid.clone());
                let jws = sim
                    .sign_notification_at(SimEnvironment::Production, spec, base - i)
                    .unwrap();
                (uuid, super::body(&jws))
            })
            .collect();

        let port = free_port();
        let address = format!("http://127.0.0.1:{port}");
        let url = format!("{address}/apple/notifications/{token}");
        let roots = roots.to_str().unwrap().to_owned();
        let mut child = serve(dir.path(), &db, &key, &roots, port);
        wait_ready(&address).await;

        let acknowledged = Arc::new(AtomicUsize::new(0));
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let tasks: Vec<_> = notifications
            .iter()
            .cloned()
            .map(|(uuid, body)| {
                let (client, url, acknowledged) =
                    (client.clone(), url.clone(), acknowledged.clone());
                tokio::spawn(async move {
                    let ok = match client.post(&url).body(body).send().await {
                        Ok(r) => r.status().as_u16() == 200,
                        Err(_) => false,
                    };
                    if ok {
                        acknowledged.fetch_add(1, Ordering::SeqCst);
                    }
                    (uuid, ok)
                })
            })
            .collect();
        // Kill once some are stored and many are in flight.
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        while acknowledged.load(Ordering::SeqCst) < 50 {
            assert!(
                std::time::Instant::now() < deadline,
                "the server never acknowledged 50 notifications"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let mut answered = Vec::new();
        for t in tasks {
            let (uuid, ok) = t.await.unwrap();
            if ok {
                answered.push(uuid);
            }
        }
        eprintln!(
            "crash test: {} of {} answered 200 before the kill",
            answered.len(),
            notifications.len()
        );
        assert!(answered.len() >= 50);
        assert!(
            answered.len() < notifications.len(),
            "the kill came too late to test anything"
        );

        let mut child = serve(dir.path(), &db, &key, &roots, port);
        wait_ready(&address).await;
        for uuid in &answered {
            assert!(
                store
                    .notification_by_uuid(project.id, uuid)
                    .await
                    .unwrap()
                    .is_some(),
                "notification {uuid} was answered 200 but is not stored"
            );
        }
        // Apple resends what was not answered 200; afterwards everything is there exactly once.
        for (uuid, body) in &notifications {
            if !answered.contains(uuid) {
                let r = client.post(&url).body(body.clone()).send().await.unwrap();
                assert_eq!(r.status().as_u16(), 200);
            }
        }
        assert_eq!(
            store.count_notifications(project.id).await.unwrap(),
            notifications.len() as i64
        );
        child.kill().unwrap();
        child.wait().unwrap();
        sim.stop().await;
    }
}

mod logs {
    //! The real binary's log while notifications are refused: the URL's token (its secret) is never in it.
    use std::process::{Command, Stdio};

    use secrecy::ExposeSecret as _;
    use storedesk::config::DatabaseUrl;
    use storedesk::domain::{BundleId, Environment, Slug};
    use storedesk::store::{Actor, NewProject, Store};

    use super::crash::{free_port, wait_ready};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_notification_urls_token_never_reaches_the_log() {
        // Arrange: `storedesk serve` logging at info to a file, and a project's notification URL.
        let dir = tempfile::tempdir().unwrap();
        let db = DatabaseUrl::sqlite_file(&dir.path().join("logs.db"));
        let store = Store::connect(&db).await.unwrap();
        store.migrate().await.unwrap();
        let project = store
            .create_project(
                &NewProject {
                    name: "Logs".into(),
                    slug: Slug::parse("logs").unwrap(),
                    bundle_id: BundleId::parse("com.example.logs").unwrap(),
                    app_apple_id: None,
                    environment: Environment::parse("Production").unwrap(),
                },
                &Actor::system("test"),
            )
            .await
            .unwrap();
        let token = store.notification_token(project.id).await.unwrap();
        let key = storedesk::crypto::MasterKey::generate()
            .to_base64_secret()
            .expose_secret()
            .to_owned();
        let log_path = dir.path().join("storedesk.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let mut child = Command::new(env!("CARGO_BIN_EXE_storedesk"))
            .arg("serve")
            .env_clear()
            .env("STOREDESK_DATABASE_URL", db.as_str())
            .env("STOREDESK_DATA_DIR", dir.path())
            .env("STOREDESK_MASTER_KEY", &key)
            .env("STOREDESK_BIND", format!("127.0.0.1:{port}"))
            .env("STOREDESK_LOG", "info")
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap();
        wait_ready(&base).await;
        let client = reqwest::Client::new();

        // Act: a body that is not a notification, at the project's real URL.
        let refused = client
            .post(format!("{base}/apple/notifications/{token}"))
            .body("not a notification")
            .send()
            .await
            .unwrap();
        child.kill().unwrap();
        child.wait().unwrap();

        // Assert: the refusal is logged, with the route's pattern where the address would be.
        assert_eq!(refused.status().as_u16(), 400);
        let written = std::fs::read_to_string(&log_path).unwrap();
        assert!(written.contains("notification refused"), "{written}");
        assert!(
            written.contains("/apple/notifications/{project_token}"),
            "{written}"
        );
        assert!(!written.contains(&token), "the token is in the log");
    }
}

with_ready!(
    rescind_consents_app_transaction_is_verified_and_shown,
    |r| {
        let url = webhook_url(&r).await;
        let id = r.sim.seed().active_monthly.transaction_id;
        let jws = r
            .sim
            .sign_notification(
                SimEnvironment::Production,
                NotificationSpec::new("RESCIND_CONSENT").transaction(&id),
            )
            .unwrap();
        let p = payload_of(&jws);
        let nested = p["appData"]["signedAppTransactionInfo"]
            .as_str()
            .unwrap()
            .to_owned();
        let app_tx = payload_of(&nested);
        let app_transaction_id = app_tx["appTransactionId"].as_str().unwrap().to_owned();

        // An app transaction signed under another chain, inside a correctly signed notification: verified on its
        // own (the notification's signature vouches only for its own chain), refused, nothing stored.
        let stranger = storedesk::apple_sim::spawn(SimConfig::default())
            .await
            .unwrap();
        let mut forged = p.clone();
        let mut changed = app_tx.clone();
        changed["appTransactionId"] = json!("704289572311");
        forged["appData"]["signedAppTransactionInfo"] = json!(stranger.sign_json(&changed));
        let (status, answer) = deliver(&url, body(&r.sim.sign_json(&forged))).await;
        assert_eq!(status, 400, "{answer}");
        assert_eq!(answer["error"]["code"], "invalid_chain", "{answer}");
        // Another app's app transaction, correctly signed: refused too.
        let mut other = p.clone();
        let mut foreign = app_tx.clone();
        foreign["bundleId"] = json!("com.other.app");
        other["appData"]["signedAppTransactionInfo"] = json!(r.sim.sign_json(&foreign));
        let (status, answer) = deliver(&url, body(&r.sim.sign_json(&other))).await;
        assert_eq!(status, 400, "{answer}");
        assert_eq!(
            answer["error"]["code"], "invalid_app_identifier",
            "{answer}"
        );
        assert_eq!(count(&r).await, 0);

        // Apple's own: stored, and its app transaction shown on the notification's page.
        assert_eq!(deliver(&url, body(&jws)).await.0, 200);
        let uuid = p["notificationUUID"].as_str().unwrap();
        let row = r
            .app
            .store
            .notification_by_uuid(r.project.id, uuid)
            .await
            .unwrap()
            .expect("stored");
        let page = r
            .admin
            .get_text(&format!("/projects/demo/notifications/{}", row.id))
            .await;
        assert!(
            page.contains("App transaction (signature verified)"),
            "{page}"
        );
        assert!(page.contains(&app_transaction_id), "{page}");
        // Stored decoded, without its JWS (the verbatim original is the signed payload).
        let stored: Value = serde_json::from_str(&row.payload).unwrap();
        assert_eq!(
            stored["appTransaction"]["appTransactionId"],
            app_transaction_id.as_str()
        );
        assert!(stored["notification"]["appData"]
            .get("signedAppTransactionInfo")
            .is_none());
    }
);
