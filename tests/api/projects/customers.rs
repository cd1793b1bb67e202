//! The customer's page: by an original transaction id or an app account token, what the customer has now, then
//! one timeline of everything that happened (transactions, refunds, notifications, consumption requests, what
//! staff did), newest first; the index when Apple is down; refusals for ids that are none.
use storedesk::apple::AppleError;
use storedesk::apple_sim::SimEnvironment::Production;
use storedesk::domain::Role;

use crate::helpers::assert_redirect_to;
use crate::projects::notifications::signed::{arrive, spec};
use crate::projects::transactions::common::{assert_no_trace, html, lookups, search, section};
use crate::support_test;

fn url(id: &str) -> String {
    format!(
        "/projects/demo/customers/{}",
        storedesk::urls::urlencode(id)
    )
}

/// The moments of the timeline, in page order.
fn moments(page: &str) -> Vec<String> {
    section(page, "happened")
        .split("<time datetime=\"")
        .skip(1)
        .filter_map(|p| p.split('"').next().map(str::to_owned))
        .collect()
}

/// The titles of the timeline's entries, in page order (the text after the entry's badge).
fn entries(page: &str) -> Vec<String> {
    section(page, "happened")
        .split("<li")
        .skip(1)
        .map(|li| {
            let end = li.find("</li>").unwrap_or(li.len());
            li[..end].to_owned()
        })
        .collect()
}

fn newest_first(page: &str) {
    let at = moments(page);
    assert!(!at.is_empty(), "{page}");
    let mut sorted = at.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(at, sorted, "the timeline is newest first");
}

support_test!(
    the_page_by_original_transaction_id_shows_what_the_customer_has_then_everything_newest_first,
    |r| {
        let seed = r.sim.seed();
        let alice = &seed.long_history_original_id;
        let response = r.admin.get(&url(alice)).await;
        assert_eq!(response.status().as_u16(), 200);
        let page = response.text().await.unwrap();
        assert_no_trace(&page);
        assert!(page.contains("<title>Customer · storedesk</title>"));
        assert!(page.contains("Fresh from Apple (Production)"), "{page}");
        // What she has now: Pro monthly, active and renewing; the remove-ads purchase, for good.
        let now = section(&page, "has-now");
        assert!(now.contains("data-state=\"active\""), "{now}");
        assert!(now.contains("com.storedesk.demo.pro.monthly"));
        assert!(now.contains(&html("Auto-renew is on: it renews then for 9.99 USD.")));
        assert!(now.contains("com.storedesk.demo.remove_ads</code> · non-consumable, bought"));
        assert!(
            !now.contains("coins.100"),
            "consumables are not owned: {now}"
        );
        // One timeline of all 30 transactions, newest first.
        newest_first(&page);
        let all = entries(&page);
        assert_eq!(all.len(), 30, "{page}");
        assert!(all[0].contains("Bought com.storedesk.demo.coins.100 for 0.99 USD"));
        assert!(all
            .iter()
            .any(|e| e.contains("Renewed com.storedesk.demo.pro.monthly for 9.99 USD")));
        let trial = all.last().unwrap();
        assert!(
            trial.contains("Bought com.storedesk.demo.pro.monthly for 0.00 USD"),
            "{trial}"
        );
        assert!(trial.contains("introductory offer: free trial for 1 month"));
        assert!(trial.contains(&format!("href=\"/projects/demo/transactions?q={alice}\"")));
        // A lookup like the others: audited, and what Apple said is in the index.
        let audit = lookups(&r.app).await;
        assert!(
            audit.iter().any(|(a, t, d)| a == "lookup.customer"
                && t == alice
                && d == "transaction id; answered by Apple (Production); 1 subscription(s), 30 transaction(s)"),
            "{audit:?}"
        );
        assert!(r.app.store.indexed_count(r.project.id).await.unwrap() >= 30);
        // The lookup card leads here.
        let lookup = r.admin.get_text(&search(&seed.app_account_token)).await;
        assert!(lookup.contains(&format!("href=\"/projects/demo/customers/{alice}\"")));
    }
);

support_test!(
    the_page_by_app_account_token_asks_apple_with_an_id_the_index_knows,
    |r| {
        let seed = r.sim.seed();
        let token = seed.app_account_token.clone();
        // Apple has no lookup by token: before storedesk has seen the customer, the page says how to find them.
        let response = r.admin.get(&url(&token.to_uppercase())).await;
        assert_eq!(response.status().as_u16(), 404);
        let page = response.text().await.unwrap();
        assert!(
            page.contains(&html(&format!(
                "storedesk's index has no transaction with app account token {token}."
            ))),
            "{page}"
        );
        assert_eq!(r.sim.request_count(), 0, "Apple was not asked");

        r.admin
            .get_text(&search(&seed.long_history_original_id))
            .await;
        let before = r.sim.request_count();
        let response = r.admin.get(&url(&token)).await;
        assert_eq!(response.status().as_u16(), 200);
        let page = response.text().await.unwrap();
        assert!(r.sim.request_count() > before, "fresh from Apple");
        assert!(page.contains(&format!(
            "The customer of app account token <code class=\"id\">{token}</code>"
        )));
        assert!(page.contains("Fresh from Apple (Production)"), "{page}");
        assert!(section(&page, "has-now").contains("data-state=\"active\""));
        assert_eq!(entries(&page).len(), 30);
        assert!(lookups(&r.app)
            .await
            .iter()
            .any(|(a, t, d)| a == "lookup.customer"
                && *t == token
                && d.starts_with("app account token;")));
    }
);

support_test!(
    the_timeline_holds_notifications_consumption_requests_and_what_staff_did,
    |r| {
        let seed = r.sim.seed();
        let alice = seed.long_history_original_id.clone();
        let coins = seed.orders["MT2R8QWX6B"][0].clone();
        let latest = seed
            .customers
            .iter()
            .find(|c| c.label == "alice")
            .unwrap()
            .transaction_ids
            .iter()
            .rev()
            .find(|id| **id != coins && seed.orders.values().all(|o| !o.contains(id)))
            .unwrap()
            .clone();
        let renewed = arrive(
            &r.app,
            &r.sim,
            &r.project,
            Production,
            spec("DID_RENEW", &latest),
        )
        .await;
        let request = arrive(
            &r.app,
            &r.sim,
            &r.project,
            Production,
            spec("CONSUMPTION_REQUEST", &coins),
        )
        .await;

        // Open: it waits with its deadline, and the entry leads to the form that answers it.
        let support = r.app.session(Role::Support).await;
        let page = support.get_text(&url(&alice)).await;
        let all = entries(&page);
        let waiting = all
            .iter()
            .find(|e| e.contains("Apple asks for consumption information"))
            .expect("the consumption request is on the timeline");
        assert!(waiting.starts_with(" class=\"waiting\""), "{waiting}");
        assert!(
            waiting.contains("Waiting for an answer: the deadline is "),
            "{waiting}"
        );
        assert!(waiting.contains(&format!(
            "href=\"/projects/demo/notifications/consumption#request-{request}\">Answer it</a>"
        )));
        let notified = all
            .iter()
            .find(|e| e.contains("Apple notified: renewed"))
            .expect("the notification is on the timeline");
        assert!(notified.contains(&format!("href=\"/projects/demo/notifications/{renewed}\"")));
        // Support may not extend: no such action for them.
        assert!(!page.contains("Extend the renewal date"));

        // What staff did: an answer to Apple, and an extension.
        let queue = "/projects/demo/notifications/consumption";
        let answered = support
            .post_form(
                queue,
                &format!("{queue}/{request}"),
                &[
                    ("customer_consented", "true"),
                    ("sample_content_provided", "false"),
                    ("delivery_status", "DELIVERED"),
                    ("consumption_percentage", "100"),
                    ("refund_preference", "DECLINE"),
                ],
            )
            .await;
        assert_redirect_to(&answered, &format!("{queue}#request-{request}"));
        let lead = r.app.session(Role::Lead).await;
        let lead_page = lead.get_text(&url(&alice)).await;
        assert!(
            lead_page.contains(&format!(
                "href=\"/projects/demo/subscriptions/{alice}#extend-{alice}\">Extend the renewal date</a>"
            )),
            "{lead_page}"
        );
        let subscription = format!("/projects/demo/subscriptions/{alice}");
        let extended = lead
            .post_form(
                &subscription,
                &format!("{subscription}/extend"),
                &[
                    ("days", "3"),
                    ("reason", "3"),
                    ("note", "Sync outage on Tuesday"),
                ],
            )
            .await;
        assert_redirect_to(&extended, &subscription);

        let page = support.get_text(&url(&alice)).await;
        newest_first(&page);
        let all = entries(&page);
        let staff: Vec<&String> = all.iter().filter(|e| e.contains(">staff</span>")).collect();
        assert_eq!(staff.len(), 2, "{all:#?}");
        // Newest first: the extension was the last thing done.
        assert!(
            staff[0].contains("Extended the renewal date"),
            "{}",
            staff[0]
        );
        assert!(staff[0].contains("by lead@example.com"));
        assert!(staff[0].contains("note: Sync outage on Tuesday"));
        assert!(staff[1].contains("Sent consumption information; Apple accepted it"));
        assert!(staff[1].contains("by support@example.com"));
        assert!(staff[1].contains("customer consented, no sample, delivered"));
        let request_entry = all
            .iter()
            .find(|e| e.contains("Apple asks for consumption information"))
            .unwrap();
        assert!(request_entry.contains("Answered on "), "{request_entry}");
        assert!(!request_entry.contains("Answer it"));
        // The extension moved the renewal date: Apple says so, and the page leads with it.
        assert!(section(&page, "has-now").contains("data-state=\"active\""));
    }
);

support_test!(
    one_time_purchases_refunds_and_passes_are_told_as_owned_or_refunded,
    |r| {
        let seed = r.sim.seed();
        let hank = &seed.non_consumable_transaction_id;
        let page = r.admin.get_text(&url(hank)).await;
        let now = section(&page, "has-now");
        assert!(now.contains("No auto-renewable subscription."), "{now}");
        assert!(now.contains("com.storedesk.demo.lifetime.themes</code> · non-consumable"));
        assert!(now.contains("com.storedesk.demo.season_pass</code> · non-renewing subscription"));
        assert!(now.contains(", runs until "));
        let all = entries(&page);
        assert!(
            all.iter().any(|e| e
                .contains("Apple refunded com.storedesk.demo.coins.500 (3.99 USD)")
                && e.contains(&html("Apple's reason: refunded for another reason"))),
            "{all:#?}"
        );
        assert!(all
            .iter()
            .any(|e| e.contains("Bought com.storedesk.demo.coins.100 ×3")));
        newest_first(&page);

        // A revocation of Family Sharing is not a refund.
        let lee = r
            .admin
            .get_text(&url(&seed.family_revoked_original_id))
            .await;
        assert!(section(&lee, "has-now").contains("data-state=\"revoked\""));
        assert!(entries(&lee).iter().any(|e| e
            .contains("Family Sharing of com.storedesk.demo.pro.yearly stopped; access revoked")
            && !e.contains("Apple&#39;s reason")));
        // Frank's subscription expired: the moment it did is on the timeline.
        let frank = r.admin.get_text(&url(&seed.expired_original_id)).await;
        assert!(entries(&frank)
            .iter()
            .any(|e| e.contains(">expiry</span> com.storedesk.demo.cloud.yearly expired")));
        // Dan's renewal failed: when the billing retry began.
        let dan = r
            .admin
            .get_text(&url(&seed.billing_retry_original_id))
            .await;
        assert!(entries(&dan).iter().any(|e| e.contains(
            "The renewal of com.storedesk.demo.pro.monthly failed; Apple is retrying the charge"
        )));
    }
);

support_test!(
    when_apple_is_down_the_index_answers_saying_how_old_it_is,
    |r| {
        let seed = r.sim.seed();
        let alice = seed.long_history_original_id.clone();
        let fresh = r.admin.get_text(&url(&alice)).await;
        assert!(fresh.contains("Fresh from Apple"));
        let crate::helpers::Ready {
            app, sim, admin, ..
        } = r;
        sim.stop().await;

        let response = admin.get(&url(&alice)).await;
        assert_eq!(response.status().as_u16(), 200);
        let page = response.text().await.unwrap();
        assert_no_trace(&page);
        let sentence = html(
            &AppleError::Network {
                detail: String::new(),
                retries: 2,
            }
            .sentence(),
        );
        assert_eq!(page.matches(&sentence).count(), 1, "{page}");
        assert!(
            page.contains(&html("Showing storedesk's index as of")),
            "{page}"
        );
        assert!(!page.contains("Fresh from Apple"));
        let now = section(&page, "has-now");
        assert!(now.contains("data-state=\"active\""), "{now}");
        assert!(now.contains(&html("as far as storedesk's index knows")));
        assert!(now.contains("com.storedesk.demo.remove_ads"));
        assert_eq!(entries(&page).len(), 30);
        newest_first(&page);
        assert!(lookups(&app).await.iter().any(|(a, t, d)| a == "lookup.customer"
            && *t == alice
            && d == "transaction id; Apple: unreachable; answered from the index (30 transaction(s))"));

        // Nothing in the index either: the failure, once.
        let response = admin.get(&url("2000000874999999")).await;
        assert_eq!(response.status().as_u16(), 200);
        let page = response.text().await.unwrap();
        assert_eq!(page.matches(&sentence).count(), 1, "{page}");
        assert!(page.contains(&html("storedesk's own index has nothing for it either.")));
    }
);

support_test!(ids_that_are_none_are_refused_with_a_sentence, |r| {
    for bad in ["hello", "MK5TTTVWJH", "2000000874121031x", "f3b1c2d4-5e6f"] {
        let response = r.admin.get(&url(bad)).await;
        assert_eq!(response.status().as_u16(), 404, "{bad}");
        let page = response.text().await.unwrap();
        assert_no_trace(&page);
        let sentence = format!(
            "“{bad}” is not a customer's id: open a customer by one of their transaction ids (digits only, such as 2000000442013708) or by their app account token (a UUID such as 7389a31a-fb6d-4569-a2a6-db7d85d84813)."
        );
        assert!(page.contains(&html(&sentence)), "{bad}: {page}");
    }
    assert_eq!(r.sim.request_count(), 0, "nothing was asked of Apple");
    assert!(lookups(&r.app).await.is_empty(), "nothing was looked up");
    assert_eq!(r.app.store.indexed_count(r.project.id).await.unwrap(), 0);

    // An id of the right shape that nobody knows: Apple is asked, and says so.
    let seed = r.sim.seed();
    let response = r.admin.get(&url(&seed.unknown_transaction_id)).await;
    assert_eq!(response.status().as_u16(), 404);
    let page = response.text().await.unwrap();
    assert!(
        page.contains(&html(
            "Apple has no customer with this transaction id, in Production or in Sandbox, and storedesk's index has none either."
        )),
        "{page}"
    );
    assert!(lookups(&r.app)
        .await
        .iter()
        .any(|(a, t, _)| a == "lookup.customer" && *t == seed.unknown_transaction_id));
    assert_eq!(r.app.store.indexed_count(r.project.id).await.unwrap(), 0);
});
