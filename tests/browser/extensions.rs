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

/// Extend for all customers with the keyboard: the form's refusal tied to its field, then the request's page
/// following Apple's progress to complete, at a phone's width and a desktop's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_extension_for_all_customers_is_asked_and_followed_to_complete() {
    let app = TestApp::spawn().await;
    app.seed_project_with_key("shop").await;
    let Some(b) = Browser::start("extend-all", &app.address).await else {
        return;
    };
    b.sign_in(ADMIN, PASSWORD).await;
    b.goto("/projects/shop/subscriptions/extend-all").await;
    assert_eq!(b.status().await, 200);
    b.fill("#product_id", "com.storedesk.demo.pro.monthly")
        .await;
    b.fill("#storefronts", "usa").await;
    // Sent without ticking the box: refused, the sentence next to the box, nothing sent.
    b.enter_in("#storefronts").await;
    assert_eq!(b.status().await, 422);
    let error = b.text("#confirm-error").await;
    assert!(error.contains("Tick the box to confirm"), "{error}");
    assert!(app.sim.mass_extensions().is_empty());
    b.assert_clean().await;
    // The box ticked from the keyboard, then Enter.
    b.client
        .execute("document.getElementById('confirm').focus()", vec![])
        .await
        .unwrap();
    b.press(Key::Space).await;
    b.enter_in("#storefronts").await;
    assert!(b
        .path()
        .await
        .starts_with("/projects/shop/subscriptions/extend-all/"));
    let state = b.text("#mass-state").await;
    assert!(state == "in progress" || state == "complete", "{state}");
    let jobs = app.sim.mass_extensions();
    assert_eq!(jobs.len(), 1);
    assert_eq!(
        jobs[0]["storefrontCountryCodes"],
        serde_json::json!(["USA"])
    );

    // Apple finishes within a second or two; "Ask Apple now", from the keyboard, reads it.
    let mut done = state == "complete";
    for _ in 0..20 {
        if done {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        b.client
            .execute(
                "document.querySelector('#mass-extension form button').focus()",
                vec![],
            )
            .await
            .unwrap();
        assert!(b.focused().await.contains("Ask Apple now"));
        b.press_and_wait(Key::Enter).await;
        done = b.text("#mass-state").await == "complete";
    }
    assert!(done, "never complete: {}", b.text("main").await);
    let progress = b.text("#mass-progress").await;
    assert!(progress.starts_with("Apple finished"), "{progress}");
    assert!(progress.contains("subscription(s) extended"), "{progress}");
    let url = b.path().await;
    for (width, height, mobile) in [(390, 844, true), (1280, 800, false)] {
        b.set_window(width, height, mobile).await;
        b.goto(&url).await;
        b.assert_clean().await;
        b.screenshot(&format!("extend-all-{width}")).await;
        b.goto("/projects/shop/subscriptions/extend-all").await;
        b.assert_clean().await;
    }
    b.finish().await;
}

/// The automatic consumption policy's form with the keyboard: automatic without consent is refused next to the
/// box; with the box ticked it is saved, at a phone's width and a desktop's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_consumption_policy_form_works_with_the_keyboard() {
    let app = TestApp::spawn().await;
    app.seed_project_with_key("shop").await;
    let Some(b) = Browser::start("consumption-policy", &app.address).await else {
        return;
    };
    b.sign_in(ADMIN, PASSWORD).await;
    b.goto("/projects/shop/settings/consumption").await;
    assert_eq!(b.status().await, 200);
    // Choose "automatic" with the keyboard: focus the radio, press Space.
    b.client
        .execute("document.getElementById('mode-automatic').focus()", vec![])
        .await
        .unwrap();
    b.press(Key::Space).await;
    b.fill("#wait_minutes", "15").await;
    b.enter_in("#wait_minutes").await;
    assert_eq!(b.status().await, 422);
    let error = b.text("#consent_declared-error").await;
    assert!(
        error.contains("tick the box only if your app obtains"),
        "{error}"
    );
    b.assert_clean().await;
    b.client
        .execute(
            "document.getElementById('consent_declared').focus()",
            vec![],
        )
        .await
        .unwrap();
    b.press(Key::Space).await;
    b.enter_in("#wait_minutes").await;
    let main = b.text("main").await;
    assert!(
        main.contains("Saved: storedesk answers each consumption request within minutes."),
        "{main}"
    );
    for (width, height, mobile) in [(390, 844, true), (1280, 800, false)] {
        b.set_window(width, height, mobile).await;
        b.goto("/projects/shop/settings/consumption").await;
        b.assert_clean().await;
        b.screenshot(&format!("consumption-policy-{width}")).await;
    }
    b.finish().await;
}
