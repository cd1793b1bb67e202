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
        r##"<a href="#step4">Step 4 · Production readiness</a> <span class="badge {badge}">{word}</span>"##
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

with_ready!(
    production_readiness_is_verified_only_by_a_production_notification,
    |r| {
        // A Sandbox notification proves Sandbox only.
        let url = webhook_url(&r).await;
        let jws = renewal(&r.sim, SimEnvironment::Sandbox);
        assert_eq!(deliver(&url, body(&jws)).await.0, 200);
        let page = r.admin.get_text(WIZARD).await;
        assert!(step4_badge(&page, "badge-warn", "Sandbox only"), "{page}");
        assert_eq!(
            page.matches("none yet").count(),
            1,
            "Production still has none"
        );
        assert!(page.contains("Last Sandbox notification"));
        assert!(page.contains("(just now)"), "{page}");

        // A Production notification proves Production readiness.
        let jws = renewal(&r.sim, SimEnvironment::Production);
        assert_eq!(deliver(&url, body(&jws)).await.0, 200);
        let page = r.admin.get_text(WIZARD).await;
        assert!(step4_badge(&page, "badge-good", "verified"), "{page}");
        assert_eq!(page.matches("none yet").count(), 0);
    }
);

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
    // A Sandbox test that arrived proves Sandbox, not Production readiness.
    let wizard = r.admin.get_text(WIZARD).await;
    assert!(
        step4_badge(&wizard, "badge-warn", "Sandbox only"),
        "{wizard}"
    );
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

// ---------------------------------------------------------------------------------------------------------------
// The steps as Apple publishers know them, and Step 4's guidance
// ---------------------------------------------------------------------------------------------------------------

with_ready!(
    the_wizard_has_four_steps_and_step_2_says_the_secret_is_not_needed,
    |r| {
        let page = r.admin.get_text(WIZARD).await;
        let steps = [
            r##"<a href="#step1">Step 1 · App</a>"##,
            r##"<a href="#step2">Step 2 · App-Specific Shared Secret</a> <span class="badge badge-neutral">not needed</span>"##,
            r##"<a href="#step3">Step 3 · Server API access</a>"##,
            r##"<a href="#step4">Step 4 · Production readiness</a>"##,
        ];
        let at: Vec<usize> = steps
            .iter()
            .map(|s| {
                page.find(s)
                    .unwrap_or_else(|| panic!("{s} missing: {page}"))
            })
            .collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "in order: {at:?}");
        assert!(page.contains(r#"<h2 id="step2-title">Step 2 · App-Specific Shared Secret</h2>"#));
        let step2 = crate::projects::settings::stores::apple::key::unescape(&page);
        assert!(step2.contains("It was the password of Apple's <code>verifyReceipt</code> endpoint, which checked a whole app receipt and which Apple has deprecated."), "{step2}");
        assert!(step2.contains("storedesk does not need it: it asks the App Store Server API with the In-App Purchase key of Step 3"));
        // Step 4 promises only what the pages do: no light on this page, a status page that says "arrived".
        assert!(!page.contains("light turns green"));
        assert!(step2.contains("Its status page says <strong>arrived</strong> (a green badge) as soon as it reaches storedesk"), "{step2}");
    }
);

/// The Step 4 warning's sentences, or none when there is no warning.
fn url_warning(page: &str) -> Vec<String> {
    let Some(start) =
        page.find(r#"<div class="flash flash-warn" role="note" id="public-url-warning">"#)
    else {
        return Vec::new();
    };
    let block = &page[start..start + page[start..].find("</div>").unwrap()];
    assert!(block.contains("<strong>Apple cannot deliver to this URL.</strong>"));
    block
        .split("<li>")
        .skip(1)
        .map(|li| {
            crate::projects::settings::stores::apple::key::unescape(
                li.split("</li>").next().unwrap(),
            )
        })
        .collect()
}

const HTTP: &str = "Apple delivers notifications only to https:// addresses (TLS 1.2 or newer), and this URL starts with http://.";
const SET_IT: &str = "Set STOREDESK_PUBLIC_URL to the https:// address the internet reaches this server by (for a trial, a tunnel or reverse proxy with a public name), then restart storedesk.";

with_ready!(the_default_public_url_is_named_as_http_and_loopback, |r| {
    // The tests' public URL is the default: http:// and the bind address, 127.0.0.1.
    assert!(r.app.settings.public_url.starts_with("http://127.0.0.1:"));
    let page = r.admin.get_text(WIZARD).await;
    assert_eq!(
        url_warning(&page),
        vec![
            HTTP.to_owned(),
            "127.0.0.1 is a loopback address: it names the machine it is used on, so Apple cannot reach it.".to_owned(),
            SET_IT.to_owned(),
        ]
    );
});

/// Step 4 as an admin sees it when `STOREDESK_PUBLIC_URL` is `public_url` (an http:// one: the session cookie is
/// then not Secure, and the test's client keeps it over plain HTTP).
async fn warning_for_http(
    backend: crate::helpers::Backend,
    public_url: &'static str,
) -> Option<Vec<String>> {
    let r = crate::helpers::ready_with(backend, SimConfig::default(), |s| {
        s.public_url = public_url.to_owned();
    })
    .await?;
    let page = r.admin.get_text(WIZARD).await;
    assert!(
        page.contains(&format!("{public_url}/apple/notifications/")),
        "{page}"
    );
    Some(url_warning(&page))
}

crate::on_both_backends!(
    an_http_public_url_is_named_and_a_private_one_too,
    |backend| async move {
        Some((
            warning_for_http(backend, "http://storedesk.example.com").await?,
            warning_for_http(backend, "http://10.0.0.5:8080").await?,
        ))
    },
    (public, private) => {
        assert_eq!(public, vec![HTTP.to_owned(), SET_IT.to_owned()]);
        assert_eq!(
            private,
            vec![
                HTTP.to_owned(),
                "10.0.0.5 is a private network address, which Apple cannot reach from the internet.".to_owned(),
                SET_IT.to_owned(),
            ]
        );
    }
);

/// The `name=value` of each cookie a response sets.
fn set_cookies(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().to_owned())
        .collect()
}

/// Step 4 as an admin sees it when `STOREDESK_PUBLIC_URL` is an https:// URL. The app then marks its cookies
/// Secure, which a client keeps only over HTTPS, so this test sends them back by hand over the test's plain HTTP.
async fn warning_for_https(
    backend: crate::helpers::Backend,
    public_url: &'static str,
) -> Option<Vec<String>> {
    use crate::helpers::{csrf_from, role_email, PASSWORD};
    let app =
        crate::helpers::spawn_app_with(backend, |s| s.public_url = public_url.to_owned()).await?;
    crate::helpers::store_project(&app.store, "demo").await;
    app.add_user(&role_email(Role::Admin), Role::Admin).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let login = client.get(app.url("/login")).send().await.unwrap();
    let cookies = set_cookies(&login).join("; ");
    let csrf = csrf_from(&login.text().await.unwrap());
    let signed_in = client
        .post(app.url("/login"))
        .header("cookie", cookies)
        .form(&[
            ("email", role_email(Role::Admin).as_str()),
            ("password", PASSWORD),
            ("csrf_token", csrf.as_str()),
            ("next", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status().as_u16(), 303, "signed in");
    let session = set_cookies(&signed_in).join("; ");
    let page = client
        .get(app.url(WIZARD))
        .header("cookie", session)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let page = page.text().await.unwrap();
    assert!(
        page.contains(&format!("{public_url}/apple/notifications/")),
        "{page}"
    );
    Some(url_warning(&page))
}

crate::on_both_backends!(
    a_public_https_url_has_no_warning_and_loopback_or_private_https_ones_do,
    |backend| async move {
        Some((
            warning_for_https(backend, "https://storedesk.example.com").await?,
            warning_for_https(backend, "https://192.168.1.20").await?,
            warning_for_https(backend, "https://localhost:8443").await?,
        ))
    },
    (public, private, loopback) => {
        assert!(public.is_empty(), "{public:?}");
        assert_eq!(
            private,
            vec![
                "192.168.1.20 is a private network address, which Apple cannot reach from the internet.".to_owned(),
                SET_IT.to_owned(),
            ]
        );
        assert_eq!(
            loopback,
            vec![
                "localhost is a loopback address: it names the machine it is used on, so Apple cannot reach it.".to_owned(),
                SET_IT.to_owned(),
            ]
        );
    }
);

/// What the status page says once Apple reports the delivery of `env`'s test, with the app's grace `grace`.
async fn delivered_elsewhere(r: &Ready, env: SimEnvironment, env_word: &str) -> Value {
    r.sim.set_notification_url(env, Some(r.sim.elsewhere_url()));
    let page_path = send_test(r, env_word).await;
    let status = poll(r, &page_path, |s| {
        s["attempts"].as_array().is_some_and(|a| !a.is_empty())
    })
    .await;
    assert_eq!(status["attempts"][0]["result"], "SUCCESS");
    assert_eq!(
        status["arrivedAt"],
        Value::Null,
        "it never reached storedesk"
    );
    let mut status = status;
    status["page"] = Value::String(r.admin.get_text(&page_path).await);
    status
}

fn elsewhere_message(url: &str, env: &str, fallback: &str) -> String {
    format!(
        ", but it has not arrived here, so another server answered it: App Store Connect's {env} Server URL is not this project's URL. In App Store Connect, open your app → App Information → App Store Server Notifications and set the {env} Server URL to {url} (Version 2).{fallback} Also check that no proxy, older deployment or other project answers in storedesk's place, then send the test again."
    )
}

crate::on_both_backends!(
    a_test_apple_reports_delivered_that_never_arrives_says_where_it_went,
    |backend| crate::helpers::ready_with(backend, SimConfig::default(), |s| {
        // The minute the page waits before it draws the conclusion, made nothing so the test need not wait.
        s.test_notification_grace = Duration::ZERO;
    }),
    r => {
        let url = webhook_url(&r).await;
        for (env, word, fallback) in [
            (SimEnvironment::Sandbox, "Sandbox", " Without a Sandbox Server URL, Apple sends Sandbox notifications to the Production Server URL."),
            (SimEnvironment::Production, "Production", ""),
        ] {
            let status = delivered_elsewhere(&r, env, word).await;
            assert_eq!(status["state"], "delivered elsewhere", "{status}");
            assert_eq!(status["badge"], "badge-bad");
            let message = status["message"].as_str().unwrap();
            assert!(message.starts_with("Apple reports it delivered this TEST notification at "), "{message}");
            assert!(message.ends_with(&elsewhere_message(&url, word, fallback)), "{message}");
            let page = crate::projects::settings::stores::apple::key::unescape(status["page"].as_str().unwrap());
            assert!(page.contains(r#"<span class="badge badge-bad" id="test-light-badge">delivered elsewhere</span>"#), "{page}");
            assert!(page.contains(&elsewhere_message(&url, word, fallback)), "{page}");
        }
        assert_eq!(r.sim.elsewhere_received(), 2, "the other server got both");
        let wizard = r.admin.get_text(WIZARD).await;
        assert!(step4_badge(&wizard, "badge-bad", "failing"), "{wizard}");
        assert!(wizard.contains(r#"<span class="badge badge-bad">delivered elsewhere</span>"#), "{wizard}");
    }
);

with_ready!(
    a_delivery_apple_reports_is_awaited_for_a_minute_before_it_is_called_elsewhere,
    |r| {
        assert_eq!(
            r.app.settings.test_notification_grace,
            Duration::from_secs(60)
        );
        let status = delivered_elsewhere(&r, SimEnvironment::Sandbox, "Sandbox").await;
        assert_eq!(status["state"], "waiting", "{status}");
        assert!(status["message"]
            .as_str()
            .unwrap()
            .starts_with("Waiting for the TEST notification to reach storedesk (requested "));
        let wizard = r.admin.get_text(WIZARD).await;
        assert!(step4_badge(&wizard, "badge-warn", "waiting"), "{wizard}");
    }
);
