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
        return MasterKey::from_base64(text.trim()).map_err(|_| anyhow::anyhow!("{} is damaged; delete the data directory to start over", path.display()));
    }
    let key = MasterKey::generate();
    std::fs::write(&path, key.to_base64_secret().expose_secret()).with_context(|| format!("could not write {}", path.display()))?;
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
    let settings = Settings {
        database_url: DatabaseUrl::sqlite_file(&dir.join("storedesk-demo.db")),
        data_dir: dir.clone(),
        bind,
        public_url: format!("http://{bind}"),
        master_key,
        previous_master_keys: Vec::new(),
        apple: AppleSettings::default(),
        session_idle: Duration::from_secs(12 * 3600),
        session_absolute: Duration::from_secs(7 * 24 * 3600),
    };
    let store = Store::connect(&settings.database_url).await?;
    store.migrate().await?;
    crate::commands::ensure_master_key(&store, &settings.keyring()).await?;
    let password = reset_demo_admin(&store).await?;
    let listener = std::net::TcpListener::bind(bind).with_context(|| format!("could not listen on {bind}; is another storedesk running? Pass --bind 127.0.0.1:PORT"))?;
    let app = Application::build_with(settings.clone(), store, listener).await?;
    println!("storedesk demo is running.");
    println!("  Open:     {}/login", settings.public_url);
    println!("  E-mail:   {DEMO_ADMIN}");
    println!("  Password: {}   (new on every start; shown only here)", password.expose_secret());
    println!("  Data:     {}", dir.display());
    println!("Press Ctrl-C to stop.");
    let server = app.server();
    let handle = server.handle();
    let running = tokio::spawn(server);
    tokio::signal::ctrl_c().await.context("could not wait for Ctrl-C")?;
    println!("Stopping…");
    handle.stop(true).await;
    let _ = running.await;
    Ok(())
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
            store.create_user(&email, &hash, Role::Admin, &actor).await?;
        }
    }
    Ok(password)
}

pub async fn run_simulator(args: SimArgs) -> anyhow::Result<()> {
    let bind = config::parse_bind(&args.bind).map_err(|_| anyhow::anyhow!("STOREDESK_SIM_BIND must be an address and port such as 127.0.0.1:8090"))?;
    let _ = args.data_dir;
    crate::apple_sim::run_cli(crate::apple_sim::SimConfig { bind, ..Default::default() }).await
}
