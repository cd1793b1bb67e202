//! The catalog in the JSON API (issue 22): `GET /api/v1/projects/{project}/catalog` before and after a catalog is
//! in place, who may read it, and `productName` beside every product id of the look-ups.
use serde_json::{json, Value};

use crate::admin::api_tokens::{api_get, make_token};
use crate::helpers::create_project;
use crate::projects::names::{
    demo_catalog, put_catalog, CLOUD_MONTHLY, GROUP_CLOUD, GROUP_PRO, PRO_MONTHLY,
};
use crate::support_test;

const CATALOG: &str = "/api/v1/projects/demo/catalog";

async fn get_json(r: &crate::helpers::Ready, path: &str, token: &str) -> Value {
    let response = api_get(&r.app, path, Some(token)).await;
    assert_eq!(response.status().as_u16(), 200, "{path}");
    assert_eq!(response.headers()["cache-control"], "no-store");
    response.json().await.unwrap()
}

support_test!(
    the_catalog_endpoint_answers_empty_before_a_sync_and_the_whole_catalog_after,
    |r| {
        let asked_apple = r.sim.request_count();
        // A read token is enough.
        let token = make_token(&r.admin, "demo", "read", "catalog reader").await;
        assert_eq!(
            get_json(&r, CATALOG, &token).await,
            json!({"app": null, "syncedAt": null, "gracePeriod": null, "groups": [], "products": []})
        );

        put_catalog(&r.app.store, r.project.id, &demo_catalog()).await;
        let state = r
            .app
            .store
            .catalog_state(r.project.id)
            .await
            .unwrap()
            .unwrap();
        let synced_at = storedesk::present::time::iso(state.synced_at);
        assert!(
            synced_at.ends_with('Z') && synced_at.len() == 20,
            "{synced_at}"
        );
        let body = get_json(&r, CATALOG, &token).await;
        let plain = |id: &str, name: &str, kind: &str| {
            json!({"productId": format!("com.storedesk.demo.{id}"), "name": name, "type": kind,
                   "state": "APPROVED", "subscriptionGroupId": null, "groupLevel": null,
                   "subscriptionPeriod": null, "prices": [], "offers": []})
        };
        let subscription = |id: &str, name: &str, group: &str, level: i64, period: &str| {
            json!({"productId": format!("com.storedesk.demo.{id}"), "name": name, "type": "AUTO_RENEWABLE",
                   "state": "APPROVED", "subscriptionGroupId": group, "groupLevel": level,
                   "subscriptionPeriod": period, "prices": [], "offers": []})
        };
        let mut monthly = subscription("pro.monthly", "Pro Monthly", GROUP_PRO, 2, "ONE_MONTH");
        monthly["prices"] = json!([
            {"territory": "DEU", "currency": "EUR", "customerPrice": "9.99", "proceeds": "7.14"},
            {"territory": "USA", "currency": "USD", "customerPrice": "9.99", "proceeds": "8.49"},
        ]);
        monthly["offers"] = json!([
            {"offerIdentifier": "LOYAL_FREE", "name": "Loyal month", "mode": "FREE_TRIAL",
             "duration": "ONE_MONTH", "numberOfPeriods": 1},
            {"offerIdentifier": "WINBACK_50", "name": "Win back", "mode": "PAY_AS_YOU_GO",
             "duration": "ONE_MONTH", "numberOfPeriods": 3},
        ]);
        let mut yearly = subscription("pro.yearly", "Pro Yearly", GROUP_PRO, 1, "ONE_YEAR");
        yearly["offers"] = json!([{"offerIdentifier": "YEARLY_20", "name": "Yearly saver",
                                   "mode": "PAY_UP_FRONT", "duration": "ONE_YEAR", "numberOfPeriods": 1}]);
        assert_eq!(
            body,
            json!({
                "app": {"appAppleId": "1234567890", "name": "Storedesk Demo"},
                "syncedAt": synced_at,
                "gracePeriod": {"optIn": true, "sandboxOptIn": false, "duration": "SIXTEEN_DAYS",
                                "renewalType": "ALL_RENEWALS",
                                "description": "On for 16 days, all renewals (Sandbox: off)"},
                "groups": [
                    {"groupId": GROUP_PRO, "referenceName": "Storedesk Pro"},
                    {"groupId": GROUP_CLOUD, "referenceName": "Cloud Storage"},
                ],
                "products": [
                    subscription("cloud.monthly", "Cloud Monthly", GROUP_CLOUD, 2, "ONE_MONTH"),
                    subscription("cloud.yearly", "Cloud Yearly", GROUP_CLOUD, 1, "ONE_YEAR"),
                    plain("coins.100", "100 Coins", "CONSUMABLE"),
                    plain("coins.500", "500 Coins", "CONSUMABLE"),
                    plain("lifetime.themes", "Lifetime Themes", "NON_CONSUMABLE"),
                    monthly,
                    yearly,
                    plain("remove_ads", "Remove Ads", "NON_CONSUMABLE"),
                    plain("season_pass", "Season Pass", "NON_RENEWING_SUBSCRIPTION"),
                ],
            })
        );

        // Another project's token may not read it.
        assert_eq!(
            create_project(&r.admin, "other").await.status().as_u16(),
            303
        );
        let other = make_token(&r.admin, "other", "sign", "elsewhere").await;
        let refused = api_get(&r.app, CATALOG, Some(&other)).await;
        assert_eq!(refused.status().as_u16(), 403);
        let refused: Value = refused.json().await.unwrap();
        assert_eq!(refused["error"]["code"], "forbidden");
        // Nor does Apple hear of it: the catalog is storedesk's own.
        assert_eq!(r.sim.request_count(), asked_apple);
    }
);

support_test!(lookups_carry_the_product_name_beside_each_product_id, |r| {
    let seed = r.sim.seed();
    let token = make_token(&r.admin, "demo", "read", "lookups").await;
    let bob = &seed.active_monthly.original_transaction_id;
    let search = format!("/api/v1/projects/demo/transactions?q={bob}");
    let subscription = format!("/api/v1/projects/demo/subscriptions/{bob}");

    // Without a catalog: the names are null.
    let body = get_json(&r, &search, &token).await;
    assert_eq!(body["transaction"]["productId"], PRO_MONTHLY);
    assert_eq!(body["transaction"]["productName"], Value::Null);
    assert_eq!(body["transaction"]["subscriptionGroupName"], Value::Null);

    put_catalog(&r.app.store, r.project.id, &demo_catalog()).await;
    let body = get_json(&r, &search, &token).await;
    let t = &body["transaction"];
    assert_eq!(
        (&t["productId"], &t["productName"]),
        (&json!(PRO_MONTHLY), &json!("Pro Monthly"))
    );
    assert_eq!(t["subscriptionGroupName"], "Storedesk Pro");
    let catalog = demo_catalog();
    let name_of = |item: &Value| {
        catalog
            .product(item["productId"].as_str().unwrap())
            .map(|p| json!(p.name))
            .unwrap_or(Value::Null)
    };
    let history = body["history"]["items"].as_array().unwrap();
    assert!(!history.is_empty());
    for item in history.iter().chain(body["matches"].as_array().unwrap()) {
        assert_eq!(item["productName"], name_of(item), "{item}");
        assert_ne!(item["productName"], Value::Null, "{item}");
    }
    let customer = body["customer"]["subscriptions"].as_array().unwrap();
    let cloud = customer
        .iter()
        .find(|s| s["productId"] == CLOUD_MONTHLY)
        .expect("Bob's Cloud subscription");
    assert_eq!(cloud["productName"], "Cloud Monthly");
    assert_eq!(cloud["subscriptionGroupName"], "Cloud Storage");

    let body = get_json(&r, &subscription, &token).await;
    let groups = body["groups"].as_array().unwrap();
    let pro = groups
        .iter()
        .find(|g| g["subscriptionGroupIdentifier"] == GROUP_PRO)
        .unwrap();
    assert_eq!(pro["subscriptionGroupName"], "Storedesk Pro");
    let sub = &pro["subscriptions"][0];
    assert_eq!(sub["productId"], PRO_MONTHLY);
    assert_eq!(sub["productName"], "Pro Monthly");
    assert_eq!(sub["lastTransaction"]["productName"], "Pro Monthly");
    assert_eq!(sub["renewalInfo"]["autoRenewProductId"], PRO_MONTHLY);
    assert_eq!(sub["renewalInfo"]["autoRenewProductName"], "Pro Monthly");
});
