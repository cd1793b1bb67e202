#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The support desk's two speed promises:
//! 1. a lookup page against the simulator on loopback adds at most 2 ms (median) over the simulator's own answer
//!    time for the same Apple calls, made in the same order and concurrency as the page makes them (measured
//!    as a repeat lookup, the customer's copies in the index, and as a first lookup, the index emptied);
//! 2. searching the local index by any id holds under 5 ms at the 99th percentile with 1,000,000 transactions
//!    stored on SQLite.
//!
//! Run: `cargo bench --bench support` (add `-- index` or `-- lookup` for one half; a filter also skips the other
//! halves' own set-up and percentile loops). The 1M-row database is seeded
//! once into `target/bench-data/` with multi-row INSERTs in one transaction and reused while it holds 1M rows.
//! `LOOKUP_CASE=30` limits the lookup half to the customers whose name holds "30"; `LOOKUP_LATENCY_MS=20` makes
//! the simulator hold each answer back that long, as the network and Apple would.
//! Figures go to docs/benchmarks.md.
use std::collections::HashSet;
use std::hint::black_box;
use std::net::TcpListener;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use rand::{Rng, SeedableRng};
use secrecy::SecretString;
use storedesk::apple::{ApiCredentials, AppleClient, AppleClientConfig, Environment, HistoryQuery};
use storedesk::apple_sim::{SimConfig, SimHandle};
use storedesk::config::{AppleSettings, DatabaseUrl, Settings};
use storedesk::crypto::MasterKey;
use storedesk::domain::{AppAppleId, ApplePrivateKey, BundleId, Email, Role, Slug};
use storedesk::store::transactions::{IndexRow, OrderRow};
use storedesk::store::{Actor, NewProject, Store};

// The same allocator as the storedesk binary (src/main.rs).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ROWS: u64 = 1_000_000;
/// Transactions per simulated customer: a 24-step subscription chain and one consumable.
const PER_CUSTOMER: u64 = 25;
const CUSTOMERS: u64 = ROWS / PER_CUSTOMER;
const PROJECT: i64 = 1;
const SAMPLES: usize = 10_000;

fn data_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn tx_id(customer: u64, k: u64) -> String {
    (2_000_000_100_000_000u64 + customer * PER_CUSTOMER + k).to_string()
}
fn order_id(customer: u64) -> String {
    format!("M{customer:09}")
}
fn token(customer: u64) -> String {
    format!("{customer:08x}-5e6f-4a7b-8c9d-0e1f2a3b4c5d")
}
fn web_order(customer: u64, k: u64) -> String {
    (3_000_000_000_000_000u64 + customer * PER_CUSTOMER + k).to_string()
}

/// A JWS of Apple's real size: three base64 DER certificates in the header dominate it (about 4 KB).
fn fake_jws(payload: &str) -> String {
    use base64::Engine;
    let cert = "MIIB".to_string() + &"A".repeat(1_100);
    let header = format!(r#"{{"alg":"ES256","x5c":["{cert}","{cert}","{cert}"]}}"#);
    let e = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    format!(
        "{}.{}.{}",
        e.encode(header),
        e.encode(payload),
        "s".repeat(86)
    )
}

fn row(customer: u64, k: u64, now: i64) -> IndexRow {
    let subscription = k < PER_CUSTOMER - 1;
    let id = tx_id(customer, k);
    let original = if subscription {
        tx_id(customer, 0)
    } else {
        id.clone()
    };
    let purchase = now - ((PER_CUSTOMER - k) as i64) * 30 * 86_400_000;
    let decoded = serde_json::json!({
        "transactionId": id, "originalTransactionId": original,
        "webOrderLineItemId": subscription.then(|| web_order(customer, k)),
        "bundleId": "com.storedesk.demo",
        "productId": if subscription { "com.storedesk.demo.pro.monthly" } else { "com.storedesk.demo.coins.100" },
        "subscriptionGroupIdentifier": subscription.then_some("21482731"),
        "purchaseDate": purchase, "originalPurchaseDate": purchase, "expiresDate": subscription.then_some(purchase + 30 * 86_400_000),
        "quantity": 1, "type": if subscription { "Auto-Renewable Subscription" } else { "Consumable" },
        "appAccountToken": token(customer), "inAppOwnershipType": "PURCHASED", "signedDate": now,
        "environment": "Production", "storefront": "USA", "storefrontId": "143441",
        "transactionReason": if k == 0 || !subscription { "PURCHASE" } else { "RENEWAL" },
        "currency": "USD", "price": 9990, "appTransactionId": format!("7043161981{customer:08}"),
    });
    let decoded_text = decoded.to_string();
    storedesk::store::transactions::index_row(
        PROJECT,
        Environment::Production,
        "bench",
        &fake_jws(&decoded_text),
        &decoded,
        now,
    )
}

/// Opens (seeding when needed) the 1M-row SQLite database.
async fn seeded_store() -> Store {
    let path = data_dir().join("support-index-1m.sqlite");
    let url = DatabaseUrl::sqlite_file(&path);
    let store = Store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let have = store.indexed_count(PROJECT).await.unwrap_or(0);
    if have as u64 == ROWS {
        return store;
    }
    store.close().await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let store = Store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    seed_project(&store).await;
    let now = chrono::Utc::now().timestamp_millis();
    let started = Instant::now();
    let rows = (0..CUSTOMERS).flat_map(move |c| (0..PER_CUSTOMER).map(move |k| row(c, k, now)));
    let n = store.index_transactions_bulk(rows).await.unwrap();
    let orders: Vec<OrderRow> = (0..CUSTOMERS)
        .map(|c| OrderRow {
            project_id: PROJECT,
            order_id: order_id(c),
            environment: "Production".into(),
            transaction_id: tx_id(c, 0),
            seen_at: now,
        })
        .collect();
    store.index_transactions(&[], &orders, None).await.unwrap();
    eprintln!(
        "seeded {n} transactions and {} orders in {:.1} s",
        orders.len(),
        started.elapsed().as_secs_f64()
    );
    store
}

async fn seed_project(store: &Store) -> storedesk::store::Project {
    store
        .create_project(
            &NewProject {
                name: "Bench".into(),
                slug: Slug::parse("demo").unwrap(),
                bundle_id: BundleId::parse(storedesk::apple_sim::DEFAULT_BUNDLE_ID).unwrap(),
                app_apple_id: Some(
                    AppAppleId::parse(&storedesk::apple_sim::DEFAULT_APP_APPLE_ID.to_string())
                        .unwrap(),
                ),
                environment: storedesk::domain::Environment::Production,
            },
            &Actor::system("bench"),
        )
        .await
        .unwrap()
}

fn percentiles(mut d: Vec<Duration>) -> (Duration, Duration, Duration) {
    d.sort();
    let at = |q: f64| d[((d.len() as f64 - 1.0) * q).round() as usize];
    (at(0.5), at(0.99), at(1.0))
}

/// Whether a part of this bench is wanted: criterion's filter (the first argument that is not a flag) holds
/// back the parts it names none of, including their work outside criterion (seeding, percentile loops).
fn wanted(names: &[&str]) -> bool {
    const TAKES_VALUE: [&str; 12] = [
        "--warm-up-time",
        "--measurement-time",
        "--sample-size",
        "--save-baseline",
        "--baseline",
        "--load-baseline",
        "--profile-time",
        "--output-format",
        "--color",
        "--noise-threshold",
        "--confidence-level",
        "--significance-level",
    ];
    let args: Vec<String> = std::env::args().skip(1).collect();
    let filter = args.iter().enumerate().find_map(|(i, a)| {
        let after_flag = i > 0 && TAKES_VALUE.contains(&args[i - 1].as_str());
        (!a.starts_with('-') && !after_flag).then_some(a)
    });
    filter.is_none_or(|f| {
        names
            .iter()
            .any(|n| n.contains(f.as_str()) || f.contains(n))
    })
}

fn index(c: &mut Criterion) {
    if !wanted(&["index search, 1M transactions on SQLite"]) {
        return;
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let store = rt.block_on(seeded_store());
    type Search =
        fn(&Store, u64) -> std::pin::Pin<Box<dyn std::future::Future<Output = usize> + '_>>;
    let kinds: [(&str, Search); 5] = [
        ("transaction id", |s, c| {
            Box::pin(async move {
                s.indexed_by_transaction_id(PROJECT, &tx_id(c, 7))
                    .await
                    .unwrap()
                    .len()
            })
        }),
        ("original transaction id", |s, c| {
            Box::pin(async move {
                s.indexed_by_original_id(PROJECT, &tx_id(c, 0))
                    .await
                    .unwrap()
                    .len()
            })
        }),
        ("app account token", |s, c| {
            Box::pin(async move {
                s.indexed_by_app_account_token(PROJECT, &token(c))
                    .await
                    .unwrap()
                    .len()
            })
        }),
        ("order id", |s, c| {
            Box::pin(async move {
                s.indexed_by_order_id(PROJECT, &order_id(c))
                    .await
                    .unwrap()
                    .len()
            })
        }),
        ("web order line item id", |s, c| {
            Box::pin(async move {
                s.indexed_by_web_order_line_item_id(PROJECT, &web_order(c, 3))
                    .await
                    .unwrap()
                    .len()
            })
        }),
    ];
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut group = c.benchmark_group("index search, 1M transactions on SQLite");
    for (name, search) in kinds {
        // Percentiles over random customers (criterion reports the median of repeated batches).
        let samples: Vec<Duration> = (0..SAMPLES)
            .map(|_| {
                let customer = rng.gen_range(0..CUSTOMERS);
                let started = Instant::now();
                let found = rt.block_on(search(&store, customer));
                let took = started.elapsed();
                assert!(found > 0, "{name} found nothing for customer {customer}");
                took
            })
            .collect();
        let (p50, p99, max) = percentiles(samples);
        println!(
            "index search by {name}: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms over {SAMPLES} random customers",
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3,
            max.as_secs_f64() * 1e3
        );
        group.bench_function(name, |b| {
            let mut rng = rand::rngs::StdRng::seed_from_u64(11);
            b.iter(|| {
                let customer = rng.gen_range(0..CUSTOMERS);
                black_box(rt.block_on(search(&store, customer)))
            })
        });
    }
    group.finish();
}

// --- lookup page against the simulator ---

struct Desk {
    base: String,
    client: reqwest::Client,
    sim: SimHandle,
    apple: AppleClient,
    creds: ApiCredentials,
    store: Store,
    settings: Settings,
    project: storedesk::store::Project,
    _dir: tempfile::TempDir,
}

async fn desk() -> Desk {
    // LOOKUP_LATENCY_MS holds each simulator answer back, as the network and Apple's own time would.
    let answer_delay = std::env::var("LOOKUP_LATENCY_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
        .map(Duration::from_millis)
        .unwrap_or_default();
    let sim = storedesk::apple_sim::spawn(SimConfig {
        answer_delay,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let settings = Settings {
        database_url: DatabaseUrl::sqlite_file(&dir.path().join("bench.db")),
        data_dir: dir.path().to_path_buf(),
        bind: addr,
        public_url: format!("http://{addr}"),
        master_key: MasterKey::generate(),
        previous_master_keys: Vec::new(),
        apple: AppleSettings {
            production_url: sim.production_url(),
            sandbox_url: sim.sandbox_url(),
            connect_url: sim.connect_url(),
            extra_roots: vec![sim.root_ca_der()],
            timeout: Duration::from_secs(10),
            hourly_limit: None,
            answer_within: storedesk::apple::DEFAULT_ANSWER_WITHIN,
            online_checks: false,
        },
        session_idle: Duration::from_secs(3600),
        session_absolute: Duration::from_secs(24 * 3600),
        test_notification_grace: storedesk::config::TEST_NOTIFICATION_GRACE,
        trusted_proxies: Default::default(),
        require_mfa: Vec::new(),
        metrics: Default::default(),
        retention: Default::default(),
        alerts: storedesk::config::AlertSettings {
            interval: None,
            ..storedesk::config::AlertSettings::default()
        },
        forwarding: storedesk::config::ForwardSettings {
            interval: None,
            ..storedesk::config::ForwardSettings::default()
        },
        backfill: storedesk::config::BackfillSettings::default(),
    };
    let store = Store::connect(&settings.database_url).await.unwrap();
    store.migrate().await.unwrap();
    storedesk::keys::ensure_master_key(&store, &settings.keyring())
        .await
        .unwrap();
    let password = "correct horse battery staple";
    let hash = storedesk::auth::password::hash_password(SecretString::from(password))
        .await
        .unwrap();
    store
        .create_user(
            &Email::parse("support@example.com").unwrap(),
            &hash,
            Role::Support,
            false,
            &Actor::system("bench"),
        )
        .await
        .unwrap();
    let project = seed_project(&store).await;
    let key = sim.issue_key();
    let private = ApplePrivateKey::parse(key.private_key_pem.as_bytes()).unwrap();
    storedesk::keys::save_key(
        &store,
        &settings.keyring(),
        &project,
        &storedesk::domain::KeyId::parse(&key.key_id).unwrap(),
        &storedesk::domain::IssuerId::parse(&key.issuer_id).unwrap(),
        &private,
        &Actor::system("bench"),
        storedesk::keys::OnKeyInUse::Replace,
    )
    .await
    .unwrap();
    let app =
        storedesk::startup::Application::build_with(settings.clone(), store.clone(), listener)
            .await
            .unwrap();
    // The catalog synced from the simulator's App Store Connect API, so the pages show product names as they do
    // for a project with Step 1's key (two more small queries per page).
    let connect = sim.issue_connect_key(storedesk::apple_sim::ConnectRole::AppManager);
    storedesk::keys::save_connect_key(
        &store,
        &settings.keyring(),
        &project,
        &storedesk::domain::KeyId::parse(&connect.key_id).unwrap(),
        &storedesk::domain::IssuerId::parse(&connect.issuer_id).unwrap(),
        &ApplePrivateKey::parse(connect.private_key_pem.as_bytes()).unwrap(),
        &Actor::system("bench"),
    )
    .await
    .unwrap();
    let synced =
        storedesk::catalog::sync_project(app.state(), &project, &Actor::system("bench"), "bench")
            .await
            .unwrap();
    assert_eq!(synced.outcome, "complete", "{}", synced.sentence);
    tokio::spawn(app.run_until_stopped());
    let base = format!("http://{addr}");
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let login = client
        .get(format!("{base}/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let marker = "name=\"csrf_token\" value=\"";
    let start = login.find(marker).unwrap() + marker.len();
    let csrf = &login[start..start + login[start..].find('"').unwrap()];
    let r = client
        .post(format!("{base}/login"))
        .form(&[
            ("email", "support@example.com"),
            ("password", password),
            ("csrf_token", csrf),
            ("next", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    let apple = AppleClient::new(AppleClientConfig {
        production_url: sim.production_url(),
        sandbox_url: sim.sandbox_url(),
        ..AppleClientConfig::default()
    })
    .unwrap();
    let creds = ApiCredentials {
        key_id: storedesk::domain::KeyId::parse(&key.key_id).unwrap(),
        issuer_id: storedesk::domain::IssuerId::parse(&key.issuer_id).unwrap(),
        bundle_id: storedesk::apple_sim::DEFAULT_BUNDLE_ID.into(),
        signing_key: private.signing_key().into(),
        key_version: 1,
    };
    Desk {
        base,
        client,
        sim,
        apple,
        creds,
        store,
        settings,
        project,
        _dir: dir,
    }
}

impl Desk {
    /// Empties the index, so that the next page is a first lookup: every copy is new and checked in full.
    async fn forget(&self, db: &sqlx::SqlitePool) {
        for table in ["transactions", "transaction_orders"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE project_id = $1"))
                .bind(self.project.id)
                .execute(db)
                .await
                .unwrap();
        }
    }

    /// The page, as a browser gets it.
    async fn page(&self, id: &str) {
        let r = self
            .client
            .get(format!("{}/projects/demo/transactions?q={id}", self.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let body = r.text().await.unwrap();
        assert!(body.contains("Fresh from Apple"), "{body}");
    }

    /// The same Apple calls the page makes, in the same order and concurrency, straight to the simulator:
    /// Get Transaction Info; then history and refunds side by side; then, when the first history page does not
    /// hold the whole history, up to three more pages for the timeline: read on from the first page when most of
    /// it is auto-renewable (as the page decides), else a subscription-only query.
    async fn simulator_alone(&self, id: &str) {
        let id = &storedesk::domain::TransactionId::parse(id).unwrap();
        let (apple, creds, env) = (&self.apple, &self.creds, Environment::Production);
        let info = apple.get_transaction_info(creds, env, id).await.unwrap();
        black_box(info);
        let query = HistoryQuery {
            sort: Some(storedesk::apple::models::transaction_history_request::Order::Descending),
            ..HistoryQuery::default()
        };
        let (history, refunds) = tokio::join!(
            apple.get_transaction_history(creds, env, id, &query),
            apple.get_refund_history(creds, env, id, None)
        );
        let history = history.unwrap();
        black_box(refunds.unwrap());
        if history.has_more == Some(true) {
            let signed = history.signed_transactions.unwrap_or_default();
            let renewing = signed.iter().filter(|j| claims_subscription(j)).count();
            let mut q = if renewing * 2 > signed.len() {
                HistoryQuery {
                    revision: history.revision.clone(),
                    ..query.clone()
                }
            } else {
                HistoryQuery {
                    product_types: vec![
                        storedesk::apple::models::transaction_history_request::ProductType::AutoRenewable,
                    ],
                    ..query.clone()
                }
            };
            for _ in 0..3 {
                let page = apple
                    .get_transaction_history(creds, env, id, &q)
                    .await
                    .unwrap();
                match (page.has_more, page.revision) {
                    (Some(true), Some(r)) => q.revision = Some(r),
                    _ => break,
                }
            }
        }
    }
}

/// The bench's own reading of a JWS payload's `type` (the page's is crate-private).
fn claims_subscription(jws: &str) -> bool {
    use base64::Engine;
    jws.split('.')
        .nth(1)
        .and_then(|p| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .ok()
        })
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .is_some_and(|v| v["type"] == "Auto-Renewable Subscription")
}

/// CPU this process has used (user and system), in ms: at 100 ticks a second one sample says little, 400 say
/// enough.
fn process_cpu_ms() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which ends at the last ')': utime and stime are the 12th and 13th.
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) * 10.0
}

fn median(mut d: Vec<Duration>) -> Duration {
    d.sort();
    d[d.len() / 2]
}

fn median_of(n: usize, mut f: impl FnMut() -> Duration) -> Duration {
    median((0..n).map(|_| f()).collect())
}

fn lookup(c: &mut Criterion) {
    if !wanted(&["lookup page vs the simulator alone"]) {
        return;
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let desk = rt.block_on(desk());
    let db = rt
        .block_on(sqlx::SqlitePool::connect(
            desk.settings.database_url.as_str(),
        ))
        .unwrap();
    let seed = desk.sim.seed();
    let cases = [
        (
            "subscription, 6-transaction customer",
            seed.active_monthly.transaction_id.clone(),
        ),
        (
            "subscription, 30-transaction customer",
            seed.long_history_original_id.clone(),
        ),
        (
            "consumable, 5-transaction customer",
            seed.refunded_consumable_transaction_id.clone(),
        ),
    ];
    // LOOKUP_CASE=30 measures only the customers whose name holds "30".
    let only = std::env::var("LOOKUP_CASE").unwrap_or_default();
    let mut seen = HashSet::new();
    let mut group = c.benchmark_group("lookup page vs the simulator alone");
    for (name, id) in cases.iter().filter(|(name, _)| name.contains(&only)) {
        assert!(seen.insert(id.clone()));
        // Warm both paths (connections, token cache, chain cache).
        for _ in 0..5 {
            rt.block_on(desk.page(id));
            rt.block_on(desk.simulator_alone(id));
        }
        // Interleaved, so that a slow spell of the machine weighs on every side alike. A repeat lookup finds
        // the customer's copies in the index (as after their notifications, or an agent's earlier look); a
        // first lookup finds an empty index and checks every signature.
        let (mut repeats, mut firsts, mut alones) = (Vec::new(), Vec::new(), Vec::new());
        let (mut cpu_repeat, mut cpu_first, mut cpu_alone) = (0.0, 0.0, 0.0);
        let timed = |f: &mut dyn FnMut(), times: &mut Vec<Duration>, cpu: &mut f64| {
            let t = Instant::now();
            let c = process_cpu_ms();
            f();
            times.push(t.elapsed());
            *cpu += process_cpu_ms() - c;
        };
        for _ in 0..400 {
            timed(
                &mut || rt.block_on(desk.page(id)),
                &mut repeats,
                &mut cpu_repeat,
            );
            timed(
                &mut || rt.block_on(desk.simulator_alone(id)),
                &mut alones,
                &mut cpu_alone,
            );
            rt.block_on(desk.forget(&db));
            timed(
                &mut || rt.block_on(desk.page(id)),
                &mut firsts,
                &mut cpu_first,
            );
        }
        let alone = median(alones).as_secs_f64() * 1e3;
        for (kind, times, cpu) in [
            ("repeat", repeats, cpu_repeat),
            ("first", firsts, cpu_first),
        ] {
            let page = median(times).as_secs_f64() * 1e3;
            println!(
                "lookup {name}, {kind} lookup: page median {page:.2} ms, simulator alone median {alone:.2} ms, \
                 added {:.2} ms (CPU of the whole process: {:.2} ms a page, {:.2} ms the simulator alone)",
                page - alone,
                cpu / 400.0,
                cpu_alone / 400.0
            );
        }
        group.bench_function(format!("{name}: page"), |b| {
            b.iter(|| rt.block_on(desk.page(id)))
        });
        group.bench_function(format!("{name}: simulator alone"), |b| {
            b.iter(|| rt.block_on(desk.simulator_alone(id)))
        });
    }
    group.finish();
}

/// Where a lookup page's time goes, piece by piece (medians of 100), to see what the page adds.
fn breakdown(_c: &mut Criterion) {
    if !wanted(&["lookup page vs the simulator alone", "breakdown"]) {
        return;
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let desk = rt.block_on(desk());
    let seed = desk.sim.seed();
    let id = seed.active_monthly.transaction_id.clone();
    let tid = storedesk::domain::TransactionId::parse(&id).unwrap();
    let time = |name: &str, f: &mut dyn FnMut()| {
        let d = median_of(100, || {
            let t = Instant::now();
            f();
            t.elapsed()
        });
        println!("breakdown {name}: {:.3} ms", d.as_secs_f64() * 1e3);
    };
    let verifier = storedesk::apple::SignedDataVerifier::new()
        .with_extra_roots(vec![desk.sim.root_ca_der()])
        .unwrap();
    let jws = rt
        .block_on(
            desk.apple
                .get_transaction_info(&desk.creds, Environment::Production, &tid),
        )
        .unwrap()
        .signed_transaction_info
        .unwrap();
    let who = storedesk::support::identity(&desk.project, Environment::Production);
    time(
        "verify one signed transaction (warm chain cache)",
        &mut || {
            black_box(verifier.verify_transaction(&jws, &who).unwrap());
        },
    );
    time("Get Transaction Info, client to simulator", &mut || {
        black_box(
            rt.block_on(desk.apple.get_transaction_info(
                &desk.creds,
                Environment::Production,
                &tid,
            ))
            .unwrap(),
        );
    });
    let keyring = desk.settings.keyring();
    time(
        "open the project's key (read + AES-GCM + parse)",
        &mut || {
            black_box(
                rt.block_on(storedesk::keys::open_key_in_use(
                    &desk.store,
                    &keyring,
                    desk.project.id,
                ))
                .unwrap(),
            );
        },
    );
    let key_row = rt
        .block_on(desk.store.key_in_use(desk.project.id))
        .unwrap()
        .unwrap();
    time(
        "record a call's outcome on the key row (UPDATE)",
        &mut || {
            rt.block_on(desk.store.record_key_call(key_row.id, Ok(())))
                .unwrap();
        },
    );
    let verified = verifier.verify_transaction(&jws, &who).unwrap();
    let rows: Vec<IndexRow> = (0..7)
        .map(|_| {
            storedesk::store::transactions::index_row(
                desk.project.id,
                Environment::Production,
                "bench",
                &jws,
                &verified.raw,
                chrono::Utc::now().timestamp_millis(),
            )
        })
        .collect();
    let actor = Actor::system("bench");
    time("index 7 rows + audit row (one transaction)", &mut || {
        rt.block_on(desk.store.index_transactions(
            &rows,
            &[],
            Some(storedesk::store::transactions::AuditNote {
                actor: &actor,
                action: "lookup.transaction",
                project_id: Some(desk.project.id),
                target: &id,
                detail: "bench",
            }),
        ))
        .unwrap();
    });
    time(
        "page frame without a search (session, project, layout, render)",
        &mut || {
            let r = rt
                .block_on(
                    desk.client
                        .get(format!("{}/projects/demo/transactions", desk.base))
                        .send(),
                )
                .unwrap();
            black_box(rt.block_on(r.text()).unwrap());
        },
    );
    time("whole lookup page", &mut || rt.block_on(desk.page(&id)));
    time("the simulator alone, same calls", &mut || {
        rt.block_on(desk.simulator_alone(&id))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(Duration::from_secs(5)).warm_up_time(Duration::from_secs(1));
    targets = index, lookup, breakdown
}
criterion_main!(benches);
