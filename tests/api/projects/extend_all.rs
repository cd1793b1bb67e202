//! Extend for all customers: Apple's mass renewal-date extension asked from a form (admins and leads), checked
//! field by field, sent once, followed to completion and linked to the summary notification Apple sends.
use std::time::Duration;

use storedesk::apple_sim::{Fault, NotificationSpec, SimEnvironment};
use storedesk::domain::Role;

use crate::helpers::{assert_redirect_to, csrf_from};
use crate::projects::transactions::common::{html, lookups};
use crate::support_test;

const PAGE: &str = "/projects/demo/subscriptions/extend-all";
const PRO_MONTHLY: &str = "com.storedesk.demo.pro.monthly";

async fn rows(
    r: &crate::helpers::Ready,
) -> Vec<storedesk::store::mass_extensions::MassExtensionRow> {
    r.app.store.mass_extensions(r.project.id).await.unwrap()
}

/// A form's fields, in order.
type Form<'a> = Vec<(&'a str, &'a str)>;

fn valid<'a>() -> Form<'a> {
    vec![
        ("product_id", PRO_MONTHLY),
        ("extend_by_days", "5"),
        ("extend_reason_code", "3"),
        ("storefronts", ""),
        ("confirm", "yes"),
    ]
}

fn with<'a>(field: &'a str, value: &'a str) -> Form<'a> {
    let mut form: Vec<(&str, &str)> = valid().into_iter().filter(|(k, _)| *k != field).collect();
    if field != "confirm" || !value.is_empty() {
        form.push((field, value));
    }
    form
}

/// Waits until `done` holds for the request's page, or fails after 15 s.
async fn page_until(r: &crate::helpers::Ready, url: &str, done: impl Fn(&str) -> bool) -> String {
    for _ in 0..60 {
        let page = r.admin.get_text(url).await;
        if done(&page) {
            return page;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("{url} never got there: {}", r.admin.get_text(url).await);
}

support_test!(
    each_bad_field_is_refused_with_its_sentence_and_nothing_is_sent,
    |r| {
        let calls = r.sim.request_count();
        let cases: [(Form, &str, &str); 7] = [
        (
            with("product_id", "  "),
            "product_id",
            "Choose the auto-renewable subscription product whose subscribers get the extra days.",
        ),
        (
            with("product_id", "com.storedesk pro"),
            "product_id",
            "A product id is one word without spaces, as in App Store Connect (for example com.example.pro.monthly).",
        ),
        (
            with("extend_by_days", "91"),
            "extend_by_days",
            "Extend by a whole number of days from 1 to 90 (Apple's limit for one extension).",
        ),
        (
            with("extend_by_days", "two"),
            "extend_by_days",
            "Extend by a whole number of days from 1 to 90 (Apple's limit for one extension).",
        ),
        (
            with("extend_reason_code", "4"),
            "extend_reason_code",
            "Choose one of Apple's reasons: undeclared, customer satisfaction, other, or service issue or outage.",
        ),
        (
            with("storefronts", "USA, Germany, XYZ, JP"),
            "storefronts",
            "Storefronts are three-letter country codes (ISO 3166-1 alpha-3, such as USA, DEU, JPN) separated by commas; these are not: Germany, XYZ, JP. Leave the field empty for every storefront.",
        ),
        (
            with("confirm", ""),
            "confirm",
            "Tick the box to confirm: this extends every active subscriber of the product, and it cannot be undone.",
        ),
    ];
        for (form, field, sentence) in cases {
            let response = r.admin.post_form(PAGE, PAGE, &form).await;
            assert_eq!(response.status().as_u16(), 422, "{field}");
            let page = response.text().await.unwrap();
            assert!(
                page.contains(&format!(
                    "<p class=\"field-error\" id=\"{field}-error\">{}</p>",
                    html(sentence)
                )),
                "{field}: {page}"
            );
            assert!(
                page.contains(&format!("aria-describedby=\"{field}-error\"")),
                "{field}"
            );
        }
        assert!(rows(&r).await.is_empty(), "nothing stored");
        assert_eq!(r.sim.request_count(), calls, "nothing sent to Apple");
        assert!(r.sim.mass_extensions().is_empty());
        assert!(!lookups(&r.app)
            .await
            .iter()
            .any(|(a, _, _)| a.starts_with("subscription.extend_all")));
    }
);

support_test!(support_can_neither_open_nor_send_it, |r| {
    let support = r.app.session(Role::Support).await;
    assert_eq!(support.get(PAGE).await.status().as_u16(), 403);
    let csrf = csrf_from(&support.get_text("/account").await);
    let mut form = valid();
    form.push(("csrf_token", &csrf));
    let response = support
        .client
        .post(support.url(PAGE))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 403);
    assert!(rows(&r).await.is_empty());
    assert!(r.sim.mass_extensions().is_empty());
});

support_test!(
    it_is_sent_once_followed_to_completion_and_linked_to_apples_summary,
    |r| {
        // Apple's notifications for the project reach its webhook.
        let webhook = crate::apple::notifications::webhook_url(&r).await;
        r.sim
            .set_notification_url(SimEnvironment::Production, Some(webhook));
        let form = with("storefronts", " usa, deu ");
        let response = r.admin.post_form(PAGE, PAGE, &form).await;

        let stored = rows(&r).await;
        assert_eq!(stored.len(), 1);
        let row = &stored[0];
        let url = format!("{PAGE}/{}", row.id);
        assert_redirect_to(&response, &url);
        assert_eq!(
            (
                row.product_id.as_str(),
                row.days,
                row.reason_code,
                row.storefronts.as_str()
            ),
            (PRO_MONTHLY, 5, 3, "USA,DEU")
        );
        assert_eq!(row.environment, "Production");
        let jobs = r.sim.mass_extensions();
        assert_eq!(jobs.len(), 1, "{jobs:?}");
        assert_eq!(
            jobs[0]["requestIdentifier"],
            row.request_identifier.as_str()
        );
        assert_eq!(jobs[0]["productId"], PRO_MONTHLY);
        assert_eq!(
            jobs[0]["storefrontCountryCodes"],
            serde_json::json!(["USA", "DEU"])
        );

        // Apple finishes and sends its summary; the page follows without anyone pressing a button.
        let page = page_until(&r, &url, |p| p.contains("id=\"summary-link\"")).await;
        let jobs = r.sim.mass_extensions();
        let (succeeded, failed) = (
            jobs[0]["succeededCount"].as_i64().unwrap(),
            jobs[0]["failedCount"].as_i64().unwrap(),
        );
        assert!(
            page.contains("badge-good\" id=\"mass-state\">complete</span>"),
            "{page}"
        );
        assert!(
            page.contains(&format!(
                "{succeeded} subscription(s) extended, {failed} not extended"
            )),
            "{page}"
        );
        let row = &rows(&r).await[0];
        assert_eq!(row.state, "complete");
        assert_eq!(row.succeeded_count, Some(succeeded));
        let summary_uuid = row.summary_notification_uuid.clone().unwrap();
        let summary = r
            .app
            .store
            .notification_by_uuid(r.project.id, &summary_uuid)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(summary.notification_type, "RENEWAL_EXTENSION");
        assert_eq!(summary.subtype.as_deref(), Some("SUMMARY"));
        // The summary's page links back to the request.
        let detail = r
            .admin
            .get_text(&format!("/projects/demo/notifications/{}", summary.id))
            .await;
        assert!(detail.contains(&format!("href=\"{url}\"")), "{detail}");
        assert!(detail.contains("id=\"mass-extension-link\""));
        // Audited with who asked and what.
        let audit = lookups(&r.app).await;
        assert!(
            audit.iter().any(|(a, t, d)| a == "subscription.extend_all"
                && t == PRO_MONTHLY
                && d.contains(&row.request_identifier)
                && d.contains("storefronts USA,DEU")),
            "{audit:?}"
        );
        // The list shows it.
        let list = r.admin.get_text(PAGE).await;
        assert!(list.contains(&format!("href=\"{url}\"")), "{list}");
    }
);

support_test!(
    an_unknown_outcome_is_sent_again_under_the_same_identifier_and_asked_about,
    |r| {
        // Apple takes the request, then its server fails: whether it started is not known.
        r.sim.inject_fault(Fault::AppliedThenError {
            code: 5_000_000,
            count: 1,
        });
        let response = r.admin.post_form(PAGE, PAGE, &valid()).await;
        let row = rows(&r).await.remove(0);
        let url = format!("{PAGE}/{}", row.id);
        assert_redirect_to(&response, &url);
        assert_eq!(row.state, "unknown");
        let page = r.admin.get_text(&url).await;
        assert!(
            page.contains(&html(
                "So it is not known whether Apple took the request. Send the same request again: Apple starts one \
                 request only once, so no subscriber is extended twice."
            )),
            "{page}"
        );
        assert!(page.contains("Send the same request again</button>"));
        assert!(!page.contains("Nothing was extended"), "not called refused");

        // A person sends it again: the same identifier, and Apple holds one job.
        let again = r.admin.post_form(&url, &format!("{url}/again"), &[]).await;
        assert_redirect_to(&again, &url);
        let jobs = r.sim.mass_extensions();
        assert_eq!(jobs.len(), 1, "{jobs:?}");
        assert_eq!(
            jobs[0]["requestIdentifier"],
            row.request_identifier.as_str()
        );
        let row = rows(&r).await.remove(0);
        assert_eq!((row.state.as_str(), row.attempts), ("accepted", 2));
        // Sending again once settled sends nothing.
        let calls = r.sim.request_count();
        let late = r.admin.post_form(&url, &format!("{url}/again"), &[]).await;
        assert_redirect_to(&late, &url);
        assert_eq!(r.sim.request_count(), calls);

        // No notification URL here: "Ask Apple now" reads Apple's status until it is complete.
        let mut complete = false;
        for _ in 0..40 {
            let asked = r.admin.post_form(&url, &format!("{url}/check"), &[]).await;
            assert_redirect_to(&asked, &url);
            if rows(&r).await[0].state == "complete" {
                complete = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        assert!(complete, "Apple's status never said complete");
        let page = r.admin.get_text(&url).await;
        let job = &r.sim.mass_extensions()[0];
        assert!(page.contains(&format!(
            "{} subscription(s) extended, {} not extended",
            job["succeededCount"], job["failedCount"]
        )));
        assert!(page.contains("not received yet"), "no summary notification");
        let audit = lookups(&r.app).await;
        let actions: Vec<&str> = audit
            .iter()
            .filter(|(a, _, _)| a.starts_with("subscription.extend_all"))
            .map(|(a, _, _)| a.as_str())
            .collect();
        assert_eq!(actions.len(), 2, "{audit:?}");
        assert!(actions.contains(&"subscription.extend_all_unknown"));
        assert!(actions.contains(&"subscription.extend_all"));
    }
);

support_test!(apples_refusal_is_said_stored_and_audited, |r| {
    // A consumable is not an auto-renewable subscription: Apple refuses the product id.
    let form = with("product_id", "com.storedesk.demo.coins.100");
    let response = r.admin.post_form(PAGE, PAGE, &form).await;
    let row = rows(&r).await.remove(0);
    let url = format!("{PAGE}/{}", row.id);
    assert_redirect_to(&response, &url);
    assert_eq!(row.state, "refused");
    let page = r.admin.get_text(&url).await;
    assert!(
        page.contains("badge-bad\" id=\"mass-state\">refused</span>"),
        "{page}"
    );
    assert!(
        page.contains(&html(
            "Apple refused the product id: it is not an auto-renewable subscription of this app. Nothing was \
             extended."
        )),
        "{page}"
    );
    assert!(r.sim.mass_extensions().is_empty());
    assert!(lookups(&r.app)
        .await
        .iter()
        .any(|(a, t, _)| a == "subscription.extend_all_refused"
            && t == "com.storedesk.demo.coins.100"));
});

support_test!(
    apples_limits_and_rate_limit_are_said_in_words_and_nothing_is_started,
    |r| {
        // 4030005: the subscriptions had the most extensions Apple allows in a year.
        r.sim.inject_fault(Fault::ApiError {
            code: 4_030_005,
            count: 1,
        });
        let response = r.admin.post_form(PAGE, PAGE, &valid()).await;
        let row = rows(&r).await.remove(0);
        let url = format!("{PAGE}/{}", row.id);
        assert_redirect_to(&response, &url);
        assert_eq!(row.state, "refused");
        let page = r.admin.get_text(&url).await;
        assert!(
            page.contains(&html(
                "Apple refused: the subscriptions have had the most extensions Apple allows in a year. Nothing \
                 was extended."
            )),
            "{page}"
        );
        assert!(!page.contains("Send the same request again</button>"));

        // 429: Apple's rate limit; said with the time to try again, not called an unknown outcome.
        r.sim.inject_fault(Fault::RateLimited {
            retry_after_ms: 60_000,
            count: 1,
        });
        let calls = r.sim.request_count();
        let response = r.admin.post_form(PAGE, PAGE, &valid()).await;
        assert_eq!(r.sim.request_count(), calls + 1, "sent once, never retried");
        let stored = rows(&r).await;
        assert_eq!(stored.len(), 2);
        let row = stored
            .into_iter()
            .find(|row| format!("{PAGE}/{}", row.id) != url)
            .unwrap();
        let limited = format!("{PAGE}/{}", row.id);
        assert_redirect_to(&response, &limited);
        assert_eq!(row.state, "refused");
        let page = r.admin.get_text(&limited).await;
        assert!(
            page.contains(&html(
                "Apple's rate limit for this endpoint was reached; try again after"
            )),
            "{page}"
        );
        assert!(!page.contains("Send the same request again</button>"));
        assert!(r.sim.mass_extensions().is_empty(), "Apple started nothing");
        let refusals = lookups(&r.app)
            .await
            .into_iter()
            .filter(|(a, t, _)| a == "subscription.extend_all_refused" && t == PRO_MONTHLY)
            .count();
        assert_eq!(refusals, 2);
    }
);

support_test!(
    a_failure_of_one_subscription_is_said_in_words_and_linked_to_no_request,
    |r| {
        let webhook = crate::apple::notifications::webhook_url(&r).await;
        r.sim
            .set_notification_url(SimEnvironment::Production, Some(webhook));
        let seed = r.sim.seed();
        let outcome = r
            .sim
            .send_notification(
                SimEnvironment::Production,
                NotificationSpec::new("RENEWAL_EXTENSION")
                    .subtype("FAILURE")
                    .transaction(&seed.active_monthly.transaction_id),
            )
            .await
            .unwrap();
        assert_eq!(outcome.http_status, Some(200));
        let row = r
            .app
            .store
            .notification_by_uuid(r.project.id, &outcome.notification_uuid)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (row.notification_type.as_str(), row.subtype.as_deref()),
            ("RENEWAL_EXTENSION", Some("FAILURE"))
        );
        let detail = r
            .admin
            .get_text(&format!("/projects/demo/notifications/{}", row.id))
            .await;
        assert!(
            detail.contains(&html(
                "During a renewal date extension for all subscribers, this subscription could not be extended."
            )),
            "{detail}"
        );
        assert!(!detail.contains("id=\"mass-extension-link\""), "{detail}");
    }
);
