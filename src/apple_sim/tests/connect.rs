//! The App Store Connect API under `/connect`: keys of each kind refused where the other is expected, Apple's
//! token rules, apps, roles and per-app access, paging, the catalog resources, rate limit and failures.

use p256::pkcs8::DecodePrivateKey as _;
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{now_secs, sign_token};
use crate::apple::token::make_connect_token;
use crate::apple_sim::{spawn, ConnectRole, IssuedKey, SimConfig, SimHandle};

const DEMO_APP: &str = "1234567890";
const COMPANION_APP: &str = "1234567891";
const PRO_MONTHLY: &str = "com.storedesk.demo.pro.monthly";
const COINS_100: &str = "com.storedesk.demo.coins.100";

struct Connect {
    sim: SimHandle,
    /// An Admin key for all apps.
    key: IssuedKey,
    http: reqwest::Client,
}

/// A token the way storedesk makes it (`make_connect_token`, 20 minutes, no bid).
fn token(key: &IssuedKey) -> String {
    let secret = p256::SecretKey::from_pkcs8_pem(&key.private_key_pem).unwrap();
    let signing = p256::ecdsa::SigningKey::from(secret);
    make_connect_token(&signing, &key.key_id, &key.issuer_id, now_secs(), 1200).unwrap()
}

/// Claims of a valid Connect token, to be spoiled one at a time.
fn connect_claims(key: &IssuedKey) -> Value {
    let now = now_secs();
    json!({ "iss": key.issuer_id, "iat": now, "exp": now + 600, "aud": "appstoreconnect-v1" })
}

impl Connect {
    async fn start() -> Self {
        let sim = spawn(SimConfig::default()).await.unwrap();
        let key = sim.issue_connect_key(ConnectRole::Admin);
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .unwrap();
        Self { sim, key, http }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sim.connect_url())
    }

    async fn get_with(&self, url: &str, bearer: &str) -> reqwest::Response {
        self.http.get(url).bearer_auth(bearer).send().await.unwrap()
    }

    /// GET `path` (or an absolute URL) with `key`'s token: (status, JSON body, X-Rate-Limit).
    async fn call_as(&self, key: &IssuedKey, path: &str) -> (StatusCode, Value, Option<String>) {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            self.url(path)
        };
        let resp = self.get_with(&url, &token(key)).await;
        let status = resp.status();
        assert_eq!(
            resp.headers()["content-type"].to_str().unwrap(),
            "application/json"
        );
        let rate = resp
            .headers()
            .get("x-rate-limit")
            .map(|v| v.to_str().unwrap().to_owned());
        (status, resp.json().await.unwrap(), rate)
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let (status, body, _) = self.call_as(&self.key, path).await;
        (status, body)
    }

    async fn ok(&self, path: &str) -> Value {
        let (status, body) = self.get(path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        body
    }

    /// The resource id of the product `product_id` among the app's in-app purchases or subscriptions.
    async fn resource_id(&self, product_id: &str) -> String {
        let mut all = self
            .ok(&format!("/v1/apps/{DEMO_APP}/inAppPurchasesV2"))
            .await["data"]
            .as_array()
            .unwrap()
            .clone();
        for group in self
            .ok(&format!("/v1/apps/{DEMO_APP}/subscriptionGroups"))
            .await["data"]
            .as_array()
            .unwrap()
        {
            let id = group["id"].as_str().unwrap();
            let subs = self
                .ok(&format!("/v1/subscriptionGroups/{id}/subscriptions"))
                .await;
            all.extend(subs["data"].as_array().unwrap().iter().cloned());
        }
        all.iter()
            .find(|r| r["attributes"]["productId"] == product_id)
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .unwrap()
    }
}

/// Asserts App Store Connect's error body: one error with this status and code, a UUID id, title and detail.
fn assert_error(status: StatusCode, body: &Value, expected: u16, code: &str) -> Value {
    assert_eq!(status.as_u16(), expected, "{body}");
    let errors = body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{body}");
    let e = &errors[0];
    assert_eq!(e["status"], expected.to_string());
    assert_eq!(e["code"], code);
    assert!(uuid::Uuid::parse_str(e["id"].as_str().unwrap()).is_ok());
    assert!(e["title"].is_string() && e["detail"].is_string());
    e.clone()
}

async fn assert_connect_401(c: &Connect, bearer: &str) {
    let resp = c.get_with(&c.url("/v1/apps"), bearer).await;
    assert!(resp.headers().get("x-rate-limit").is_none());
    let status = resp.status();
    let body: Value = resp.json().await.unwrap();
    let e = assert_error(status, &body, 401, "NOT_AUTHORIZED");
    assert_eq!(
        e["title"],
        "Authentication credentials are missing or invalid."
    );
    assert!(e["detail"]
        .as_str()
        .unwrap()
        .starts_with("Provide a properly configured and signed bearer token"));
}

#[tokio::test]
async fn an_in_app_purchase_key_is_refused_by_the_connect_api_with_its_401() {
    let c = Connect::start().await;
    let iap = c.sim.issue_key();
    // With the App Store Server API's claims (bid) or with the Connect API's, it is the wrong kind of key.
    let server_claims = super::claims(&iap, "com.storedesk.demo");
    assert_connect_401(&c, &sign_token(&iap, &iap.key_id, &server_claims)).await;
    assert_connect_401(&c, &token(&iap)).await;
    // No token at all.
    let resp = c.http.get(c.url("/v1/apps")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    // Every call counts, refused ones included.
    assert_eq!(c.sim.connect_request_count(), 3);
}

#[tokio::test]
async fn a_connect_key_is_refused_by_the_app_store_server_api_with_its_plain_401() {
    let c = Connect::start().await;
    let id = c.sim.seed().active_monthly.transaction_id;
    let url = format!("{}/inApps/v1/transactions/{id}", c.sim.production_url());
    // Even with a bid and the Server API's claims, a Connect key does not get in.
    let server_claims = super::claims(&c.key, "com.storedesk.demo");
    for bearer in [
        sign_token(&c.key, &c.key.key_id, &server_claims),
        token(&c.key),
    ] {
        let resp = c.get_with(&url, &bearer).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(resp.headers()["content-type"], "text/plain");
        assert!(resp.text().await.unwrap().starts_with("Unauthenticated\n"));
    }
    // While an In-App Purchase key with the same claims does.
    let iap = c.sim.issue_key();
    let iap_claims = super::claims(&iap, "com.storedesk.demo");
    let resp = c
        .get_with(&url, &sign_token(&iap, &iap.key_id, &iap_claims))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn connect_tokens_follow_apples_rules() {
    let c = Connect::start().await;
    let signed = |change: &dyn Fn(&mut serde_json::Map<String, Value>)| {
        let mut claims = connect_claims(&c.key);
        change(claims.as_object_mut().unwrap());
        sign_token(&c.key, &c.key.key_id, &claims)
    };
    let now = now_secs();

    // Accepted: storedesk's own token; no iat (lifetime counted from now); bid and scope are ignored.
    assert_eq!(c.get("/v1/apps").await.0, StatusCode::OK);
    for ok in [
        signed(&|m| {
            m.remove("iat");
        }),
        signed(&|m| {
            m.insert("bid".into(), json!("com.example.other"));
            m.insert("scope".into(), json!(["GET /v1/apps"]));
        }),
        signed(&|m| {
            m.insert("exp".into(), json!(now + 1200));
        }),
    ] {
        let resp = c.get_with(&c.url("/v1/apps"), &ok).await;
        assert_eq!(resp.status(), StatusCode::OK);
    }

    // Refused with Connect's 401.
    let other = c.sim.issue_connect_key(ConnectRole::Admin);
    for bad in [
        signed(&|m| {
            m.insert("aud".into(), json!("appstoreconnect-v2"));
        }),
        // 21 minutes: one minute more than Apple allows, with or without iat.
        signed(&|m| {
            m.insert("exp".into(), json!(now + 21 * 60));
        }),
        signed(&|m| {
            m.remove("iat");
            m.insert("exp".into(), json!(now + 21 * 60));
        }),
        signed(&|m| {
            m.insert("iat".into(), json!(now - 1200));
            m.insert("exp".into(), json!(now - 5));
        }),
        signed(&|m| {
            m.insert("iat".into(), json!(now + 120));
            m.insert("exp".into(), json!(now + 600));
        }),
        signed(&|m| {
            m.insert("iss".into(), json!("00000000-0000-0000-0000-000000000000"));
        }),
        sign_token(&c.key, "ZZZZZZZZZZ", &connect_claims(&c.key)),
        sign_token(&other, &c.key.key_id, &connect_claims(&c.key)),
    ] {
        assert_connect_401(&c, &bad).await;
    }

    // A revoked key is refused from then on.
    c.sim.revoke_key(&c.key.key_id);
    assert_connect_401(&c, &token(&c.key)).await;
}

#[tokio::test]
async fn the_apps_list_and_an_app_show_what_the_key_may_see() {
    let c = Connect::start().await;
    let body = c.ok("/v1/apps").await;
    let apps = body["data"].as_array().unwrap();
    assert_eq!(apps.len(), 2);
    let demo = &apps[0];
    assert_eq!(demo["type"], "apps");
    assert_eq!(demo["id"], DEMO_APP);
    assert_eq!(
        demo["attributes"],
        json!({
            "name": "Storedesk Demo", "bundleId": "com.storedesk.demo",
            "sku": "STOREDESK-DEMO", "primaryLocale": "en-US",
        })
    );
    assert_eq!(
        demo["links"]["self"],
        c.url(&format!("/v1/apps/{DEMO_APP}"))
    );
    assert_eq!(
        demo["relationships"]["inAppPurchasesV2"]["links"]["related"],
        c.url(&format!("/v1/apps/{DEMO_APP}/inAppPurchasesV2"))
    );
    assert_eq!(apps[1]["id"], COMPANION_APP);
    assert_eq!(apps[1]["attributes"]["name"], "Storedesk Companion");
    assert_eq!(apps[1]["attributes"]["bundleId"], "com.storedesk.companion");
    assert_eq!(body["links"]["self"], c.url("/v1/apps"));
    assert!(body["links"].get("next").is_none());
    assert_eq!(body["meta"]["paging"], json!({ "total": 2, "limit": 50 }));

    // filter[bundleId] and fields[apps], as storedesk's Step 1 asks.
    let body = c
        .ok("/v1/apps?filter%5BbundleId%5D=com.storedesk.companion&fields%5Bapps%5D=name,bundleId&limit=10")
        .await;
    let apps = body["data"].as_array().unwrap();
    assert_eq!(apps.len(), 1);
    assert_eq!(
        apps[0]["attributes"],
        json!({ "name": "Storedesk Companion", "bundleId": "com.storedesk.companion" })
    );
    assert!(apps[0].get("relationships").is_none());

    let body = c.ok(&format!("/v1/apps/{DEMO_APP}")).await;
    assert_eq!(body["data"]["attributes"]["sku"], "STOREDESK-DEMO");
    assert_eq!(
        body["links"]["self"],
        c.url(&format!("/v1/apps/{DEMO_APP}"))
    );

    let (status, body) = c.get("/v1/apps/999").await;
    let e = assert_error(status, &body, 404, "NOT_FOUND");
    assert_eq!(
        e["detail"],
        "There is no resource of type 'apps' with id '999'"
    );

    // A key limited to the demo app: the list has only it, the companion is forbidden, unknown stays 404.
    let limited = c
        .sim
        .issue_connect_key_for_apps(ConnectRole::AppManager, &[1_234_567_890]);
    let (status, body, _) = c.call_as(&limited, "/v1/apps").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"].as_array().unwrap().len(), 1);
    assert_eq!(body["data"][0]["id"], DEMO_APP);
    for path in [
        format!("/v1/apps/{COMPANION_APP}"),
        format!("/v1/apps/{COMPANION_APP}/inAppPurchasesV2"),
        format!("/v1/apps/{COMPANION_APP}/subscriptionGracePeriod"),
    ] {
        let (status, body, _) = c.call_as(&limited, &path).await;
        let e = assert_error(status, &body, 403, "FORBIDDEN_ERROR");
        assert_eq!(
            e["detail"],
            "The API key in use does not allow this request"
        );
    }
    let (status, body, _) = c.call_as(&limited, "/v1/apps/999").await;
    assert_error(status, &body, 404, "NOT_FOUND");
    // A key limited to the companion may not read the demo app's catalog either.
    let companion_only = c
        .sim
        .issue_connect_key_for_apps(ConnectRole::Admin, &[1_234_567_891]);
    let pro = c.resource_id(PRO_MONTHLY).await;
    let (status, body, _) = c
        .call_as(&companion_only, &format!("/v1/subscriptions/{pro}/prices"))
        .await;
    assert_error(status, &body, 403, "FORBIDDEN_ERROR");
}

#[tokio::test]
async fn a_developer_key_reads_apps_but_not_the_catalog() {
    let c = Connect::start().await;
    let dev = c.sim.issue_connect_key(ConnectRole::Developer);
    for path in ["/v1/apps".to_owned(), format!("/v1/apps/{DEMO_APP}")] {
        assert_eq!(c.call_as(&dev, &path).await.0, StatusCode::OK, "{path}");
    }
    let sub = c.resource_id(PRO_MONTHLY).await;
    let iap = c.resource_id(COINS_100).await;
    for path in [
        format!("/v1/apps/{DEMO_APP}/inAppPurchasesV2"),
        format!("/v1/apps/{DEMO_APP}/subscriptionGroups"),
        "/v1/subscriptionGroups/21482731/subscriptions".to_owned(),
        format!("/v1/subscriptions/{sub}/prices"),
        format!("/v1/inAppPurchasePriceSchedules/{iap}/manualPrices"),
        format!("/v1/apps/{DEMO_APP}/subscriptionGracePeriod"),
        format!("/v1/subscriptions/{sub}/promotionalOffers"),
    ] {
        let (status, body, _) = c.call_as(&dev, &path).await;
        assert_error(status, &body, 403, "FORBIDDEN_ERROR");
    }
    // App Manager reads everything.
    let manager = c.sim.issue_connect_key(ConnectRole::AppManager);
    let (status, _, _) = c
        .call_as(&manager, &format!("/v1/subscriptions/{sub}/prices"))
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_small_page_size_spreads_the_catalog_over_pages_that_next_walks_to_the_end() {
    let c = Connect::start().await;
    c.sim.set_connect_page_size(Some(2));
    let mut url = c.url(&format!("/v1/apps/{DEMO_APP}/inAppPurchasesV2?limit=50"));
    let mut seen: Vec<String> = Vec::new();
    let mut pages = 0;
    loop {
        let body = c.ok(&url).await;
        pages += 1;
        assert_eq!(body["meta"]["paging"], json!({ "total": 5, "limit": 2 }));
        assert_eq!(body["links"]["self"], url);
        for r in body["data"].as_array().unwrap() {
            assert_eq!(r["type"], "inAppPurchases");
            seen.push(r["attributes"]["productId"].as_str().unwrap().to_owned());
        }
        match body["links"]["next"].as_str() {
            Some(next) => {
                assert!(next.starts_with(&c.url(&format!("/v1/apps/{DEMO_APP}/inAppPurchasesV2?"))));
                assert!(next.contains("limit=50") && next.contains("cursor="));
                url = next.to_owned();
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let mut expected = vec![
        "com.storedesk.demo.coins.100",
        "com.storedesk.demo.coins.500",
        "com.storedesk.demo.lifetime.themes",
        "com.storedesk.demo.remove_ads",
        "com.storedesk.demo.season_pass",
    ];
    let mut sorted = seen.clone();
    sorted.sort();
    expected.sort();
    assert_eq!(
        sorted, expected,
        "every in-app purchase exactly once: {seen:?}"
    );

    // Back to Apple's own maximum: one page.
    c.sim.set_connect_page_size(None);
    let body = c
        .ok(&format!("/v1/apps/{DEMO_APP}/inAppPurchasesV2?limit=200"))
        .await;
    assert_eq!(body["data"].as_array().unwrap().len(), 5);
    assert!(body["links"].get("next").is_none());
}

#[tokio::test]
async fn a_bad_limit_or_cursor_is_a_parameter_error() {
    let c = Connect::start().await;
    for limit in ["0", "201", "abc", "-3"] {
        let (status, body) = c.get(&format!("/v1/apps?limit={limit}")).await;
        let e = assert_error(status, &body, 400, "PARAMETER_ERROR.INVALID");
        assert_eq!(e["source"]["parameter"], "limit", "{limit}");
    }
    let (status, body) = c.get("/v1/apps?cursor=bm90LWEtY3Vyc29y").await;
    let e = assert_error(status, &body, 400, "PARAMETER_ERROR.INVALID");
    assert_eq!(e["source"]["parameter"], "cursor");
    // A cursor of another collection is not valid here either.
    c.sim.set_connect_page_size(Some(1));
    let body = c.ok("/v1/apps").await;
    let next = body["links"]["next"].as_str().unwrap();
    let cursor = next.split("cursor=").nth(1).unwrap();
    let (status, body) = c
        .get(&format!(
            "/v1/apps/{DEMO_APP}/inAppPurchasesV2?cursor={cursor}"
        ))
        .await;
    assert_error(status, &body, 400, "PARAMETER_ERROR.INVALID");
    // A parameter the endpoint does not take.
    let (status, body) = c.get(&format!("/v1/apps/{DEMO_APP}?limit=2")).await;
    let e = assert_error(status, &body, 400, "PARAMETER_ERROR.ILLEGAL");
    assert_eq!(e["source"]["parameter"], "limit");
}

#[tokio::test]
async fn groups_and_subscriptions_match_the_signed_transactions() {
    let c = Connect::start().await;
    let seed = c.sim.seed();
    let body = c
        .ok(&format!("/v1/apps/{DEMO_APP}/subscriptionGroups"))
        .await;
    let groups = body["data"].as_array().unwrap();
    let ids: Vec<&str> = groups.iter().map(|g| g["id"].as_str().unwrap()).collect();
    assert_eq!(ids, seed.subscription_group_ids);
    assert_eq!(groups[0]["type"], "subscriptionGroups");
    assert_eq!(groups[0]["attributes"]["referenceName"], "Storedesk Pro");
    assert_eq!(groups[1]["attributes"]["referenceName"], "Cloud Storage");

    let body = c.ok("/v1/subscriptionGroups/21482731/subscriptions").await;
    let subs = body["data"].as_array().unwrap();
    assert_eq!(subs.len(), 2);
    let monthly = subs
        .iter()
        .find(|s| s["attributes"]["productId"] == PRO_MONTHLY)
        .unwrap();
    assert_eq!(monthly["type"], "subscriptions");
    assert_eq!(
        monthly["attributes"],
        json!({
            "name": "Pro Monthly", "productId": PRO_MONTHLY, "familySharable": false,
            "state": "APPROVED", "subscriptionPeriod": "ONE_MONTH", "reviewNote": null, "groupLevel": 2,
        })
    );
    let yearly = subs
        .iter()
        .find(|s| s["attributes"]["productId"] == "com.storedesk.demo.pro.yearly")
        .unwrap();
    assert_eq!(yearly["attributes"]["groupLevel"], 1);
    assert_eq!(yearly["attributes"]["subscriptionPeriod"], "ONE_YEAR");
    let id = monthly["id"].as_str().unwrap();
    assert!(id.len() == 10 && id.bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(
        monthly["links"]["self"],
        c.url(&format!("/v1/subscriptions/{id}"))
    );
    assert_eq!(
        c.ok(&format!("/v1/subscriptions/{id}")).await["data"]["id"],
        id
    );

    let body = c.ok(&format!("/v1/apps/{DEMO_APP}/inAppPurchasesV2")).await;
    let types: Vec<(&str, &str)> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["attributes"]["name"].as_str().unwrap(),
                r["attributes"]["inAppPurchaseType"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        types,
        vec![
            ("100 Coins", "CONSUMABLE"),
            ("500 Coins", "CONSUMABLE"),
            ("Lifetime Themes", "NON_CONSUMABLE"),
            ("Remove Ads", "NON_CONSUMABLE"),
            ("Season Pass", "NON_RENEWING_SUBSCRIPTION"),
        ]
    );
    // The companion app has no products; unknown groups and subscriptions are 404.
    let body = c
        .ok(&format!("/v1/apps/{COMPANION_APP}/inAppPurchasesV2"))
        .await;
    assert_eq!(body["data"], json!([]));
    assert_eq!(body["meta"]["paging"]["total"], 0);
    let (status, body) = c.get("/v1/subscriptionGroups/1/subscriptions").await;
    let e = assert_error(status, &body, 404, "NOT_FOUND");
    assert_eq!(
        e["detail"],
        "There is no resource of type 'subscriptionGroups' with id '1'"
    );
    let (status, body) = c.get("/v1/subscriptions/42/prices").await;
    assert_error(status, &body, 404, "NOT_FOUND");
}

#[tokio::test]
async fn subscription_prices_include_their_price_points_and_territories() {
    let c = Connect::start().await;
    let id = c.resource_id(PRO_MONTHLY).await;
    let body = c
        .ok(&format!(
            "/v1/subscriptions/{id}/prices?include=subscriptionPricePoint,territory&limit=200"
        ))
        .await;
    let prices = body["data"].as_array().unwrap();
    assert_eq!(prices.len(), 5);
    let included = body["included"].as_array().unwrap();
    assert_eq!(included.len(), 10);
    let find = |kind: &str, id: &Value| {
        included
            .iter()
            .find(|r| r["type"] == kind && r["id"] == *id)
            .unwrap_or_else(|| panic!("{kind} {id} not included"))
            .clone()
    };
    let mut by_territory = std::collections::BTreeMap::new();
    for p in prices {
        assert_eq!(p["type"], "subscriptionPrices");
        assert_eq!(
            p["attributes"],
            json!({ "startDate": null, "preserved": false })
        );
        let point_ref = &p["relationships"]["subscriptionPricePoint"]["data"];
        assert_eq!(point_ref["type"], "subscriptionPricePoints");
        let territory_ref = &p["relationships"]["territory"]["data"];
        assert_eq!(territory_ref["type"], "territories");
        let point = find("subscriptionPricePoints", &point_ref["id"]);
        let territory = find("territories", &territory_ref["id"]);
        by_territory.insert(
            territory["id"].as_str().unwrap().to_owned(),
            (
                territory["attributes"]["currency"].clone(),
                point["attributes"].clone(),
            ),
        );
    }
    assert_eq!(
        by_territory["USA"],
        (
            json!("USD"),
            json!({ "customerPrice": "9.99", "proceeds": "6.99", "proceedsYear2": "8.49" })
        )
    );
    assert_eq!(by_territory["JPN"].0, "JPY");
    assert_eq!(by_territory["JPN"].1["customerPrice"], "1500");
    assert_eq!(by_territory["DEU"].0, "EUR");
    assert_eq!(by_territory["GBR"].1["customerPrice"], "8.99");
    assert_eq!(by_territory["CAN"].1["customerPrice"], "12.99");

    // Without include there is no included array; filter[territory] narrows the list.
    let body = c.ok(&format!("/v1/subscriptions/{id}/prices")).await;
    assert!(body.get("included").is_none());
    assert_eq!(body["data"].as_array().unwrap().len(), 5);
    let body = c
        .ok(&format!(
            "/v1/subscriptions/{id}/prices?filter%5Bterritory%5D=USA,JPN&include=territory"
        ))
        .await;
    assert_eq!(body["data"].as_array().unwrap().len(), 2);
    assert_eq!(body["included"].as_array().unwrap().len(), 2);
    let (status, body) = c
        .get(&format!("/v1/subscriptions/{id}/prices?include=group"))
        .await;
    let e = assert_error(status, &body, 400, "PARAMETER_ERROR.INVALID");
    assert_eq!(e["source"]["parameter"], "include");
}

#[tokio::test]
async fn in_app_purchase_manual_prices_include_their_price_points_and_territories() {
    let c = Connect::start().await;
    let id = c.resource_id(COINS_100).await;
    // The price schedule is reached from the in-app purchase, and its id is the in-app purchase's.
    let schedule = c
        .ok(&format!("/v2/inAppPurchases/{id}/iapPriceSchedule"))
        .await;
    assert_eq!(schedule["data"]["type"], "inAppPurchasePriceSchedules");
    assert_eq!(schedule["data"]["id"], id.as_str());
    assert_eq!(
        schedule["data"]["relationships"]["manualPrices"]["links"]["related"],
        c.url(&format!(
            "/v1/inAppPurchasePriceSchedules/{id}/manualPrices"
        ))
    );

    let body = c
        .ok(&format!(
            "/v1/inAppPurchasePriceSchedules/{id}/manualPrices?include=inAppPurchasePricePoint,territory"
        ))
        .await;
    let prices = body["data"].as_array().unwrap();
    assert_eq!(prices.len(), 5);
    let included = body["included"].as_array().unwrap();
    let usa = prices
        .iter()
        .find(|p| p["relationships"]["territory"]["data"]["id"] == "USA")
        .unwrap();
    assert_eq!(usa["type"], "inAppPurchasePrices");
    assert_eq!(
        usa["attributes"],
        json!({ "startDate": null, "endDate": null })
    );
    let point_id = &usa["relationships"]["inAppPurchasePricePoint"]["data"]["id"];
    let point = included
        .iter()
        .find(|r| r["type"] == "inAppPurchasePricePoints" && r["id"] == *point_id)
        .unwrap();
    assert_eq!(
        point["attributes"],
        json!({ "customerPrice": "0.99", "proceeds": "0.69" })
    );
    assert!(included.iter().any(|r| r["type"] == "territories"
        && r["id"] == "USA"
        && r["attributes"]["currency"] == "USD"));

    // Every storefront is set by hand, so App Store Connect derives none: an empty list, as Apple answers it.
    let automatic = c
        .ok(&format!(
            "/v1/inAppPurchasePriceSchedules/{id}/automaticPrices?include=inAppPurchasePricePoint,territory"
        ))
        .await;
    assert_eq!(automatic["data"], json!([]));
    assert_eq!(automatic["meta"]["paging"]["total"], 0);

    // A subscription's id is not a price schedule.
    let sub = c.resource_id(PRO_MONTHLY).await;
    for list in ["manualPrices", "automaticPrices"] {
        let (status, body) = c
            .get(&format!("/v1/inAppPurchasePriceSchedules/{sub}/{list}"))
            .await;
        assert_error(status, &body, 404, "NOT_FOUND");
    }
}

#[tokio::test]
async fn promotional_offers_and_the_grace_period_are_served() {
    let c = Connect::start().await;
    let id = c.resource_id(PRO_MONTHLY).await;
    let body = c
        .ok(&format!("/v1/subscriptions/{id}/promotionalOffers"))
        .await;
    let offers = body["data"].as_array().unwrap();
    assert_eq!(offers.len(), 2);
    assert_eq!(offers[0]["type"], "subscriptionPromotionalOffers");
    assert_eq!(
        offers[0]["attributes"],
        json!({
            "name": "Win-back: half price for 3 months", "offerCode": "pro_monthly_winback",
            "duration": "ONE_MONTH", "offerMode": "PAY_AS_YOU_GO", "numberOfPeriods": 3,
        })
    );
    assert_eq!(
        offers[1]["attributes"]["offerCode"],
        "pro_monthly_free_month"
    );
    assert_eq!(offers[1]["attributes"]["offerMode"], "FREE_TRIAL");
    let yearly = c.resource_id("com.storedesk.demo.pro.yearly").await;
    let body = c
        .ok(&format!("/v1/subscriptions/{yearly}/promotionalOffers"))
        .await;
    assert_eq!(
        body["data"][0]["attributes"]["offerCode"],
        "pro_yearly_upgrade"
    );
    assert_eq!(body["data"][0]["attributes"]["offerMode"], "PAY_UP_FRONT");
    let cloud = c.resource_id("com.storedesk.demo.cloud.monthly").await;
    let body = c
        .ok(&format!("/v1/subscriptions/{cloud}/promotionalOffers"))
        .await;
    assert_eq!(
        body["data"][0]["attributes"]["offerCode"],
        "cloud_half_price"
    );
    assert_eq!(body["data"][0]["attributes"]["numberOfPeriods"], 2);

    let body = c
        .ok(&format!("/v1/apps/{DEMO_APP}/subscriptionGracePeriod"))
        .await;
    assert_eq!(body["data"]["type"], "subscriptionGracePeriods");
    assert_eq!(body["data"]["id"], DEMO_APP);
    assert_eq!(
        body["data"]["attributes"],
        json!({ "optIn": true, "sandboxOptIn": true, "duration": "SIXTEEN_DAYS", "renewalType": "ALL_RENEWALS" })
    );
    assert!(body.get("meta").is_none());
    assert_eq!(
        body["links"]["self"],
        c.url(&format!("/v1/apps/{DEMO_APP}/subscriptionGracePeriod"))
    );
}

#[tokio::test]
async fn the_rate_limit_header_counts_down_per_key_until_429() {
    let c = Connect::start().await;
    let (_, _, rate) = c.call_as(&c.key, "/v1/apps").await;
    assert_eq!(
        rate.as_deref(),
        Some("user-hour-lim:3600;user-hour-rem:3599;")
    );

    c.sim.set_connect_rate_limit(Some(3));
    let (_, _, rate) = c.call_as(&c.key, "/v1/apps").await;
    assert_eq!(rate.as_deref(), Some("user-hour-lim:3;user-hour-rem:1;"));
    // Error answers count and carry the header too.
    let (status, _, rate) = c.call_as(&c.key, "/v1/apps/999").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(rate.as_deref(), Some("user-hour-lim:3;user-hour-rem:0;"));
    let (status, body, rate) = c.call_as(&c.key, "/v1/apps").await;
    let e = assert_error(status, &body, 429, "RATE_LIMIT_EXCEEDED");
    assert_eq!(e["title"], "The request rate limit has been reached.");
    assert!(e["detail"]
        .as_str()
        .unwrap()
        .starts_with("We've received too many requests for this API."));
    assert_eq!(rate.as_deref(), Some("user-hour-lim:3;user-hour-rem:0;"));
    // Another key has its own budget.
    let other = c.sim.issue_connect_key(ConnectRole::Admin);
    let (status, _, rate) = c.call_as(&other, "/v1/apps").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(rate.as_deref(), Some("user-hour-lim:3;user-hour-rem:2;"));
}

#[tokio::test]
async fn connect_fail_next_answers_apples_500_then_recovers() {
    let c = Connect::start().await;
    c.sim.connect_fail_next(2);
    for _ in 0..2 {
        let (status, body, rate) = c.call_as(&c.key, "/v1/apps").await;
        let e = assert_error(status, &body, 500, "UNEXPECTED_ERROR");
        assert_eq!(e["title"], "An unexpected error occurred.");
        assert!(rate.is_some());
    }
    assert_eq!(c.get("/v1/apps").await.0, StatusCode::OK);
    assert_eq!(c.sim.connect_request_count(), 3);
}

#[tokio::test]
async fn catalog_edits_show_in_the_answers() {
    let c = Connect::start().await;
    let sub = c.resource_id(PRO_MONTHLY).await;
    let prices_url = format!(
        "/v1/subscriptions/{sub}/prices?include=subscriptionPricePoint&filter%5Bterritory%5D=USA"
    );
    let before = c.ok(&prices_url).await;

    assert!(c.sim.connect_rename_product(PRO_MONTHLY, "Pro (monthly)"));
    assert!(c
        .sim
        .connect_set_product_state(PRO_MONTHLY, "DEVELOPER_REMOVED_FROM_SALE"));
    assert!(c.sim.connect_set_price(PRO_MONTHLY, "USA", "10.99"));
    assert!(c.sim.connect_remove_product(COINS_100));
    // Unknown products, territories and prices the currency cannot hold are refused.
    assert!(!c.sim.connect_rename_product("com.example.none", "x"));
    assert!(!c
        .sim
        .connect_set_product_state("com.example.none", "APPROVED"));
    assert!(!c.sim.connect_remove_product(COINS_100));
    assert!(!c.sim.connect_set_price("com.example.none", "USA", "1.99"));
    assert!(!c.sim.connect_set_price(PRO_MONTHLY, "FRA", "1.99"));
    assert!(!c.sim.connect_set_price(PRO_MONTHLY, "JPN", "1500.5"));

    let sub_body = c.ok(&format!("/v1/subscriptions/{sub}")).await;
    assert_eq!(sub_body["data"]["attributes"]["name"], "Pro (monthly)");
    assert_eq!(
        sub_body["data"]["attributes"]["state"],
        "DEVELOPER_REMOVED_FROM_SALE"
    );
    let after = c.ok(&prices_url).await;
    assert_eq!(after["included"][0]["attributes"]["customerPrice"], "10.99");
    assert_eq!(after["included"][0]["attributes"]["proceeds"], "7.69");
    assert_ne!(after["data"][0]["id"], before["data"][0]["id"]);

    let iaps = c.ok(&format!("/v1/apps/{DEMO_APP}/inAppPurchasesV2")).await;
    assert_eq!(iaps["meta"]["paging"]["total"], 4);
    assert!(!iaps["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["attributes"]["productId"] == COINS_100));
}

#[tokio::test]
async fn the_admin_endpoint_issues_connect_keys() {
    let c = Connect::start().await;
    let http = reqwest::Client::new();
    let issue = |body: Option<Value>| {
        let mut req = http.post(format!("{}/sim/connect-keys", c.sim.base_url()));
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send()
    };
    let resp = issue(None).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    let key_id = body["keyId"].as_str().unwrap().to_owned();
    assert_eq!(body["fileName"], format!("AuthKey_{key_id}.p8"));
    assert_eq!(body["issuerId"], c.key.issuer_id);
    assert_eq!(body["role"], "ADMIN");
    let admin = IssuedKey {
        key_id,
        issuer_id: body["issuerId"].as_str().unwrap().to_owned(),
        private_key_pem: body["privateKey"].as_str().unwrap().to_owned(),
        file_name: body["fileName"].as_str().unwrap().to_owned(),
    };
    assert_eq!(
        c.call_as(&admin, "/v1/apps").await.1["data"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    let body: Value = issue(Some(
        json!({ "role": "APP_MANAGER", "apps": [COMPANION_APP] }),
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(body["role"], "APP_MANAGER");
    let limited = IssuedKey {
        key_id: body["keyId"].as_str().unwrap().to_owned(),
        issuer_id: body["issuerId"].as_str().unwrap().to_owned(),
        private_key_pem: body["privateKey"].as_str().unwrap().to_owned(),
        file_name: body["fileName"].as_str().unwrap().to_owned(),
    };
    let (_, apps, _) = c.call_as(&limited, "/v1/apps").await;
    assert_eq!(apps["data"].as_array().unwrap().len(), 1);
    assert_eq!(apps["data"][0]["id"], COMPANION_APP);

    let resp = issue(Some(json!({ "role": "OWNER" }))).await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn unknown_paths_and_methods_get_connects_error_bodies() {
    let c = Connect::start().await;
    let (status, body) = c.get("/v1/betaTesters").await;
    let e = assert_error(status, &body, 404, "NOT_FOUND");
    assert_eq!(
        e["detail"],
        "The path provided does not match a defined resource type."
    );
    let resp = c
        .http
        .post(c.url("/v1/apps"))
        .bearer_auth(token(&c.key))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "METHOD_NOT_ALLOWED");
}
