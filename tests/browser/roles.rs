//! A support agent works with purchases, never with key material or settings.
use crate::app::{TestApp, PASSWORD, SUPPORT};
use crate::driver::Browser;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn support_cannot_reach_the_settings_or_rotate_keys() {
    let app = TestApp::spawn().await;
    app.seed_project_with_key("shop").await;
    let Some(b) = Browser::start("support", &app.address).await else {
        return;
    };

    b.sign_in(SUPPORT, PASSWORD).await;
    assert_eq!(b.path().await, "/projects");
    assert!(
        !b.exists("a[href='/projects/new']").await,
        "support cannot create projects"
    );
    b.click_and_wait("main a[href='/projects/shop']").await;
    assert!(
        b.exists("nav.project-nav a[href='/projects/shop/keys']")
            .await
    );
    assert!(
        !b.exists("a[href='/projects/shop/settings/stores/apple']")
            .await,
        "no link to settings for support"
    );
    b.assert_clean().await;

    // Typing the wizard's address: the 403 page says which role is needed.
    b.goto("/projects/shop/settings/stores/apple").await;
    assert_eq!(b.status().await, 403);
    assert_eq!(b.text("h1").await, "Not allowed");
    let message = b.text("main").await;
    assert!(
        message.contains("It needs the admin or lead role"),
        "{message}"
    );
    assert!(message.contains("request id"), "{message}");
    assert!(!b.exists("input").await, "no form on the refusal page");
    b.assert_clean().await;
    b.screenshot("settings-forbidden").await;

    // The keys page shows the key's metadata only: no rotate form, no revoke or verify buttons.
    b.goto("/projects/shop/keys").await;
    assert_eq!(b.status().await, 200);
    assert_eq!(
        b.client
            .find_all(fantoccini::Locator::Css("tbody tr"))
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(b.text("tbody tr").await.contains("not verified"));
    assert!(
        !b.exists("input[type=file]").await,
        "support sees no rotate form"
    );
    assert!(!b.exists("#key_id").await && !b.exists("#issuer_id").await);
    assert!(
        !b.exists("main form").await,
        "support sees no key actions at all"
    );
    assert!(!b.text("main").await.contains("Mark revoked"));
    assert!(!b.text("thead").await.contains("Actions"));
    b.assert_clean().await;
    b.screenshot("keys-read-only").await;

    b.finish().await;
}
