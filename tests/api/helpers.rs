//! Spawns the real application on port 0 with a fresh database (a SQLite file, or a new PostgreSQL database when
//! the local service is reachable) and talks to it over HTTP like a browser would.
#![allow(dead_code)]

use std::net::TcpListener;
use std::time::Duration;

use reqwest::redirect::Policy;
use secrecy::SecretString;
use storedesk::config::{AppleSettings, DatabaseUrl, Settings};
use storedesk::crypto::MasterKey;
use storedesk::domain::{Email, Role};
use storedesk::startup::Application;
use storedesk::store::{Actor, Store};

/// An Apple URL with no Apple behind it (nothing listens on the discard port): for a `storedesk serve` that trusts
/// the simulator's root for the notifications a test signs but never calls Apple. Extra roots are accepted only with
/// Apple URLs at a loopback address.
pub const NO_APPLE: &str = "http://127.0.0.1:9";

pub const PASSWORD: &str = "correct horse battery staple";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub store: Store,
    pub backend: Backend,
    pub settings: Settings,
    /// The port of the metrics listener when a test set `settings.metrics.bind`.
    pub metrics_port: Option<u16>,
    _dir: tempfile::TempDir,
    /// Dropped after the test (PostgreSQL only).
    _database: Option<DropDatabase>,
}

pub fn postgres_admin_url() -> String {
    std::env::var("STOREDESK_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A new, empty PostgreSQL database for one test, or None (with a skip notice) when PostgreSQL is not reachable.
async fn postgres_database() -> Option<String> {
    use sqlx::Connection;
    let admin = postgres_admin_url();
    let conn =
        tokio::time::timeout(Duration::from_secs(5), sqlx::PgConnection::connect(&admin)).await;
    let mut conn = match conn {
        Ok(Ok(c)) => c,
        _ => {
            if std::env::var("STOREDESK_REQUIRE_POSTGRES").as_deref() == Ok("1") {
                panic!("PostgreSQL is required (STOREDESK_REQUIRE_POSTGRES=1) but {admin} is not reachable");
            }
            eprintln!("skipped: PostgreSQL not reachable at {admin}; set STOREDESK_REQUIRE_POSTGRES=1 to make this a failure");
            return None;
        }
    };
    let name = format!("storedesk_test_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("create test database");
    let base = admin
        .rsplit_once('/')
        .map(|(b, _)| b.to_string())
        .unwrap_or(admin);
    Some(format!("{base}/{name}"))
}

/// The `STOREDESK_METRICS_TOKEN` of every app and process the tests start.
pub const METRICS_TOKEN: &str = "test-metrics-token-0123456789abcdef";

/// An instance's /metrics text, read with the tests' bearer token.
pub async fn read_metrics(base: &str) -> String {
    let r = reqwest::Client::new()
        .get(format!("{base}/metrics"))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .expect("an answer from /metrics");
    assert_eq!(r.status().as_u16(), 200, "/metrics with the token");
    r.text().await.expect("the metrics text")
}

pub fn test_settings(
    database_url: DatabaseUrl,
    dir: &std::path::Path,
    bind: std::net::SocketAddr,
) -> Settings {
    Settings {
        database_url,
        data_dir: dir.to_path_buf(),
        bind,
        public_url: format!("http://{bind}"),
        master_key: MasterKey::generate(),
        previous_master_keys: Vec::new(),
        // Port 9 (discard) refuses connections at once: without a simulator no test can reach Apple.
        apple: AppleSettings {
            production_url: "http://127.0.0.1:9".into(),
            sandbox_url: "http://127.0.0.1:9".into(),
            connect_url: "http://127.0.0.1:9".into(),
            extra_roots: Vec::new(),
            timeout: Duration::from_secs(5),
            hourly_limit: None,
            answer_within: storedesk::apple::DEFAULT_ANSWER_WITHIN,
            online_checks: false,
        },
        session_idle: Duration::from_secs(3600),
        session_absolute: Duration::from_secs(24 * 3600),
        test_notification_grace: storedesk::config::TEST_NOTIFICATION_GRACE,
        trusted_proxies: Default::default(),
        require_mfa: Vec::new(),
        // The tests read /metrics as a monitor would: with the bearer token.
        metrics: storedesk::config::MetricsSettings::new(
            Some(&SecretString::from(METRICS_TOKEN)),
            None,
        )
        .expect("a valid metrics token"),
        retention: Default::default(),
        // The alert job runs when a test calls it, with the clock the test gives it.
        alerts: storedesk::config::AlertSettings {
            interval: None,
            ..storedesk::config::AlertSettings::default()
        },
        // Forwarding's workers too run when a test calls them (`forwarding::run_once`), with the test's clock.
        forwarding: storedesk::config::ForwardSettings {
            interval: None,
            ..storedesk::config::ForwardSettings::default()
        },
        // Only the `storedesk serve` processes a test starts take over backfills whose instance stopped.
        backfill: storedesk::config::BackfillSettings {
            take_over: false,
            ..storedesk::config::BackfillSettings::default()
        },
    }
}

pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, |_| {}).await
}

pub async fn spawn_app_with(
    backend: Backend,
    adjust: impl FnOnce(&mut Settings),
) -> Option<TestApp> {
    if std::env::var("TEST_LOG").is_ok() {
        storedesk::telemetry::init("debug", false);
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let url = match backend {
        Backend::Sqlite => DatabaseUrl::sqlite_file(&dir.path().join("test.db")),
        Backend::Postgres => DatabaseUrl::parse(&postgres_database().await?).expect("postgres url"),
    };
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    let addr = listener.local_addr().expect("local addr");
    let mut settings = test_settings(url, dir.path(), addr);
    adjust(&mut settings);
    let store = Store::connect(&settings.database_url)
        .await
        .expect("connect");
    store.migrate().await.expect("migrate");
    storedesk::keys::ensure_master_key(&store, &settings.keyring())
        .await
        .expect("master key");
    let app = Application::build_with(settings.clone(), store.clone(), listener)
        .await
        .expect("build app");
    let metrics_port = app.metrics_port();
    tokio::spawn(app.run_until_stopped());
    let database = match backend {
        Backend::Postgres => Some(DropDatabase(settings_url_name(&settings))),
        Backend::Sqlite => None,
    };
    Some(TestApp {
        address: format!("http://{addr}"),
        port: addr.port(),
        store,
        backend,
        settings,
        metrics_port,
        _dir: dir,
        _database: database,
    })
}

/// The database's name, the last part of its URL.
fn settings_url_name(settings: &Settings) -> String {
    let url = settings.database_url.as_str();
    let path = url.split('?').next().unwrap_or(url);
    path.rsplit('/').next().unwrap_or_default().to_owned()
}

/// Drops a test's PostgreSQL database when the test ends, so a run does not leave a thousand databases (and
/// gigabytes) behind. `WITH (FORCE)` ends the app's own connections, which live on the test's runtime until it stops.
pub struct DropDatabase(pub String);

impl Drop for DropDatabase {
    fn drop(&mut self) {
        let name = std::mem::take(&mut self.0);
        // A thread of its own with its own runtime: the test's runtime may be the one being dropped.
        let done = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                use sqlx::Connection;
                if let Ok(mut conn) = sqlx::PgConnection::connect(&postgres_admin_url()).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut conn)
                        .await;
                }
            });
        });
        let _ = done.join();
    }
}

/// The app wired to a fresh Apple simulator: base URLs point at it and its root is trusted.
pub async fn spawn_app_with_sim(
    backend: Backend,
    sim_config: storedesk::apple_sim::SimConfig,
) -> Option<(TestApp, storedesk::apple_sim::SimHandle)> {
    spawn_app_with_sim_and(backend, sim_config, |_| {}).await
}

/// [`spawn_app_with_sim`], with the settings adjusted by `adjust` before the app starts.
pub async fn spawn_app_with_sim_and(
    backend: Backend,
    sim_config: storedesk::apple_sim::SimConfig,
    adjust: impl FnOnce(&mut Settings),
) -> Option<(TestApp, storedesk::apple_sim::SimHandle)> {
    let sim = storedesk::apple_sim::spawn(sim_config)
        .await
        .expect("simulator");
    let (production, sandbox, root) = (sim.production_url(), sim.sandbox_url(), sim.root_ca_der());
    let connect = sim.connect_url();
    let app = spawn_app_with(backend, move |s| {
        s.apple.production_url = production;
        s.apple.sandbox_url = sandbox;
        s.apple.connect_url = connect;
        s.apple.extra_roots = vec![root];
        adjust(s);
    })
    .await?;
    Some((app, sim))
}

/// Runs one test body on SQLite and on PostgreSQL, with what `$setup` (an async expression of `backend`, giving an
/// `Option`) gave as `$got`. Only PostgreSQL may give nothing: its tests then say they were skipped (or fail,
/// under `STOREDESK_REQUIRE_POSTGRES`).
#[macro_export]
macro_rules! on_both_backends {
    ($name:ident, |$backend:ident| $setup:expr, $got:pat => $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            use $crate::helpers::Backend;
            async fn run($backend: Backend) {
                let is_postgres = matches!($backend, Backend::Postgres);
                let Some($got) = $setup.await else {
                    assert!(is_postgres, "SQLite is always there");
                    return;
                };
                $body
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                run(Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                run(Backend::Postgres).await
            }
        }
    };
}

/// Runs one test body on SQLite and on PostgreSQL with a fresh app.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, |$app:ident| $body:block) => {
        $crate::on_both_backends!($name, |backend| $crate::helpers::spawn_app(backend), $app => $body);
    };
}

/// A project created straight in the store (no HTTP), for tests of the store's own machinery; its bundle id is
/// `com.example.{slug}`. Returns its id.
pub async fn store_project(store: &Store, slug: &str) -> i64 {
    use storedesk::domain::{AppAppleId, BundleId, Environment, Slug};
    store
        .create_project(
            &storedesk::store::NewProject {
                name: slug.to_owned(),
                slug: Slug::parse(slug).expect("slug"),
                bundle_id: BundleId::parse(&format!("com.example.{slug}")).expect("bundle id"),
                app_apple_id: Some(AppAppleId::parse("1234567890").expect("app apple id")),
                environment: Environment::Production,
            },
            &Actor::system("test"),
        )
        .await
        .expect("project")
        .id
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .expect("client")
}

/// Reads the value of the hidden `csrf_token` field from a page.
pub fn csrf_from(html: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html
        .find(marker)
        .map(|i| i + marker.len())
        .expect("page has a csrf_token field");
    let end = html[start..].find('"').expect("closing quote") + start;
    html[start..end].to_string()
}

pub fn assert_redirect_to(response: &reqwest::Response, location: &str) {
    assert_eq!(response.status().as_u16(), 303, "expected a 303 redirect");
    assert_eq!(
        response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok()),
        Some(location)
    );
}

pub fn role_email(role: Role) -> String {
    format!("{}@example.com", role.as_str())
}

/// A signed-in browser-like client for a user of the given role (the user is created when missing).
pub struct Session {
    pub client: reqwest::Client,
    pub base: String,
    pub email: String,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// This app's /metrics text, read with the bearer token.
    pub async fn metrics(&self) -> String {
        read_metrics(&self.address).await
    }

    pub async fn add_user(&self, email: &str, role: Role) {
        let hash = storedesk::auth::password::hash_password(SecretString::from(PASSWORD))
            .await
            .expect("hash");
        self.store
            .create_user(
                &Email::parse(email).expect("email"),
                &hash,
                role,
                false,
                &Actor::system("test"),
            )
            .await
            .expect("create user");
    }

    pub async fn login_page(&self, client: &reqwest::Client) -> String {
        client
            .get(self.url("/login"))
            .send()
            .await
            .expect("GET /login")
            .text()
            .await
            .expect("body")
    }

    pub async fn post_login(
        &self,
        client: &reqwest::Client,
        email: &str,
        password: &str,
    ) -> reqwest::Response {
        let csrf = csrf_from(&self.login_page(client).await);
        client
            .post(self.url("/login"))
            .form(&[
                ("email", email),
                ("password", password),
                ("csrf_token", &csrf),
                ("next", ""),
            ])
            .send()
            .await
            .expect("POST /login")
    }

    pub async fn session(&self, role: Role) -> Session {
        let email = role_email(role);
        if self
            .store
            .user_by_email(&email)
            .await
            .expect("lookup")
            .is_none()
        {
            self.add_user(&email, role).await;
        }
        let client = client();
        let response = self.post_login(&client, &email, PASSWORD).await;
        assert_eq!(response.status().as_u16(), 303, "sign-in as {email} failed");
        Session {
            client,
            base: self.address.clone(),
            email,
        }
    }
}

impl Session {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    pub async fn get_text(&self, path: &str) -> String {
        self.get(path).await.text().await.expect("body")
    }

    /// Fetches `form_page`, takes its CSRF token and posts `fields` with it to `action`.
    pub async fn post_form(
        &self,
        form_page: &str,
        action: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        let csrf = csrf_from(&self.get_text(form_page).await);
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        all.push(("csrf_token", &csrf));
        self.client
            .post(self.url(action))
            .form(&all)
            .send()
            .await
            .expect("POST")
    }
}

pub async fn create_project(session: &Session, slug: &str) -> reqwest::Response {
    session
        .post_form(
            "/projects/new",
            "/projects",
            &[
                ("name", "Demo App"),
                ("slug", slug),
                ("bundle_id", "com.example.demo"),
                ("app_apple_id", "1234567890"),
                ("environment", "Production"),
            ],
        )
        .await
}

/// Creates the project `demo` for the simulator's app (its bundle ID and App Apple ID).
pub async fn project_for(
    app: &TestApp,
    sim: &storedesk::apple_sim::SimHandle,
    admin: &Session,
) -> storedesk::store::Project {
    let seed = sim.seed();
    let r = admin
        .post_form(
            "/projects/new",
            "/projects",
            &[
                ("name", "Demo"),
                ("slug", "demo"),
                ("bundle_id", &seed.bundle_id),
                ("app_apple_id", &seed.app_apple_id.to_string()),
                ("environment", "Production"),
            ],
        )
        .await;
    assert_eq!(r.status().as_u16(), 303);
    app.store.project_by_slug("demo").await.unwrap().unwrap()
}

/// Stores `key` as the project's key in use, as Step 3 would, and returns its row id.
pub async fn store_key(
    app: &TestApp,
    project: &storedesk::store::Project,
    key: &storedesk::apple_sim::IssuedKey,
) -> i64 {
    storedesk::keys::save_key(
        &app.store,
        &app.settings.keyring(),
        project,
        &storedesk::domain::KeyId::parse(&key.key_id).unwrap(),
        &storedesk::domain::IssuerId::parse(&key.issuer_id).unwrap(),
        &storedesk::domain::ApplePrivateKey::parse(key.private_key_pem.as_bytes()).unwrap(),
        &Actor::system("test"),
        storedesk::keys::OnKeyInUse::Replace,
    )
    .await
    .unwrap()
}

/// The app and a simulator with the project `demo` set up for the simulator's app, a simulator-issued key in use,
/// and a signed-in admin: the state a support page needs.
pub struct Ready {
    pub app: TestApp,
    pub sim: storedesk::apple_sim::SimHandle,
    pub admin: Session,
    pub project: storedesk::store::Project,
}

pub async fn ready(backend: Backend, config: storedesk::apple_sim::SimConfig) -> Option<Ready> {
    ready_with(backend, config, |_| {}).await
}

/// [`ready`], with the app's settings adjusted by `adjust` before it starts.
pub async fn ready_with(
    backend: Backend,
    config: storedesk::apple_sim::SimConfig,
    adjust: impl FnOnce(&mut Settings),
) -> Option<Ready> {
    let (app, sim) = spawn_app_with_sim_and(backend, config, adjust).await?;
    let admin = app.session(Role::Admin).await;
    let project = project_for(&app, &sim, &admin).await;
    store_key(&app, &project, &sim.issue_key()).await;
    Some(Ready {
        app,
        sim,
        admin,
        project,
    })
}

/// Runs one test body on SQLite and on PostgreSQL, each with the app wired to its own fresh simulator.
#[macro_export]
macro_rules! with_sim {
    ($name:ident, $config:expr, |$app:ident, $sim:ident| $body:block) => {
        $crate::on_both_backends!(
            $name,
            |backend| $crate::helpers::spawn_app_with_sim(backend, $config),
            ($app, $sim) => $body
        );
    };
}

/// One HTTP/1.1 request, as the tests' hand-made receivers on loopback read it off a connection.
#[derive(Clone, Debug)]
pub struct RawRequest {
    pub path: String,
    /// Names in lowercase, in the order sent.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The headers as a map, for a Standard Webhooks verifier.
    pub fn header_map(&self) -> reqwest::header::HeaderMap {
        let mut map = reqwest::header::HeaderMap::new();
        for (n, v) in &self.headers {
            map.append(
                reqwest::header::HeaderName::from_bytes(n.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        map
    }
}

/// Reads the request line, the headers and a `content-length` body; `None` when the connection ends first.
pub async fn read_request(
    reader: &mut tokio::io::BufReader<tokio::net::TcpStream>,
) -> Option<RawRequest> {
    use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _};
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).await.unwrap_or(0) == 0 {
        return None;
    }
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    let (mut length, mut headers) = (0usize, Vec::new());
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await.ok()?;
    Some(RawRequest {
        path,
        headers,
        body,
    })
}

/// A Python test helper (`tests/python/…`) that prints `listening <port>` and then one JSON object a line: its
/// port, the objects so far (filled in as they come) and the child, killed when dropped. `Err` says why it could
/// not run (`needs`: the package it imports), for the caller's skip notice.
pub async fn python_helper(
    mut command: tokio::process::Command,
    needs: &str,
) -> Result<
    (
        u16,
        std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
        tokio::process::Child,
    ),
    String,
> {
    use tokio::io::AsyncBufReadExt as _;
    let python = command
        .as_std()
        .get_program()
        .to_string_lossy()
        .into_owned();
    let Ok(mut child) = command
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
    else {
        return Err(format!("{python} could not be started"));
    };
    let stdout = child.stdout.take().ok_or("the helper has no stdout")?;
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let first = tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await;
    let port = match first {
        Ok(Ok(Some(line))) => line
            .strip_prefix("listening ")
            .and_then(|p| p.parse::<u16>().ok())
            .unwrap_or_else(|| panic!("the Python helper said {line:?}")),
        _ => return Err(format!("{python} could not run {needs}")),
    };
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let g = got.clone();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            g.lock().unwrap().push(serde_json::from_str(&line).unwrap());
        }
    });
    Ok((port, got, child))
}

/// A new, empty PostgreSQL database's URL (unique name), or None with the skip notice when PostgreSQL is not
/// reachable (a failure under `STOREDESK_REQUIRE_POSTGRES=1`): for tests that run the `storedesk` binary on it.
pub async fn fresh_postgres_database() -> Option<String> {
    postgres_database().await
}

/// A port nobody listens on now, for a `storedesk serve` process a test starts.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until a `storedesk serve` process answers `/readyz` at `base`.
pub async fn wait_ready(base: &str) {
    for _ in 0..300 {
        if let Ok(r) = reqwest::get(format!("{base}/readyz")).await {
            if r.status().is_success() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("storedesk serve did not become ready at {base}");
}
