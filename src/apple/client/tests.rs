//! Client tests against a tiny HTTP/1.1 stub on 127.0.0.1 that serves Apple's model JSON files.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Instant;

use app_store_server_library::models::app_store_environment::Environment as LibEnvironment;
use app_store_server_library::models::delivery_status::DeliveryStatus;
use app_store_server_library::models::extend_reason_code::ExtendReasonCode;
use app_store_server_library::models::notification_type_v2::NotificationTypeV2;
use app_store_server_library::models::order_lookup_status::OrderLookupStatus;
use app_store_server_library::models::refund_preference::RefundPreference;
use app_store_server_library::models::subtype::Subtype;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::SigningKey;
use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

use super::*;
use crate::domain::TransactionId;

#[derive(Debug, Clone)]
struct Recorded {
    method: String,
    path: String,
    query: Option<String>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Recorded {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn query_pairs(&self) -> Vec<(String, String)> {
        self.query
            .as_deref()
            .map(|q| serde_urlencoded::from_str(q).unwrap())
            .unwrap_or_default()
    }

    fn claims(&self) -> serde_json::Value {
        let token = self
            .header("authorization")
            .and_then(|v| v.strip_prefix("Bearer "))
            .expect("bearer token");
        let payload = token.split('.').nth(1).unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
    }
}

#[derive(Clone)]
struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    delay: Duration,
}

impl Reply {
    fn json(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Reply {
            status,
            headers: vec![("Content-Type", "application/json".into())],
            body: body.into(),
            delay: Duration::ZERO,
        }
    }

    fn model(status: u16, name: &str) -> Self {
        Self::json(status, model_bytes(name))
    }

    fn text(status: u16, body: &str) -> Self {
        Reply {
            status,
            headers: vec![("Content-Type", "text/plain".into())],
            body: body.as_bytes().to_vec(),
            delay: Duration::ZERO,
        }
    }

    fn empty(status: u16) -> Self {
        Reply {
            status,
            headers: vec![],
            body: vec![],
            delay: Duration::ZERO,
        }
    }
}

type Handler = dyn Fn(&Recorded, usize) -> Reply + Send + Sync;

struct Stub {
    base: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

impl Stub {
    async fn start(handler: impl Fn(&Recorded, usize) -> Reply + Send + Sync + 'static) -> Stub {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let recorded = requests.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let handler = handler.clone();
                let recorded = recorded.clone();
                tokio::spawn(async move {
                    let Some(req) = read_request(&mut socket).await else {
                        return;
                    };
                    let index = {
                        let mut all = recorded.lock().unwrap();
                        all.push(req.clone());
                        all.len() - 1
                    };
                    let reply = handler(&req, index);
                    tokio::time::sleep(reply.delay).await;
                    let mut head = format!(
                        "HTTP/1.1 {} X\r\nContent-Length: {}\r\nConnection: close\r\n",
                        reply.status,
                        reply.body.len()
                    );
                    for (k, v) in &reply.headers {
                        head.push_str(&format!("{k}: {v}\r\n"));
                    }
                    head.push_str("\r\n");
                    let _ = socket.write_all(head.as_bytes()).await;
                    let _ = socket.write_all(&reply.body).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        Stub { base, requests }
    }

    fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }
}

async fn read_request(socket: &mut tokio::net::TcpStream) -> Option<Recorded> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let header_end = loop {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos;
        }
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_owned();
    let target = request_line.next()?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[header_end + 4..].to_vec();
    while body.len() < length {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
        None => (target, None),
    };
    Some(Recorded {
        method,
        path,
        query,
        headers,
        body,
    })
}

fn model_bytes(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/apple/python-tests/models")
        .join(format!("{name}.json"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn creds() -> ApiCredentials {
    ApiCredentials {
        // The placeholders of Apple's own library tests, not real shapes: taken unchecked, as from the store.
        key_id: crate::domain::KeyId::from_store("keyId".into()),
        issuer_id: crate::domain::IssuerId::from_store("issuerId".into()),
        bundle_id: "com.example".into(),
        signing_key: SigningKey::random(&mut rand::rngs::OsRng).into(),
        key_version: 7,
    }
}

fn tid(id: &str) -> TransactionId {
    TransactionId::parse(id).unwrap()
}

/// Production under /prod and Sandbox under /sandbox of the same stub; trailing slashes on purpose.
fn client_for(stub: &Stub, tweak: impl FnOnce(&mut AppleClientConfig)) -> AppleClient {
    let mut config = AppleClientConfig {
        production_url: format!("{}/prod/", stub.base),
        sandbox_url: format!("{}/sandbox/", stub.base),
        retry_base_delay: Duration::from_millis(10),
        ..AppleClientConfig::default()
    };
    tweak(&mut config);
    AppleClient::new(config).unwrap()
}

fn assert_common_request(req: &Recorded, creds: &ApiCredentials) {
    assert_eq!(req.header("accept"), Some("application/json"));
    assert_eq!(
        req.header("user-agent"),
        Some(concat!("storedesk/", env!("CARGO_PKG_VERSION")))
    );
    let token = req
        .header("authorization")
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["kid"], "keyId");
    assert_eq!(header["typ"], "JWT");
    let claims = req.claims();
    assert_eq!(claims["iss"], "issuerId");
    assert_eq!(claims["aud"], "appstoreconnect-v1");
    assert_eq!(claims["bid"], "com.example");
    let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert_eq!(lifetime, 1200);
    let sig =
        p256::ecdsa::Signature::from_slice(&URL_SAFE_NO_PAD.decode(parts[2]).unwrap()).unwrap();
    let crate::apple::SigningKeySource::Ready(signing_key) = &creds.signing_key else {
        panic!("the test key is in memory");
    };
    signing_key
        .verifying_key()
        .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig)
        .unwrap();
    if req.body.is_empty() {
        assert_eq!(req.header("content-type"), None, "no body, no content type");
    } else {
        assert_eq!(req.header("content-type"), Some("application/json"));
    }
}

#[tokio::test]
async fn get_transaction_info_sends_apple_shaped_request() {
    let stub = Stub::start(|_, _| Reply::model(200, "transactionInfoResponse")).await;
    let client = client_for(&stub, |_| {});
    let creds = creds();
    let resp = client
        .get_transaction_info(&creds, Environment::Sandbox, &tid("1234"))
        .await
        .unwrap();
    assert_eq!(
        resp.signed_transaction_info.as_deref(),
        Some("signed_transaction_info_value")
    );
    let reqs = stub.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].method, "GET");
    assert_eq!(reqs[0].path, "/sandbox/inApps/v1/transactions/1234");
    assert_eq!(reqs[0].query, None);
    assert_common_request(&reqs[0], &creds);

    // The same key reuses its token; the production base URL is used for Production.
    client
        .get_transaction_info(&creds, Environment::Production, &tid("1234"))
        .await
        .unwrap();
    let reqs = stub.requests();
    assert_eq!(reqs[1].path, "/prod/inApps/v1/transactions/1234");
    assert_eq!(
        reqs[0].header("authorization"),
        reqs[1].header("authorization")
    );

    // A rotated key gets its own token.
    let rotated = ApiCredentials {
        signing_key: SigningKey::random(&mut rand::rngs::OsRng).into(),
        key_version: 8,
        ..creds.clone()
    };
    client
        .get_transaction_info(&rotated, Environment::Production, &tid("1234"))
        .await
        .unwrap();
    let reqs = stub.requests();
    assert_ne!(
        reqs[1].header("authorization"),
        reqs[2].header("authorization")
    );
    assert_common_request(&reqs[2], &rotated);
}

#[tokio::test]
async fn ids_are_path_encoded() {
    // Transaction ids are digits by type now; an order id is still the text that was pasted.
    let stub = Stub::start(|_, _| Reply::model(200, "lookupOrderIdResponse")).await;
    let client = client_for(&stub, |_| {});
    client
        .look_up_order_id(&creds(), Environment::Sandbox, "12/../34?x=1")
        .await
        .unwrap();
    assert_eq!(
        stub.requests()[0].path,
        "/sandbox/inApps/v1/lookup/12%2F..%2F34%3Fx=1"
    );
}

#[tokio::test]
async fn transaction_history_v2_with_every_filter() {
    let stub = Stub::start(|_, _| Reply::model(200, "transactionHistoryResponse")).await;
    let client = client_for(&stub, |_| {});
    let creds = creds();
    let query = HistoryQuery {
        revision: Some("revision_input".into()),
        start_date: Some(123455),
        end_date: Some(123456),
        product_ids: vec!["com.example.1".into(), "com.example.2".into()],
        product_types: vec![ProductType::Consumable, ProductType::AutoRenewable],
        subscription_group_ids: vec!["sub_group_id".into(), "sub_group_id_2".into()],
        ownership: Some(InAppOwnershipType::FamilyShared),
        revoked: Some(false),
        sort: Some(Order::Ascending),
    };
    let resp = client
        .get_transaction_history(&creds, Environment::Production, &tid("1234"), &query)
        .await
        .unwrap();
    assert_eq!(resp.revision.as_deref(), Some("revision_output"));
    assert_eq!(resp.has_more, Some(true));
    assert_eq!(resp.app_apple_id, Some(323232));
    assert_eq!(resp.signed_transactions.map(|s| s.len()), Some(2));

    let req = &stub.requests()[0];
    assert_eq!(req.path, "/prod/inApps/v2/history/1234");
    assert_eq!(
        req.query.as_deref(),
        Some(
            "revision=revision_input&startDate=123455&endDate=123456&productId=com.example.1&productId=com.example.2\
             &productType=CONSUMABLE&productType=AUTO_RENEWABLE&sort=ASCENDING&subscriptionGroupIdentifier=sub_group_id\
             &subscriptionGroupIdentifier=sub_group_id_2&inAppOwnershipType=FAMILY_SHARED&revoked=false"
        )
    );
    let product_ids: Vec<String> = req
        .query_pairs()
        .into_iter()
        .filter(|(k, _)| k == "productId")
        .map(|(_, v)| v)
        .collect();
    assert_eq!(product_ids, ["com.example.1", "com.example.2"]);
    assert_common_request(req, &creds);
}

#[tokio::test]
async fn unknown_environment_value_is_kept_raw() {
    let stub =
        Stub::start(|_, _| Reply::model(200, "transactionHistoryResponseWithMalformedEnvironment"))
            .await;
    let client = client_for(&stub, |_| {});
    let resp = client
        .get_transaction_history(
            &creds(),
            Environment::Sandbox,
            &tid("1234"),
            &HistoryQuery::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        resp.environment,
        Some(LibEnvironment::NotSupported("LocalTestingxxx".into()))
    );
    assert_eq!(stub.requests()[0].query, None);
}

#[tokio::test]
async fn wrong_json_shape_is_a_malformed_response() {
    let stub =
        Stub::start(|_, _| Reply::model(200, "transactionHistoryResponseWithMalformedAppAppleId"))
            .await;
    let client = client_for(&stub, |_| {});
    let err = client
        .get_transaction_history(
            &creds(),
            Environment::Sandbox,
            &tid("1234"),
            &HistoryQuery::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, AppleError::MalformedResponse(_)), "{err:?}");
    assert_eq!(stub.count(), 1, "not retried");

    let stub = Stub::start(|_, _| Reply::text(200, "<html>surprise</html>")).await;
    let client = client_for(&stub, |_| {});
    let err = client
        .get_transaction_info(&creds(), Environment::Sandbox, &tid("1234"))
        .await
        .unwrap_err();
    assert!(matches!(err, AppleError::MalformedResponse(_)), "{err:?}");
    assert!(!err.sentence().contains("surprise"));
}

#[tokio::test]
async fn subscription_statuses_repeat_the_status_key() {
    let stub = Stub::start(|_, _| Reply::model(200, "getAllSubscriptionStatusesResponse")).await;
    let client = client_for(&stub, |_| {});
    let resp = client
        .get_all_subscription_statuses(&creds(), Environment::Sandbox, &tid("4321"), &[2, 1])
        .await
        .unwrap();
    assert_eq!(resp.app_apple_id, Some(5454545));
    assert_eq!(resp.data.map(|d| d.len()), Some(2));
    let req = &stub.requests()[0];
    assert_eq!(req.path, "/sandbox/inApps/v1/subscriptions/4321");
    assert_eq!(req.query.as_deref(), Some("status=2&status=1"));
}

#[tokio::test]
async fn refund_history_order_lookup_and_test_notifications() {
    let stub = Stub::start(|req, _| match req.path.as_str() {
        "/prod/inApps/v2/refund/lookup/555555" => Reply::model(200, "getRefundHistoryResponse"),
        "/prod/inApps/v1/lookup/W002182" => Reply::model(200, "lookupOrderIdResponse"),
        "/sandbox/inApps/v1/notifications/test" => {
            Reply::model(200, "requestTestNotificationResponse")
        }
        "/sandbox/inApps/v1/notifications/test/8cd2974c-f905-492a-bf9a-b2f47c791d19" => {
            Reply::model(200, "getTestNotificationStatusResponse")
        }
        _ => Reply::empty(404),
    })
    .await;
    let client = client_for(&stub, |_| {});
    let creds = creds();

    let refunds = client
        .get_refund_history(
            &creds,
            Environment::Production,
            &tid("555555"),
            Some("revision_input"),
        )
        .await
        .unwrap();
    assert_eq!(refunds.revision.as_deref(), Some("revision_output"));
    assert_eq!(refunds.signed_transactions.map(|s| s.len()), Some(2));

    let order = client
        .look_up_order_id(&creds, Environment::Production, "W002182")
        .await
        .unwrap();
    assert_eq!(order.status, Some(OrderLookupStatus::Invalid));

    let test = client
        .request_test_notification(&creds, Environment::Sandbox)
        .await
        .unwrap();
    assert_eq!(
        test.test_notification_token.as_deref(),
        Some("ce3af791-365e-4c60-841b-1674b43c1609")
    );
    let status = client
        .get_test_notification_status(
            &creds,
            Environment::Sandbox,
            "8cd2974c-f905-492a-bf9a-b2f47c791d19",
        )
        .await
        .unwrap();
    assert_eq!(status.send_attempts.map(|a| a.len()), Some(2));

    let reqs = stub.requests();
    assert_eq!(reqs[0].query.as_deref(), Some("revision=revision_input"));
    assert_eq!(reqs[1].query, None);
    assert_eq!(reqs[2].method, "POST");
    assert!(reqs[2].body.is_empty(), "test notification has no body");
    for r in &reqs {
        assert_common_request(r, &creds);
    }
}

#[tokio::test]
async fn notification_history_posts_the_request_body() {
    let stub = Stub::start(|_, _| Reply::model(200, "getNotificationHistoryResponse")).await;
    let client = client_for(&stub, |_| {});
    let creds = creds();
    let request = NotificationHistoryRequest {
        start_date: chrono::DateTime::from_timestamp_millis(1698148900000).unwrap(),
        end_date: chrono::DateTime::from_timestamp_millis(1698148950000).unwrap(),
        notification_type: Some(NotificationTypeV2::Subscribed),
        notification_subtype: Some(Subtype::InitialBuy),
        transaction_id: Some("999733843".into()),
        only_failures: Some(true),
    };
    let resp = client
        .get_notification_history(
            &creds,
            Environment::Production,
            &request,
            Some("a036bc0e-52b8-4bee-82fc-8c24cb6715d6"),
        )
        .await
        .unwrap();
    assert_eq!(
        resp.pagination_token.as_deref(),
        Some("57715481-805a-4283-8499-1c19b5d6b20a")
    );
    assert_eq!(resp.notification_history.map(|h| h.len()), Some(2));
    let req = &stub.requests()[0];
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, "/prod/inApps/v1/notifications/history");
    assert_eq!(
        req.query.as_deref(),
        Some("paginationToken=a036bc0e-52b8-4bee-82fc-8c24cb6715d6")
    );
    let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(
        body,
        json!({"startDate":1698148900000_i64,"endDate":1698148950000_i64,"notificationType":"SUBSCRIBED",
               "notificationSubtype":"INITIAL_BUY","transactionId":"999733843","onlyFailures":true})
    );
    assert_common_request(req, &creds);

    // Absent optional fields are left out, not sent as null.
    let minimal = NotificationHistoryRequest {
        notification_type: None,
        notification_subtype: None,
        transaction_id: None,
        only_failures: None,
        ..request
    };
    client
        .get_notification_history(&creds, Environment::Production, &minimal, None)
        .await
        .unwrap();
    let req = &stub.requests()[1];
    assert_eq!(req.query, None);
    let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(
        body,
        json!({"startDate":1698148900000_i64,"endDate":1698148950000_i64})
    );
}

#[tokio::test]
async fn consumption_information_v2_accepts_202_empty() {
    let stub = Stub::start(|_, _| Reply::empty(202)).await;
    let client = client_for(&stub, |_| {});
    let creds = creds();
    let request = ConsumptionRequest {
        customer_consented: true,
        consumption_percentage: Some(50000),
        delivery_status: DeliveryStatus::Delivered,
        refund_preference: Some(RefundPreference::GrantFull),
        sample_content_provided: false,
    };
    client
        .send_consumption_information(&creds, Environment::Sandbox, &tid("49571273"), &request)
        .await
        .unwrap();
    let req = &stub.requests()[0];
    assert_eq!(req.method, "PUT");
    assert_eq!(
        req.path,
        "/sandbox/inApps/v2/transactions/consumption/49571273"
    );
    let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(
        body,
        json!({"customerConsented":true,"sampleContentProvided":false,"deliveryStatus":"DELIVERED",
               "consumptionPercentage":50000,"refundPreference":"GRANT_FULL"})
    );
    assert_common_request(req, &creds);
}

#[tokio::test]
async fn extend_subscription_renewal_date_puts_the_body() {
    let stub = Stub::start(|_, _| Reply::model(200, "extendSubscriptionRenewalDateResponse")).await;
    let client = client_for(&stub, |_| {});
    let request = ExtendRenewalDateRequest {
        extend_by_days: 45,
        extend_reason_code: ExtendReasonCode::CustomerSatisfaction,
        request_identifier: "fdf964a4-233b-486c-aac1-97d8d52688ac".into(),
    };
    let resp = client
        .extend_subscription_renewal_date(
            &creds(),
            Environment::Production,
            &tid("4124214"),
            &request,
        )
        .await
        .unwrap();
    assert_eq!(resp.original_transaction_id.as_deref(), Some("2312412"));
    assert_eq!(resp.success, Some(true));
    assert_eq!(
        resp.effective_date.map(|d| d.timestamp_millis()),
        Some(1698148900000)
    );
    let req = &stub.requests()[0];
    assert_eq!(req.method, "PUT");
    assert_eq!(req.path, "/prod/inApps/v1/subscriptions/extend/4124214");
    let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(
        body,
        json!({"extendByDays":45,"extendReasonCode":1,"requestIdentifier":"fdf964a4-233b-486c-aac1-97d8d52688ac"})
    );
}

// ---- Faults ----

#[tokio::test]
async fn unauthorized_text_body() {
    let stub = Stub::start(|_, _| {
        Reply::text(
            401,
            "Unauthenticated\n\nRequest ID: ABCDEFGHIJKLMNOPQRSTUVWXYZ.0.0\n",
        )
    })
    .await;
    let client = client_for(&stub, |_| {});
    let err = client
        .get_transaction_info(&creds(), Environment::Production, &tid("1234"))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        AppleError::Unauthorized {
            environment: Environment::Production
        }
    );
    assert!(err
        .sentence()
        .starts_with("Apple refused our credentials (HTTP 401)"));
    assert!(!err.sentence().contains("Request ID"));
    assert_eq!(err.code(), None);
    assert!(!err.is_retryable());
    assert_eq!(stub.count(), 1);
}

#[tokio::test]
async fn not_found_is_not_retried_and_falls_back_to_sandbox() {
    let stub = Stub::start(|req, _| {
        if req.path.starts_with("/prod/") {
            Reply::model(404, "transactionIdNotFoundError")
        } else {
            Reply::model(200, "transactionInfoResponse")
        }
    })
    .await;
    let client = client_for(&stub, |_| {});
    let creds = creds();
    let err = client
        .get_transaction_info(&creds, Environment::Production, &tid("1234"))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        AppleError::Api {
            status: 404,
            code: 4040010,
            kind: ApiErrorKind::TransactionIdNotFound,
            environment: Environment::Production,
            retries: 0
        }
    ));
    assert_eq!(
        err.sentence(),
        "Apple has no transaction with this id in Production."
    );
    assert_eq!(stub.count(), 1);

    let answered = client
        .get_transaction_info_any_env(&creds, &tid("1234"))
        .await
        .unwrap();
    assert_eq!(answered.environment, Environment::Sandbox);
    assert_eq!(
        answered.value.signed_transaction_info.as_deref(),
        Some("signed_transaction_info_value")
    );
    let paths: Vec<String> = stub.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(
        paths[1..],
        [
            "/prod/inApps/v1/transactions/1234".to_owned(),
            "/sandbox/inApps/v1/transactions/1234".to_owned()
        ]
    );
}

#[tokio::test]
async fn fallback_stops_at_production_success_and_other_errors() {
    let stub = Stub::start(|req, _| {
        if req.path.starts_with("/prod/inApps/v1/transactions/1") {
            Reply::model(200, "transactionInfoResponse")
        } else {
            Reply::model(400, "invalidTransactionIdError")
        }
    })
    .await;
    let client = client_for(&stub, |_| {});
    let creds = creds();
    let answered = client
        .get_transaction_info_any_env(&creds, &tid("1"))
        .await
        .unwrap();
    assert_eq!(answered.environment, Environment::Production);
    let err = client
        .get_transaction_info_any_env(&creds, &tid("2"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(4000006));
    assert_eq!(
        stub.count(),
        2,
        "a 400 in Production is not retried in Sandbox"
    );
}

#[tokio::test]
async fn a_production_401_is_asked_of_sandbox_as_for_an_app_not_released_yet() {
    // Production refuses every key (an app not released there); Sandbox knows transaction 1 and refuses 2's key.
    let stub = Stub::start(|req, _| {
        if req.path.starts_with("/prod/") {
            Reply::empty(401)
        } else if req.path.starts_with("/sandbox/inApps/v1/transactions/1") {
            Reply::model(200, "transactionInfoResponse")
        } else {
            Reply::empty(401)
        }
    })
    .await;
    let client = client_for(&stub, |_| {});
    let creds = creds();
    let answered = client
        .get_transaction_info_any_env(&creds, &tid("1"))
        .await
        .unwrap();
    assert_eq!(answered.environment, Environment::Sandbox);
    assert!(answered.production_refused);
    // Refused in both: the key is refused, said as Production's refusal.
    let err = client
        .get_transaction_info_any_env(&creds, &tid("2"))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        AppleError::Unauthorized {
            environment: Environment::Production
        }
    ));
    assert_eq!(stub.count(), 4);
}

#[tokio::test]
async fn rate_limit_soon_is_waited_out_once() {
    let stub = Stub::start(|_, i| {
        if i == 0 {
            let mut r = Reply::model(429, "apiTooManyRequestsException");
            r.headers
                .push(("Retry-After", (now_ms() + 300).to_string()));
            r
        } else {
            Reply::model(200, "transactionInfoResponse")
        }
    })
    .await;
    let client = client_for(&stub, |_| {});
    let started = Instant::now();
    client
        .get_transaction_info(&creds(), Environment::Sandbox, &tid("1234"))
        .await
        .unwrap();
    assert_eq!(stub.count(), 2);
    assert!(started.elapsed() >= Duration::from_millis(250));
}

#[tokio::test]
async fn rate_limit_far_is_returned_with_the_time() {
    let retry_at = now_ms() + 60_000;
    let stub = Stub::start(move |_, _| {
        let mut r = Reply::model(429, "apiTooManyRequestsException");
        r.headers.push(("Retry-After", retry_at.to_string()));
        r
    })
    .await;
    let client = client_for(&stub, |_| {});
    let err = client
        .get_transaction_info(&creds(), Environment::Sandbox, &tid("1234"))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        AppleError::RateLimited {
            retry_at_ms: Some(retry_at)
        }
    );
    let at = chrono::DateTime::from_timestamp_millis(retry_at).unwrap();
    assert_eq!(
        err.sentence(),
        format!(
            "Apple's rate limit for this endpoint was reached; try again after {} UTC.",
            at.format("%H:%M")
        )
    );
    assert_eq!(stub.count(), 1);
}

#[tokio::test]
async fn rate_limit_twice_in_a_row_is_returned() {
    let stub = Stub::start(|_, _| {
        let mut r = Reply::model(429, "apiTooManyRequestsException");
        r.headers.push(("Retry-After", (now_ms() + 50).to_string()));
        r
    })
    .await;
    let client = client_for(&stub, |_| {});
    let err = client
        .get_transaction_info(&creds(), Environment::Sandbox, &tid("1234"))
        .await
        .unwrap_err();
    assert!(matches!(err, AppleError::RateLimited { .. }));
    assert_eq!(stub.count(), 2);
}

#[tokio::test]
async fn retryable_500_is_retried_then_succeeds() {
    let stub = Stub::start(|_, i| {
        if i < 2 {
            Reply::json(
                500,
                r#"{"errorCode":5000001,"errorMessage":"An unknown error occurred. Please try again."}"#,
            )
        } else {
            Reply::model(200, "transactionInfoResponse")
        }
    })
    .await;
    let client = client_for(&stub, |_| {});
    client
        .get_transaction_info(&creds(), Environment::Sandbox, &tid("1234"))
        .await
        .unwrap();
    assert_eq!(stub.count(), 3);
}

#[tokio::test]
async fn persistent_500_reports_the_retries() {
    let stub = Stub::start(|_, _| Reply::model(500, "apiException")).await;
    let client = client_for(&stub, |_| {});
    let err = client
        .get_transaction_info(&creds(), Environment::Production, &tid("1234"))
        .await
        .unwrap_err();
    assert_eq!(stub.count(), 3, "first attempt plus max_retries (2)");
    assert_eq!(err.code(), Some(5000000));
    assert_eq!(
        err.sentence(),
        "Apple's server had an error (Production). It was retried 2 times."
    );

    let stub = Stub::start(|_, _| Reply::text(503, "busy")).await;
    let client = client_for(&stub, |c| c.max_retries = 1);
    let err = client
        .get_transaction_info(&creds(), Environment::Production, &tid("1234"))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        AppleError::HttpStatus {
            status: 503,
            retries: 1
        }
    );
    assert_eq!(stub.count(), 2);
}

#[tokio::test]
async fn a_renewal_date_extension_is_never_retried() {
    // Apple may have applied an extension whose answer was a 5xx or never came: the client sends it once.
    let request = ExtendRenewalDateRequest {
        extend_by_days: 7,
        extend_reason_code: ExtendReasonCode::CustomerSatisfaction,
        request_identifier: "fdf964a4-233b-486c-aac1-97d8d52688ac".into(),
    };
    for reply in [
        Reply::model(500, "apiException"),
        Reply::json(500, r#"{"errorCode":5000001,"errorMessage":"x"}"#),
        Reply::text(503, "busy"),
    ] {
        let stub = Stub::start(move |_, _| reply.clone()).await;
        let client = client_for(&stub, |_| {});
        let err = client
            .extend_subscription_renewal_date(
                &creds(),
                Environment::Production,
                &tid("4124214"),
                &request,
            )
            .await
            .unwrap_err();
        assert_eq!(stub.count(), 1, "{err:?}");
    }
    let stub = Stub::start(|_, _| {
        let mut r = Reply::model(200, "extendSubscriptionRenewalDateResponse");
        r.delay = Duration::from_secs(2);
        r
    })
    .await;
    let client = client_for(&stub, |c| c.timeout = Duration::from_secs(1));
    let err = client
        .extend_subscription_renewal_date(
            &creds(),
            Environment::Production,
            &tid("4124214"),
            &request,
        )
        .await
        .unwrap_err();
    assert_eq!(err, AppleError::Timeout { retries: 0 });
    assert_eq!(stub.count(), 1);
}

#[tokio::test]
async fn retryable_404_codes_are_retried() {
    let stub = Stub::start(|_, i| {
        if i == 0 {
            Reply::json(404, r#"{"errorCode":4040002,"errorMessage":"x"}"#)
        } else {
            Reply::model(200, "getAllSubscriptionStatusesResponse")
        }
    })
    .await;
    let client = client_for(&stub, |_| {});
    client
        .get_all_subscription_statuses(&creds(), Environment::Sandbox, &tid("1"), &[])
        .await
        .unwrap();
    assert_eq!(stub.count(), 2);
}

#[tokio::test]
async fn unknown_error_code_is_kept_raw_and_charset_is_tolerated() {
    let stub = Stub::start(|_, _| {
        let mut r = Reply::model(400, "apiUnknownError");
        r.headers = vec![("Content-Type", "application/json; charset=utf-8".into())];
        r
    })
    .await;
    let client = client_for(&stub, |_| {});
    let err = client
        .get_transaction_info(&creds(), Environment::Sandbox, &tid("1234"))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        AppleError::Api {
            status: 400,
            code: 9990000,
            kind: ApiErrorKind::Unknown(9990000),
            ..
        }
    ));
    assert_eq!(err.code(), Some(9990000));
    assert!(!err.sentence().contains("Testing error"));
    assert_eq!(stub.count(), 1);
}

#[tokio::test]
async fn json_error_body_without_json_content_type_is_not_parsed() {
    let stub = Stub::start(|_, _| {
        let mut r = Reply::model(400, "invalidTransactionIdError");
        r.headers = vec![("Content-Type", "text/plain".into())];
        r
    })
    .await;
    let client = client_for(&stub, |_| {});
    let err = client
        .get_transaction_info(&creds(), Environment::Sandbox, &tid("1234"))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        AppleError::HttpStatus {
            status: 400,
            retries: 0
        }
    );
}

#[tokio::test]
async fn hang_beyond_the_timeout_is_a_timeout() {
    let stub = Stub::start(|_, _| {
        let mut r = Reply::model(200, "transactionInfoResponse");
        r.delay = Duration::from_secs(3);
        r
    })
    .await;
    let client = client_for(&stub, |c| {
        c.timeout = Duration::from_secs(1);
        c.max_retries = 1;
    });
    let started = Instant::now();
    let err = client
        .get_transaction_info(&creds(), Environment::Sandbox, &tid("1234"))
        .await
        .unwrap_err();
    assert_eq!(err, AppleError::Timeout { retries: 1 });
    assert!(err.is_retryable());
    assert_eq!(stub.count(), 2);
    assert!(started.elapsed() < Duration::from_millis(2900));
}

#[tokio::test]
async fn a_call_someone_waits_for_ends_at_its_bound_retries_included() {
    // Each attempt alone stays under the client's timeout, so without the bound the retries would take ~4.5 s.
    let stub = Stub::start(|_, _| {
        let mut r = Reply::model(200, "transactionInfoResponse");
        r.delay = Duration::from_millis(1500);
        r
    })
    .await;
    let client = client_for(&stub, |c| {
        c.timeout = Duration::from_secs(1);
        c.max_retries = 2;
        c.answer_within = Duration::from_millis(1200);
    });
    let started = Instant::now();
    let err = client
        .within(client.get_transaction_info(&creds(), Environment::Sandbox, &tid("1234")))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        AppleError::NoAnswer {
            within: Duration::from_millis(1200)
        }
    );
    assert_eq!(
        err.sentence(),
        "Apple did not answer within 1.2 seconds. Nothing was changed; try again in a minute."
    );
    assert!(err.is_retryable());
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(1200) && took < Duration::from_millis(2500),
        "{took:?}"
    );
    // An answer within the bound is the answer.
    let quick = Stub::start(|_, _| Reply::model(200, "transactionInfoResponse")).await;
    let client = client_for(&quick, |c| c.answer_within = Duration::from_secs(5));
    assert!(client
        .within(client.get_transaction_info(&creds(), Environment::Sandbox, &tid("1234")))
        .await
        .is_ok());
}

#[tokio::test]
async fn connection_refused_is_a_network_error() {
    // Bind then drop to get a port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let client = AppleClient::new(AppleClientConfig {
        production_url: format!("http://127.0.0.1:{port}"),
        sandbox_url: format!("http://127.0.0.1:{port}"),
        max_retries: 1,
        retry_base_delay: Duration::from_millis(1),
        ..AppleClientConfig::default()
    })
    .unwrap();
    let err = client
        .get_transaction_info(&creds(), Environment::Sandbox, &tid("1"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, AppleError::Network { retries: 1, .. }),
        "{err:?}"
    );
}

#[test]
fn config_defaults_and_bad_urls() {
    let c = AppleClientConfig::default();
    assert_eq!(c.production_url, "https://api.storekit.apple.com");
    assert_eq!(c.sandbox_url, "https://api.storekit-sandbox.apple.com");
    assert_eq!(c.timeout, Duration::from_secs(30));
    assert_eq!(c.connect_timeout, Duration::from_secs(5));
    assert_eq!(c.max_retries, 2);
    assert!(c.user_agent.starts_with("storedesk/"));
    assert!(AppleClient::new(AppleClientConfig {
        production_url: "not a url".into(),
        ..AppleClientConfig::default()
    })
    .is_err());

    let client = AppleClient::new(AppleClientConfig::default()).unwrap();
    let url = client
        .url(
            Environment::Production,
            &["inApps", "v1", "lookup", "W002182"],
            &[],
        )
        .unwrap();
    assert_eq!(
        url.as_str(),
        "https://api.storekit.apple.com/inApps/v1/lookup/W002182"
    );
}

#[test]
fn credentials_debug_hides_the_key() {
    let c = creds();
    let debug = format!("{c:?}");
    assert!(debug.contains("keyId"));
    assert!(!debug.to_lowercase().contains("signing"));
}
