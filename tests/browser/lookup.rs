//! A support agent answers "what happened to my purchase?": search box, the story, older history, the subscription.
use fantoccini::key::Key;

use crate::app::{TestApp, PASSWORD, SUPPORT};
use crate::checks::assert_controls_labelled;
use crate::driver::Browser;
use crate::setup::publish;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn support_looks_up_a_customer_by_order_id_and_transaction_id() {
    let app = TestApp::spawn().await;
    app.seed_project_with_key("shop").await;
    let seed = app.sim.seed();
    let Some(b) = Browser::start("lookup", &app.address).await else {
        return;
    };

    b.sign_in(SUPPORT, PASSWORD).await;
    b.click_and_wait("main a[href='/projects/shop']").await;
    b.click_and_wait("nav.project-nav a[href='/projects/shop/transactions']")
        .await;
    assert_eq!(b.path().await, "/projects/shop/transactions");
    assert_controls_labelled(&b).await;
    b.assert_clean().await;

    // Something that is no id at all: the sentence is tied to the field, and the page stays usable.
    b.fill("#q", "hello there").await;
    b.enter_in("#q").await;
    assert_eq!(b.status().await, 422);
    let error = b.text("#q-error").await;
    assert!(!error.is_empty());
    let described = b
        .find("#q")
        .await
        .attr("aria-describedby")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(described.contains("q-error"), "{described}");
    b.assert_clean().await;

    // The order id from the customer's receipt e-mail, typed with the keyboard alone.
    let order = seed.order_ids.first().expect("seeded order id").clone();
    b.fill("#q", "").await;
    b.find("#q").await.click().await.unwrap();
    b.type_text(&order).await;
    b.press_and_wait(Key::Enter).await;
    assert_eq!(b.status().await, 200);
    let main = b.text("main").await;
    let expected = seed.orders.get(&order).expect("order's transactions");
    assert!(
        expected.iter().any(|id| main.contains(id.as_str())),
        "the order's transactions are shown: {main}"
    );
    b.screenshot("order-id").await;

    // The long-lived customer: the story, thirty purchases over pages, newest first.
    b.goto(&format!(
        "/projects/shop/transactions?q={}",
        seed.long_history_original_id
    ))
    .await;
    assert_eq!(b.status().await, 200);
    assert!(b.exists("#story").await);
    assert!(b.text("#story").await.len() > 3);
    assert!(b.text("main").await.contains("Transaction history"));
    assert!(b.exists("svg").await, "the timeline is drawn on the server");
    b.assert_clean().await;
    let first_page = b.screenshot("story").await;
    publish(&first_page, "lookup.png");
    assert!(
        b.exists("nav.pager a[rel=next]").await,
        "thirty purchases need more than one page"
    );
    b.click_and_wait("nav.pager a[rel=next]").await;
    assert!(b.text("#history").await.contains("page 2"));
    b.assert_clean().await;

    // On to the subscription's status.
    b.goto(&format!(
        "/projects/shop/transactions?q={}",
        seed.active_monthly.original_transaction_id
    ))
    .await;
    b.click_and_wait("a.button[href*='/subscriptions/']").await;
    assert!(b.path().await.starts_with("/projects/shop/subscriptions/"));
    assert_eq!(b.status().await, 200);
    let page = b.text("main").await;
    assert!(page.contains("active"), "{page}");
    assert!(
        !b.exists("form[action*='/extend']").await,
        "support cannot extend a renewal date"
    );
    b.assert_clean().await;
    b.screenshot("subscription").await;

    b.finish().await;
}
