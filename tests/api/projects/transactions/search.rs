//! The search box: each kind of input, the story of a purchase in plain words, and what is refused.
use storedesk::domain::Role;

use crate::projects::transactions::common::{assert_no_trace, html, lookups, search};
use crate::support_test;

support_test!(a_transaction_id_tells_the_story_fresh_from_apple, |r| {
    let seed = r.sim.seed();
    let id = &seed.active_monthly.transaction_id;
    let response = r.admin.get(&search(id)).await;
    assert_eq!(response.status().as_u16(), 200);
    let page = response.text().await.unwrap();
    assert_no_trace(&page);
    assert!(page.contains("Fresh from Apple (Production)"), "{page}");
    assert!(page.contains("com.storedesk.demo.pro.monthly"));
    assert!(
        page.contains("An auto-renewable subscription renewed automatically on"),
        "{page}"
    );
    // Bob pays in euros: milliunits 9990 are 9.99 EUR.
    assert!(page.contains("9.99 EUR"), "{page}");
    assert!(page.contains("<span class=\"badge badge-good\">active</span>"));
    assert!(page.contains("Not refunded."));
    assert!(page.contains(&format!(
        "href=\"/projects/demo/subscriptions/{}\"",
        seed.active_monthly.original_transaction_id
    )));
    assert!(page.contains("<summary>Decoded JSON, as Apple signed it</summary>"));
    assert!(page.contains(&html(&format!("\"transactionId\": \"{id}\""))));
    assert!(
        page.contains("<svg class=\"timeline-svg\""),
        "a timeline is drawn"
    );
    assert!(page.contains("id=\"history\"") && page.contains("id=\"refunds\""));
    assert!(
        page.contains("data-copy=\"tx-id\""),
        "ids have a copy button"
    );

    let audit = lookups(&r.app).await;
    assert!(
        audit.iter().any(|(a, t, d)| a == "lookup.transaction"
            && t == id
            && d.contains("answered by Apple (Production)")),
        "{audit:?}"
    );
    let indexed = r
        .app
        .store
        .indexed_by_transaction_id(r.project.id, id)
        .await
        .unwrap();
    assert_eq!(indexed.len(), 1);
    assert_eq!(indexed[0].environment, "Production");
});

support_test!(
    an_original_transaction_id_is_recognised_as_the_first_one,
    |r| {
        let seed = r.sim.seed();
        let page = r
            .admin
            .get_text(&search(&seed.long_history_original_id))
            .await;
        assert!(page.contains("(this is the first transaction)"), "{page}");
        // Alice's first month was a free trial.
        assert!(
            page.contains("introductory offer: free trial for 1 month"),
            "{page}"
        );
        assert!(page.contains("0.00 USD"));
    }
);

support_test!(an_order_id_from_a_receipt_lists_every_purchase_in_it, |r| {
    let seed = r.sim.seed();
    let ids = seed.orders.get("MKPQ3RT8ZD").unwrap().clone();
    // Pasted in lower case, with the full stop of the e-mail's sentence.
    let page = r.admin.get_text(&search("mkpq3rt8zd.")).await;
    assert_no_trace(&page);
    assert!(page.contains("2 transactions for this order id"), "{page}");
    for id in &ids {
        assert!(page.contains(id.as_str()), "{id} listed");
    }
    let audit = lookups(&r.app).await;
    assert!(audit.iter().any(|(a, t, d)| a == "lookup.transaction"
        && t == "MKPQ3RT8ZD"
        && d.starts_with("order id")));
    // The order is remembered: the index resolves it later.
    let indexed = r
        .app
        .store
        .indexed_by_order_id(r.project.id, "MKPQ3RT8ZD")
        .await
        .unwrap();
    assert_eq!(indexed.len(), 2);
});

support_test!(an_unknown_order_id_is_said_to_be_unknown, |r| {
    let seed = r.sim.seed();
    let page = r.admin.get_text(&search(&seed.unknown_order_id)).await;
    assert!(
        page.contains(&html(&format!(
            "Apple knows no order {} with an in-app purchase of this app.",
            seed.unknown_order_id
        ))),
        "{page}"
    );
});

support_test!(an_unknown_transaction_id_is_said_to_be_unknown, |r| {
    let seed = r.sim.seed();
    let response = r.admin.get(&search(&seed.unknown_transaction_id)).await;
    assert_eq!(response.status().as_u16(), 200);
    let page = response.text().await.unwrap();
    assert!(
        page.contains("Apple has no transaction with this id, in Production or in Sandbox."),
        "{page}"
    );
    assert!(!page.contains("Fresh from Apple"));
});

support_test!(
    an_app_account_token_is_found_in_the_index_after_a_lookup,
    |r| {
        let seed = r.sim.seed();
        let token = seed.app_account_token.to_uppercase();
        let before = r.admin.get_text(&search(&token)).await;
        assert!(
            before.contains(&html(&format!(
                "storedesk's index has no transaction with app account token {}.",
                seed.app_account_token
            ))),
            "{before}"
        );
        let requests = r.sim.request_count();
        assert_eq!(requests, 0, "a token search never asks Apple");

        // One lookup of Alice by her original transaction id indexes her history page.
        r.admin
            .get_text(&search(&seed.long_history_original_id))
            .await;
        let after_lookup = r.sim.request_count();
        let page = r.admin.get_text(&search(&token)).await;
        assert_eq!(r.sim.request_count(), after_lookup, "still no Apple call");
        assert_no_trace(&page);
        assert!(
            page.contains(&html(
                "App account tokens are searched in storedesk's own index"
            )),
            "{page}"
        );
        assert!(
            page.contains(&html("Showing storedesk's index as of")),
            "{page}"
        );
        assert!(
            page.contains("transactions for this app account token"),
            "{page}"
        );
        assert!(page.contains(&seed.long_history_original_id));
        assert!(!page.contains("Fresh from Apple"));
    }
);

support_test!(
    input_that_fits_no_kind_is_refused_with_the_shapes_named,
    |r| {
        for bad in [
            "hello there",
            "12345678901234567890123",
            "2000000874121031x",
            "MK5",
        ] {
            let response = r.admin.get(&search(bad)).await;
            assert_eq!(response.status().as_u16(), 422, "{bad}");
            let page = response.text().await.unwrap();
            let sentence = storedesk::support::SearchInput::parse(bad)
                .unwrap_err()
                .to_string();
            assert!(page.contains(&html(&sentence)), "{bad}: {page}");
            assert!(page.contains("aria-describedby=\"q-help q-error\""));
            assert!(page.contains("aria-invalid=\"true\""));
        }
        assert_eq!(r.sim.request_count(), 0, "nothing was asked of Apple");
        assert!(lookups(&r.app).await.is_empty(), "nothing was looked up");
        assert_eq!(r.app.store.indexed_count(r.project.id).await.unwrap(), 0);
    }
);

support_test!(the_search_page_explains_each_kind_of_id, |r| {
    let page = r.admin.get_text("/projects/demo/transactions").await;
    assert!(page.contains(
        "<a href=\"/projects/demo/transactions\" aria-current=\"page\">Transactions</a>"
    ));
    assert!(page.contains("name=\"q\""));
    assert!(page.contains("digits only"));
    assert!(page.contains("receipt e-mail"));
    assert!(page.contains("App account token"));
    assert!(
        lookups(&r.app).await.is_empty(),
        "an empty search is not a lookup"
    );
});

support_test!(
    refunds_family_sharing_upgrades_and_yen_read_in_plain_words,
    |r| {
        let seed = r.sim.seed();
        let refunded = r.admin.get_text(&search(&seed.revoked_original_id)).await;
        assert!(refunded.contains("Refunded in full on"), "{refunded}");
        assert!(refunded
            .contains("Reason: refunded because of an actual or perceived issue in the app."));
        assert!(refunded.contains("<span class=\"badge badge-bad\">refunded</span>"));
        assert!(refunded.contains("99.99 EUR"));

        let shared = r
            .admin
            .get_text(&search(&seed.family_shared_transaction_id))
            .await;
        assert!(shared.contains("<span class=\"badge badge-neutral\">family shared</span>"));
        assert!(shared.contains("shared with the customer through Family Sharing"));

        let upgraded = r
            .admin
            .get_text(&search(&seed.upgraded_transaction_id))
            .await;
        assert!(upgraded.contains("1,500 JPY"), "{upgraded}");
        assert!(upgraded.contains("<span class=\"badge badge-neutral\">upgraded</span>"));
        // The history shows the yearly plan it moved to.
        assert!(upgraded.contains("15,000 JPY"));

        let consumable = r
            .admin
            .get_text(&search(&seed.refunded_consumable_transaction_id))
            .await;
        assert!(
            consumable.contains("A consumable bought on"),
            "{consumable}"
        );
        assert!(consumable
            .contains("Reason: refunded for another reason, for example an accidental purchase."));
        assert!(!consumable.contains("Subscription status and renewal"));
    }
);

support_test!(support_staff_can_search, |r| {
    let support = r.app.session(Role::Support).await;
    let seed = r.sim.seed();
    let response = support
        .get(&search(&seed.active_monthly.transaction_id))
        .await;
    assert_eq!(response.status().as_u16(), 200);
    assert!(response.text().await.unwrap().contains("Fresh from Apple"));
    assert!(lookups(&r.app)
        .await
        .iter()
        .any(|(a, _, _)| a == "lookup.transaction"));
});

crate::both_backends!(a_project_without_a_key_says_so_instead_of_failing, |app| {
    let admin = app.session(Role::Admin).await;
    assert_eq!(
        crate::helpers::create_project(&admin, "demo")
            .await
            .status()
            .as_u16(),
        303
    );
    let no_key = storedesk::support::AppleProblem::no_key().sentence;
    for path in [
        search("2000000874121031"),
        search("MK5TTTVWJH"),
        "/projects/demo/subscriptions/2000000874121031".to_string(),
        "/projects/demo/customers/2000000874121031".to_string(),
    ] {
        let response = admin.get(&path).await;
        assert_eq!(response.status().as_u16(), 200, "{path}");
        let page = response.text().await.unwrap();
        assert_no_trace(&page);
        // The sentence once, and the page that fixes it.
        assert_eq!(page.matches(&html(&no_key)).count(), 1, "{path}: {page}");
        assert!(
            page.contains("<a href=\"/projects/demo/keys\">Open the Keys page</a>"),
            "{path}: {page}"
        );
    }
    let csv = admin
        .get("/projects/demo/transactions/2000000874121031/history.csv")
        .await;
    assert_eq!(csv.status().as_u16(), 200);
    let body = csv.text().await.unwrap();
    assert_eq!(
        body.lines().count(),
        1,
        "only the header: the index is empty"
    );
});

support_test!(an_id_pasted_with_its_label_is_recognised, |r| {
    let seed = r.sim.seed();
    let hank_coins = seed.orders.get("ML9X2K4BVN").unwrap()[0].clone();
    // As copied from the receipt e-mail, from a support ticket and from a log line.
    let pasted = [
        ("Order ID: ML9X2K4BVN", hank_coins.clone()),
        ("Order ID\tML9X2K4BVN", hank_coins.clone()),
        (
            &*format!("Transaction ID: {}", seed.active_monthly.transaction_id),
            seed.active_monthly.transaction_id.clone(),
        ),
        (
            &*format!(
                "\"transactionId\": \"{}\",",
                seed.active_monthly.transaction_id
            ),
            seed.active_monthly.transaction_id.clone(),
        ),
    ];
    for (q, shown) in pasted {
        let response = r.admin.get(&search(q)).await;
        assert_eq!(response.status().as_u16(), 200, "{q}");
        let page = response.text().await.unwrap();
        assert!(page.contains("Fresh from Apple"), "{q}: {page}");
        assert!(page.contains("data-copy=\"tx-id\""), "{q}");
        assert!(
            page.contains(&format!("id=\"tx-id\">{shown}</code>")),
            "{q}: {page}"
        );
        // The search box keeps what was pasted.
        assert!(
            page.contains(&format!("value=\"{}\"", html(q.trim()))),
            "{q}"
        );
    }
    let audit = lookups(&r.app).await;
    assert!(
        audit
            .iter()
            .any(|(a, t, _)| a == "lookup.transaction" && t == "ML9X2K4BVN"),
        "the lookup is of the order id, not of its label: {audit:?}"
    );
    // A token with its label is searched in the index like a bare one.
    let page = r
        .admin
        .get_text(&search(&format!(
            "appAccountToken={}",
            seed.app_account_token.to_uppercase()
        )))
        .await;
    assert!(
        page.contains(&html(&format!(
            "storedesk's index has no transaction with app account token {}.",
            seed.app_account_token
        ))),
        "{page}"
    );
});

support_test!(junk_with_a_label_is_still_refused_with_the_sentence, |r| {
    for bad in [
        "Order ID: hello there",
        "Name: MK5TTTVWJH",
        "Transaction ID:",
    ] {
        let response = r.admin.get(&search(bad)).await;
        assert_eq!(response.status().as_u16(), 422, "{bad}");
        let page = response.text().await.unwrap();
        let sentence = format!(
            "“{bad}” is not something storedesk can look up. A transaction id or original transaction id is digits only, such as 2000000442013708. An order id is the code after “Order ID” in the customer's receipt e-mail, letters and digits such as MK5TTTVWJH. An app account token is a UUID such as 7389a31a-fb6d-4569-a2a6-db7d85d84813."
        );
        assert!(
            page.contains(&format!(
                "<p class=\"field-error\" id=\"q-error\">{}</p>",
                html(&sentence)
            )),
            "{bad}: {page}"
        );
    }
    assert_eq!(r.sim.request_count(), 0, "nothing was asked of Apple");
    assert!(lookups(&r.app).await.is_empty(), "nothing was looked up");
    assert_eq!(r.app.store.indexed_count(r.project.id).await.unwrap(), 0);
});
