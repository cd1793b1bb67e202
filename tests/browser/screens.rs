//! Every page a person opens, on a 390 px phone and in a 1,280 px window, as an admin with real data behind it
//! (a project whose key the simulator issued, notifications, a test notification, an API token, audit rows, and
//! look-ups of the simulator's customers): no page is wider than the window, and every value of a label/value list
//! (`<dd>`) has room and shows all of itself. The pages come from `storedesk::routes::TABLE`, so a new GET route is
//! checked as soon as it is in the table; a route whose address cannot be filled in fails until [`Samples`] knows
//! a value for it.
use std::collections::BTreeMap;

use serde_json::Value;
use storedesk::apple_sim::{NotificationSpec, SimEnvironment};

use crate::app::{TestApp, ADMIN, PASSWORD};
use crate::driver::Browser;
use crate::setup::publish;

/// The two windows every page must fit: (name, width, height, phone).
const SIZES: [(&str, u32, u32, bool); 2] = [
    ("390 px phone", 390, 844, true),
    ("1,280 px window", 1280, 900, false),
];

/// GET routes of the table that are not pages a person reads, and why.
const NOT_PAGES: &[(&str, &str)] = &[
    ("/healthz", "a probe for uptime monitors"),
    ("/readyz", "a probe for load balancers"),
    ("/metrics", "Prometheus text"),
    ("/static/{version}/{file}", "the stylesheet and the script"),
    (
        "/projects/{project}/settings/stores/apple/test-notification/{id}/status",
        "JSON polled by the test notification page",
    ),
    (
        "/projects/{project}/transactions/{transaction_id}/history.csv",
        "a CSV download",
    ),
];

/// Values for the placeholders of the route table's paths, keyed by `segment-before/{name}` (for a name whose
/// meaning depends on the route, such as `{id}`) or by `{name}` alone; and more addresses of some routes (other
/// customers, other queries) that lay the same page out differently.
struct Samples {
    values: BTreeMap<String, String>,
    more: Vec<(&'static str, String, u16)>,
}

impl Samples {
    /// The address of `pattern` with every placeholder filled in, or the sentence telling the developer what to add.
    fn fill(&self, pattern: &str) -> Result<String, String> {
        let mut previous = "";
        let mut out = Vec::new();
        for segment in pattern.split('/') {
            match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(inner) => {
                    let name = inner.split(':').next().unwrap_or(inner);
                    let value = self
                        .values
                        .get(&format!("{previous}/{{{name}}}"))
                        .or_else(|| self.values.get(&format!("{{{name}}}")))
                        .ok_or_else(|| {
                            format!(
                                "GET {pattern}: no sample value for {{{name}}}. Add one to the sample map in \
                                 tests/browser/screens.rs (key \"{previous}/{{{name}}}\" or \"{{{name}}}\"), with \
                                 data behind it, so this page is checked on a phone and a desktop; or, if it is no \
                                 page a person reads, add it to NOT_PAGES with the reason."
                            )
                        })?;
                    out.push(value.clone());
                }
                None => out.push(segment.to_string()),
            }
            previous = segment;
        }
        Ok(out.join("/"))
    }
}

/// Opens every `<details>` (so what they hide is measured too), then finds what is wider than the window and every
/// `<dd>` that is squeezed or cut. Runs through WebDriver, which the pages' CSP does not govern.
const MEASURE: &str = r#"
    for (const d of document.querySelectorAll('details')) d.open = true;
    const doc = document.documentElement;
    const viewport = doc.clientWidth;
    const describe = el => {
        let s = el.tagName.toLowerCase();
        if (el.id) s += '#' + el.id;
        const cls = typeof el.className === 'string' ? el.className.trim() : '';
        if (cls) s += '.' + cls.split(/\s+/).join('.');
        const text = (el.textContent || '').trim().replace(/\s+/g, ' ');
        if (text) s += ' "' + (text.length > 50 ? text.slice(0, 50) + '…' : text) + '"';
        return s;
    };
    // Inside a box that scrolls or clips sideways (a table's region), width is that box's business; but an
    // absolutely positioned element escapes every such box up to its containing block.
    const contained = el => {
        let position = getComputedStyle(el).position;
        for (let a = el.parentElement; a && a !== document.body && a !== doc; a = a.parentElement) {
            const style = getComputedStyle(a);
            if (position === 'fixed') return false;
            if (position === 'absolute' && style.position === 'static') continue;
            if (style.overflowX !== 'visible') return true;
            position = style.position;
        }
        return false;
    };
    // The cause is what sticks out of its own box: an element out of its parent, or text out of its element;
    // the ancestors only grow around it.
    let widest = null;
    const note = (right, width, what) => {
        if (!widest || right > widest.right) widest = { right: Math.round(right), width: Math.round(width), what };
    };
    if (doc.scrollWidth > viewport) {
        for (const el of document.body.querySelectorAll('*')) {
            const r = el.getBoundingClientRect();
            if (r.width === 0 || r.right <= viewport + 0.5 || contained(el)) continue;
            const p = el.parentElement.getBoundingClientRect();
            const escapes = contained(el.parentElement);
            if (el.parentElement === document.body || r.right > p.right + 0.5 || escapes) {
                note(r.right, r.width, describe(el) + (escapes ? ', positioned outside the scrolling box around it' : ''));
            }
        }
        const texts = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
        for (let t = texts.nextNode(); t; t = texts.nextNode()) {
            const el = t.parentElement;
            if (!t.textContent.trim() || contained(el) || getComputedStyle(el).overflowX !== 'visible') continue;
            const range = document.createRange();
            range.selectNodeContents(t);
            const r = range.getBoundingClientRect();
            if (r.width === 0 || r.right <= viewport + 0.5) continue;
            if (r.right > el.getBoundingClientRect().right + 0.5) note(r.right, r.width, 'the text of ' + describe(el));
        }
        // Nothing sticks out on its own: name the element reaching furthest, wherever it is.
        if (!widest) {
            for (const el of document.querySelectorAll('*')) {
                const r = el.getBoundingClientRect();
                if (r.width > 0 && r.right > viewport + 0.5) note(r.right, r.width, describe(el) + ' (position: ' + getComputedStyle(el).position + ')');
            }
        }
    }
    const values = [];
    for (const dd of document.querySelectorAll('dd')) {
        if (!dd.getClientRects().length) continue;
        let dt = dd.previousElementSibling;
        while (dt && dt.tagName !== 'DT') dt = dt.previousElementSibling;
        const label = dt ? dt.textContent.trim().replace(/\s+/g, ' ') : '(no label)';
        const r = dd.getBoundingClientRect();
        const list = dd.closest('dl').getBoundingClientRect();
        const em = parseFloat(getComputedStyle(dd).fontSize);
        const range = document.createRange();
        range.selectNodeContents(dd);
        const content = range.getBoundingClientRect();
        const text = dd.textContent.trim().replace(/\s+/g, ' ');
        const shown = '"' + label + '": "' + (text.length > 40 ? text.slice(0, 40) + '…' : text) + '"';
        if (r.width < 1) {
            values.push(shown + ' has no width');
            continue;
        }
        if (r.width < Math.min(10 * em, list.width / 2)) {
            values.push(shown + ' is squeezed to ' + Math.round(r.width) + ' px');
        }
        if (dd.scrollWidth > dd.clientWidth + 1 || content.right > r.right + 1 || content.left < r.left - 1) {
            values.push(shown + ' is cut off: its content is ' + Math.round(content.width) + ' px in a '
                + Math.round(r.width) + ' px value');
        }
    }
    return { scrollWidth: doc.scrollWidth, clientWidth: viewport, innerWidth: window.innerWidth, widest, values };
"#;

/// Measures the page as it is laid out now; returns what is wrong with it, each naming the page and the window.
async fn measure(b: &Browser, page: &str, size: &str) -> Vec<String> {
    let m: Value = b.client.execute(MEASURE, vec![]).await.unwrap();
    let mut problems = Vec::new();
    let (scroll, client) = (m["scrollWidth"].as_i64(), m["clientWidth"].as_i64());
    if scroll > client {
        let widest = &m["widest"];
        problems.push(format!(
            "{page} on a {size}: the document is {} px wide in a {} px window (innerWidth {}); the widest element: \
             {} ({} px wide, right edge at {} px)",
            scroll.unwrap_or(0),
            client.unwrap_or(0),
            m["innerWidth"],
            widest["what"].as_str().unwrap_or("none found outside a scrolling box"),
            widest["width"],
            widest["right"],
        ));
    }
    for value in m["values"].as_array().into_iter().flatten() {
        problems.push(format!(
            "{page} on a {size}: the value {}",
            value.as_str().unwrap_or_default()
        ));
    }
    problems
}

/// With STOREDESK_SCREENSHOT_EVERY_PAGE=1, each page in each window is saved under target/screenshots/ to look at.
async fn maybe_screenshot(b: &Browser, width: u32, page: &str) {
    if std::env::var("STOREDESK_SCREENSHOT_EVERY_PAGE").as_deref() != Ok("1") {
        return;
    }
    let name: String = page
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(60)
        .collect();
    b.screenshot(&format!("{width}-{name}")).await;
}

/// Measures the page shown now in both windows, without loading it again (a page that answers a form).
async fn measure_in_both(b: &Browser, page: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for (size, width, height, mobile) in SIZES {
        b.set_window(width, height, mobile).await;
        problems.extend(measure(b, page, size).await);
        maybe_screenshot(b, width, page).await;
    }
    problems
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_fits_a_phone_and_a_desktop_window() {
    let app = TestApp::spawn().await;
    app.seed_project_with_key("shop").await;
    // A project just created, with no key yet: its pages show the forms and the empty states.
    app.store
        .create_project(
            &storedesk::store::NewProject {
                name: "A project whose name is rather long for a phone's header".into(),
                slug: storedesk::domain::Slug::parse("fresh").unwrap(),
                bundle_id: storedesk::domain::BundleId::parse("com.example.fresh").unwrap(),
                app_apple_id: None,
                environment: storedesk::domain::Environment::parse("Sandbox").unwrap(),
            },
            &storedesk::store::Actor::system("test"),
        )
        .await
        .unwrap();
    let project = app.store.project_by_slug("shop").await.unwrap().unwrap();
    let token = app.store.notification_token(project.id).await.unwrap();
    let webhook = format!("{}/apple/notifications/{token}", app.address);
    for env in [SimEnvironment::Production, SimEnvironment::Sandbox] {
        app.sim.set_notification_url(env, Some(webhook.clone()));
    }
    let seed = app.sim.seed();
    for spec in [
        NotificationSpec::new("SUBSCRIBED")
            .subtype("INITIAL_BUY")
            .transaction(&seed.active_monthly.transaction_id),
        NotificationSpec::new("DID_RENEW").transaction(&seed.active_monthly.transaction_id),
        NotificationSpec::new("DID_CHANGE_RENEWAL_PREF")
            .subtype("UPGRADE")
            .transaction(&seed.upgraded_transaction_id),
        NotificationSpec::new("DID_FAIL_TO_RENEW")
            .subtype("GRACE_PERIOD")
            .transaction(&seed.grace_period_original_id),
        NotificationSpec::new("REFUND").transaction(&seed.refunded_consumable_transaction_id),
        NotificationSpec::new("CONSUMPTION_REQUEST").transaction(&seed.consumable_transaction_id),
    ] {
        let outcome = app
            .sim
            .send_notification(SimEnvironment::Production, spec)
            .await
            .unwrap();
        assert_eq!(outcome.send_attempt_result, "SUCCESS", "{outcome:?}");
    }
    let Some(b) = Browser::start("screens", &app.address).await else {
        return;
    };
    let mut problems = Vec::new();

    // What an admin does first, through the pages: each answer to a form is measured where it appears.
    b.sign_in(ADMIN, PASSWORD).await;
    b.goto("/projects/shop/keys").await;
    b.click_and_wait("main form[action='/projects/shop/keys/verify'] button")
        .await;
    b.goto("/projects/shop/settings/stores/apple").await;
    b.click_and_wait("main button[name=environment][value=Sandbox]")
        .await;
    let test_path = b.path().await;
    let test_id = test_path
        .rsplit('/')
        .next()
        .filter(|id| id.bytes().all(|c| c.is_ascii_digit()))
        .unwrap_or_else(|| panic!("the test notification's page, not {test_path}"))
        .to_string();
    b.goto("/admin/api-tokens").await;
    b.fill("#name", "Acme billing backend (production, eu-west-1)")
        .await;
    b.click_and_wait("main form[action='/admin/api-tokens'] button[type=submit]")
        .await;
    assert!(b.exists("#new-token").await, "the new token is shown");
    problems.extend(measure_in_both(&b, "the new API token (after Create token)").await);
    b.goto("/admin/users").await;
    b.fill("#email", "sam.support@acme-fitness.example").await;
    b.click_and_wait("main form[action='/admin/users'] button[type=submit]")
        .await;
    assert!(
        b.exists("#new-password").await,
        "the one-time password is shown"
    );
    problems.extend(measure_in_both(&b, "the new user's password (after Add user)").await);
    b.goto("/projects/shop/offers").await;
    b.fill("#product_id", &seed.product_ids[0]).await;
    b.fill("#offer_id", "spring-comeback-50").await;
    b.fill("#app_account_token", &seed.app_account_token).await;
    b.click_and_wait("main form[action='/projects/shop/offers'] button[type=submit]")
        .await;
    assert!(b.exists("#offer-signature").await, "the signature is shown");
    problems.extend(measure_in_both(&b, "a promotional offer's signature (after Sign)").await);
    b.goto("/projects/shop/settings/forwarding").await;
    b.fill("#add-name", "Acme billing backend (production, eu-west-1)")
        .await;
    b.fill(
        "#add-url",
        "https://billing-backend.eu-west-1.internal.acme-fitness.example/apple/notifications/v2",
    )
    .await;
    b.click_and_wait("main form[action='/projects/shop/settings/forwarding'] button[type=submit]")
        .await;
    assert!(b.exists("#new-secret").await, "the signing secret is shown");
    problems.extend(
        measure_in_both(&b, "a destination's signing secret (after Add destination)").await,
    );
    let destination = b
        .find("main a[href^='/projects/shop/settings/forwarding/']")
        .await
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    let destination_id = destination.rsplit('/').next().unwrap().to_string();
    b.goto("/projects/shop/notifications").await;
    b.click_and_wait("main form[action='/projects/shop/notifications/backfill'] button")
        .await;
    b.goto("/projects/shop/notifications").await;
    let detail = b
        .find("table.log a[aria-label^='Details of the'][href]")
        .await
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    let notification_id = detail.rsplit('/').next().unwrap().to_string();

    b.goto("/projects/shop/subscriptions/extend-all").await;
    b.fill("#product_id", "com.storedesk.demo.pro.monthly")
        .await;
    b.fill("#storefronts", "USA, DEU, JPN, FRA, GBR, CAN, AUS, BRA")
        .await;
    b.find("#confirm").await.click().await.unwrap();
    b.click_and_wait("#extend-all-form button[type=submit]")
        .await;
    let extend_all_id = b
        .path()
        .await
        .rsplit('/')
        .next()
        .filter(|id| id.bytes().all(|c| c.is_ascii_digit()))
        .unwrap_or_else(|| panic!("an extension for all customers' page"))
        .to_string();

    // The order with the most transactions: a list of matches before the story.
    let biggest_order = seed
        .orders
        .iter()
        .max_by_key(|(_, transactions)| transactions.len())
        .map(|(order, _)| order.clone())
        .unwrap();
    let samples = Samples {
        values: BTreeMap::from([
            ("{project}".to_string(), "shop".to_string()),
            (
                "{original_transaction_id}".to_string(),
                seed.long_history_original_id.clone(),
            ),
            ("test-notification/{id}".to_string(), test_id),
            ("notifications/{id}".to_string(), notification_id),
            ("forwarding/{id}".to_string(), destination_id),
            ("extend-all/{id}".to_string(), extend_all_id),
            (
                "customers/{id}".to_string(),
                seed.long_history_original_id.clone(),
            ),
        ]),
        more: vec![
            (
                "/projects/{project}/transactions",
                format!(
                    "/projects/shop/transactions?q={}",
                    seed.long_history_original_id
                ),
                200,
            ),
            (
                "/projects/{project}/transactions",
                format!("/projects/shop/transactions?q={biggest_order}"),
                200,
            ),
            (
                "/projects/{project}/transactions",
                format!("/projects/shop/transactions?q={}", seed.app_account_token),
                200,
            ),
            (
                "/projects/{project}/transactions",
                format!(
                    "/projects/shop/transactions?q={}",
                    seed.refunded_consumable_transaction_id
                ),
                200,
            ),
            (
                "/projects/{project}/transactions",
                format!(
                    "/projects/shop/transactions?q={}",
                    seed.unknown_transaction_id
                ),
                200,
            ),
            (
                "/projects/{project}/transactions",
                "/projects/shop/transactions?q=not+an+id+at+all".to_string(),
                422,
            ),
            (
                "/projects/{project}/customers/{id}",
                format!("/projects/shop/customers/{}", seed.app_account_token),
                200,
            ),
            (
                "/projects/{project}/subscriptions/{original_transaction_id}",
                format!(
                    "/projects/shop/subscriptions/{}",
                    seed.active_monthly.original_transaction_id
                ),
                200,
            ),
            (
                "/projects/{project}/subscriptions/{original_transaction_id}",
                format!(
                    "/projects/shop/subscriptions/{}",
                    seed.billing_retry_original_id
                ),
                200,
            ),
            (
                "/projects/{project}/subscriptions/{original_transaction_id}",
                format!(
                    "/projects/shop/subscriptions/{}",
                    seed.grace_period_original_id
                ),
                200,
            ),
            (
                "/projects/{project}/subscriptions/{original_transaction_id}",
                format!("/projects/shop/subscriptions/{}", seed.revoked_original_id),
                200,
            ),
            (
                "/projects/{project}",
                "/projects/no-such-project".to_string(),
                404,
            ),
            ("/projects/{project}", "/projects/fresh".to_string(), 200),
            (
                "/projects/{project}/settings/stores/apple",
                "/projects/fresh/settings/stores/apple".to_string(),
                200,
            ),
            (
                "/projects/{project}/keys",
                "/projects/fresh/keys".to_string(),
                200,
            ),
            (
                "/projects/{project}/notifications",
                "/projects/fresh/notifications".to_string(),
                200,
            ),
            (
                "/projects/{project}/offers",
                "/projects/fresh/offers".to_string(),
                200,
            ),
        ],
    };

    // The pages: every GET route of the table but those that are no page, then the other addresses.
    let routes: Vec<&str> = storedesk::routes::TABLE
        .iter()
        .filter(|r| r.method == "GET")
        .map(|r| r.path)
        .collect();
    for (path, why) in NOT_PAGES {
        assert!(
            routes.contains(path),
            "NOT_PAGES names {path} ({why}), which is no GET route any more: remove it"
        );
    }
    let mut pages: Vec<(String, String, u16)> = Vec::new();
    let mut unfilled = Vec::new();
    for pattern in routes
        .iter()
        .filter(|p| !NOT_PAGES.iter().any(|(n, _)| n == *p))
    {
        match samples.fill(pattern) {
            Ok(url) => pages.push((format!("GET {pattern} ({url})"), url, 200)),
            Err(sentence) => unfilled.push(sentence),
        }
    }
    assert!(unfilled.is_empty(), "{}", unfilled.join("\n"));
    for (pattern, url, status) in &samples.more {
        assert!(
            routes.contains(pattern),
            "the sample {url} is for {pattern}, which is no GET route any more"
        );
        pages.push((format!("GET {pattern} ({url})"), url.clone(), *status));
    }

    for (size, width, height, mobile) in SIZES {
        b.set_window(width, height, mobile).await;
        for (page, url, status) in &pages {
            b.goto(url).await;
            assert_eq!(
                b.status().await,
                *status,
                "{page} answered another status: its sample value has no data behind it"
            );
            problems.extend(measure(&b, page, size).await);
            maybe_screenshot(&b, width, url).await;
        }
    }

    // The README's phone picture: a subscription's facts, label above value, as a phone shows them.
    b.set_window(390, 844, true).await;
    b.goto(&format!(
        "/projects/shop/subscriptions/{}",
        seed.active_monthly.original_transaction_id
    ))
    .await;
    b.client
        .execute(
            "window.scrollTo(0, document.querySelector('main section h2').offsetTop - 12)",
            vec![],
        )
        .await
        .unwrap();
    let shot = b.screenshot_window("phone-subscription").await;
    publish(&shot, "phone-subscription.png");

    assert!(
        problems.is_empty(),
        "{} problem(s) among the {} pages checked, each in both windows:\n{}",
        problems.len(),
        pages.len() + 3,
        problems.join("\n")
    );
    b.finish().await;
}
