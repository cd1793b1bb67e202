//! The account admin's first setup, start to end: sign in, create the project, Step 1 and Step 3 of the App Store
//! wizard (every validation message, then a real `.p8` chosen in the file input), rotation on the keys page,
//! sign out.
use std::path::Path;

use storedesk::apple_sim::{DEFAULT_APP_APPLE_ID, DEFAULT_BUNDLE_ID, DEFAULT_ISSUER_ID};

use crate::app::{TestApp, ADMIN, PASSWORD};
use crate::checks::{assert_controls_labelled, assert_errors_tied};
use crate::driver::Browser;
use crate::keys;

/// With `STOREDESK_UPDATE_SCREENSHOTS=1`, copies a screenshot into `docs/screenshots/` for the README.
pub fn publish(shot: &Path, name: &str) {
    if std::env::var("STOREDESK_UPDATE_SCREENSHOTS").as_deref() != Ok("1") {
        return;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("docs")
        .join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(shot, dir.join(name)).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_sets_up_the_app_store_key_rotates_it_and_signs_out() {
    let app = TestApp::spawn().await;
    let Some(b) = Browser::start("setup", &app.address).await else {
        return;
    };
    let files = tempfile::tempdir().unwrap();

    // Sign in through the form.
    b.goto("/login").await;
    assert_eq!(b.title().await, "Sign in · storedesk");
    b.screenshot("sign-in").await;
    b.sign_in(ADMIN, PASSWORD).await;
    assert_eq!(b.path().await, "/projects");
    assert!(b.text("header .who").await.contains(ADMIN));
    b.assert_clean().await;

    // Create a project through the form.
    b.click_and_wait("a[href='/projects/new']").await;
    assert_controls_labelled(&b).await;
    b.fill("#name", "Demo App").await;
    b.fill("#slug", "demo-app").await;
    b.fill("#bundle_id", DEFAULT_BUNDLE_ID).await;
    b.fill("#app_apple_id", &DEFAULT_APP_APPLE_ID.to_string())
        .await;
    b.find("input[name=environment][value=Production]")
        .await
        .click()
        .await
        .unwrap();
    b.screenshot("new-project").await;
    b.click_and_wait("main form button[type=submit]").await;
    assert_eq!(b.path().await, "/projects/demo-app/settings/stores/apple");
    assert!(b
        .text(".flash")
        .await
        .contains("Project “Demo App” created"));
    b.assert_clean().await;

    // Step 1 shows the app's identity.
    let step1 = b.text("section[aria-labelledby=step1]").await;
    assert!(step1.contains(DEFAULT_BUNDLE_ID), "Step 1: {step1}");
    assert!(
        step1.contains(&DEFAULT_APP_APPLE_ID.to_string()),
        "Step 1: {step1}"
    );
    assert!(b
        .text(".steps")
        .await
        .contains("Step 3 · Server API access not started"));
    assert_controls_labelled(&b).await;
    b.screenshot("wizard-empty").await;

    // Step 3 with everything wrong: a key's name as Key ID, a malformed Issuer ID, a P-384 key.
    let wrong_file = keys::write_file(files.path(), "my-iap-key.p8", &keys::p384_pem());
    b.fill("#key_id", "My IAP key").await;
    b.fill("#issuer_id", "not-an-issuer-id").await;
    b.find("#private_key")
        .await
        .send_keys(wrong_file.to_str().unwrap())
        .await
        .unwrap();
    b.click_and_wait("#step3 form[enctype='multipart/form-data'] button[type=submit]")
        .await;
    assert_eq!(b.status().await, 422);
    let errors = assert_errors_tied(&b, &["key_id", "issuer_id", "private_key"]).await;
    assert!(
        errors["key_id"].contains("looks like the key's name, not its Key ID"),
        "{errors:?}"
    );
    assert!(
        errors["issuer_id"].contains("groups of 8, 4, 4, 4 and 12 hexadecimal characters"),
        "{errors:?}"
    );
    assert!(
        errors["private_key"].contains("on P-384") && errors["private_key"].contains("P-256"),
        "{errors:?}"
    );
    // Each message sits right after its own field.
    for field in ["key_id", "issuer_id", "private_key"] {
        let next = b.text(&format!("#{field} ~ #{field}-error")).await;
        assert_eq!(next, errors[field]);
    }
    assert_eq!(
        b.find("#key_id")
            .await
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some("My IAP key")
    );
    assert!(
        b.text(".steps").await.contains("not started"),
        "nothing is stored after a refusal"
    );
    b.screenshot("step3-errors").await;
    b.assert_clean().await;

    // Step 3 with a real In-App Purchase–shaped key.
    let key_id = keys::random_key_id();
    let first = keys::p256_key();
    let p8 = keys::write_file(
        files.path(),
        &format!("SubscriptionKey_{key_id}.p8"),
        &first.pem,
    );
    b.fill("#key_id", &key_id).await;
    b.fill("#issuer_id", DEFAULT_ISSUER_ID).await;
    b.find("#private_key")
        .await
        .send_keys(p8.to_str().unwrap())
        .await
        .unwrap();
    b.click_and_wait("#step3 form[enctype='multipart/form-data'] button[type=submit]")
        .await;
    assert_eq!(b.path().await, "/projects/demo-app/settings/stores/apple");
    assert_eq!(b.status().await, 200);
    assert!(b
        .text(".flash")
        .await
        .contains(&format!("Key {key_id} is saved and encrypted")));
    assert_eq!(b.text("#current-key-id").await, key_id);
    assert_eq!(b.text(".fingerprint").await, first.fingerprint);
    assert!(b
        .text(".steps")
        .await
        .contains("Step 3 · Server API access saved"));
    assert!(
        !b.exists("#private_key").await,
        "the saved key is replaced on the keys page, not here"
    );
    b.assert_clean().await;
    let shot = b.screenshot("key-saved").await;
    publish(&shot, "wizard.png");

    // Verify now: the simulated Apple has never issued this key, so both environments refuse it, the page names
    // the likely causes, and the key's health says so at once.
    b.click_and_wait("main form[action='/projects/demo-app/keys/verify'] button")
        .await;
    assert_eq!(b.path().await, "/projects/demo-app/settings/stores/apple");
    let flash = b.text(".flash-error").await;
    assert!(
        flash.contains("Apple refused the key in both Sandbox and Production (HTTP 401)"),
        "{flash}"
    );
    assert!(flash.contains("Most likely causes"), "{flash}");
    assert_eq!(b.text("#current-key-id").await, key_id);
    assert!(b
        .text("#key-health")
        .await
        .starts_with("refused Apple refused this key in Sandbox and in Production (HTTP 401)"));
    assert!(b
        .text(".steps")
        .await
        .contains("Step 3 · Server API access failing"));
    b.assert_clean().await;
    b.screenshot("verify-refused").await;

    // The keys page: rotate to a key the (simulated) Apple accepts; the Issuer ID is already filled in.
    b.click_and_wait("nav.project-nav a[href='/projects/demo-app/keys']")
        .await;
    assert_controls_labelled(&b).await;
    assert_eq!(
        b.find("#issuer_id")
            .await
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some(DEFAULT_ISSUER_ID)
    );
    assert_eq!(
        b.find("#key_id")
            .await
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some("")
    );
    let second = app.sim.issue_key();
    assert_eq!(second.issuer_id, DEFAULT_ISSUER_ID);
    let p8 = keys::write_file(files.path(), &second.file_name, &second.private_key_pem);
    b.fill("#key_id", &second.key_id).await;
    b.find("#private_key")
        .await
        .send_keys(p8.to_str().unwrap())
        .await
        .unwrap();
    b.click_and_wait("main form[enctype='multipart/form-data'] button[type=submit]")
        .await;
    assert_eq!(b.path().await, "/projects/demo-app/keys");
    let flash = b.text(".flash").await;
    assert!(
        flash.contains(&format!(
            "Key {} is now the key in use. Key {key_id}, which Apple refused, is retired and its private part destroyed.",
            second.key_id
        )),
        "{flash}"
    );
    let rows = b
        .client
        .find_all(fantoccini::Locator::Css("tbody tr"))
        .await
        .unwrap();
    let mut texts = Vec::new();
    for row in rows {
        texts.push(row.text().await.unwrap());
    }
    assert_eq!(texts.len(), 2, "{texts:#?}");
    let row_of = |id: &str| {
        texts
            .iter()
            .find(|t| t.contains(id))
            .unwrap_or_else(|| panic!("no row for {id}: {texts:#?}"))
            .clone()
    };
    let (new_row, old_row) = (row_of(&second.key_id), row_of(&key_id));
    assert!(new_row.contains("verified"), "{new_row}");
    assert!(
        new_row.contains(&keys::fingerprint_of_pem(&second.private_key_pem)),
        "{new_row}"
    );
    // Apple refused the first key in both environments before it was replaced: the row says so.
    assert!(
        old_row.contains("refused, retired") && old_row.contains(&first.fingerprint),
        "{old_row}"
    );
    b.assert_clean().await;
    let shot = b.screenshot("key-rotated").await;
    publish(&shot, "keys.png");

    // Verify now on the keys page: the new key is accepted in both environments.
    b.click_and_wait("main form[action='/projects/demo-app/keys/verify'] button")
        .await;
    assert_eq!(b.path().await, "/projects/demo-app/keys");
    let flash = b.text(".flash-ok").await;
    assert!(
        flash.contains("Apple accepted the key in Sandbox and in Production."),
        "{flash}"
    );
    b.assert_clean().await;

    // Sign out with the header's button: back at the sign-in page, and the session is gone.
    b.click_and_wait("header form[action='/logout'] button")
        .await;
    assert_eq!(b.path().await, "/login");
    assert!(b.text(".flash").await.contains("You are signed out."));
    assert!(b.exists("#email").await && b.exists("#password").await);
    b.screenshot("signed-out").await;
    b.goto("/projects/demo-app/keys").await;
    assert!(
        b.path().await.starts_with("/login"),
        "signed out, yet {} opened",
        b.path().await
    );
    b.assert_clean().await;

    b.finish().await;
}
