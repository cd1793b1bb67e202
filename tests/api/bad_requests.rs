//! What requests the extractors refuse get: the console's own error page with a sentence, never actix's plain text.
use storedesk::domain::Role;

use crate::both_backends;
use crate::helpers::{client, create_project, csrf_from};

/// The page's title and sentence, checked to be the console's HTML error page.
async fn error_page(r: reqwest::Response) -> (u16, String) {
    let status = r.status().as_u16();
    let content_type = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = r.text().await.unwrap();
    assert!(
        content_type.starts_with("text/html"),
        "{content_type}: {body}"
    );
    (status, body)
}

both_backends!(
    an_id_that_is_no_number_is_an_address_with_nothing_at_it,
    |app| {
        let admin = app.session(Role::Admin).await;
        create_project(&admin, "demo").await;

        // Twenty digits: the route takes digits, but no notification id is that large.
        let r = admin
            .get("/projects/demo/notifications/99999999999999999999")
            .await;

        let (status, body) = error_page(r).await;
        assert_eq!(status, 404);
        assert!(body.contains("There is nothing at this address."), "{body}");
    }
);

both_backends!(a_query_that_cannot_be_read_gets_a_sentence, |app| {
    let admin = app.session(Role::Admin).await;

    let r = admin.get("/admin/audit?before=yesterday").await;

    let (status, body) = error_page(r).await;
    assert_eq!(status, 400);
    assert!(
        body.contains("The part of this address after “?” could not be read (")
            && body.contains("Remove it, or open the page from its link."),
        "{body}"
    );
});

both_backends!(
    a_form_that_cannot_be_read_gets_a_sentence_and_changes_nothing,
    |app| {
        let c = client();
        let csrf = csrf_from(&app.login_page(&c).await);
        let too_long = "x".repeat(70 * 1024);

        let missing_field = c
            .post(app.url("/login"))
            .form(&[("email", "ann@example.com"), ("csrf_token", csrf.as_str())])
            .send()
            .await
            .unwrap();
        let too_large = c
            .post(app.url("/login"))
            .form(&[
                ("email", too_long.as_str()),
                ("password", "x"),
                ("csrf_token", csrf.as_str()),
            ])
            .send()
            .await
            .unwrap();
        let not_a_form = c
            .post(app.url("/login"))
            .header("content-type", "text/plain")
            .body(format!("email=a&password=b&csrf_token={csrf}"))
            .send()
            .await
            .unwrap();

        let (status, body) = error_page(missing_field).await;
        assert_eq!(status, 400);
        assert!(
            body.contains("This form could not be read (")
                && body.contains("password")
                && body.contains("so nothing was changed. Reload the page and send it from there."),
            "{body}"
        );
        let (status, body) = error_page(too_large).await;
        assert_eq!(status, 400);
        assert!(
            body.contains("This form is larger than 64 KiB, so nothing was changed."),
            "{body}"
        );
        let (status, body) = error_page(not_a_form).await;
        assert_eq!(status, 400);
        assert!(
            body.contains("This form was not sent as a web form, so nothing was changed."),
            "{body}"
        );
        assert_eq!(
            app.store
                .login_failures_since("account:ann@example.com|address:127.0.0.1", 0)
                .await
                .unwrap()
                .0,
            0,
            "no attempt was counted"
        );
    }
);

both_backends!(
    a_nul_character_is_refused_with_a_sentence_on_every_database,
    |app| {
        // PostgreSQL cannot store text holding a NUL (SQLite can): each place such text reaches gets a clear answer.
        let admin = app.session(Role::Admin).await;
        create_project(&admin, "demo").await;
        let c = client();
        let csrf = csrf_from(&app.login_page(&c).await);

        let sign_in = c
            .post(app.url("/login"))
            .form(&[
                ("email", "ann\0@example.com"),
                ("password", "x"),
                ("csrf_token", csrf.as_str()),
            ])
            .send()
            .await
            .unwrap();
        let project_page = admin.get("/projects/de%00mo/transactions").await;
        let audit = admin.get("/admin/audit?user=a%00b").await;

        assert_eq!(sign_in.status().as_u16(), 422);
        assert!(sign_in
            .text()
            .await
            .unwrap()
            .contains("The e-mail address or password is not right."));
        let (status, body) = error_page(project_page).await;
        assert_eq!(status, 404);
        assert!(body.contains("There is nothing at this address."), "{body}");
        // SQLite searches for the text and finds nothing; PostgreSQL refuses it, which the page says.
        let status = audit.status().as_u16();
        let body = audit.text().await.unwrap();
        if app.store.is_postgres() {
            assert_eq!(status, 400, "{body}");
            assert!(
                body.contains(
                    "What was sent holds a NUL character (\\0), which cannot be stored, so nothing was changed."
                ),
                "{body}"
            );
        } else {
            assert_eq!(status, 200, "{body}");
        }
    }
);
