//! Automatic consumption answers: the policy form, a dry run, the wait for the backend's data (given through the
//! JSON API), the answer after the wait, consent, a person's answer first, and the API's refusals.
use serde_json::{json, Value};
use storedesk::apple_sim::SimEnvironment::Production;
use storedesk::domain::Role;
use storedesk::notifications::auto_consumption::{run_once, RunReport};
use storedesk::store::AuditFilter;

use crate::admin::api_tokens::{api_get, make_token};
use crate::projects::notifications::signed::{arrive, spec, state, store};
use crate::with_ready;

const POLICY: &str = "/projects/demo/settings/consumption";
const QUEUE: &str = "/projects/demo/notifications/consumption";
const MINUTE: i64 = 60_000;

/// A form's fields, in order.
type Form<'a> = Vec<(&'a str, &'a str)>;

fn policy<'a>(mode: &'a str, consent: bool, wait: &'a str) -> Form<'a> {
    let mut form = vec![
        ("mode", mode),
        ("delivery_status", "DELIVERED"),
        ("refund_preference", "DECLINE"),
        ("sample_content_provided", "true"),
        ("wait_minutes", wait),
    ];
    if consent {
        form.push(("consent_declared", "yes"));
    }
    form
}

async fn set_policy(r: &crate::helpers::Ready, form: &[(&str, &str)]) {
    let response = r.admin.post_form(POLICY, POLICY, form).await;
    crate::helpers::assert_redirect_to(&response, POLICY);
}

/// A CONSUMPTION_REQUEST for the seeded consumable, stored as the webhook stores it; its id.
async fn request(r: &crate::helpers::Ready) -> i64 {
    let seed = r.sim.seed();
    arrive(
        &r.app,
        &r.sim,
        &r.project,
        Production,
        spec("CONSUMPTION_REQUEST", &seed.consumable_transaction_id),
    )
    .await
}

async fn api_put(r: &crate::helpers::Ready, token: &str, id: i64, body: &Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .put(
            r.app
                .url(&format!("/api/v1/projects/demo/consumption-requests/{id}")),
        )
        .header("Authorization", format!("Bearer {token}"))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn audit(r: &crate::helpers::Ready, action: &str) -> Vec<storedesk::store::AuditEntry> {
    r.app
        .store
        .list_audit(&AuditFilter {
            action: Some(action.into()),
            limit: 20,
            ..AuditFilter::default()
        })
        .await
        .unwrap()
}

with_ready!(the_policy_form_checks_each_field_and_is_audited, |r| {
    let cases: [(Form, &str, &str); 6] = [
        (policy("sometimes", true, "30"), "mode", "Choose off, dry run or automatic."),
        (
            policy("automatic", false, "30"),
            "consent_declared",
            "Automatic answers send customerConsented: tick the box only if your app obtains the customer&#39;s consent to share consumption data with Apple. Without it, choose dry run or off.",
        ),
        (
            policy("dry_run", true, "601"),
            "wait_minutes",
            "Wait a whole number of minutes from 0 to 600 for your backend&#39;s data; storedesk answers 30 minutes before Apple&#39;s deadline in any case.",
        ),
        (
            {
                let mut f = policy("dry_run", true, "30");
                f[1] = ("delivery_status", "SOMETIMES");
                f
            },
            "delivery_status",
            "Choose how your app delivers purchases, from the list.",
        ),
        (
            {
                let mut f = policy("dry_run", true, "30");
                f[2] = ("refund_preference", "GRANT_HALF");
                f
            },
            "refund_preference",
            "Choose a refund preference from the list, or “No preference”.",
        ),
        (
            {
                let mut f = policy("dry_run", true, "30");
                f[3] = ("sample_content_provided", "maybe");
                f
            },
            "sample_content_provided",
            "Say whether customers can try a sample, a trial or a description before buying.",
        ),
    ];
    for (form, field, sentence) in cases {
        let response = r.admin.post_form(POLICY, POLICY, &form).await;
        assert_eq!(response.status().as_u16(), 422, "{field}");
        let page = response.text().await.unwrap();
        assert!(
            page.contains(&format!(
                "<p class=\"field-error\" id=\"{field}-error\">{sentence}</p>"
            )),
            "{field}: {page}"
        );
    }
    assert!(r
        .app
        .store
        .consumption_policy(r.project.id)
        .await
        .unwrap()
        .is_none());
    assert!(audit(&r, "consumption.policy").await.is_empty());
    let support = r.app.session(Role::Support).await;
    assert_eq!(support.get(POLICY).await.status().as_u16(), 403);

    set_policy(&r, &policy("dry_run", true, "45")).await;
    let saved = r
        .app
        .store
        .consumption_policy(r.project.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            saved.mode.as_str(),
            saved.wait_minutes,
            saved.consent_declared
        ),
        ("dry_run", 45, 1)
    );
    let entries = audit(&r, "consumption.policy").await;
    assert_eq!(entries.len(), 1);
    assert!(
        entries[0]
            .detail
            .contains("mode dry_run, consent declared yes"),
        "{}",
        entries[0].detail
    );
    assert!(r
        .admin
        .get_text(POLICY)
        .await
        .contains("id=\"mode-dry_run\" value=\"dry_run\" checked"));
});

with_ready!(a_dry_run_shows_the_answer_and_sends_nothing, |r| {
    set_policy(&r, &policy("dry_run", true, "0")).await;
    let id = request(&r).await;
    let st = state(&r.app);
    let now = storedesk::clock::now_ms();
    let report = run_once(&st, now).await.unwrap();
    assert_eq!(
        report,
        RunReport {
            computed: 1,
            ..RunReport::default()
        }
    );
    assert!(r.sim.consumption_submissions().is_empty(), "nothing sent");
    let page = r.admin.get_text(QUEUE).await;
    assert!(
        page.contains(&format!("id=\"policy-{id}\""))
            && page.contains("Dry run: this is what the policy would send. Nothing was sent."),
        "{page}"
    );
    assert!(
        page.contains("customer consented, sample provided, delivered"),
        "{page}"
    );
    // A second run computes nothing new.
    assert_eq!(run_once(&st, now).await.unwrap(), RunReport::default());
    assert!(st
        .metrics
        .render()
        .contains("storedesk_consumption_policy_total{outcome=\"dry_run\"} 1"));
});

with_ready!(
    automatic_waits_for_the_backend_and_sends_its_data_once,
    |r| {
        set_policy(&r, &policy("automatic", true, "60")).await;
        let id = request(&r).await;
        let st = state(&r.app);
        let now = storedesk::clock::now_ms();
        assert_eq!(
            run_once(&st, now).await.unwrap(),
            RunReport {
                waiting: 1,
                ..RunReport::default()
            }
        );
        assert!(r.sim.consumption_submissions().is_empty());

        // The backend sends what only it knows; the policy uses it at its next turn.
        let token = make_token(&r.admin, "demo", "sign", "backend").await;
        let listed: Value = api_get(
            &r.app,
            "/api/v1/projects/demo/consumption-requests",
            Some(&token),
        )
        .await
        .json()
        .await
        .unwrap();
        assert_eq!(listed["requests"][0]["id"], id, "{listed}");
        assert_eq!(listed["requests"][0]["policyState"], "waiting");
        let data = json!({"deliveryStatus": "UNDELIVERED_SERVER_OUTAGE", "refundPreference": "GRANT_FULL"});
        let (status, answer) = api_put(&r, &token, id, &data).await;
        assert_eq!(status, 202, "{answer}");
        assert_eq!(answer["result"], "stored");
        assert_eq!(
            run_once(&st, now).await.unwrap(),
            RunReport {
                sent: 1,
                ..RunReport::default()
            }
        );
        let sent = r.sim.consumption_submissions();
        assert_eq!(sent.len(), 1);
        assert_eq!(
            sent[0]["body"],
            json!({"customerConsented": true, "sampleContentProvided": true,
            "deliveryStatus": "UNDELIVERED_SERVER_OUTAGE", "refundPreference": "GRANT_FULL"})
        );
        // Audited as the policy's, and never sent twice.
        let sends = audit(&r, "consumption.send").await;
        assert_eq!(sends.len(), 1);
        assert_eq!(sends[0].user_email, "system (consumption policy)");
        assert_eq!(
            run_once(&st, now + 120 * MINUTE).await.unwrap(),
            RunReport::default()
        );
        assert_eq!(r.sim.consumption_submissions().len(), 1);
        assert!(st
            .metrics
            .render()
            .contains("storedesk_consumption_policy_total{outcome=\"sent\"} 1"));
        // Too late for the backend now, and a person's answer is refused: the policy answered.
        let (status, answer) = api_put(&r, &token, id, &data).await;
        assert_eq!(status, 409, "{answer}");
        let support = r.app.session(Role::Support).await;
        let form = [
            ("customer_consented", "true"),
            ("sample_content_provided", "false"),
            ("delivery_status", "DELIVERED"),
            ("consumption_percentage", ""),
            ("refund_preference", ""),
        ];
        support
            .post_form(QUEUE, &format!("{QUEUE}/{id}"), &form)
            .await;
        assert_eq!(
            r.sim.consumption_submissions().len(),
            1,
            "the person's answer was not sent"
        );
        let page = support.get_text(QUEUE).await;
        assert!(
            page.contains("Sent by the policy; Apple accepted it."),
            "{page}"
        );
    }
);

with_ready!(without_backend_data_it_answers_when_the_wait_is_over, |r| {
    set_policy(&r, &policy("automatic", true, "600")).await;
    request(&r).await;
    let st = state(&r.app);
    let now = storedesk::clock::now_ms();
    assert_eq!(run_once(&st, now + 599 * MINUTE).await.unwrap().waiting, 1);
    assert_eq!(run_once(&st, now + 601 * MINUTE).await.unwrap().sent, 1);
    let sent = r.sim.consumption_submissions();
    assert_eq!(
        sent[0]["body"],
        json!({"customerConsented": true, "sampleContentProvided": true,
            "deliveryStatus": "DELIVERED", "refundPreference": "DECLINE"})
    );
});

with_ready!(
    without_declared_consent_nothing_is_sent_and_the_page_says_why,
    |r| {
        set_policy(&r, &policy("dry_run", false, "0")).await;
        let id = request(&r).await;
        let st = state(&r.app);
        let report = run_once(&st, storedesk::clock::now_ms()).await.unwrap();
        assert_eq!(
            report,
            RunReport {
                skipped: 1,
                ..RunReport::default()
            }
        );
        assert!(r.sim.consumption_submissions().is_empty());
        let page = r.admin.get_text(QUEUE).await;
        assert!(page.contains(&format!("id=\"policy-{id}\"")), "{page}");
        assert!(page.contains("Nothing is sent: the project has not declared that its app obtains the customer&#39;s consent"), "{page}");
    }
);

with_ready!(a_persons_answer_first_keeps_the_policy_out, |r| {
    set_policy(&r, &policy("automatic", true, "60")).await;
    let id = request(&r).await;
    let support = r.app.session(Role::Support).await;
    let form = [
        ("customer_consented", "true"),
        ("sample_content_provided", "false"),
        ("delivery_status", "DELIVERED"),
        ("consumption_percentage", "10"),
        ("refund_preference", "DECLINE"),
    ];
    support
        .post_form(QUEUE, &format!("{QUEUE}/{id}"), &form)
        .await;
    assert_eq!(r.sim.consumption_submissions().len(), 1);
    let st = state(&r.app);
    assert_eq!(
        run_once(&st, storedesk::clock::now_ms() + 120 * MINUTE)
            .await
            .unwrap(),
        RunReport::default()
    );
    assert_eq!(
        r.sim.consumption_submissions().len(),
        1,
        "the policy sent nothing"
    );
});

with_ready!(
    the_api_refuses_bad_data_and_unknown_requests_and_stores_nothing,
    |r| {
        set_policy(&r, &policy("automatic", true, "60")).await;
        let id = request(&r).await;
        let token = make_token(&r.admin, "demo", "sign", "backend").await;
        let cases = [
            (json!({"deliveryStatus": "LOST"}), 422, "deliveryStatus"),
            (
                json!({"consumptionPercentage": 100001}),
                422,
                "consumptionPercentage",
            ),
            (
                json!({"refundPreference": "MAYBE"}),
                422,
                "refundPreference",
            ),
            (json!({"playTime": 5}), 400, ""),
        ];
        for (body, expected, field) in cases {
            let (status, answer) = api_put(&r, &token, id, &body).await;
            assert_eq!(status, expected, "{body}: {answer}");
            if !field.is_empty() {
                assert!(
                    answer["error"]["message"]
                        .as_str()
                        .unwrap()
                        .starts_with(field),
                    "{answer}"
                );
            }
        }
        let (status, _) = api_put(&r, &token, id + 1000, &json!({})).await;
        assert_eq!(status, 404);
        let read = make_token(&r.admin, "demo", "read", "reader").await;
        let (status, _) = api_put(&r, &read, id, &json!({"deliveryStatus": "DELIVERED"})).await;
        assert_eq!(status, 403);
        assert!(
            r.app.store.consumption_auto(id).await.unwrap().is_none(),
            "nothing stored"
        );
    }
);

with_ready!(
    a_request_close_to_its_deadline_is_answered_without_waiting,
    |r| {
        set_policy(&r, &policy("automatic", true, "600")).await;
        // Signed 11 h 40 min ago and received only now (Apple's retries, or a backfill): 20 minutes are left.
        let seed = r.sim.seed();
        let signed = storedesk::clock::now_ms() - (11 * 60 + 40) * MINUTE;
        let payload = r
            .sim
            .sign_notification_at(
                Production,
                spec("CONSUMPTION_REQUEST", &seed.consumable_transaction_id),
                signed,
            )
            .unwrap();
        store(&r.app, &r.sim, &r.project, &payload).await;
        let st = state(&r.app);
        let report = run_once(&st, storedesk::clock::now_ms()).await.unwrap();
        assert_eq!(
            report,
            RunReport {
                sent: 1,
                ..RunReport::default()
            }
        );
        assert_eq!(r.sim.consumption_submissions().len(), 1);
    }
);

with_ready!(
    the_api_holds_backend_data_to_apples_rules_with_the_policy,
    |r| {
        set_policy(&r, &policy("automatic", true, "600")).await;
        let seed = r.sim.seed();
        let consumable = request(&r).await;
        let subscription = arrive(
            &r.app,
            &r.sim,
            &r.project,
            Production,
            spec("CONSUMPTION_REQUEST", &seed.active_monthly.transaction_id),
        )
        .await;
        let token = make_token(&r.admin, "demo", "sign", "backend").await;
        let cases = [
            // A prorated refund of a consumable needs a share between 0 and 100 % (exclusive).
            (consumable, json!({"refundPreference": "GRANT_PRORATED"})),
            (
                consumable,
                json!({"refundPreference": "GRANT_PRORATED", "consumptionPercentage": 0}),
            ),
            (
                consumable,
                json!({"refundPreference": "GRANT_PRORATED", "consumptionPercentage": 100000}),
            ),
            // Apple computes a subscription's share itself and refuses one sent.
            (subscription, json!({"consumptionPercentage": 50000})),
        ];
        for (id, body) in cases {
            let (status, answer) = api_put(&r, &token, id, &body).await;
            assert_eq!(status, 422, "{body}: {answer}");
            let message = answer["error"]["message"].as_str().unwrap_or_default();
            assert!(
                message.starts_with("consumptionPercentage: "),
                "{body}: {answer}"
            );
            assert!(
                r.app.store.consumption_auto(id).await.unwrap().is_none(),
                "{body}: nothing stored"
            );
        }
        assert!(r.sim.consumption_submissions().is_empty());

        // A valid prorated share is stored and sent as Apple takes it.
        let body = json!({"refundPreference": "GRANT_PRORATED", "consumptionPercentage": 40000});
        let (status, answer) = api_put(&r, &token, consumable, &body).await;
        assert_eq!(status, 202, "{answer}");
        let st = state(&r.app);
        let report = run_once(&st, storedesk::clock::now_ms()).await.unwrap();
        assert_eq!(report.sent, 1, "{report:?}");
        let sent = r.sim.consumption_submissions();
        assert_eq!(sent.len(), 1);
        assert_eq!(
            sent[0]["body"],
            json!({"customerConsented": true, "sampleContentProvided": true,
                "deliveryStatus": "DELIVERED", "consumptionPercentage": 40000,
                "refundPreference": "GRANT_PRORATED"})
        );
    }
);

with_ready!(two_turns_at_once_send_one_answer, |r| {
    set_policy(&r, &policy("automatic", true, "0")).await;
    request(&r).await;
    let st = state(&r.app);
    let now = storedesk::clock::now_ms();
    let (a, b) = tokio::join!(run_once(&st, now), run_once(&st, now));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.sent + b.sent, 1, "{a:?} {b:?}");
    assert_eq!(r.sim.consumption_submissions().len(), 1);
    assert_eq!(audit(&r, "consumption.send").await.len(), 1);
});

with_ready!(another_projects_token_reaches_no_request, |r| {
    set_policy(&r, &policy("automatic", true, "600")).await;
    let id = request(&r).await;
    assert_eq!(
        crate::helpers::create_project(&r.admin, "other")
            .await
            .status()
            .as_u16(),
        303
    );
    let other = make_token(&r.admin, "other", "sign", "other backend").await;
    let data = json!({"deliveryStatus": "UNDELIVERED_SERVER_OUTAGE"});
    // The token names another project: refused before anything is looked up.
    let (status, answer) = api_put(&r, &other, id, &data).await;
    assert_eq!(status, 403, "{answer}");
    let listed = api_get(
        &r.app,
        "/api/v1/projects/demo/consumption-requests",
        Some(&other),
    )
    .await;
    assert_eq!(listed.status().as_u16(), 403);
    // Through its own project the id is not found: requests are looked up within the token's project.
    let response = reqwest::Client::new()
        .put(
            r.app
                .url(&format!("/api/v1/projects/other/consumption-requests/{id}")),
        )
        .header("Authorization", format!("Bearer {other}"))
        .json(&data)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 404);
    let own: Value = api_get(
        &r.app,
        "/api/v1/projects/other/consumption-requests",
        Some(&other),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(own, json!({"requests": []}));
    assert!(
        r.app.store.consumption_auto(id).await.unwrap().is_none(),
        "nothing stored"
    );
});

with_ready!(
    the_request_page_says_what_the_policy_will_send_and_when,
    |r| {
        set_policy(&r, &policy("automatic", true, "60")).await;
        let id = request(&r).await;
        let signed = r
            .app
            .store
            .consumption_request(r.project.id, id)
            .await
            .unwrap()
            .unwrap()
            .notification
            .signed_date;
        let when = storedesk::present::time::utc(signed + 60 * MINUTE);
        let page = r.admin.get_text(QUEUE).await;
        assert!(page.contains(&format!("id=\"policy-{id}\"")), "{page}");
        assert!(
            page.contains(&format!(
                "Will be sent automatically at {when}, or within a minute of your backend&#39;s data arriving, \
                 unless a person answers first: customer consented, sample provided, delivered"
            )),
            "{page}"
        );
        let token = make_token(&r.admin, "demo", "sign", "backend").await;
        let (status, answer) =
            api_put(&r, &token, id, &json!({"refundPreference": "GRANT_FULL"})).await;
        assert_eq!(status, 202, "{answer}");
        let page = r.admin.get_text(QUEUE).await;
        assert!(
            page.contains(
                "Will be sent automatically within a minute (your backend&#39;s data is in)"
            ),
            "{page}"
        );
        assert!(r.sim.consumption_submissions().is_empty());
        // In a dry run the page says nothing will be sent.
        set_policy(&r, &policy("dry_run", true, "60")).await;
        let page = r.admin.get_text(QUEUE).await;
        assert!(
            page.contains("Dry run: will be computed within a minute (your backend&#39;s data is in) and not sent."),
            "{page}"
        );
    }
);
