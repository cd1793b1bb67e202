//! "Is it active?": the lookup card leads with the customer's state, in every state the simulator has, above the
//! matched transaction; from there the customer's page, what they have now and everything that happened.
use crate::app::{TestApp, PASSWORD, SUPPORT};
use crate::checks::assert_controls_labelled;
use crate::driver::Browser;
use crate::setup::publish;

/// Whether the element `first` is drawn above `second`.
async fn above(b: &Browser, first: &str, second: &str) -> bool {
    let script = format!(
        "return document.querySelector('{first}').getBoundingClientRect().top < \
         document.querySelector('{second}').getBoundingClientRect().top"
    );
    b.client
        .execute(&script, vec![])
        .await
        .unwrap()
        .as_bool()
        .unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lookup_card_leads_with_the_customers_state_in_every_state() {
    let app = TestApp::spawn().await;
    app.seed_project_with_key("shop").await;
    let seed = app.sim.seed();
    let Some(b) = Browser::start("customer-state", &app.address).await else {
        return;
    };
    b.sign_in(SUPPORT, PASSWORD).await;

    // (searched, the state's code, the badge, words of the sentence)
    let cases = [
        (
            seed.active_monthly.transaction_id.clone(),
            "active",
            "active",
            "Auto-renew is on: it renews then for 9.99 EUR.",
        ),
        (
            seed.free_trial_original_id.clone(),
            "free_trial",
            "free trial",
            "the first paid period starts then for 4.99 USD.",
        ),
        (
            seed.auto_renew_off_original_id.clone(),
            "active",
            "active",
            "Auto-renew is off: it ends then.",
        ),
        (
            seed.grace_period_original_id.clone(),
            "grace_period",
            "grace period",
            "the customer keeps access meanwhile.",
        ),
        (
            seed.billing_retry_original_id.clone(),
            "billing_retry",
            "billing retry",
            "the customer has no access meanwhile.",
        ),
        (
            seed.expired_original_id.clone(),
            "expired",
            "expired",
            "because the customer cancelled.",
        ),
        (
            seed.revoked_original_id.clone(),
            "refunded",
            "refunded",
            "access ended then.",
        ),
        (
            seed.family_revoked_original_id.clone(),
            "revoked",
            "revoked",
            "stopped Family Sharing",
        ),
        (
            seed.family_shared_transaction_id.clone(),
            "active",
            "active",
            "Shared with the customer through Family Sharing.",
        ),
    ];
    for (id, code, badge, words) in cases {
        b.goto(&format!("/projects/shop/transactions?q={id}")).await;
        assert_eq!(b.status().await, 200, "{id}");
        assert!(
            above(&b, "#now", "#story").await,
            "{id}: the state comes first"
        );
        let line = b
            .text(&format!(
                "section[aria-labelledby=now] li[data-state='{code}']"
            ))
            .await;
        assert!(line.starts_with(badge), "{id}: {line}");
        assert!(line.contains(words), "{id}: {line}");
        assert!(line.contains("(this purchase)"), "{id}: {line}");
        // The matched transaction's badge speaks of the transaction only.
        let story_badge = b.text("#story .badge").await;
        assert!(
            [
                "current period",
                "period ended",
                "refunded",
                "revoked",
                "upgraded",
                "purchased"
            ]
            .contains(&story_badge.as_str()),
            "{id}: {story_badge}"
        );
        b.assert_clean().await;
        b.screenshot(code).await;
    }

    // The demo's suggested order: Alice's 2024 free trial, while her subscription runs on.
    b.goto("/projects/shop/transactions?q=Order%20ID%3A%20MK5TTTVWJH")
        .await;
    assert_eq!(b.status().await, 200);
    let line = b.text("section[aria-labelledby=now] li[data-state]").await;
    assert!(line.starts_with("active"), "{line}");
    assert_eq!(b.text("#story .badge").await, "period ended");
    let shot = b.screenshot("order-leads-with-active").await;
    publish(&shot, "lookup-state.png");
    b.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn support_opens_the_customers_page_from_a_lookup() {
    let app = TestApp::spawn().await;
    app.seed_project_with_key("shop").await;
    let seed = app.sim.seed();
    let alice = seed.long_history_original_id.clone();
    let Some(b) = Browser::start("customer-page", &app.address).await else {
        return;
    };
    b.sign_in(SUPPORT, PASSWORD).await;
    b.goto(&format!(
        "/projects/shop/transactions?q={}",
        seed.app_account_token
    ))
    .await;
    // A token is searched in the index, which has not seen Alice yet; her original transaction id has.
    b.goto(&format!("/projects/shop/transactions?q={alice}"))
        .await;
    b.click_and_wait("section[aria-labelledby=now] a.button[href*='/customers/']")
        .await;
    assert_eq!(b.path().await, format!("/projects/shop/customers/{alice}"));
    assert_eq!(b.status().await, 200);
    assert_eq!(b.title().await, "Customer · storedesk");

    // What she has now, first.
    assert!(above(&b, "#has-now", "#happened").await);
    let state = b
        .text("section[aria-labelledby=has-now] li[data-state='active']")
        .await;
    assert!(state.contains("com.storedesk.demo.pro.monthly"), "{state}");
    assert!(state.contains("Auto-renew is on"), "{state}");
    assert!(b
        .text("section[aria-labelledby=has-now] .customer-owned")
        .await
        .contains("com.storedesk.demo.remove_ads"));
    assert!(
        !b.exists("section[aria-labelledby=has-now] a[href*='#extend-']")
            .await,
        "support cannot extend a renewal date"
    );

    // Then every transaction, newest first.
    let entries = b
        .client
        .find_all(fantoccini::Locator::Css("ol.customer-timeline > li"))
        .await
        .unwrap();
    assert_eq!(entries.len(), 30);
    let newest_first = b
        .client
        .execute(
            "const t = Array.from(document.querySelectorAll('ol.customer-timeline time')).map(e => e.dateTime); \
             return t.every((v, i) => i === 0 || t[i - 1] >= v);",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(newest_first.as_bool(), Some(true));
    assert!(entries[0]
        .text()
        .await
        .unwrap()
        .contains("Bought com.storedesk.demo.coins.100 for 0.99 USD"));
    assert_controls_labelled(&b).await;
    b.assert_clean().await;
    let shot = b.screenshot("customer").await;
    publish(&shot, "customer.png");
    // On a phone, too: nothing wider than the window.
    b.client.set_window_size(390, 900).await.unwrap();
    b.assert_clean().await;
    b.screenshot("customer-phone").await;
    b.client.set_window_size(1280, 1000).await.unwrap();

    // An entry's action leads to that transaction on the Transactions page.
    b.click_and_wait("ol.customer-timeline > li:first-child a[href*='/transactions?q=']")
        .await;
    assert!(b.path().await.starts_with("/projects/shop/transactions?q="));
    assert!(b.exists("#now").await);

    // By her app account token, now that storedesk has seen her.
    b.goto(&format!(
        "/projects/shop/customers/{}",
        seed.app_account_token
    ))
    .await;
    assert_eq!(b.status().await, 200);
    assert!(b
        .text("main")
        .await
        .contains("The customer of app account token"));
    b.assert_clean().await;

    // Something that is no customer's id: a 404 that says what would be.
    b.goto("/projects/shop/customers/hello").await;
    assert_eq!(b.status().await, 404);
    assert!(b
        .text(".not-found")
        .await
        .starts_with("“hello” is not a customer's id"));
    b.assert_clean().await;
    b.finish().await;
}
