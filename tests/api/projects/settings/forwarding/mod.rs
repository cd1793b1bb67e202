//! `/projects/{project}/settings/forwarding`: adding, changing, pausing, rotating and removing destinations —
//! every refusal with its sentence and nothing stored, the signing secret shown once and never again (pages,
//! audit log), support reading without changing; the delivery log, Send test event, Redeliver and Replay are in
//! `log.rs`, against a real receiver on loopback (`receiver.rs`).
mod log;
pub mod receiver;

use storedesk::domain::Role;
use storedesk::store::{AuditFilter, Project};

use crate::helpers::{assert_redirect_to, create_project, spawn_app, Backend, Session, TestApp};
use crate::on_both_backends;
use crate::projects::notifications::signed::esc;

pub const PAGE: &str = "/projects/demo/settings/forwarding";

/// An app with the project `demo`.
async fn app_with_project(backend: Backend) -> Option<(TestApp, Project)> {
    let app = spawn_app(backend).await?;
    let admin = app.session(Role::Admin).await;
    assert_eq!(create_project(&admin, "demo").await.status().as_u16(), 303);
    let project = app.store.project_by_slug("demo").await.unwrap().unwrap();
    Some((app, project))
}

macro_rules! with_project {
    ($name:ident, |$app:ident, $project:ident| $body:block) => {
        on_both_backends!($name, |backend| app_with_project(backend), ($app, $project) => $body);
    };
}

pub async fn audit(app: &TestApp) -> Vec<(String, String, String)> {
    app.store
        .list_audit(&AuditFilter {
            limit: 1000,
            ..AuditFilter::default()
        })
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action.starts_with("forwarding."))
        .map(|e| (e.action, e.target, e.detail))
        .collect()
}

/// The secret on a page that shows one.
pub fn secret_on(html: &str) -> String {
    let marker = "id=\"new-secret\">";
    let start = html.find(marker).expect("the page shows a secret") + marker.len();
    let end = html[start..].find('<').unwrap() + start;
    html[start..end].to_owned()
}

/// Adds a destination through the form and returns its id and secret.
pub async fn add(
    s: &Session,
    app: &TestApp,
    project: &Project,
    name: &str,
    url: &str,
) -> (i64, String) {
    let r = s
        .post_form(
            PAGE,
            PAGE,
            &[
                ("name", name),
                ("url", url),
                ("production", "on"),
                ("sandbox", "on"),
            ],
        )
        .await;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        r.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let html = r.text().await.unwrap();
    assert!(html.contains("will not be shown again"), "{html}");
    let secret = secret_on(&html);
    let id = app
        .store
        .forward_destinations(project.id)
        .await
        .unwrap()
        .into_iter()
        .find(|d| d.settings.name == name)
        .unwrap()
        .id;
    (id, secret)
}

/// A form, the id of the sentence's paragraph, the sentence.
pub type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
type OwnedCase<'a> = (Vec<(&'a str, &'a str)>, &'a str, &'a str);

const GOOD: &str = "https://api.example.com/apple/notifications";

with_project!(
    every_bad_destination_is_refused_with_its_sentence_and_nothing_is_stored,
    |app, project| {
        let lead = app.session(Role::Lead).await;
        let cases: &[Case] = &[
            (&[("name", "b"), ("url", ""), ("production", "on")], "add-url-error",
             "Enter the URL of your server that should receive Apple's notifications, such as https://api.example.com/apple/notifications."),
            (&[("name", "b"), ("url", "api.example.com/apple"), ("production", "on")], "add-url-error",
             "This is not a URL. Enter the whole address, starting with https://."),
            (&[("name", "b"), ("url", "ftp://api.example.com/x"), ("production", "on")], "add-url-error",
             "This is not a URL. Enter the whole address, starting with https://."),
            (&[("name", "b"), ("url", "https://"), ("production", "on")], "add-url-error",
             "The URL has no host. Enter the server's name or address after https://, such as https://api.example.com/apple/notifications."),
            (&[("name", "b"), ("url", "http://api.example.com/apple"), ("production", "on")], "add-url-error",
             "The URL must start with https://, so that notifications travel encrypted. Plain http:// is accepted only for this machine (localhost, 127.0.0.1 or [::1])."),
            (&[("name", "b"), ("url", "http://10.0.0.5/apple"), ("production", "on")], "add-url-error",
             "The URL must start with https://, so that notifications travel encrypted. Plain http:// is accepted only for this machine (localhost, 127.0.0.1 or [::1])."),
            (&[("name", "b"), ("url", "https://user:pw@api.example.com/x"), ("production", "on")], "add-url-error",
             "Leave the user name and password out of the URL: it is shown on pages and in the audit log, and storedesk signs every delivery instead."),
            (&[("name", "b"), ("url", "https://169.254.10.1/x"), ("production", "on")], "add-url-error",
             "Link-local addresses (169.254.0.0/16 and fe80::/10) are refused: they reach the network the server runs in, not your backend."),
            (&[("name", "b"), ("url", "https://[fe80::1]/x"), ("production", "on")], "add-url-error",
             "Link-local addresses (169.254.0.0/16 and fe80::/10) are refused: they reach the network the server runs in, not your backend."),
            (&[("name", "b"), ("url", "http://169.254.169.254/latest/meta-data/"), ("production", "on")], "add-url-error",
             "This is a cloud metadata service (169.254.169.254, fd00:ec2::254, 100.100.100.200, metadata.google.internal), which storedesk never sends anything to."),
            (&[("name", "b"), ("url", "https://[fd00:ec2::254]/"), ("production", "on")], "add-url-error",
             "This is a cloud metadata service (169.254.169.254, fd00:ec2::254, 100.100.100.200, metadata.google.internal), which storedesk never sends anything to."),
            (&[("name", "b"), ("url", "https://100.100.100.200/"), ("production", "on")], "add-url-error",
             "This is a cloud metadata service (169.254.169.254, fd00:ec2::254, 100.100.100.200, metadata.google.internal), which storedesk never sends anything to."),
            (&[("name", "b"), ("url", "http://metadata.google.internal/computeMetadata/v1/"), ("production", "on")], "add-url-error",
             "This is a cloud metadata service (169.254.169.254, fd00:ec2::254, 100.100.100.200, metadata.google.internal), which storedesk never sends anything to."),
            (&[("name", "b"), ("url", "https://metadata.goog/"), ("production", "on")], "add-url-error",
             "This is a cloud metadata service (169.254.169.254, fd00:ec2::254, 100.100.100.200, metadata.google.internal), which storedesk never sends anything to."),
            (&[("name", "b"), ("url", "https://0.0.0.0/x"), ("production", "on")], "add-url-error",
             "0.0.0.0 and [::] name no server. Enter your server's own name or address."),
            (&[("name", ""), ("url", GOOD), ("production", "on")], "add-name-error",
             "Give the destination a name, such as “Backend (production)”."),
            (&[("name", "   "), ("url", GOOD), ("production", "on")], "add-name-error",
             "Give the destination a name, such as “Backend (production)”."),
            (&[("name", "b"), ("url", GOOD)], "add-environment-error",
             "Tick at least one environment: Production, Sandbox or both."),
            (&[("name", "b"), ("url", GOOD), ("sandbox", "on"), ("type.NOT_A_TYPE", "on")], "add-types-error",
             "“NOT_A_TYPE” is not a notification type Apple sends. Tick types from the list."),
        ];
        let long_name = "n".repeat(81);
        let long_url = format!("https://api.example.com/{}", "a".repeat(2048));
        let more: Vec<OwnedCase> = vec![
            (
                vec![("name", &long_name), ("url", GOOD), ("production", "on")],
                "add-name-error",
                "A destination's name is at most 80 characters long.",
            ),
            (
                vec![("name", "b"), ("url", &long_url), ("production", "on")],
                "add-url-error",
                "A destination's URL is at most 2,048 characters long.",
            ),
        ];
        let all = cases
            .iter()
            .map(|(f, i, s)| (f.to_vec(), *i, *s))
            .chain(more);
        for (form, field, sentence) in all {
            let r = lead.post_form(PAGE, PAGE, &form).await;
            assert_eq!(r.status().as_u16(), 422, "{form:?}");
            let html = r.text().await.unwrap();
            assert!(
                html.contains(&format!(
                    "<p class=\"field-error\" id=\"{field}\">{}</p>",
                    esc(sentence)
                )),
                "{form:?} should be refused with {sentence:?}"
            );
            assert!(
                !html.contains("id=\"new-secret\""),
                "a refused form showed a secret"
            );
            assert!(
                app.store
                    .forward_destinations(project.id)
                    .await
                    .unwrap()
                    .is_empty(),
                "{form:?} stored"
            );
            assert!(audit(&app).await.is_empty(), "{form:?} was audited");
        }
        // A refused form keeps what was typed and ticked.
        let html = lead
            .post_form(
                PAGE,
                PAGE,
                &[
                    ("name", "Backend"),
                    ("url", "http://api.example.com/x"),
                    ("sandbox", "on"),
                    ("type.REFUND", "on"),
                ],
            )
            .await
            .text()
            .await
            .unwrap();
        assert!(html.contains("value=\"Backend\""));
        assert!(html.contains("value=\"http://api.example.com/x\""));
        assert!(html.contains("name=\"sandbox\" value=\"on\" checked>"));
        assert!(html.contains("name=\"production\" value=\"on\">"));
        assert!(html.contains("name=\"type.REFUND\" value=\"on\" checked>"));
    }
);

with_project!(
    the_secret_is_shown_once_and_never_again_even_after_rotation,
    |app, project| {
        let admin = app.session(Role::Admin).await;
        let (id, secret) = add(&admin, &app, &project, "Backend", GOOD).await;
        assert!(
            secret.starts_with("whsec_") && secret.len() > 40,
            "{secret}"
        );
        let page = format!("{PAGE}/{id}");
        let rotated = admin.post_form(&page, &format!("{page}/rotate"), &[]).await;
        assert_eq!(rotated.status().as_u16(), 200);
        let html = rotated.text().await.unwrap();
        assert!(html.contains("will not be shown again"));
        assert!(
            html.contains("the previous secret")
                || html.contains("signed with the previous secret too")
        );
        let second = secret_on(&html);
        assert!(second.starts_with("whsec_"));
        assert_ne!(second, secret);
        // Never again: not on any page, for any role, nor in the audit log (nor its page).
        for role in [Role::Admin, Role::Lead, Role::Support] {
            let s = app.session(role).await;
            for path in [
                PAGE.to_owned(),
                page.clone(),
                "/admin/audit".to_owned(),
                "/projects/demo/settings/stores/apple".to_owned(),
            ] {
                let html = s.get_text(&path).await;
                for sec in [&secret, &second] {
                    let body = &sec["whsec_".len()..];
                    assert!(
                        !html.contains(body),
                        "{path} shows a secret to {}",
                        role.as_str()
                    );
                }
            }
        }
        let rows = audit(&app).await;
        assert_eq!(
            rows.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(),
            ["forwarding.secret_rotate", "forwarding.destination_add"]
        );
        for (_, _, detail) in &rows {
            assert!(!detail.contains("whsec_"), "{detail}");
        }
        // The destination's page says the previous secret signs for 24 hours more.
        assert!(admin
            .get_text(&page)
            .await
            .contains("the previous secret signs too until"));
        // The secret sealed is the one shown (the store opens it back).
        let d = app
            .store
            .forward_destination(project.id, id)
            .await
            .unwrap()
            .unwrap();
        let opened = storedesk::keys::open_forward_secret(
            &app.settings.keyring(),
            project.id,
            id,
            &d.sealed_secret,
            &d.master_key_id,
        )
        .unwrap();
        use secrecy::ExposeSecret;
        assert_eq!(opened.expose_secret(), second);
    }
);

with_project!(
    edit_pause_resume_and_remove_are_audited_and_remove_needs_its_box,
    |app, project| {
        let lead = app.session(Role::Lead).await;
        let (id, _) = add(&lead, &app, &project, "Backend", GOOD).await;
        let page = format!("{PAGE}/{id}");
        // Edit: refused input changes nothing.
        let r = lead
            .post_form(
                &page,
                &page,
                &[
                    ("name", "Backend"),
                    ("url", "http://example.com/x"),
                    ("production", "on"),
                ],
            )
            .await;
        assert_eq!(r.status().as_u16(), 422);
        assert!(r.text().await.unwrap().contains("id=\"edit-url-error\""));
        let r = lead
            .post_form(
                &page,
                &page,
                &[
                    ("name", "Backend v2"),
                    ("url", "https://10.0.0.7:8443/hook"),
                    ("sandbox", "on"),
                    ("type.REFUND", "on"),
                    ("type.DID_RENEW", "on"),
                ],
            )
            .await;
        assert_redirect_to(&r, &page);
        let d = app
            .store
            .forward_destination(project.id, id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(d.settings.name, "Backend v2");
        assert_eq!(d.settings.url, "https://10.0.0.7:8443/hook");
        assert!(!d.settings.production && d.settings.sandbox);
        assert_eq!(d.settings.types, ["DID_RENEW", "REFUND"]);
        assert!(d.settings.enabled);
        // Pause and resume.
        assert_redirect_to(
            &lead.post_form(&page, &format!("{page}/pause"), &[]).await,
            &page,
        );
        assert!(
            !app.store
                .forward_destination(project.id, id)
                .await
                .unwrap()
                .unwrap()
                .settings
                .enabled
        );
        let html = lead.get_text(&page).await;
        assert!(html.contains("<span class=\"badge badge-neutral\">paused</span>"));
        assert!(html.contains("/resume\""));
        assert_redirect_to(
            &lead.post_form(&page, &format!("{page}/resume"), &[]).await,
            &page,
        );
        assert!(
            app.store
                .forward_destination(project.id, id)
                .await
                .unwrap()
                .unwrap()
                .settings
                .enabled
        );
        // Remove without the box: nothing removed.
        let r = lead.post_form(&page, &format!("{page}/remove"), &[]).await;
        assert_eq!(r.status().as_u16(), 422);
        assert!(r.text().await.unwrap().contains("Tick the box to confirm: removing a destination deletes its delivery log and stops its deliveries."));
        assert!(app
            .store
            .forward_destination(project.id, id)
            .await
            .unwrap()
            .is_some());
        let r = lead
            .post_form(&page, &format!("{page}/remove"), &[("confirm", "yes")])
            .await;
        assert_redirect_to(&r, PAGE);
        assert!(app
            .store
            .forward_destination(project.id, id)
            .await
            .unwrap()
            .is_none());
        assert_eq!(lead.get(&page).await.status().as_u16(), 404);
        let actions: Vec<String> = audit(&app).await.into_iter().map(|r| r.0).collect();
        assert_eq!(
            actions,
            [
                "forwarding.destination_remove",
                "forwarding.destination_resume",
                "forwarding.destination_pause",
                "forwarding.destination_change",
                "forwarding.destination_add"
            ]
        );
    }
);

with_project!(
    support_reads_destinations_and_their_logs_but_changes_nothing,
    |app, project| {
        let admin = app.session(Role::Admin).await;
        let (id, _) = add(&admin, &app, &project, "Backend", GOOD).await;
        let support = app.session(Role::Support).await;
        let list = support.get(PAGE).await;
        assert_eq!(list.status().as_u16(), 200);
        let html = list.text().await.unwrap();
        assert!(html.contains("Backend") && html.contains(GOOD));
        assert!(
            !html.contains("Add a destination"),
            "support sees the add form"
        );
        let page = format!("{PAGE}/{id}");
        let html = support.get_text(&page).await;
        assert!(html.contains("Delivery log"));
        for action in ["/test\"", "/pause\"", "/rotate\"", "/remove\"", "/replay\""] {
            assert!(!html.contains(action), "support sees {action}");
        }
        let csrf = crate::helpers::csrf_from(&html);
        for path in [
            PAGE.to_owned(),
            page.clone(),
            format!("{page}/pause"),
            format!("{page}/rotate"),
            format!("{page}/remove"),
            format!("{page}/test"),
            format!("{page}/replay"),
        ] {
            let r = support
                .client
                .post(support.url(&path))
                .form(&[
                    ("csrf_token", csrf.as_str()),
                    ("name", "x"),
                    ("url", GOOD),
                    ("production", "on"),
                    ("confirm", "yes"),
                ])
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 403, "POST {path}");
        }
        assert_eq!(
            app.store
                .forward_destinations(project.id)
                .await
                .unwrap()
                .len(),
            1
        );
        assert_eq!(audit(&app).await.len(), 1);
        // Another project's destination is not found under this one.
        assert_eq!(
            support
                .get(&format!("{PAGE}/{}", id + 100))
                .await
                .status()
                .as_u16(),
            404
        );
    }
);
