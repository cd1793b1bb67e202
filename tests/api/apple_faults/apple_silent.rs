//! Apple silent: the simulator holds every answer (`Fault::Hang`) far past the app's answer bound. Each page and
//! button that waits on Apple answers within the bound (checked with slack), says so in a sentence, and stores
//! nothing it should not: no index rows, no test notification, a consumption answer recorded as unanswered (the
//! request stays open), an extension recorded as unknown, and the key's health untouched.
use std::time::{Duration, Instant};

use storedesk::apple::silence;
use storedesk::apple_sim::{Fault, SimConfig, SimEnvironment};
use storedesk::domain::{KeyHealth, Role};
use storedesk::store::notification_work::ConsumptionOutcome;

use crate::helpers::{assert_redirect_to, Backend, Ready};
use crate::projects::notifications::signed::{arrive, esc, spec};

/// The answer bound the in-process app gets in these tests: short, so each test takes seconds.
const BOUND: Duration = Duration::from_secs(2);
/// What a test allows on top of the bound (a busy CI machine, the page's own work).
const SLACK: Duration = Duration::from_secs(8);

async fn silent_ready(backend: Backend) -> Option<Ready> {
    crate::helpers::ready_with(backend, SimConfig::default(), |s| {
        s.apple.answer_within = BOUND;
    })
    .await
}

/// Apple stops answering: every next call waits a minute (far past the bound) before its answer.
fn silence_apple(r: &Ready) {
    r.sim.inject_fault(Fault::Hang {
        seconds: 60,
        count: 50,
    });
}

/// The app answered within the bound, with slack.
fn assert_within_bound(started: Instant) {
    let took = started.elapsed();
    assert!(took < BOUND + SLACK, "answered after {took:?}");
}

/// The key in use is as healthy as before: Apple's silence says nothing about it.
async fn assert_key_untouched(r: &Ready, before: KeyHealth) {
    let key = r.app.store.key_in_use(r.project.id).await.unwrap().unwrap();
    assert_eq!(key.health(), before);
    assert_eq!(key.auth_failures, 0);
}

async fn key_health(r: &Ready) -> KeyHealth {
    r.app
        .store
        .key_in_use(r.project.id)
        .await
        .unwrap()
        .unwrap()
        .health()
}

macro_rules! silent_test {
    ($name:ident, |$r:ident| $body:block) => {
        $crate::on_both_backends!($name, |backend| silent_ready(backend), $r => $body);
    };
}

silent_test!(a_lookup_answers_within_the_bound_and_stores_nothing, |r| {
    let before = key_health(&r).await;
    let id = r.sim.seed().active_monthly.transaction_id;
    silence_apple(&r);

    let started = Instant::now();
    let page = r
        .admin
        .get_text(&format!(
            "/projects/demo/transactions?q={}",
            storedesk::urls::urlencode(&id)
        ))
        .await;

    assert_within_bound(started);
    assert!(
        page.contains(
            "Apple did not answer within 2 seconds. Nothing was changed; try again in a minute."
        ),
        "{page}"
    );
    assert_eq!(r.app.store.indexed_count(r.project.id).await.unwrap(), 0);
    assert_key_untouched(&r, before).await;
    let key = r.app.store.key_in_use(r.project.id).await.unwrap().unwrap();
    assert_eq!(key.last_failure.as_deref(), Some("no answer within 2 s"));
});

silent_test!(
    a_subscription_and_a_customers_page_answer_within_the_bound,
    |r| {
        let before = key_health(&r).await;
        let original = r.sim.seed().active_monthly.original_transaction_id;
        silence_apple(&r);

        for page in [
            storedesk::urls::subscription("demo", &original),
            storedesk::urls::customer("demo", &original),
        ] {
            let started = Instant::now();
            let html = r.admin.get_text(&page).await;

            assert_within_bound(started);
            assert!(
            html.contains("Apple did not answer within 2 seconds. Nothing was changed; try again in a minute."),
            "{page}: {html}"
        );
        }
        assert_eq!(r.app.store.indexed_count(r.project.id).await.unwrap(), 0);
        assert_key_untouched(&r, before).await;
    }
);

silent_test!(the_json_api_answers_504_within_the_bound, |r| {
    let token =
        crate::admin::api_tokens::make_token(&r.admin, "demo", "read", "billing backend").await;
    let id = r.sim.seed().active_monthly.transaction_id;
    silence_apple(&r);

    let started = Instant::now();
    let response = crate::admin::api_tokens::api_get(
        &r.app,
        &format!("/api/v1/projects/demo/transactions?q={id}"),
        Some(&token),
    )
    .await;

    assert_within_bound(started);
    assert_eq!(response.status().as_u16(), 504);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "apple_timeout", "{body}");
    assert_eq!(
        body["error"]["message"],
        "Apple did not answer within 2 seconds. Nothing was changed; try again in a minute. storedesk's own index has nothing for it either.",
        "{body}"
    );
    assert_eq!(r.app.store.indexed_count(r.project.id).await.unwrap(), 0);
});

silent_test!(
    verify_now_says_apple_was_silent_and_leaves_the_key_as_it_was,
    |r| {
        let before = r.app.store.key_in_use(r.project.id).await.unwrap().unwrap();
        silence_apple(&r);

        let started = Instant::now();
        let response = r
            .admin
            .post_form(
                "/projects/demo/keys",
                "/projects/demo/keys/verify",
                &[("return_to", "keys")],
            )
            .await;

        assert_within_bound(started);
        assert_redirect_to(&response, "/projects/demo/keys");
        let page = r.admin.get_text("/projects/demo/keys").await;
        assert!(
        page.contains(&format!(
            "{} Nothing is known about the key, and its status was not changed; verify again in a minute.",
            silence(BOUND)
        )),
        "{page}"
    );
        let after = r.app.store.key_in_use(r.project.id).await.unwrap().unwrap();
        assert_eq!(after.health(), before.health());
        assert_eq!(
            (
                after.status,
                after.auth_failures,
                after.verified_at,
                after.last_success_at
            ),
            (before.status, 0, before.verified_at, before.last_success_at)
        );
        assert_eq!(
            (after.sandbox_check, after.production_check),
            (before.sandbox_check, before.production_check)
        );
    }
);

silent_test!(
    a_test_notification_apple_did_not_answer_is_not_recorded,
    |r| {
        let before = key_health(&r).await;
        silence_apple(&r);
        const WIZARD: &str = "/projects/demo/settings/stores/apple";

        let started = Instant::now();
        let response = r
            .admin
            .post_form(
                WIZARD,
                "/projects/demo/settings/stores/apple/test-notification",
                &[("environment", "Production")],
            )
            .await;

        assert_within_bound(started);
        assert_redirect_to(&response, &format!("{WIZARD}#step4"));
        let page = r.admin.get_text(WIZARD).await;
        assert!(
        page.contains(&esc(
            "Apple did not answer within 2 seconds. storedesk can't tell whether Apple will send the TEST notification: if it arrives, the notification log shows it within a minute; otherwise send the test again."
        )),
        "{page}"
    );
        assert!(r
            .app
            .store
            .recent_test_notifications(r.project.id, 10)
            .await
            .unwrap()
            .is_empty());
        assert_key_untouched(&r, before).await;
    }
);

silent_test!(a_test_notifications_status_says_it_keeps_watching, |r| {
    // A test Apple accepted (to a URL that is not this project's); then Apple falls silent while the status page
    // asks for its delivery report.
    let stale = r
        .app
        .url(&format!("/apple/notifications/{}", "x".repeat(43)));
    r.sim
        .set_notification_url(SimEnvironment::Production, Some(stale));
    let response = r
        .admin
        .post_form(
            "/projects/demo/settings/stores/apple",
            "/projects/demo/settings/stores/apple/test-notification",
            &[("environment", "Production")],
        )
        .await;
    assert_eq!(response.status().as_u16(), 303);
    let page = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        page.starts_with("/projects/demo/settings/stores/apple/test-notification/"),
        "{page}"
    );
    silence_apple(&r);

    let started = Instant::now();
    let status: serde_json::Value = r
        .admin
        .get(&format!("{page}/status"))
        .await
        .json()
        .await
        .unwrap();

    assert_within_bound(started);
    let sentence = "Apple did not answer within 2 seconds. storedesk keeps watching for the TEST notification and asks Apple again in a moment.";
    assert_eq!(status["note"], sentence, "{status}");
    let row = r
        .app
        .store
        .recent_test_notifications(r.project.id, 1)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(row.apple_note.as_deref(), Some(sentence));
    assert_eq!(row.apple_attempts, None);
});

silent_test!(
    a_consumption_answer_apple_did_not_answer_is_recorded_as_unanswered,
    |r| {
        let seed = r.sim.seed();
        let id = arrive(
            &r.app,
            &r.sim,
            &r.project,
            SimEnvironment::Production,
            spec("CONSUMPTION_REQUEST", &seed.consumable_transaction_id),
        )
        .await;
        silence_apple(&r);
        let queue = "/projects/demo/notifications/consumption";

        let started = Instant::now();
        let response = r
            .admin
            .post_form(
                queue,
                &format!("{queue}/{id}"),
                &[
                    ("customer_consented", "true"),
                    ("sample_content_provided", "false"),
                    ("delivery_status", "DELIVERED"),
                    ("consumption_percentage", "50"),
                    ("refund_preference", "GRANT_FULL"),
                ],
            )
            .await;

        assert_within_bound(started);
        assert_eq!(response.status().as_u16(), 303);
        let back = response.headers()["location"].to_str().unwrap().to_owned();
        let page = r.admin.get_text(&back).await;
        assert!(
            page.contains(&esc(&format!(
                "Apple did not answer within 2 seconds. storedesk can't tell whether Apple received the consumption information for transaction {}, so this request stays open: send it again in a minute.",
                seed.consumable_transaction_id
            ))),
            "{page}"
        );
        assert!(page.contains("<span class=\"badge badge-warn\">no answer from Apple</span>"));
        let answers = r
            .app
            .store
            .consumption_answers_for(
                r.project.id,
                std::slice::from_ref(&seed.consumable_transaction_id),
            )
            .await
            .unwrap();
        assert_eq!(answers.len(), 1);
        assert_eq!(answers[0].outcome, ConsumptionOutcome::Unanswered);
        assert_eq!(answers[0].error_code, None);
        // Not answered as far as the queue knows: it still waits for an answer Apple confirmed.
        let queue_page = r.admin.get_text(queue).await;
        assert!(
            queue_page.contains("<h2 id=\"open-heading\">Waiting for an answer (1)</h2>"),
            "{queue_page}"
        );
    }
);

silent_test!(
    an_extension_apple_did_not_answer_is_said_to_be_unknown,
    |r| {
        let id = r.sim.seed().active_monthly.original_transaction_id;
        let url = format!("/projects/demo/subscriptions/{id}");
        let lead = r.app.session(Role::Lead).await;
        let form = lead.get_text(&url).await;
        let csrf = crate::helpers::csrf_from(&form);
        silence_apple(&r);

        let started = Instant::now();
        let response = lead
            .client
            .post(lead.url(&format!("{url}/extend")))
            .form(&[
                ("days", "10"),
                ("reason", "3"),
                ("note", "Outage on 2 May"),
                ("csrf_token", csrf.as_str()),
            ])
            .send()
            .await
            .unwrap();

        assert_within_bound(started);
        assert_redirect_to(&response, &url);
        // The page itself asks Apple again (still silent), so it too comes back within the bound.
        let page = lead.get_text(&url).await;
        assert!(
        page.contains(&esc("Apple did not answer within 2 seconds. So it is not known whether Apple extended the renewal date. Send the same request again from the subscription's page: Apple applies one request only once, so it cannot be extended twice.")),
        "{page}"
    );
        let audit = r.app.store.list_audit(&Default::default()).await.unwrap();
        assert!(audit
            .iter()
            .any(|e| e.action == "subscription.extend_unknown" && e.target == id));
        assert!(!audit.iter().any(|e| e.action == "subscription.extend"));
    }
);

// The bound as users set it: `STOREDESK_APPLE_ANSWER_WITHIN` read by the real binary, through the settings, into the
// client every page uses.
crate::on_both_backends!(
    storedesk_serve_takes_its_answer_bound_from_the_environment,
    |backend| crate::helpers::ready(backend, SimConfig::default()),
    r => {
        let instance =
            crate::apple_faults::Instance::start(&r, &[("STOREDESK_APPLE_ANSWER_WITHIN", "3s")]).await;
        let id = r.sim.seed().active_monthly.transaction_id;
        silence_apple(&r);

        let started = Instant::now();
        let page = instance
            .admin(&r)
            .get_text(&format!("/projects/demo/transactions?q={id}"))
            .await;

        let took = started.elapsed();
        assert!(took < Duration::from_secs(3) + SLACK, "answered after {took:?}");
        assert!(
            page.contains("Apple did not answer within 3 seconds. Nothing was changed; try again in a minute."),
            "{page}"
        );
        assert_eq!(r.app.store.indexed_count(r.project.id).await.unwrap(), 0);
    }
);

silent_test!(a_new_key_is_not_switched_on_while_apple_is_silent, |r| {
    let before = r.app.store.key_in_use(r.project.id).await.unwrap().unwrap();
    let next = r.sim.issue_key();
    silence_apple(&r);

    let started = Instant::now();
    let response = crate::projects::keys::verify::upload(
        &r.admin,
        "/projects/demo/keys",
        "/projects/demo/keys",
        &next,
        false,
    )
    .await;

    assert_within_bound(started);
    assert_eq!(response.status().as_u16(), 422);
    let body = response.text().await.unwrap();
    assert!(
        body.contains(&esc(&format!(
            "{} Nothing is known about the key, and its status was not changed; verify again in a minute. The new key was not switched on.",
            silence(BOUND)
        ))),
        "{body}"
    );
    let now = r.app.store.key_in_use(r.project.id).await.unwrap().unwrap();
    assert_eq!((now.id, &now.key_id), (before.id, &before.key_id));
    assert_eq!(now.health(), before.health());
});
