//! Accessibility basics on the pages of the first setup: labelled controls, errors tied to their fields, the
//! keyboard alone, a quiet console and nothing loaded from another origin.
use fantoccini::key::Key;

use crate::app::{TestApp, ADMIN, PASSWORD};
use crate::checks::{assert_controls_labelled, assert_errors_tied};
use crate::driver::Browser;

/// Presses Tab until `target` has the focus (at most `limit` times); returns the focus order on the way.
async fn tab_to(b: &Browser, target: &str, limit: usize) -> Vec<String> {
    let mut order = Vec::new();
    for _ in 0..limit {
        b.press(Key::Tab).await;
        let now = b.focused().await;
        order.push(now.clone());
        if now == target {
            return order;
        }
    }
    panic!("Tab never reached {target}; the focus went {order:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_are_labelled_keyboard_usable_and_self_contained() {
    let app = TestApp::spawn().await;
    let Some(b) = Browser::start("a11y", &app.address).await else {
        return;
    };

    // The sign-in page, with the keyboard only: Tab goes skip link → … → e-mail → password → Sign in.
    b.goto("/login").await;
    assert_controls_labelled(&b).await;
    b.assert_clean().await;
    assert_eq!(b.focused().await, "body");
    let order = tab_to(&b, "#email", 4).await;
    assert_eq!(
        order[0], "a \"Skip to content\"",
        "the first Tab stop is the skip link: {order:?}"
    );
    b.press(Key::Tab).await;
    assert_eq!(b.focused().await, "#password");
    b.press(Key::Tab).await;
    assert_eq!(b.focused().await, "button \"Sign in\"");

    // A wrong password typed and sent with Enter: the error is tied to both fields.
    b.press_with_shift(Key::Tab).await;
    b.press_with_shift(Key::Tab).await;
    assert_eq!(
        b.focused().await,
        "#email",
        "Shift+Tab goes back the same way"
    );
    b.type_text(ADMIN).await;
    b.press(Key::Tab).await;
    b.type_text("not the password").await;
    b.press_and_wait(Key::Enter).await;
    assert_eq!(b.path().await, "/login");
    assert_eq!(b.status().await, 422);
    let errors = assert_errors_tied(&b, &["email", "password"]).await;
    assert!(
        errors["password"].contains("The e-mail address or password is not right."),
        "{errors:?}"
    );
    assert_controls_labelled(&b).await;
    b.assert_clean().await;
    b.screenshot("sign-in-refused").await;

    // The e-mail address is kept; Tab to the password, type it, Enter signs in.
    assert_eq!(
        b.find("#email")
            .await
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some(ADMIN)
    );
    tab_to(&b, "#password", 5).await;
    b.type_text(PASSWORD).await;
    b.press_and_wait(Key::Enter).await;
    assert_eq!(b.path().await, "/projects");
    b.assert_clean().await;

    // The project form: labels, and each refused field tied to its sentence (sent with Enter from a field).
    b.goto("/projects/new").await;
    assert_controls_labelled(&b).await;
    b.assert_clean().await;
    b.fill("#slug", "Not A Slug").await;
    b.fill("#bundle_id", "nodots").await;
    b.fill("#app_apple_id", "12ab").await;
    b.enter_in("#app_apple_id").await;
    assert_eq!(b.status().await, 422);
    assert_errors_tied(&b, &["name", "slug", "bundle_id", "app_apple_id"]).await;
    assert_controls_labelled(&b).await;
    b.assert_clean().await;
    b.screenshot("project-refused").await;

    // A valid project, then the wizard's Step 3 sent empty: three sentences, each tied to its field.
    b.fill("#name", "Keyboard App").await;
    b.fill("#slug", "keyboard-app").await;
    b.fill("#bundle_id", "com.example.keyboard").await;
    b.fill("#app_apple_id", "").await;
    b.enter_in("#bundle_id").await;
    assert_eq!(
        b.path().await,
        "/projects/keyboard-app/settings/stores/apple"
    );
    assert_controls_labelled(&b).await;
    b.assert_clean().await;
    b.enter_in("#key_id").await;
    assert_eq!(b.status().await, 422);
    let errors = assert_errors_tied(&b, &["key_id", "issuer_id", "private_key"]).await;
    assert!(
        errors["private_key"].contains("Choose the .p8 file"),
        "{errors:?}"
    );
    assert_controls_labelled(&b).await;
    b.assert_clean().await;
    b.screenshot("step3-empty").await;

    // The keys page (no key yet: the upload form) and the account page.
    b.goto("/projects/keyboard-app/keys").await;
    assert_controls_labelled(&b).await;
    b.assert_clean().await;
    b.goto("/account").await;
    assert_controls_labelled(&b).await;
    b.assert_clean().await;

    // The skip link moves the focus to the page's content.
    b.goto("/projects/keyboard-app/keys").await;
    tab_to(&b, "a \"Skip to content\"", 1).await;
    b.press(Key::Enter).await;
    assert!(b.path().await.ends_with("#main"));

    b.finish().await;
}
