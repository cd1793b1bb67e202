//! The users page: adding people, roles, disabling, and the last-admin rule.
use storedesk::domain::Role;

use crate::both_backends;
use crate::helpers::{assert_redirect_to, client};

/// The one-time password an admin page shows once.
pub fn one_time_password(html: &str) -> String {
    let marker = "id=\"new-password\">";
    let start = html.find(marker).expect("password shown") + marker.len();
    let end = html[start..].find('<').unwrap() + start;
    html[start..end].to_string()
}

both_backends!(
    an_admin_adds_a_user_who_signs_in_with_the_one_time_password,
    |app| {
        let admin = app.session(Role::Admin).await;
        let response = admin
            .post_form(
                "/admin/users",
                "/admin/users",
                &[("email", "New.Person@Example.com"), ("role", "support")],
            )
            .await;
        assert_eq!(response.status().as_u16(), 200);
        let password = one_time_password(&response.text().await.unwrap());
        assert_eq!(password.len(), 20);
        let c = client();
        // An issued password leads to the account page first (tests/api/security/account.rs).
        assert_redirect_to(
            &app.post_login(&c, "new.person@example.com", &password)
                .await,
            "/account",
        );
        let user = app
            .store
            .user_by_email("new.person@example.com")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(user.role, Role::Support);
        assert!(
            !app.store
                .list_audit(&Default::default())
                .await
                .unwrap()
                .iter()
                .any(|e| e.detail.contains(&password)),
            "never in the audit log"
        );
    }
);

both_backends!(
    a_bad_or_duplicate_email_is_refused_next_to_the_field,
    |app| {
        let admin = app.session(Role::Admin).await;
        let bad = admin
            .post_form(
                "/admin/users",
                "/admin/users",
                &[("email", "not-an-email"), ("role", "support")],
            )
            .await;
        assert_eq!(bad.status().as_u16(), 422);
        assert!(bad.text().await.unwrap().contains("id=\"email-error\""));
        let dup = admin
            .post_form(
                "/admin/users",
                "/admin/users",
                &[("email", "admin@example.com"), ("role", "support")],
            )
            .await;
        assert_eq!(dup.status().as_u16(), 422);
        assert!(dup
            .text()
            .await
            .unwrap()
            .contains("A user with this e-mail address already exists."));
        assert_eq!(app.store.count_users().await.unwrap(), 1);
    }
);

both_backends!(the_last_admin_cannot_be_demoted_or_disabled, |app| {
    let admin = app.session(Role::Admin).await;
    let me = app
        .store
        .user_by_email("admin@example.com")
        .await
        .unwrap()
        .unwrap();
    let path = format!("/admin/users/{}", me.id);
    let r = admin
        .post_form("/admin/users", &path, &[("role", "lead")])
        .await;
    assert_redirect_to(&r, "/admin/users");
    let page = admin.get_text("/admin/users").await;
    assert!(page.contains("This is the last active admin."), "{page}");
    let r = admin
        .post_form(
            "/admin/users",
            &path,
            &[("role", "admin"), ("disabled", "on")],
        )
        .await;
    assert_redirect_to(&r, "/admin/users");
    let me = app.store.user_by_id(me.id).await.unwrap();
    assert_eq!(me.role, Role::Admin);
    assert!(!me.disabled);
    // With a second admin the first may step down.
    let second = app.session(Role::Lead).await;
    let lead = app
        .store
        .user_by_email(&second.email)
        .await
        .unwrap()
        .unwrap();
    admin
        .post_form(
            "/admin/users",
            &format!("/admin/users/{}", lead.id),
            &[("role", "admin")],
        )
        .await;
    admin
        .post_form("/admin/users", &path, &[("role", "lead")])
        .await;
    assert_eq!(app.store.user_by_id(me.id).await.unwrap().role, Role::Lead);
});

both_backends!(a_disabled_user_is_signed_out_and_cannot_sign_in, |app| {
    let admin = app.session(Role::Admin).await;
    let support = app.session(Role::Support).await;
    let user = app
        .store
        .user_by_email(&support.email)
        .await
        .unwrap()
        .unwrap();
    admin
        .post_form(
            "/admin/users",
            &format!("/admin/users/{}", user.id),
            &[("role", "support"), ("disabled", "on")],
        )
        .await;
    assert_eq!(support.get("/projects").await.status().as_u16(), 303);
    assert_eq!(
        app.post_login(&client(), &support.email, crate::helpers::PASSWORD)
            .await
            .status()
            .as_u16(),
        422
    );
});
