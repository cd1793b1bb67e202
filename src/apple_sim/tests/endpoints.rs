use reqwest::Method;
use serde_json::{json, Value};

use super::{assert_api_error, jws_payload, TestSim};

const DAY: i64 = 86_400_000;

async fn put(t: &TestSim, path: &str, body: Value) -> reqwest::Response {
    t.call(Method::PUT, "production", path, Some(body)).await
}

async fn post(t: &TestSim, path: &str, body: Option<Value>) -> reqwest::Response {
    t.call(Method::POST, "production", path, body).await
}

fn only_item(body: &Value) -> (&Value, Value, Value) {
    let item = &body["data"][0]["lastTransactions"][0];
    (
        item,
        jws_payload(item["signedTransactionInfo"].as_str().unwrap()),
        jws_payload(item["signedRenewalInfo"].as_str().unwrap()),
    )
}

#[tokio::test]
async fn get_transaction_info_refuses_bad_ids_like_apple() {
    let t = TestSim::start().await;
    let seed = t.sim.seed();
    assert_api_error(t.get("/inApps/v1/transactions/abc").await, 4_000_006).await;
    assert_api_error(
        t.get(&format!(
            "/inApps/v1/transactions/{}",
            seed.unknown_transaction_id
        ))
        .await,
        4_040_010,
    )
    .await;
    assert_api_error(
        t.get(&format!(
            "/inApps/v1/transactions/{}",
            seed.app_transaction_id
        ))
        .await,
        4_000_048,
    )
    .await;
    // Unknown paths are a bare 404, as for the Retention Messaging API we do not serve.
    assert_eq!(
        t.get("/inApps/v1/messaging/image/list")
            .await
            .status()
            .as_u16(),
        404
    );
}

#[tokio::test]
async fn transaction_payloads_carry_prices_storefronts_and_offers() {
    let t = TestSim::start().await;
    let seed = t.sim.seed();
    let chloe = seed.customers.iter().find(|c| c.label == "chloe").unwrap();
    let (_, body) = t
        .get_json(&format!(
            "/inApps/v1/transactions/{}",
            chloe.transaction_ids[0]
        ))
        .await;
    let tx = jws_payload(body["signedTransactionInfo"].as_str().unwrap());
    assert_eq!(tx["currency"], json!("JPY"));
    assert_eq!(tx["price"], json!(1_500_000));
    assert_eq!(tx["storefront"], json!("JPN"));
    assert_eq!(tx["storefrontId"], json!("143462"));
    assert_eq!(tx["type"], json!("Auto-Renewable Subscription"));
    assert_eq!(tx["transactionReason"], json!("PURCHASE"));

    let (_, body) = t
        .get_json(&format!(
            "/inApps/v1/transactions/{}",
            seed.upgraded_transaction_id
        ))
        .await;
    let tx = jws_payload(body["signedTransactionInfo"].as_str().unwrap());
    assert_eq!(tx["isUpgraded"], json!(true));
    assert_eq!(tx["transactionReason"], json!("RENEWAL"));

    let (_, body) = t
        .get_json(&format!(
            "/inApps/v1/transactions/{}",
            seed.long_history_original_id
        ))
        .await;
    let tx = jws_payload(body["signedTransactionInfo"].as_str().unwrap());
    assert_eq!(tx["offerType"], json!(1));
    assert_eq!(tx["offerDiscountType"], json!("FREE_TRIAL"));
    assert_eq!(tx["price"], json!(0));
    assert_eq!(tx["appAccountToken"], json!(seed.app_account_token));

    let (_, body) = t
        .get_json(&format!(
            "/inApps/v1/transactions/{}",
            seed.non_consumable_transaction_id
        ))
        .await;
    let tx = jws_payload(body["signedTransactionInfo"].as_str().unwrap());
    assert_eq!(tx["type"], json!("Non-Consumable"));
    assert!(tx.get("expiresDate").is_none() && tx.get("webOrderLineItemId").is_none());
}

#[tokio::test]
async fn subscription_statuses_cover_every_state() {
    let t = TestSim::start().await;
    let seed = t.sim.seed();

    let (status, body) = t
        .get_json(&format!(
            "/inApps/v1/subscriptions/{}",
            seed.active_monthly.transaction_id
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["environment"], json!("Production"));
    assert_eq!(body["appAppleId"], json!(1_234_567_890_i64));
    let groups: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["subscriptionGroupIdentifier"].as_str().unwrap())
        .collect();
    assert_eq!(
        groups,
        seed.subscription_group_ids
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
    );
    let (item, tx, renewal) = only_item(&body);
    assert_eq!(item["status"], json!(1));
    assert_eq!(
        tx["transactionId"],
        json!(seed.active_monthly.transaction_id)
    );
    assert_eq!(renewal["autoRenewStatus"], json!(1));
    assert!(renewal["renewalDate"].as_i64().unwrap() > chrono::Utc::now().timestamp_millis());

    let (_, body) = t
        .get_json(&format!(
            "/inApps/v1/subscriptions/{}",
            seed.billing_retry_original_id
        ))
        .await;
    let (item, _, renewal) = only_item(&body);
    assert_eq!(item["status"], json!(3));
    assert_eq!(renewal["isInBillingRetryPeriod"], json!(true));
    assert_eq!(renewal["expirationIntent"], json!(2));

    let (_, body) = t
        .get_json(&format!(
            "/inApps/v1/subscriptions/{}",
            seed.grace_period_original_id
        ))
        .await;
    let (item, _, renewal) = only_item(&body);
    assert_eq!(item["status"], json!(4));
    assert!(
        renewal["gracePeriodExpiresDate"].as_i64().unwrap() > chrono::Utc::now().timestamp_millis()
    );

    let (_, body) = t
        .get_json(&format!(
            "/inApps/v1/subscriptions/{}",
            seed.expired_original_id
        ))
        .await;
    let (item, _, renewal) = only_item(&body);
    assert_eq!(item["status"], json!(2));
    assert_eq!(renewal["expirationIntent"], json!(1));
    assert_eq!(renewal["autoRenewStatus"], json!(0));

    let (_, body) = t
        .get_json(&format!(
            "/inApps/v1/subscriptions/{}",
            seed.revoked_original_id
        ))
        .await;
    let (item, tx, _) = only_item(&body);
    assert_eq!(item["status"], json!(5));
    assert_eq!(tx["revocationReason"], json!(1));
    assert_eq!(tx["revocationType"], json!("REFUND_FULL"));
    assert!(tx["revocationDate"].is_i64());

    let (_, body) = t
        .get_json(&format!(
            "/inApps/v1/subscriptions/{}",
            seed.upgraded_original_id
        ))
        .await;
    let (_, tx, renewal) = only_item(&body);
    assert_eq!(tx["productId"], json!("com.storedesk.demo.pro.yearly"));
    assert_eq!(
        renewal["autoRenewProductId"],
        json!("com.storedesk.demo.pro.yearly")
    );

    // The status filter repeats its key.
    let (_, body) = t
        .get_json(&format!(
            "/inApps/v1/subscriptions/{}?status=2&status=3",
            seed.active_monthly.transaction_id
        ))
        .await;
    assert_eq!(body["data"], json!([]));
    assert_api_error(
        t.get(&format!(
            "/inApps/v1/subscriptions/{}?status=6",
            seed.expired_original_id
        ))
        .await,
        4_000_031,
    )
    .await;
    assert_api_error(t.get("/inApps/v1/subscriptions/x1").await, 4_000_006).await;
}

#[tokio::test]
async fn refund_history_is_ascending_and_its_last_revision_only_shows_newer_refunds() {
    let t = TestSim::start().await;
    let seed = t.sim.seed();
    let (status, body) = t
        .get_json(&format!(
            "/inApps/v2/refund/lookup/{}",
            seed.refunded_consumable_transaction_id
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["hasMore"], json!(false));
    let refunds = body["signedTransactions"].as_array().unwrap();
    assert_eq!(refunds.len(), 1);
    assert_eq!(
        jws_payload(refunds[0].as_str().unwrap())["transactionId"],
        json!(seed.refunded_consumable_transaction_id)
    );
    let (_, again) = t
        .get_json(&format!(
            "/inApps/v2/refund/lookup/{}?revision={}",
            seed.refunded_consumable_transaction_id,
            body["revision"].as_str().unwrap()
        ))
        .await;
    assert_eq!(again["signedTransactions"], json!([]));

    let (_, none) = t
        .get_json(&format!(
            "/inApps/v2/refund/lookup/{}",
            seed.active_monthly.transaction_id
        ))
        .await;
    assert_eq!(none["signedTransactions"], json!([]));
    assert_api_error(
        t.get(&format!(
            "/inApps/v2/refund/lookup/{}?revision=nope",
            seed.active_monthly.transaction_id
        ))
        .await,
        4_000_005,
    )
    .await;
    assert_api_error(
        t.get("/inApps/v2/refund/lookup/2000000999999999").await,
        4_040_010,
    )
    .await;
}

#[tokio::test]
async fn order_lookup_answers_status_zero_or_one() {
    let t = TestSim::start().await;
    let seed = t.sim.seed();
    let (status, body) = t.get_json("/inApps/v1/lookup/MKPQ3RT8ZD").await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], json!(0));
    assert_eq!(body["signedTransactions"].as_array().unwrap().len(), 2);
    assert!(seed.order_ids.contains(&"MKPQ3RT8ZD".to_owned()));

    let (status, body) = t
        .get_json(&format!("/inApps/v1/lookup/{}", seed.unknown_order_id))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({ "status": 1 }));

    let (status, body) = t
        .json(Method::GET, "sandbox", "/inApps/v1/lookup/MKPQ3RT8ZD", None)
        .await;
    assert_eq!((status, body), (200, json!({ "status": 1 })));
    assert_api_error(t.get("/inApps/v1/lookup/MK5-TTT").await, 4_000_000).await;
}

#[tokio::test]
async fn consumption_information_is_validated_and_recorded() {
    let t = TestSim::start().await;
    let seed = t.sim.seed();
    let path = format!(
        "/inApps/v2/transactions/consumption/{}",
        seed.refunded_consumable_transaction_id
    );
    let good = json!({
        "customerConsented": true,
        "sampleContentProvided": false,
        "deliveryStatus": "DELIVERED",
        "consumptionPercentage": 50000,
        "refundPreference": "GRANT_FULL"
    });
    let resp = put(&t, &path, good.clone()).await;
    assert_eq!(resp.status().as_u16(), 202);
    assert!(resp.text().await.unwrap().is_empty());
    let recorded = t.sim.consumption_submissions();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0]["body"], good);

    let with = |key: &str, value: Value| {
        let mut b = good.clone();
        b[key] = value;
        b
    };
    assert_api_error(
        put(&t, &path, with("customerConsented", json!(false))).await,
        4_000_035,
    )
    .await;
    assert_api_error(
        put(&t, &path, with("sampleContentProvided", json!("no"))).await,
        4_000_041,
    )
    .await;
    assert_api_error(
        put(&t, &path, with("deliveryStatus", json!("LOST"))).await,
        4_000_036,
    )
    .await;
    assert_api_error(
        put(&t, &path, with("refundPreference", json!("MAYBE"))).await,
        4_000_044,
    )
    .await;
    assert_api_error(put(&t, &path, json!([1])).await, 4_000_000).await;

    let subscription = format!(
        "/inApps/v2/transactions/consumption/{}",
        seed.active_monthly.transaction_id
    );
    // A subscription takes no share whatever the preference; a consumable's prorated refund needs 0 < share < 100 %.
    assert_api_error(put(&t, &subscription, good.clone()).await, 4_000_209).await;
    let prorated = with("refundPreference", json!("GRANT_PRORATED"));
    assert_api_error(put(&t, &subscription, prorated.clone()).await, 4_000_209).await;
    for share in [json!(0), json!(100_000), Value::Null] {
        let mut b = prorated.clone();
        b["consumptionPercentage"] = share.clone();
        assert_api_error(put(&t, &path, b).await, 4_000_000).await;
    }
    assert_eq!(
        put(&t, &path, prorated.clone()).await.status().as_u16(),
        202
    );
    let mut without_percentage = prorated;
    without_percentage
        .as_object_mut()
        .unwrap()
        .remove("consumptionPercentage");
    assert_eq!(
        put(&t, &subscription, without_percentage)
            .await
            .status()
            .as_u16(),
        202
    );

    let family = format!(
        "/inApps/v2/transactions/consumption/{}",
        seed.family_shared_transaction_id
    );
    assert_api_error(put(&t, &family, good.clone()).await, 4_000_185).await;
    assert_api_error(
        put(&t, "/inApps/v2/transactions/consumption/abc", good.clone()).await,
        4_000_006,
    )
    .await;

    let v1 = json!({
        "customerConsented": true, "consumptionStatus": 1, "platform": 2, "sampleContentProvided": false,
        "deliveryStatus": 3, "appAccountToken": "7389a31a-fb6d-4569-a2a6-db7d85d84813", "accountTenure": 4,
        "playTime": 5, "lifetimeDollarsRefunded": 6, "lifetimeDollarsPurchased": 7, "userStatus": 4,
        "refundPreference": 3
    });
    let v1_path = format!(
        "/inApps/v1/transactions/consumption/{}",
        seed.refunded_consumable_transaction_id
    );
    assert_eq!(put(&t, &v1_path, v1.clone()).await.status().as_u16(), 202);
    let mut bad = v1.clone();
    bad["platform"] = json!(3);
    assert_api_error(put(&t, &v1_path, bad).await, 4_000_039).await;
    let mut bad = v1;
    bad["appAccountToken"] = json!("nope");
    assert_api_error(put(&t, &v1_path, bad).await, 4_000_033).await;
}

#[tokio::test]
async fn extending_a_renewal_date_moves_the_expiry_once_per_request_identifier() {
    let t = TestSim::start().await;
    let seed = t.sim.seed();
    let original = &seed.active_monthly.original_transaction_id;
    let (_, before) = t
        .get_json(&format!(
            "/inApps/v1/transactions/{}",
            seed.active_monthly.transaction_id
        ))
        .await;
    let expires = jws_payload(before["signedTransactionInfo"].as_str().unwrap())["expiresDate"]
        .as_i64()
        .unwrap();
    let path = format!("/inApps/v1/subscriptions/extend/{original}");
    let body = json!({ "extendByDays": 45, "extendReasonCode": 1, "requestIdentifier": "fdf964a4-233b-486c-aac1-97d8d52688ac" });
    let resp = put(&t, &path, body.clone()).await;
    assert_eq!(resp.status().as_u16(), 200);
    let answer: Value = resp.json().await.unwrap();
    assert_eq!(answer["success"], json!(true));
    assert_eq!(answer["originalTransactionId"], json!(original));
    assert_eq!(answer["effectiveDate"], json!(expires + 45 * DAY));
    assert!(answer["webOrderLineItemId"].is_string());
    let again: Value = put(&t, &path, body).await.json().await.unwrap();
    assert_eq!(again, answer);

    let second = json!({ "extendByDays": 1, "extendReasonCode": 3, "requestIdentifier": "second" });
    assert_eq!(put(&t, &path, second).await.status().as_u16(), 200);
    let third = json!({ "extendByDays": 1, "extendReasonCode": 3, "requestIdentifier": "third" });
    assert_api_error(put(&t, &path, third).await, 4_030_005).await;

    let ok = |days: Value, reason: Value, id: Value| json!({ "extendByDays": days, "extendReasonCode": reason, "requestIdentifier": id });
    let grace = format!(
        "/inApps/v1/subscriptions/extend/{}",
        seed.grace_period_original_id
    );
    assert_api_error(
        put(&t, &grace, ok(json!(91), json!(1), json!("x"))).await,
        4_000_009,
    )
    .await;
    assert_api_error(
        put(&t, &grace, ok(json!(5), json!(4), json!("x"))).await,
        4_000_010,
    )
    .await;
    assert_api_error(
        put(&t, &grace, ok(json!(5), json!(1), json!(""))).await,
        4_000_011,
    )
    .await;
    assert_api_error(
        put(&t, &grace, ok(json!(5), json!(1), json!("x"))).await,
        4_030_004,
    )
    .await;
    let expired = format!(
        "/inApps/v1/subscriptions/extend/{}",
        seed.expired_original_id
    );
    assert_api_error(
        put(&t, &expired, ok(json!(5), json!(1), json!("x"))).await,
        4_030_004,
    )
    .await;
    let family = format!(
        "/inApps/v1/subscriptions/extend/{}",
        seed.family_shared_transaction_id
    );
    assert_api_error(
        put(&t, &family, ok(json!(5), json!(1), json!("x"))).await,
        4_030_007,
    )
    .await;
    // Apple extends no subscription in a free trial or other free offer period.
    let free_trial = format!(
        "/inApps/v1/subscriptions/extend/{}",
        seed.free_trial_original_id
    );
    assert_api_error(
        put(&t, &free_trial, ok(json!(5), json!(1), json!("x"))).await,
        4_030_004,
    )
    .await;
    let renewal = format!(
        "/inApps/v1/subscriptions/extend/{}",
        seed.active_monthly.transaction_id
    );
    assert_api_error(
        put(&t, &renewal, ok(json!(5), json!(1), json!("x"))).await,
        4_040_005,
    )
    .await;
    assert_api_error(
        put(
            &t,
            "/inApps/v1/subscriptions/extend/x9",
            ok(json!(5), json!(1), json!("x")),
        )
        .await,
        4_000_008,
    )
    .await;
}

#[tokio::test]
async fn a_mass_extension_completes_in_the_background() {
    let t = TestSim::start().await;
    let product = "com.storedesk.demo.pro.monthly";
    let request = "758883e8-151b-47b7-abd0-60c4d804c2f5";
    let body = json!({ "requestIdentifier": request, "extendByDays": 10, "extendReasonCode": 3,
        "productId": product, "storefrontCountryCodes": ["USA", "DEU"] });
    let resp = post(
        &t,
        "/inApps/v1/subscriptions/extend/mass",
        Some(body.clone()),
    )
    .await;
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({ "requestIdentifier": request })
    );
    let again = post(
        &t,
        "/inApps/v1/subscriptions/extend/mass",
        Some(body.clone()),
    )
    .await;
    assert_eq!(again.status().as_u16(), 200);

    let status_path = format!("/inApps/v1/subscriptions/extend/mass/{product}/{request}");
    let (_, status) = t.get_json(&status_path).await;
    assert_eq!(status["complete"], json!(false));
    let mut status = status;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        status = t.get_json(&status_path).await.1;
        if status["complete"] == json!(true) {
            break;
        }
    }
    assert_eq!(status["complete"], json!(true));
    // Alice (USA) and Bob (DEU) are on Pro monthly and active; Dan's is in billing retry.
    assert_eq!(status["succeededCount"], json!(2));
    assert_eq!(status["failedCount"], json!(0));
    assert!(status["completeDate"].is_i64());

    let with = |key: &str, value: Value| {
        let mut b = body.clone();
        b[key] = value;
        b
    };
    let mass = "/inApps/v1/subscriptions/extend/mass";
    assert_api_error(
        post(&t, mass, Some(with("requestIdentifier", json!("abc")))).await,
        4_000_011,
    )
    .await;
    assert_api_error(
        post(&t, mass, Some(with("extendByDays", json!(0)))).await,
        4_000_009,
    )
    .await;
    assert_api_error(
        post(&t, mass, Some(with("productId", json!("nope")))).await,
        4_000_023,
    )
    .await;
    assert_api_error(
        post(&t, mass, Some(with("storefrontCountryCodes", json!([])))).await,
        4_000_027,
    )
    .await;
    assert_api_error(
        post(
            &t,
            mass,
            Some(with("storefrontCountryCodes", json!(["US"]))),
        )
        .await,
        4_000_028,
    )
    .await;
    // Three upper-case letters that name no country are refused as Apple refuses them.
    assert_api_error(
        post(
            &t,
            mass,
            Some(with("storefrontCountryCodes", json!(["USA", "XYZ"]))),
        )
        .await,
        4_000_028,
    )
    .await;
    assert_api_error(
        t.get(&format!(
            "/inApps/v1/subscriptions/extend/mass/{product}/20fba8a0-2b80-4a7d-a17f-85c1854727f8"
        ))
        .await,
        4_040_009,
    )
    .await;
}

#[tokio::test]
async fn set_app_account_token_updates_the_purchase_and_refuses_what_apple_refuses() {
    let t = TestSim::start().await;
    let seed = t.sim.seed();
    let token = "7389a31a-fb6d-4569-a2a6-db7d85d84813";
    let path = |id: &str| format!("/inApps/v1/transactions/{id}/appAccountToken");
    let body = json!({ "appAccountToken": token });
    let resp = put(&t, &path(&seed.non_consumable_transaction_id), body.clone()).await;
    assert_eq!(resp.status().as_u16(), 200);
    let (_, info) = t
        .get_json(&format!(
            "/inApps/v1/transactions/{}",
            seed.non_consumable_transaction_id
        ))
        .await;
    assert_eq!(
        jws_payload(info["signedTransactionInfo"].as_str().unwrap())["appAccountToken"],
        json!(token)
    );

    assert_api_error(
        put(
            &t,
            &path(&seed.non_consumable_transaction_id),
            json!({ "appAccountToken": "x" }),
        )
        .await,
        4_000_183,
    )
    .await;
    assert_api_error(
        put(&t, &path(&seed.active_monthly.transaction_id), body.clone()).await,
        4_000_187,
    )
    .await;
    assert_api_error(
        put(&t, &path(&seed.family_shared_transaction_id), body.clone()).await,
        4_000_185,
    )
    .await;
    assert_api_error(
        put(&t, &path(&seed.unknown_transaction_id), body.clone()).await,
        4_040_005,
    )
    .await;
    assert_api_error(
        put(&t, &path(&seed.app_transaction_id), body.clone()).await,
        4_000_048,
    )
    .await;
    assert_api_error(put(&t, &path("1x"), body).await, 4_000_006).await;
}

#[tokio::test]
async fn app_transaction_info_and_finish_transaction() {
    let t = TestSim::start().await;
    let seed = t.sim.seed();
    let (status, body) = t
        .json(
            Method::GET,
            "sandbox",
            &format!(
                "/inApps/v1/transactions/appTransactions/{}",
                seed.long_history_original_id
            ),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let app = jws_payload(body["signedAppTransactionInfo"].as_str().unwrap());
    assert_eq!(app["receiptType"], json!("Sandbox"));
    assert_eq!(app["appTransactionId"], json!(seed.app_transaction_id));
    assert_api_error(
        t.get(&format!(
            "/inApps/v1/transactions/appTransactions/{}",
            seed.no_app_transaction_transaction_id
        ))
        .await,
        4_040_019,
    )
    .await;

    // Finishing the open consumable drops it from History V1.
    let hank = &seed.consumable_transaction_id;
    let v1_count = |body: &Value| body["signedTransactions"].as_array().unwrap().len();
    let (_, before) = t.get_json(&format!("/inApps/v1/history/{hank}")).await;
    let resp = post(&t, &format!("/inApps/v1/transactions/{hank}/finish"), None).await;
    assert_eq!(resp.status().as_u16(), 200);
    assert!(resp.text().await.unwrap().is_empty());
    let (_, after) = t.get_json(&format!("/inApps/v1/history/{hank}")).await;
    assert_eq!(v1_count(&after), v1_count(&before) - 1);
    assert_api_error(
        post(&t, "/inApps/v1/transactions/2000000999999999/finish", None).await,
        4_040_010,
    )
    .await;
    assert_api_error(
        post(
            &t,
            &format!("/inApps/v1/transactions/{}/finish", seed.app_transaction_id),
            None,
        )
        .await,
        4_000_048,
    )
    .await;
}

#[tokio::test]
async fn the_admin_surface_serves_keys_seed_and_root() {
    let t = TestSim::start().await;
    let base = t.sim.base_url();
    let key: Value = t
        .http
        .post(format!("{base}/sim/keys"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        key["fileName"],
        json!(format!(
            "SubscriptionKey_{}.p8",
            key["keyId"].as_str().unwrap()
        ))
    );
    assert!(key["privateKey"]
        .as_str()
        .unwrap()
        .contains("BEGIN PRIVATE KEY"));
    let seed: Value = t
        .http
        .get(format!("{base}/sim/seed"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(seed, serde_json::to_value(t.sim.seed()).unwrap());
    let pem = t
        .http
        .get(format!("{base}/sim/root.pem"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(pem, t.sim.root_ca_pem());
    let revoke = t
        .http
        .post(format!(
            "{base}/sim/keys/{}/revoke",
            key["keyId"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status().as_u16(), 204);
    assert_eq!(t.sim.request_count(), 0, "admin calls are not API calls");
}
