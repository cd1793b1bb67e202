//! Step 1's App Store Connect API key at work, against the simulator's App Store Connect API over HTTP: Verify now's
//! diagnoses, each kind of key refused where the other is expected, the app found by itself on the project form,
//! and the catalog synced (paged, stopped by the rate limit, failed without harm, scheduled, once at a time) and
//! shown with its names and what changed.
use storedesk::apple::connect::ConnectError;
use storedesk::apple_sim::{ConnectRole, IssuedKey};
use storedesk::catalog::refusal_sentence;
use storedesk::store::Actor;

use super::settings::stores::apple::key::{unescape, KeyUpload, WIZARD};
use crate::helpers::{assert_redirect_to, Ready, Session};

const CONNECT_SAVE: &str = "/projects/demo/settings/stores/apple/connect-key";
const CONNECT_VERIFY: &str = "/projects/demo/settings/stores/apple/connect-key/verify";
const CATALOG: &str = "/projects/demo/catalog";
const SYNC: &str = "/projects/demo/catalog/sync";
const EDIT: &str = "/projects/demo/edit";
const COMPANION_ID: i64 = 1_234_567_891;

/// Uploads `key` at Step 1 under `file_name` (the name decides only the wrong-kind check).
async fn upload_connect_key(admin: &Session, key: &IssuedKey, file_name: &str) {
    let r = KeyUpload::new(
        &key.key_id,
        &key.issuer_id,
        file_name,
        key.private_key_pem.as_bytes(),
    )
    .send(admin, WIZARD, CONNECT_SAVE)
    .await;
    assert_eq!(r.status().as_u16(), 303, "Step 1 saves the key");
}

/// Issues an App Store Connect API key with `role` and puts it in Step 1.
async fn with_connect_key(r: &Ready, role: ConnectRole) -> IssuedKey {
    let key = r.sim.issue_connect_key(role);
    upload_connect_key(&r.admin, &key, &key.file_name.clone()).await;
    key
}

/// Posts Verify now and returns the flash sentence and the Step 1 page after it.
async fn verify(admin: &Session) -> String {
    let r = admin.post_form(WIZARD, CONNECT_VERIFY, &[]).await;
    assert_redirect_to(&r, &format!("{WIZARD}#step1"));
    unescape(&admin.get_text(WIZARD).await)
}

fn flash(page: &str) -> String {
    let start = page.find("class=\"flash").expect("a flash message");
    let rest = &page[start..];
    let open = rest.find('>').unwrap() + 1;
    let close = rest.find("</div>").unwrap();
    rest[open..close].to_owned()
}

async fn sync(admin: &Session) -> String {
    let r = admin.post_form(CATALOG, SYNC, &[]).await;
    assert_redirect_to(&r, CATALOG);
    unescape(&admin.get_text(CATALOG).await)
}

crate::support_test!(
    verify_now_proves_an_app_manager_key_and_step1_turns_verified,
    |r| {
        with_connect_key(&r, ConnectRole::AppManager).await;
        let page = verify(&r.admin).await;
        assert_eq!(
        flash(&page),
        "Verified: App Store Connect accepted the key. It sees “Storedesk Demo” (com.storedesk.demo, Apple ID \
         1234567890) and may read its in-app purchases."
    );
        assert!(page.contains(
            "<a href=\"#step1\">Step 1 · App</a> <span class=\"badge badge-good\">verified</span>"
        ));
        let row = r
            .app
            .store
            .connect_key_in_use(r.project.id)
            .await
            .unwrap()
            .unwrap();
        assert!(row.verified_at.is_some());
        assert_eq!(row.status, storedesk::store::keys::KeyStatus::Active);
    }
);

crate::support_test!(
    an_in_app_purchase_key_is_refused_by_app_store_connect_and_verify_says_which_tab,
    |r| {
        // The wrong kind under a name that does not give it away: only Apple's 401 tells.
        let iap = r.sim.issue_key();
        upload_connect_key(&r.admin, &iap, "key.p8").await;
        let page = verify(&r.admin).await;
        assert_eq!(flash(&page), refusal_sentence(&ConnectError::Unauthorized));
        assert!(flash(&page).contains("In-App Purchase key"));
        let row = r
            .app
            .store
            .connect_key_in_use(r.project.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.status, storedesk::store::keys::KeyStatus::Failing);
        assert!(row.verified_at.is_none());
        assert!(page.contains(
            "<a href=\"#step1\">Step 1 · App</a> <span class=\"badge badge-bad\">failing</span>"
        ));
    }
);

crate::support_test!(
    an_app_store_connect_key_is_refused_by_the_server_api_at_step3,
    |r| {
        // The other direction: App Store Connect's key signing App Store Server API calls answers Apple's 401.
        let connect = r.sim.issue_connect_key(ConnectRole::Admin);
        crate::helpers::store_key(&r.app, &r.project, &connect).await;
        let resp = r
            .admin
            .post_form("/projects/demo/keys", "/projects/demo/keys/verify", &[])
            .await;
        assert_eq!(resp.status().as_u16(), 303);
        let row = r.app.store.key_in_use(r.project.id).await.unwrap().unwrap();
        assert!(row.last_success_at.is_none(), "Apple never accepted it");
        assert!(
            row.auth_failures >= 1,
            "Apple's 401 counted against the key: {:?}",
            row.last_failure
        );
    }
);

crate::support_test!(verify_now_says_a_role_below_app_manager, |r| {
    with_connect_key(&r, ConnectRole::Developer).await;
    let page = verify(&r.admin).await;
    assert_eq!(
        flash(&page),
        "App Store Connect accepted the key and it can see “Storedesk Demo”, but it may not read the app's in-app \
         purchases (403): the key's role is below App Manager. Generate a key with the App Manager or Admin role and \
         upload it here."
    );
});

crate::support_test!(verify_now_says_the_key_has_no_access_to_the_app, |r| {
    let key = r
        .sim
        .issue_connect_key_for_apps(ConnectRole::AppManager, &[COMPANION_ID]);
    upload_connect_key(&r.admin, &key, &key.file_name.clone()).await;
    let page = verify(&r.admin).await;
    assert_eq!(
        flash(&page),
        "App Store Connect accepted the key, but the key has no access to app 1234567890 (403). In Users and Access \
         → Integrations → App Store Connect API, give the key access to this app, or use a team key with access to \
         all apps."
    );
});

crate::support_test!(verify_now_says_the_team_has_no_such_app, |r| {
    with_connect_key(&r, ConnectRole::AppManager).await;
    let mut project = r.project.clone();
    project.app_apple_id = Some(987_654_321);
    r.app
        .store
        .update_project(
            project.id,
            &storedesk::store::NewProject {
                name: project.name.clone(),
                slug: storedesk::domain::Slug::parse("demo").unwrap(),
                bundle_id: storedesk::domain::BundleId::parse(&project.bundle_id).unwrap(),
                app_apple_id: Some(storedesk::domain::AppAppleId::parse("987654321").unwrap()),
                environment: storedesk::domain::Environment::Production,
            },
            &Actor::system("test"),
        )
        .await
        .unwrap();
    let page = verify(&r.admin).await;
    assert_eq!(
        flash(&page),
        "App Store Connect accepted the key, but this team has no app with Apple ID 987654321. Check the project's \
         App Apple ID (App Store Connect → App Information → Apple ID), or the key belongs to another team's account."
    );
});

crate::support_test!(
    the_project_form_offers_the_teams_apps_and_fills_the_ids_from_the_one_chosen,
    |r| {
        with_connect_key(&r, ConnectRole::AppManager).await;
        let form = unescape(&r.admin.get_text(EDIT).await);
        assert!(
            form.contains("<select id=\"connect_app\" name=\"connect_app\""),
            "{form}"
        );
        assert!(
            form.contains(">Storedesk Companion — com.storedesk.companion (1234567891)</option>")
        );
        assert!(
            form.contains(" selected>Storedesk Demo — com.storedesk.demo (1234567890)</option>")
        );
        assert!(
            !form.contains("id=\"connect-mismatch\""),
            "the project agrees with App Store Connect"
        );

        // Chosen from the list: both values come from App Store Connect, whatever was typed.
        let resp = r
            .admin
            .post_form(
                EDIT,
                EDIT,
                &[
                    ("name", "Demo"),
                    ("slug", "demo"),
                    ("bundle_id", "com.typed.wrong"),
                    ("app_apple_id", "5"),
                    ("environment", "Production"),
                    ("connect_app", "1234567891"),
                ],
            )
            .await;
        assert_redirect_to(&resp, "/projects/demo");
        let p = r.app.store.project_by_slug("demo").await.unwrap().unwrap();
        assert_eq!(p.bundle_id, "com.storedesk.companion");
        assert_eq!(p.app_apple_id, Some(COMPANION_ID));

        // An app the list does not hold changes nothing.
        let resp = r
            .admin
            .post_form(
                EDIT,
                EDIT,
                &[
                    ("name", "Demo"),
                    ("slug", "demo"),
                    ("bundle_id", "com.storedesk.demo"),
                    ("app_apple_id", "1234567890"),
                    ("environment", "Production"),
                    ("connect_app", "42"),
                ],
            )
            .await;
        assert_eq!(resp.status().as_u16(), 422);
        let html = unescape(&resp.text().await.unwrap());
        assert!(html.contains(
        "<p class=\"field-error\" id=\"connect_app-error\">App Store Connect does not list this app for Step 1's key \
         (any more). Choose another, or type the Bundle ID and App Apple ID below. Nothing was saved.</p>"
    ));
        let p = r.app.store.project_by_slug("demo").await.unwrap().unwrap();
        assert_eq!(p.app_apple_id, Some(COMPANION_ID));
    }
);

crate::support_test!(
    typed_values_that_disagree_with_app_store_connect_are_said_so,
    |r| {
        with_connect_key(&r, ConnectRole::AppManager).await;
        let resp = r
            .admin
            .post_form(
                EDIT,
                EDIT,
                &[
                    ("name", "Demo"),
                    ("slug", "demo"),
                    ("bundle_id", "com.storedesk.typo"),
                    ("app_apple_id", "1234567890"),
                    ("environment", "Production"),
                ],
            )
            .await;
        assert_redirect_to(&resp, "/projects/demo");
        let expected = "This project disagrees with App Store Connect about “Storedesk Demo”: its bundle ID is \
                    com.storedesk.demo in App Store Connect but com.storedesk.typo in this project. Notifications and \
                    lookups are checked against the project's values, so correct them (choose the app below, or edit \
                    the project).";
        let overview = unescape(&r.admin.get_text("/projects/demo").await);
        assert_eq!(flash(&overview), format!("Project saved. {expected}"));
        let form = unescape(&r.admin.get_text(EDIT).await);
        assert!(
            form.contains(&format!(
                "id=\"connect-mismatch\" role=\"status\">{expected}</p>"
            )),
            "{form}"
        );
    }
);

crate::support_test!(a_sync_follows_every_page_and_shows_the_names, |r| {
    with_connect_key(&r, ConnectRole::AppManager).await;
    r.sim.set_connect_page_size(Some(2));
    let before = r.sim.connect_request_count();
    let page = sync(&r.admin).await;
    let catalog = r.app.store.catalog(r.project.id).await.unwrap();
    assert_eq!(catalog.products.len(), 9, "every product of every page");
    assert_eq!(catalog.groups.len(), 2);
    let requests = r.sim.connect_request_count() - before;
    // 5 in-app purchases in 3 pages, 2 groups in 1, 4 subscriptions in 2 pages: more than one page each.
    assert!(requests >= 20, "{requests} requests");
    assert!(flash(&page).starts_with("First sync of “Storedesk Demo”: 9 product(s): 4 subscription(s) in 2 group(s) and 5 in-app purchase(s)"), "{}", flash(&page));
    for name in [
        "Pro Monthly",
        "Pro Yearly",
        "Cloud Monthly",
        "Cloud Yearly",
        "100 Coins",
        "Season Pass",
    ] {
        assert!(page.contains(&format!("<strong>{name}</strong>")), "{name}");
    }
    assert!(page.contains("Storedesk Pro <code class=\"id\">21482731</code>"));
    assert!(page.contains("id=\"catalog-grace\">On for 16 days, all renewals (Sandbox: on)"));
    let pro = catalog.product("com.storedesk.demo.pro.monthly").unwrap();
    assert_eq!(pro.group_id.as_deref(), Some("21482731"));
    assert!(pro
        .prices
        .iter()
        .any(|p| p.territory == "USA" && p.customer_price == "9.99" && p.currency == "USD"));
    assert!(pro.offers.iter().any(|o| o.code == "pro_monthly_winback"));

    // What changed is said after the next sync.
    assert!(r
        .sim
        .connect_rename_product("com.storedesk.demo.pro.monthly", "Pro Monthly (2027)"));
    assert!(r
        .sim
        .connect_set_price("com.storedesk.demo.coins.100", "USA", "1.49"));
    let page = sync(&r.admin).await;
    assert!(
        flash(&page).starts_with("Synced “Storedesk Demo”: 2 change(s)"),
        "{}",
        flash(&page)
    );
    assert!(page.contains("<li>com.storedesk.demo.pro.monthly renamed from “Pro Monthly” to “Pro Monthly (2027)”.</li>"));
    assert!(
        page.contains(
            "<li>Prices of “100 Coins” changed in 1 storefront: USA 0.99 → 1.49 USD.</li>"
        ),
        "{page}"
    );
    let syncs = r.app.store.catalog_syncs(r.project.id, 10).await.unwrap();
    assert_eq!(syncs.len(), 2);
    assert!(syncs.iter().all(|s| s.outcome == "complete"));
});

crate::support_test!(
    a_sync_that_meets_the_rate_limit_keeps_the_catalog_it_had,
    |r| {
        with_connect_key(&r, ConnectRole::AppManager).await;
        sync(&r.admin).await;
        let held = r.app.store.catalog(r.project.id).await.unwrap();
        assert!(r
            .sim
            .connect_rename_product("com.storedesk.demo.pro.monthly", "Renamed"));
        r.sim.set_connect_rate_limit(Some(5));
        let before = r.sim.connect_request_count();
        let page = sync(&r.admin).await;
        let sent = r.sim.connect_request_count() - before;
        assert!(sent <= 6, "no request past Apple's 429: {sent}");
        assert_eq!(
        flash(&page),
        format!(
            "Stopped after {} request(s): App Store Connect's hourly request limit for this key is reached (429). The \
             catalog is unchanged from the last complete sync; the next scheduled sync tries again, or sync by hand \
             in an hour.",
            sent
        )
    );
        assert_eq!(
            r.app.store.catalog(r.project.id).await.unwrap(),
            held,
            "nothing half-synced"
        );
        let last = &r.app.store.catalog_syncs(r.project.id, 1).await.unwrap()[0];
        assert_eq!(last.outcome, "rate_limited");
        assert!(page.contains("<span class=\"badge badge-warn\">rate limit</span>"));
    }
);

crate::support_test!(a_sync_apple_fails_changes_nothing_and_says_so, |r| {
    with_connect_key(&r, ConnectRole::AppManager).await;
    r.sim.connect_fail_next(50);
    let page = sync(&r.admin).await;
    assert!(
        flash(&page).contains("App Store Connect answered 500 UNEXPECTED_ERROR"),
        "{}",
        flash(&page)
    );
    assert!(flash(&page).ends_with("The catalog is unchanged from the last complete sync."));
    assert!(r
        .app
        .store
        .catalog_state(r.project.id)
        .await
        .unwrap()
        .is_none());
    assert!(r
        .app
        .store
        .catalog(r.project.id)
        .await
        .unwrap()
        .products
        .is_empty());
});

crate::support_test!(
    the_schedule_syncs_due_catalogs_once_and_one_instance_at_a_time,
    |r| {
        with_connect_key(&r, ConnectRole::AppManager).await;
        let state = crate::projects::notifications::signed::state(&r.app);
        let now = storedesk::clock::now_ms();
        // Another instance holds the project's lease: nothing runs twice.
        let lease = storedesk::catalog::sync::lease_name(r.project.id);
        assert!(r
            .app
            .store
            .try_acquire_lease(&lease, "other", now, 60_000)
            .await
            .unwrap());
        assert_eq!(
            storedesk::catalog::schedule::run_once(&state, now, "me")
                .await
                .unwrap(),
            0
        );
        assert!(r
            .app
            .store
            .catalog_syncs(r.project.id, 5)
            .await
            .unwrap()
            .is_empty());
        r.app.store.release_lease(&lease, "other").await.unwrap();

        assert_eq!(
            storedesk::catalog::schedule::run_once(&state, now, "me")
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            r.app
                .store
                .catalog(r.project.id)
                .await
                .unwrap()
                .products
                .len(),
            9
        );
        let syncs = r.app.store.catalog_syncs(r.project.id, 5).await.unwrap();
        assert_eq!(syncs[0].started_by, "system (catalog schedule)");
        // Synced a moment ago: not due again until six hours later.
        assert_eq!(
            storedesk::catalog::schedule::run_once(&state, now + 1000, "me")
                .await
                .unwrap(),
            0
        );
        let later = now + 6 * 3600 * 1000 + 1000;
        assert_eq!(
            storedesk::catalog::schedule::run_once(&state, later, "me")
                .await
                .unwrap(),
            1
        );
    }
);

crate::support_test!(the_catalog_page_without_a_key_says_where_to_add_one, |r| {
    let page = unescape(&r.admin.get_text(CATALOG).await);
    assert!(page.contains(
        "This project has no App Store Connect API key, so the catalog cannot be synced."
    ));
    assert!(!page.contains("id=\"sync-now\""));
    let resp = r.admin.post_form(CATALOG, SYNC, &[]).await;
    assert_redirect_to(&resp, CATALOG);
    let page = unescape(&r.admin.get_text(CATALOG).await);
    assert!(flash(&page).starts_with("This project has no App Store Connect API key (Step 1)"));
});

crate::support_test!(
    a_project_pointed_at_another_app_starts_its_catalog_afresh,
    |r| {
        with_connect_key(&r, ConnectRole::AppManager).await;
        sync(&r.admin).await;
        let resp = r
            .admin
            .post_form(
                EDIT,
                EDIT,
                &[
                    ("name", "Demo"),
                    ("slug", "demo"),
                    ("bundle_id", "com.storedesk.demo"),
                    ("app_apple_id", "1234567890"),
                    ("environment", "Production"),
                    ("connect_app", "1234567891"),
                ],
            )
            .await;
        assert_redirect_to(&resp, "/projects/demo");
        let page = sync(&r.admin).await;
        assert_eq!(
        flash(&page),
        "First sync of “Storedesk Companion”: 0 product(s): 0 subscription(s) in 0 group(s) and 0 in-app \
         purchase(s), in 4 request(s)."
    );
        assert!(r
            .app
            .store
            .catalog(r.project.id)
            .await
            .unwrap()
            .products
            .is_empty());
        let last = &r.app.store.catalog_syncs(r.project.id, 1).await.unwrap()[0];
        assert_eq!(last.change_count, 0, "no list of every product removed");
    }
);

crate::support_test!(extend_for_all_suggests_the_catalogs_subscriptions, |r| {
    const EXTEND_ALL: &str = "/projects/demo/subscriptions/extend-all";
    let before = r.admin.get_text(EXTEND_ALL).await;
    assert!(
        !before.contains("<option value=\"com.storedesk.demo.cloud.yearly\""),
        "nothing known yet"
    );
    with_connect_key(&r, ConnectRole::AppManager).await;
    sync(&r.admin).await;
    let after = r.admin.get_text(EXTEND_ALL).await;
    for id in [
        "com.storedesk.demo.cloud.monthly",
        "com.storedesk.demo.cloud.yearly",
        "com.storedesk.demo.pro.monthly",
        "com.storedesk.demo.pro.yearly",
    ] {
        assert!(
            after.contains(&format!("<option value=\"{id}\"")),
            "{id} suggested"
        );
    }
    assert!(
        !after.contains("<option value=\"com.storedesk.demo.coins.100\""),
        "only subscriptions"
    );
});
