//! The audit log records changes with who, what, when and from where, and admins can filter it.
use storedesk::domain::Role;

use crate::both_backends;
use crate::helpers::create_project;

both_backends!(
    changes_are_audited_with_actor_and_address_and_can_be_filtered,
    |app| {
        let admin = app.session(Role::Admin).await;
        create_project(&admin, "demo").await;
        admin
            .post_form(
                "/admin/users",
                "/admin/users",
                &[("email", "x@example.com"), ("role", "lead")],
            )
            .await;
        let entries = app.store.list_audit(&Default::default()).await.unwrap();
        let create = entries
            .iter()
            .find(|e| e.action == "project.create")
            .expect("project.create audited");
        assert_eq!(create.user_email, "admin@example.com");
        assert_eq!(create.ip, "127.0.0.1");
        assert_eq!(create.target, "demo");
        assert!(entries
            .iter()
            .any(|e| e.action == "user.create" && e.target == "x@example.com"));

        let page = admin.get_text("/admin/audit?action=project.create").await;
        assert!(page.contains("project.create") && !page.contains("<code>user.create</code>"));
        let bad_date = admin.get("/admin/audit?from=26/11/2026").await;
        assert_eq!(bad_date.status().as_u16(), 200);
        assert!(bad_date
            .text()
            .await
            .unwrap()
            .contains("Dates are written YYYY-MM-DD"));
    }
);
