//! `storedesk demo`: the whole product on one machine with no setup, and `storedesk apple-sim` on its own.
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use secrecy::ExposeSecret;

use crate::cli::{DemoArgs, SimArgs};
use crate::config::{self, AppleSettings, DatabaseUrl, Settings};
use crate::crypto::MasterKey;
use crate::domain::{Email, Role};
use crate::startup::Application;
use crate::store::{Actor, Store};

pub const DEMO_ADMIN: &str = "admin@storedesk.local";

/// The demo keeps its own master key beside its database, so a restart can still open the stored key.
fn demo_master_key(dir: &Path) -> anyhow::Result<MasterKey> {
    let path = dir.join("demo-master-key");
    if let Ok(text) = std::fs::read_to_string(&path) {
        return MasterKey::from_base64(text.trim()).map_err(|_| {
            anyhow::anyhow!(
                "{} is damaged; delete the data directory to start over",
                path.display()
            )
        });
    }
    let key = MasterKey::generate();
    std::fs::write(&path, key.to_base64_secret().expose_secret())
        .with_context(|| format!("could not write {}", path.display()))?;
    restrict_permissions(&path);
    Ok(key)
}

#[cfg(unix)]
fn restrict_permissions(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
}

#[cfg(not(unix))]
fn restrict_permissions(_path: &Path) {}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let dir = args.data_dir.join("demo");
    std::fs::create_dir_all(&dir).with_context(|| format!("could not create {}", dir.display()))?;
    let bind = config::parse_bind(&args.bind)?;
    let master_key = demo_master_key(&dir)?;
    let sim = crate::apple_sim::spawn(crate::apple_sim::SimConfig::default())
        .await
        .context("could not start the Apple simulator")?;
    let settings = Settings {
        database_url: DatabaseUrl::sqlite_file(&dir.join("storedesk-demo.db")),
        data_dir: dir.clone(),
        bind,
        public_url: format!("http://{bind}"),
        master_key,
        previous_master_keys: Vec::new(),
        apple: AppleSettings {
            production_url: sim.production_url(),
            sandbox_url: sim.sandbox_url(),
            connect_url: sim.connect_url(),
            extra_roots: vec![sim.root_ca_der()],
            ..AppleSettings::default()
        },
        session_idle: Duration::from_secs(12 * 3600),
        session_absolute: Duration::from_secs(7 * 24 * 3600),
        test_notification_grace: crate::config::TEST_NOTIFICATION_GRACE,
        trusted_proxies: Default::default(),
        require_mfa: Vec::new(),
        metrics: Default::default(),
        retention: Default::default(),
        // Alerts work in the demo through webhooks; e-mail needs a mail server, which the demo has not.
        alerts: config::AlertSettings::default(),
        forwarding: config::ForwardSettings::default(),
        backfill: config::BackfillSettings::default(),
    };
    let store = Store::connect(&settings.database_url).await?;
    store.migrate().await?;
    crate::keys::ensure_master_key(&store, &settings.keyring()).await?;
    let password = reset_demo_admin(&store).await?;
    let key_summary = seed_demo_project(&store, &settings, &sim).await?;
    // The simulator stands in for App Store Connect too: Step 4's notification URL is already pasted there, so
    // "Send test notification" works at once (and fails, as it would at Apple, after Regenerate URL).
    if let Some(project) = store.project_by_slug(DEMO_PROJECT).await? {
        let token = store.notification_token(project.id).await?;
        let url = format!(
            "{}/apple/notifications/{token}",
            settings.public_url.trim_end_matches('/')
        );
        for env in [
            crate::apple_sim::SimEnvironment::Production,
            crate::apple_sim::SimEnvironment::Sandbox,
        ] {
            sim.set_notification_url(env, Some(url.clone()));
        }
    }
    let listener = std::net::TcpListener::bind(bind).with_context(|| {
        format!(
            "could not listen on {bind}; is another storedesk running? Pass --bind 127.0.0.1:PORT"
        )
    })?;
    let app = Application::build_with(settings.clone(), store, listener).await?;
    let catalog_summary = connect_demo_catalog(app.state(), &sim).await?;
    println!("storedesk demo is running.");
    println!("  Open:     {}/login", settings.public_url);
    println!("  E-mail:   {DEMO_ADMIN}");
    println!(
        "  Password: {}   (new on every start; shown only here)",
        password.expose_secret()
    );
    println!(
        "  Project:  {}/projects/{DEMO_PROJECT}  ({key_summary})",
        settings.public_url
    );
    println!(
        "  Catalog:  {}/projects/{DEMO_PROJECT}/catalog  ({catalog_summary})",
        settings.public_url
    );
    let seed = sim.seed();
    println!(
        "  Try:      {}/projects/{DEMO_PROJECT}/transactions?q={}  (a customer with 30 purchases)",
        settings.public_url, seed.long_history_original_id
    );
    if let Some(order) = seed.order_ids.first() {
        println!("            order id {order} from a receipt e-mail works in the same box");
    }
    println!("  Apple simulator: {}", sim.base_url());
    println!("  Data:     {}", dir.display());
    println!("Press Ctrl-C to stop (or send SIGTERM).");
    let server = app.server();
    let handle = server.handle();
    let running = tokio::spawn(server);
    stop_requested().await?;
    println!("Stopping…");
    handle.stop(true).await;
    let _ = running.await;
    sim.stop().await;
    Ok(())
}

/// Ctrl-C, or SIGTERM — what `kill`, systemd, Docker and a terminal's close send — both stop the demo cleanly, as
/// they stop `serve` (actix stops on either by itself; the demo waits on its own so it can stop the simulator too).
async fn stop_requested() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut terminate =
            signal(SignalKind::terminate()).context("could not listen for SIGTERM")?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.context("could not wait for Ctrl-C")?,
            _ = terminate.recv() => {}
        }
        Ok(())
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c()
            .await
            .context("could not wait for Ctrl-C")
    }
}

pub const DEMO_PROJECT: &str = "demo";

/// The demo project, with a key the simulator issued, stored through the same vault as a real key and verified.
/// The simulator keeps no state between runs, so every start issues a new key and rotates to it.
async fn seed_demo_project(
    store: &Store,
    settings: &Settings,
    sim: &crate::apple_sim::SimHandle,
) -> anyhow::Result<String> {
    use crate::domain::{
        AppAppleId, ApplePrivateKey, BundleId, Environment, IssuerId, KeyId, Slug,
    };
    let actor = Actor::system("storedesk demo");
    let seed = sim.seed();
    let project = match store.project_by_slug(DEMO_PROJECT).await? {
        Some(p) => p,
        None => {
            let new = crate::store::NewProject {
                name: "Demo App".into(),
                slug: Slug::parse(DEMO_PROJECT).map_err(|e| anyhow::anyhow!("{e}"))?,
                bundle_id: BundleId::parse(&seed.bundle_id).map_err(|e| anyhow::anyhow!("{e}"))?,
                app_apple_id: Some(
                    AppAppleId::from_i64(seed.app_apple_id).map_err(|e| anyhow::anyhow!("{e}"))?,
                ),
                environment: Environment::Production,
            };
            store.create_project(&new, &actor).await?
        }
    };
    let issued = sim.issue_key();
    let key_id =
        KeyId::parse(&issued.key_id).map_err(|e| anyhow::anyhow!("simulator key id: {e}"))?;
    let issuer_id = IssuerId::parse(&issued.issuer_id)
        .map_err(|e| anyhow::anyhow!("simulator issuer id: {e}"))?;
    let key = ApplePrivateKey::parse(issued.private_key_pem.as_bytes())
        .map_err(|e| anyhow::anyhow!("simulator key: {e}"))?;
    let row_id = crate::keys::save_key(
        store,
        &settings.keyring(),
        &project,
        &key_id,
        &issuer_id,
        &key,
        &actor,
        crate::keys::OnKeyInUse::Replace,
    )
    .await?;
    let client = crate::apple::AppleClient::new(crate::apple::AppleClientConfig {
        production_url: settings.apple.production_url.clone(),
        sandbox_url: settings.apple.sandbox_url.clone(),
        ..Default::default()
    })
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let opened = crate::keys::open_key_in_use(store, &settings.keyring(), project.id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the demo key was not stored"))?;
    let check = crate::apple_calls::verify_credentials(
        &client,
        &crate::apple_calls::credentials(&project, &opened),
    )
    .await;
    store.record_key_check(row_id, &check.to_record()).await?;
    Ok(format!(
        "key {}: {}",
        key_id.as_str(),
        if check.ok {
            "verified with the simulator"
        } else {
            "not verified"
        }
    ))
}

/// Step 1's App Store Connect API key for the demo project (the simulator issues a new one on every start, with
/// the App Manager role), proven with Verify now, and the catalog synced with it, as a person would do at Step 1.
async fn connect_demo_catalog(
    state: &crate::state::AppState,
    sim: &crate::apple_sim::SimHandle,
) -> anyhow::Result<String> {
    use crate::domain::{ApplePrivateKey, IssuerId, KeyId};
    let actor = Actor::system("storedesk demo");
    let project = state
        .store
        .project_by_slug(DEMO_PROJECT)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the demo project was not created"))?;
    let issued = sim.issue_connect_key(crate::apple_sim::ConnectRole::AppManager);
    crate::keys::save_connect_key(
        &state.store,
        &state.settings.keyring(),
        &project,
        &KeyId::parse(&issued.key_id).map_err(|e| anyhow::anyhow!("simulator key id: {e}"))?,
        &IssuerId::parse(&issued.issuer_id)
            .map_err(|e| anyhow::anyhow!("simulator issuer id: {e}"))?,
        &ApplePrivateKey::parse(issued.private_key_pem.as_bytes())
            .map_err(|e| anyhow::anyhow!("simulator key: {e}"))?,
        &actor,
    )
    .await?;
    crate::catalog::verify_connect_key(state, &project).await?;
    let report = crate::catalog::sync_project(state, &project, &actor, "storedesk demo").await?;
    Ok(report.sentence)
}

/// A fresh password on every start: the demo prints it once and never stores it in clear.
async fn reset_demo_admin(store: &Store) -> anyhow::Result<secrecy::SecretString> {
    let password = crate::auth::password::generate_password();
    let hash = crate::auth::password::hash_password(password.clone()).await?;
    let actor = Actor::system("storedesk demo");
    match store.user_by_email(DEMO_ADMIN).await? {
        Some(user) => store.set_password(user.id, &hash, None, &actor).await?,
        None => {
            let email = Email::parse(DEMO_ADMIN).map_err(|e| anyhow::anyhow!("{e}"))?;
            store
                .create_user(&email, &hash, Role::Admin, false, &actor)
                .await?;
        }
    }
    Ok(password)
}

pub async fn run_simulator(args: SimArgs) -> anyhow::Result<()> {
    let bind = config::parse_bind(&args.bind).map_err(|_| {
        anyhow::anyhow!("STOREDESK_SIM_BIND must be an address and port such as 127.0.0.1:8090")
    })?;
    crate::apple_sim::run_cli(crate::apple_sim::SimConfig {
        bind,
        output_dir: Some(args.data_dir.join("apple-sim")),
        ..Default::default()
    })
    .await
}
