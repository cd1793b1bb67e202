//! Issued passwords, the account page's throttle, unlock and reset (page and command line), and sign-ins in the
//! audit log.
use storedesk::domain::Role;
use storedesk::store::AuditFilter;

use crate::admin::users::one_time_password;
use crate::both_backends;
use crate::helpers::{assert_redirect_to, client, csrf_from, TestApp, PASSWORD};

async fn audit_actions(app: &TestApp, action: &str) -> Vec<storedesk::store::AuditEntry> {
    app.store
        .list_audit(&AuditFilter {
            action: Some(action.into()),
            limit: 1000,
            ..AuditFilter::default()
        })
        .await
        .expect("audit")
}

/// Sends the account page's form from a signed-in client.
async fn change_password(
    app: &TestApp,
    c: &reqwest::Client,
    current: &str,
    new: &str,
) -> reqwest::Response {
    let page = c
        .get(app.url("/account"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    c.post(app.url("/account"))
        .form(&[
            ("csrf_token", csrf_from(&page).as_str()),
            ("current_password", current),
            ("new_password", new),
            ("confirm_password", new),
        ])
        .send()
        .await
        .unwrap()
}

both_backends!(
    an_issued_password_opens_only_the_account_page_until_it_is_replaced,
    |app| {
        let admin = app.session(Role::Admin).await;
        let added = admin
            .post_form(
                "/admin/users",
                "/admin/users",
                &[("email", "new.person@example.com"), ("role", "support")],
            )
            .await;
        let issued = one_time_password(&added.text().await.unwrap());
        let c = client();
        let signed_in = app.post_login(&c, "new.person@example.com", &issued).await;
        assert_redirect_to(&signed_in, "/account");
        // Every other page leads back to the account page, which says why.
        for path in ["/projects", "/admin/users", "/projects/new"] {
            let r = c.get(app.url(path)).send().await.unwrap();
            assert_redirect_to(&r, "/account");
        }
        let page = c
            .get(app.url("/account"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            page.contains("Choose your own password before going on."),
            "{page}"
        );
        let changed = change_password(&app, &c, &issued, "my very own new password").await;
        assert_redirect_to(&changed, "/account");
        assert_eq!(
            c.get(app.url("/projects"))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16(),
            200
        );
        let user = app
            .store
            .user_by_email("new.person@example.com")
            .await
            .unwrap()
            .unwrap();
        assert!(!user.must_change_password);
        // A user who chose their own password (the test helper's) is never held.
        let own = app.session(Role::Support).await;
        assert_eq!(own.get("/projects").await.status().as_u16(), 200);
    }
);

both_backends!(
    the_account_page_counts_wrong_passwords_like_sign_in,
    |app| {
        let s = app.session(Role::Support).await;
        for _ in 0..5 {
            let r = change_password(
                &app,
                &s.client,
                "not my password at all",
                "a brand new password",
            )
            .await;
            assert_eq!(r.status().as_u16(), 422);
            assert!(r
                .text()
                .await
                .unwrap()
                .contains("This is not your current password."));
        }
        // The sixth is refused before any check, even with the right password.
        let r = change_password(&app, &s.client, PASSWORD, "a brand new password").await;
        assert_eq!(r.status().as_u16(), 429);
        let body = r.text().await.unwrap();
        assert!(
            body.contains("Too many wrong passwords. Password changes are paused for 15 minutes; try again then."),
            "{body}"
        );
        // Nothing changed, and sign-in for this account from this address is paused too.
        assert!(audit_actions(&app, "user.password").await.is_empty());
        let again = app.post_login(&client(), &s.email, PASSWORD).await;
        assert_eq!(again.status().as_u16(), 429);
        assert_eq!(
            audit_actions(&app, "auth.password_check_failed")
                .await
                .len(),
            5
        );
    }
);

both_backends!(
    an_admin_unlocks_a_paused_sign_in_from_the_users_page,
    |app| {
        let admin = app.session(Role::Admin).await;
        app.add_user("locked@example.com", Role::Support).await;
        let guesser = client();
        for _ in 0..6 {
            app.post_login(&guesser, "locked@example.com", "wrong guess 1234")
                .await;
        }
        let paused = app
            .post_login(&client(), "locked@example.com", PASSWORD)
            .await;
        assert_eq!(paused.status().as_u16(), 429);
        assert!(paused
            .text()
            .await
            .unwrap()
            .contains("or ask an admin to unlock your account."));
        let users = admin.get_text("/admin/users").await;
        assert!(users.contains("sign-in paused"), "{users}");
        let user = app
            .store
            .user_by_email("locked@example.com")
            .await
            .unwrap()
            .unwrap();
        let unlocked = admin
            .post_form(
                "/admin/users",
                &storedesk::urls::admin_user_unlock(user.id),
                &[],
            )
            .await;
        assert_redirect_to(&unlocked, "/admin/users");
        let users = admin.get_text("/admin/users").await;
        assert!(users.contains("Unlocked locked@example.com: they can sign in again now."));
        assert!(!users.contains("sign-in paused"));
        assert_redirect_to(
            &app.post_login(&client(), "locked@example.com", PASSWORD)
                .await,
            "/projects",
        );
        let entries = audit_actions(&app, "user.unlock").await;
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].target, "locked@example.com");
        assert_eq!(entries[0].user_email, "admin@example.com");
        // Sign-ins are in the audit log: the failures, the refusal and the successes, each with its address.
        assert_eq!(audit_actions(&app, "auth.sign_in_failed").await.len(), 5);
        let locked = audit_actions(&app, "auth.sign_in_locked").await;
        assert_eq!(locked.len(), 2);
        assert!(locked
            .iter()
            .all(|e| e.ip == "127.0.0.1" && e.user_id.is_none()));
        assert!(audit_actions(&app, "auth.sign_in")
            .await
            .iter()
            .any(|e| e.target == "locked@example.com" && e.user_id == Some(user.id)));
    }
);

both_backends!(
    a_reset_ends_the_sessions_and_issues_a_password_to_replace,
    |app| {
        let admin = app.session(Role::Admin).await;
        let support = app.session(Role::Support).await;
        let user = app
            .store
            .user_by_email(&support.email)
            .await
            .unwrap()
            .unwrap();
        let reset = admin
            .post_form(
                "/admin/users",
                &storedesk::urls::admin_user_reset_password(user.id),
                &[],
            )
            .await;
        assert_eq!(reset.status().as_u16(), 200);
        let html = reset.text().await.unwrap();
        assert!(html.contains("Issued a new password for <strong>support@example.com</strong>"));
        let issued = one_time_password(&html);
        // The old session is over, and the old password no longer signs in.
        assert!(support
            .get("/projects")
            .await
            .headers()
            .get("location")
            .is_some_and(|l| l.to_str().unwrap().starts_with("/login")));
        assert_eq!(
            app.post_login(&client(), &support.email, PASSWORD)
                .await
                .status()
                .as_u16(),
            422
        );
        assert_redirect_to(
            &app.post_login(&client(), &support.email, &issued).await,
            "/account",
        );
        let entries = audit_actions(&app, "user.password_reset").await;
        assert_eq!(entries.len(), 1);
        assert!(!entries[0].detail.contains(&issued));
        // An admin cannot reset themselves here (Account is for that).
        let me = app
            .store
            .user_by_email(&admin.email)
            .await
            .unwrap()
            .unwrap();
        let refused = admin
            .post_form(
                "/admin/users",
                &storedesk::urls::admin_user_reset_password(me.id),
                &[],
            )
            .await;
        assert_redirect_to(&refused, "/admin/users");
        assert!(admin
            .get_text("/admin/users")
            .await
            .contains("To change your own password, use Account; nothing was changed."));
    }
);

// The command line is the way out for the last admin: `storedesk user unlock` and `user reset-password`.
both_backends!(the_command_line_unlocks_and_resets_the_last_admin, |app| {
    let admin = app.session(Role::Admin).await;
    let guesser = client();
    for _ in 0..6 {
        app.post_login(&guesser, &admin.email, "wrong guess 1234")
            .await;
    }
    assert_eq!(
        app.post_login(&client(), &admin.email, PASSWORD)
            .await
            .status()
            .as_u16(),
        429
    );
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_storedesk"))
            .args(args)
            .env("STOREDESK_DATABASE_URL", app.settings.database_url.as_str())
            .output()
            .expect("run storedesk")
    };
    let out = run(&["user", "unlock", "--email", "Admin@Example.com"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
            said.contains("Unlocked admin@example.com: 5 failed sign-in attempts forgotten; they can sign in again now."),
            "{said}"
        );
    assert_redirect_to(
        &app.post_login(&client(), &admin.email, PASSWORD).await,
        "/projects",
    );
    let out = run(&["user", "reset-password", "--email", "admin@example.com"]);
    assert!(out.status.success());
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    let issued = said.trim_end().rsplit(' ').next().unwrap().to_string();
    assert_eq!(issued.len(), 20, "{said}");
    assert_redirect_to(
        &app.post_login(&client(), &admin.email, &issued).await,
        "/account",
    );
    let missing = run(&["user", "unlock", "--email", "nobody@example.com"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr)
        .contains("there is no user nobody@example.com; `storedesk user add` adds one"));
});
