//! The support desk's look-ups as JSON under /api/v1: each kind of `q`, Apple's history pages, the refunds, a
//! customer's subscriptions, the CSV export, answers from the index when Apple fails (never called fresh), refused
//! input, and who may ask.
use std::collections::HashSet;

use serde_json::{json, Value};
use storedesk::apple::{ApiErrorKind, AppleError, Environment};
use storedesk::apple_sim::Fault;
use storedesk::routes::api::auth::{REVOKED, UNKNOWN};
use storedesk::support::SearchInputError;

use crate::admin::api_tokens::{api_get, assert_json_error, make_token, TOKENS};
use crate::helpers::{create_project, csrf_from, Ready};
use crate::projects::transactions::common::lookups;
use crate::support_test;

fn search(q: &str) -> String {
    format!(
        "/api/v1/projects/demo/transactions?q={}",
        storedesk::urls::urlencode(q)
    )
}

fn subscription(id: &str) -> String {
    format!("/api/v1/projects/demo/subscriptions/{id}")
}

/// A 200 with JSON nobody may cache.
async fn json_ok(r: &Ready, path: &str, token: &str) -> Value {
    let response = api_get(&r.app, path, Some(token)).await;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.text().await.unwrap();
    assert_eq!(status, 200, "{path}: {body}");
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers["cache-control"], "no-store");
    serde_json::from_str(&body).unwrap()
}

/// The body of a JSON error with `status` and `code`.
async fn json_error(r: &Ready, path: &str, token: &str, status: u16, code: &str) -> Value {
    let response = api_get(&r.app, path, Some(token)).await;
    assert_eq!(response.status().as_u16(), status, "{path}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], code, "{body}");
    body["error"].clone()
}

fn ids(items: &Value) -> Vec<String> {
    items
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["transactionId"].as_str().unwrap().to_string())
        .collect()
}

fn apple_5xx(code: i64) -> AppleError {
    AppleError::Api {
        status: (code / 10_000) as u16,
        code,
        kind: ApiErrorKind::from_code(code),
        environment: Environment::Production,
        retries: 2,
    }
}

/// The audit rows written by the token, oldest first, as (action, target).
async fn audited_by_token(r: &Ready, name: &str) -> Vec<(String, String)> {
    r.app
        .store
        .list_audit(&Default::default())
        .await
        .unwrap()
        .into_iter()
        .filter(|e| {
            e.user_email
                .starts_with(&format!("API token “{name}” (sd_"))
        })
        .map(|e| (e.action, e.target))
        .rev()
        .collect()
}

support_test!(each_kind_of_query_is_answered_with_its_transactions, |r| {
    let seed = r.sim.seed();
    let token = make_token(&r.admin, "demo", "read", "lookups").await;

    // A transaction id: the story fresh from Apple, in camelCase, with the payload as Apple signed it.
    let id = &seed.active_monthly.transaction_id;
    let body = json_ok(&r, &search(id), &token).await;
    assert_eq!(
        body["query"],
        json!({"kind": "transaction_id", "value": id})
    );
    assert_eq!(body["environment"], "Production");
    assert_eq!(body["freshness"]["fresh"], true);
    assert_eq!(body["freshness"]["environment"], "Production");
    assert!(body["freshness"]["asOf"].as_i64().is_some());
    assert!(body["freshness"]["problem"].is_null());
    assert!(body["freshness"]["message"]
        .as_str()
        .unwrap()
        .starts_with("Fresh from Apple (Production) at "));
    assert_eq!(ids(&body["matches"]), vec![id.clone()]);
    let t = &body["transaction"];
    assert_eq!(t["transactionId"], *id);
    assert_eq!(
        t["originalTransactionId"],
        seed.active_monthly.original_transaction_id
    );
    assert_eq!(t["productId"], "com.storedesk.demo.pro.monthly");
    assert_eq!(t["type"]["raw"], "Auto-Renewable Subscription");
    assert_eq!(t["status"], "active");
    assert_eq!(t["refundStatus"], "Not refunded.");
    assert_eq!(
        t["price"],
        json!({"milliunits": 9990, "currency": "EUR", "amount": "9.99", "text": "9.99 EUR"})
    );
    assert_eq!(body["decodedTransaction"]["transactionId"], *id);
    assert_eq!(body["decodedTransaction"]["price"], 9990);
    assert_eq!(
        body["subscriptionId"],
        seed.active_monthly.original_transaction_id
    );
    assert!(ids(&body["history"]["items"]).contains(id));
    assert_eq!(body["history"]["freshness"]["fresh"], true);
    assert_eq!(body["refunds"]["freshness"]["fresh"], true);
    assert!(body["refunds"]["items"].as_array().is_some());
    assert!(
        body.get("decoded_json").is_none() && body.get("subscription_id").is_none(),
        "no snake_case: {body}"
    );

    // An original transaction id is the first transaction of its chain.
    let original = &seed.long_history_original_id;
    let body = json_ok(&r, &search(original), &token).await;
    assert_eq!(body["transaction"]["transactionId"], *original);
    assert_eq!(body["transaction"]["isOriginal"], true);
    assert_eq!(
        body["transaction"]["offer"],
        "introductory offer: free trial for 1 month"
    );

    // An order id, pasted in lower case with the e-mail's full stop: every purchase of the order.
    let order = seed.orders.get("MKPQ3RT8ZD").unwrap();
    let body = json_ok(&r, &search("mkpq3rt8zd."), &token).await;
    assert_eq!(
        body["query"],
        json!({"kind": "order_id", "value": "MKPQ3RT8ZD"})
    );
    assert_eq!(body["freshness"]["fresh"], true);
    let matched: HashSet<String> = ids(&body["matches"]).into_iter().collect();
    assert_eq!(matched, order.iter().cloned().collect::<HashSet<_>>());

    // An app account token: found in storedesk's index (Alice was looked up above), never called fresh.
    let before = r.sim.request_count();
    let body = json_ok(&r, &search(&seed.app_account_token.to_uppercase()), &token).await;
    assert_eq!(
        r.sim.request_count(),
        before,
        "a token search never asks Apple"
    );
    assert_eq!(
        body["query"],
        json!({"kind": "app_account_token", "value": seed.app_account_token})
    );
    assert_eq!(body["freshness"]["fresh"], false);
    let message = body["freshness"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("App account tokens are searched in storedesk's own index"),
        "{message}"
    );
    assert!(message.contains("not fresh from Apple"), "{message}");
    let matches = body["matches"].as_array().unwrap();
    let indexed = r
        .app
        .store
        .indexed_by_app_account_token(r.project.id, &seed.app_account_token)
        .await
        .unwrap();
    assert!(indexed.len() >= 2);
    assert_eq!(
        matches.len(),
        indexed.len(),
        "every indexed transaction of hers"
    );
    assert!(matches
        .iter()
        .all(|t| t["appAccountToken"] == seed.app_account_token.as_str()));
    assert!(ids(&body["matches"]).contains(original));

    // Each look-up is audited like the page's, with the token as actor.
    let audited = audited_by_token(&r, "lookups").await;
    let expected: Vec<(String, String)> = [
        id.as_str(),
        original.as_str(),
        "MKPQ3RT8ZD",
        seed.app_account_token.as_str(),
    ]
    .iter()
    .map(|t| ("lookup.transaction".to_string(), t.to_string()))
    .collect();
    assert_eq!(audited, expected);
});

support_test!(the_history_pages_with_apples_token_and_keeps_filters, |r| {
    let seed = r.sim.seed();
    let token = make_token(&r.admin, "demo", "read", "pager").await;
    let first = json_ok(&r, &search(&seed.long_history_original_id), &token).await;
    let history = &first["history"];
    assert_eq!(history["page"], 1);
    let page1 = ids(&history["items"]);
    assert_eq!(page1.len(), 20, "Apple's pages hold 20");
    let rev = history["nextRevision"].as_str().expect("an older page");
    let next = history["next"].as_str().unwrap();
    assert_eq!(
        next,
        format!(
            "{}&rev={}&page=2",
            search(&seed.long_history_original_id),
            storedesk::urls::urlencode(rev)
        )
    );

    let second = json_ok(&r, next, &token).await;
    let history = &second["history"];
    assert_eq!(history["page"], 2);
    let page2 = ids(&history["items"]);
    assert_eq!(page2.len(), 10);
    assert!(history["nextRevision"].is_null() && history["next"].is_null());
    assert_eq!(history["freshness"]["fresh"], true);
    let all: HashSet<&String> = page1.iter().chain(&page2).collect();
    assert_eq!(all.len(), 30, "the two pages are disjoint and complete");
    assert_eq!(page2.last(), Some(&seed.long_history_original_id));

    // Filters narrow the page and come back under their parameter names.
    let filtered = json_ok(
        &r,
        &format!(
            "{}&type=consumable&revoked=no",
            search(&seed.long_history_original_id)
        ),
        &token,
    )
    .await;
    let history = &filtered["history"];
    assert_eq!(
        history["filters"],
        json!({"type": "CONSUMABLE", "product": null, "from": null, "to": null, "revoked": false, "ownership": null})
    );
    let items = history["items"].as_array().unwrap();
    assert!(!items.is_empty());
    assert!(items.iter().all(|t| t["type"]["raw"] == "Consumable"));
    assert!(items.len() < 20);
});

support_test!(
    a_customers_subscriptions_come_with_their_renewal_info,
    |r| {
        let seed = r.sim.seed();
        let token = make_token(&r.admin, "demo", "read", "statuses").await;
        let bob = &seed.active_monthly.original_transaction_id;
        let body = json_ok(&r, &subscription(bob), &token).await;
        assert_eq!(body["originalTransactionId"], *bob);
        assert_eq!(body["environment"], "Production");
        assert_eq!(body["freshness"]["fresh"], true);
        assert_eq!(body["indexed"], json!([]));
        let groups = body["groups"].as_array().unwrap();
        assert_eq!(groups.len(), 2, "Bob has two groups: {body}");
        let requested = &groups[0]["subscriptions"][0];
        assert_eq!(requested["isRequested"], true);
        assert_eq!(requested["originalTransactionId"], *bob);
        assert_eq!(requested["statusCode"], 1);
        assert_eq!(requested["status"], "active");
        assert_eq!(requested["extendable"], true);
        assert_eq!(
            requested["lastTransaction"]["transactionId"],
            seed.active_monthly.transaction_id
        );
        assert_eq!(requested["renewalInfo"]["autoRenewOn"], true);
        assert_eq!(requested["renewalInfo"]["autoRenewStatus"]["raw"], "1");
        assert_eq!(
            requested["decodedRenewalInfo"]["originalTransactionId"],
            *bob
        );
        assert_eq!(requested["decodedRenewalInfo"]["autoRenewStatus"], 1);
        assert_eq!(
            requested["decodedTransaction"]["transactionId"],
            seed.active_monthly.transaction_id
        );
        let cloud = &groups[1]["subscriptions"][0];
        assert_eq!(
            cloud["originalTransactionId"],
            seed.active_second_group.original_transaction_id
        );
        assert_eq!(cloud["isRequested"], false);
        assert!(cloud["renewalInfo"]["priceIncreaseStatus"]["text"]
            .as_str()
            .unwrap()
            .contains("the customer has not responded yet"));
        assert_eq!(cloud["renewalInfo"]["renewalPrice"]["text"], "5.99 EUR");

        let retry = json_ok(&r, &subscription(&seed.billing_retry_original_id), &token).await;
        let item = &retry["groups"][0]["subscriptions"][0];
        assert_eq!(item["statusCode"], 3);
        assert_eq!(item["status"], "billing retry");
        assert_eq!(item["renewalInfo"]["isInBillingRetryPeriod"], true);

        let error = json_error(
            &r,
            &subscription(&seed.unknown_transaction_id),
            &token,
            404,
            "apple_not_found",
        )
        .await;
        assert_eq!(
            error["message"],
            "Apple has no subscription with this id, in Production or in Sandbox."
        );
        let error = json_error(&r, &subscription("abc"), &token, 404, "not_found").await;
        assert_eq!(
        error["message"],
        "“abc” is not an original transaction id: those are digits only, such as 2000000442013708."
    );

        let audited = audited_by_token(&r, "statuses").await;
        let expected: Vec<(String, String)> = [
            bob.as_str(),
            seed.billing_retry_original_id.as_str(),
            seed.unknown_transaction_id.as_str(),
        ]
        .iter()
        .map(|t| ("lookup.subscription".to_string(), t.to_string()))
        .collect();
        assert_eq!(audited, expected);
    }
);

support_test!(
    a_query_that_fits_no_kind_is_refused_with_the_pages_sentence,
    |r| {
        let token = make_token(&r.admin, "demo", "read", "refused").await;
        let cases = [
            (
                "hello world",
                SearchInputError::Unrecognised("hello world".into()).to_string(),
            ),
            ("", SearchInputError::Empty.to_string()),
        ];
        for (q, sentence) in cases {
            let error = json_error(&r, &search(q), &token, 422, "invalid_request").await;
            assert_eq!(error["fields"], json!({ "q": sentence }), "{q}");
            assert_eq!(error["message"], sentence);
        }
        // No q at all is the empty case; bad filters are listed with it, each under its parameter.
        let error = json_error(
            &r,
            "/api/v1/projects/demo/transactions?from=yesterday&revoked=maybe",
            &token,
            422,
            "invalid_request",
        )
        .await;
        assert_eq!(
            error["fields"],
            json!({
                "q": SearchInputError::Empty.to_string(),
                "from": "Dates are written YYYY-MM-DD, for example 2026-11-26.",
                "revoked": "Choose whether to show revoked transactions: only revoked, only not revoked, or both.",
            })
        );
        assert_eq!(r.sim.request_count(), 0, "Apple was not asked");
        assert!(lookups(&r.app).await.is_empty(), "nothing looked up");
    }
);

support_test!(when_apple_fails_the_index_answers_and_says_so, |r| {
    let seed = r.sim.seed();
    let token = make_token(&r.admin, "demo", "read", "outage").await;
    let id = seed.long_history_original_id.clone();
    let warm = json_ok(&r, &search(&id), &token).await;
    assert_eq!(warm["freshness"]["fresh"], true);
    let as_of = r
        .app
        .store
        .indexed_by_transaction_id(r.project.id, &id)
        .await
        .unwrap()[0]
        .seen_at;

    // Three 5xx answers: the first attempt and the client's two retries.
    r.sim.inject_fault(Fault::ApiError {
        code: 5_000_000,
        count: 3,
    });
    let body = json_ok(&r, &search(&id), &token).await;
    let sentence = apple_5xx(5_000_000).sentence();
    let freshness = &body["freshness"];
    assert_eq!(freshness["fresh"], false, "never fresh from the index");
    assert_eq!(freshness["environment"], "Production");
    assert_eq!(body["environment"], "Production");
    assert_eq!(freshness["asOf"], as_of);
    assert_eq!(
        freshness["problem"],
        json!({"kind": "apple_error", "message": sentence, "appleErrorCode": 5_000_000, "httpStatus": 500})
    );
    // The relative time ("1 minute ago") is the server's to choose.
    let message = freshness["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!(
            "{sentence} Showing storedesk's index as of {} (",
            storedesk::present::time::utc(as_of)
        )),
        "{message}"
    );
    assert!(message.ends_with("), not fresh from Apple."), "{message}");
    assert_eq!(body["transaction"]["transactionId"], id);
    assert_eq!(body["decodedTransaction"]["transactionId"], id);
    assert_eq!(body["history"]["freshness"]["fresh"], false);
    // The history is what the index holds of her: what the warm look-up's page showed.
    let from_index = ids(&body["history"]["items"]);
    let seen: HashSet<String> = ids(&warm["history"]["items"]).into_iter().collect();
    assert!(
        from_index.len() > 1 && from_index.contains(&id),
        "{from_index:?}"
    );
    // The warm look-up also indexed what the subscription's timeline fetched beyond the first page, so
    // each id must be one the page showed or one the index holds from that look-up, and nothing else.
    for t in &from_index {
        let indexed = !r
            .app
            .store
            .indexed_by_transaction_id(r.project.id, t)
            .await
            .unwrap()
            .is_empty();
        assert!(seen.contains(t) || indexed, "{t} came from nowhere");
    }
    assert!(from_index.len() <= seed.long_history_transaction_count);
    assert!(body["history"]["next"].is_null());
    assert_eq!(body["refunds"]["freshness"]["fresh"], false);
    assert!(lookups(&r.app)
        .await
        .iter()
        .any(|(a, t, d)| a == "lookup.transaction"
            && *t == id
            && d.contains("Apple: apple_error; answered from the index")));

    // What the index never saw gets Apple's error, mapped like every Apple error of the API.
    r.sim.inject_fault(Fault::ApiError {
        code: 5_000_000,
        count: 3,
    });
    let error = json_error(
        &r,
        &search(&seed.unknown_transaction_id),
        &token,
        502,
        "apple_error",
    )
    .await;
    assert_eq!(
        error["message"],
        format!("{sentence} storedesk's own index has nothing for it either.")
    );
    assert_eq!(error["apple_error_code"], 5_000_000);

    // Apple's "no such transaction" is a 404 with the page's sentence.
    let error = json_error(
        &r,
        &search(&seed.unknown_transaction_id),
        &token,
        404,
        "apple_not_found",
    )
    .await;
    assert_eq!(
        error["message"],
        "Apple has no transaction with this id, in Production or in Sandbox."
    );
});

support_test!(apple_failures_answer_by_the_one_table, |r| {
    // The cases whose answer a look-up changed when the API's two mappings became one table (docs/decisions.md),
    // and one that did not change for a look-up but did for an `AppleError`: each as the API's error, as the
    // problem of an answer from the index, and as the search page's sentence.
    let seed = r.sim.seed();
    let token = make_token(&r.admin, "demo", "read", "failures").await;
    let unknown = seed.unknown_transaction_id.clone();
    let known = seed.active_monthly.transaction_id.clone();
    json_ok(&r, &search(&known), &token).await;
    let api = |code: i64, retries: u32| AppleError::Api {
        status: (code / 10_000) as u16,
        code,
        kind: ApiErrorKind::from_code(code),
        environment: Environment::Production,
        retries,
    };
    let cases = [
        // Something in front of Apple answers 403 in plain text (not retried): was apple_rejected/422, kind
        // "refused".
        (
            Fault::HttpStatus {
                status: 403,
                count: 1,
            },
            AppleError::HttpStatus {
                status: 403,
                retries: 0,
            },
            502,
            "apple_error",
            "apple_error",
        ),
        // Apple's retryable "not found yet", on the first attempt and the client's two retries: was
        // apple_rejected/422, kind "refused".
        (
            Fault::ApiError {
                code: 4_040_006,
                count: 3,
            },
            api(4_040_006, 2),
            502,
            "apple_error",
            "apple_error",
        ),
        // Another 404 code: unchanged for a look-up; an `AppleError` of it was apple_not_found/404.
        (
            Fault::ApiError {
                code: 4_040_001,
                count: 1,
            },
            api(4_040_001, 0),
            422,
            "apple_rejected",
            "refused",
        ),
    ];
    for (fault, apple, status, code, kind) in cases {
        let sentence = apple.sentence();
        let apple_code = json!(apple.code());

        r.sim.inject_fault(fault.clone());
        let error = json_error(&r, &search(&unknown), &token, status, code).await;
        assert_eq!(
            error["message"],
            format!("{sentence} storedesk's own index has nothing for it either."),
            "{code}"
        );
        assert_eq!(error["apple_error_code"], apple_code, "{code}");
        let audited = lookups(&r.app).await;
        let newest = &audited[0];
        assert_eq!(newest.1, unknown);
        assert!(
            newest
                .2
                .contains(&format!("Apple: {kind}; answered from the index")),
            "{newest:?}"
        );

        r.sim.inject_fault(fault.clone());
        let body = json_ok(&r, &search(&known), &token).await;
        assert_eq!(
            body["freshness"]["problem"],
            json!({"kind": kind, "message": sentence, "appleErrorCode": apple_code,
                   "httpStatus": apple.http_status()}),
            "{code}"
        );

        r.sim.inject_fault(fault);
        let page = r
            .admin
            .get_text(&crate::projects::transactions::common::search(&unknown))
            .await;
        let html = crate::projects::transactions::common::html;
        assert!(
            page.contains(&html(&format!(
                "{sentence} storedesk's own index has nothing for it either."
            ))),
            "{code}: {page}"
        );
    }
    // Every fault was used up: Apple answers again.
    let body = json_ok(&r, &search(&known), &token).await;
    assert_eq!(body["freshness"]["fresh"], true);
});

support_test!(the_history_exports_as_csv, |r| {
    let seed = r.sim.seed();
    let token = make_token(&r.admin, "demo", "read", "export").await;
    let path = format!(
        "/api/v1/projects/demo/transactions/{}/history.csv",
        seed.long_history_original_id
    );
    let response = api_get(&r.app, &path, Some(&token)).await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body = response.text().await.unwrap();
    let lines: Vec<&str> = body.lines().collect();
    assert!(lines[0].starts_with("transaction_id,original_transaction_id,"));
    assert_eq!(lines.len(), 1 + 30, "{body}");
    assert_eq!(
        audited_by_token(&r, "export").await,
        vec![(
            "lookup.export".to_string(),
            seed.long_history_original_id.clone()
        )]
    );
    let error = json_error(
        &r,
        &format!("{path}?to=2026-13-01"),
        &token,
        422,
        "invalid_request",
    )
    .await;
    assert_eq!(
        error["fields"],
        json!({"to": "Dates are written YYYY-MM-DD, for example 2026-11-26."})
    );
});

support_test!(only_a_valid_token_of_the_project_may_look_up, |r| {
    let seed = r.sim.seed();
    let id = &seed.active_monthly.transaction_id;
    let paths = [
        search(id),
        subscription(&seed.active_monthly.original_transaction_id),
        format!("/api/v1/projects/demo/transactions/{id}/history.csv"),
    ];
    // A sign token includes read.
    let sign = make_token(&r.admin, "demo", "sign", "signer").await;
    for path in &paths {
        let status = api_get(&r.app, path, Some(&sign)).await.status().as_u16();
        assert_eq!(status, 200, "{path}");
    }
    let calls = r.sim.request_count();

    let wrong = format!("{}{}", &sign[..sign.len() - 4], "AAAA");
    assert_ne!(wrong, sign);
    create_project(&r.admin, "other").await;
    let other = make_token(&r.admin, "other", "read", "other's").await;
    let revoked = make_token(&r.admin, "demo", "read", "old").await;
    let row = r
        .app
        .store
        .list_api_tokens()
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.name == "old")
        .unwrap();
    let csrf = csrf_from(&r.admin.get_text(TOKENS).await);
    let answer = r
        .admin
        .client
        .post(r.admin.url(&format!("{TOKENS}/{}/revoke", row.id)))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 303);

    for path in &paths {
        let none = api_get(&r.app, path, None).await;
        assert_eq!(none.status().as_u16(), 401, "{path}");
        assert_json_error(
            api_get(&r.app, path, Some(&wrong)).await,
            401,
            "unauthorized",
            UNKNOWN,
        )
        .await;
        assert_json_error(
            api_get(&r.app, path, Some(&revoked)).await,
            401,
            "unauthorized",
            REVOKED,
        )
        .await;
        assert_json_error(
            api_get(&r.app, path, Some(&other)).await,
            403,
            "forbidden",
            "This API token belongs to the project “other” and cannot be used for “demo”.",
        )
        .await;
        // A console session is not a token.
        assert_eq!(r.admin.get(path).await.status().as_u16(), 401, "{path}");
    }
    assert_eq!(
        r.sim.request_count(),
        calls,
        "no refused call reached Apple"
    );
    assert_eq!(audited_by_token(&r, "other's").await, vec![]);
    assert_eq!(audited_by_token(&r, "old").await, vec![]);
});

support_test!(
    a_lookup_answers_the_customers_state_beside_the_transaction,
    |r| {
        let seed = r.sim.seed();
        let token = make_token(&r.admin, "demo", "read", "states").await;
        // Eve is in a grace period: her last transaction's period is over, her subscription is not.
        let eve = &seed.grace_period_original_id;
        let body = json_ok(&r, &search(eve), &token).await;
        let customer = &body["customer"];
        assert_eq!(customer["customerId"], *eve);
        assert_eq!(customer["freshness"]["fresh"], true);
        let subs = customer["subscriptions"].as_array().unwrap();
        assert_eq!(subs.len(), 1, "{customer}");
        let s = &subs[0];
        assert_eq!(s["state"], "grace_period");
        assert_eq!(s["stateText"], "grace period");
        assert_eq!(s["statusCode"], 4);
        assert_eq!(s["matched"], true);
        assert_eq!(s["autoRenew"], true);
        assert_eq!(s["originalTransactionId"], *eve);
        assert_eq!(s["productId"], "com.storedesk.demo.cloud.monthly");
        assert_eq!(s["subscriptionGroupIdentifier"], "21482756");
        let now = storedesk::clock::now_ms();
        assert!(s["until"].as_i64().unwrap() > now, "{s}");
        assert!(s["since"].as_i64().unwrap() < now, "{s}");
        assert!(s["message"]
            .as_str()
            .unwrap()
            .starts_with("In grace period until "));
        assert!(s["problem"].is_null());
        // The transaction's own fields are unchanged: `status` speaks of its period, as it always did.
        assert_eq!(body["transaction"]["status"], "expired");
        assert_eq!(body["transaction"]["refundCode"], "none");

        // The subscriptions endpoint says the same state.
        let sub = json_ok(&r, &subscription(eve), &token).await;
        let item = &sub["groups"][0]["subscriptions"][0];
        assert_eq!(item["status"], "grace period");
        assert_eq!(item["state"], "grace_period");
        assert_eq!(item["message"], s["message"]);

        // A refund and a Family Sharing revocation are both Apple's status 5, told apart.
        let grace = json_ok(&r, &search(&seed.revoked_original_id), &token).await;
        assert_eq!(grace["customer"]["subscriptions"][0]["state"], "refunded");
        assert_eq!(grace["customer"]["subscriptions"][0]["statusCode"], 5);
        assert_eq!(grace["transaction"]["refundCode"], "refund_full");
        let lee = json_ok(&r, &search(&seed.family_revoked_original_id), &token).await;
        assert_eq!(lee["customer"]["subscriptions"][0]["state"], "revoked");
        assert_eq!(lee["transaction"]["refundCode"], "family_revoke");
        let jo = json_ok(&r, &search(&seed.free_trial_original_id), &token).await;
        assert_eq!(jo["customer"]["subscriptions"][0]["state"], "free_trial");

        // A customer without subscriptions: an empty list, not a guess.
        let hank = json_ok(&r, &search(&seed.non_consumable_transaction_id), &token).await;
        assert_eq!(hank["customer"]["subscriptions"], json!([]));

        // From the index when Apple fails, saying so, and never a state only Apple knows.
        r.sim.inject_fault(Fault::ApiError {
            code: 5_000_000,
            count: 3,
        });
        let body = json_ok(&r, &search(eve), &token).await;
        assert_eq!(body["customer"]["freshness"]["fresh"], false);
        let s = &body["customer"]["subscriptions"][0];
        assert_eq!(s["state"], "period_ended", "{s}");
        assert!(s["statusCode"].is_null());
        assert!(s["autoRenew"].is_null());
    }
);

support_test!(refunds_come_newest_first_in_json_too, |r| {
    let seed = r.sim.seed();
    let token = make_token(&r.admin, "demo", "read", "refunds").await;
    let body = json_ok(&r, &search(&seed.two_refunds_transaction_ids[0]), &token).await;
    let mut expected = seed.two_refunds_transaction_ids.clone();
    expected.reverse();
    assert_eq!(ids(&body["refunds"]["items"]), expected);
});
