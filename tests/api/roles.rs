//! The role matrix of product.md, read from the route table itself (`storedesk::routes::TABLE`), so a route added
//! to the table is checked here without anyone writing its row twice: forbidden is a 403 page that names the role
//! needed, an anonymous visitor is sent to sign in, and a forged form changes nothing.
use storedesk::auth::guard::Access;
use storedesk::domain::Role;
use storedesk::routes::{Rule, TABLE};
use storedesk::store::AuditFilter;

use crate::both_backends;
use crate::helpers::{create_project, csrf_from, TestApp};
use crate::projects::settings::stores::apple::key::Multipart;

/// A concrete address for a route's pattern. `demo` is the slug of a project every test creates first.
fn sample_path(pattern: &str) -> String {
    pattern
        .replace("{project}", "demo")
        .replace("{id:\\d+}", "1")
        .replace("{id}", "1")
        .replace("{transaction_id}", "2000000874121031")
        .replace("{original_transaction_id}", "2000000874121031")
}

/// The routes that need a signed-in user, with the roles each admits.
fn signed_in_routes() -> Vec<(&'static Rule, &'static [Role])> {
    TABLE
        .iter()
        .filter_map(|rule| match rule.access {
            Access::SignedIn(roles) => Some((rule, roles)),
            Access::Anyone => None,
        })
        .collect()
}

fn needed(allowed: &[Role]) -> String {
    allowed
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(" or ")
}

/// What a route answered.
struct Answer {
    status: u16,
    location: String,
    cache_control: String,
    body: String,
}

async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|l| l.to_str().unwrap().to_string())
            .unwrap_or_default()
    };
    let (location, cache_control) = (header("location"), header("cache-control"));
    Answer {
        status,
        location,
        cache_control,
        body: response.text().await.unwrap(),
    }
}

/// Sends a route's request: a POST as a web form with `csrf`, or, when the route reads uploads (it answers that it
/// could not read one), as the multipart form its page would send.
async fn send(s: &crate::helpers::Session, rule: &Rule, csrf: &str) -> Answer {
    let path = sample_path(rule.path);
    match rule.method {
        "GET" => answer(s.get(&path).await).await,
        "POST" => {
            let plain = s
                .client
                .post(s.url(&path))
                .form(&[("csrf_token", csrf)])
                .send()
                .await
                .unwrap();
            let plain = answer(plain).await;
            if plain.status == 400 && plain.body.contains("The upload could not be read") {
                answer(
                    Multipart::new()
                        .text("csrf_token", csrf)
                        .post(s, &path)
                        .await,
                )
                .await
            } else {
                plain
            }
        }
        other => panic!("the matrix does not know how to send {other} {path}"),
    }
}

async fn check_matrix(app: &TestApp) {
    let admin = app.session(Role::Admin).await;
    assert_eq!(create_project(&admin, "demo").await.status().as_u16(), 303);
    let routes = signed_in_routes();
    for role in Role::ALL {
        let s = app.session(role).await;
        let csrf = csrf_from(&s.get_text("/account").await);
        for (rule, allowed) in &routes {
            let (method, path) = (rule.method, rule.path);
            if path == "/logout" {
                continue; // It ends the session the rest of the matrix runs in (auth.rs tests it).
            }
            let Answer {
                status,
                location,
                cache_control,
                body,
            } = send(&s, rule, &csrf).await;
            // Whatever the answer, nothing behind sign-in is kept by a cache.
            assert_eq!(
                cache_control,
                "no-store",
                "{method} {path} as {}",
                role.as_str()
            );
            if allowed.contains(&role) {
                assert_ne!(
                    status,
                    403,
                    "{} should be allowed {method} {path}",
                    role.as_str()
                );
                assert!(
                    !location.starts_with("/login"),
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
    an_anonymous_visitor_is_sent_to_sign_in_from_every_route_that_needs_one,
    |app| {
        let c = crate::helpers::client();
        for (rule, _) in signed_in_routes() {
            let url = app.url(&sample_path(rule.path));
            let r = match rule.method {
                "GET" => c.get(url).send().await.unwrap(),
                _ => c
                    .post(url)
                    .form(&[("csrf_token", "x")])
                    .send()
                    .await
                    .unwrap(),
            };
            assert_eq!(r.status().as_u16(), 303, "{} {}", rule.method, rule.path);
            let location = r.headers().get("location").unwrap().to_str().unwrap();
            assert!(
                location.starts_with("/login"),
                "{} {} -> {location}",
                rule.method,
                rule.path
            );
        }
    }
);

both_backends!(
    a_form_with_a_wrong_token_changes_nothing_on_any_route,
    |app| {
        let admin = app.session(Role::Admin).await;
        assert_eq!(create_project(&admin, "demo").await.status().as_u16(), 303);
        let audit = || async {
            app.store
                .list_audit(&AuditFilter {
                    limit: 1000,
                    ..AuditFilter::default()
                })
                .await
                .unwrap()
                .len()
        };
        let before = audit().await;
        for (rule, _) in signed_in_routes() {
            if rule.method != "POST" {
                continue;
            }
            // Admins may use every route, so the token is the only thing wrong.
            let refused = send(&admin, rule, "not-the-session-token").await;
            assert_eq!(refused.status, 403, "POST {} took a wrong token", rule.path);
            assert!(
                refused
                    .body
                    .contains("security token is missing or no longer valid"),
                "POST {}: {}",
                rule.path,
                refused.body
            );
        }
        assert_eq!(audit().await, before, "a refused form left an audit row");
    }
);

#[test]
fn only_the_public_routes_are_open_to_anyone() {
    let open: Vec<(&str, &str)> = TABLE
        .iter()
        .filter(|rule| rule.access == Access::Anyone)
        .map(|rule| (rule.method, rule.path))
        .collect();
    assert_eq!(
        open,
        [
            ("POST", "/apple/notifications/{project_token}"),
            ("GET", "/healthz"),
            ("GET", "/readyz"),
            ("HEAD", "/healthz"),
            ("HEAD", "/readyz"),
            ("GET", "/metrics"),
            ("GET", "/static/{version}/{file}"),
            ("GET", "/login"),
            ("POST", "/login"),
            // The second step of sign-in: it needs the pending cookie a right password leaves, not a session.
            ("GET", "/login/second-step"),
            ("POST", "/login/second-step"),
            // Its passkey: the options, and the browser's answer (the pending cookie again).
            ("POST", "/login/second-step/passkey/options"),
            ("POST", "/login/second-step/passkey"),
        ]
    );
}

#[test]
fn every_route_is_in_the_table_once() {
    let mut seen = std::collections::HashSet::new();
    for rule in TABLE {
        assert!(
            seen.insert((rule.method, rule.path)),
            "{} {} is in the table twice",
            rule.method,
            rule.path
        );
    }
}

#[test]
fn support_never_reaches_settings_key_changes_offers_or_admin_pages() {
    // product.md: "`support` never sees or changes key material or settings"; user management is the admins'.
    for rule in TABLE {
        // Issue 18: support sees the forwarding destinations and their delivery logs read-only (never a secret).
        let reads_forwarding = rule.method == "GET" && rule.path.contains("/settings/forwarding");
        let sensitive = (rule.path.contains("/settings/") && !reads_forwarding)
            || rule.path.starts_with("/admin/")
            || rule.path.ends_with("/offers")
            || (rule.method == "POST" && rule.path.contains("/keys"));
        if sensitive {
            assert!(
                !rule.access.roles().contains(&Role::Support),
                "{} {} is open to support",
                rule.method,
                rule.path
            );
        }
    }
}
