//! Step 1 with an App Store Connect API key, as an account admin does it: the wrong kind of key refused next to its
//! field, the right one saved, the app picked from App Store Connect's list on the project form (its Bundle ID and
//! App Apple ID filled in as it is chosen), Verify now, and the catalog synced and read at a phone's and a
//! desktop's width.
use fantoccini::key::Key;
use storedesk::apple_sim::ConnectRole;

use crate::app::{TestApp, ADMIN, PASSWORD};
use crate::checks::{assert_controls_labelled, assert_errors_tied};
use crate::driver::Browser;
use crate::keys;

const WIZARD: &str = "/projects/shop/settings/stores/apple";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step1_key_then_the_app_picked_from_the_list_verified_and_its_catalog_synced() {
    let app = TestApp::spawn().await;
    // Typed by hand before the key: a placeholder bundle ID and no App Apple ID, as a first project often is.
    app.seed_project_typed("shop", "com.example.placeholder")
        .await;
    let Some(b) = Browser::start("connect", &app.address).await else {
        return;
    };
    let files = tempfile::tempdir().unwrap();
    b.sign_in(ADMIN, PASSWORD).await;
    b.goto(&format!("{WIZARD}#step1")).await;

    // The In-App Purchase key at Step 1 is the wrong kind: refused next to the file field, nothing stored.
    let iap = app.sim.issue_key();
    let wrong = keys::write_file(files.path(), &iap.file_name, &iap.private_key_pem);
    b.fill("#connect_key_id", &iap.key_id).await;
    b.fill("#connect_issuer_id", &iap.issuer_id).await;
    b.find("#connect_private_key")
        .await
        .send_keys(wrong.to_str().unwrap())
        .await
        .unwrap();
    b.click_and_wait(
        "section[aria-labelledby=step1] form[enctype='multipart/form-data'] button[type=submit]",
    )
    .await;
    assert_eq!(b.status().await, 422);
    let errors = assert_errors_tied(&b, &["connect_private_key"]).await;
    assert_eq!(
        errors["connect_private_key"],
        storedesk::domain::connect_key::IN_APP_PURCHASE_KEY_AT_STEP_1
    );
    b.assert_clean().await;

    // The App Store Connect API key (App Manager) is saved.
    let key = app.sim.issue_connect_key(ConnectRole::AppManager);
    let p8 = keys::write_file(files.path(), &key.file_name, &key.private_key_pem);
    b.fill("#connect_key_id", &key.key_id).await;
    b.fill("#connect_issuer_id", &key.issuer_id).await;
    b.find("#connect_private_key")
        .await
        .send_keys(p8.to_str().unwrap())
        .await
        .unwrap();
    b.click_and_wait(
        "section[aria-labelledby=step1] form[enctype='multipart/form-data'] button[type=submit]",
    )
    .await;
    assert_eq!(b.path().await, format!("{WIZARD}#step1"));
    assert_eq!(
        b.text(".flash").await,
        format!(
            "App Store Connect API key {} is saved and encrypted. Next: Verify now, to prove App Store Connect accepts it.",
            key.key_id
        )
    );
    assert_eq!(b.text("#connect-key-id").await, key.key_id);

    // The project form lists the team's apps; choosing one fills both fields before anything is sent.
    b.goto("/projects/shop/edit").await;
    assert!(b
        .text("#connect-mismatch")
        .await
        .contains("None of the 2 app(s)"));
    assert_controls_labelled(&b).await;
    let list = b.find("#connect_app").await;
    list.select_by_value(&storedesk::apple_sim::DEFAULT_APP_APPLE_ID.to_string())
        .await
        .unwrap();
    assert_eq!(
        b.find("#bundle_id")
            .await
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some(storedesk::apple_sim::DEFAULT_BUNDLE_ID)
    );
    assert_eq!(
        b.find("#app_apple_id")
            .await
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some(
            storedesk::apple_sim::DEFAULT_APP_APPLE_ID
                .to_string()
                .as_str()
        )
    );
    b.screenshot("app-picked").await;
    b.enter_in("#name").await;
    assert_eq!(b.path().await, "/projects/shop");
    assert_eq!(b.text(".flash").await, "Project saved.");
    let project = app.store.project_by_slug("shop").await.unwrap().unwrap();
    assert_eq!(project.bundle_id, storedesk::apple_sim::DEFAULT_BUNDLE_ID);
    assert_eq!(
        project.app_apple_id,
        Some(storedesk::apple_sim::DEFAULT_APP_APPLE_ID)
    );

    // Verify now, from the keyboard.
    b.goto(WIZARD).await;
    b.client
        .execute("document.getElementById('connect-verify').focus()", vec![])
        .await
        .unwrap();
    assert_eq!(b.focused().await, "#connect-verify");
    b.press_and_wait(Key::Enter).await;
    assert_eq!(
        b.text(".flash").await,
        "Verified: App Store Connect accepted the key. It sees “Storedesk Demo” (com.storedesk.demo, Apple ID \
         1234567890) and may read its in-app purchases."
    );
    assert!(b.text("#connect-key-status").await.starts_with("verified"));
    b.assert_clean().await;

    // The catalog, synced and read at a phone's width and a desktop's.
    b.goto("/projects/shop/catalog").await;
    b.click_and_wait("#sync-now").await;
    assert!(b
        .text(".flash")
        .await
        .starts_with("First sync of “Storedesk Demo”"));
    for (width, height, mobile, name) in [
        (390, 844, true, "catalog-390"),
        (1280, 900, false, "catalog-1280"),
    ] {
        b.set_window(width, height, mobile).await;
        b.goto("/projects/shop/catalog").await;
        assert!(b
            .text("#product-com\\.storedesk\\.demo\\.pro\\.monthly")
            .await
            .starts_with("Pro Monthly"));
        let overflow = b
            .client
            .execute(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(overflow.as_i64(), Some(0), "the catalog fits {width} px");
        b.assert_clean().await;
        b.screenshot(name).await;
    }
    b.finish().await;
}
