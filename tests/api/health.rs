//! Health, readiness, metrics, security headers and static assets.
use storedesk::domain::Role;
use storedesk::error::DATABASE_UNAVAILABLE;

use crate::admin::api_tokens::{api_get, make_token};
use crate::both_backends;
use crate::helpers::{client, create_project};

both_backends!(health_and_readiness_answer, |app| {
    let c = client();
    let h = c.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(h.status().as_u16(), 200);
    let r = c.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.text().await.unwrap(), "ready\n");
    let m = c
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(m.contains("# TYPE storedesk_http_responses_total counter"));
    assert!(
        m.contains("storedesk_http_responses_total{class=\"2xx\"}"),
        "{m}"
    );
    assert!(m.contains("\nstoredesk_database_available 1\n"), "{m}");
});

both_backends!(uptime_monitors_asking_with_head_are_answered, |app| {
    let c = client();
    for path in ["/healthz", "/readyz"] {
        let r = c.head(app.url(path)).send().await.unwrap();

        assert_eq!(r.status().as_u16(), 200, "{path}");
        assert!(
            r.text().await.unwrap().is_empty(),
            "a HEAD answer has no body"
        );
    }
});

both_backends!(readiness_fails_when_the_database_is_gone, |app| {
    let session = app.session(Role::Admin).await;
    create_project(&session, "demo").await;
    let token = make_token(&session, "demo", "read", "monitor").await;
    app.store.close().await;
    let r = client().get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 503);
    assert_eq!(r.headers().get("retry-after").unwrap(), "5");
    assert_eq!(r.text().await.unwrap(), "database unreachable\n");
    // The process is alive: restarting it would not bring the database back.
    let h = client().get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(h.status().as_u16(), 200);
    // A page that needs the database says it cannot reach it, rather than "something went wrong".
    let page = session.get("/projects").await;
    assert_eq!(page.status().as_u16(), 503);
    assert_eq!(page.headers().get("retry-after").unwrap(), "5");
    let html = page.text().await.unwrap();
    assert!(html.contains("<h1>Database unavailable</h1>"), "{html}");
    assert!(html.contains(DATABASE_UNAVAILABLE), "{html}");
    // The JSON API says the same in its own form.
    let api = api_get(&app, "/api/v1/projects/demo", Some(&token)).await;
    assert_eq!(api.status().as_u16(), 503);
    assert_eq!(api.headers().get("retry-after").unwrap(), "5");
    let json: serde_json::Value = api.json().await.unwrap();
    assert_eq!(json["error"]["code"], "database_unavailable");
    assert_eq!(json["error"]["message"], DATABASE_UNAVAILABLE);
});

both_backends!(
    every_page_carries_the_security_headers_and_a_request_id,
    |app| {
        let r = client().get(app.url("/login")).send().await.unwrap();
        let h = r.headers();
        let csp = h.get("content-security-policy").unwrap().to_str().unwrap();
        assert!(
            csp.contains("default-src 'none'")
                && csp.contains("frame-ancestors 'none'")
                && !csp.contains("unsafe-inline")
        );
        assert_eq!(h.get("x-frame-options").unwrap(), "DENY");
        assert_eq!(h.get("x-content-type-options").unwrap(), "nosniff");
        assert_eq!(h.get("referrer-policy").unwrap(), "same-origin");
        assert!(h.get("x-request-id").is_some());
        let nf = client().get(app.url("/no/such/page")).send().await.unwrap();
        assert_eq!(nf.status().as_u16(), 404);
    }
);

both_backends!(static_assets_are_cached_for_a_year, |app| {
    let page = client()
        .get(app.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let start = page.find("/static/").unwrap();
    let end = page[start..].find('"').unwrap() + start;
    let css = client()
        .get(app.url(&page[start..end]))
        .send()
        .await
        .unwrap();
    assert_eq!(css.status().as_u16(), 200);
    assert_eq!(
        css.headers().get("cache-control").unwrap(),
        "public, max-age=31536000, immutable"
    );
    assert!(css
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("text/css"));
});
