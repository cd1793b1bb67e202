//! Product names beside product ids (issue 22): with a catalog in place (put there through the store, as a sync
//! would, with the simulator's seeded ids), every page that names a product shows its reference name, then its id;
//! subscriptions are grouped under their group's name. Without a catalog, the ids alone as before.
use storedesk::apple_sim::SimEnvironment::Production;
use storedesk::domain::catalog::{Catalog, Group, Price, Product, ProductKind, PromoOffer};
use storedesk::store::Store;

use crate::projects::notifications::signed::{arrive, spec};
use crate::projects::transactions::common::{search, section};
use crate::support_test;

pub const PRO_MONTHLY: &str = "com.storedesk.demo.pro.monthly";
pub const PRO_YEARLY: &str = "com.storedesk.demo.pro.yearly";
pub const CLOUD_MONTHLY: &str = "com.storedesk.demo.cloud.monthly";
pub const GROUP_PRO: &str = "21482731";
pub const GROUP_CLOUD: &str = "21482756";

fn product(
    id: &str,
    name: &str,
    kind: ProductKind,
    group: Option<(&str, i64)>,
    period: Option<&str>,
) -> Product {
    Product {
        product_id: format!("com.storedesk.demo.{id}"),
        connect_id: format!("6400{}", id.len()),
        name: name.to_owned(),
        kind,
        state: "APPROVED".to_owned(),
        group_id: group.map(|(g, _)| g.to_owned()),
        group_level: group.map(|(_, l)| l),
        period: period.map(str::to_owned),
        prices: Vec::new(),
        offers: Vec::new(),
    }
}

pub fn offer(code: &str, name: &str, mode: &str, duration: &str, periods: i64) -> PromoOffer {
    PromoOffer {
        code: code.to_owned(),
        name: name.to_owned(),
        mode: mode.to_owned(),
        duration: duration.to_owned(),
        periods,
    }
}

/// The simulator's products as App Store Connect would list them: reference names, both subscription groups,
/// a price and promotional offers on the Pro subscriptions.
pub fn demo_catalog() -> Catalog {
    use ProductKind::*;
    let mut monthly = product(
        "pro.monthly",
        "Pro Monthly",
        AutoRenewable,
        Some((GROUP_PRO, 2)),
        Some("ONE_MONTH"),
    );
    monthly.prices = vec![
        Price {
            territory: "USA".into(),
            currency: "USD".into(),
            customer_price: "9.99".into(),
            proceeds: "8.49".into(),
        },
        Price {
            territory: "DEU".into(),
            currency: "EUR".into(),
            customer_price: "9.99".into(),
            proceeds: "7.14".into(),
        },
    ];
    monthly.offers = vec![
        offer("WINBACK_50", "Win back", "PAY_AS_YOU_GO", "ONE_MONTH", 3),
        offer("LOYAL_FREE", "Loyal month", "FREE_TRIAL", "ONE_MONTH", 1),
    ];
    let mut yearly = product(
        "pro.yearly",
        "Pro Yearly",
        AutoRenewable,
        Some((GROUP_PRO, 1)),
        Some("ONE_YEAR"),
    );
    yearly.offers = vec![offer(
        "YEARLY_20",
        "Yearly saver",
        "PAY_UP_FRONT",
        "ONE_YEAR",
        1,
    )];
    let mut catalog = Catalog {
        groups: vec![
            Group {
                group_id: GROUP_PRO.into(),
                reference_name: "Storedesk Pro".into(),
            },
            Group {
                group_id: GROUP_CLOUD.into(),
                reference_name: "Cloud Storage".into(),
            },
        ],
        products: vec![
            monthly,
            yearly,
            product(
                "cloud.monthly",
                "Cloud Monthly",
                AutoRenewable,
                Some((GROUP_CLOUD, 2)),
                Some("ONE_MONTH"),
            ),
            product(
                "cloud.yearly",
                "Cloud Yearly",
                AutoRenewable,
                Some((GROUP_CLOUD, 1)),
                Some("ONE_YEAR"),
            ),
            product("coins.100", "100 Coins", Consumable, None, None),
            product("coins.500", "500 Coins", Consumable, None, None),
            product(
                "lifetime.themes",
                "Lifetime Themes",
                NonConsumable,
                None,
                None,
            ),
            product("remove_ads", "Remove Ads", NonConsumable, None, None),
            product("season_pass", "Season Pass", NonRenewing, None, None),
        ],
        grace_period: Some(storedesk::domain::catalog::GracePeriod {
            opt_in: true,
            sandbox_opt_in: false,
            duration: "SIXTEEN_DAYS".into(),
            renewal_type: "ALL_RENEWALS".into(),
        }),
    };
    catalog.normalize();
    catalog
}

/// Puts `catalog` in place as a complete sync would (no App Store Connect involved).
pub async fn put_catalog(store: &Store, project_id: i64, catalog: &Catalog) {
    let sync = store.start_catalog_sync(project_id, "test").await.unwrap();
    store
        .complete_catalog_sync(
            project_id,
            sync,
            "1234567890",
            "Storedesk Demo",
            catalog,
            &[],
            "Synced for the test.",
            1,
        )
        .await
        .unwrap();
}

/// The HTML a product is shown with: its name, then its id.
pub fn named(name: &str, id: &str) -> String {
    format!("<strong>{name}</strong> <code class=\"id\">{id}</code>")
}

support_test!(
    the_lookup_page_names_the_product_its_group_and_every_row,
    |r| {
        put_catalog(&r.app.store, r.project.id, &demo_catalog()).await;
        let seed = r.sim.seed();
        let page = r
            .admin
            .get_text(&search(&seed.long_history_original_id))
            .await;
        assert!(page.contains("Fresh from Apple (Production)"), "{page}");
        // The matched transaction: its heading, its product line with the group's name.
        let story = section(&page, "story");
        assert!(
            story.contains(&format!(
                "matched transaction:</span> {}",
                named("Pro Monthly", PRO_MONTHLY)
            )),
            "{story}"
        );
        assert!(
            story.contains(&format!(
                "<dt>Product</dt><dd>{} · auto-renewable subscription · group <strong>Storedesk Pro</strong> <code class=\"id\">{GROUP_PRO}</code></dd>",
                named("Pro Monthly", PRO_MONTHLY)
            )),
            "{story}"
        );
        // The timeline's lanes are labelled by name.
        assert!(
            page.contains(">Pro Monthly</text>"),
            "the timeline's lane label"
        );
        // The history rows: the subscription, the coins and the remove-ads purchase by name.
        let history = section(&page, "history");
        for (name, id) in [
            ("Pro Monthly", PRO_MONTHLY),
            ("100 Coins", "com.storedesk.demo.coins.100"),
            ("Remove Ads", "com.storedesk.demo.remove_ads"),
        ] {
            assert!(
                history.contains(&format!("<td>{}<br>", named(name, id))),
                "{name}: {history}"
            );
        }
        // The customer now: under the group's name.
        let now = section(&page, "now");
        assert!(
            now.contains(&format!(
                "<h3 class=\"group-heading\">Storedesk Pro <code class=\"id\">{GROUP_PRO}</code></h3>"
            )),
            "{now}"
        );
        assert!(now.contains(&named("Pro Monthly", PRO_MONTHLY)), "{now}");
    }
);

support_test!(
    the_customer_page_groups_subscriptions_under_their_named_groups,
    |r| {
        put_catalog(&r.app.store, r.project.id, &demo_catalog()).await;
        let seed = r.sim.seed();
        // Bob has a Pro and a Cloud subscription: one heading per group, each by its name.
        let bob = &seed.active_monthly.original_transaction_id;
        let page = r
            .admin
            .get_text(&format!("/projects/demo/customers/{bob}"))
            .await;
        let now = section(&page, "has-now");
        let pro = format!("Storedesk Pro <code class=\"id\">{GROUP_PRO}</code></h4>");
        let cloud = format!("Cloud Storage <code class=\"id\">{GROUP_CLOUD}</code></h4>");
        assert!(now.contains(&pro), "{now}");
        assert!(now.contains(&cloud), "{now}");
        assert_eq!(now.matches("<h4 class=\"group-heading\"").count(), 2);
        // Each subscription sits under its own group's heading.
        let (pro_at, cloud_at) = (now.find(&pro).unwrap(), now.find(&cloud).unwrap());
        let monthly_at = now.find(&named("Pro Monthly", PRO_MONTHLY)).unwrap();
        let cloud_monthly_at = now.find(&named("Cloud Monthly", CLOUD_MONTHLY)).unwrap();
        assert_eq!(
            (pro_at < monthly_at, cloud_at < cloud_monthly_at),
            (true, true)
        );
        assert!(
            (pro_at < cloud_at) == (monthly_at < cloud_at),
            "Pro Monthly is under Storedesk Pro: {now}"
        );
        // Alice's owned purchase and her timeline speak of products by name too.
        let alice = r
            .admin
            .get_text(&format!(
                "/projects/demo/customers/{}",
                seed.long_history_original_id
            ))
            .await;
        let owned = section(&alice, "has-now");
        assert!(
            owned.contains(&format!(
                "{} · non-consumable, bought",
                named("Remove Ads", "com.storedesk.demo.remove_ads")
            )),
            "{owned}"
        );
        let happened = section(&alice, "happened");
        assert!(
            happened.contains("Renewed Pro Monthly (com.storedesk.demo.pro.monthly) for 9.99 USD"),
            "{happened}"
        );
        // The subscription page names each group and the product of each card.
        let sub = r
            .admin
            .get_text(&format!("/projects/demo/subscriptions/{bob}"))
            .await;
        assert!(sub.contains(&format!(
            "\">Storedesk Pro <code class=\"id\">{GROUP_PRO}</code></h2>"
        )));
        assert!(sub.contains(&format!(
            "\">Cloud Storage <code class=\"id\">{GROUP_CLOUD}</code></h2>"
        )));
        assert!(
            sub.contains(&named("Cloud Monthly", CLOUD_MONTHLY)),
            "{sub}"
        );
        assert!(!sub.contains("Subscription group <code"), "{sub}");
    }
);

support_test!(without_a_catalog_the_pages_show_ids_alone_as_before, |r| {
    let seed = r.sim.seed();
    let bob = &seed.active_monthly.original_transaction_id;
    let page = r
        .admin
        .get_text(&format!("/projects/demo/customers/{bob}"))
        .await;
    let now = section(&page, "has-now");
    assert!(now.contains(&format!(
            "<h4 class=\"group-heading\" id=\"group-1\">Subscription group <code class=\"id\">{GROUP_PRO}</code></h4>"
        )) || now.contains(&format!(
            "<h4 class=\"group-heading\" id=\"group-1\">Subscription group <code class=\"id\">{GROUP_CLOUD}</code></h4>"
        )), "{now}");
    assert!(now.contains(&format!(
        "</span> <code class=\"id\">{PRO_MONTHLY}</code>: "
    )));
    assert!(!page.contains("<strong>Pro Monthly</strong>"));
    let lookup = r.admin.get_text(&search(bob)).await;
    let story = section(&lookup, "story");
    assert!(story.contains(&format!(
            "<dt>Product</dt><dd><code class=\"id\">{PRO_MONTHLY}</code> · auto-renewable subscription · group <code class=\"id\">{GROUP_PRO}</code></dd>"
        )), "{story}");
    assert!(
        !lookup.contains("</strong> <code class=\"id\">"),
        "no names anywhere: {lookup}"
    );
    assert!(
        lookup.contains(&format!(">{PRO_MONTHLY}</text>")),
        "the timeline's lane keeps the id"
    );
    let sub = r
        .admin
        .get_text(&format!("/projects/demo/subscriptions/{bob}"))
        .await;
    assert_eq!(
        sub.matches("Subscription group <code class=\"id\">")
            .count(),
        2
    );
});

support_test!(
    the_notification_refund_consumption_and_extension_pages_name_the_product,
    |r| {
        let seed = r.sim.seed();
        let id = arrive(
            &r.app,
            &r.sim,
            &r.project,
            Production,
            spec("DID_RENEW", &seed.active_monthly.original_transaction_id),
        )
        .await;
        // Before the catalog: the id alone.
        let log = r.admin.get_text("/projects/demo/notifications").await;
        assert!(
            log.contains(&format!("<td><code class=\"id\">{PRO_MONTHLY}</code></td>")),
            "{log}"
        );

        put_catalog(&r.app.store, r.project.id, &demo_catalog()).await;
        let log = r.admin.get_text("/projects/demo/notifications").await;
        assert!(
            log.contains(&format!("<td>{}</td>", named("Pro Monthly", PRO_MONTHLY))),
            "{log}"
        );
        let detail = r
            .admin
            .get_text(&format!("/projects/demo/notifications/{id}"))
            .await;
        assert!(
            detail.contains(&format!(
                "<dt>Product</dt><dd>{}</dd>",
                named("Pro Monthly", PRO_MONTHLY)
            )),
            "{detail}"
        );
        assert!(
        detail.contains(&format!(
            "<dt>Subscription group</dt><dd><strong>Storedesk Pro</strong> <code class=\"id\">{GROUP_PRO}</code></dd>"
        )),
        "{detail}"
    );

        // A refund of coins and its consumption request: both pages name the product.
        let coins = seed.orders["MT2R8QWX6B"][0].clone();
        let coins_named = named("100 Coins", "com.storedesk.demo.coins.100");
        for kind in ["REFUND", "CONSUMPTION_REQUEST"] {
            arrive(&r.app, &r.sim, &r.project, Production, spec(kind, &coins)).await;
        }
        let refunds = r
            .admin
            .get_text("/projects/demo/notifications/refunds")
            .await;
        assert!(
            refunds.contains(&format!("<td>{coins_named}<br>")),
            "{refunds}"
        );
        let queue = r
            .admin
            .get_text("/projects/demo/notifications/consumption")
            .await;
        assert!(
            queue.contains(&format!("<dt>Product</dt><dd>{coins_named} · ")),
            "{queue}"
        );

        // Extend for all customers: the products storedesk has seen, by name.
        r.admin
            .get_text(&search(&seed.active_monthly.original_transaction_id))
            .await;
        let extend = r
            .admin
            .get_text("/projects/demo/subscriptions/extend-all")
            .await;
        assert!(
            extend.contains(&format!(
                "<option value=\"{PRO_MONTHLY}\">Pro Monthly</option>"
            )),
            "{extend}"
        );
        assert!(
            extend.contains(&named("Pro Monthly", PRO_MONTHLY)),
            "{extend}"
        );
    }
);
