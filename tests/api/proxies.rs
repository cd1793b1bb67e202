//! The client's address behind a proxy: only from a peer named in `STOREDESK_TRUSTED_PROXIES` are
//! `X-Forwarded-For` and `Forwarded` believed. Sign-in throttling then counts each client, so one client's
//! failures never lock out the others behind the same proxy, and the audit log names the client.
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::redirect::Policy;
use storedesk::client_address::TrustedProxies;
use storedesk::domain::Role;
use storedesk::store::AuditFilter;

use crate::helpers::{spawn_app_with, PASSWORD};
use crate::on_both_backends;

/// A browser behind the proxy: every request carries the header the proxy adds.
fn behind_proxy(header: &str, value: &str) -> reqwest::Client {
    let mut headers = HeaderMap::new();
    headers.insert(
        reqwest::header::HeaderName::from_bytes(header.as_bytes()).unwrap(),
        HeaderValue::from_str(value).unwrap(),
    );
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .default_headers(headers)
        .build()
        .unwrap()
}

fn from(client: &str) -> reqwest::Client {
    behind_proxy("x-forwarded-for", client)
}

const PAUSED: &str = "Too many failed sign-in attempts.";

async fn status_of(
    app: &crate::helpers::TestApp,
    c: &reqwest::Client,
    email: &str,
    pw: &str,
) -> u16 {
    app.post_login(c, email, pw).await.status().as_u16()
}

on_both_backends!(
    one_client_behind_the_proxy_never_locks_out_the_others,
    |backend| spawn_app_with(backend, |s| {
        s.trusted_proxies = TrustedProxies::parse("127.0.0.1").unwrap();
    }),
    app => {
        app.add_user("ann@example.com", Role::Admin).await;
        app.add_user("bob@example.com", Role::Support).await;
        // A guesser tries 25 accounts' passwords from one address: after 20 failures that address is paused.
        let guesser = from("198.51.100.66");
        for i in 0..20 {
            assert_eq!(status_of(&app, &guesser, &format!("user{i}@example.com"), "guess").await, 422);
        }
        let paused = app.post_login(&guesser, "ann@example.com", PASSWORD).await;
        assert_eq!(paused.status().as_u16(), 429);
        assert!(paused.text().await.unwrap().contains(PAUSED));

        // Everyone else behind the same proxy signs in.
        assert_eq!(status_of(&app, &from("203.0.113.7"), "bob@example.com", PASSWORD).await, 303);
        // Five wrong passwords for ann from one address pause ann there only; ann signs in from her own.
        let other = from("192.0.2.10");
        for _ in 0..5 {
            assert_eq!(status_of(&app, &other, "ann@example.com", "guess").await, 422);
        }
        assert_eq!(status_of(&app, &other, "ann@example.com", PASSWORD).await, 429);
        let ann = from("192.0.2.99, 10.0.0.3");
        assert_eq!(status_of(&app, &ann, "ann@example.com", PASSWORD).await, 303);

        // The audit log names the client (the rightmost hop the proxy did not add), not the proxy.
        let csrf = crate::helpers::csrf_from(
            &ann.get(app.url("/projects/new")).send().await.unwrap().text().await.unwrap(),
        );
        let made = ann
            .post(app.url("/projects"))
            .form(&[
                ("name", "Proxied"),
                ("slug", "proxied"),
                ("bundle_id", "com.example.proxied"),
                ("app_apple_id", "1234567890"),
                ("environment", "Sandbox"),
                ("csrf_token", csrf.as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(made.status().as_u16(), 303);
        let audit = app
            .store
            .list_audit(&AuditFilter { limit: 5, ..AuditFilter::default() })
            .await
            .unwrap();
        assert_eq!(audit[0].ip, "10.0.0.3", "{:?}", audit[0]);
    }
);

on_both_backends!(
    forwarding_headers_from_anyone_else_are_ignored,
    |backend| spawn_app_with(backend, |_| {}),
    app => {
        app.add_user("ann@example.com", Role::Admin).await;
        // With no trusted proxy, a client that writes X-Forwarded-For itself is still its own address: changing the
        // header does not buy a new allowance.
        for i in 0..20 {
            let c = from(&format!("198.51.100.{i}"));
            assert_eq!(status_of(&app, &c, &format!("user{i}@example.com"), "guess").await, 422);
        }
        assert_eq!(status_of(&app, &from("198.51.100.200"), "ann@example.com", PASSWORD).await, 429);
    }
);

on_both_backends!(
    an_ipv6_client_is_counted_by_its_64_and_forwarded_is_read_too,
    |backend| spawn_app_with(backend, |s| {
        s.trusted_proxies = TrustedProxies::parse("127.0.0.0/8").unwrap();
    }),
    app => {
        app.add_user("ann@example.com", Role::Admin).await;
        // Twenty failures spread over addresses of one /64 pause the whole /64…
        for i in 0..20 {
            let c = behind_proxy("forwarded", &format!("for=\"[2001:db8:1:2::{i:x}]:4711\";proto=https"));
            assert_eq!(status_of(&app, &c, &format!("user{i}@example.com"), "guess").await, 422);
        }
        let same_64 = behind_proxy("forwarded", "for=\"[2001:db8:1:2:ffff::1]\"");
        assert_eq!(status_of(&app, &same_64, "ann@example.com", PASSWORD).await, 429);
        // …and nobody outside it.
        let next_64 = behind_proxy("forwarded", "for=\"[2001:db8:1:3::1]\"");
        assert_eq!(status_of(&app, &next_64, "ann@example.com", PASSWORD).await, 303);
    }
);
