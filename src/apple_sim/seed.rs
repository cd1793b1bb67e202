//! The deterministic data set: the same ids on every run, dates relative to the start time so that
//! "active" stays active. Each customer plays one scenario a support page needs.

use std::collections::BTreeMap;

use serde::Serialize;

use super::data::{
    Customer, Data, Offer, Product, ProductKind, Revocation, Storefront, Subscription, Transaction,
    DAY_MS,
};

pub(crate) const GROUP_PRO: &str = "21482731";
pub(crate) const GROUP_CLOUD: &str = "21482756";
pub(crate) const PRO_MONTHLY: &str = "com.storedesk.demo.pro.monthly";
pub(crate) const PRO_YEARLY: &str = "com.storedesk.demo.pro.yearly";
pub(crate) const CLOUD_MONTHLY: &str = "com.storedesk.demo.cloud.monthly";
pub(crate) const CLOUD_YEARLY: &str = "com.storedesk.demo.cloud.yearly";
pub(crate) const COINS_100: &str = "com.storedesk.demo.coins.100";
pub(crate) const COINS_500: &str = "com.storedesk.demo.coins.500";
pub(crate) const THEMES: &str = "com.storedesk.demo.lifetime.themes";
pub(crate) const REMOVE_ADS: &str = "com.storedesk.demo.remove_ads";
pub(crate) const SEASON_PASS: &str = "com.storedesk.demo.season_pass";

const MONTH_DAYS: i64 = 30;
const YEAR_DAYS: i64 = 365;
const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 3_600_000;

/// Prices in milliunits: USD, EUR, JPY (no decimals, so ¥1,500 is 1500000), GBP, CAD.
fn products() -> Vec<Product> {
    vec![
        Product {
            id: PRO_MONTHLY,
            kind: ProductKind::AutoRenewable,
            group: Some(GROUP_PRO),
            period_days: Some(MONTH_DAYS),
            prices: &[
                ("USD", 9_990),
                ("EUR", 9_990),
                ("JPY", 1_500_000),
                ("GBP", 8_990),
                ("CAD", 12_990),
            ],
        },
        Product {
            id: PRO_YEARLY,
            kind: ProductKind::AutoRenewable,
            group: Some(GROUP_PRO),
            period_days: Some(YEAR_DAYS),
            prices: &[
                ("USD", 99_990),
                ("EUR", 99_990),
                ("JPY", 15_000_000),
                ("GBP", 89_990),
                ("CAD", 129_990),
            ],
        },
        Product {
            id: CLOUD_MONTHLY,
            kind: ProductKind::AutoRenewable,
            group: Some(GROUP_CLOUD),
            period_days: Some(MONTH_DAYS),
            prices: &[
                ("USD", 4_990),
                ("EUR", 4_990),
                ("JPY", 800_000),
                ("GBP", 4_490),
                ("CAD", 6_490),
            ],
        },
        Product {
            id: CLOUD_YEARLY,
            kind: ProductKind::AutoRenewable,
            group: Some(GROUP_CLOUD),
            period_days: Some(YEAR_DAYS),
            prices: &[
                ("USD", 49_990),
                ("EUR", 49_990),
                ("JPY", 8_000_000),
                ("GBP", 44_990),
                ("CAD", 64_990),
            ],
        },
        Product {
            id: COINS_100,
            kind: ProductKind::Consumable,
            group: None,
            period_days: None,
            prices: &[
                ("USD", 990),
                ("EUR", 990),
                ("JPY", 160_000),
                ("GBP", 890),
                ("CAD", 1_290),
            ],
        },
        Product {
            id: COINS_500,
            kind: ProductKind::Consumable,
            group: None,
            period_days: None,
            prices: &[
                ("USD", 3_990),
                ("EUR", 3_990),
                ("JPY", 650_000),
                ("GBP", 3_490),
                ("CAD", 5_490),
            ],
        },
        Product {
            id: THEMES,
            kind: ProductKind::NonConsumable,
            group: None,
            period_days: None,
            prices: &[
                ("USD", 14_990),
                ("EUR", 14_990),
                ("JPY", 2_400_000),
                ("GBP", 13_990),
                ("CAD", 19_990),
            ],
        },
        Product {
            id: REMOVE_ADS,
            kind: ProductKind::NonConsumable,
            group: None,
            period_days: None,
            prices: &[
                ("USD", 2_990),
                ("EUR", 2_990),
                ("JPY", 480_000),
                ("GBP", 2_490),
                ("CAD", 3_990),
            ],
        },
        Product {
            id: SEASON_PASS,
            kind: ProductKind::NonRenewing,
            group: None,
            period_days: Some(90),
            prices: &[
                ("USD", 19_990),
                ("EUR", 19_990),
                ("JPY", 3_000_000),
                ("GBP", 17_990),
                ("CAD", 25_990),
            ],
        },
    ]
}

fn storefront(country: &'static str) -> Storefront {
    let (id, currency) = match country {
        "DEU" => ("143443", "EUR"),
        "JPN" => ("143462", "JPY"),
        "GBR" => ("143444", "GBP"),
        "CAN" => ("143455", "CAD"),
        "FRA" => ("143442", "EUR"),
        _ => ("143441", "USD"),
    };
    Storefront {
        country,
        id,
        currency,
    }
}

/// An original transaction id together with its newest transaction.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SubscriptionIds {
    pub transaction_id: String,
    pub original_transaction_id: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CustomerSummary {
    pub label: String,
    pub storefront: String,
    pub currency: String,
    pub app_transaction_id: Option<String>,
    /// Every transaction id of the customer, oldest purchase first.
    pub transaction_ids: Vec<String>,
}

/// Ids the tests and the demo can rely on; the same on every run.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SeedSummary {
    pub bundle_id: String,
    pub app_apple_id: i64,
    pub subscription_group_ids: Vec<String>,
    pub product_ids: Vec<String>,
    /// Pro monthly, active, auto-renewing (customer "bob", EUR), who also has a Cloud subscription.
    pub active_monthly: SubscriptionIds,
    /// Bob's Cloud monthly in the second group, with a pending price increase.
    pub active_second_group: SubscriptionIds,
    /// Alice: a free trial, then 25 monthly renewals, plus consumables and a non-consumable: 30 transactions.
    pub long_history_original_id: String,
    pub long_history_transaction_count: usize,
    pub billing_retry_original_id: String,
    pub grace_period_original_id: String,
    pub expired_original_id: String,
    pub revoked_original_id: String,
    /// Chloe (JPY): monthly upgraded to yearly; the monthly transaction has isUpgraded.
    pub upgraded_original_id: String,
    pub upgraded_transaction_id: String,
    /// A consumable not finished yet (for Finish Transaction).
    pub consumable_transaction_id: String,
    pub finished_consumable_transaction_id: String,
    pub refunded_consumable_transaction_id: String,
    pub non_consumable_transaction_id: String,
    pub non_renewing_transaction_id: String,
    /// A family-shared Pro yearly subscription (its own original id).
    pub family_shared_transaction_id: String,
    /// Jo: Cloud monthly in an introductory free trial (one week), auto-renew on.
    pub free_trial_original_id: String,
    /// Kim (CAD): Pro yearly, active, auto-renew turned off.
    pub auto_renew_off_original_id: String,
    /// Lee: a family-shared Pro yearly revoked because Family Sharing stopped (status 5, `FAMILY_REVOKE`).
    pub family_revoked_original_id: String,
    /// Mia (GBR): a non-consumable kept, then two consumables refunded 25 and 3 days ago, in that order
    /// (oldest refund first).
    pub two_refunds_transaction_ids: Vec<String>,
    pub two_refunds_non_consumable_id: String,
    pub order_ids: Vec<String>,
    pub orders: BTreeMap<String, Vec<String>>,
    /// Alice's appAccountToken.
    pub app_account_token: String,
    pub app_transaction_id: String,
    /// A transaction of a customer with no AppTransaction (Get App Transaction Info answers 4040019).
    pub no_app_transaction_transaction_id: String,
    /// Well-formed, never used: answers 4040010.
    pub unknown_transaction_id: String,
    pub unknown_order_id: String,
    pub notification_history_count: usize,
    pub customers: Vec<CustomerSummary>,
}

/// A past notification to put in the history; signed per environment when the state is built.
pub(crate) struct SeedNotification {
    pub notification_type: &'static str,
    pub subtype: Option<&'static str>,
    pub transaction_id: Option<String>,
    pub at_ms: i64,
    /// (delay after `at_ms`, sendAttemptResult)
    pub attempts: Vec<(i64, &'static str)>,
    pub consumption_request_reason: Option<&'static str>,
    pub uuid: String,
}

struct Builder {
    data: Data,
    now: i64,
    next_tx: u64,
    next_line_item: u64,
    next_app_tx: u64,
}

impl Builder {
    fn customer(
        &mut self,
        label: &'static str,
        country: &'static str,
        with_app_tx: bool,
        install_days_ago: i64,
    ) -> usize {
        let app_transaction_id = with_app_tx.then(|| {
            self.next_app_tx += 1;
            (704_316_198_100_000_000_u64 + self.next_app_tx * 7_919).to_string()
        });
        self.data.customers.push(Customer {
            label,
            storefront: storefront(country),
            app_transaction_id,
            first_install_ms: self.now - install_days_ago * DAY_MS,
        });
        self.data.customers.len() - 1
    }

    /// Records a purchase (or, with `original`, a renewal/upgrade in that chain) and returns its id.
    fn purchase(
        &mut self,
        customer: usize,
        product_id: &'static str,
        at_ms: i64,
        original: Option<&str>,
    ) -> String {
        self.next_tx += 1;
        let transaction_id = (2_000_000_874_120_000_u64 + self.next_tx * 1_031).to_string();
        let product = self.data.product(product_id).cloned();
        let (kind, group, period_days) = product
            .as_ref()
            .map(|p| (p.kind, p.group, p.period_days))
            .unwrap_or((ProductKind::Consumable, None, None));
        let currency = self
            .data
            .customers
            .get(customer)
            .map(|c| c.storefront.currency)
            .unwrap_or("USD");
        let price = product.as_ref().map(|p| p.price(currency)).unwrap_or(0);
        let (original_transaction_id, original_purchase_date_ms) =
            match original.and_then(|o| self.data.tx(o)) {
                Some(o) => (
                    o.original_transaction_id.clone(),
                    o.original_purchase_date_ms,
                ),
                None => (transaction_id.clone(), at_ms),
            };
        let web_order_line_item_id = (kind == ProductKind::AutoRenewable).then(|| {
            self.next_line_item += 1;
            (2_000_000_068_450_000_u64 + self.next_line_item * 211).to_string()
        });
        let tx = Transaction {
            renewal: original.is_some() && kind == ProductKind::AutoRenewable,
            transaction_id: transaction_id.clone(),
            original_transaction_id,
            web_order_line_item_id,
            customer,
            product_id,
            kind,
            group,
            purchase_date_ms: at_ms,
            original_purchase_date_ms,
            expires_date_ms: period_days.map(|d| at_ms + d * DAY_MS),
            quantity: 1,
            app_account_token: None,
            family_shared: false,
            revocation: None,
            is_upgraded: false,
            offer: None,
            currency,
            price,
            modified_ms: at_ms,
            finished: true,
        };
        self.data
            .tx_index
            .insert(transaction_id.clone(), self.data.transactions.len());
        self.data.transactions.push(tx);
        transaction_id
    }

    /// A subscription chain: the first purchase plus `renewals` back-to-back renewals.
    fn subscription_chain(
        &mut self,
        customer: usize,
        product_id: &'static str,
        start_ms: i64,
        renewals: i64,
    ) -> Vec<String> {
        let period = self
            .data
            .product(product_id)
            .and_then(|p| p.period_days)
            .unwrap_or(MONTH_DAYS)
            * DAY_MS;
        let first = self.purchase(customer, product_id, start_ms, None);
        let mut ids = vec![first.clone()];
        for k in 1..=renewals {
            ids.push(self.purchase(customer, product_id, start_ms + k * period, Some(&first)));
        }
        ids
    }

    fn subscription(&mut self, original_id: &str, status: i64) -> &mut Subscription {
        let (customer, group, product_id, start) = self
            .data
            .tx(original_id)
            .map(|t| {
                (
                    t.customer,
                    t.group.unwrap_or(GROUP_PRO),
                    t.product_id,
                    t.purchase_date_ms,
                )
            })
            .unwrap_or((0, GROUP_PRO, PRO_MONTHLY, self.now));
        self.data
            .subscriptions
            .entry(original_id.to_owned())
            .or_insert_with(|| Subscription {
                original_transaction_id: original_id.to_owned(),
                customer,
                group,
                status,
                auto_renew_status: 1,
                auto_renew_product_id: product_id,
                expiration_intent: None,
                is_in_billing_retry_period: Some(false),
                price_increase_status: None,
                grace_period_expires_ms: None,
                renewal_price: None,
                recent_subscription_start_ms: start,
                extensions: Vec::new(),
            })
    }

    fn tx_mut(&mut self, id: &str) -> Option<&mut Transaction> {
        self.data.tx_mut(id)
    }

    fn days_ago(&self, days: i64) -> i64 {
        self.now - days * DAY_MS
    }
}

fn last(ids: &[String]) -> String {
    ids.last().cloned().unwrap_or_default()
}

fn first(ids: &[String]) -> String {
    ids.first().cloned().unwrap_or_default()
}

/// Builds the data set relative to `now_ms`.
pub(crate) fn build(
    now_ms: i64,
    bundle_id: &str,
    app_apple_id: i64,
) -> (Data, SeedSummary, Vec<SeedNotification>) {
    let mut b = Builder {
        data: Data {
            products: products(),
            ..Data::default()
        },
        now: now_ms,
        next_tx: 0,
        next_line_item: 0,
        next_app_tx: 0,
    };
    let alice_token = "f3b1c2d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d".to_owned();
    let bob_token = "0c2e6a41-93d7-4f58-b1a2-7de3c5f90b18".to_owned();

    // Alice: long history. A one-month free trial, then 25 monthly renewals; the last one is current.
    let alice = b.customer("alice", "USA", true, 800);
    let alice_start = b.days_ago(25 * MONTH_DAYS + 10);
    let alice_pro = b.subscription_chain(alice, PRO_MONTHLY, alice_start, 25);
    if let Some(t) = b.tx_mut(&first(&alice_pro)) {
        t.price = 0;
        t.offer = Some(Offer {
            offer_type: 1,
            identifier: None,
            discount_type: Some("FREE_TRIAL"),
            period: Some("P1M"),
        });
    }
    for id in &alice_pro {
        if let Some(t) = b.tx_mut(id) {
            t.app_account_token = Some(alice_token.clone());
        }
    }
    let alice_coins_a = b.purchase(alice, COINS_100, b.days_ago(22), None);
    let alice_coins_b = b.purchase(alice, COINS_100, b.days_ago(18), None);
    let alice_ads = b.purchase(alice, REMOVE_ADS, b.days_ago(14), None);
    let alice_coins_c = b.purchase(alice, COINS_100, b.days_ago(9), None);
    b.subscription(&first(&alice_pro), 1);

    // Bob: Pro monthly and Cloud monthly bought in one order, both active; Cloud has a pending price increase.
    let bob = b.customer("bob", "DEU", true, 90);
    let bob_start = b.days_ago(75);
    let bob_pro = b.subscription_chain(bob, PRO_MONTHLY, bob_start, 2);
    let bob_cloud = b.subscription_chain(bob, CLOUD_MONTHLY, bob_start + MINUTE_MS, 2);
    for id in bob_pro.iter().chain(&bob_cloud) {
        if let Some(t) = b.tx_mut(id) {
            t.app_account_token = Some(bob_token.clone());
        }
    }
    b.subscription(&first(&bob_pro), 1);
    {
        let s = b.subscription(&first(&bob_cloud), 1);
        s.price_increase_status = Some(0);
        s.renewal_price = Some(5_990);
    }

    // Chloe (JPY): three months of Pro monthly, then an upgrade to yearly 20 days ago (same original id).
    let chloe = b.customer("chloe", "JPN", true, 120);
    let chloe_monthly = b.subscription_chain(chloe, PRO_MONTHLY, b.days_ago(100), 2);
    let upgrade_at = b.days_ago(20);
    let chloe_yearly = b.purchase(chloe, PRO_YEARLY, upgrade_at, Some(&first(&chloe_monthly)));
    if let Some(t) = b.tx_mut(&chloe_yearly) {
        // An upgrade is a new purchase in the same chain, not a renewal.
        t.renewal = false;
    }
    if let Some(t) = b.tx_mut(&last(&chloe_monthly)) {
        t.is_upgraded = true;
        t.modified_ms = upgrade_at;
    }
    {
        let s = b.subscription(&first(&chloe_monthly), 1);
        s.auto_renew_product_id = PRO_YEARLY;
        s.recent_subscription_start_ms = now_ms - 100 * DAY_MS;
    }

    // Dan: the last renewal failed five days ago; Apple is retrying the charge.
    let dan = b.customer("dan", "USA", true, 100);
    let dan_pro = b.subscription_chain(dan, PRO_MONTHLY, b.days_ago(95), 2);
    {
        let s = b.subscription(&first(&dan_pro), 3);
        s.expiration_intent = Some(2);
        s.is_in_billing_retry_period = Some(true);
    }

    // Eve (GBP): renewal failed two days ago, still entitled during a 16-day grace period.
    let eve = b.customer("eve", "GBR", true, 70);
    let eve_cloud = b.subscription_chain(eve, CLOUD_MONTHLY, b.days_ago(62), 1);
    let eve_expires = b
        .data
        .tx(&last(&eve_cloud))
        .and_then(|t| t.expires_date_ms)
        .unwrap_or(now_ms);
    {
        let s = b.subscription(&first(&eve_cloud), 4);
        s.expiration_intent = Some(2);
        s.is_in_billing_retry_period = Some(true);
        s.grace_period_expires_ms = Some(eve_expires + 16 * DAY_MS);
    }

    // Frank (CAD): a yearly Cloud plan he turned off; expired 35 days ago. Bought before AppTransaction existed.
    let frank = b.customer("frank", "CAN", false, 420);
    let frank_cloud = b.subscription_chain(frank, CLOUD_YEARLY, b.days_ago(400), 0);
    {
        let s = b.subscription(&first(&frank_cloud), 2);
        s.auto_renew_status = 0;
        s.expiration_intent = Some(1);
        s.is_in_billing_retry_period = Some(false);
    }

    // Grace (EUR): Pro yearly refunded by Apple ten days after purchase because of an issue in the app.
    let grace = b.customer("grace", "FRA", true, 65);
    let grace_yearly = b.subscription_chain(grace, PRO_YEARLY, b.days_ago(60), 0);
    let grace_refund_at = b.days_ago(50);
    if let Some(t) = b.tx_mut(&first(&grace_yearly)) {
        t.revocation = Some(Revocation {
            date_ms: grace_refund_at,
            reason: 1,
            kind: "REFUND_FULL",
            percentage: None,
        });
        t.modified_ms = grace_refund_at;
    }
    {
        let s = b.subscription(&first(&grace_yearly), 5);
        s.auto_renew_status = 0;
        s.is_in_billing_retry_period = None;
    }

    // Hank: one-time purchases. A 500-coin pack refunded after a consumption request; one pack not finished yet.
    let hank = b.customer("hank", "USA", true, 40);
    let hank_themes = b.purchase(hank, THEMES, b.days_ago(30), None);
    let hank_coins_500 = b.purchase(hank, COINS_500, b.days_ago(20), None);
    let hank_refund_at = b.days_ago(5);
    if let Some(t) = b.tx_mut(&hank_coins_500) {
        t.revocation = Some(Revocation {
            date_ms: hank_refund_at,
            reason: 0,
            kind: "REFUND_FULL",
            percentage: None,
        });
        t.modified_ms = hank_refund_at;
    }
    let hank_season = b.purchase(hank, SEASON_PASS, b.days_ago(12), None);
    let hank_coins_finished = b.purchase(hank, COINS_100, b.days_ago(3), None);
    if let Some(t) = b.tx_mut(&hank_coins_finished) {
        t.quantity = 3;
    }
    let hank_coins_open = b.purchase(hank, COINS_100, b.days_ago(1), None);
    if let Some(t) = b.tx_mut(&hank_coins_open) {
        t.finished = false;
    }

    // Ivy: Pro yearly shared with her by a family organizer.
    let ivy = b.customer("ivy", "USA", true, 110);
    let ivy_yearly = b.subscription_chain(ivy, PRO_YEARLY, b.days_ago(100), 0);
    if let Some(t) = b.tx_mut(&first(&ivy_yearly)) {
        t.family_shared = true;
    }
    b.subscription(&first(&ivy_yearly), 1);

    // Jo: three days into a one-week free trial of Cloud monthly; auto-renew on, so the first paid month follows.
    let jo = b.customer("jo", "USA", true, 3);
    let jo_cloud = b.subscription_chain(jo, CLOUD_MONTHLY, b.days_ago(3), 0);
    if let Some(t) = b.tx_mut(&first(&jo_cloud)) {
        t.price = 0;
        t.offer = Some(Offer {
            offer_type: 1,
            identifier: None,
            discount_type: Some("FREE_TRIAL"),
            period: Some("P1W"),
        });
        t.expires_date_ms = Some(t.purchase_date_ms + 7 * DAY_MS);
    }
    b.subscription(&first(&jo_cloud), 1);

    // Kim (CAD): Pro yearly, active for another two months, but she turned auto-renew off, so it ends then.
    let kim = b.customer("kim", "CAN", true, 310);
    let kim_pro = b.subscription_chain(kim, PRO_YEARLY, b.days_ago(300), 0);
    b.subscription(&first(&kim_pro), 1).auto_renew_status = 0;

    // Lee: Pro yearly shared by a family organizer who stopped Family Sharing eight days ago: Apple revoked it.
    let lee = b.customer("lee", "USA", true, 200);
    let lee_yearly = b.subscription_chain(lee, PRO_YEARLY, b.days_ago(180), 0);
    let lee_revoked_at = b.days_ago(8);
    if let Some(t) = b.tx_mut(&first(&lee_yearly)) {
        t.family_shared = true;
        t.revocation = Some(Revocation {
            date_ms: lee_revoked_at,
            reason: 0,
            kind: "FAMILY_REVOKE",
            percentage: None,
        });
        t.modified_ms = lee_revoked_at;
    }
    {
        let s = b.subscription(&first(&lee_yearly), 5);
        s.auto_renew_status = 0;
        s.is_in_billing_retry_period = None;
    }

    // Mia (GBR): two coin packs Apple refunded weeks apart, and a theme pack she keeps; the app sets her token.
    let mia = b.customer("mia", "GBR", true, 45);
    let mia_themes = b.purchase(mia, THEMES, b.days_ago(40), None);
    let mia_coins_a = b.purchase(mia, COINS_100, b.days_ago(30), None);
    let mia_coins_b = b.purchase(mia, COINS_500, b.days_ago(20), None);
    for id in [&mia_themes, &mia_coins_a, &mia_coins_b] {
        if let Some(t) = b.tx_mut(id) {
            t.app_account_token = Some("5a0f3c27-8d4e-4b61-9f2a-c1e7b3d90a46".to_owned());
        }
    }
    for (id, days_ago, reason) in [(&mia_coins_a, 25, 0), (&mia_coins_b, 3, 1)] {
        let at = b.days_ago(days_ago);
        if let Some(t) = b.tx_mut(id) {
            t.revocation = Some(Revocation {
                date_ms: at,
                reason,
                kind: "REFUND_FULL",
                percentage: None,
            });
            t.modified_ms = at;
        }
    }

    let orders: BTreeMap<String, Vec<String>> = [
        ("MK5TTTVWJH", vec![first(&alice_pro)]),
        ("MT2R8QWX6B", vec![alice_coins_c.clone()]),
        ("MKPQ3RT8ZD", vec![first(&bob_pro), first(&bob_cloud)]),
        ("MN4T7W2Q9X", vec![chloe_yearly.clone()]),
        ("MM3D8F6K1P", vec![first(&grace_yearly)]),
        ("ML9X2K4BVN", vec![hank_coins_500.clone()]),
        ("MLB7C2QZ4R", vec![hank_themes.clone(), hank_season.clone()]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    b.data.orders = orders.clone();

    let n = |t: &'static str,
             s: Option<&'static str>,
             tx: Option<&String>,
             at_ms: i64,
             attempts: Vec<(i64, &'static str)>,
             uuid: &str| SeedNotification {
        notification_type: t,
        subtype: s,
        transaction_id: tx.cloned(),
        at_ms,
        attempts,
        consumption_request_reason: None,
        uuid: uuid.to_owned(),
    };
    let ok = || vec![(2_000, "SUCCESS")];
    let d = |days: i64| now_ms - days * DAY_MS;
    let mut notifications = vec![
        n(
            "SUBSCRIBED",
            Some("INITIAL_BUY"),
            bob_pro.first(),
            bob_start,
            ok(),
            "3f9c1f0a-0b1e-4c55-9d8e-2a0f4b6c8d01",
        ),
        n(
            "SUBSCRIBED",
            Some("INITIAL_BUY"),
            bob_cloud.first(),
            bob_start + MINUTE_MS,
            ok(),
            "3f9c1f0a-0b1e-4c55-9d8e-2a0f4b6c8d02",
        ),
        n(
            "DID_CHANGE_RENEWAL_STATUS",
            Some("AUTO_RENEW_DISABLED"),
            frank_cloud.first(),
            d(60),
            ok(),
            "3f9c1f0a-0b1e-4c55-9d8e-2a0f4b6c8d03",
        ),
        n(
            "REFUND",
            None,
            grace_yearly.first(),
            grace_refund_at,
            ok(),
            "3f9c1f0a-0b1e-4c55-9d8e-2a0f4b6c8d04",
        ),
        n(
            "DID_RENEW",
            None,
            alice_pro.get(alice_pro.len().saturating_sub(2)),
            d(40),
            ok(),
            "3f9c1f0a-0b1e-4c55-9d8e-2a0f4b6c8d05",
        ),
        n(
            "DID_RENEW",
            None,
            chloe_monthly.last(),
            d(40),
            ok(),
            "3f9c1f0a-0b1e-4c55-9d8e-2a0f4b6c8d06",
        ),
        n(
            "DID_RENEW",
            None,
            dan_pro.last(),
            d(35),
            ok(),
            "3f9c1f0a-0b1e-4c55-9d8e-2a0f4b6c8d07",
        ),
        n(
            "EXPIRED",
            Some("VOLUNTARY"),
            frank_cloud.first(),
            d(35),
            ok(),
            "3f9c1f0a-0b1e-4c55-9d8e-2a0f4b6c8d08",
        ),
        n(
            "DID_RENEW",
            None,
            eve_cloud.last(),
            d(32),
            ok(),
            "3f9c1f0a-0b1e-4c55-9d8e-2a0f4b6c8d09",
        ),
        n(
            "ONE_TIME_CHARGE",
            None,
            Some(&hank_themes),
            d(30),
            ok(),
            "3f9c1f0a-0b1e-4c55-9d8e-2a0f4b6c8d10",
        ),
        n(
            "ONE_TIME_CHARGE",
            None,
            Some(&alice_coins_a),
            d(22),
            ok(),
            "3f9c1f0a-0b1e-4c55-9d8e-2a0f4b6c8d11",
        ),
        n(
            "ONE_TIME_CHARGE",
            None,
            Some(&hank_coins_500),
            d(20),
            ok(),
            "3f9c1f0a-0b1e-4c55-9d8e-2a0f4b6c8d12",
        ),
        n(
            "DID_CHANGE_RENEWAL_PREF",
            Some("UPGRADE"),
            Some(&chloe_yearly),
            upgrade_at,
            ok(),
            "3f9c1f0a-0b1e-4c55-9d8e-2a0f4b6c8d13",
        ),
        n(
            "ONE_TIME_CHARGE",
            None,
            Some(&alice_coins_b),
            d(18),
            ok(),
            "3f9c1f0a-0b1e-4c55-9d8e-2a0f4b6c8d14",
        ),
        n(
            "DID_CHANGE_RENEWAL_STATUS",
            Some("AUTO_RENEW_ENABLED"),
            ivy_yearly.first(),
            d(16),
            ok(),
            "3f9c1f0a-0b1e-4c55-9d8e-2a0f4b6c8d15",
        ),
        n(
            "DID_RENEW",
            None,
            bob_pro.last(),
            d(15),
            ok(),
            "3f9c1f0a-0b1e-4c55-9d8e-2a0f4b6c8d16",
        ),
        n(
            "DID_RENEW",
            None,
            bob_cloud.last(),
            d(15) + MINUTE_MS,
            ok(),
            "3f9c1f0a-0b1e-4c55-9d8e-2a0f4b6c8d17",
        ),
        n(
            "ONE_TIME_CHARGE",
            None,
            Some(&alice_ads),
            d(14),
            ok(),
            "3f9c1f0a-0b1e-4c55-9d8e-2a0f4b6c8d18",
        ),
        n(
            "ONE_TIME_CHARGE",
            None,
            Some(&hank_season),
            d(12),
            ok(),
            "3f9c1f0a-0b1e-4c55-9d8e-2a0f4b6c8d19",
        ),
        n(
            "DID_RENEW",
            None,
            alice_pro.last(),
            d(10),
            ok(),
            "3f9c1f0a-0b1e-4c55-9d8e-2a0f4b6c8d20",
        ),
        n(
            "ONE_TIME_CHARGE",
            None,
            Some(&alice_coins_c),
            d(9),
            ok(),
            "3f9c1f0a-0b1e-4c55-9d8e-2a0f4b6c8d21",
        ),
        n(
            "CONSUMPTION_REQUEST",
            None,
            Some(&alice_coins_c),
            d(9) + 12 * HOUR_MS,
            ok(),
            "3f9c1f0a-0b1e-4c55-9d8e-2a0f4b6c8d22",
        ),
        n(
            "REFUND_DECLINED",
            None,
            Some(&alice_coins_c),
            d(8),
            ok(),
            "3f9c1f0a-0b1e-4c55-9d8e-2a0f4b6c8d23",
        ),
        n(
            "PRICE_INCREASE",
            Some("PENDING"),
            bob_cloud.last(),
            d(8) + HOUR_MS,
            ok(),
            "3f9c1f0a-0b1e-4c55-9d8e-2a0f4b6c8d24",
        ),
        n(
            "TEST",
            None,
            None,
            d(7),
            vec![(1_000, "UNSUCCESSFUL_HTTP_RESPONSE_CODE")],
            "3f9c1f0a-0b1e-4c55-9d8e-2a0f4b6c8d25",
        ),
        n(
            "TEST",
            None,
            None,
            d(7) + 5 * MINUTE_MS,
            ok(),
            "3f9c1f0a-0b1e-4c55-9d8e-2a0f4b6c8d26",
        ),
        n(
            "CONSUMPTION_REQUEST",
            None,
            Some(&hank_coins_500),
            d(6),
            ok(),
            "3f9c1f0a-0b1e-4c55-9d8e-2a0f4b6c8d27",
        ),
        n(
            "DID_FAIL_TO_RENEW",
            None,
            dan_pro.last(),
            d(5),
            vec![(2_000, "NO_RESPONSE"), (HOUR_MS, "SUCCESS")],
            "3f9c1f0a-0b1e-4c55-9d8e-2a0f4b6c8d28",
        ),
        n(
            "REFUND",
            None,
            Some(&hank_coins_500),
            hank_refund_at,
            vec![(5_000, "TIMED_OUT"), (HOUR_MS, "TIMED_OUT")],
            "3f9c1f0a-0b1e-4c55-9d8e-2a0f4b6c8d29",
        ),
        n(
            "ONE_TIME_CHARGE",
            None,
            Some(&hank_coins_finished),
            d(3),
            ok(),
            "3f9c1f0a-0b1e-4c55-9d8e-2a0f4b6c8d30",
        ),
        n(
            "DID_FAIL_TO_RENEW",
            Some("GRACE_PERIOD"),
            eve_cloud.last(),
            d(2),
            ok(),
            "3f9c1f0a-0b1e-4c55-9d8e-2a0f4b6c8d31",
        ),
        n(
            "ONE_TIME_CHARGE",
            None,
            Some(&hank_coins_open),
            d(1),
            vec![
                (1_000, "UNSUCCESSFUL_HTTP_RESPONSE_CODE"),
                (HOUR_MS, "SUCCESS"),
            ],
            "3f9c1f0a-0b1e-4c55-9d8e-2a0f4b6c8d32",
        ),
    ];
    for seed_n in &mut notifications {
        if seed_n.notification_type == "CONSUMPTION_REQUEST" {
            seed_n.consumption_request_reason =
                Some(if seed_n.transaction_id.as_ref() == Some(&hank_coins_500) {
                    "UNINTENDED_PURCHASE"
                } else {
                    "UNSATISFIED_WITH_PURCHASE"
                });
        }
    }

    let customers = b
        .data
        .customers
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut txs: Vec<&Transaction> = b.data.customer_transactions(i).collect();
            txs.sort_by_key(|t| t.purchase_date_ms);
            CustomerSummary {
                label: c.label.to_owned(),
                storefront: c.storefront.country.to_owned(),
                currency: c.storefront.currency.to_owned(),
                app_transaction_id: c.app_transaction_id.clone(),
                transaction_ids: txs.iter().map(|t| t.transaction_id.clone()).collect(),
            }
        })
        .collect::<Vec<_>>();
    let long_history_transaction_count = b.data.customer_transactions(alice).count();

    let summary = SeedSummary {
        bundle_id: bundle_id.to_owned(),
        app_apple_id,
        subscription_group_ids: vec![GROUP_PRO.to_owned(), GROUP_CLOUD.to_owned()],
        product_ids: b.data.products.iter().map(|p| p.id.to_owned()).collect(),
        active_monthly: SubscriptionIds {
            transaction_id: last(&bob_pro),
            original_transaction_id: first(&bob_pro),
        },
        active_second_group: SubscriptionIds {
            transaction_id: last(&bob_cloud),
            original_transaction_id: first(&bob_cloud),
        },
        long_history_original_id: first(&alice_pro),
        long_history_transaction_count,
        billing_retry_original_id: first(&dan_pro),
        grace_period_original_id: first(&eve_cloud),
        expired_original_id: first(&frank_cloud),
        revoked_original_id: first(&grace_yearly),
        upgraded_original_id: first(&chloe_monthly),
        upgraded_transaction_id: last(&chloe_monthly),
        consumable_transaction_id: hank_coins_open,
        finished_consumable_transaction_id: hank_coins_finished,
        refunded_consumable_transaction_id: hank_coins_500,
        non_consumable_transaction_id: hank_themes,
        non_renewing_transaction_id: hank_season,
        family_shared_transaction_id: first(&ivy_yearly),
        free_trial_original_id: first(&jo_cloud),
        auto_renew_off_original_id: first(&kim_pro),
        family_revoked_original_id: first(&lee_yearly),
        two_refunds_transaction_ids: vec![mia_coins_a, mia_coins_b],
        two_refunds_non_consumable_id: mia_themes,
        order_ids: orders.keys().cloned().collect(),
        orders,
        app_account_token: alice_token,
        app_transaction_id: b
            .data
            .customers
            .get(alice)
            .and_then(|c| c.app_transaction_id.clone())
            .unwrap_or_default(),
        no_app_transaction_transaction_id: first(&frank_cloud),
        unknown_transaction_id: "2000000999999999".to_owned(),
        unknown_order_id: "MZZ9ZZ9ZZZ".to_owned(),
        notification_history_count: notifications.len(),
        customers,
    };
    (b.data, summary, notifications)
}
