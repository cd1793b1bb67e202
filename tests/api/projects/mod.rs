//! Creating, listing and editing projects, with each field's validation.
pub mod catalog;
mod customers;
mod extend_all;
pub mod keys;
pub mod names;
pub mod notifications;
mod offer_catalog;
mod offers;
mod overview;
pub mod settings;
mod subscriptions;
pub mod transactions;

use storedesk::domain::Role;

use crate::both_backends;
use crate::helpers::{assert_redirect_to, create_project, csrf_from};

both_backends!(
    a_lead_creates_a_project_and_is_sent_to_the_app_store_wizard,
    |app| {
        let lead = app.session(Role::Lead).await;
        let response = create_project(&lead, "demo").await;
        assert_redirect_to(&response, "/projects/demo/settings/stores/apple");
        let list = lead.get_text("/projects").await;
        assert!(list.contains("Demo App") && list.contains("com.example.demo"));
        let p = app.store.project_by_slug("demo").await.unwrap().unwrap();
        assert_eq!(p.app_apple_id, Some(1234567890));
        assert_eq!(p.environment, "Production");
    }
);

both_backends!(
    each_bad_project_field_gets_its_own_message_and_nothing_is_stored,
    |app| {
        let lead = app.session(Role::Lead).await;
        let r = lead
            .post_form(
                "/projects/new",
                "/projects",
                &[
                    ("name", " "),
                    ("slug", "Bad Slug"),
                    ("bundle_id", "nodots"),
                    ("app_apple_id", "12ab"),
                    ("environment", "Staging"),
                ],
            )
            .await;
        assert_eq!(r.status().as_u16(), 422);
        let body = r.text().await.unwrap();
        for id in [
            "name-error",
            "slug-error",
            "bundle_id-error",
            "app_apple_id-error",
            "environment-error",
        ] {
            assert!(body.contains(&format!("id=\"{id}\"")), "missing {id}");
        }
        assert!(body.contains("Enter a name for the project"));
        assert!(body.contains("Choose Production or Sandbox."));
        assert!(body.contains("value=\"Bad Slug\""), "typed values are kept");
        assert!(app.store.list_projects().await.unwrap().is_empty());
    }
);

both_backends!(a_taken_slug_is_refused, |app| {
    let lead = app.session(Role::Lead).await;
    create_project(&lead, "demo").await;
    let r = create_project(&lead, "demo").await;
    assert_eq!(r.status().as_u16(), 422);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Another project already uses this slug."));
    assert_eq!(app.store.list_projects().await.unwrap().len(), 1);
});

both_backends!(the_slug_of_the_new_project_page_is_refused, |app| {
    let lead = app.session(Role::Lead).await;

    let r = create_project(&lead, "new").await;

    assert_eq!(r.status().as_u16(), 422);
    assert!(r.text().await.unwrap().contains(
        "“new” is the address of the page that creates projects, so it can&#39;t be a project&#39;s slug. Choose another."
    ));
    assert!(app.store.list_projects().await.unwrap().is_empty());
});

both_backends!(editing_a_project_changes_it_and_is_audited, |app| {
    let admin = app.session(Role::Admin).await;
    create_project(&admin, "demo").await;
    let r = admin
        .post_form(
            "/projects/demo/edit",
            "/projects/demo/edit",
            &[
                ("name", "Renamed"),
                ("slug", "renamed"),
                ("bundle_id", "com.example.renamed"),
                ("app_apple_id", ""),
                ("environment", "Sandbox"),
            ],
        )
        .await;
    assert_redirect_to(&r, "/projects/renamed");
    let p = app.store.project_by_slug("renamed").await.unwrap().unwrap();
    assert_eq!(
        (p.name.as_str(), p.app_apple_id, p.environment.as_str()),
        ("Renamed", None, "Sandbox")
    );
    let audit = app.store.list_audit(&Default::default()).await.unwrap();
    let edit = audit
        .iter()
        .find(|e| e.action == "project.update")
        .expect("audited");
    assert!(
        edit.detail.contains("slug demo -> renamed")
            && edit.detail.contains("App Apple ID 1234567890 -> none"),
        "{}",
        edit.detail
    );
    assert_eq!(admin.get("/projects/demo").await.status().as_u16(), 404);
});

both_backends!(edits_sent_at_once_are_applied_one_after_the_other, |app| {
    // Arrange: several admins renaming one project at the same moment.
    const AT_ONCE: usize = 8;
    let admin = app.session(Role::Admin).await;
    create_project(&admin, "demo").await;
    let csrf = csrf_from(&admin.get_text("/projects/demo/edit").await);
    let names: Vec<String> = (0..AT_ONCE).map(|i| format!("Name {i}")).collect();
    let edit = |name: &str| {
        admin
            .client
            .post(admin.url("/projects/demo/edit"))
            .form(&[
                ("name", name),
                ("slug", "demo"),
                ("bundle_id", "com.example.demo"),
                ("app_apple_id", "1234567890"),
                ("environment", "Production"),
                ("csrf_token", csrf.as_str()),
            ])
            .send()
    };

    // Act
    let answers = futures_util::future::join_all(names.iter().map(|n| edit(n))).await;

    // Assert: every edit is saved (none fails on a busy database), and the audit log tells them as one chain:
    // each edit renamed what the one before it had saved, never a name another edit had already replaced.
    for r in answers {
        assert_redirect_to(&r.unwrap(), "/projects/demo");
    }
    let audit = app.store.list_audit(&Default::default()).await.unwrap();
    let renames: Vec<(String, String)> = audit
        .iter()
        .filter(|e| e.action == "project.update")
        .map(|e| {
            let (from, to) = e.detail.split_once(" -> ").expect(&e.detail);
            (
                from.trim_start_matches("name ")
                    .trim_matches('"')
                    .to_owned(),
                to.trim_matches('"').to_owned(),
            )
        })
        .collect();
    assert_eq!(renames.len(), AT_ONCE, "{renames:?}");
    let last = app
        .store
        .project_by_slug("demo")
        .await
        .unwrap()
        .unwrap()
        .name;
    let mut froms: Vec<&str> = renames.iter().map(|(f, _)| f.as_str()).collect();
    let mut expected: Vec<&str> = std::iter::once("Demo App")
        .chain(
            renames
                .iter()
                .map(|(_, t)| t.as_str())
                .filter(|t| *t != last),
        )
        .collect();
    froms.sort_unstable();
    expected.sort_unstable();
    assert_eq!(froms, expected, "{renames:?}");
});
