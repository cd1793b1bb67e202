//! The consumption-request queue and the form that sends consumption information to Apple.
use storedesk::apple::Environment;
use storedesk::apple_sim::SimEnvironment::Production;
use storedesk::domain::Role;
use storedesk::notifications::consumption as c;
use storedesk::store::AuditFilter;

use crate::helpers::csrf_from;
use crate::projects::notifications::signed::{arrive, esc, history, spec, store, DAY_MS};
use crate::with_ready;

type Form = Vec<(&'static str, &'static str)>;

const QUEUE: &str = "/projects/demo/notifications/consumption";

fn action(id: i64) -> String {
    format!("{QUEUE}/{id}")
}

const VALID: &[(&str, &str)] = &[
    ("customer_consented", "true"),
    ("sample_content_provided", "false"),
    ("delivery_status", "DELIVERED"),
    ("consumption_percentage", "50"),
    ("refund_preference", "GRANT_FULL"),
];

/// VALID with some fields replaced.
fn with(changes: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    VALID
        .iter()
        .map(|(k, v)| {
            changes
                .iter()
                .find(|(ck, _)| ck == k)
                .map(|(ck, cv)| (*ck, *cv))
                .unwrap_or((*k, *v))
        })
        .collect()
}

with_ready!(the_queue_shows_each_request_with_its_deadline, |r| {
    let seed = r.sim.seed();
    let fresh = arrive(
        &r.app,
        &r.sim,
        &r.project,
        Production,
        spec("CONSUMPTION_REQUEST", &seed.consumable_transaction_id),
    )
    .await;
    // The simulator's history holds requests from 6 and 9 days ago; nobody answered them.
    let now = storedesk::clock::now_ms();
    for payload in history(
        &r.sim,
        Environment::Production,
        now - 7 * DAY_MS,
        now - 5 * DAY_MS,
    )
    .await
    {
        store(&r.app, &r.sim, &r.project, &payload).await;
    }
    let support = r.app.session(Role::Support).await;
    let html = support.get_text(QUEUE).await;
    assert!(html.contains("<h2 id=\"open-heading\">Waiting for an answer (1)</h2>"));
    assert!(html.contains("<h2 id=\"overdue-heading\">Overdue, never answered (1)</h2>"));
    assert!(html.contains(&format!(
        "<article class=\"card request\" id=\"request-{fresh}\""
    )));
    assert!(html.contains("<span class=\"badge badge-warn\">waiting for an answer</span>"));
    assert!(html.contains("<span class=\"badge badge-neutral\">11 h left</span>"));
    assert!(html.contains("<span class=\"badge badge-bad\">overdue by 5 days</span>"));
    assert!(html.contains(&esc("The customer didn't mean to make the purchase.")));
    // Every field Apple takes, with its allowed values in words.
    for (value, words) in c::DELIVERY_STATUSES
        .iter()
        .chain(c::REFUND_PREFERENCES)
        .filter(|(v, _)| !v.is_empty())
    {
        assert!(
            html.contains(&format!(
                "<option value=\"{value}\">{}</option>",
                esc(words)
            )),
            "{value}"
        );
    }
    for name in [
        "customer_consented",
        "sample_content_provided",
        "delivery_status",
        "consumption_percentage",
        "refund_preference",
    ] {
        assert!(html.contains(&format!("name=\"{name}\"")), "{name}");
    }
    assert!(html.contains(&format!(
        "<label for=\"c{fresh}-delivery\">Delivery</label>"
    )));
    // The log points at the queue.
    let log = support.get_text("/projects/demo/notifications").await;
    assert!(log.contains("<span class=\"badge badge-warn\">1 waiting for an answer</span>"));
});

with_ready!(a_valid_answer_reaches_apple_and_is_recorded, |r| {
    let seed = r.sim.seed();
    let id = arrive(
        &r.app,
        &r.sim,
        &r.project,
        Production,
        spec("CONSUMPTION_REQUEST", &seed.consumable_transaction_id),
    )
    .await;
    let support = r.app.session(Role::Support).await;
    let response = support.post_form(QUEUE, &action(id), VALID).await;
    crate::helpers::assert_redirect_to(&response, &format!("{QUEUE}#request-{id}"));

    let sent = r.sim.consumption_submissions();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0]["transactionId"],
        seed.consumable_transaction_id.as_str()
    );
    assert_eq!(
        sent[0]["body"],
        serde_json::json!({"customerConsented": true, "sampleContentProvided": false,
            "deliveryStatus": "DELIVERED", "consumptionPercentage": 50000, "refundPreference": "GRANT_FULL"})
    );
    let html = support.get_text(QUEUE).await;
    assert!(html.contains(&format!(
        "Apple accepted the consumption information for transaction {}.",
        seed.consumable_transaction_id
    )));
    assert!(html.contains("<h2 id=\"answered-heading\">Answered (1)</h2>"));
    assert!(html.contains("<span class=\"badge badge-good\">accepted by Apple</span>"));
    assert!(html.contains("by support@example.com: customer consented, no sample, delivered, and it works properly, 50 % consumed, grant a full refund"));
    assert_eq!(
        r.app
            .store
            .count_consumption_answers(r.project.id)
            .await
            .unwrap(),
        1
    );
    let audit = r
        .app
        .store
        .list_audit(&AuditFilter {
            action: Some("consumption.send".into()),
            limit: 10,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].user_email, "support@example.com");
    assert_eq!(audit[0].target, seed.consumable_transaction_id);
    assert!(audit[0].detail.contains("accepted by Apple"));
    // Answered: the detail page says so.
    let detail = support
        .get_text(&format!("/projects/demo/notifications/{id}"))
        .await;
    assert!(detail.contains("<span class=\"badge badge-good\">answered</span>"));
});

with_ready!(each_invalid_field_is_refused_with_its_sentence, |r| {
    let seed = r.sim.seed();
    let consumable = arrive(
        &r.app,
        &r.sim,
        &r.project,
        Production,
        spec("CONSUMPTION_REQUEST", &seed.consumable_transaction_id),
    )
    .await;
    let subscription = arrive(
        &r.app,
        &r.sim,
        &r.project,
        Production,
        spec("CONSUMPTION_REQUEST", &seed.active_monthly.transaction_id),
    )
    .await;
    let cases: Vec<(i64, Form, &str, &str)> = vec![
        (
            consumable,
            with(&[("customer_consented", "")]),
            "consent",
            c::CONSENT_REQUIRED,
        ),
        (
            consumable,
            with(&[("customer_consented", "false")]),
            "consent",
            c::CONSENT_REFUSED,
        ),
        (
            consumable,
            with(&[("sample_content_provided", "")]),
            "sample",
            c::SAMPLE_REQUIRED,
        ),
        (
            consumable,
            with(&[("delivery_status", "")]),
            "delivery",
            c::DELIVERY_REQUIRED,
        ),
        (
            consumable,
            with(&[("delivery_status", "LOST")]),
            "delivery",
            c::DELIVERY_REQUIRED,
        ),
        (
            consumable,
            with(&[("consumption_percentage", "half")]),
            "percentage",
            c::PERCENTAGE_NOT_A_NUMBER,
        ),
        (
            consumable,
            with(&[("consumption_percentage", "150")]),
            "percentage",
            c::PERCENTAGE_OUT_OF_RANGE,
        ),
        (
            consumable,
            with(&[("consumption_percentage", "12.3456")]),
            "percentage",
            c::PERCENTAGE_TOO_PRECISE,
        ),
        (
            consumable,
            with(&[
                ("delivery_status", "UNDELIVERED_SERVER_OUTAGE"),
                ("consumption_percentage", "10"),
            ]),
            "percentage",
            c::PERCENTAGE_UNDELIVERED,
        ),
        (
            consumable,
            with(&[("refund_preference", "MAYBE")]),
            "refund",
            c::REFUND_PREFERENCE_UNKNOWN,
        ),
        // Apple computes a subscription's share itself and refuses any sent, whatever the preference.
        (
            subscription,
            with(&[
                ("refund_preference", "GRANT_PRORATED"),
                ("consumption_percentage", "10"),
            ]),
            "percentage",
            c::PERCENTAGE_AUTO_RENEWABLE,
        ),
        (
            subscription,
            VALID.to_vec(),
            "percentage",
            c::PERCENTAGE_AUTO_RENEWABLE,
        ),
        (
            subscription,
            with(&[("consumption_percentage", "0"), ("refund_preference", "")]),
            "percentage",
            c::PERCENTAGE_AUTO_RENEWABLE,
        ),
        // Anything else refunded in part needs a share strictly between 0 and 100 %.
        (
            consumable,
            with(&[
                ("refund_preference", "GRANT_PRORATED"),
                ("consumption_percentage", ""),
            ]),
            "percentage",
            c::PERCENTAGE_PRORATED_RANGE,
        ),
        (
            consumable,
            with(&[
                ("refund_preference", "GRANT_PRORATED"),
                ("consumption_percentage", "0"),
            ]),
            "percentage",
            c::PERCENTAGE_PRORATED_RANGE,
        ),
        (
            consumable,
            with(&[
                ("refund_preference", "GRANT_PRORATED"),
                ("consumption_percentage", "100"),
            ]),
            "percentage",
            c::PERCENTAGE_PRORATED_RANGE,
        ),
        (
            consumable,
            with(&[
                ("refund_preference", "GRANT_PRORATED"),
                ("delivery_status", "UNDELIVERED_QUALITY_ISSUE"),
                ("consumption_percentage", "0"),
            ]),
            "refund",
            c::PRORATED_UNDELIVERED,
        ),
    ];
    let support = r.app.session(Role::Support).await;
    for (id, fields, field, sentence) in cases {
        let response = support.post_form(QUEUE, &action(id), &fields).await;
        assert_eq!(response.status().as_u16(), 422, "{sentence}");
        let html = response.text().await.unwrap();
        assert!(
            html.contains(&format!(
                "<p class=\"field-error\" id=\"c{id}-{field}-error\">{}</p>",
                esc(sentence)
            )),
            "{sentence}"
        );
        assert!(html.contains("Nothing was sent: correct the fields marked below."));
        assert!(html.contains(&format!("c{id}-{field}-error\"")));
        // What was entered stays in the form.
        let percentage = fields
            .iter()
            .find(|(k, _)| *k == "consumption_percentage")
            .map(|(_, v)| *v)
            .unwrap_or_default();
        assert!(html.contains(&format!(
            "name=\"consumption_percentage\" value=\"{}\"",
            esc(percentage)
        )));
    }
    // A subscription's prorated refund is fine without a share, and a consumable's with one between 0 and 100 %.
    assert!(r.sim.consumption_submissions().is_empty());
    assert_eq!(
        r.app
            .store
            .count_consumption_answers(r.project.id)
            .await
            .unwrap(),
        0
    );
    let ok = support
        .post_form(
            QUEUE,
            &action(subscription),
            &with(&[
                ("refund_preference", "GRANT_PRORATED"),
                ("consumption_percentage", ""),
            ]),
        )
        .await;
    assert_eq!(ok.status().as_u16(), 303);
    assert_eq!(r.sim.consumption_submissions().len(), 1);
    let ok = support
        .post_form(
            QUEUE,
            &action(consumable),
            &with(&[
                ("refund_preference", "GRANT_PRORATED"),
                ("consumption_percentage", "99.999"),
            ]),
        )
        .await;
    assert_eq!(ok.status().as_u16(), 303);
    let sent = r.sim.consumption_submissions();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1]["body"]["consumptionPercentage"], 99_999);
    assert!(r.sim.consumption_submissions()[0]["body"]
        .get("consumptionPercentage")
        .is_none());
    // Both were accepted by Apple: nothing refused is on the page.
    let html = support.get_text(QUEUE).await;
    assert!(!html.contains("<span class=\"badge badge-bad\">refused</span>"));
    // Each form says what its transaction's share may be.
    assert!(html.contains(&format!("<p class=\"help\" id=\"c{subscription}-percentage-help\">Leave it empty: for an auto-renewable subscription Apple computes the share from the time used, and refuses one sent.</p>")));
    assert!(html.contains(&format!("<p class=\"help\" id=\"c{consumable}-percentage-help\">Optional: 0 to 100, up to three decimals; 0 when it was not delivered. Needed for a prorated refund: more than 0 and less than 100.</p>")));
});

with_ready!(apples_refusal_is_recorded_and_shown_as_a_sentence, |r| {
    let seed = r.sim.seed();
    // Apple does not take consumption information for Family Sharing transactions (4000185).
    let id = arrive(
        &r.app,
        &r.sim,
        &r.project,
        Production,
        spec("CONSUMPTION_REQUEST", &seed.family_shared_transaction_id),
    )
    .await;
    // A family-shared subscription: no share, as Apple wants for subscriptions.
    let response = r
        .admin
        .post_form(QUEUE, &action(id), &with(&[("consumption_percentage", "")]))
        .await;
    crate::helpers::assert_redirect_to(&response, &format!("{QUEUE}#request-{id}"));
    let html = r.admin.get_text(QUEUE).await;
    let sentence = format!(
        "Apple did not accept the consumption information for transaction {}. Apple refused the request: Family Sharing transactions are not supported by this endpoint.",
        seed.family_shared_transaction_id
    );
    assert!(
        html.contains(&format!(
            "<div class=\"flash flash-error\" role=\"status\">{}</div>",
            esc(&sentence)
        )),
        "{html}"
    );
    assert!(html.contains("<span class=\"badge badge-bad\">refused</span>"));
    assert!(html.contains("<h2 id=\"open-heading\">Waiting for an answer (1)</h2>"));
    assert!(r.sim.consumption_submissions().is_empty());
    assert_eq!(
        r.app
            .store
            .count_consumption_answers(r.project.id)
            .await
            .unwrap(),
        1
    );
});

with_ready!(only_consumption_requests_can_be_answered, |r| {
    let seed = r.sim.seed();
    let renew = arrive(
        &r.app,
        &r.sim,
        &r.project,
        Production,
        spec("DID_RENEW", &seed.active_monthly.transaction_id),
    )
    .await;
    let request = arrive(
        &r.app,
        &r.sim,
        &r.project,
        Production,
        spec("CONSUMPTION_REQUEST", &seed.consumable_transaction_id),
    )
    .await;
    let response = r.admin.post_form(QUEUE, &action(renew), VALID).await;
    assert_eq!(response.status().as_u16(), 404);
    // Without the form's token nothing is sent.
    let csrf = csrf_from(&r.admin.get_text(QUEUE).await);
    assert!(!csrf.is_empty());
    let response = r
        .admin
        .client
        .post(r.admin.url(&action(request)))
        .form(VALID)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 403);
    assert!(r.sim.consumption_submissions().is_empty());
    assert_eq!(
        r.app
            .store
            .count_consumption_answers(r.project.id)
            .await
            .unwrap(),
        0
    );
});

with_ready!(a_requests_price_is_written_as_everywhere_else, |r| {
    let seed = r.sim.seed();
    arrive(
        &r.app,
        &r.sim,
        &r.project,
        Production,
        spec("CONSUMPTION_REQUEST", &seed.consumable_transaction_id),
    )
    .await;
    let html = r.admin.get_text(QUEUE).await;
    // The amount with the currency's decimals, then its code: as on the support desk, the CSV and the API.
    assert!(html.contains(" · 0.99 USD</dd>"), "{html}");
    assert!(!html.contains("$0.99"), "{html}");
});
