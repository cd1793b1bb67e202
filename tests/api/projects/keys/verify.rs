//! Verify now, and rotation that proves the new key first, against the Apple simulator over real HTTP.
use storedesk::apple_sim::{IssuedKey, SimConfig};
use storedesk::domain::Role;

use crate::helpers::{assert_redirect_to, project_for, store_key, Session};
use crate::with_sim;

pub fn random_key(issuer: &str) -> IssuedKey {
    use p256::pkcs8::EncodePrivateKey;
    let secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
    IssuedKey {
        key_id: "ZZZZZZZZZ9".into(),
        issuer_id: issuer.into(),
        private_key_pem: secret.to_pkcs8_pem(Default::default()).unwrap().to_string(),
        file_name: "SubscriptionKey_ZZZZZZZZZ9.p8".into(),
    }
}

async fn verify(admin: &Session) -> String {
    let r = admin
        .post_form(
            "/projects/demo/keys",
            "/projects/demo/keys/verify",
            &[("return_to", "keys")],
        )
        .await;
    assert_redirect_to(&r, "/projects/demo/keys");
    admin.get_text("/projects/demo/keys").await
}

with_sim!(
    a_key_the_simulator_issued_is_verified_in_both_environments,
    SimConfig::default(),
    |app, sim| {
        let admin = app.session(Role::Admin).await;
        let project = project_for(&app, &sim, &admin).await;
        let row = store_key(&app, &project, &sim.issue_key()).await;
        let page = verify(&admin).await;
        assert!(
            page.contains("Apple accepted the key in Sandbox and in Production."),
            "{page}"
        );
        let key = app.store.key_in_use(project.id).await.unwrap().unwrap();
        assert_eq!(key.id, row);
        assert!(key.verified_at.is_some() && key.last_success_at.is_some());
        let wizard = admin.get_text("/projects/demo/settings/stores/apple").await;
        assert!(
            wizard.contains(
                r##"<a href="#step3">Step 3 · Server API access</a> <span class="badge badge-good">verified</span>"##
            ),
            "{wizard}"
        );
        assert!(app
            .store
            .list_audit(&Default::default())
            .await
            .unwrap()
            .iter()
            .any(|e| e.action == "key.verify"));
    }
);

with_sim!(
    a_gateway_refusal_without_an_error_code_is_not_called_an_apple_outage,
    SimConfig::default(),
    |app, sim| {
        // Arrange: something between us and Apple answers 403 in plain text, in both environments.
        let admin = app.session(Role::Admin).await;
        let project = project_for(&app, &sim, &admin).await;
        store_key(&app, &project, &sim.issue_key()).await;
        sim.inject_fault(storedesk::apple_sim::Fault::HttpStatus {
            status: 403,
            count: 2,
        });

        // Act
        let page = verify(&admin).await;

        // Assert: the page names what came back instead of blaming Apple's servers.
        let sentence = storedesk::apple::AppleError::HttpStatus {
            status: 403,
            retries: 0,
        }
        .sentence();
        let sentence = sentence.trim_end_matches('.').replace('\'', "&#39;");
        assert!(
            page.contains(&format!("Sandbox: {sentence}. Production: {sentence}.")),
            "{page}"
        );
        assert!(!page.contains("an error of their own (5xx)"), "{page}");
    }
);

with_sim!(
    a_key_apple_does_not_know_is_refused_in_both_and_the_causes_are_named,
    SimConfig::default(),
    |app, sim| {
        let admin = app.session(Role::Admin).await;
        let project = project_for(&app, &sim, &admin).await;
        store_key(&app, &project, &random_key(&sim.issue_key().issuer_id)).await;
        let page = verify(&admin).await;
        assert!(
            page.contains("Apple refused the key in both Sandbox and Production (HTTP 401)."),
            "{page}"
        );
        assert!(
            page.contains(
                "The Key ID is the key&#39;s name rather than the 10-character code in its row."
            ),
            "{page}"
        );
        // A refusal in both environments is said at once: the key is failing after this one check.
        let key = app.store.key_in_use(project.id).await.unwrap().unwrap();
        assert!(key.verified_at.is_none());
        assert_eq!(key.status.as_str(), "failing");
        assert!(
            page.contains("Apple refused this key in Sandbox and in Production (HTTP 401)"),
            "the banner says so: {page}"
        );
        assert!(page.contains(r#"id="key-banner""#), "{page}");
        assert_eq!(
            key.last_failure.as_deref(),
            Some("HTTP 401 in Sandbox and in Production (Verify now)"),
            "not \"401 in Production\" when both refused"
        );
    }
);

with_sim!(
    an_app_never_released_passes_in_sandbox_and_is_named_for_production,
    SimConfig {
        production_released: false,
        ..SimConfig::default()
    },
    |app, sim| {
        let admin = app.session(Role::Admin).await;
        let project = project_for(&app, &sim, &admin).await;
        store_key(&app, &project, &sim.issue_key()).await;
        let page = verify(&admin).await;
        assert!(page.contains("Sandbox accepts the key, Production answers 401. Most likely the app has never been released in Production"), "{page}");
    }
);

with_sim!(
    a_key_revoked_at_apple_is_refused,
    SimConfig::default(),
    |app, sim| {
        let admin = app.session(Role::Admin).await;
        let project = project_for(&app, &sim, &admin).await;
        let issued = sim.issue_key();
        store_key(&app, &project, &issued).await;
        sim.revoke_key(&issued.key_id);
        let page = verify(&admin).await;
        assert!(page.contains("Apple refused the key in both Sandbox and Production (HTTP 401)."));
    }
);

with_sim!(
    apple_out_of_reach_is_named_as_a_network_problem,
    SimConfig::default(),
    |app, sim| {
        let admin = app.session(Role::Admin).await;
        let project = project_for(&app, &sim, &admin).await;
        store_key(&app, &project, &sim.issue_key()).await;
        sim.stop().await;
        let page = verify(&admin).await;
        assert!(
            page.contains("storedesk could not reach Apple in either environment"),
            "{page}"
        );
    }
);

with_sim!(
    a_rotation_to_a_key_apple_refuses_changes_nothing,
    SimConfig::default(),
    |app, sim| {
        let admin = app.session(Role::Admin).await;
        let project = project_for(&app, &sim, &admin).await;
        let good = sim.issue_key();
        let row = store_key(&app, &project, &good).await;
        let bad = random_key(&good.issuer_id);
        let r = upload(
            &admin,
            "/projects/demo/keys",
            "/projects/demo/keys",
            &bad,
            false,
        )
        .await;
        assert_eq!(r.status().as_u16(), 422);
        assert!(r
            .text()
            .await
            .unwrap()
            .contains("Nothing was changed: the current key stays in use."));
        assert_eq!(
            app.store.key_in_use(project.id).await.unwrap().unwrap().id,
            row
        );
        // A key Apple accepts takes over and arrives verified.
        let next = sim.issue_key();
        let r = upload(
            &admin,
            "/projects/demo/keys",
            "/projects/demo/keys",
            &next,
            false,
        )
        .await;
        assert_redirect_to(&r, "/projects/demo/keys");
        let now = app.store.key_in_use(project.id).await.unwrap().unwrap();
        assert_eq!(now.key_id, next.key_id);
        assert!(now.verified_at.is_some());
    }
);

with_sim!(
    a_rotation_while_apple_is_unreachable_needs_activate_anyway,
    SimConfig::default(),
    |app, sim| {
        let admin = app.session(Role::Admin).await;
        let project = project_for(&app, &sim, &admin).await;
        store_key(&app, &project, &sim.issue_key()).await;
        let next = sim.issue_key();
        sim.stop().await;
        let r = upload(
            &admin,
            "/projects/demo/keys",
            "/projects/demo/keys",
            &next,
            false,
        )
        .await;
        assert_eq!(r.status().as_u16(), 422);
        let body = r.text().await.unwrap();
        assert!(
            body.contains("Tick “Activate anyway”") && body.contains("name=\"activate_anyway\""),
            "{body}"
        );
        assert_ne!(
            app.store
                .key_in_use(project.id)
                .await
                .unwrap()
                .unwrap()
                .key_id,
            next.key_id
        );
        let r = upload(
            &admin,
            "/projects/demo/keys",
            "/projects/demo/keys",
            &next,
            true,
        )
        .await;
        assert_redirect_to(&r, "/projects/demo/keys");
        let now = app.store.key_in_use(project.id).await.unwrap().unwrap();
        assert_eq!(now.key_id, next.key_id);
        assert!(
            now.verified_at.is_none(),
            "switched on without Apple's confirmation"
        );
    }
);

/// Posts the Step 3 form as a browser does: multipart with the file.
pub async fn upload(
    s: &Session,
    form_page: &str,
    action: &str,
    key: &IssuedKey,
    activate_anyway: bool,
) -> reqwest::Response {
    let csrf = crate::helpers::csrf_from(&s.get_text(form_page).await);
    let boundary = "----storedesk-test-boundary";
    let mut body = String::new();
    let mut field = |name: &str, value: &str| {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    };
    field("csrf_token", &csrf);
    field("key_id", &key.key_id);
    field("issuer_id", &key.issuer_id);
    if activate_anyway {
        field("activate_anyway", "1");
    }
    body.push_str(&format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"private_key\"; filename=\"{}\"\r\nContent-Type: application/octet-stream\r\n\r\n{}\r\n--{boundary}--\r\n",
        key.file_name, key.private_key_pem
    ));
    s.client
        .post(s.url(action))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap()
}
