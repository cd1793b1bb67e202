//! The transaction history: Apple's paging across pages, each filter, and the CSV export.
use std::collections::HashSet;

use crate::projects::transactions::common::{history_ids, html, lookups, rows_after, search};
use crate::support_test;

/// The href of the "Older →" link, unescaped.
fn older_link(page: &str) -> Option<String> {
    let end = page.find("\" rel=\"next\">Older")?;
    let start = page[..end].rfind("href=\"")? + "href=\"".len();
    Some(page[start..end].replace("&#38;", "&"))
}

support_test!(
    the_history_pages_through_all_thirty_transactions_newest_first,
    |r| {
        let seed = r.sim.seed();
        assert_eq!(seed.long_history_transaction_count, 30);
        let first = r
            .admin
            .get_text(&search(&seed.long_history_original_id))
            .await;
        let page1 = history_ids(&first);
        assert_eq!(page1.len(), 20, "Apple's pages hold 20: {first}");
        let older = older_link(&first).expect("an Older link on the first page");
        assert!(older.contains("rev="), "{older}");
        assert!(older.contains("page=2"));

        let second = r.admin.get_text(&older).await;
        assert!(second.contains("Transaction history · page 2"), "{second}");
        let page2 = history_ids(&second);
        assert_eq!(page2.len(), 10, "{second}");
        assert!(older_link(&second).is_none(), "no page after the last");
        assert!(second.contains("← Newest"));

        let all: HashSet<&String> = page1.iter().chain(&page2).collect();
        assert_eq!(all.len(), 30, "the two pages are disjoint and complete");
        let alice = seed
            .customers
            .iter()
            .find(|c| c.label == "alice")
            .unwrap()
            .transaction_ids
            .clone();
        let expected: HashSet<&String> = alice.iter().collect();
        assert_eq!(all, expected);
        // Newest first: Alice's latest purchase opens the first page; her first one (the free trial) is on the last.
        assert_eq!(page1.first(), alice.last());
        assert_eq!(page2.last(), Some(&seed.long_history_original_id));
        // Every page is a lookup in the audit log.
        assert_eq!(
            lookups(&r.app)
                .await
                .iter()
                .filter(|(a, _, _)| a == "lookup.transaction")
                .count(),
            2
        );
    }
);

support_test!(each_history_filter_narrows_the_list, |r| {
    let seed = r.sim.seed();
    let alice = &seed.long_history_original_id;
    let with = |extra: &str| format!("{}&{extra}", search(alice));

    let consumables = r.admin.get_text(&with("type=CONSUMABLE")).await;
    let ids = history_ids(&consumables);
    assert_eq!(
        ids.len(),
        3,
        "Alice bought coins three times: {consumables}"
    );
    assert_eq!(rows_after(&consumables, "id=\"history\""), 3);
    assert!(consumables.contains("<option value=\"CONSUMABLE\" selected>"));

    let ads = r
        .admin
        .get_text(&with("product=com.storedesk.demo.remove_ads"))
        .await;
    assert_eq!(history_ids(&ads).len(), 1);

    let since = chrono::Utc::now() - chrono::Duration::days(20);
    let recent = r
        .admin
        .get_text(&with(&format!("from={}", since.format("%Y-%m-%d"))))
        .await;
    let recent_ids = history_ids(&recent);
    // Coins 18 and 9 days ago, remove-ads 14 days ago, the renewal 10 days ago.
    assert_eq!(recent_ids.len(), 4, "{recent}");

    let until = chrono::Utc::now() - chrono::Duration::days(400);
    let old = r
        .admin
        .get_text(&with(&format!("to={}", until.format("%Y-%m-%d"))))
        .await;
    assert!(!history_ids(&old).is_empty());
    assert!(history_ids(&old).len() < 20);

    let hank = &seed.refunded_consumable_transaction_id;
    let revoked = r
        .admin
        .get_text(&format!("{}&revoked=yes", search(hank)))
        .await;
    assert_eq!(history_ids(&revoked), vec![hank.clone()]);
    let not_revoked = r
        .admin
        .get_text(&format!("{}&revoked=no", search(hank)))
        .await;
    assert!(!history_ids(&not_revoked).contains(hank));
    assert_eq!(history_ids(&not_revoked).len(), 4);

    let ivy = &seed.family_shared_transaction_id;
    let shared = r
        .admin
        .get_text(&format!("{}&ownership=FAMILY_SHARED", search(ivy)))
        .await;
    assert_eq!(history_ids(&shared), vec![ivy.clone()]);
    let purchased = r
        .admin
        .get_text(&format!("{}&ownership=PURCHASED", search(ivy)))
        .await;
    assert!(history_ids(&purchased).is_empty());
    assert!(purchased.contains("No transactions match these filters."));
});

support_test!(
    a_bad_filter_is_refused_next_to_its_field_and_nothing_is_looked_up,
    |r| {
        let seed = r.sim.seed();
        let cases = [
        ("from=26/11/2026", "f-from", "Dates are written YYYY-MM-DD, for example 2026-11-26."),
        (
            "from=2026-02-01&to=2026-01-01",
            "f-to",
            "The end date is before the start date; the range would be empty.",
        ),
        (
            "type=SUBSCRIPTION",
            "f-type",
            "Choose a product type from the list: auto-renewable, non-renewing, consumable or non-consumable.",
        ),
        (
            "product=bad%20id!",
            "f-product",
            "A product id is letters, digits, dots, dashes and underscores, such as com.example.pro.monthly.",
        ),
        (
            "revoked=maybe",
            "f-revoked",
            "Choose whether to show revoked transactions: only revoked, only not revoked, or both.",
        ),
        (
            "ownership=stolen",
            "f-ownership",
            "Choose an ownership: purchased, family shared, or both.",
        ),
    ];
        for (query, field, sentence) in cases {
            let response = r
                .admin
                .get(&format!(
                    "{}&{query}",
                    search(&seed.long_history_original_id)
                ))
                .await;
            assert_eq!(response.status().as_u16(), 422, "{query}");
            let page = response.text().await.unwrap();
            assert!(
                page.contains(&format!(
                    "<p class=\"field-error\" id=\"{field}-error\">{}</p>",
                    html(sentence)
                )),
                "{query}: {page}"
            );
            assert!(page.contains(&format!("aria-describedby=\"{field}-error\"")));
        }
        assert_eq!(r.sim.request_count(), 0);
        assert!(lookups(&r.app).await.is_empty());
    }
);

support_test!(the_csv_export_holds_the_whole_filtered_history, |r| {
    let seed = r.sim.seed();
    let alice = &seed.long_history_original_id;
    let response = r
        .admin
        .get(&format!("/projects/demo/transactions/{alice}/history.csv"))
        .await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "text/csv; charset=utf-8"
    );
    assert_eq!(
        response.headers()["content-disposition"].to_str().unwrap(),
        format!("attachment; filename=\"transactions-{alice}.csv\"")
    );
    let body = response.text().await.unwrap();
    let lines: Vec<&str> = body.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(
        lines[0],
        "transaction_id,original_transaction_id,web_order_line_item_id,product_id,product_type,purchase_date_utc,expires_date_utc,price,currency,offer,ownership,environment,transaction_reason,revocation_date_utc,revocation_reason,refund_status,storefront,quantity,app_account_token,source,as_of_utc,product_name"
    );
    assert_eq!(lines.len(), 31, "a header and Alice's 30 transactions");
    let trial = lines
        .iter()
        .find(|l| l.starts_with(&format!("{alice},")))
        .expect("the first transaction is in the file");
    let fields: Vec<&str> = trial.split(',').collect();
    assert_eq!(fields[3], "com.storedesk.demo.pro.monthly");
    assert_eq!(fields[4], "Auto-Renewable Subscription");
    assert_eq!(fields[7], "0.00");
    assert_eq!(fields[8], "USD");
    assert_eq!(fields[9], "introductory offer: free trial for 1 month");
    assert_eq!(fields[10], "PURCHASED");
    assert_eq!(fields[11], "Production");
    assert_eq!(fields[12], "PURCHASE");
    assert_eq!(fields[18], seed.app_account_token);
    assert_eq!(fields[19], "apple");
    assert_eq!(fields[21], "", "no name without a catalog");
    assert!(fields[5].ends_with('Z') && fields[5].contains('T'));
    assert!(lines.iter().filter(|l| l.contains(",9.99,USD,")).count() >= 25);

    let coins = r
        .admin
        .get_text(&format!(
            "/projects/demo/transactions/{alice}/history.csv?type=CONSUMABLE"
        ))
        .await;
    let coin_lines: Vec<&str> = coins
        .split("\r\n")
        .filter(|l| !l.is_empty())
        .skip(1)
        .collect();
    assert_eq!(coin_lines.len(), 3);
    assert!(coin_lines
        .iter()
        .all(|l| l.contains(",com.storedesk.demo.coins.100,Consumable,")));
    // With a synced catalog, each row ends with the product's name.
    crate::projects::names::put_catalog(
        &r.app.store,
        r.project.id,
        &crate::projects::names::demo_catalog(),
    )
    .await;
    let named = r
        .admin
        .get_text(&format!(
            "/projects/demo/transactions/{alice}/history.csv?type=CONSUMABLE"
        ))
        .await;
    let named: Vec<&str> = named
        .split("\r\n")
        .filter(|l| !l.is_empty())
        .skip(1)
        .collect();
    assert_eq!(named.len(), 3);
    assert!(named.iter().all(|l| l.ends_with(",100 Coins")), "{named:?}");
    let audit = lookups(&r.app).await;
    assert!(audit
        .iter()
        .any(|(a, t, d)| a == "lookup.export" && t == alice && d.starts_with("30 transaction(s)")));
});

/// N in "The timeline in words (… events, from N transaction(s) storedesk has seen)".
fn timeline_drawn_from(page: &str) -> Option<usize> {
    let start = page.find(" events, from ")? + " events, from ".len();
    let digits: String = page[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

support_test!(
    a_long_history_reads_on_from_its_first_page_for_the_timeline,
    |r| {
        let seed = r.sim.seed();
        let alice = &seed.long_history_original_id;
        let before = r.sim.request_count();
        let page = r.admin.get_text(&search(alice)).await;
        // Get Transaction Info, then the history's first page, the refunds and the customer's subscription
        // statuses side by side, then one more history page read on from the first (most of Alice's first page
        // is her subscription): the 20 transactions shown are not fetched a second time by a subscription-only
        // query.
        assert_eq!(r.sim.request_count() - before, 5, "{page}");
        let on_page = timeline_drawn_from(&page).expect("a timeline on the transaction page");
        assert!(
            on_page > 20,
            "the timeline reaches past the first page: {on_page}"
        );
        // The subscription page draws the same chain from a subscription-only query.
        let subscription = r
            .admin
            .get_text(&format!("/projects/demo/subscriptions/{alice}"))
            .await;
        assert_eq!(timeline_drawn_from(&subscription), Some(on_page));
    }
);

/// The transaction ids of the refunds table, in page order.
fn refund_ids(page: &str) -> Vec<String> {
    let refunds = crate::projects::transactions::common::section(page, "refunds");
    refunds
        .split("<a class=\"id\" href=\"")
        .skip(1)
        .filter_map(|part| {
            let after = &part[part.find("\">")? + 2..];
            Some(after[..after.find("</a>")?].to_string())
        })
        .collect()
}

support_test!(refunds_are_listed_newest_first_like_the_history, |r| {
    let seed = r.sim.seed();
    // Mia's refunds came 25 and 3 days ago; Apple lists them oldest first.
    let (older, newer) = (
        seed.two_refunds_transaction_ids[0].clone(),
        seed.two_refunds_transaction_ids[1].clone(),
    );
    let page = r.admin.get_text(&search(&older)).await;
    assert!(page.contains("Fresh from Apple"), "{page}");
    assert_eq!(
        refund_ids(&page),
        vec![newer.clone(), older.clone()],
        "{page}"
    );
    assert!(page.contains("Refunds, newest first"));

    // From the index too, when Apple can't answer.
    r.sim.inject_fault(storedesk::apple_sim::Fault::ApiError {
        code: 5_000_000,
        count: 3,
    });
    let page = r.admin.get_text(&search(&older)).await;
    assert!(page.contains("not fresh from Apple"), "{page}");
    assert_eq!(refund_ids(&page), vec![newer, older], "{page}");
});

support_test!(the_csv_holds_codes_for_refunds_not_sentences, |r| {
    let seed = r.sim.seed();
    let hank = &seed.refunded_consumable_transaction_id;
    let body = r
        .admin
        .get_text(&format!("/projects/demo/transactions/{hank}/history.csv"))
        .await;
    let rows: Vec<Vec<&str>> = body
        .split("\r\n")
        .filter(|l| !l.is_empty())
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(rows.len(), 5, "{body}");
    let refunded = rows.iter().find(|f| f[0] == hank.as_str()).unwrap();
    assert_eq!(refunded[14], "0", "Apple's revocationReason: {body}");
    assert_eq!(refunded[15], "refund_full", "{body}");
    for row in rows.iter().filter(|f| f[0] != hank.as_str()) {
        assert_eq!(row[14], "");
        assert_eq!(row[15], "none", "{body}");
    }
    assert!(!body.contains("Refunded in full"), "no sentences: {body}");
    assert!(!body.contains("Not refunded"), "no sentences: {body}");

    let lee = &seed.family_revoked_original_id;
    let body = r
        .admin
        .get_text(&format!("/projects/demo/transactions/{lee}/history.csv"))
        .await;
    assert!(body.contains(",family_revoke,"), "{body}");
});

support_test!(
    a_transaction_apple_changes_mid_export_is_neither_skipped_nor_doubled,
    |r| {
        let seed = r.sim.seed();
        let alice = &seed.long_history_original_id;
        // The export asks Apple for the transaction, then for the pages of history. Just before the second page,
        // Apple changes Alice's first transaction (the oldest change of her 30, so on the first page of a
        // last-modified order, and on the last page newest first).
        r.sim
            .inject_fault(storedesk::apple_sim::Fault::Normal { count: 2 });
        r.sim.inject_fault(storedesk::apple_sim::Fault::Touch {
            transaction_id: alice.clone(),
            count: 1,
        });

        let body = r
            .admin
            .get_text(&format!("/projects/demo/transactions/{alice}/history.csv"))
            .await;

        let rows: Vec<&str> = body
            .split("\r\n")
            .filter(|l| !l.is_empty())
            .skip(1)
            .collect();
        let ids: std::collections::HashSet<&str> = rows
            .iter()
            .map(|l| l.split(',').next().unwrap_or_default())
            .collect();
        assert_eq!(rows.len(), seed.long_history_transaction_count, "{body}");
        assert_eq!(ids.len(), rows.len(), "each transaction once: {body}");
        assert!(ids.contains(alice.as_str()), "the changed one is there");
        let audit = lookups(&r.app).await;
        assert!(audit.iter().any(|(a, t, d)| a == "lookup.export"
            && t == alice
            && d.starts_with(&format!(
                "{} transaction(s) from Apple",
                seed.long_history_transaction_count
            ))));
    }
);
