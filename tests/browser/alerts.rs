//! Work that waits, as a lead meets it: the overview says what needs doing (a consumption request with its
//! deadline, in the navigation too) and holds the search box; the alerts page takes a webhook with the keyboard,
//! ties its refusal to the field, and shows the URL only masked; both read on a phone and a desktop.
use fantoccini::key::Key;
use storedesk::apple_sim::{NotificationSpec, SimEnvironment};

use crate::app::{TestApp, ADMIN, PASSWORD};
use crate::checks::{assert_controls_labelled, assert_errors_tied};
use crate::driver::Browser;

/// The page fits a window of `width` px: no horizontal scrolling.
async fn fits(b: &Browser, width: u32) {
    b.client.set_window_size(width, 900).await.unwrap();
    let overflow = b
        .client
        .execute(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        overflow.as_i64(),
        Some(0),
        "{} is wider than {width} px",
        b.path().await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overview_shows_what_waits_and_the_alerts_page_keeps_its_webhook_secret() {
    let app = TestApp::spawn().await;
    app.seed_project_with_key("shop").await;
    let project = app.store.project_by_slug("shop").await.unwrap().unwrap();
    let token = app.store.notification_token(project.id).await.unwrap();
    app.sim.set_notification_url(
        SimEnvironment::Production,
        Some(format!("{}/apple/notifications/{token}", app.address)),
    );
    let seed = app.sim.seed();
    let outcome = app
        .sim
        .send_notification(
            SimEnvironment::Production,
            NotificationSpec::new("CONSUMPTION_REQUEST")
                .transaction(&seed.consumable_transaction_id),
        )
        .await
        .unwrap();
    assert_eq!(outcome.send_attempt_result, "SUCCESS", "{outcome:?}");

    let Some(b) = Browser::start("alerts", &app.address).await else {
        return;
    };
    b.sign_in(ADMIN, PASSWORD).await;
    b.goto("/projects/shop").await;
    assert_eq!(b.text(".nav-waiting").await, "1 waiting, next due in 11 h");
    let needs = b.text(".needs-list").await;
    assert!(
        needs.starts_with(&format!(
            "Answer Apple's consumption request about transaction {}",
            seed.consumable_transaction_id
        )),
        "{needs}"
    );
    assert!(needs.contains("in Production: due in 11 h ("), "{needs}");
    assert_controls_labelled(&b).await;
    b.assert_clean().await;
    fits(&b, 390).await;
    b.screenshot("overview-phone").await;
    fits(&b, 1280).await;
    b.screenshot("overview").await;

    // The search box leads to the support desk's lookup.
    b.fill("#q", &seed.consumable_transaction_id).await;
    b.press_and_wait(Key::Enter).await;
    assert_eq!(
        b.path().await,
        format!(
            "/projects/shop/transactions?q={}",
            seed.consumable_transaction_id
        )
    );

    // The answer link goes to the request in the queue.
    b.goto("/projects/shop").await;
    b.click_and_wait(".needs-list a").await;
    assert!(b
        .path()
        .await
        .starts_with("/projects/shop/notifications/consumption#request-"));

    // A webhook that would travel unencrypted is refused next to its field; nothing is shown back.
    b.goto("/projects/shop/settings/alerts").await;
    assert_controls_labelled(&b).await;
    b.fill(
        "#url",
        "http://hooks.example.com/services/T1/B1/secret-part-1234",
    )
    .await;
    b.press_and_wait(Key::Enter).await;
    assert_eq!(b.status().await, 422);
    let errors = assert_errors_tied(&b, &["url"]).await;
    assert!(errors["url"].starts_with("The webhook's URL must start with https://"));
    assert_eq!(
        b.find("#url").await.prop("value").await.unwrap().as_deref(),
        Some("")
    );
    b.assert_clean().await;

    b.fill(
        "#url",
        "https://hooks.example.com/services/T1/B1/secret-part-1234",
    )
    .await;
    b.press_and_wait(Key::Enter).await;
    assert_eq!(b.path().await, "/projects/shop/settings/alerts");
    let page = b.text("main").await;
    assert!(
        page.contains("Webhook: https://hooks.example.com/…1234"),
        "{page}"
    );
    assert!(!page.contains("secret-part"));
    b.assert_clean().await;
    fits(&b, 390).await;
    b.screenshot("alerts-phone").await;
    fits(&b, 1280).await;
    b.screenshot("alerts").await;
    b.finish().await;
}
