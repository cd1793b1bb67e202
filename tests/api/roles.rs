//! The role matrix of product.md, route by route: forbidden is a 403 page that names the role needed.
use storedesk::domain::Role;

use crate::both_backends;
use crate::helpers::{create_project, csrf_from, TestApp};

const ALL: &[Role] = &[Role::Admin, Role::Lead, Role::Support];
const MANAGERS: &[Role] = &[Role::Admin, Role::Lead];
const ADMIN: &[Role] = &[Role::Admin];

/// (method, path, roles allowed). `demo` is the slug of a project every test creates first.
pub const MATRIX: &[(&str, &str, &[Role])] = &[
    ("GET", "/projects", ALL),
    ("GET", "/projects/demo", ALL),
    ("GET", "/account", ALL),
    ("GET", "/projects/new", MANAGERS),
    ("POST", "/projects", MANAGERS),
    ("GET", "/projects/demo/edit", MANAGERS),
    ("POST", "/projects/demo/edit", MANAGERS),
    ("GET", "/projects/demo/settings/stores/apple", MANAGERS),
    ("POST", "/projects/demo/settings/stores/apple/key", MANAGERS),
    ("GET", "/projects/demo/keys", ALL),
    ("POST", "/projects/demo/keys/1/revoke", MANAGERS),
    ("GET", "/admin/users", ADMIN),
    ("POST", "/admin/users", ADMIN),
    ("POST", "/admin/users/1", ADMIN),
    ("GET", "/admin/audit", ADMIN),
    ("GET", "/admin/api-tokens", ADMIN),
    ("POST", "/admin/api-tokens", ADMIN),
    ("POST", "/admin/api-tokens/1/revoke", ADMIN),
    ("GET", "/projects/demo/offers", MANAGERS),
    ("POST", "/projects/demo/offers", MANAGERS),
    ("GET", "/projects/demo/transactions", ALL),
    ("GET", "/projects/demo/transactions?q=2000000874121031", ALL),
    (
        "GET",
        "/projects/demo/transactions/2000000874121031/history.csv",
        ALL,
    ),
    ("GET", "/projects/demo/subscriptions/2000000874121031", ALL),
    (
        "POST",
        "/projects/demo/subscriptions/2000000874121031/extend",
        MANAGERS,
    ),
    ("GET", "/projects/demo/notifications", ALL),
    ("GET", "/projects/demo/notifications/1", ALL),
    ("GET", "/projects/demo/notifications/refunds", ALL),
    ("GET", "/projects/demo/notifications/consumption", ALL),
    ("POST", "/projects/demo/notifications/consumption/1", ALL),
    ("POST", "/projects/demo/notifications/backfill", MANAGERS),
    (
        "POST",
        "/projects/demo/notifications/gaps/acknowledge",
        MANAGERS,
    ),
    (
        "POST",
        "/projects/demo/settings/stores/apple/notification-url/regenerate",
        MANAGERS,
    ),
    (
        "POST",
        "/projects/demo/settings/stores/apple/test-notification",
        MANAGERS,
    ),
    (
        "GET",
        "/projects/demo/settings/stores/apple/test-notification/1",
        MANAGERS,
    ),
    (
        "GET",
        "/projects/demo/settings/stores/apple/test-notification/1/status",
        MANAGERS,
    ),
];

fn needed(allowed: &[Role]) -> String {
    allowed
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(" or ")
}

async fn check_matrix(app: &TestApp) {
    let admin = app.session(Role::Admin).await;
    assert_eq!(create_project(&admin, "demo").await.status().as_u16(), 303);
    for role in ALL {
        let s = app.session(*role).await;
        let csrf = csrf_from(&s.get_text("/account").await);
        for (method, path, allowed) in MATRIX {
            let response = match *method {
                "GET" => s.get(path).await,
                _ => s
                    .client
                    .post(s.url(path))
                    .form(&[("csrf_token", csrf.as_str())])
                    .send()
                    .await
                    .unwrap(),
            };
            let status = response.status().as_u16();
            if allowed.contains(role) {
                assert_ne!(
                    status,
                    403,
                    "{} should be allowed {method} {path}",
                    role.as_str()
                );
                assert_ne!(
                    status,
                    303,
                    "{} should not be sent to sign-in on {method} {path}",
                    role.as_str()
                );
            } else {
                assert_eq!(
                    status,
                    403,
                    "{} must be refused {method} {path}",
                    role.as_str()
                );
                let body = response.text().await.unwrap();
                assert!(
                    body.contains(&format!("It needs the {} role", needed(allowed))),
                    "{method} {path}: {body}"
                );
            }
        }
    }
}

both_backends!(every_route_enforces_its_roles, |app| {
    check_matrix(&app).await;
});

both_backends!(
    an_anonymous_visitor_is_sent_to_sign_in_from_every_page,
    |app| {
        let c = crate::helpers::client();
        for (method, path, _) in MATRIX {
            if *method == "GET" {
                let r = c.get(app.url(path)).send().await.unwrap();
                assert_eq!(r.status().as_u16(), 303, "{path}");
                let location = r
                    .headers()
                    .get("location")
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .to_string();
                assert!(location.starts_with("/login"), "{path} -> {location}");
            }
        }
    }
);
