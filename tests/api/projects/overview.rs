//! `/projects/{project}`, the overview: the search box, the key's health, the last notification per environment,
//! and what needs doing, each with the link to where it is done; and the navigation's count of consumption
//! requests waiting for an answer, with the nearest deadline, on every project page.
use storedesk::apple_sim::SimEnvironment::Production;
use storedesk::domain::{Role, Verdict};
use storedesk::present::time;
use storedesk::store::keys::KeyCheck;
use storedesk::store::notification_work::NewGap;

use crate::both_backends;
use crate::helpers::{create_project, Ready};
use crate::projects::notifications::signed::{arrive, esc, spec};
use crate::with_ready;

const OVERVIEW: &str = "/projects/demo";
const HOUR: i64 = 3_600_000;

/// The "needs doing" items of an overview page, as their text (links included).
fn needs(html: &str) -> Vec<String> {
    let list = html
        .split("<ul class=\"needs-list\">")
        .nth(1)
        .and_then(|rest| rest.split("</ul>").next())
        .unwrap_or_default();
    list.split("<li>")
        .skip(1)
        .map(|item| {
            item.split("</li>")
                .next()
                .unwrap_or_default()
                .trim()
                .to_owned()
        })
        .collect()
}

async fn consumption_request(r: &Ready) -> (i64, i64) {
    let coins = r.sim.seed().consumable_transaction_id;
    let id = arrive(
        &r.app,
        &r.sim,
        &r.project,
        Production,
        spec("CONSUMPTION_REQUEST", &coins),
    )
    .await;
    let row = r
        .app
        .store
        .notification(r.project.id, id)
        .await
        .unwrap()
        .unwrap();
    (id, row.signed_date)
}

both_backends!(a_new_project_says_what_to_set_up_and_where, |app| {
    let admin = app.session(Role::Admin).await;
    assert_eq!(create_project(&admin, "demo").await.status().as_u16(), 303);
    let html = admin.get_text(OVERVIEW).await;

    // The search box: a GET form to the Transactions page, its field `q` labelled.
    assert!(html.contains("<form method=\"get\" action=\"/projects/demo/transactions\" class=\"card search\" role=\"search\""));
    assert!(html.contains("<label for=\"q\">Look up a purchase: transaction id, original transaction id, order id or app account token</label>"));
    assert!(html.contains("<input id=\"q\" name=\"q\""));
    // The key's health and the last notification per environment.
    assert!(html.contains("<dt>Key</dt><dd><span class=\"badge badge-neutral\">no key</span> This project has no In-App Purchase key yet, so storedesk cannot ask Apple anything."));
    assert!(html.contains("<dt>Last notification, Production</dt><dd>never</dd>"));
    assert!(html.contains("<dt>Last notification, Sandbox</dt><dd>never</dd>"));
    assert_eq!(
        needs(&html),
        vec![
            esc("Add the project's In-App Purchase key (Step 3 of the App Store settings): without it storedesk cannot ask Apple anything.")
                + " <a href=\"/projects/demo/settings/stores/apple\">Add the key</a>",
            esc("No notification from Apple has arrived yet: paste the notification URL into App Store Connect and send a test notification (Step 4 of the App Store settings).")
                + " <a href=\"/projects/demo/settings/stores/apple#step4\">Go to Step 4</a>",
        ]
    );
    assert!(!html.contains("waiting"), "no count without requests");

    // Support sees the same, without links to settings it cannot open.
    let support = app.session(Role::Support).await;
    let html = support.get_text(OVERVIEW).await;
    let items = needs(&html);
    assert_eq!(items.len(), 2);
    assert!(items.iter().all(|i| !i.contains("<a ")), "{items:?}");
    // (Forwarding's pages are open to support, read-only; the App Store settings and alerts are not.)
    assert!(!html.contains("/settings/stores") && !html.contains("/settings/alerts"));
});

with_ready!(
    waiting_consumption_requests_are_counted_in_the_navigation_and_listed_on_the_overview,
    |r| {
        let support = r.app.session(Role::Support).await;
        let keys = support.get_text("/projects/demo/keys").await;
        assert!(!keys.contains("nav-waiting"));

        let (first, signed) = consumption_request(&r).await;
        let deadline = time::utc(signed + 12 * HOUR);
        for page in [
            "/projects/demo/keys",
            "/projects/demo/transactions",
            OVERVIEW,
        ] {
            let html = support.get_text(page).await;
            assert!(
            html.contains("Notifications</a> · <a class=\"nav-waiting\" href=\"/projects/demo/notifications/consumption\">1 waiting<span class=\"nav-due\">, next due in 11 h</span></a>"),
            "{page}: {html}"
        );
        }
        let coins = r.sim.seed().consumable_transaction_id;
        let html = support.get_text(OVERVIEW).await;
        let items = needs(&html);
        assert_eq!(items.len(), 1, "{items:?}");
        let product = r
            .app
            .store
            .notification(r.project.id, first)
            .await
            .unwrap()
            .unwrap()
            .product_id
            .unwrap();
        assert_eq!(
        items[0],
        esc(&format!(
            "Answer Apple's consumption request about transaction {coins} ({product}) in Production: due in 11 h ({deadline})."
        )) + &format!(" <a href=\"/projects/demo/notifications/consumption#request-{first}\">Answer it</a>")
    );
        // A notification arrived through the webhook: its time is shown, and nothing asks for Step 4 any more.
        assert!(!html.contains("<dt>Last notification, Production</dt><dd>never</dd>"));
        assert!(html.contains("<dt>Last notification, Sandbox</dt><dd>never</dd>"));
        assert!(
            html.contains("<dt>Key</dt><dd><span class=\"badge badge-warn\">not verified</span>")
        );

        let (second, _) = consumption_request(&r).await;
        let html = support.get_text(OVERVIEW).await;
        assert!(html.contains(">2 waiting<span class=\"nav-due\">, next due in 11 h</span>"));
        let items = needs(&html);
        assert_eq!(items.len(), 2);
        assert!(
            items[0].contains(&format!("#request-{first}\"")),
            "the nearest deadline first"
        );
        assert!(items[1].contains(&format!("#request-{second}\"")));
        assert!(html.contains("<h2 id=\"needs-heading\">Needs doing (2)</h2>"));
    }
);

with_ready!(
    a_refused_key_and_a_notification_gap_are_listed_with_their_links,
    |r| {
        let key = r.app.store.key_in_use(r.project.id).await.unwrap().unwrap();
        let refused = KeyCheck {
            sandbox: Some(Verdict::Refused),
            production: Some(Verdict::Refused),
            ok: false,
            summary: "Apple refused the key in both Sandbox and Production (HTTP 401).".into(),
            failure: Some("HTTP 401 in Sandbox and in Production (Verify now)".into()),
        };
        r.app
            .store
            .record_key_check(key.id, &refused)
            .await
            .unwrap();
        let now = storedesk::clock::now_ms();
        r.app
        .store
        .record_gap(&NewGap {
            project_id: r.project.id,
            environment: "Production".into(),
            detected_at: now,
            window_start: now - 72 * HOUR,
            window_end: now,
            sent: 2,
            arrived: 0,
            recovered: 2,
            missed: 2,
            type_counts: r#"[{"type":"DID_RENEW","sent":2,"arrived":0,"recovered":2,"missed":2}]"#.into(),
        })
        .await
        .unwrap();
        let lead = r.app.session(Role::Lead).await;
        let html = lead.get_text(OVERVIEW).await;
        assert!(html.contains("<dt>Key</dt><dd><span class=\"badge badge-bad\">refused</span>"));
        let items = needs(&html);
        let key_item = items
            .iter()
            .find(|i| i.contains("/projects/demo/keys"))
            .unwrap();
        assert_eq!(
            key_item,
            &(esc(&format!(
                "Key {} is refused: Apple refused this key in Sandbox and in Production (HTTP 401): its Key ID, Issuer ID and .p8 do not belong together, or it was revoked in App Store Connect.",
                key.key_id
            )) + " <a href=\"/projects/demo/keys\">Check the key</a>")
        );
        let gap_item = items.iter().find(|i| i.contains("DID_RENEW")).unwrap();
        assert_eq!(
        gap_item,
        &(esc("Apple sent 2 DID_RENEW notifications in Production in the last 3 days that never arrived here; storedesk recovered them. Check the notification URL in App Store Connect.")
            + " <a href=\"/projects/demo/notifications\">See the notifications</a>")
    );

        // A key that worked again and then keeps being refused is failing, and says so too; once the gaps are
        // marked as seen, they are no longer listed.
        r.app.store.record_key_call(key.id, Ok(())).await.unwrap();
        let html = lead.get_text(OVERVIEW).await;
        assert!(html.contains("<span class=\"badge badge-good\">active</span>"));
        assert!(!needs(&html)
            .iter()
            .any(|i| i.contains("/projects/demo/keys")));
        for _ in 0..2 {
            r.app
                .store
                .record_key_call(key.id, Err(("HTTP 401 in Production", true)))
                .await
                .unwrap();
        }
        r.app
            .store
            .acknowledge_gaps(
                r.project.id,
                i64::MAX,
                &storedesk::store::Actor::system("test"),
            )
            .await
            .unwrap();
        let html = lead.get_text(OVERVIEW).await;
        assert!(html.contains("<span class=\"badge badge-bad\">failing</span>"));
        let items = needs(&html);
        assert!(items.iter().any(|i| i.starts_with(&format!(
            "Key {} is failing: Apple keeps refusing calls signed with this key (HTTP 401).",
            key.key_id
        ))));
        assert!(!items.iter().any(|i| i.contains("DID_RENEW")));
    }
);

with_ready!(a_project_in_order_has_nothing_to_do, |r| {
    let seed = r.sim.seed();
    arrive(
        &r.app,
        &r.sim,
        &r.project,
        Production,
        spec("DID_RENEW", &seed.active_monthly.transaction_id),
    )
    .await;
    let key = r.app.store.key_in_use(r.project.id).await.unwrap().unwrap();
    r.app.store.record_key_call(key.id, Ok(())).await.unwrap();
    let html = r.admin.get_text(OVERVIEW).await;
    assert!(html.contains("<p class=\"empty\">Nothing needs doing.</p>"));
    assert!(needs(&html).is_empty());
    assert!(html.contains(&format!(
        "<span class=\"badge badge-good\">active</span> Key {} is active: Apple accepts calls signed with this key.",
        key.key_id
    )));
});
