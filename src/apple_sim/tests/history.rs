use std::collections::HashSet;

use serde_json::{json, Value};

use super::{assert_api_error, jws_payload, TestSim};

fn payloads(body: &Value) -> Vec<Value> {
    body["signedTransactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| jws_payload(s.as_str().unwrap()))
        .collect()
}

fn enc(s: &str) -> String {
    s.replace('=', "%3D")
}

#[tokio::test]
async fn a_long_history_pages_by_twenty_with_an_opaque_revision() {
    let t = TestSim::start().await;
    let seed = t.sim.seed();
    let id = &seed.long_history_original_id;
    assert!(seed.long_history_transaction_count > 20);

    let (status, first) = t.get_json(&format!("/inApps/v2/history/{id}?")).await;
    assert_eq!(status, 200);
    assert_eq!(first["hasMore"], json!(true));
    assert_eq!(first["bundleId"], json!("com.storedesk.demo"));
    assert_eq!(first["appAppleId"], json!(1_234_567_890_i64));
    assert_eq!(first["environment"], json!("Production"));
    let page1 = payloads(&first);
    assert_eq!(page1.len(), 20);
    let revision = first["revision"].as_str().unwrap();

    let (status, second) = t
        .get_json(&format!(
            "/inApps/v2/history/{id}?revision={}",
            enc(revision)
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(second["hasMore"], json!(false));
    let page2 = payloads(&second);
    assert_eq!(
        page1.len() + page2.len(),
        seed.long_history_transaction_count
    );

    let all: Vec<&Value> = page1.iter().chain(&page2).collect();
    let ids: HashSet<&str> = all
        .iter()
        .map(|p| p["transactionId"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), all.len(), "no transaction twice");
    let dates: Vec<i64> = all
        .iter()
        .map(|p| p["purchaseDate"].as_i64().unwrap())
        .collect();
    assert!(
        dates.windows(2).all(|w| w[0] <= w[1]),
        "ascending by default"
    );

    // The last revision, reused later, returns nothing new.
    let (_, again) = t
        .get_json(&format!(
            "/inApps/v2/history/{id}?revision={}",
            enc(second["revision"].as_str().unwrap())
        ))
        .await;
    assert_eq!(payloads(&again).len(), 0);
    assert_eq!(again["hasMore"], json!(false));
}

#[tokio::test]
async fn descending_history_starts_with_the_newest() {
    let t = TestSim::start().await;
    let id = t.sim.seed().long_history_original_id;
    let (_, body) = t
        .get_json(&format!("/inApps/v2/history/{id}?sort=DESCENDING"))
        .await;
    let page = payloads(&body);
    let dates: Vec<i64> = page
        .iter()
        .map(|p| p["purchaseDate"].as_i64().unwrap())
        .collect();
    assert!(dates.windows(2).all(|w| w[0] >= w[1]));
    let (_, next) = t
        .get_json(&format!(
            "/inApps/v2/history/{id}?sort=DESCENDING&revision={}",
            enc(body["revision"].as_str().unwrap())
        ))
        .await;
    let next_dates: Vec<i64> = payloads(&next)
        .iter()
        .map(|p| p["purchaseDate"].as_i64().unwrap())
        .collect();
    assert!(next_dates.iter().all(|d| *d <= *dates.last().unwrap()));
}

#[tokio::test]
async fn a_revision_is_refused_with_other_filters() {
    let t = TestSim::start().await;
    let id = t.sim.seed().long_history_original_id;
    let (_, first) = t.get_json(&format!("/inApps/v2/history/{id}")).await;
    let revision = enc(first["revision"].as_str().unwrap());
    let resp = t
        .get(&format!(
            "/inApps/v2/history/{id}?revision={revision}&productType=CONSUMABLE"
        ))
        .await;
    assert_api_error(resp, 4_000_005).await;
    let resp = t
        .get(&format!("/inApps/v1/history/{id}?revision={revision}"))
        .await;
    assert_api_error(resp, 4_000_005).await;
    let resp = t
        .get(&format!("/inApps/v2/history/{id}?revision=garbage"))
        .await;
    assert_api_error(resp, 4_000_005).await;
}

#[tokio::test]
async fn history_filters_select_like_apple() {
    let t = TestSim::start().await;
    let seed = t.sim.seed();
    let alice = &seed.long_history_original_id;
    let count = |body: &Value| body["signedTransactions"].as_array().unwrap().len();

    let (_, body) = t
        .get_json(&format!(
            "/inApps/v2/history/{alice}?productType=CONSUMABLE"
        ))
        .await;
    assert_eq!(count(&body), 3);
    let (_, body) = t
        .get_json(&format!(
            "/inApps/v2/history/{alice}?productType=CONSUMABLE&productType=NON_CONSUMABLE"
        ))
        .await;
    assert_eq!(count(&body), 4);
    let (_, body) = t
        .get_json(&format!(
            "/inApps/v2/history/{alice}?productId=com.storedesk.demo.remove_ads&productId=com.storedesk.demo.coins.100"
        ))
        .await;
    assert_eq!(count(&body), 4);
    let (_, body) = t
        .get_json(&format!(
            "/inApps/v2/history/{alice}?subscriptionGroupIdentifier=21482756"
        ))
        .await;
    assert_eq!(count(&body), 0);

    // V1 leaves out finished consumables.
    let (_, v1) = t.get_json(&format!("/inApps/v1/history/{alice}")).await;
    let (_, v1_next) = t
        .get_json(&format!(
            "/inApps/v1/history/{alice}?revision={}",
            enc(v1["revision"].as_str().unwrap())
        ))
        .await;
    assert_eq!(
        count(&v1) + count(&v1_next),
        seed.long_history_transaction_count - 3
    );

    let hank = &seed.refunded_consumable_transaction_id;
    let (_, body) = t
        .get_json(&format!("/inApps/v2/history/{hank}?revoked=True"))
        .await;
    let revoked = payloads(&body);
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0]["revocationReason"], json!(0));
    let (_, body) = t
        .get_json(&format!("/inApps/v2/history/{hank}?revoked=false"))
        .await;
    assert_eq!(count(&body), 4);
    let (_, body) = t
        .get_json(&format!("/inApps/v2/history/{hank}?excludeRevoked=true"))
        .await;
    assert_eq!(count(&body), 4);

    let ivy = &seed.family_shared_transaction_id;
    let (_, body) = t
        .get_json(&format!(
            "/inApps/v2/history/{ivy}?inAppOwnershipType=FAMILY_SHARED"
        ))
        .await;
    assert_eq!(
        payloads(&body)[0]["inAppOwnershipType"],
        json!("FAMILY_SHARED")
    );
    let (_, body) = t
        .get_json(&format!(
            "/inApps/v2/history/{ivy}?inAppOwnershipType=PURCHASED"
        ))
        .await;
    assert_eq!(count(&body), 0);

    // purchaseDate >= startDate and < endDate.
    let now = chrono::Utc::now().timestamp_millis();
    let day = 86_400_000;
    let (_, body) = t
        .get_json(&format!(
            "/inApps/v2/history/{hank}?startDate={}&endDate={}",
            now - 13 * day,
            now + day
        ))
        .await;
    assert_eq!(count(&body), 3);

    // The appTransactionId names the same customer.
    let (status, body) = t
        .get_json(&format!("/inApps/v2/history/{}", seed.app_transaction_id))
        .await;
    assert_eq!(status, 200);
    assert!(body["hasMore"].as_bool().unwrap());
}

#[tokio::test]
async fn bad_history_parameters_get_apple_error_codes() {
    let t = TestSim::start().await;
    let id = t.sim.seed().long_history_original_id;
    let cases: &[(&str, i64)] = &[
        ("sort=UP", 4_000_021),
        ("productType=SUBSCRIPTION", 4_000_022),
        ("productId=", 4_000_023),
        ("subscriptionGroupIdentifier=", 4_000_024),
        ("excludeRevoked=maybe", 4_000_025),
        ("inAppOwnershipType=SHARED", 4_000_026),
        ("revoked=yes", 4_000_030),
        ("startDate=yesterday", 4_000_015),
        ("endDate=1.5", 4_000_016),
        ("startDate=2000&endDate=1000", 4_000_013),
        ("startDate=1000&endDate=1000", 4_000_013),
    ];
    for (query, code) in cases {
        let resp = t.get(&format!("/inApps/v2/history/{id}?{query}")).await;
        assert_api_error(resp, *code).await;
    }
    assert_api_error(t.get("/inApps/v2/history/12ab").await, 4_000_006).await;
    assert_api_error(
        t.get("/inApps/v2/history/2000000999999999").await,
        4_040_010,
    )
    .await;
}

#[tokio::test]
async fn a_transaction_modified_while_paging_comes_back_with_new_data() {
    let t = TestSim::start().await;
    let seed = t.sim.seed();
    let id = &seed.long_history_original_id;
    let (_, first) = t.get_json(&format!("/inApps/v2/history/{id}")).await;
    let revision = enc(first["revision"].as_str().unwrap());
    // Setting the app account token modifies every transaction of the chain.
    let token = "9e0a1b2c-3d4e-4f50-8a6b-7c8d9e0f1a2b";
    let (status, _) = t
        .json(
            reqwest::Method::PUT,
            "production",
            &format!("/inApps/v1/transactions/{id}/appAccountToken"),
            Some(json!({ "appAccountToken": token })),
        )
        .await;
    assert_eq!(status, 200);
    let mut revision = revision;
    let mut updated = 0;
    loop {
        let (_, page) = t
            .get_json(&format!("/inApps/v2/history/{id}?revision={revision}"))
            .await;
        updated += payloads(&page)
            .iter()
            .filter(|p| p["appAccountToken"] == json!(token))
            .count();
        if page["hasMore"] != json!(true) {
            break;
        }
        revision = enc(page["revision"].as_str().unwrap());
    }
    assert_eq!(updated, 26, "the whole subscription chain comes back");
}
