//! `/projects/{project}/notifications`: the log, its filters and paging, the chart, the detail page and the refunds view.
mod auto_consumption;
pub mod backfill;
mod consumption;
pub mod signed;

use storedesk::apple_sim::SimEnvironment::{Production, Sandbox};
use storedesk::domain::Role;
use storedesk::store::notifications::NewNotification;

use crate::projects::notifications::signed::{arrive, day, detail_ids, esc, spec, DAY_MS};
use crate::with_ready;

with_ready!(the_log_lists_notifications_newest_first_in_words, |r| {
    let seed = r.sim.seed();
    let renew = arrive(
        &r.app,
        &r.sim,
        &r.project,
        Production,
        spec("DID_RENEW", &seed.active_monthly.transaction_id),
    )
    .await;
    let charge = arrive(
        &r.app,
        &r.sim,
        &r.project,
        Production,
        spec("ONE_TIME_CHARGE", &seed.consumable_transaction_id),
    )
    .await;
    let off = arrive(
        &r.app,
        &r.sim,
        &r.project,
        Sandbox,
        spec(
            "DID_CHANGE_RENEWAL_STATUS",
            &seed.active_monthly.transaction_id,
        )
        .subtype("AUTO_RENEW_DISABLED"),
    )
    .await;

    let support = r.app.session(Role::Support).await;
    let response = support.get("/projects/demo/notifications").await;
    assert_eq!(response.status().as_u16(), 200);
    let html = response.text().await.unwrap();
    assert_eq!(detail_ids(&html, "demo"), vec![off, charge, renew]);
    assert!(html.contains("<span class=\"badge badge-good\">renewed</span>"));
    assert!(html.contains("<span class=\"badge badge-warn\">auto-renew changed</span> <span class=\"badge badge-neutral\">auto-renew off</span>"));
    assert!(html.contains("DID_CHANGE_RENEWAL_STATUS · AUTO_RENEW_DISABLED"));
    assert!(html.contains(&format!(
        "<a class=\"id\" href=\"/projects/demo/transactions?q={0}\">{0}</a>",
        seed.consumable_transaction_id
    )));
    assert!(html.contains("<td>Sandbox</td>"));
    assert!(html.contains("delivered by Apple"));
    assert!(html.contains("UTC</span><br><span class=\"muted\">just now</span>"));
    assert!(html.contains("aria-current=\"page\">Notifications</a>"));
});

with_ready!(filters_narrow_the_log_and_bad_ones_are_explained, |r| {
    let seed = r.sim.seed();
    let bob = &seed.active_monthly;
    let renew = arrive(
        &r.app,
        &r.sim,
        &r.project,
        Production,
        spec("DID_RENEW", &bob.transaction_id),
    )
    .await;
    let refund = arrive(
        &r.app,
        &r.sim,
        &r.project,
        Production,
        spec("REFUND", &seed.refunded_consumable_transaction_id),
    )
    .await;
    let sandbox = arrive(
        &r.app,
        &r.sim,
        &r.project,
        Sandbox,
        spec("DID_RENEW", &seed.non_consumable_transaction_id),
    )
    .await;
    let grace = arrive(
        &r.app,
        &r.sim,
        &r.project,
        Production,
        spec("DID_FAIL_TO_RENEW", &bob.transaction_id).subtype("GRACE_PERIOD"),
    )
    .await;
    let failed = arrive(
        &r.app,
        &r.sim,
        &r.project,
        Production,
        spec("DID_FAIL_TO_RENEW", &bob.transaction_id),
    )
    .await;
    let s = &r.admin;
    let ids = |q: &'static str| async move {
        let response = s.get(&format!("/projects/demo/notifications?{q}")).await;
        assert_eq!(response.status().as_u16(), 200, "{q}");
        detail_ids(&response.text().await.unwrap(), "demo")
    };
    assert_eq!(ids("type=REFUND").await, vec![refund]);
    assert_eq!(ids("type=DID_RENEW").await, vec![sandbox, renew]);
    assert_eq!(ids("environment=Sandbox").await, vec![sandbox]);
    assert_eq!(
        ids("type=DID_FAIL_TO_RENEW&subtype=GRACE_PERIOD").await,
        vec![grace]
    );
    assert_eq!(
        ids("type=DID_FAIL_TO_RENEW&subtype=none").await,
        vec![failed]
    );
    assert_eq!(ids("source=backfill").await, Vec::<i64>::new());
    assert_eq!(ids("source=webhook").await.len(), 5);
    // The original transaction id finds every notification of the subscription.
    let by_original = s
        .get(&format!(
            "/projects/demo/notifications?q={}",
            bob.original_transaction_id
        ))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(detail_ids(&by_original, "demo"), vec![failed, grace, renew]);
    let today = day(storedesk::clock::now_ms());
    let yesterday = day(storedesk::clock::now_ms() - DAY_MS);
    let in_range = s
        .get(&format!(
            "/projects/demo/notifications?from={today}&to={today}"
        ))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(detail_ids(&in_range, "demo").len(), 5);
    let before = s
        .get(&format!("/projects/demo/notifications?to={yesterday}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(detail_ids(&before, "demo").is_empty());
    assert!(before.contains("No notification matches these filters."));

    for (query, sentence, field) in [
        (
            "from=27.11.2026",
            "Write dates as YYYY-MM-DD, for example 2026-11-26.",
            "f-from-error",
        ),
        (
            "to=yesterday",
            "Write dates as YYYY-MM-DD, for example 2026-11-26.",
            "f-to-error",
        ),
        (
            "from=2026-11-20&to=2026-11-10",
            "The last day must be on or after the first day.",
            "f-to-error",
        ),
        (
            "q=W002182",
            "A transaction id is digits only, such as 2000000123456789. For an order id or a customer, use the transactions search.",
            "f-q-error",
        ),
        (
            "type=%3Cscript%3E",
            "Choose a notification type from the list.",
            "f-type-error",
        ),
    ] {
        let response = s.get(&format!("/projects/demo/notifications?{query}")).await;
        assert_eq!(response.status().as_u16(), 422, "{query}");
        let html = response.text().await.unwrap();
        assert!(
            html.contains(&format!("<p class=\"field-error\" id=\"{field}\">{}</p>", esc(sentence))),
            "{query}: {html}"
        );
        assert!(html.contains(&format!("aria-describedby=\"{field}\"")) || html.contains(&format!(" {field}\"")), "{query}");
        assert!(detail_ids(&html, "demo").is_empty(), "{query}");
    }
});

with_ready!(paging_walks_the_whole_log_once, |r| {
    // Many rows, several sharing one signedDate, to show the keyset cursor breaks ties by id.
    let base = storedesk::clock::now_ms() - 10 * DAY_MS;
    let mut expected = Vec::new();
    for i in 0..123i64 {
        let row = NewNotification {
            project_id: r.project.id,
            notification_uuid: format!("00000000-0000-4000-8000-{i:012}"),
            notification_type: "DID_RENEW".into(),
            subtype: None,
            environment: "Production".into(),
            signed_date: base + (i / 3) * 60_000,
            transaction_id: Some(format!("{}", 2_000_000_000_000_000i64 + i)),
            original_transaction_id: None,
            product_id: None,
            source: "webhook".into(),
            received_at: base,
            signed_payload: "x".into(),
            payload: "{}".into(),
            raw_body: None,
            forward: true,
            index: None,
        };
        let id = r.app.store.insert_notification(&row).await.unwrap().id();
        expected.push((row.signed_date, id));
    }
    expected.sort_by(|a, b| b.cmp(a));
    let expected: Vec<i64> = expected.into_iter().map(|(_, id)| id).collect();

    let mut seen = Vec::new();
    let mut next = Some("/projects/demo/notifications?type=DID_RENEW".to_string());
    let mut pages = 0;
    while let Some(url) = next.take() {
        let html = r.admin.get_text(&url.replace("&#38;", "&")).await;
        seen.extend(detail_ids(&html, "demo"));
        pages += 1;
        next = html
            .split("<a href=\"")
            .filter_map(|s| s.split_once("\">Older notifications</a>"))
            .map(|(href, _)| href.to_string())
            .next();
        if pages > 1 {
            assert!(html.contains(">Newest</a>"));
        }
        assert!(pages < 10, "paging does not end");
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, expected);
});

with_ready!(the_detail_page_reads_the_payload_in_plain_words, |r| {
    let seed = r.sim.seed();
    let refund = arrive(
        &r.app,
        &r.sim,
        &r.project,
        Production,
        spec("REFUND", &seed.refunded_consumable_transaction_id),
    )
    .await;
    let row = r
        .app
        .store
        .notification(r.project.id, refund)
        .await
        .unwrap()
        .unwrap();
    let payload: serde_json::Value = serde_json::from_str(&row.payload).unwrap();
    let tx = &payload["transaction"];
    let price =
        storedesk::present::money::money(tx["price"].as_i64().unwrap(), tx["currency"].as_str())
            .text;
    let support = r.app.session(Role::Support).await;
    let html = support
        .get_text(&format!("/projects/demo/notifications/{refund}"))
        .await;
    assert!(html.contains("Apple refunded this transaction; take back what it granted."));
    assert!(html.contains(&format!("<dt>Price</dt><dd>{}</dd>", esc(&price))));
    assert!(html.contains(&format!(
        "<dt>Product</dt><dd><code class=\"id\">{}</code></dd>",
        tx["productId"].as_str().unwrap()
    )));
    assert!(html.contains("<dt>Purchased</dt><dd>"));
    assert!(html.contains("<dt>Revoked</dt><dd>"));
    assert!(html.contains("<dt>Revocation reason</dt><dd>refunded"));
    assert!(html.contains(&format!(
        "href=\"/projects/demo/transactions?q={}\">Open in the support desk</a>",
        seed.refunded_consumable_transaction_id
    )));
    assert!(html.contains("<summary>Raw JSON (as Apple signed it, after verification)</summary>"));
    assert!(html.contains(&esc(&format!(
        "\"notificationUUID\": \"{}\"",
        row.notification_uuid
    ))));

    let mut request = spec("CONSUMPTION_REQUEST", &seed.consumable_transaction_id);
    request.consumption_request_reason = Some("FULFILLMENT_ISSUE".into());
    let consumption = arrive(&r.app, &r.sim, &r.project, Production, request).await;
    let html = support
        .get_text(&format!("/projects/demo/notifications/{consumption}"))
        .await;
    assert!(html.contains(&esc(
        "The customer had a problem receiving or using the purchase. (FULFILLMENT_ISSUE)"
    )));
    assert!(html.contains("11 h left</span> Apple's deadline is"));
    assert!(html.contains(&format!(
        "href=\"/projects/demo/notifications/consumption#request-{consumption}\">Answer this request</a>"
    )));

    let renew = arrive(
        &r.app,
        &r.sim,
        &r.project,
        Production,
        spec("DID_RENEW", &seed.active_monthly.transaction_id),
    )
    .await;
    let html = support
        .get_text(&format!("/projects/demo/notifications/{renew}"))
        .await;
    assert!(html.contains("<h2 id=\"section-3\">Renewal info</h2>"));
    assert!(html.contains("<dt>Automatic renewal</dt><dd>on</dd>"));
    assert!(html.contains(
        "<dt>Subscription then</dt><dd><span class=\"badge badge-good\">active</span></dd>"
    ));

    assert_eq!(
        support
            .get(&format!("/projects/demo/notifications/{}", renew + 1000))
            .await
            .status()
            .as_u16(),
        404
    );
});

with_ready!(the_chart_counts_notifications_per_day_by_type, |r| {
    let seed = r.sim.seed();
    for _ in 0..2 {
        arrive(
            &r.app,
            &r.sim,
            &r.project,
            Production,
            spec("DID_RENEW", &seed.active_monthly.transaction_id),
        )
        .await;
    }
    arrive(
        &r.app,
        &r.sim,
        &r.project,
        Production,
        spec("REFUND", &seed.refunded_consumable_transaction_id),
    )
    .await;
    let html = r.admin.get_text("/projects/demo/notifications").await;
    assert!(html.contains("role=\"img\" aria-labelledby=\"chart-title chart-desc\""));
    assert!(html.contains("<title id=\"chart-title\">Notifications per day by type</title>"));
    assert!(
        html.contains("3 notifications in all. The most frequent was “renewed” (DID_RENEW, 2).")
    );
    let today = day(storedesk::clock::now_ms());
    assert!(html.contains(&format!(
        "<tr><th scope=\"row\">{today}</th><td>2</td><td>1</td><td>3</td></tr>"
    )));
    assert!(html.contains(&format!("<title>{today}: 2 renewed</title>")));
    assert!(html.contains("<th scope=\"col\">renewed</th><th scope=\"col\">refunded</th>"));
    assert_eq!(html.matches("<tr><th scope=\"row\">").count(), 30);
    // A filtered range draws its own days.
    let week_ago = day(storedesk::clock::now_ms() - 6 * DAY_MS);
    let html = r
        .admin
        .get_text(&format!(
            "/projects/demo/notifications?from={week_ago}&to={today}"
        ))
        .await;
    assert_eq!(html.matches("<tr><th scope=\"row\">").count(), 7);
});

with_ready!(the_refunds_view_shows_refund_outcomes_only, |r| {
    let seed = r.sim.seed();
    let tx = &seed.refunded_consumable_transaction_id;
    let mut ids = Vec::new();
    for t in ["REFUND", "REFUND_DECLINED", "REFUND_REVERSED"] {
        ids.push(arrive(&r.app, &r.sim, &r.project, Production, spec(t, tx)).await);
    }
    let revoke = arrive(
        &r.app,
        &r.sim,
        &r.project,
        Production,
        spec("REVOKE", &seed.family_shared_transaction_id),
    )
    .await;
    ids.push(revoke);
    arrive(
        &r.app,
        &r.sim,
        &r.project,
        Production,
        spec("DID_RENEW", &seed.active_monthly.transaction_id),
    )
    .await;
    ids.reverse();
    let support = r.app.session(Role::Support).await;
    let html = support
        .get_text("/projects/demo/notifications/refunds")
        .await;
    assert_eq!(detail_ids(&html, "demo"), ids);
    assert!(html.contains("<span class=\"badge badge-bad\">refunded</span>"));
    assert!(html.contains(&esc("Apple declined the customer's refund request.")));
    assert!(html.contains("<span class=\"badge badge-good\">refund reversed</span>"));
    assert!(html.contains("<span class=\"badge badge-bad\">family access revoked</span>"));
    let only = support
        .get_text("/projects/demo/notifications/refunds?type=REVOKE")
        .await;
    assert_eq!(detail_ids(&only, "demo"), vec![revoke]);
});
