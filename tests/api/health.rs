//! Health, readiness, metrics, security headers and static assets.
use storedesk::domain::Role;
use storedesk::error::DATABASE_UNAVAILABLE;

use crate::admin::api_tokens::{api_get, make_token};
use crate::both_backends;
use crate::helpers::{client, create_project, spawn_app_with, METRICS_TOKEN};

both_backends!(health_and_readiness_answer, |app| {
    let c = client();
    let h = c.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(h.status().as_u16(), 200);
    let r = c.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.text().await.unwrap(), "ready\n");
    let m = app.metrics().await;
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

both_backends!(
    metrics_on_the_console_address_need_the_bearer_token,
    |app| {
        let c = client();
        let asks = [
            None,
            Some("Bearer wrong-token-0123456789abcdef0123456789".to_string()),
            // The token under another scheme is no bearer token.
            Some(format!("Basic {METRICS_TOKEN}")),
            Some("Bearer".to_string()),
        ];
        for authorization in asks {
            let mut req = c.get(app.url("/metrics"));
            if let Some(a) = &authorization {
                req = req.header("Authorization", a);
            }
            let r = req.send().await.unwrap();
            assert_eq!(r.status().as_u16(), 401, "{authorization:?}");
            assert_eq!(
                r.headers()["www-authenticate"],
                "Bearer realm=\"storedesk metrics\""
            );
            let body = r.text().await.unwrap();
            assert_eq!(body, storedesk::routes::health::METRICS_TOKEN_NEEDED);
            assert!(!body.contains("storedesk_"), "no counter leaks: {body}");
        }
        // The scheme's name is case-insensitive (RFC 7235).
        let r = c
            .get(app.url("/metrics"))
            .header("Authorization", format!("bearer {METRICS_TOKEN}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
    }
);

#[tokio::test]
async fn without_a_token_metrics_are_not_served_on_the_console_address() {
    let Some(app) = spawn_app_with(crate::helpers::Backend::Sqlite, |s| {
        s.metrics = Default::default();
    })
    .await
    else {
        return;
    };
    for token in [None, Some(METRICS_TOKEN)] {
        let mut req = client().get(app.url("/metrics"));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status().as_u16(), 404);
        assert_eq!(
            r.text().await.unwrap(),
            storedesk::routes::health::METRICS_OFF
        );
    }
}

#[tokio::test]
async fn metrics_bind_serves_the_counters_on_an_address_of_their_own() {
    let Some(app) = spawn_app_with(crate::helpers::Backend::Sqlite, |s| {
        s.metrics = storedesk::config::MetricsSettings::new(None, Some("127.0.0.1:0")).unwrap();
    })
    .await
    else {
        return;
    };
    let port = app.metrics_port.expect("a metrics listener");
    assert_ne!(port, app.port);
    // The console's own answers are counted there…
    let h = client().get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(h.status().as_u16(), 200);
    let r = client()
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let text = r.text().await.unwrap();
    assert!(
        text.contains("storedesk_http_responses_total{class=\"2xx\"}"),
        "{text}"
    );
    // …which serves nothing else,
    for path in ["/", "/login", "/healthz"] {
        let r = client()
            .get(format!("http://127.0.0.1:{port}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 404, "{path}");
    }
    // and the console's address keeps them to itself (no token is set).
    let r = client().get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 404);
}

#[tokio::test]
async fn serve_refuses_a_short_metrics_token_or_a_bad_bind_naming_the_variable() {
    for (var, value, said) in [
        (
            "STOREDESK_METRICS_TOKEN",
            "hunter2",
            "STOREDESK_METRICS_TOKEN is set but wrong",
        ),
        (
            "STOREDESK_METRICS_BIND",
            "localhost",
            "STOREDESK_METRICS_BIND is set but wrong",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_storedesk"))
            .arg("serve")
            .env_clear()
            .env("STOREDESK_DATA_DIR", dir.path())
            .env(
                "STOREDESK_MASTER_KEY",
                secrecy::ExposeSecret::expose_secret(
                    &storedesk::crypto::MasterKey::generate().to_base64_secret(),
                ),
            )
            .env("STOREDESK_BIND", "127.0.0.1:0")
            .env(var, value)
            .output()
            .await
            .unwrap();
        assert!(!out.status.success(), "{var}={value} started");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(said), "{stderr}");
        assert!(
            !stderr.contains(value) || var == "STOREDESK_METRICS_BIND",
            "the token is not echoed: {stderr}"
        );
    }
}
