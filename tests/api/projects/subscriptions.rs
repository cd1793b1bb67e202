//! The subscription page: every status with its renewal info in words, and the renewal-date extension (admins
//! and leads only, audited).
use storedesk::domain::Role;

use crate::helpers::{assert_redirect_to, csrf_from};
use crate::projects::transactions::common::{assert_no_trace, html, lookups};
use crate::support_test;

fn url(id: &str) -> String {
    format!("/projects/demo/subscriptions/{id}")
}

support_test!(each_status_is_shown_with_its_renewal_info_in_words, |r| {
    let seed = r.sim.seed();
    let cases = [
        (
            &seed.active_monthly.original_transaction_id,
            "badge-good\">active</span>",
            "on: it renews automatically",
        ),
        (
            &seed.expired_original_id,
            "badge-neutral\">expired</span>",
            "the customer cancelled",
        ),
        (
            &seed.billing_retry_original_id,
            "badge-warn\">billing retry</span>",
            "a billing error (the payment failed)",
        ),
        (
            &seed.grace_period_original_id,
            "badge-warn\">grace period</span>",
            "Grace period ends",
        ),
        // Apple's status 5 for a refund: the state says which revocation it was.
        (
            &seed.revoked_original_id,
            "badge-bad\">refunded</span>",
            "Refunded in full on",
        ),
        (
            &seed.family_revoked_original_id,
            "badge-bad\">revoked</span>",
            "stopped Family Sharing, so the customer no longer has access.",
        ),
        (
            &seed.free_trial_original_id,
            "badge-good\">free trial</span>",
            "Auto-renew is on: the first paid period starts then for 4.99 USD.",
        ),
        (
            &seed.auto_renew_off_original_id,
            "badge-good\">active</span>",
            "Auto-renew is off: it ends then.",
        ),
    ];
    for (id, badge, words) in cases {
        let response = r.admin.get(&url(id)).await;
        assert_eq!(response.status().as_u16(), 200, "{id}");
        let page = response.text().await.unwrap();
        assert_no_trace(&page);
        assert!(
            page.contains("Fresh from Apple (Production)"),
            "{id}: {page}"
        );
        assert!(page.contains(badge), "{id} should show {badge}: {page}");
        assert!(
            page.contains(&html(words)),
            "{id} should say {words}: {page}"
        );
        assert!(page.contains("(the one you opened)"));
        assert!(
            page.contains("<svg class=\"timeline-svg\""),
            "{id} has a timeline"
        );
    }
    // Bob has two groups; the Cloud one has a price increase waiting for his answer and a new renewal price.
    let bob = r
        .admin
        .get_text(&url(&seed.active_monthly.original_transaction_id))
        .await;
    assert_eq!(
        bob.matches("Subscription group <code class=\"id\">")
            .count(),
        2
    );
    assert!(bob.contains("a price increase is pending; the customer has not responded yet"));
    assert!(bob.contains("5.99 EUR"));
    // Chloe's timeline shows her move from the monthly to the yearly plan, in two lanes.
    let chloe = r.admin.get_text(&url(&seed.upgraded_original_id)).await;
    assert!(
        chloe.contains(
            "Changed from com.storedesk.demo.pro.monthly to com.storedesk.demo.pro.yearly"
        ),
        "{chloe}"
    );
    assert!(chloe.contains("class=\"tl-m-upgrade\""));
    assert_eq!(chloe.matches("<text class=\"tl-lane\"").count(), 2);
    // The billing retry and grace period are drawn on the timeline.
    let dan = r
        .admin
        .get_text(&url(&seed.billing_retry_original_id))
        .await;
    assert!(dan.contains("class=\"tl-retry\""), "{dan}");
    let audit = lookups(&r.app).await;
    assert!(audit.iter().any(|(a, t, d)| a == "lookup.subscription"
        && *t == seed.billing_retry_original_id
        && d.starts_with("answered by Apple (Production)")));
});

support_test!(a_lead_extends_a_renewal_date_and_it_is_audited, |r| {
    let seed = r.sim.seed();
    let id = &seed.active_monthly.original_transaction_id;
    let lead = r.app.session(Role::Lead).await;
    let page = lead.get_text(&url(id)).await;
    assert!(page.contains("Extend the renewal date"), "{page}");
    let response = lead
        .post_form(
            &url(id),
            &format!("{}/extend", url(id)),
            &[("days", "10"), ("reason", "3"), ("note", "Outage on 2 May")],
        )
        .await;
    assert_redirect_to(&response, &url(id));
    let after = lead.get_text(&url(id)).await;
    assert!(
        after.contains("Apple extended the renewal date by 10 day(s) to "),
        "{after}"
    );
    assert!(after.contains("Apple request id: "));
    let audit = lookups(&r.app).await;
    let (_, _, detail) = audit
        .iter()
        .find(|(a, t, _)| a == "subscription.extend" && t == id)
        .expect("the extension is audited");
    assert!(
        detail.starts_with("by 10 day(s), reason 3 (service issue or outage), request "),
        "{detail}"
    );
    assert!(detail.contains("Production, new renewal date "));
    assert!(detail.ends_with("note: Outage on 2 May"));
    let entry = r
        .app
        .store
        .list_audit(&Default::default())
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.action == "subscription.extend")
        .unwrap();
    assert_eq!(entry.user_email, "lead@example.com");
});

support_test!(support_can_view_a_subscription_but_not_extend_it, |r| {
    let seed = r.sim.seed();
    let id = &seed.active_monthly.original_transaction_id;
    let support = r.app.session(Role::Support).await;
    let page = support.get_text(&url(id)).await;
    assert!(page.contains("badge-good\">active</span>"));
    assert!(page.contains("Extending a renewal date needs the admin or lead role."));
    assert!(!page.contains("/extend\""), "no extension form for support");
    let csrf = csrf_from(&page);
    let response = support
        .client
        .post(support.url(&format!("{}/extend", url(id))))
        .form(&[
            ("days", "10"),
            ("reason", "1"),
            ("note", "please"),
            ("csrf_token", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 403);
    let body = response.text().await.unwrap();
    assert!(body.contains("It needs the admin or lead role"), "{body}");
    assert!(!lookups(&r.app)
        .await
        .iter()
        .any(|(a, _, _)| a.starts_with("subscription.")));
});

support_test!(
    a_bad_extension_form_is_refused_field_by_field_and_nothing_changes,
    |r| {
        let seed = r.sim.seed();
        let id = &seed.active_monthly.original_transaction_id;
        let cases = [
        ("91", "1", "fine", "days", "Extend by a whole number of days from 1 to 90 (Apple's limit for one extension)."),
        ("0", "1", "fine", "days", "Extend by a whole number of days from 1 to 90 (Apple's limit for one extension)."),
        ("10", "7", "fine", "reason", "Choose one of Apple's reasons: undeclared, customer satisfaction, other, or service issue or outage."),
        ("10", "1", "", "note", "Say in a few words why you extend it; the note goes to the audit log."),
    ];
        for (days, reason, note, field, sentence) in cases {
            let response = r
                .admin
                .post_form(
                    &url(id),
                    &format!("{}/extend", url(id)),
                    &[("days", days), ("reason", reason), ("note", note)],
                )
                .await;
            assert_eq!(response.status().as_u16(), 422, "{field}");
            let page = response.text().await.unwrap();
            assert!(
                page.contains(&format!(
                    "<p class=\"field-error\" id=\"{field}-error\">{}</p>",
                    html(sentence)
                )),
                "{field}: {page}"
            );
            assert!(page.contains(&format!("aria-describedby=\"{field}-error\"")));
        }
        assert!(!lookups(&r.app)
            .await
            .iter()
            .any(|(a, _, _)| a.starts_with("subscription.extend")));
    }
);

/// Posts a valid extension form (5 days, reason 1, a note) to `action` with a CSRF token read beforehand, so that
/// nothing between the fault or the count a test set up and the POST calls Apple.
async fn extend_with(r: &crate::helpers::Ready, csrf: &str, action: &str) -> reqwest::Response {
    r.admin
        .client
        .post(r.admin.url(action))
        .form(&[
            ("days", "5"),
            ("reason", "1"),
            ("note", "goodwill"),
            ("csrf_token", csrf),
        ])
        .send()
        .await
        .unwrap()
}

support_test!(
    an_extension_whose_answer_cannot_be_read_says_its_outcome_is_unknown,
    |r| {
        // Arrange: the subscription page open; Apple's answer to the extension will not be readable, so Apple may
        // have extended the date or not.
        let seed = r.sim.seed();
        let id = &seed.active_monthly.original_transaction_id;
        let csrf = crate::helpers::csrf_from(&r.admin.get_text(&url(id)).await);
        r.sim
            .inject_fault(storedesk::apple_sim::Fault::Garbage { count: 1 });

        // Act
        let response = extend_with(&r, &csrf, &format!("{}/extend", url(id))).await;

        // Assert: the page does not call it refused (trying again at once could extend twice), and neither does the
        // audit log.
        assert_redirect_to(&response, &url(id));
        let after = r.admin.get_text(&url(id)).await;
        assert!(
            after.contains(&html(
                "So it is not known whether Apple extended the renewal date. Send the same request again from the \
                 subscription's page: Apple applies one request only once, so it cannot be extended twice."
            )),
            "{after}"
        );
        assert!(after.contains(
            "<span class=\"badge badge-warn\">outcome unknown</span> Extension by 5 day(s)"
        ));
        let audit = lookups(&r.app).await;
        assert!(audit
            .iter()
            .any(|(a, t, _)| a == "subscription.extend_unknown" && t == id));
        assert!(!audit
            .iter()
            .any(|(a, _, _)| a == "subscription.extend_refused"));
    }
);

support_test!(apple_refusing_an_extension_is_said_and_audited, |r| {
    let seed = r.sim.seed();
    let id = &seed.family_shared_transaction_id;
    let page = r.admin.get_text(&url(id)).await;
    assert!(page.contains("badge-good\">active</span>"), "{page}");
    assert!(
        !page.contains("Extend the renewal date"),
        "family-shared subscriptions are not offered"
    );
    let response = r
        .admin
        .post_form(
            &url(id),
            &format!("{}/extend", url(id)),
            &[("days", "5"), ("reason", "1"), ("note", "goodwill")],
        )
        .await;
    assert_redirect_to(&response, &url(id));
    let after = r.admin.get_text(&url(id)).await;
    assert!(
        after.contains(&html(
            "The renewal date was not extended. Apple refused the request: Family Sharing subscriptions can't be extended."
        )),
        "{after}"
    );
    assert!(lookups(&r.app)
        .await
        .iter()
        .any(|(a, t, _)| a == "subscription.extend_refused" && t == id));
});

support_test!(
    an_extension_for_an_id_that_is_not_digits_is_a_404_and_asks_apple_nothing,
    |r| {
        let seed = r.sim.seed();
        let page = url(&seed.active_monthly.original_transaction_id);
        let csrf = crate::helpers::csrf_from(&r.admin.get_text(&page).await);
        let calls = r.sim.request_count();

        let response = extend_with(&r, &csrf, "/projects/demo/subscriptions/abc/extend").await;

        assert_eq!(response.status().as_u16(), 404);
        assert!(response
            .text()
            .await
            .unwrap()
            .contains("There is nothing at this address."));
        assert_eq!(r.sim.request_count(), calls, "no call to Apple");
        assert!(!lookups(&r.app)
            .await
            .iter()
            .any(|(a, _, _)| a.starts_with("subscription.extend")));
    }
);

support_test!(an_id_that_is_not_digits_gets_a_clear_404, |r| {
    let response = r.admin.get("/projects/demo/subscriptions/abc").await;
    assert_eq!(response.status().as_u16(), 404);
    let page = response.text().await.unwrap();
    assert!(
        page.contains(&html(
            "“abc” is not an original transaction id: those are digits only"
        )),
        "{page}"
    );
    assert_eq!(r.sim.request_count(), 0);
});

/// The extension whose answer Apple's server failed after applying it: sent once, shown as "outcome unknown" on
/// the page and in the JSON API, and sent again by a person under the same request identifier.
async fn extension_sent_again_after_a_5xx(r: &crate::helpers::Ready) -> Vec<serde_json::Value> {
    let seed = r.sim.seed();
    let id = &seed.active_monthly.original_transaction_id;
    let action = format!("{}/extend", url(id));
    let csrf = crate::helpers::csrf_from(&r.admin.get_text(&url(id)).await);
    // Apple moves the date, then its server fails: 500 with 5000000.
    r.sim
        .inject_fault(storedesk::apple_sim::Fault::AppliedThenError {
            code: 5_000_000,
            count: 1,
        });

    let response = extend_with(r, &csrf, &action).await;

    assert_redirect_to(&response, &url(id));
    let sent = r.sim.extension_requests();
    assert_eq!(sent.len(), 1, "never retried by itself: {sent:?}");
    assert_eq!(sent[0]["applied"], true);
    let request_id = sent[0]["requestIdentifier"].as_str().unwrap().to_owned();
    let page = r.admin.get_text(&url(id)).await;
    assert!(
        page.contains(&html(
            "Apple's server had an error (Production). So it is not known whether Apple extended the renewal date. \
             Send the same request again from the subscription's page: Apple applies one request only once, so it \
             cannot be extended twice."
        )),
        "{page}"
    );
    assert!(!page.contains("The renewal date was not extended."));
    assert!(page
        .contains("<span class=\"badge badge-warn\">outcome unknown</span> Extension by 5 day(s)"));
    assert!(page.contains(&format!(
        "<input type=\"hidden\" name=\"again\" value=\"{request_id}\">"
    )));
    assert!(page.contains("Send the same request again</button>"));
    assert!(
        !page.contains(&format!("id=\"extend-{id}\"")),
        "no form for a second extension meanwhile"
    );
    let audit = lookups(&r.app).await;
    assert!(audit
        .iter()
        .any(|(a, t, d)| a == "subscription.extend_unknown" && t == id && d.contains(&request_id)));
    assert!(!audit
        .iter()
        .any(|(a, _, _)| a == "subscription.extend_refused"));

    // The JSON API says so too.
    let token = crate::admin::api_tokens::make_token(&r.admin, "demo", "read", "backend").await;
    let json: serde_json::Value = crate::admin::api_tokens::api_get(
        &r.app,
        &format!("/api/v1/projects/demo/subscriptions/{id}"),
        Some(&token),
    )
    .await
    .json()
    .await
    .unwrap();
    let pending = &json["pendingExtensions"];
    assert_eq!(pending.as_array().map(Vec::len), Some(1), "{json}");
    assert_eq!(pending[0]["outcome"], "unknown");
    assert_eq!(pending[0]["requestIdentifier"], request_id.as_str());
    assert_eq!(pending[0]["days"], 5);

    // Another extension is refused until this one is settled: nothing goes to Apple.
    let refused = extend_with(r, &csrf, &action).await;
    assert_redirect_to(&refused, &url(id));
    let page = r.admin.get_text(&url(id)).await;
    assert!(page.contains(&html(
        "Nothing was sent: it is not known whether Apple carried out the extension by 5 day(s) sent earlier. Send \
         that same request again first (Apple applies it only once), or the renewal date may be extended twice."
    )));
    assert_eq!(r.sim.extension_requests().len(), 1);

    // A person sends the same request again: the same identifier, days and reason.
    let again = r
        .admin
        .client
        .post(r.admin.url(&action))
        .form(&[
            ("again", request_id.as_str()),
            ("csrf_token", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_redirect_to(&again, &url(id));
    let page = r.admin.get_text(&url(id)).await;
    assert!(
        page.contains("Apple extended the renewal date by 5 day(s) to "),
        "{page}"
    );
    assert!(!page.contains("outcome unknown"));
    let sent = r.sim.extension_requests();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1]["requestIdentifier"], request_id.as_str());
    assert_eq!(sent[1]["extendByDays"], 5);
    let audit = lookups(&r.app).await;
    assert!(audit.iter().any(|(a, t, d)| a == "subscription.extend"
        && t == id
        && d.contains(&format!("request {request_id}, sent again (attempt 2)"))));

    // Settled: the same identifier is not sent a third time.
    let stale = r
        .admin
        .client
        .post(r.admin.url(&action))
        .form(&[
            ("again", request_id.as_str()),
            ("csrf_token", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_redirect_to(&stale, &url(id));
    assert!(r.admin.get_text(&url(id)).await.contains(&html(
        "Nothing was sent: that extension is no longer waiting to be sent again (its outcome is known now, see below)."
    )));
    assert_eq!(r.sim.extension_requests().len(), 2);
    sent
}

support_test!(
    an_extension_whose_5xx_hides_that_apple_applied_it_is_sent_again_with_the_same_id,
    |r| {
        let sent = extension_sent_again_after_a_5xx(&r).await;
        // Apple de-duplicates the identifier: the date moved once.
        assert_eq!(sent[1]["applied"], false);
    }
);

crate::on_both_backends!(
    without_apples_deduplication_the_same_request_again_would_extend_twice,
    |backend| crate::helpers::ready(
        backend,
        storedesk::apple_sim::SimConfig {
            dedupe_extension_requests: false,
            ..Default::default()
        }
    ),
    r => {
        let sent = extension_sent_again_after_a_5xx(&r).await;
        // The simulator with its de-duplication off applies it again: storedesk's safety is Apple's rule that one
        // identifier is applied once, which is why it sends the same one.
        assert_eq!(sent[1]["applied"], true);
    }
);

support_test!(
    a_subscription_in_a_free_trial_is_not_offered_an_extension_and_apple_would_refuse_it,
    |r| {
        let seed = r.sim.seed();
        let id = &seed.free_trial_original_id;
        let page = r.admin.get_text(&url(id)).await;
        assert!(page.contains(">free trial</span>"), "{page}");
        assert!(
            !page.contains(&format!("id=\"extend-{id}\"")),
            "no extension form: {page}"
        );
        assert!(page.contains(&format!("<p class=\"muted\" id=\"not-extendable-{id}\">{}", html(
            "Apple does not extend a subscription during a free trial or another free offer period (this one ends "
        ))), "{page}");
        assert!(page.contains(&html("): extend it once a paid period has begun.")));
        // The JSON API says the same.
        let token = crate::admin::api_tokens::make_token(&r.admin, "demo", "read", "backend").await;
        let json: serde_json::Value = crate::admin::api_tokens::api_get(
            &r.app,
            &format!("/api/v1/projects/demo/subscriptions/{id}"),
            Some(&token),
        )
        .await
        .json()
        .await
        .unwrap();
        let item = &json["groups"][0]["subscriptions"][0];
        assert_eq!(item["originalTransactionId"], id.as_str(), "{json}");
        assert_eq!(item["extendable"], false);
        assert!(item["notExtendable"].as_str().is_some_and(
            |s| s.starts_with("Apple does not extend a subscription during a free trial")
        ));
        // Posted anyway, Apple refuses it (4030004) and nothing moves.
        let response = r
            .admin
            .post_form(
                &url(id),
                &format!("{}/extend", url(id)),
                &[("days", "5"), ("reason", "1"), ("note", "goodwill")],
            )
            .await;
        assert_redirect_to(&response, &url(id));
        let after = r.admin.get_text(&url(id)).await;
        assert!(after.contains(&html(
            "The renewal date was not extended. Apple refused the request: the subscription is not eligible for a \
             renewal date extension (Apple extends only an active, paid subscription: not one that expired, or one in \
             a free trial or other free offer period)."
        )), "{after}");
        let sent = r.sim.extension_requests();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0]["applied"], false);
    }
);

crate::both_backends!(
    one_extension_of_a_subscription_at_a_time_is_stored_unsettled,
    |app| {
        use storedesk::store::renewal_extensions::{NewExtension, EXTENDED};
        let project = crate::helpers::store_project(&app.store, "one-at-a-time").await;
        let new = |request_identifier: &'static str| NewExtension {
            project_id: project,
            original_transaction_id: "2000000874151961",
            request_identifier,
            days: 5,
            reason_code: 1,
            note: "goodwill",
            requested_by: "lead@example.com",
        };
        let first = app
            .store
            .insert_extension(&new("a"))
            .await
            .unwrap()
            .expect("the first is stored");
        // A second one while the first is on its way (or unknown) is refused by the database itself.
        assert_eq!(app.store.insert_extension(&new("b")).await.unwrap(), None);
        assert_eq!(
            app.store
                .unsettled_extension(project, "2000000874151961")
                .await
                .unwrap()
                .map(|r| r.request_identifier),
            Some("a".to_owned())
        );
        // Settled, the next may be sent.
        app.store
            .settle_extension(first.id, EXTENDED, "extended")
            .await
            .unwrap();
        assert!(app
            .store
            .insert_extension(&new("c"))
            .await
            .unwrap()
            .is_some());
    }
);
