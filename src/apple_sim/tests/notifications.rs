use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpResponse, HttpServer};
use reqwest::Method;
use serde_json::{json, Value};

use super::{assert_api_error, jws_payload, TestSim};
use crate::apple_sim::{NotificationSpec, SimEnvironment};

/// A tiny notification endpoint that records bodies and answers with a fixed status.
struct Receiver {
    url: String,
    received: Arc<Mutex<Vec<Value>>>,
    server: actix_web::dev::ServerHandle,
}

struct ReceiverState {
    status: u16,
    received: Arc<Mutex<Vec<Value>>>,
}

async fn receive(state: web::Data<ReceiverState>, body: web::Json<Value>) -> HttpResponse {
    state.received.lock().unwrap().push(body.into_inner());
    HttpResponse::build(actix_web::http::StatusCode::from_u16(state.status).unwrap()).finish()
}

async fn receiver(status: u16) -> Receiver {
    receiver_on("127.0.0.1", status).await
}

/// A receiver listening on `host` (an address to bind, such as 127.0.0.1 or 0.0.0.0), its URL naming that host.
async fn receiver_on(host: &str, status: u16) -> Receiver {
    let received = Arc::new(Mutex::new(Vec::new()));
    let state = web::Data::new(ReceiverState {
        status,
        received: received.clone(),
    });
    let listener = std::net::TcpListener::bind((host, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .route("/apple", web::post().to(receive))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    let handle = server.handle();
    tokio::spawn(server);
    Receiver {
        url: format!("http://{host}:{port}/apple"),
        received,
        server: handle,
    }
}

fn received_payloads(r: &Receiver) -> Vec<Value> {
    r.received
        .lock()
        .unwrap()
        .iter()
        .map(|b| jws_payload(b["signedPayload"].as_str().unwrap()))
        .collect()
}

async fn history(t: &TestSim, env: &str, body: Value, token: Option<&str>) -> (u16, Value) {
    let path = match token {
        Some(tok) => format!("/inApps/v1/notifications/history?paginationToken={tok}"),
        None => "/inApps/v1/notifications/history".to_owned(),
    };
    t.json(Method::POST, env, &path, Some(body)).await
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

const DAY: i64 = 86_400_000;

#[tokio::test]
async fn a_sent_notification_reaches_the_receiver_and_is_recorded() {
    let t = TestSim::start().await;
    let r = receiver(200).await;
    let seed = t.sim.seed();
    t.sim
        .set_notification_url(SimEnvironment::Sandbox, Some(r.url.clone()));

    let outcome = t
        .sim
        .send_notification(
            SimEnvironment::Sandbox,
            NotificationSpec::new("DID_RENEW")
                .transaction(&seed.active_monthly.original_transaction_id),
        )
        .await
        .unwrap();
    assert_eq!(outcome.send_attempt_result, "SUCCESS");
    assert_eq!(outcome.http_status, Some(200));

    let got = received_payloads(&r);
    assert_eq!(got.len(), 1);
    let n = &got[0];
    assert_eq!(n["notificationType"], json!("DID_RENEW"));
    assert!(n.get("subtype").is_none());
    assert_eq!(n["version"], json!("2.0"));
    assert_eq!(n["notificationUUID"], json!(outcome.notification_uuid));
    assert_eq!(n["data"]["environment"], json!("Sandbox"));
    assert_eq!(n["data"]["bundleId"], json!("com.storedesk.demo"));
    assert_eq!(n["data"]["appAppleId"], json!(1_234_567_890_i64));
    assert_eq!(n["data"]["status"], json!(1));
    let tx = jws_payload(n["data"]["signedTransactionInfo"].as_str().unwrap());
    // Subscription notifications carry the newest transaction of the subscription.
    assert_eq!(
        tx["transactionId"],
        json!(seed.active_monthly.transaction_id)
    );
    assert!(n["data"]["signedRenewalInfo"].is_string());

    // The attempt is in the notification history, filtered by the customer's transaction.
    let (status, body) = history(
        &t,
        "sandbox",
        json!({ "startDate": now_ms() - 60_000, "endDate": now_ms() + 60_000,
                "transactionId": seed.active_monthly.transaction_id }),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let items = body["notificationHistory"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(
        items[0]["sendAttempts"][0]["sendAttemptResult"],
        json!("SUCCESS")
    );
    r.server.stop(true).await;
}

#[tokio::test]
async fn failed_deliveries_are_classified_and_a_retry_keeps_the_uuid() {
    let t = TestSim::start().await;
    let seed = t.sim.seed();
    let failing = receiver(500).await;
    t.sim
        .set_notification_url(SimEnvironment::Production, Some(failing.url.clone()));
    let spec =
        NotificationSpec::new("CONSUMPTION_REQUEST").transaction(&seed.consumable_transaction_id);
    let first = t
        .sim
        .send_notification(SimEnvironment::Production, spec)
        .await
        .unwrap();
    assert_eq!(first.send_attempt_result, "UNSUCCESSFUL_HTTP_RESPONSE_CODE");
    assert_eq!(first.http_status, Some(500));
    let n = jws_payload(&first.signed_payload);
    assert_eq!(
        n["data"]["consumptionRequestReason"],
        json!("UNINTENDED_PURCHASE")
    );
    assert!(n["data"].get("signedRenewalInfo").is_none());

    let ok = receiver(200).await;
    t.sim
        .set_notification_url(SimEnvironment::Production, Some(ok.url.clone()));
    let retry = t
        .sim
        .send_notification(
            SimEnvironment::Production,
            NotificationSpec::default().retry_of(&first.notification_uuid),
        )
        .await
        .unwrap();
    assert_eq!(retry.send_attempt_result, "SUCCESS");
    assert_eq!(retry.signed_payload, first.signed_payload);

    let (_, body) = history(
        &t,
        "production",
        json!({ "startDate": now_ms() - 60_000, "endDate": now_ms() + 60_000, "notificationType": "CONSUMPTION_REQUEST" }),
        None,
    )
    .await;
    let items = body["notificationHistory"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    let results: Vec<&str> = items[0]["sendAttempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["sendAttemptResult"].as_str().unwrap())
        .collect();
    assert_eq!(results, vec!["UNSUCCESSFUL_HTTP_RESPONSE_CODE", "SUCCESS"]);

    // Nobody listening.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/apple", closed.local_addr().unwrap());
    drop(closed);
    t.sim
        .set_notification_url(SimEnvironment::Production, Some(url));
    let outcome = t
        .sim
        .send_notification(SimEnvironment::Production, NotificationSpec::new("TEST"))
        .await
        .unwrap();
    assert_eq!(outcome.send_attempt_result, "NO_RESPONSE");

    // Illegal combinations and missing URLs are refused before sending.
    assert!(t
        .sim
        .send_notification(
            SimEnvironment::Production,
            NotificationSpec::new("REFUND")
                .subtype("VOLUNTARY")
                .transaction(&seed.consumable_transaction_id),
        )
        .await
        .is_err());
    t.sim.set_notification_url(SimEnvironment::Production, None);
    assert!(t
        .sim
        .send_notification(SimEnvironment::Production, NotificationSpec::new("TEST"))
        .await
        .is_err());
    failing.server.stop(true).await;
    ok.server.stop(true).await;
}

#[tokio::test]
async fn the_test_notification_flow_matches_apple() {
    let t = TestSim::start().await;
    let test = "/inApps/v1/notifications/test";
    assert_api_error(
        t.call(Method::POST, "production", test, None).await,
        4_040_007,
    )
    .await;

    let r = receiver(200).await;
    // Sandbox falls back to the production URL.
    t.sim
        .set_notification_url(SimEnvironment::Production, Some(r.url.clone()));
    let (status, body) = t.json(Method::POST, "sandbox", test, None).await;
    assert_eq!(status, 200);
    let token = body["testNotificationToken"].as_str().unwrap().to_owned();

    let status_path = format!("{test}/{token}");
    let mut answer = Value::Null;
    for _ in 0..200 {
        let (status, body) = t.json(Method::GET, "sandbox", &status_path, None).await;
        if status == 200 {
            answer = body;
            break;
        }
        assert_eq!(body["errorCode"], json!(4_040_008));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        answer["sendAttempts"][0]["sendAttemptResult"],
        json!("SUCCESS")
    );
    let payload = jws_payload(answer["signedPayload"].as_str().unwrap());
    assert_eq!(payload["notificationType"], json!("TEST"));
    assert_eq!(payload["data"]["environment"], json!("Sandbox"));
    assert_eq!(received_payloads(&r).len(), 1);

    // The token belongs to the sandbox host.
    assert_api_error(t.get(&status_path).await, 4_040_008).await;
    assert_api_error(
        t.get(&format!("{test}/20fba8a0-2b80-4a7d-a17f-85c1854727f8"))
            .await,
        4_040_008,
    )
    .await;
    assert_api_error(t.get(&format!("{test}/not-a-token")).await, 4_000_020).await;
    r.server.stop(true).await;
}

#[tokio::test]
async fn notification_history_pages_and_filters_the_seeded_notifications() {
    let t = TestSim::start().await;
    let seed = t.sim.seed();
    let start = now_ms() - 29 * DAY;
    let window = json!({ "startDate": start, "endDate": now_ms() + DAY });
    let (status, first) = history(&t, "sandbox", window.clone(), None).await;
    assert_eq!(status, 200);
    assert_eq!(first["hasMore"], json!(true));
    let page1 = first["notificationHistory"].as_array().unwrap();
    assert_eq!(page1.len(), 20);
    let token = first["paginationToken"].as_str().unwrap();
    let (status, second) = history(&t, "sandbox", window.clone(), Some(token)).await;
    assert_eq!(status, 200);
    assert_eq!(second["hasMore"], json!(false));
    let page2 = second["notificationHistory"].as_array().unwrap();
    assert!(!page2.is_empty());
    let dates: Vec<i64> = page1
        .iter()
        .chain(page2)
        .map(|i| {
            jws_payload(i["signedPayload"].as_str().unwrap())["signedDate"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert!(dates.windows(2).all(|w| w[0] <= w[1]));
    assert!(dates.iter().all(|d| *d >= start));
    let envs: Vec<Value> = page1
        .iter()
        .filter_map(|i| {
            let p = jws_payload(i["signedPayload"].as_str().unwrap());
            p.get("data").map(|d| d["environment"].clone())
        })
        .collect();
    assert!(envs.iter().all(|e| e == "Sandbox"));

    // A token is tied to its filters.
    let other = json!({ "startDate": start, "endDate": now_ms() + DAY, "onlyFailures": true });
    let (status, body) = history(&t, "sandbox", other, Some(token)).await;
    assert_eq!((status, body["errorCode"].clone()), (400, json!(4_000_014)));

    let hank = json!({ "startDate": start, "endDate": now_ms(),
        "transactionId": seed.refunded_consumable_transaction_id });
    let (_, body) = history(&t, "sandbox", hank, None).await;
    let types: Vec<String> = body["notificationHistory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            jws_payload(i["signedPayload"].as_str().unwrap())["notificationType"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert!(
        types.contains(&"REFUND".to_owned()) && types.contains(&"CONSUMPTION_REQUEST".to_owned())
    );

    let failures = json!({ "startDate": start, "endDate": now_ms(), "onlyFailures": true });
    let (_, body) = history(&t, "sandbox", failures, None).await;
    let failed = body["notificationHistory"].as_array().unwrap();
    assert!(!failed.is_empty());
    assert!(failed.iter().all(|i| i["sendAttempts"]
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["sendAttemptResult"] != "SUCCESS")));

    let refunds = json!({ "startDate": now_ms() - 170 * DAY, "endDate": now_ms(), "notificationType": "REFUND" });
    let (status, body) = history(&t, "production", refunds, None).await;
    assert_eq!(status, 200);
    assert_eq!(body["notificationHistory"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn bad_notification_history_requests_get_apple_error_codes() {
    let t = TestSim::start().await;
    let now = now_ms();
    let cases = vec![
        (json!({ "endDate": now }), 4_000_015),
        (json!({ "startDate": now - DAY }), 4_000_016),
        (
            json!({ "startDate": now - 31 * DAY, "endDate": now }),
            4_000_012,
        ),
        (
            json!({ "startDate": now - DAY, "endDate": now - 2 * DAY }),
            4_000_013,
        ),
        (
            json!({ "startDate": now - DAY, "endDate": now, "notificationSubtype": "UPGRADE" }),
            4_000_018,
        ),
        (
            json!({ "startDate": now - DAY, "endDate": now, "notificationType": "NOPE" }),
            4_000_018,
        ),
        (
            json!({ "startDate": now - DAY, "endDate": now, "notificationType": "REFUND", "notificationSubtype": "UPGRADE" }),
            4_000_018,
        ),
        (
            json!({ "startDate": now - DAY, "endDate": now, "notificationType": "REFUND", "transactionId": "1" }),
            4_000_019,
        ),
        (
            json!({ "startDate": now - DAY, "endDate": now, "transactionId": "x1" }),
            4_000_006,
        ),
        (
            json!({ "startDate": now - DAY, "endDate": now, "transactionId": "2000000999999999" }),
            4_040_010,
        ),
    ];
    for (body, code) in cases {
        let resp = t
            .call(
                Method::POST,
                "sandbox",
                "/inApps/v1/notifications/history",
                Some(body.clone()),
            )
            .await;
        assert_api_error(resp, code).await;
    }
    let resp = t
        .call(
            Method::POST,
            "sandbox",
            "/inApps/v1/notifications/history?paginationToken=a036bc0e-52b8-4bee-82fc-8c24cb6715d6",
            Some(json!({ "startDate": now - DAY, "endDate": now })),
        )
        .await;
    assert_api_error(resp, 4_000_014).await;
    // 31 days back is fine in production (180-day window).
    let (status, _) = history(
        &t,
        "production",
        json!({ "startDate": now - 31 * DAY, "endDate": now }),
        None,
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn the_admin_surface_can_configure_and_send_notifications() {
    let t = TestSim::start().await;
    let r = receiver(200).await;
    let base = t.sim.base_url();
    let resp = t
        .http
        .put(format!("{base}/sim/notification-url/Sandbox"))
        .json(&json!({ "url": r.url }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 204);
    let outcome: Value = t
        .http
        .post(format!("{base}/sim/notifications/Sandbox"))
        .json(&json!({ "notificationType": "REFUND", "transactionId": t.sim.seed().refunded_consumable_transaction_id }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(outcome["sendAttemptResult"], json!("SUCCESS"));
    let got = received_payloads(&r);
    assert_eq!(got[0]["notificationType"], json!("REFUND"));
    let tx = jws_payload(got[0]["data"]["signedTransactionInfo"].as_str().unwrap());
    assert!(tx["revocationDate"].is_i64());
    let bad = t
        .http
        .post(format!("{base}/sim/notifications/Sandbox"))
        .json(&json!({ "notificationType": "SUBSCRIBED" }))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 400);
    r.server.stop(true).await;
}

#[tokio::test]
async fn a_notification_signed_without_sending_verifies_and_is_not_recorded() {
    use crate::apple::{AppIdentity, Environment, SignedDataVerifier};
    let t = TestSim::start().await;
    let seed = t.sim.seed();
    let spec = NotificationSpec::new("DID_RENEW").transaction(&seed.active_monthly.transaction_id);
    let at = now_ms() - 5_000;
    let jws = t
        .sim
        .sign_notification_at(SimEnvironment::Sandbox, spec.clone(), at)
        .unwrap();
    let verifier = SignedDataVerifier::with_roots(vec![t.sim.root_ca_der()]).unwrap();
    let (verified, env, _) = verifier
        .verify_notification_any_env(&jws, &seed.bundle_id, Some(seed.app_apple_id))
        .unwrap();
    assert_eq!(env, Environment::Sandbox);
    assert_eq!(verified.raw["signedDate"], json!(at));
    let uuid = verified.raw["notificationUUID"]
        .as_str()
        .unwrap()
        .to_owned();
    let identity = AppIdentity {
        bundle_id: seed.bundle_id.clone(),
        app_apple_id: Some(seed.app_apple_id),
        environment: Environment::Sandbox,
    };
    let data = &verified.raw["data"];
    let tx = verifier
        .verify_transaction(data["signedTransactionInfo"].as_str().unwrap(), &identity)
        .unwrap();
    assert_eq!(tx.raw["signedDate"], json!(at));
    verifier
        .verify_renewal_info(data["signedRenewalInfo"].as_str().unwrap(), &identity)
        .unwrap();
    // Another date gives other nested JWS; nothing was recorded in the history.
    let other = t
        .sim
        .sign_notification_at(SimEnvironment::Sandbox, spec, at + 1)
        .unwrap();
    let other_tx = jws_payload(&other)["data"]["signedTransactionInfo"].clone();
    assert_ne!(other_tx, data["signedTransactionInfo"]);
    let recorded = crate::apple_sim::state::lock(&t.sim.state.data)
        .notifications(SimEnvironment::Sandbox)
        .iter()
        .any(|r| r.notification_uuid == uuid);
    assert!(!recorded);
    // An illegal combination is refused, as by send_notification.
    assert!(t
        .sim
        .sign_notification(
            SimEnvironment::Sandbox,
            NotificationSpec::new("DID_RENEW").subtype("UPGRADE")
        )
        .is_err());
}

#[tokio::test]
async fn a_notification_sent_to_another_server_is_reported_delivered() {
    // App Store Connect may hold the URL of another server that answers 200: Apple reports SUCCESS although the
    // app never sees the notification.
    let t = TestSim::start().await;
    t.sim
        .set_notification_url(SimEnvironment::Sandbox, Some(t.sim.elsewhere_url()));
    let outcome = t
        .sim
        .send_notification(SimEnvironment::Sandbox, NotificationSpec::new("TEST"))
        .await
        .unwrap();
    assert_eq!(outcome.send_attempt_result, "SUCCESS");
    assert_eq!(outcome.http_status, Some(200));
    assert_eq!(outcome.url, t.sim.elsewhere_url());
    assert_eq!(t.sim.elsewhere_received(), 1);
}

/// This machine's address on its network (not loopback), if it has one: where a receiver bound to 0.0.0.0 is
/// reachable by a URL that is not loopback.
fn network_address() -> Option<std::net::IpAddr> {
    let probe = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    // connect() on UDP sends nothing; it only picks the route's source address.
    probe.connect("192.0.2.1:9").ok()?;
    Some(probe.local_addr().ok()?.ip()).filter(|ip| !ip.is_loopback() && !ip.is_unspecified())
}

#[tokio::test]
async fn notifications_go_to_loopback_addresses_only() {
    let t = TestSim::start().await;
    let base = t.sim.base_url();
    let refused = t
        .http
        .put(format!("{base}/sim/notification-url/Sandbox"))
        .json(&json!({ "url": "http://192.0.2.10/apple" }))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 400);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(
        body["error"],
        json!("The simulator posts notifications only to this machine: http://192.0.2.10/apple is not a loopback address.")
    );
    let Some(ip) = network_address() else {
        eprintln!("skipped the network half: this machine has no address besides loopback");
        return;
    };
    // A receiver that the network address does reach: still not sent to.
    let r = receiver_on("0.0.0.0", 200).await;
    let port = r
        .url
        .trim_end_matches("/apple")
        .rsplit(':')
        .next()
        .unwrap()
        .to_owned();
    let url = format!("http://{ip}:{port}/apple");
    let received = r.received.clone();
    // The receiver answers on that address (so a refusal below is the simulator's, not the network's).
    let direct = t.http.post(&url).json(&json!({})).send().await.unwrap();
    assert_eq!(direct.status().as_u16(), 200);
    let before = received.lock().unwrap().len();
    t.sim
        .set_notification_url(SimEnvironment::Sandbox, Some(url));
    let outcome: Value = t
        .http
        .post(format!("{base}/sim/notifications/Sandbox"))
        .json(&json!({ "notificationType": "REFUND", "transactionId": t.sim.seed().refunded_consumable_transaction_id }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(outcome["sendAttemptResult"], json!("OTHER"));
    assert_eq!(received.lock().unwrap().len(), before, "nothing was posted");
    r.server.stop(true).await;
}

#[tokio::test]
async fn the_admin_surface_answers_only_on_a_loopback_bind() {
    let t = TestSim::with(crate::apple_sim::SimConfig {
        bind: std::net::SocketAddr::from(([0, 0, 0, 0], 0)),
        ..Default::default()
    })
    .await;
    let port = t
        .sim
        .base_url()
        .rsplit(':')
        .next()
        .unwrap()
        .parse::<u16>()
        .unwrap();
    let admin = t
        .http
        .get(format!("http://127.0.0.1:{port}/sim/root.pem"))
        .send()
        .await
        .unwrap();
    assert_eq!(admin.status().as_u16(), 403);
    let body: Value = admin.json().await.unwrap();
    assert_eq!(
        body["error"],
        json!(crate::apple_sim::server::ADMIN_ONLY_ON_LOOPBACK)
    );
    // Apple's API itself still answers (here: a request without a token is refused by Apple's rules, not 403).
    let api = t
        .http
        .get(format!(
            "http://127.0.0.1:{port}/production/inApps/v1/transactions/1"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status().as_u16(), 401);
}

#[tokio::test]
async fn a_finished_mass_extension_sends_renewal_extended_then_apples_summary() {
    use crate::apple::{Environment, SignedDataVerifier};
    let t = TestSim::start().await;
    let r = receiver(200).await;
    let seed = t.sim.seed();
    t.sim
        .set_notification_url(SimEnvironment::Production, Some(r.url.clone()));
    let product = "com.storedesk.demo.pro.monthly";
    let request = "3f1c7b1e-2a4d-4c8e-9b0a-5d6e7f8a9b0c";
    let answer = t
        .call(
            Method::POST,
            "production",
            "/inApps/v1/subscriptions/extend/mass",
            Some(
                json!({ "requestIdentifier": request, "extendByDays": 7, "extendReasonCode": 3,
                "productId": product, "storefrontCountryCodes": ["USA", "DEU"] }),
            ),
        )
        .await;
    assert_eq!(answer.status().as_u16(), 200);
    let mut got = Vec::new();
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        got = received_payloads(&r);
        if got
            .last()
            .is_some_and(|n| n["notificationType"] == json!("RENEWAL_EXTENSION"))
        {
            break;
        }
    }
    // Alice (USA) and Bob (DEU) are extended: one RENEWAL_EXTENDED each, then the summary, last.
    let types: Vec<(&Value, Option<&Value>)> = got
        .iter()
        .map(|n| (&n["notificationType"], n.get("subtype")))
        .collect();
    assert_eq!(
        types,
        vec![
            (&json!("RENEWAL_EXTENDED"), None),
            (&json!("RENEWAL_EXTENDED"), None),
            (&json!("RENEWAL_EXTENSION"), Some(&json!("SUMMARY"))),
        ],
        "{got:?}"
    );
    let summary = &got[2];
    // Apple's shape: a `summary` object instead of `data`, with exactly these fields.
    assert!(summary.get("data").is_none(), "{summary}");
    assert_eq!(summary["version"], json!("2.0"));
    assert_eq!(
        summary["summary"],
        json!({
            "requestIdentifier": request,
            "environment": "Production",
            "appAppleId": seed.app_apple_id,
            "bundleId": seed.bundle_id,
            "productId": product,
            "storefrontCountryCodes": ["USA", "DEU"],
            "succeededCount": 2,
            "failedCount": 0,
        })
    );
    // Signed like every other notification: it verifies, and the environment comes from `summary`.
    let signed = r.received.lock().unwrap()[2]["signedPayload"]
        .as_str()
        .unwrap()
        .to_owned();
    let verifier = SignedDataVerifier::with_roots(vec![t.sim.root_ca_der()]).unwrap();
    let (_, env, _) = verifier
        .verify_notification_any_env(&signed, &seed.bundle_id, Some(seed.app_apple_id))
        .unwrap();
    assert_eq!(env, Environment::Production);
    r.server.stop(true).await;
}
