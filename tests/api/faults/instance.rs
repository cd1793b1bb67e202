//! What the fault tests run: `storedesk serve` (the real binary) on a database URL, and a project with a set of
//! distinct notifications signed by the simulator, as Apple would deliver them.
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use secrecy::ExposeSecret as _;
use storedesk::apple_sim::{NotificationSpec, SimConfig, SimEnvironment, SimHandle};
use storedesk::config::DatabaseUrl;
use storedesk::domain::{AppAppleId, BundleId, Email, Environment, Role, Slug};
use storedesk::store::{Actor, NewProject, Store};

use crate::helpers::PASSWORD;

/// The user every fault test signs in as.
pub const ADMIN: &str = "admin@example.com";

/// One `storedesk serve` process; killed (SIGKILL) when dropped.
pub struct Instance {
    child: Child,
    pub base: String,
    log: std::path::PathBuf,
}

impl Instance {
    /// Starts it and waits until `/readyz` answers 200.
    pub async fn start(fixture: &Fixture, name: &str) -> Instance {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let log = fixture.dir.path().join(format!("{name}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_storedesk"))
            .arg("serve")
            .env_clear()
            .env("STOREDESK_DATABASE_URL", fixture.database.as_str())
            .env("STOREDESK_DATA_DIR", fixture.dir.path())
            .env("STOREDESK_METRICS_TOKEN", crate::helpers::METRICS_TOKEN)
            .env("STOREDESK_MASTER_KEY", &fixture.master_key)
            .env("STOREDESK_BIND", format!("127.0.0.1:{port}"))
            // No Apple is asked here; the simulator's root (trusted only with a loopback Apple) signs the load.
            .env("STOREDESK_APPLE_PRODUCTION_URL", crate::helpers::NO_APPLE)
            .env("STOREDESK_APPLE_SANDBOX_URL", crate::helpers::NO_APPLE)
            .env("STOREDESK_APPLE_EXTRA_ROOTS", &fixture.roots)
            .env("STOREDESK_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("start storedesk serve");
        let instance = Instance {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
        };
        instance.wait_ready(Duration::from_secs(30)).await;
        instance
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Waits until `/readyz` answers 200; panics with the instance's log after `limit`.
    pub async fn wait_ready(&self, limit: Duration) {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .expect("client");
        let deadline = std::time::Instant::now() + limit;
        while std::time::Instant::now() < deadline {
            if let Ok(r) = client.get(self.url("/readyz")).send().await {
                if r.status().is_success() {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "storedesk serve at {} was not ready within {limit:?}; its log:\n{}",
            self.base,
            self.log_text()
        );
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL, and wait until it is gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// A browser-like client signed in as [`ADMIN`].
    pub async fn sign_in(&self) -> reqwest::Client {
        let client = crate::helpers::client();
        let page = client
            .get(self.url("/login"))
            .send()
            .await
            .expect("GET /login")
            .text()
            .await
            .expect("body");
        let csrf = crate::helpers::csrf_from(&page);
        let response = client
            .post(self.url("/login"))
            .form(&[
                ("email", ADMIN),
                ("password", PASSWORD),
                ("csrf_token", &csrf),
                ("next", ""),
            ])
            .send()
            .await
            .expect("POST /login");
        assert_eq!(response.status().as_u16(), 303, "sign-in failed");
        client
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A migrated database with a user and a project for the simulator's app, and notifications to deliver.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub database: DatabaseUrl,
    pub project_id: i64,
    /// The path of the notification URL (`/apple/notifications/{token}`).
    pub webhook_path: String,
    master_key: String,
    roots: String,
    sim: SimHandle,
}

impl Fixture {
    pub async fn new(database: &str) -> Fixture {
        let dir = tempfile::tempdir().expect("temp dir");
        let database = DatabaseUrl::parse(database).expect("database URL");
        let sim = storedesk::apple_sim::spawn(SimConfig::default())
            .await
            .expect("simulator");
        let seed = sim.seed();
        let roots = dir.path().join("sim-root.pem");
        std::fs::write(&roots, sim.root_ca_pem()).expect("write the simulator's root");
        let master_key = storedesk::crypto::MasterKey::generate()
            .to_base64_secret()
            .expose_secret()
            .to_owned();

        let store = Store::connect(&database).await.expect("connect");
        store.migrate().await.expect("migrate");
        let hash = storedesk::auth::password::hash_password(secrecy::SecretString::from(PASSWORD))
            .await
            .expect("hash");
        store
            .create_user(
                &Email::parse(ADMIN).expect("email"),
                &hash,
                Role::Admin,
                false,
                &Actor::system("test"),
            )
            .await
            .expect("create user");
        let project = store
            .create_project(
                &NewProject {
                    name: "Faults".into(),
                    slug: Slug::parse("faults").expect("slug"),
                    bundle_id: BundleId::parse(&seed.bundle_id).expect("bundle id"),
                    app_apple_id: Some(AppAppleId::from_i64(seed.app_apple_id).expect("app id")),
                    environment: Environment::parse("Production").expect("environment"),
                },
                &Actor::system("test"),
            )
            .await
            .expect("project");
        let token = store.notification_token(project.id).await.expect("token");
        store.close().await;
        Fixture {
            database,
            project_id: project.id,
            webhook_path: format!("/apple/notifications/{token}"),
            master_key,
            roots: roots.to_str().expect("utf-8 path").to_owned(),
            sim,
            dir,
        }
    }

    /// `n` distinct notifications as (notificationUUID, body), each with its own nested transaction and renewal
    /// info, so that none can be verified once and reused.
    pub fn notifications(&self, n: usize) -> Vec<(String, String)> {
        let seed = self.sim.seed();
        let base = chrono::Utc::now().timestamp_millis();
        (0..n)
            .map(|i| {
                let uuid = uuid::Uuid::new_v4().to_string();
                let mut spec = NotificationSpec::new("DID_RENEW")
                    .transaction(&seed.active_monthly.transaction_id);
                spec.notification_uuid = Some(uuid.clone());
                let jws = self
                    .sim
                    .sign_notification_at(SimEnvironment::Production, spec, base - i as i64)
                    .expect("sign");
                let body = serde_json::json!({ "signedPayload": jws }).to_string();
                (uuid, body)
            })
            .collect()
    }

    /// How many rows each notificationUUID of the project has.
    pub async fn stored(&self) -> std::collections::HashMap<String, i64> {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(self.database.as_str())
            .await
            .expect("connect");
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT notification_uuid, COUNT(*) FROM notifications WHERE project_id = $1 GROUP BY notification_uuid",
        )
        .bind(self.project_id)
        .fetch_all(&pool)
        .await
        .expect("count notifications");
        pool.close().await;
        rows.into_iter().collect()
    }

    /// Every UUID in `answered_200` is stored exactly once.
    pub async fn assert_stored_once(&self, answered_200: &[String]) {
        let stored = self.stored().await;
        for uuid in answered_200 {
            match stored.get(uuid) {
                Some(1) => {}
                Some(n) => panic!("notification {uuid} is stored {n} times"),
                None => panic!("notification {uuid} was answered 200 but is not stored"),
            }
        }
    }
}
