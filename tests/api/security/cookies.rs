//! Cookies and caches: under an https public URL the session cookie is `__Host-` and every cookie is Secure; a
//! session presented at sign-in ends; pages behind sign-in are `no-store`.
use storedesk::domain::Role;

use crate::helpers::{client, csrf_from, spawn_app_with, PASSWORD};
use crate::on_both_backends;

fn set_cookies(r: &reqwest::Response) -> Vec<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect()
}

fn attributes(cookie: &str) -> Vec<String> {
    cookie
        .split(';')
        .skip(1)
        .map(|a| a.trim().to_ascii_lowercase())
        .collect()
}

on_both_backends!(
    under_https_the_session_cookie_is_host_prefixed_and_every_cookie_secure,
    |backend| spawn_app_with(backend, |s| s.public_url = "https://console.example".into()),
    app => {
        app.add_user("support@example.com", Role::Support).await;
        // A client that keeps no cookies: a Secure cookie is not sent back over this test's plain http, so each
        // request carries what the test chooses.
        let c = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let login = c.get(app.url("/login")).send().await.unwrap();
        let login_cookies = set_cookies(&login);
        assert!(login_cookies.iter().all(|k| attributes(k).contains(&"secure".into())), "{login_cookies:?}");
        let login_csrf = login_cookies
            .iter()
            .find_map(|k| k.split(';').next().filter(|p| p.starts_with("storedesk_login_csrf=")))
            .unwrap()
            .to_string();
        let csrf = csrf_from(&login.text().await.unwrap());
        let signed_in = c
            .post(app.url("/login"))
            .header("cookie", &login_csrf)
            .form(&[
                ("email", "support@example.com"),
                ("password", PASSWORD),
                ("csrf_token", &csrf),
                ("next", ""),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(signed_in.status().as_u16(), 303);
        let cookies = set_cookies(&signed_in);
        let session = cookies
            .iter()
            .find(|k| k.starts_with("__Host-storedesk_session="))
            .unwrap_or_else(|| panic!("a __Host- session cookie in {cookies:?}"));
        let attrs = attributes(session);
        for needed in ["secure", "httponly", "path=/", "samesite=lax"] {
            assert!(attrs.contains(&needed.to_string()), "{needed} in {session}");
        }
        assert!(!attrs.iter().any(|a| a.starts_with("domain")), "{session}");
        assert!(cookies.iter().all(|k| attributes(k).contains(&"secure".into())), "{cookies:?}");
        let pair = session.split(';').next().unwrap().to_string();
        // The prefixed cookie is the session; the unprefixed name is not read under https.
        let page = c.get(app.url("/projects")).header("cookie", &pair).send().await.unwrap();
        assert_eq!(page.status().as_u16(), 200);
        assert_eq!(page.headers().get("cache-control").unwrap(), "no-store");
        let token = pair.split_once('=').unwrap().1;
        let plain = c
            .get(app.url("/projects"))
            .header("cookie", format!("storedesk_session={token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(plain.status().as_u16(), 303);
        // The flash message's cookie (set by signing out) is Secure as well.
        let csrf = csrf_from(&page.text().await.unwrap());
        let out = c
            .post(app.url("/logout"))
            .header("cookie", &pair)
            .form(&[("csrf_token", csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(out.status().as_u16(), 303);
        let cookies = set_cookies(&out);
        assert!(cookies.iter().any(|k| k.starts_with("storedesk_flash=")), "{cookies:?}");
        assert!(cookies.iter().all(|k| attributes(k).contains(&"secure".into())), "{cookies:?}");
    }
);

crate::both_backends!(
    a_session_presented_at_sign_in_ends_with_the_new_one,
    |app| {
        let s = app.session(Role::Support).await;
        let user = app.store.user_by_email(&s.email).await.unwrap().unwrap();
        assert_eq!(app.store.count_sessions_of(user.id).await.unwrap(), 1);
        // The same browser signs in again (say, after the session was planted in it): one session remains.
        let again = app.post_login(&s.client, &s.email, PASSWORD).await;
        assert_eq!(again.status().as_u16(), 303);
        assert_eq!(app.store.count_sessions_of(user.id).await.unwrap(), 1);
        // Another browser's session is not touched.
        let other = app.session(Role::Support).await;
        assert_eq!(app.store.count_sessions_of(user.id).await.unwrap(), 2);
        assert_eq!(other.get("/projects").await.status().as_u16(), 200);
        assert_eq!(s.get("/projects").await.status().as_u16(), 200);
        // The anonymous sign-in page is not one of the pages kept out of caches; a signed-in error page is.
        let login = client().get(app.url("/login")).send().await.unwrap();
        assert!(login.headers().get("cache-control").is_none());
        let forbidden = s.get("/admin/users").await;
        assert_eq!(forbidden.status().as_u16(), 403);
        assert_eq!(
            forbidden.headers().get("cache-control").unwrap(),
            "no-store"
        );
    }
);

on_both_backends!(
    under_https_the_pending_sign_in_cookie_is_host_prefixed,
    |backend| spawn_app_with(backend, |s| s.public_url = "https://console.example".into()),
    app => {
        app.add_user("lead@example.com", Role::Lead).await;
        let user = app.store.user_by_email("lead@example.com").await.unwrap().unwrap();
        // A second factor, straight in the store (a passkey for this host): the password then leads to the second step.
        app.store
            .add_passkey(user.id, "Laptop", "Y3JlZA", "{}", "console.example", &storedesk::store::Actor::system("test"))
            .await
            .unwrap();
        let c = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let login = c.get(app.url("/login")).send().await.unwrap();
        let login_csrf = set_cookies(&login)
            .iter()
            .find_map(|k| k.split(';').next().filter(|p| p.starts_with("storedesk_login_csrf=")).map(str::to_string))
            .unwrap();
        let csrf = csrf_from(&login.text().await.unwrap());
        let password = c
            .post(app.url("/login"))
            .header("cookie", &login_csrf)
            .form(&[("email", "lead@example.com"), ("password", PASSWORD), ("csrf_token", &csrf), ("next", "")])
            .send()
            .await
            .unwrap();
        assert_eq!(password.headers().get("location").unwrap(), "/login/second-step");
        let cookies = set_cookies(&password);
        let pending = cookies
            .iter()
            .find(|k| k.starts_with("__Host-storedesk_pending_sign_in="))
            .unwrap_or_else(|| panic!("a __Host- pending cookie in {cookies:?}"));
        let attrs = attributes(pending);
        for needed in ["secure", "httponly", "path=/", "samesite=strict"] {
            assert!(attrs.contains(&needed.to_string()), "{needed} in {pending}");
        }
        assert!(!attrs.iter().any(|a| a.starts_with("domain")), "{pending}");
        assert!(!cookies.iter().any(|k| k.starts_with("storedesk_pending_sign_in=")), "{cookies:?}");
        // The prefixed cookie opens the second step; the same token under the plain name does not.
        let pair = pending.split(';').next().unwrap().to_string();
        let step = c.get(app.url("/login/second-step")).header("cookie", &pair).send().await.unwrap();
        assert_eq!(step.status().as_u16(), 200);
        assert!(step.text().await.unwrap().contains("Use a passkey"));
        let token = pair.split_once('=').unwrap().1;
        let plain = c
            .get(app.url("/login/second-step"))
            .header("cookie", format!("storedesk_pending_sign_in={token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(plain.status().as_u16(), 303);
        assert_eq!(plain.headers().get("location").unwrap(), "/login");
        // Going back to the password removes the prefixed cookie, with the attributes a browser needs to match it.
        let removed = set_cookies(&plain);
        let removal = removed
            .iter()
            .find(|k| k.starts_with("__Host-storedesk_pending_sign_in="))
            .unwrap_or_else(|| panic!("the pending cookie is removed: {removed:?}"));
        assert!(attributes(removal).contains(&"path=/".to_string()), "{removal}");
    }
);

crate::both_backends!(
    over_http_the_pending_sign_in_cookie_stays_on_the_sign_in_pages,
    |app| {
        app.add_user("lead@example.com", Role::Lead).await;
        let user = app
            .store
            .user_by_email("lead@example.com")
            .await
            .unwrap()
            .unwrap();
        app.store
            .add_passkey(
                user.id,
                "Laptop",
                "Y3JlZA",
                "{}",
                "localhost",
                &storedesk::store::Actor::system("test"),
            )
            .await
            .unwrap();
        let c = client();
        let password = app.post_login(&c, "lead@example.com", PASSWORD).await;
        let cookies = set_cookies(&password);
        let pending = cookies
            .iter()
            .find(|k| k.starts_with("storedesk_pending_sign_in="))
            .unwrap_or_else(|| panic!("a pending cookie in {cookies:?}"));
        let attrs = attributes(pending);
        assert!(attrs.contains(&"path=/login".to_string()), "{pending}");
        assert!(!attrs.contains(&"secure".to_string()), "{pending}");
    }
);
