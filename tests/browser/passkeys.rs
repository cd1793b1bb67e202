//! Passkeys as a person uses them: add one on the account page and sign in with it, through Chromium's virtual
//! authenticator (WebDriver's WebAuthn extension) answering `navigator.credentials.create` and `.get` for real,
//! with `static/passkeys.js` in between. The console is reached as `localhost`: browsers refuse WebAuthn on an IP
//! address, and the RP id is `STOREDESK_PUBLIC_URL`'s host.
use storedesk::store::AuditFilter;

use crate::app::{TestApp, ADMIN, PASSWORD};
use crate::driver::Browser;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_adds_a_passkey_and_signs_in_with_it() {
    let app = TestApp::spawn_with(|s| {
        s.public_url = format!("http://localhost:{}", s.bind.port());
    })
    .await;
    let origin = app.address.replace("127.0.0.1", "localhost");
    let Some(b) = Browser::start("passkeys", &origin).await else {
        return;
    };
    let authenticator = b.add_virtual_authenticator().await;
    b.sign_in(ADMIN, PASSWORD).await;
    b.goto("/account").await;
    // The script shows the form and hides the sentence for browsers without JavaScript.
    assert!(b.find("#passkey-add").await.is_displayed().await.unwrap());
    assert!(!b
        .find("#passkey-needs-js")
        .await
        .is_displayed()
        .await
        .unwrap());
    b.assert_clean().await;
    // With the keyboard: type the name and press Enter; the authenticator answers, the form goes to the server.
    b.fill("#passkey_name", "Work laptop").await;
    b.enter_in("#passkey_name").await;
    assert_eq!(b.path().await, "/account#two-step");
    let flash = b.text(".flash").await;
    assert_eq!(
        flash,
        "Your passkey \u{201c}Work laptop\u{201d} is added. Signing in now asks for a passkey (or a code) after your password."
    );
    assert_eq!(b.text(".passkey-name").await, "Work laptop");
    b.assert_clean().await;
    b.screenshot("added").await;
    let held = b.virtual_credentials(&authenticator).await;
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(held[0]["rpId"], "localhost");

    b.click_and_wait("header form[action='/logout'] button")
        .await;
    b.sign_in(ADMIN, PASSWORD).await;
    assert_eq!(b.path().await, "/login/second-step");
    assert!(b
        .find("#passkey-sign-in")
        .await
        .is_displayed()
        .await
        .unwrap());
    assert!(!b.exists("#code").await, "no authenticator app is set up");
    b.assert_clean().await;
    b.set_window(390, 844, true).await;
    b.assert_clean().await;
    b.screenshot("second-step-390").await;
    b.set_window(1280, 1000, false).await;
    b.click_and_wait("#passkey-button").await;
    assert_eq!(b.path().await, "/projects");
    b.assert_clean().await;
    let used = app
        .store
        .list_audit(&AuditFilter {
            action: Some("auth.passkey_used".into()),
            limit: 10,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(used.len(), 1);
    assert!(used[0].detail.contains("Work laptop"));
    let held = b.virtual_credentials(&authenticator).await;
    assert!(held[0]["signCount"].as_u64().unwrap_or(0) >= 1, "{held:?}");

    b.goto("/account").await;
    assert!(b.text("#two-step").await.contains("last used"));
    b.set_window(390, 844, true).await;
    b.assert_clean().await;
    b.screenshot("account-390").await;
    b.finish().await;
}
