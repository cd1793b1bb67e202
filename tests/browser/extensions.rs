//! A renewal-date extension whose outcome is unknown (Apple's server failed after applying it): the page says so,
//! offers only the same request again, and that works with the keyboard at a phone's width and a desktop's.
use fantoccini::key::Key;

use crate::app::{TestApp, ADMIN, PASSWORD};
use crate::driver::Browser;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_extension_with_an_unknown_outcome_is_sent_again_with_the_keyboard() {
    let app = TestApp::spawn().await;
    app.seed_project_with_key("shop").await;
    let seed = app.sim.seed();
    let id = seed.active_monthly.original_transaction_id.clone();
    let Some(b) = Browser::start("extensions", &app.address).await else {
        return;
    };
    b.sign_in(ADMIN, PASSWORD).await;
    b.goto(&format!("/projects/shop/subscriptions/{id}")).await;
    assert_eq!(b.status().await, 200);
    b.fill(&format!("#note-{id}"), "outage on 2 May").await;
    // Apple moves the date, then its server answers 500.
    app.sim
        .inject_fault(storedesk::apple_sim::Fault::AppliedThenError {
            code: 5_000_000,
            count: 1,
        });
    b.click_and_wait(&format!("#extend-{id} button[type=submit]"))
        .await;
    assert!(b.exists(&format!("#pending-extension-{id}")).await);
    let box_text = b.text(&format!("#pending-extension-{id}")).await;
    assert!(box_text.contains("outcome unknown"), "{box_text}");
    assert!(
        box_text.contains("So it is not known whether Apple extended the renewal date."),
        "{box_text}"
    );
    assert!(!b.exists(&format!("#extend-{id}")).await);
    b.assert_clean().await;
    for (width, height, mobile) in [(390, 844, true), (1280, 800, false)] {
        b.set_window(width, height, mobile).await;
        b.goto(&format!("/projects/shop/subscriptions/{id}")).await;
        b.assert_clean().await;
        b.screenshot(&format!("pending-extension-{width}")).await;
    }

    // The same request again, from the keyboard: focus the button, press Enter.
    b.client
        .execute(
            "document.querySelector(arguments[0]).focus()",
            vec![serde_json::json!(format!(
                "#pending-extension-{id} button[type=submit]"
            ))],
        )
        .await
        .unwrap();
    assert!(b.focused().await.contains("Send the same request again"));
    b.press_and_wait(Key::Enter).await;
    let main = b.text("main").await;
    assert!(
        main.contains("Apple extended the renewal date by 7 day(s)"),
        "{main}"
    );
    assert!(!b.exists(&format!("#pending-extension-{id}")).await);
    let sent = app.sim.extension_requests();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0]["requestIdentifier"], sent[1]["requestIdentifier"]);
    assert_eq!(sent[1]["applied"], false, "Apple applied it once");
    b.finish().await;
}
