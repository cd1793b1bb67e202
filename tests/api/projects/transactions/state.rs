//! The customer's state first: every lookup leads with what the customer has now, in a badge and a sentence,
//! for each subscription state the simulator has; the matched transaction and the history rows only say what
//! their own transaction says.
use storedesk::apple_sim::Fault;

use crate::projects::transactions::common::{assert_no_trace, html, search, section};
use crate::support_test;

/// The "customer now" card of a lookup page, checked to come before the matched transaction's story.
fn card(page: &str) -> &str {
    let now = page
        .find("id=\"now\"")
        .expect("the customer's state is shown");
    let story = page
        .find("id=\"story\"")
        .expect("the matched transaction is shown");
    assert!(now < story, "the customer's state comes first");
    section(page, "now")
}

support_test!(
    the_card_leads_with_the_customers_state_in_every_seeded_state,
    |r| {
        let seed = r.sim.seed();
        // (searched id, badge, state code, words of its sentence)
        let cases: Vec<(String, &str, &str, Vec<&str>)> = vec![
            (
                seed.active_monthly.transaction_id.clone(),
                "<span class=\"badge badge-good\">active</span>",
                "active",
                vec!["Active until ", "Auto-renew is on: it renews then for 9.99 EUR."],
            ),
            (
                seed.free_trial_original_id.clone(),
                "<span class=\"badge badge-good\">free trial</span>",
                "free_trial",
                vec![
                    "In a free trial until ",
                    "(in 4 days). Auto-renew is on: the first paid period starts then for 4.99 USD.",
                ],
            ),
            (
                seed.auto_renew_off_original_id.clone(),
                "<span class=\"badge badge-good\">active</span>",
                "active",
                vec!["Active until ", "Auto-renew is off: it ends then."],
            ),
            (
                seed.grace_period_original_id.clone(),
                "<span class=\"badge badge-warn\">grace period</span>",
                "grace_period",
                vec![
                    "In grace period until ",
                    "(in 14 days): the renewal charge failed on ",
                    "(2 days ago) and Apple is retrying it; the customer keeps access meanwhile.",
                ],
            ),
            (
                seed.billing_retry_original_id.clone(),
                "<span class=\"badge badge-warn\">billing retry</span>",
                "billing_retry",
                vec![
                    "In billing retry since ",
                    "(5 days ago): the renewal charge failed and Apple is retrying it; the customer has no access meanwhile.",
                ],
            ),
            (
                seed.expired_original_id.clone(),
                "<span class=\"badge badge-neutral\">expired</span>",
                "expired",
                vec!["Expired on ", "(35 days ago) because the customer cancelled."],
            ),
            (
                seed.revoked_original_id.clone(),
                "<span class=\"badge badge-bad\">refunded</span>",
                "refunded",
                vec![
                    "Refunded on ",
                    "; access ended then. Apple's reason: refunded because of an actual or perceived issue in the app.",
                ],
            ),
            (
                seed.family_revoked_original_id.clone(),
                "<span class=\"badge badge-bad\">revoked</span>",
                "revoked",
                vec![
                    "Revoked on ",
                    "the family member who shared it stopped Family Sharing, so the customer no longer has access.",
                ],
            ),
            (
                seed.family_shared_transaction_id.clone(),
                "<span class=\"badge badge-good\">active</span>",
                "active",
                vec!["Active until ", "Shared with the customer through Family Sharing."],
            ),
        ];
        for (id, badge, code, words) in cases {
            let response = r.admin.get(&search(&id)).await;
            assert_eq!(response.status().as_u16(), 200, "{id}");
            let page = response.text().await.unwrap();
            assert_no_trace(&page);
            let card = card(&page);
            assert!(card.contains("The customer now"), "{id}: {card}");
            assert!(
                card.contains(badge),
                "{id} should lead with {badge}: {card}"
            );
            assert!(
                card.contains(&format!("data-state=\"{code}\"")),
                "{id}: {card}"
            );
            for w in words {
                assert!(card.contains(&html(w)), "{id} should say {w:?}: {card}");
            }
            assert!(card.contains("(this purchase)"), "{id}: {card}");
            // From the card to the customer's page.
            assert!(
                card.contains("href=\"/projects/demo/customers/"),
                "{id}: {card}"
            );
        }
    }
);

support_test!(
    the_demos_suggested_order_leads_with_an_active_subscription_not_an_expired_trial,
    |r| {
        let seed = r.sim.seed();
        let page = r.admin.get_text(&search("MK5TTTVWJH")).await;
        let card = card(&page);
        assert!(
            card.contains("<span class=\"badge badge-good\">active</span>"),
            "{card}"
        );
        assert!(!card.contains(">expired</span>"), "{card}");
        assert!(
            card.contains(&format!(
                "href=\"/projects/demo/customers/{}\"",
                seed.long_history_original_id
            )),
            "{card}"
        );
        // The matched transaction is the 2024 free trial: its own period ended, and it says only that.
        let story = section(&page, "story");
        assert!(
            story.contains("<span class=\"badge badge-neutral\">period ended</span>"),
            "{story}"
        );
        assert!(!story.contains(">expired</span>"), "{story}");
        assert!(story.contains("0.00 USD"));
    }
);

support_test!(an_order_of_two_subscriptions_leads_with_both_states, |r| {
    let page = r.admin.get_text(&search("MKPQ3RT8ZD")).await;
    let card = card(&page);
    assert_eq!(card.matches("(this purchase)").count(), 2, "{card}");
    assert!(card.contains("com.storedesk.demo.pro.monthly"));
    assert!(card.contains("com.storedesk.demo.cloud.monthly"));
    // Bob's Cloud plan has a price increase waiting for his answer.
    assert!(
        card.contains(&html(
            "A price increase is pending; the customer has not responded yet."
        )),
        "{card}"
    );
});

support_test!(
    a_consumable_lookup_says_there_is_no_subscription_rather_than_guessing,
    |r| {
        let seed = r.sim.seed();
        let page = r
            .admin
            .get_text(&search(&seed.refunded_consumable_transaction_id))
            .await;
        let card = card(&page);
        assert!(
            card.contains("No auto-renewable subscription: nothing renews for this customer."),
            "{card}"
        );
        let story = section(&page, "story");
        assert!(story.contains("<span class=\"badge badge-bad\">refunded</span>"));
    }
);

support_test!(
    history_rows_say_what_their_transaction_says_not_the_subscriptions_state,
    |r| {
        let seed = r.sim.seed();
        for id in [
            &seed.billing_retry_original_id,
            &seed.grace_period_original_id,
        ] {
            let page = r.admin.get_text(&search(id)).await;
            let history = section(&page, "history");
            assert!(history.contains("<th scope=\"col\">This transaction</th>"));
            assert!(
                history.contains("<span class=\"badge badge-neutral\">period ended</span>"),
                "{id}: {history}"
            );
            for claim in [
                ">expired</span>",
                ">active</span>",
                ">grace period</span>",
                ">billing retry</span>",
            ] {
                assert!(!history.contains(claim), "{id}: a row claims {claim}");
            }
        }
        // The subscription's timeline on the lookup page draws what the state says, as the subscription page does.
        let dan = r
            .admin
            .get_text(&search(&seed.billing_retry_original_id))
            .await;
        assert!(
            dan.contains("Renewal failed; Apple is retrying the charge"),
            "{dan}"
        );
        let eve = r
            .admin
            .get_text(&search(&seed.grace_period_original_id))
            .await;
        assert!(eve.contains("Grace period ends"), "{eve}");
        // Alice's current renewal says its period runs, not that the subscription is active.
        let alice = r
            .admin
            .get_text(&search(&seed.long_history_original_id))
            .await;
        let history = section(&alice, "history");
        assert!(history.contains("<span class=\"badge badge-neutral\">current period</span>"));
        assert!(!history.contains(">active</span>"));
    }
);

support_test!(
    when_apple_is_down_the_card_tells_what_the_index_knows_and_no_more,
    |r| {
        let seed = r.sim.seed();
        let dan = seed.billing_retry_original_id.clone();
        let bob = seed.active_monthly.transaction_id.clone();
        for id in [&dan, &bob] {
            assert!(r
                .admin
                .get_text(&search(id))
                .await
                .contains("Fresh from Apple"));
        }
        // Every call fails: the first attempt and the client's two retries.
        r.sim.inject_fault(Fault::ApiError {
            code: 5_000_000,
            count: 6,
        });
        let page = r.admin.get_text(&search(&dan)).await;
        assert_no_trace(&page);
        assert!(!page.contains("Fresh from Apple"));
        let dans = card(&page);
        // Dan's last period ended; only Apple can say it is in billing retry.
        assert!(
            dans.contains("<span class=\"badge badge-neutral\">period ended</span>"),
            "{dans}"
        );
        assert!(
            dans.contains(&html("without Apple it is not known whether it expired")),
            "{dans}"
        );
        assert!(!dans.contains(">expired</span>") && !dans.contains(">billing retry</span>"));

        let page = r.admin.get_text(&search(&bob)).await;
        let bobs = card(&page);
        assert!(
            bobs.contains("<span class=\"badge badge-good\">active</span>"),
            "{bobs}"
        );
        assert!(
            bobs.contains(&html("as far as storedesk's index knows")),
            "{bobs}"
        );
    }
);
