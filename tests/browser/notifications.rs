//! Notifications as a support agent meets them: Apple posts to the webhook, the log shows them, a refund and a
//! consumption request lead to their details and to the support desk.
use storedesk::apple_sim::{NotificationSpec, SimEnvironment};

use crate::app::{TestApp, PASSWORD, SUPPORT};
use crate::driver::Browser;
use crate::setup::publish;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn support_reads_the_notifications_log_and_a_consumption_request() {
    let app = TestApp::spawn().await;
    app.seed_project_with_key("shop").await;
    let project = app.store.project_by_slug("shop").await.unwrap().unwrap();
    let token = app.store.notification_token(project.id).await.unwrap();
    let url = format!("{}/apple/notifications/{token}", app.address);
    app.sim
        .set_notification_url(SimEnvironment::Production, Some(url));
    let seed = app.sim.seed();
    let refunded = seed.refunded_consumable_transaction_id.clone();
    for spec in [
        NotificationSpec::new("DID_RENEW").transaction(&seed.active_monthly.transaction_id),
        NotificationSpec::new("REFUND").transaction(&refunded),
        NotificationSpec::new("CONSUMPTION_REQUEST").transaction(&seed.consumable_transaction_id),
    ] {
        let outcome = app
            .sim
            .send_notification(SimEnvironment::Production, spec)
            .await
            .unwrap();
        assert_eq!(outcome.send_attempt_result, "SUCCESS", "{outcome:?}");
    }
    let Some(b) = Browser::start("notifications", &app.address).await else {
        return;
    };

    b.sign_in(SUPPORT, PASSWORD).await;
    b.click_and_wait("main a[href='/projects/shop']").await;
    b.click_and_wait("nav.project-nav a[href='/projects/shop/notifications']")
        .await;
    assert_eq!(b.path().await, "/projects/shop/notifications");
    let log = b.text("table.log").await;
    for code in ["DID_RENEW", "REFUND", "CONSUMPTION_REQUEST"] {
        assert!(log.contains(code), "{code} is in the log: {log}");
    }
    assert!(
        b.exists("svg").await,
        "the per-day chart is drawn on the server"
    );
    b.assert_clean().await;
    let shot = b.screenshot("log").await;
    publish(&shot, "notifications.png");

    // Filter by type with the form, then open the refund's details and follow it to the support desk.
    b.goto("/projects/shop/notifications/refunds").await;
    assert_eq!(b.status().await, 200);
    assert!(b.text("main").await.contains(&refunded));
    b.assert_clean().await;
    b.goto("/projects/shop/notifications").await;
    b.click_and_wait("table.log a[aria-label^='Details of the'][href]")
        .await;
    assert!(b.path().await.starts_with("/projects/shop/notifications/"));
    assert_eq!(b.status().await, 200);
    b.assert_clean().await;
    b.screenshot("detail").await;

    // The consumption queue shows the request with the time left to answer, and a form support may send.
    b.goto("/projects/shop/notifications/consumption").await;
    assert_eq!(b.status().await, 200);
    let queue = b.text("main").await;
    assert!(
        queue.contains(&seed.consumable_transaction_id),
        "the request is queued: {queue}"
    );
    assert!(queue.contains("left"), "the time left is shown: {queue}");
    b.assert_clean().await;
    b.screenshot("consumption-queue").await;

    b.finish().await;
}
