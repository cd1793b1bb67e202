//! Sign-in, sessions, password change and CSRF.
use storedesk::domain::Role;

use crate::both_backends;
use crate::helpers::{assert_redirect_to, client, create_project, csrf_from, PASSWORD};

const WRONG: &str = "The e-mail address or password is not right.";

both_backends!(a_user_signs_in_and_reaches_the_projects_page, |app| {
    app.add_user("ann@example.com", Role::Admin).await;
    let c = client();
    let response = app.post_login(&c, "ann@example.com", PASSWORD).await;
    assert_redirect_to(&response, "/projects");
    let cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "session cookie flags: {cookie}"
    );
    let page = c.get(app.url("/projects")).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert!(page.text().await.unwrap().contains("ann@example.com"));
});

both_backends!(
    a_wrong_password_and_an_unknown_email_get_the_same_answer,
    |app| {
        app.add_user("ann@example.com", Role::Admin).await;
        let c = client();
        let wrong_password = app
            .post_login(&c, "ann@example.com", "not the password")
            .await;
        let unknown = app
            .post_login(&c, "nobody@example.com", "not the password")
            .await;
        assert_eq!(wrong_password.status().as_u16(), 422);
        assert_eq!(unknown.status().as_u16(), 422);
        let a = wrong_password.text().await.unwrap();
        let b = unknown.text().await.unwrap();
        assert!(a.contains(WRONG) && b.contains(WRONG));
        assert!(!a.contains("no account") && !b.contains("no account"));
        let c2 = client();
        assert_eq!(
            c2.get(app.url("/projects"))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16(),
            303,
            "no session was made"
        );
    }
);

both_backends!(
    repeated_failures_pause_sign_in_for_that_account_even_with_the_right_password,
    |app| {
        app.add_user("ann@example.com", Role::Admin).await;
        let c = client();
        for _ in 0..5 {
            assert_eq!(
                app.post_login(&c, "ann@example.com", "guess")
                    .await
                    .status()
                    .as_u16(),
                422
            );
        }
        let locked = app.post_login(&c, "ann@example.com", PASSWORD).await;
        assert_eq!(locked.status().as_u16(), 429);
        let body = locked.text().await.unwrap();
        assert!(
            body.contains("Too many failed sign-in attempts. Sign-in is paused for 15 minutes"),
            "{body}"
        );
        // Another account from the same address is not locked by this one's failures.
        app.add_user("bob@example.com", Role::Support).await;
        assert_eq!(
            app.post_login(&client(), "bob@example.com", PASSWORD)
                .await
                .status()
                .as_u16(),
            303
        );
    }
);

both_backends!(guesses_sent_at_once_are_held_to_the_same_limit, |app| {
    // Arrange: one sign-in form, its guesses posted all at once (each password check takes a while, so counting
    // failures after it would let every guess through).
    const AT_ONCE: usize = 16;
    app.add_user("ann@example.com", Role::Admin).await;
    let c = client();
    let csrf = csrf_from(&app.login_page(&c).await);
    let guess = || {
        c.post(app.url("/login"))
            .form(&[
                ("email", "ann@example.com"),
                ("password", "guess"),
                ("csrf_token", csrf.as_str()),
                ("next", ""),
            ])
            .send()
    };

    // Act
    let answers = futures_util::future::join_all((0..AT_ONCE).map(|_| guess())).await;

    // Assert: at most the allowed five were checked; the others were told sign-in is paused.
    let statuses: Vec<u16> = answers
        .iter()
        .map(|r| r.as_ref().unwrap().status().as_u16())
        .collect();
    let checked = statuses.iter().filter(|&&s| s == 422).count();
    let paused = statuses.iter().filter(|&&s| s == 429).count();
    assert!(checked <= 5, "{checked} guesses checked: {statuses:?}");
    assert_eq!(checked + paused, AT_ONCE, "{statuses:?}");
    let (recorded, _) = app
        .store
        .login_failures_since("account:ann@example.com|address:127.0.0.1", 0)
        .await
        .unwrap();
    assert_eq!(
        recorded,
        i64::try_from(checked).unwrap(),
        "only checked guesses count as failures"
    );
});

both_backends!(an_idle_session_expires_and_leads_back_to_sign_in, |app| {
    let s = app.session(Role::Admin).await;
    assert_eq!(s.get("/projects").await.status().as_u16(), 200);
    // Age the session beyond the idle limit, as if the user had walked away.
    storedesk_test_age_sessions(&app, 2 * 3600 * 1000).await;
    let response = s.get("/projects").await;
    assert_redirect_to(&response, "/login?next=/projects");
    assert_eq!(
        app.store.count_sessions_of(1).await.unwrap(),
        0,
        "the expired session row is deleted"
    );
});

both_backends!(
    a_form_sent_after_the_session_ended_leads_back_to_its_page,
    |app| {
        // Arrange: a form opened, then left until the session ended. Its action has only a POST route.
        let s = app.session(Role::Admin).await;
        create_project(&s, "demo").await;
        let (form_page, action) = (
            "/projects/demo/notifications",
            "/projects/demo/notifications/backfill",
        );
        let csrf = csrf_from(&s.get_text(form_page).await);
        storedesk_test_age_sessions(&app, 2 * 3600 * 1000).await;
        let send = |referer: Option<String>| {
            let mut request = s.client.post(s.url(action));
            if let Some(r) = referer {
                request = request.header("referer", r);
            }
            request
                .form(&[
                    ("start", "2026-01-01"),
                    ("end", "2026-01-02"),
                    ("environment", "Production"),
                    ("csrf_token", csrf.as_str()),
                ])
                .send()
        };

        // Act
        let from_the_page = send(Some(s.url(form_page))).await.unwrap();
        let without = send(None).await.unwrap();

        // Assert: sign-in leads back to the page that held the form (not to the address the form was sent to, which
        // has no page), or to the projects list when the browser did not say where the form was.
        assert_redirect_to(&from_the_page, &format!("/login?next={form_page}"));
        assert_redirect_to(&without, "/login");
        let project = app.store.project_by_slug("demo").await.unwrap().unwrap();
        assert!(
            app.store
                .recent_backfills(project.id, 5)
                .await
                .unwrap()
                .is_empty(),
            "nothing was started"
        );
    }
);

both_backends!(
    a_next_address_with_a_line_break_leads_to_the_projects_list,
    |app| {
        app.add_user("ann@example.com", Role::Admin).await;
        let c = client();
        let csrf = csrf_from(&app.login_page(&c).await);

        let r = c
            .post(app.url("/login"))
            .form(&[
                ("email", "ann@example.com"),
                ("password", PASSWORD),
                ("csrf_token", csrf.as_str()),
                ("next", "/projects\nSet-Cookie: x=1"),
            ])
            .send()
            .await
            .unwrap();

        assert_redirect_to(&r, "/projects");
    }
);

async fn storedesk_test_age_sessions(app: &crate::helpers::TestApp, by_ms: i64) {
    app.store.age_sessions_for_tests(by_ms).await.unwrap();
}

both_backends!(signing_out_ends_the_session, |app| {
    let s = app.session(Role::Lead).await;
    let response = s.post_form("/projects", "/logout", &[]).await;
    assert_redirect_to(&response, "/login");
    assert_eq!(s.get("/projects").await.status().as_u16(), 303);
});

both_backends!(changing_the_password_ends_the_other_sessions_only, |app| {
    let first = app.session(Role::Support).await;
    let second = app.session(Role::Support).await;
    let new_password = "a much longer new password";
    let response = first
        .post_form(
            "/account",
            "/account",
            &[
                ("current_password", PASSWORD),
                ("new_password", new_password),
                ("confirm_password", new_password),
            ],
        )
        .await;
    assert_redirect_to(&response, "/account");
    assert_eq!(
        first.get("/projects").await.status().as_u16(),
        200,
        "this session stays"
    );
    assert_eq!(
        second.get("/projects").await.status().as_u16(),
        303,
        "the other session ended"
    );
    let c = client();
    assert_eq!(
        app.post_login(&c, "support@example.com", PASSWORD)
            .await
            .status()
            .as_u16(),
        422
    );
    assert_eq!(
        app.post_login(&c, "support@example.com", new_password)
            .await
            .status()
            .as_u16(),
        303
    );
});

both_backends!(a_short_new_password_is_refused_next_to_its_field, |app| {
    let s = app.session(Role::Support).await;
    let response = s
        .post_form(
            "/account",
            "/account",
            &[
                ("current_password", PASSWORD),
                ("new_password", "short"),
                ("confirm_password", "short"),
            ],
        )
        .await;
    assert_eq!(response.status().as_u16(), 422);
    let body = response.text().await.unwrap();
    assert!(
        body.contains(
            r#"<p class="field-error" id="new_password-error">Use at least 12 characters.</p>"#
        ),
        "{body}"
    );
    assert_eq!(
        app.post_login(&client(), "support@example.com", PASSWORD)
            .await
            .status()
            .as_u16(),
        303,
        "password unchanged"
    );
});

both_backends!(
    a_form_without_or_with_a_wrong_csrf_token_is_refused_and_changes_nothing,
    |app| {
        let s = app.session(Role::Admin).await;
        let fields = [
            ("name", "X"),
            ("slug", "x-app"),
            ("bundle_id", "com.example.x"),
            ("app_apple_id", ""),
            ("environment", "Sandbox"),
        ];
        let missing = s
            .client
            .post(s.url("/projects"))
            .form(&fields)
            .send()
            .await
            .unwrap();
        assert_eq!(missing.status().as_u16(), 403);
        assert!(missing
            .text()
            .await
            .unwrap()
            .contains("security token is missing or no longer valid"));
        let mut with_wrong = fields.to_vec();
        with_wrong.push(("csrf_token", "forged"));
        let wrong = s
            .client
            .post(s.url("/projects"))
            .form(&with_wrong)
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status().as_u16(), 403);
        assert!(
            app.store.list_projects().await.unwrap().is_empty(),
            "no project was created"
        );
    }
);

both_backends!(a_form_posted_from_another_origin_is_refused, |app| {
    let s = app.session(Role::Admin).await;
    let csrf = csrf_from(&s.get_text("/projects/new").await);
    let response = s
        .client
        .post(s.url("/projects"))
        .header("Origin", "https://evil.example")
        .form(&[
            ("name", "X"),
            ("slug", "x-app"),
            ("bundle_id", "com.example.x"),
            ("environment", "Sandbox"),
            ("csrf_token", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 403);
    assert!(app.store.list_projects().await.unwrap().is_empty());
});

both_backends!(sign_in_needs_the_login_form_token, |app| {
    app.add_user("ann@example.com", Role::Admin).await;
    let response = client()
        .post(app.url("/login"))
        .form(&[
            ("email", "ann@example.com"),
            ("password", PASSWORD),
            ("csrf_token", "made-up"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 403);
});

both_backends!(
    after_sign_in_the_user_returns_to_the_page_they_asked_for_but_never_to_another_site,
    |app| {
        app.add_user("ann@example.com", Role::Admin).await;
        let c = client();
        let first = c.get(app.url("/admin/audit")).send().await.unwrap();
        assert_redirect_to(&first, "/login?next=/admin/audit");
        let page = c
            .get(app.url("/login?next=/admin/audit"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let csrf = csrf_from(&page);
        let r = c
            .post(app.url("/login"))
            .form(&[
                ("email", "ann@example.com"),
                ("password", PASSWORD),
                ("csrf_token", &csrf),
                ("next", "/admin/audit"),
            ])
            .send()
            .await
            .unwrap();
        assert_redirect_to(&r, "/admin/audit");
        let c = client();
        let page = c
            .get(app.url("/login"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let csrf = csrf_from(&page);
        let r = c
            .post(app.url("/login"))
            .form(&[
                ("email", "ann@example.com"),
                ("password", PASSWORD),
                ("csrf_token", &csrf),
                ("next", "//evil.example/"),
            ])
            .send()
            .await
            .unwrap();
        assert_redirect_to(&r, "/projects");
    }
);
