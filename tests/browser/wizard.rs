//! The keys page's Mark revoked, which asks for the key's Key ID before it stops every Apple call (used with the
//! keyboard alone), and Step 4's guidance: the four steps, the warning about a URL Apple cannot reach, a test
//! notification delivered to another server, and Production readiness proven only by Production.
use std::time::{Duration, Instant};

use fantoccini::key::Key;
use storedesk::apple_sim::SimEnvironment;

use crate::app::{TestApp, ADMIN, PASSWORD};
use crate::checks::{assert_controls_labelled, assert_errors_tied};
use crate::driver::Browser;

/// Presses Tab until `target` has the focus (at most `limit` times).
async fn tab_to(b: &Browser, target: &str, limit: usize) {
    let mut order = Vec::new();
    for _ in 0..limit {
        b.press(Key::Tab).await;
        let now = b.focused().await;
        if now == target {
            return;
        }
        order.push(now);
    }
    panic!("Tab never reached {target}; the focus went {order:?}");
}

/// Whether the element is rendered (a closed disclosure hides its content).
async fn visible(b: &Browser, css: &str) -> bool {
    b.find(css).await.is_displayed().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mark_revoked_asks_for_the_key_id_and_works_with_the_keyboard_alone() {
    let app = TestApp::spawn().await;
    app.seed_project_with_key("shop").await;
    let project = app.store.project_by_slug("shop").await.unwrap().unwrap();
    let key = app.store.key_in_use(project.id).await.unwrap().unwrap();
    let Some(b) = Browser::start("revoke", &app.address).await else {
        return;
    };
    b.sign_in(ADMIN, PASSWORD).await;
    b.goto("/projects/shop/keys").await;
    let field = format!("#revoke-{}", key.id);

    // The confirmation is closed at first; the table's "Mark revoked…" leads to it and opens it.
    assert!(!visible(&b, &field).await, "the confirmation starts closed");
    tab_to(&b, "a \"Mark revoked…\"", 80).await;
    b.press(Key::Enter).await;
    let started = Instant::now();
    while !visible(&b, &field).await {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "Enter on the link opens the confirmation"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let what = b.text(&format!("#revoke-{}-what", key.id)).await;
    assert!(
        what.starts_with(&format!("Key {} is the key in use.", key.key_id))
            && what.contains("stops every call to Apple for this project at once"),
        "the confirmation names the key and what stops: {what}"
    );
    assert_controls_labelled(&b).await;
    b.assert_clean().await;
    b.screenshot("confirmation-open").await;

    // Tab goes on from the confirmation to its field; its summary closes and opens it with Enter.
    b.press(Key::Tab).await;
    assert_eq!(b.focused().await, field);
    b.press_with_shift(Key::Tab).await;
    assert_eq!(
        b.focused().await,
        format!("summary \"Mark key {} revoked…\"", key.key_id)
    );
    b.press(Key::Enter).await;
    assert!(!visible(&b, &field).await, "Enter on the summary closes it");
    b.press(Key::Enter).await;
    assert!(visible(&b, &field).await, "and opens it again");

    // Enter in the empty field sends the form: refused, nothing changed, the sentence tied to the field.
    b.press(Key::Tab).await;
    assert_eq!(b.focused().await, field);
    b.press_and_wait(Key::Enter).await;
    assert_eq!(b.status().await, 422);
    let errors = assert_errors_tied(&b, &[&field[1..]]).await;
    assert_eq!(
        errors[&field[1..]],
        format!(
            "Type the Key ID {} to confirm: marking it revoked stops every call to Apple for this project. Nothing was changed.",
            key.key_id
        )
    );
    assert_eq!(b.focused().await, field, "the field has the focus again");
    assert_eq!(
        app.store.key_in_use(project.id).await.unwrap().unwrap().id,
        key.id,
        "still in use"
    );
    b.assert_clean().await;
    b.screenshot("confirmation-refused").await;

    // The Key ID typed, then Enter: revoked, and the message says what is true now.
    b.type_text(&key.key_id).await;
    b.press_and_wait(Key::Enter).await;
    assert_eq!(b.path().await, "/projects/shop/keys");
    let flash = b.text(".flash").await;
    assert_eq!(
        flash,
        format!(
            "Key {} is marked revoked and its private part destroyed. This project has no key in use now, so storedesk makes no calls to Apple for it: upload a replacement below.",
            key.key_id
        )
    );
    assert!(b
        .text(&format!("#key-{}", key.id))
        .await
        .contains("revoked"));
    assert!(app.store.key_in_use(project.id).await.unwrap().is_none());
    b.assert_clean().await;
    b.screenshot("revoked").await;
    b.finish().await;
}

/// Waits until the test notification's light (updated by app.js) shows `word`.
async fn light_shows(b: &Browser, word: &str) -> String {
    let started = Instant::now();
    loop {
        let now = b.text("#test-light-badge").await;
        if now == word {
            return b.text("#test-light-message").await;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the light shows {now:?}, never {word:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn step4_badge(b: &Browser) -> String {
    b.goto("/projects/shop/settings/stores/apple").await;
    let step4 = b.text(".steps li:nth-child(4)").await;
    step4
        .strip_prefix("Step 4 · Production readiness ")
        .unwrap_or_else(|| panic!("not Step 4: {step4}"))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step_4_warns_about_the_url_says_where_a_delivered_test_went_and_needs_production() {
    // The page's minute of waiting before "delivered elsewhere" is shortened so the test need not wait.
    let app = TestApp::spawn_with(|s| s.test_notification_grace = Duration::ZERO).await;
    app.seed_project_with_key("shop").await;
    let project = app.store.project_by_slug("shop").await.unwrap().unwrap();
    let token = app.store.notification_token(project.id).await.unwrap();
    let webhook = format!("{}/apple/notifications/{token}", app.address);
    let Some(b) = Browser::start("step4", &app.address).await else {
        return;
    };
    b.sign_in(ADMIN, PASSWORD).await;
    b.goto("/projects/shop/settings/stores/apple").await;

    // The four steps as hosted consoles number them, Step 2 saying the shared secret is not needed.
    for (n, step) in [
        "Step 1 · App saved",
        "Step 2 · App-Specific Shared Secret not needed",
        "Step 3 · Server API access saved",
        "Step 4 · Production readiness not started",
    ]
    .into_iter()
    .enumerate()
    {
        assert_eq!(
            b.text(&format!(".steps li:nth-child({})", n + 1)).await,
            step
        );
    }
    assert!(b.text("#step2").await.contains("verifyReceipt"));

    // The tests' public URL is http://127.0.0.1:…, which Apple can reach neither way.
    let warning = b.text("#public-url-warning").await;
    assert!(
        warning.starts_with("Apple cannot deliver to this URL."),
        "{warning}"
    );
    assert!(warning.contains("only to https:// addresses"), "{warning}");
    assert!(
        warning.contains("127.0.0.1 is a loopback address"),
        "{warning}"
    );
    assert!(warning.contains("Set STOREDESK_PUBLIC_URL"), "{warning}");
    b.assert_clean().await;
    b.screenshot("guidance").await;

    // App Store Connect holds another server's URL: Apple reports the delivery, and the page says where it went.
    app.sim
        .set_notification_url(SimEnvironment::Sandbox, Some(app.sim.elsewhere_url()));
    b.click_and_wait("button[name=environment][value=Sandbox]")
        .await;
    let message = light_shows(&b, "delivered elsewhere").await;
    assert!(
        message.contains("but it has not arrived here, so another server answered it")
            && message.contains(&format!(
                "set the Sandbox Server URL to {webhook} (Version 2)"
            )),
        "{message}"
    );
    b.assert_clean().await;
    b.screenshot("delivered-elsewhere").await;
    assert_eq!(step4_badge(&b).await, "failing");

    // The right URL: a Sandbox test arrives, which proves Sandbox only.
    app.sim
        .set_notification_url(SimEnvironment::Sandbox, Some(webhook.clone()));
    b.click_and_wait("button[name=environment][value=Sandbox]")
        .await;
    assert!(light_shows(&b, "arrived").await.starts_with("Arrived at "));
    assert_eq!(step4_badge(&b).await, "Sandbox only");

    // A Production test that arrives proves Production readiness.
    app.sim
        .set_notification_url(SimEnvironment::Production, Some(webhook));
    b.click_and_wait("button[name=environment][value=Production]")
        .await;
    light_shows(&b, "arrived").await;
    assert_eq!(step4_badge(&b).await, "verified");
    b.assert_clean().await;
    b.finish().await;
}
