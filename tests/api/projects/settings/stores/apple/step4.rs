//! Step 4 of the App Store wizard: the notification URL, regenerating it, and "Send test notification" with its
//! status page, against the Apple simulator over real HTTP.
use std::time::Duration;

use serde_json::Value;
use storedesk::apple_sim::{SimConfig, SimEnvironment};
use storedesk::domain::Role;

use crate::apple::notifications::{body, deliver, renewal, webhook_url};
use crate::helpers::{assert_redirect_to, project_for, Ready};
use crate::{with_ready, with_sim};

const WIZARD: &str = "/projects/demo/settings/stores/apple";
const SEND: &str = "/projects/demo/settings/stores/apple/test-notification";

fn step4_badge(page: &str, badge: &str, word: &str) -> bool {
    page.contains(&format!(
        r#"Step 4 · Production readiness <span class="badge {badge}">{word}</span>"#
    ))
}

async fn audit_actions(r: &Ready) -> Vec<String> {
    r.app
        .store
        .list_audit(&Default::default())
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect()
}

/// Sends a test notification for `env` and returns the status page's path.
async fn send_test(r: &Ready, env: &str) -> String {
    let response = r
        .admin
        .post_form(WIZARD, SEND, &[("environment", env)])
        .await;
    assert_eq!(response.status().as_u16(), 303);
    let location = response
        .headers()
        .get("location")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(location.starts_with(&format!("{SEND}/")), "{location}");
    location
}

/// Polls the JSON status (as app.js does) until `done` says so.
async fn poll(r: &Ready, page: &str, done: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    for _ in 0..100 {
        let response = r.admin.get(&format!("{page}/status")).await;
        assert_eq!(response.status().as_u16(), 200);
        last = response.json().await.unwrap();
        if done(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("the test notification never reached the expected state: {last}");
}

with_ready!(
    step4_shows_the_url_the_instructions_and_nothing_received_yet,
    |r| {
        let page = r.admin.get_text(WIZARD).await;
        let token = r.app.store.notification_token(r.project.id).await.unwrap();
        let url = format!("{}/apple/notifications/{token}", r.app.settings.public_url);
        assert!(
        page.contains(&format!(
            r#"<code class="id" id="notification-url">{url}</code> <button type="button" class="copy" data-copy="notification-url""#
        )),
        "{page}"
    );
        for words in [
            "App Store Server Notifications",
            "Production Server URL",
            "Sandbox Server URL",
            "Version 2",
            "Send test notification (Sandbox)",
            "Send test notification (Production)",
            "Regenerate URL",
        ] {
            assert!(page.contains(words), "{words}");
        }
        assert_eq!(page.matches("none yet").count(), 2);
        assert!(step4_badge(&page, "badge-neutral", "not started"), "{page}");
        // The token stays the same between visits.
        assert_eq!(
            r.app.store.notification_token(r.project.id).await.unwrap(),
            token
        );
    }
);

with_ready!(step4_is_verified_once_a_notification_arrived, |r| {
    let url = webhook_url(&r).await;
    let jws = renewal(&r.sim, SimEnvironment::Sandbox);
    assert_eq!(deliver(&url, body(&jws)).await.0, 200);
    let page = r.admin.get_text(WIZARD).await;
    assert!(step4_badge(&page, "badge-good", "verified"), "{page}");
    assert_eq!(
        page.matches("none yet").count(),
        1,
        "Production still has none"
    );
    assert!(page.contains("Last Sandbox notification"));
    assert!(page.contains("(just now)"), "{page}");
});

with_ready!(regenerating_needs_confirmation_and_is_audited, |r| {
    let before = r.app.store.notification_token(r.project.id).await.unwrap();
    let action = "/projects/demo/settings/stores/apple/notification-url/regenerate";
    let refused = r.admin.post_form(WIZARD, action, &[]).await;
    assert_eq!(refused.status().as_u16(), 422);
    let page = refused.text().await.unwrap();
    assert!(
        page.contains(r#"aria-describedby="confirm-error""#),
        "{page}"
    );
    assert!(page.contains("Tick the box to confirm: the current URL stops working at once, and App Store Connect must get the new one."));
    assert_eq!(
        r.app.store.notification_token(r.project.id).await.unwrap(),
        before
    );
    assert!(!audit_actions(&r)
        .await
        .contains(&"notifications.url_regenerate".to_owned()));

    let done = r
        .admin
        .post_form(WIZARD, action, &[("confirm", "yes")])
        .await;
    assert_redirect_to(&done, "/projects/demo/settings/stores/apple#step4");
    let after = r.app.store.notification_token(r.project.id).await.unwrap();
    assert_ne!(after, before);
    let page = r.admin.get_text(WIZARD).await;
    assert!(page.contains("The notification URL was replaced; the old one now answers 404."));
    assert!(page.contains(&after) && !page.contains(&before));
    assert!(audit_actions(&r)
        .await
        .contains(&"notifications.url_regenerate".to_owned()));
});

with_ready!(a_test_notification_arrives_and_its_light_turns_green, |r| {
    r.sim
        .set_notification_url(SimEnvironment::Sandbox, Some(webhook_url(&r).await));
    let page_path = send_test(&r, "Sandbox").await;
    let first = r.admin.get_text(&page_path).await;
    assert!(first.contains("Apple accepted the request and will send a TEST notification to the Sandbox URL set in App Store Connect."));
    assert!(first.contains(&format!(r#"data-status-url="{page_path}/status""#)));
    assert!(first.contains(&format!(r#"<a href="{page_path}">Refresh</a>"#)));

    let status = poll(&r, &page_path, |s| {
        s["state"] == "arrived" && s["attempts"].as_array().is_some_and(|a| !a.is_empty())
    })
    .await;
    assert_eq!(status["badge"], "badge-good");
    assert!(status["message"]
        .as_str()
        .unwrap()
        .starts_with("Arrived at "));
    assert_eq!(status["attempts"][0]["result"], "SUCCESS");
    assert_eq!(status["attempts"][0]["words"], "delivered");
    assert!(status["arrivedAt"].is_i64());

    let page = r.admin.get_text(&page_path).await;
    assert!(
        page.contains(r#"<span class="badge badge-good" id="test-light-badge">arrived</span>"#),
        "{page}"
    );
    assert!(page.contains("Notifications from Apple reach storedesk."));
    assert!(page.contains(r#"<span class="badge badge-good">SUCCESS</span>"#));
    let wizard = r.admin.get_text(WIZARD).await;
    assert!(step4_badge(&wizard, "badge-good", "verified"));
    assert!(wizard.contains(&format!(r#"<a href="{page_path}">"#)));
    assert!(audit_actions(&r)
        .await
        .contains(&"notifications.test_request".to_owned()));
    // The TEST notification itself is in the log.
    let tests = r
        .app
        .store
        .recent_test_notifications(r.project.id, 5)
        .await
        .unwrap();
    assert_eq!(tests.len(), 1);
    assert_eq!(tests[0].environment, "Sandbox");
});

with_ready!(a_test_apple_cannot_deliver_shows_failing, |r| {
    // App Store Connect still has an old URL: our server answers 404 and Apple records the failure.
    let stale = r
        .app
        .url(&format!("/apple/notifications/{}", "x".repeat(43)));
    r.sim
        .set_notification_url(SimEnvironment::Production, Some(stale));
    let page_path = send_test(&r, "Production").await;
    let status = poll(&r, &page_path, |s| s["state"] == "failing").await;
    assert_eq!(
        status["attempts"][0]["result"],
        "UNSUCCESSFUL_HTTP_RESPONSE_CODE"
    );
    assert_eq!(
        status["message"],
        "Apple could not deliver it; see the attempts below."
    );
    let wizard = r.admin.get_text(WIZARD).await;
    assert!(step4_badge(&wizard, "badge-bad", "failing"), "{wizard}");
    assert!(step4_badge(&wizard, "badge-bad", "failing"));
});

with_ready!(a_test_without_a_url_at_apple_says_what_to_do, |r| {
    let response = r
        .admin
        .post_form(WIZARD, SEND, &[("environment", "Production")])
        .await;
    assert_redirect_to(&response, "/projects/demo/settings/stores/apple#step4");
    let page = r.admin.get_text(WIZARD).await;
    assert!(page.contains("Apple has no notification URL for Production yet, so it sent nothing. Paste the URL below into App Store Connect (App information → App Store Server Notifications, Version 2, Production Server URL) and send the test again."), "{page}");
    assert!(r
        .app
        .store
        .recent_test_notifications(r.project.id, 5)
        .await
        .unwrap()
        .is_empty());
    // No environment chosen: refused, nothing asked of Apple.
    let bad = r
        .admin
        .post_form(WIZARD, SEND, &[("environment", "Xcode")])
        .await;
    assert_eq!(bad.status().as_u16(), 400);
    assert!(bad
        .text()
        .await
        .unwrap()
        .contains("Choose the environment to test: Production or Sandbox."));
});

with_ready!(test_status_pages_of_unknown_tests_are_404, |r| {
    for path in [
        format!("{SEND}/999"),
        format!("{SEND}/999/status"),
        format!("{SEND}/abc"),
    ] {
        assert_eq!(r.admin.get(&path).await.status().as_u16(), 404, "{path}");
    }
    let support = r.app.session(Role::Support).await;
    assert_eq!(support.get(WIZARD).await.status().as_u16(), 403);
});

with_sim!(
    without_a_key_step4_asks_for_step3_first,
    SimConfig::default(),
    |app, sim| {
        let admin = app.session(Role::Admin).await;
        project_for(&app, &sim, &admin).await;
        let page = admin.get_text(WIZARD).await;
        assert!(page.contains(
            "Add the In-App Purchase key in Step 3 first: Apple sends a test notification only when asked with it."
        ));
        let response = admin
            .post_form(WIZARD, SEND, &[("environment", "Sandbox")])
            .await;
        assert_redirect_to(&response, "/projects/demo/settings/stores/apple#step4");
        let page = admin.get_text(WIZARD).await;
        assert!(page.contains("Add the In-App Purchase key (Step 3) first: Apple sends a test notification only when asked with it."));
    }
);
