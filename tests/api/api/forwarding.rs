//! The JSON API's forwarding endpoints with tokens of each scope: listing deliveries (`read`) and Redeliver
//! (`sign`; a `read` token is refused and changes nothing).
use serde_json::Value;
use storedesk::apple_sim::SimEnvironment;

use crate::admin::api_tokens::{api_get, make_token};
use crate::helpers::Ready;
use crate::projects::notifications::signed::{arrive, spec};
use crate::projects::settings::forwarding::{add, audit};
use crate::with_ready;

const LIST: &str = "/api/v1/projects/demo/forwarding/deliveries";

async fn post(r: &Ready, path: &str, token: Option<&str>) -> reqwest::Response {
    let mut request = crate::helpers::client().post(r.app.url(path));
    if let Some(t) = token {
        request = request.header("Authorization", format!("Bearer {t}"));
    }
    request.send().await.unwrap()
}

with_ready!(
    deliveries_are_listed_with_read_and_redelivered_with_sign,
    |r| {
        let tx = r.sim.seed().active_monthly.transaction_id.clone();
        let first = arrive(
            &r.app,
            &r.sim,
            &r.project,
            SimEnvironment::Production,
            spec("DID_RENEW", &tx),
        )
        .await;
        let second = arrive(
            &r.app,
            &r.sim,
            &r.project,
            SimEnvironment::Sandbox,
            spec("REFUND", &tx),
        )
        .await;
        let (id, _) = add(
            &r.admin,
            &r.app,
            &r.project,
            "Backend",
            "https://api.example.com/apple",
        )
        .await;
        let read = make_token(&r.admin, "demo", "read", "reader").await;
        let sign = make_token(&r.admin, "demo", "sign", "backend").await;
        let redeliver = |n: i64| format!("{LIST}/{n}/redeliver?destination={id}");

        // Read may not redeliver; nothing changes.
        let refused = post(&r, &redeliver(first), Some(&read)).await;
        assert_eq!(refused.status().as_u16(), 403);
        let body: Value = refused.json().await.unwrap();
        assert_eq!(body["error"]["code"], "insufficient_scope");
        assert!(r
            .app
            .store
            .forward_deliveries_of(r.project.id, first)
            .await
            .unwrap()
            .is_empty());
        assert_eq!(
            post(&r, &redeliver(first), None).await.status().as_u16(),
            401
        );

        for n in [first, second] {
            let ok = post(&r, &redeliver(n), Some(&sign)).await;
            assert_eq!(ok.status().as_u16(), 202);
            let body: Value = ok.json().await.unwrap();
            assert_eq!(body["result"], "queued");
            assert_eq!(body["destinationId"], id);
        }
        let redelivers: Vec<_> = audit(&r.app)
            .await
            .into_iter()
            .filter(|a| a.0 == "forwarding.redeliver")
            .collect();
        assert_eq!(redelivers.len(), 2);
        // What is not the project's is a 404; a missing destination a 422.
        let missing = post(
            &r,
            &format!("{LIST}/{first}/redeliver?destination=999"),
            Some(&sign),
        )
        .await;
        assert_eq!(missing.status().as_u16(), 404);
        let unnamed = post(&r, &format!("{LIST}/{first}/redeliver"), Some(&sign)).await;
        assert_eq!(unnamed.status().as_u16(), 422);

        // Both scopes read the log, newest first, with webhook-id and filters.
        for token in [&read, &sign] {
            let r1 = api_get(&r.app, LIST, Some(token)).await;
            assert_eq!(r1.status().as_u16(), 200);
            let body: Value = r1.json().await.unwrap();
            let list = body["deliveries"].as_array().unwrap();
            assert_eq!(list.len(), 2);
            assert_eq!(list[0]["notificationId"], second);
            assert_eq!(list[0]["status"], "waiting");
            assert_eq!(list[0]["origin"], "redeliver");
            assert_eq!(list[0]["environment"], "Sandbox");
            let uuid = list[0]["notificationUuid"].as_str().unwrap();
            assert_eq!(
                list[0]["webhookId"],
                format!("msg_{}", uuid.replace('-', ""))
            );
            assert_eq!(body["next"], Value::Null);
        }
        let page: Value = api_get(&r.app, &format!("{LIST}?limit=1"), Some(&read))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(page["deliveries"].as_array().unwrap().len(), 1);
        let next = page["next"].as_str().unwrap().to_owned();
        let older: Value = api_get(&r.app, &next, Some(&read))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(older["deliveries"][0]["notificationId"], first);
        let production: Value = api_get(
            &r.app,
            &format!("{LIST}?environment=Production&destination={id}&status=waiting"),
            Some(&read),
        )
        .await
        .json()
        .await
        .unwrap();
        assert_eq!(production["deliveries"].as_array().unwrap().len(), 1);
        for (query, field) in [
            ("status=lost", "status"),
            ("environment=prod", "environment"),
            ("limit=500", "limit"),
            ("before=x", "before"),
        ] {
            let bad = api_get(&r.app, &format!("{LIST}?{query}"), Some(&read)).await;
            assert_eq!(bad.status().as_u16(), 422, "{query}");
            let body: Value = bad.json().await.unwrap();
            assert!(
                body["error"]["fields"][field].is_string(),
                "{query}: {body}"
            );
        }
        assert_eq!(api_get(&r.app, LIST, None).await.status().as_u16(), 401);
    }
);
