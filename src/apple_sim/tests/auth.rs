use serde_json::{json, Value};

use super::{claims, jws_payload, now_secs, sign_token, TestSim};
use crate::apple_sim::SimConfig;

async fn assert_401(t: &TestSim, authorization: Option<String>) {
    let id = t.sim.seed().active_monthly.transaction_id;
    let mut req = t
        .http
        .get(t.url("production", &format!("/inApps/v1/transactions/{id}")));
    if let Some(a) = authorization {
        req = req.header("Authorization", a);
    }
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    assert_eq!(
        resp.headers()
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap(),
        "text/plain"
    );
    let body = resp.text().await.unwrap();
    let rest = body
        .strip_prefix("Unauthenticated\n\nRequest ID: ")
        .unwrap();
    let (request_id, tail) = rest.split_at(26);
    assert!(request_id
        .bytes()
        .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b)));
    assert_eq!(tail, ".0.0\n");
}

fn with(t: &TestSim, change: impl FnOnce(&mut serde_json::Map<String, Value>)) -> String {
    let mut c = claims(&t.key, &t.sim.seed().bundle_id);
    change(c.as_object_mut().unwrap());
    format!("Bearer {}", sign_token(&t.key, &t.key.key_id, &c))
}

#[tokio::test]
async fn a_valid_token_gets_the_transaction_in_each_environment() {
    let t = TestSim::start().await;
    let id = t.sim.seed().active_monthly.transaction_id;
    for (env, name) in [("production", "Production"), ("sandbox", "Sandbox")] {
        let (status, body) = t
            .json(
                reqwest::Method::GET,
                env,
                &format!("/inApps/v1/transactions/{id}"),
                None,
            )
            .await;
        assert_eq!(status, 200);
        let tx = jws_payload(body["signedTransactionInfo"].as_str().unwrap());
        assert_eq!(tx["transactionId"], json!(id));
        assert_eq!(tx["environment"], json!(name));
        assert_eq!(tx["bundleId"], json!("com.storedesk.demo"));
    }
}

#[tokio::test]
async fn a_token_without_iat_is_accepted_like_the_python_client_sends() {
    let t = TestSim::start().await;
    let id = t.sim.seed().active_monthly.transaction_id;
    let auth = with(&t, |c| {
        c.remove("iat");
    });
    let resp = t
        .http
        .get(t.url("production", &format!("/inApps/v1/transactions/{id}?")))
        .header("Authorization", auth)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
}

#[tokio::test]
async fn every_bad_token_gets_a_plain_text_401() {
    let t = TestSim::start().await;
    let other = t.sim.issue_key();
    let now = now_secs();

    assert_401(&t, None).await;
    assert_401(&t, Some("Bearer not.a.jwt".into())).await;
    assert_401(&t, Some("Bearer abc".into())).await;
    assert_401(&t, Some(format!("Basic {}", t.token()))).await;
    // A kid that was never issued.
    let c = claims(&t.key, "com.storedesk.demo");
    assert_401(
        &t,
        Some(format!("Bearer {}", sign_token(&t.key, "ZZZZZZZZZZ", &c))),
    )
    .await;
    // Signed by another key than the one its kid names.
    assert_401(
        &t,
        Some(format!("Bearer {}", sign_token(&other, &t.key.key_id, &c))),
    )
    .await;
    assert_401(
        &t,
        Some(with(&t, |c| {
            c.insert("iss".into(), json!("00000000-0000-0000-0000-000000000000"));
        })),
    )
    .await;
    assert_401(
        &t,
        Some(with(&t, |c| {
            c.insert("aud".into(), json!("appstoreconnect-v2"));
        })),
    )
    .await;
    assert_401(
        &t,
        Some(with(&t, |c| {
            c.insert("bid".into(), json!("com.example.other"));
        })),
    )
    .await;
    assert_401(
        &t,
        Some(with(&t, |c| {
            c.remove("bid");
        })),
    )
    .await;
    assert_401(
        &t,
        Some(with(&t, |c| {
            c.insert("iat".into(), json!(now - 600));
            c.insert("exp".into(), json!(now - 300));
        })),
    )
    .await;
    assert_401(
        &t,
        Some(with(&t, |c| {
            // iat pinned: stamped a second later, the lifetime would be exactly the allowed hour.
            c.insert("iat".into(), json!(now));
            c.insert("exp".into(), json!(now + 3601));
        })),
    )
    .await;
    assert_401(
        &t,
        Some(with(&t, |c| {
            c.remove("iat");
            c.insert("exp".into(), json!(now + 3700));
        })),
    )
    .await;
    assert_401(
        &t,
        Some(with(&t, |c| {
            c.insert("iat".into(), json!(now + 120));
            c.insert("exp".into(), json!(now + 400));
        })),
    )
    .await;
    assert_401(
        &t,
        Some(with(&t, |c| {
            c.remove("exp");
        })),
    )
    .await;
    // HS256 with some secret is not ES256.
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(t.key.key_id.clone());
    let hs =
        jsonwebtoken::encode(&header, &c, &jsonwebtoken::EncodingKey::from_secret(b"s")).unwrap();
    assert_401(&t, Some(format!("Bearer {hs}"))).await;
}

#[tokio::test]
async fn a_revoked_key_gets_401_while_other_keys_still_work() {
    let t = TestSim::start().await;
    let second = t.sim.issue_key();
    t.sim.revoke_key(&t.key.key_id);
    assert_401(&t, Some(format!("Bearer {}", t.token()))).await;

    let id = t.sim.seed().active_monthly.transaction_id;
    let c = claims(&second, "com.storedesk.demo");
    let resp = t
        .http
        .get(t.url("production", &format!("/inApps/v1/transactions/{id}")))
        .bearer_auth(sign_token(&second, &second.key_id, &c))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
}

#[tokio::test]
async fn an_app_never_released_gets_401_in_production_only() {
    let t = TestSim::with(SimConfig {
        production_released: false,
        ..SimConfig::default()
    })
    .await;
    let id = t.sim.seed().active_monthly.transaction_id;
    let path = format!("/inApps/v1/transactions/{id}");
    let resp = t.get(&path).await;
    assert_eq!(resp.status().as_u16(), 401);
    let (status, _) = t.json(reqwest::Method::GET, "sandbox", &path, None).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_custom_bundle_id_is_what_bid_must_name() {
    let t = TestSim::with(SimConfig {
        bundle_id: "com.example.custom".into(),
        ..SimConfig::default()
    })
    .await;
    let id = t.sim.seed().active_monthly.transaction_id;
    let (status, body) = t.get_json(&format!("/inApps/v1/transactions/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(
        jws_payload(body["signedTransactionInfo"].as_str().unwrap())["bundleId"],
        json!("com.example.custom")
    );
    let c = claims(&t.key, "com.storedesk.demo");
    let resp = t
        .http
        .get(t.url("production", &format!("/inApps/v1/transactions/{id}")))
        .bearer_auth(sign_token(&t.key, &t.key.key_id, &c))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
}
