//! API tokens: made on /admin/api-tokens or by `storedesk api-token add`, shown once, stored as a hash, and the
//! bearer check of /api/v1 (401 for missing, malformed, wrong and revoked tokens; 403 for another project).
use serde_json::json;
use storedesk::domain::Role;
use storedesk::routes::api::auth::{MALFORMED, MISSING, REVOKED, UNKNOWN};

use crate::both_backends;
use crate::helpers::{assert_redirect_to, client, create_project, csrf_from, Session, TestApp};
use crate::projects::settings::stores::apple::key::{field_error, unescape};

pub const TOKENS: &str = "/admin/api-tokens";

/// The token shown once on the page answering the create form.
pub fn shown_token(html: &str) -> String {
    let marker = "id=\"new-token\">";
    let start = html.find(marker).expect("token shown") + marker.len();
    let end = html[start..].find('<').unwrap() + start;
    unescape(&html[start..end])
}

/// Creates a token through the admin page and returns it.
pub async fn make_token(admin: &Session, project: &str, scope: &str, name: &str) -> String {
    let r = admin
        .post_form(
            TOKENS,
            TOKENS,
            &[("name", name), ("project", project), ("scope", scope)],
        )
        .await;
    assert_eq!(r.status().as_u16(), 200);
    shown_token(&r.text().await.unwrap())
}

pub async fn api_get(app: &TestApp, path: &str, token: Option<&str>) -> reqwest::Response {
    let mut request = client().get(app.url(path));
    if let Some(t) = token {
        request = request.header("Authorization", format!("Bearer {t}"));
    }
    request.send().await.unwrap()
}

fn request_id(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("x-request-id")
        .expect("every answer has a request id")
        .to_str()
        .unwrap()
        .to_string()
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
}

/// Checks status and the whole JSON error body, request id included.
pub async fn assert_json_error(
    response: reqwest::Response,
    status: u16,
    code: &str,
    message: &str,
) {
    assert_eq!(response.status().as_u16(), status, "{code}: {message}");
    assert_eq!(
        header(&response, "content-type").as_deref(),
        Some("application/json")
    );
    let id = request_id(&response);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({"error": {"code": code, "message": message, "request_id": id}})
    );
}

async fn assert_unauthorized(response: reqwest::Response, message: &str, challenge: &str) {
    assert_eq!(
        header(&response, "www-authenticate").as_deref(),
        Some(challenge)
    );
    assert_json_error(response, 401, "unauthorized", message).await;
}

const CHALLENGE: &str = "Bearer realm=\"storedesk\"";
const INVALID: &str = "Bearer realm=\"storedesk\", error=\"invalid_token\"";

both_backends!(a_token_is_shown_once_and_works, |app| {
    let admin = app.session(storedesk::domain::Role::Admin).await;
    assert_eq!(create_project(&admin, "demo").await.status().as_u16(), 303);
    let response = admin
        .post_form(
            TOKENS,
            TOKENS,
            &[
                ("name", " billing backend "),
                ("project", "demo"),
                ("scope", "read"),
            ],
        )
        .await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        header(&response, "cache-control").as_deref(),
        Some("no-store")
    );
    assert!(
        header(&response, "set-cookie").is_none(),
        "never in a cookie"
    );
    let token = shown_token(&response.text().await.unwrap());
    assert!(token.starts_with("sd_") && token.len() == 59, "{token}");

    // Only its hash and prefix are kept: the list shows the prefix and never the token again.
    let rows = app.store.list_api_tokens().await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].name, "billing backend");
    assert_eq!(rows[0].scope, "read");
    assert_eq!(rows[0].created_by, "admin@example.com");
    assert!(token.starts_with(&rows[0].prefix));
    let stored = app
        .store
        .api_token_for_auth(&rows[0].prefix)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.token_hash, storedesk::auth::api_token::hash(&token));
    let list = admin.get_text(TOKENS).await;
    assert!(!list.contains(&token) && list.contains(&rows[0].prefix));
    assert!(list.contains("never"), "not used yet");

    let answer = api_get(&app, "/api/v1/projects/demo", Some(&token)).await;
    assert_eq!(answer.status().as_u16(), 200);
    assert_eq!(
        header(&answer, "cache-control").as_deref(),
        Some("no-store")
    );
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(
        body,
        json!({"slug": "demo", "name": "Demo App", "bundleId": "com.example.demo",
               "appAppleId": 1234567890, "environment": "Production"})
    );
    let used = app.store.api_token(rows[0].id).await.unwrap().unwrap();
    assert!(used.last_used_at.is_some(), "last use recorded");

    let audit = app.store.list_audit(&Default::default()).await.unwrap();
    let create = audit
        .iter()
        .find(|e| e.action == "api_token.create")
        .expect("audited");
    assert_eq!(
        (create.user_email.as_str(), create.target.as_str()),
        ("admin@example.com", rows[0].prefix.as_str())
    );
    assert!(audit
        .iter()
        .all(|e| !e.detail.contains(&token) && !e.target.contains(&token)));
});

both_backends!(missing_malformed_and_wrong_tokens_get_401_json, |app| {
    let admin = app.session(Role::Admin).await;
    create_project(&admin, "demo").await;
    let token = make_token(&admin, "demo", "read", "backend").await;
    const PATH: &str = "/api/v1/projects/demo";

    assert_unauthorized(api_get(&app, PATH, None).await, MISSING, CHALLENGE).await;
    for bad in [
        "Basic dXNlcjpwYXNz".to_string(),
        "Bearer".to_string(),
        "Bearer not-a-token".to_string(),
        format!("Bearer {}", &token[..58]),
        format!("Bearer {token}x"),
        format!("Token {token}"),
    ] {
        let r = client()
            .get(app.url(PATH))
            .header("Authorization", bad.as_str())
            .send()
            .await
            .unwrap();
        assert_unauthorized(r, MALFORMED, INVALID).await;
    }
    // The right shape, but no such token; and a real prefix with another secret.
    let unknown = format!("sd_000000000000_{}", &token[16..]);
    assert_unauthorized(api_get(&app, PATH, Some(&unknown)).await, UNKNOWN, INVALID).await;
    let mut wrong_secret = token.clone();
    let last = if wrong_secret.ends_with('A') {
        "B"
    } else {
        "A"
    };
    wrong_secret.replace_range(58..59, last);
    assert_unauthorized(
        api_get(&app, PATH, Some(&wrong_secret)).await,
        UNKNOWN,
        INVALID,
    )
    .await;
    // The scheme is case-insensitive (RFC 7235).
    let r = client()
        .get(app.url(PATH))
        .header("Authorization", format!("bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    // A session cookie is no API credential.
    assert_unauthorized(admin.get(PATH).await, MISSING, CHALLENGE).await;
});

both_backends!(a_revoked_token_gets_401_and_revoking_is_audited, |app| {
    let admin = app.session(Role::Admin).await;
    create_project(&admin, "demo").await;
    let token = make_token(&admin, "demo", "sign", "old backend").await;
    let row = app.store.list_api_tokens().await.unwrap().remove(0);
    assert_eq!(
        api_get(&app, "/api/v1/projects/demo", Some(&token))
            .await
            .status()
            .as_u16(),
        200
    );

    let revoke = format!("{TOKENS}/{}/revoke", row.id);
    let csrf = csrf_from(&admin.get_text(TOKENS).await);
    let r = admin
        .client
        .post(admin.url(&revoke))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_redirect_to(&r, TOKENS);
    let page = unescape(&admin.get_text(TOKENS).await);
    assert!(page.contains(&format!(
        "The token “old backend” ({}) for demo is revoked. Calls with it now answer 401.",
        row.prefix
    )));
    assert!(page.contains("badge-bad\">revoked"));
    assert_unauthorized(
        api_get(&app, "/api/v1/projects/demo", Some(&token)).await,
        REVOKED,
        INVALID,
    )
    .await;

    // Again: nothing changes, and the admin is told why.
    let r = admin
        .client
        .post(admin.url(&revoke))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_redirect_to(&r, TOKENS);
    assert!(unescape(&admin.get_text(TOKENS).await).contains(&format!(
        "The token “old backend” ({}) was already revoked.",
        row.prefix
    )));
    let missing = admin
        .client
        .post(admin.url(&format!("{TOKENS}/999999/revoke")))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status().as_u16(), 404);
    let audit = app.store.list_audit(&Default::default()).await.unwrap();
    let revokes: Vec<_> = audit
        .iter()
        .filter(|e| e.action == "api_token.revoke")
        .collect();
    assert_eq!(revokes.len(), 1);
    assert_eq!(revokes[0].target, row.prefix);
    assert_eq!(revokes[0].user_email, "admin@example.com");
    // Without the form's token nothing is revoked.
    let other = make_token(&admin, "demo", "read", "second").await;
    let second = app.store.list_api_tokens().await.unwrap().remove(0);
    let r = admin
        .client
        .post(admin.url(&format!("{TOKENS}/{}/revoke", second.id)))
        .form(&[("csrf_token", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert_eq!(
        api_get(&app, "/api/v1/projects/demo", Some(&other))
            .await
            .status()
            .as_u16(),
        200
    );
});

both_backends!(a_token_for_another_project_gets_403_json, |app| {
    let admin = app.session(Role::Admin).await;
    create_project(&admin, "demo").await;
    create_project(&admin, "other").await;
    let token = make_token(&admin, "other", "sign", "other's backend").await;
    assert_json_error(
        api_get(&app, "/api/v1/projects/demo", Some(&token)).await,
        403,
        "forbidden",
        "This API token belongs to the project “other” and cannot be used for “demo”.",
    )
    .await;
    // A project that does not exist looks the same: a token learns nothing about other projects.
    assert_json_error(
        api_get(&app, "/api/v1/projects/nope", Some(&token)).await,
        403,
        "forbidden",
        "This API token belongs to the project “other” and cannot be used for “nope”.",
    )
    .await;
    assert_eq!(
        api_get(&app, "/api/v1/projects/other", Some(&token))
            .await
            .status()
            .as_u16(),
        200
    );
});

both_backends!(unknown_api_paths_and_methods_answer_json, |app| {
    let admin = app.session(Role::Admin).await;
    create_project(&admin, "demo").await;
    let token = make_token(&admin, "demo", "sign", "backend").await;
    let not_found = "There is no API endpoint at this address. The API lives under /api/v1/; see the README for its endpoints.";
    assert_json_error(
        api_get(&app, "/api/nothing", None).await,
        404,
        "not_found",
        not_found,
    )
    .await;
    assert_json_error(
        api_get(&app, "/api", None).await,
        404,
        "not_found",
        not_found,
    )
    .await;
    assert_json_error(
        api_get(&app, "/api/v1/projects/demo/nothing", Some(&token)).await,
        404,
        "not_found",
        not_found,
    )
    .await;
    // Under /api/v1 the token comes first: without one, not even the paths are revealed.
    assert_unauthorized(
        api_get(&app, "/api/v1/projects/demo/nothing", None).await,
        MISSING,
        CHALLENGE,
    )
    .await;
    let r = api_get(&app, "/api/v1/projects/demo/offers/signature", Some(&token)).await;
    assert_eq!(header(&r, "allow").as_deref(), Some("POST"));
    assert_json_error(
        r,
        405,
        "method_not_allowed",
        "This endpoint does not accept GET; use POST.",
    )
    .await;
    // No origin check and no CSRF token under /api/: the bearer token is the credential.
    let r = client()
        .post(app.url("/api/v1/projects/demo"))
        .header("Authorization", format!("Bearer {token}"))
        .header("Origin", "https://elsewhere.example")
        .send()
        .await
        .unwrap();
    assert_json_error(
        r,
        405,
        "method_not_allowed",
        "This endpoint does not accept POST; use GET.",
    )
    .await;
});

both_backends!(the_create_form_ties_each_error_to_its_field, |app| {
    let admin = app.session(Role::Admin).await;
    let none_yet = admin
        .post_form(
            TOKENS,
            TOKENS,
            &[("name", "x"), ("project", "demo"), ("scope", "read")],
        )
        .await;
    assert_eq!(none_yet.status().as_u16(), 422);
    assert_eq!(
        field_error(&none_yet.text().await.unwrap(), "project").as_deref(),
        Some("There is no project yet. Create the project first; a token always belongs to one project.")
    );
    create_project(&admin, "demo").await;
    let r = admin
        .post_form(
            TOKENS,
            TOKENS,
            &[("name", "  "), ("project", "nope"), ("scope", "write")],
        )
        .await;
    assert_eq!(r.status().as_u16(), 422);
    let html = r.text().await.unwrap();
    assert_eq!(
        field_error(&html, "name").as_deref(),
        Some("Give the token a name that says who uses it, such as “billing backend”.")
    );
    assert_eq!(
        field_error(&html, "project").as_deref(),
        Some("Choose the project this token may use.")
    );
    assert_eq!(
        field_error(&html, "scope").as_deref(),
        Some("Choose a scope: read (look-ups only) or sign (look-ups and promotional offer signatures).")
    );
    assert!(html.contains("aria-describedby=\"name-help name-error\""));
    let long = "x".repeat(81);
    let r = admin
        .post_form(
            TOKENS,
            TOKENS,
            &[("name", &long), ("project", "demo"), ("scope", "sign")],
        )
        .await;
    assert_eq!(r.status().as_u16(), 422);
    assert_eq!(
        field_error(&r.text().await.unwrap(), "name").as_deref(),
        Some("Keep the name to 80 characters or fewer.")
    );
    assert!(
        app.store.list_api_tokens().await.unwrap().is_empty(),
        "nothing stored"
    );
    assert!(!app
        .store
        .list_audit(&Default::default())
        .await
        .unwrap()
        .iter()
        .any(|e| e.action == "api_token.create"));
});

both_backends!(a_token_made_on_the_command_line_works, |app| {
    let admin = app.session(Role::Admin).await;
    create_project(&admin, "demo").await;
    let issued = storedesk::commands::add_api_token(&app.store, "demo", "sign", None)
        .await
        .unwrap();
    use secrecy::ExposeSecret;
    let token = issued.token.expose_secret().to_string();
    assert_eq!(issued.row.name, "sign token from the command line");
    assert_eq!(issued.row.created_by, "system (storedesk api-token add)");
    assert_eq!(
        api_get(&app, "/api/v1/projects/demo", Some(&token))
            .await
            .status()
            .as_u16(),
        200
    );
    let named = storedesk::commands::add_api_token(&app.store, "demo", "READ", Some(" ci "))
        .await
        .unwrap();
    assert_eq!(
        (named.row.name.as_str(), named.row.scope.as_str()),
        ("ci", "read")
    );

    let bad_scope = storedesk::commands::add_api_token(&app.store, "demo", "admin", None).await;
    assert_eq!(
        bad_scope.err().unwrap().to_string(),
        "--scope must be read or sign"
    );
    let bad_project = storedesk::commands::add_api_token(&app.store, "nope", "read", None).await;
    assert_eq!(
        bad_project.err().unwrap().to_string(),
        "--project: there is no project with the slug “nope”"
    );
    assert_eq!(app.store.list_api_tokens().await.unwrap().len(), 2);
    assert!(app
        .store
        .list_audit(&Default::default())
        .await
        .unwrap()
        .iter()
        .any(|e| e.action == "api_token.create"
            && e.user_email == "system (storedesk api-token add)"));
});

/// Sends an API route's request with `token`: GET as it is, POST and PUT with an empty JSON object.
async fn api_call(
    app: &TestApp,
    rule: &storedesk::routes::api::ApiRule,
    token: &str,
) -> reqwest::Response {
    let path = format!(
        "/api/v1{}",
        rule.path
            .replace("{project}", "demo")
            .replace("{transaction_id}", "2000000874121031")
            .replace("{original_transaction_id}", "2000000874121031")
            .replace("{notification_id}", "1")
    );
    let request = match rule.method {
        "GET" => client().get(app.url(&path)),
        "POST" => client().post(app.url(&path)).json(&json!({})),
        "PUT" => client().put(app.url(&path)).json(&json!({})),
        other => panic!("the API table has a {other} route"),
    };
    request
        .header("Authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap()
}

both_backends!(
    every_api_route_admits_the_scope_its_table_row_states_and_only_its_own_project,
    |app| {
        use storedesk::domain::ApiScope;
        use storedesk::routes::api::TABLE;
        let admin = app.session(Role::Admin).await;
        assert_eq!(create_project(&admin, "demo").await.status().as_u16(), 303);
        assert_eq!(create_project(&admin, "other").await.status().as_u16(), 303);
        let read = make_token(&admin, "demo", "read", "reader").await;
        let sign = make_token(&admin, "demo", "sign", "signer").await;
        let elsewhere = make_token(&admin, "other", "sign", "elsewhere").await;
        for rule in TABLE {
            let (method, path) = (rule.method, rule.path);
            // A sign token may do everything; a read token only what needs read.
            let by_sign = api_call(&app, rule, &sign).await.status().as_u16();
            assert_ne!(by_sign, 403, "{method} {path} refused a sign token");
            let by_read = api_call(&app, rule, &read).await;
            if rule.scope == ApiScope::Sign {
                assert_eq!(by_read.status().as_u16(), 403, "{method} {path}");
                let body: serde_json::Value = by_read.json().await.unwrap();
                assert_eq!(
                    body["error"]["code"], "insufficient_scope",
                    "{method} {path}"
                );
            } else {
                assert_ne!(
                    by_read.status().as_u16(),
                    403,
                    "{method} {path} refused a read token"
                );
            }
            let by_other = api_call(&app, rule, &elsewhere).await;
            assert_eq!(by_other.status().as_u16(), 403, "{method} {path}");
            let body: serde_json::Value = by_other.json().await.unwrap();
            assert_eq!(body["error"]["code"], "forbidden", "{method} {path}");
        }
    }
);

#[test]
fn only_signing_an_offer_redelivering_and_backend_data_need_a_sign_token() {
    // Redeliver (issue 18) and a consumption request's backend data (issue 21) make storedesk act, so a read token,
    // which only reads, may not.
    use storedesk::domain::ApiScope;
    let signing: Vec<_> = storedesk::routes::api::TABLE
        .iter()
        .filter(|rule| rule.scope == ApiScope::Sign)
        .map(|rule| (rule.method, rule.path))
        .collect();
    assert_eq!(
        signing,
        [
            ("POST", "/projects/{project}/offers/signature"),
            (
                "POST",
                "/projects/{project}/forwarding/deliveries/{notification_id}/redeliver"
            ),
            (
                "PUT",
                "/projects/{project}/consumption-requests/{notification_id}"
            )
        ]
    );
}
