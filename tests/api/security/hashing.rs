//! The cap on concurrent password hashing: a flood of sign-ins is answered, part of it "busy" at once (503 with
//! Retry-After and the sentence), never 500, and a busy answer counts against nobody.
use storedesk::client_address::TrustedProxies;
use storedesk::domain::Role;

use crate::helpers::{assert_redirect_to, client, csrf_from, spawn_app_with, PASSWORD};
use crate::on_both_backends;

on_both_backends!(
    two_hundred_sign_ins_at_once_are_answered_and_the_excess_is_told_to_wait,
    |backend| spawn_app_with(backend, |s| s.trusted_proxies = TrustedProxies::parse("127.0.0.1").unwrap()),
    app => {
        app.add_user("support@example.com", Role::Support).await;
        // One page's token pair serves every attempt: the sign-in form's token is checked against its cookie.
        let c = client();
        let csrf = csrf_from(&app.login_page(&c).await);
        // Each attempt comes from its own address (through the trusted proxy) for its own unknown account, so the
        // sign-in throttle never answers first and every attempt needs a hash.
        let attempts: Vec<_> = (0..200u32)
            .map(|i| {
                let (c, url, csrf) = (c.clone(), app.url("/login"), csrf.clone());
                tokio::spawn(async move {
                    let r = c
                        .post(url)
                        .header("x-forwarded-for", format!("10.9.{}.{}", i / 250, i % 250 + 1))
                        .form(&[
                            ("email", format!("nobody{i}@example.com")),
                            ("password", "not a password 123".into()),
                            ("csrf_token", csrf),
                            ("next", String::new()),
                        ])
                        .send()
                        .await
                        .unwrap();
                    let status = r.status().as_u16();
                    let retry = r.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
                    (status, retry, r.text().await.unwrap())
                })
            })
            .collect();
        let (mut wrong, mut busy) = (0, 0);
        for a in attempts {
            let (status, retry, body) = a.await.unwrap();
            match status {
                422 => wrong += 1,
                503 => {
                    busy += 1;
                    assert_eq!(retry.as_deref(), Some("5"));
                    assert!(body.contains(storedesk::auth::password::BUSY), "{body}");
                }
                other => panic!("unexpected {other}: {body}"),
            }
        }
        assert!(wrong > 0, "some attempts were checked");
        assert!(busy > 0, "beyond the queue, attempts are told to wait");
        // Busy answers counted against no one: the failures recorded are those checked.
        let (failures, _) = app
            .store
            .login_failures_since("address:10.9.0.1", 0)
            .await
            .unwrap();
        assert!(failures <= 1);
        assert_redirect_to(&app.post_login(&client(), "support@example.com", PASSWORD).await, "/projects");
    }
);
