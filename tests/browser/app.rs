//! The real application on port 0 with a fresh SQLite database, wired to an in-process Apple simulator, the same
//! way `tests/api/helpers.rs` spawns it (that file belongs to another test binary, so the few pieces are here).
use std::net::TcpListener;
use std::time::Duration;

use secrecy::SecretString;
use storedesk::apple_sim::{SimConfig, SimHandle};
use storedesk::config::{AppleSettings, DatabaseUrl, Settings};
use storedesk::crypto::MasterKey;
use storedesk::domain::{Email, Role};
use storedesk::startup::Application;
use storedesk::store::{Actor, Store};

pub const PASSWORD: &str = "correct horse battery staple";
pub const ADMIN: &str = "admin@example.com";
pub const SUPPORT: &str = "support@example.com";

pub struct TestApp {
    /// `http://127.0.0.1:PORT`, the origin every page and request must stay on.
    pub address: String,
    pub store: Store,
    pub settings: Settings,
    pub sim: SimHandle,
    _dir: tempfile::TempDir,
}

impl TestApp {
    /// The app with an admin and a support user, calling the simulator instead of Apple.
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    /// [`TestApp::spawn`], with the settings adjusted by `adjust` before the app starts.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
        let sim = storedesk::apple_sim::spawn(SimConfig::default())
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let settings = Settings {
            database_url: DatabaseUrl::sqlite_file(&dir.path().join("test.db")),
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
            metrics: Default::default(),
            retention: Default::default(),
            alerts: storedesk::config::AlertSettings::default(),
            forwarding: storedesk::config::ForwardSettings::default(),
            backfill: storedesk::config::BackfillSettings::default(),
        };
        let mut settings = settings;
        adjust(&mut settings);
        let store = Store::connect(&settings.database_url).await.unwrap();
        store.migrate().await.unwrap();
        storedesk::keys::ensure_master_key(&store, &settings.keyring())
            .await
            .unwrap();
        let app = Application::build_with(settings.clone(), store.clone(), listener)
            .await
            .unwrap();
        tokio::spawn(app.run_until_stopped());
        let app = TestApp {
            address: format!("http://{addr}"),
            store,
            settings,
            sim,
            _dir: dir,
        };
        app.add_user(ADMIN, Role::Admin).await;
        app.add_user(SUPPORT, Role::Support).await;
        app
    }

    async fn add_user(&self, email: &str, role: Role) {
        let hash = storedesk::auth::password::hash_password(SecretString::from(PASSWORD))
            .await
            .unwrap();
        self.store
            .create_user(
                &Email::parse(email).unwrap(),
                &hash,
                role,
                false,
                &Actor::system("test"),
            )
            .await
            .unwrap();
    }
}

impl TestApp {
    /// A project typed by hand with `bundle_id` and no App Apple ID, without keys, made directly in the store.
    pub async fn seed_project_typed(&self, slug: &str, bundle_id: &str) {
        use storedesk::domain::{BundleId, Environment, Slug};
        let new = storedesk::store::NewProject {
            name: "Typed App".into(),
            slug: Slug::parse(slug).unwrap(),
            bundle_id: BundleId::parse(bundle_id).unwrap(),
            app_apple_id: None,
            environment: Environment::parse("Production").unwrap(),
        };
        self.store
            .create_project(&new, &Actor::system("test"))
            .await
            .unwrap();
    }

    /// A project with an active key from the simulator, made directly in the store (not through the pages).
    pub async fn seed_project_with_key(&self, slug: &str) {
        use storedesk::domain::{
            AppAppleId, ApplePrivateKey, BundleId, Environment, IssuerId, KeyId, Slug,
        };
        let new = storedesk::store::NewProject {
            name: "Seeded App".into(),
            slug: Slug::parse(slug).unwrap(),
            bundle_id: BundleId::parse(storedesk::apple_sim::DEFAULT_BUNDLE_ID).unwrap(),
            app_apple_id: Some(
                AppAppleId::parse(&storedesk::apple_sim::DEFAULT_APP_APPLE_ID.to_string()).unwrap(),
            ),
            environment: Environment::parse("Production").unwrap(),
        };
        let actor = Actor::system("test");
        let project = self.store.create_project(&new, &actor).await.unwrap();
        let issued = self.sim.issue_key();
        let key = ApplePrivateKey::parse(issued.private_key_pem.as_bytes()).unwrap();
        storedesk::keys::save_key(
            &self.store,
            &self.settings.keyring(),
            &project,
            &KeyId::parse(&issued.key_id).unwrap(),
            &IssuerId::parse(&issued.issuer_id).unwrap(),
            &key,
            &actor,
            storedesk::keys::OnKeyInUse::Replace,
        )
        .await
        .unwrap();
    }
}
