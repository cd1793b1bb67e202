//! `storedesk bench-webhook-setup` (hidden): what the webhook load benchmark needs before it starts the server.
//! A project for the simulator's app, the simulator's root (to pass in STOREDESK_APPLE_EXTRA_ROOTS) and a file of
//! distinct signed notifications, one `{"signedPayload": …}` body per line. Each notification carries its own
//! nested transaction and renewal info (distinct signedDate), so nothing can be verified once and reused.
use std::io::Write as _;
use std::path::Path;

use anyhow::Context as _;

use crate::apple_sim::{NotificationSpec, SimConfig, SimEnvironment};
use crate::domain::{AppAppleId, BundleId, Environment, Slug};
use crate::store::{Actor, NewProject, Store};

pub const PROJECT_SLUG: &str = "bench";

/// Writes `sim-root.pem` and `bodies.txt` into `out_dir` and returns the project's notification URL token.
pub async fn prepare(store: &Store, count: usize, out_dir: &Path) -> anyhow::Result<String> {
    let sim = crate::apple_sim::spawn(SimConfig::default()).await?;
    let seed = sim.seed();
    std::fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let project = match store.project_by_slug(PROJECT_SLUG).await? {
        Some(p) => p,
        None => {
            let new = NewProject {
                name: "Webhook benchmark".into(),
                slug: Slug::parse(PROJECT_SLUG).map_err(|e| anyhow::anyhow!("{e}"))?,
                bundle_id: BundleId::parse(&seed.bundle_id).map_err(|e| anyhow::anyhow!("{e}"))?,
                app_apple_id: Some(
                    AppAppleId::from_i64(seed.app_apple_id).map_err(|e| anyhow::anyhow!("{e}"))?,
                ),
                environment: Environment::parse("Production")
                    .map_err(|e| anyhow::anyhow!("{e}"))?,
            };
            store
                .create_project(&new, &Actor::system("bench-webhook-setup"))
                .await?
        }
    };
    let token = store.notification_token(project.id).await?;
    let root = out_dir.join("sim-root.pem");
    std::fs::write(&root, sim.root_ca_pem())
        .with_context(|| format!("writing {}", root.display()))?;

    let path = out_dir.join("bodies.txt");
    let file =
        std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    let mut out = std::io::BufWriter::new(file);
    let subscriptions = [
        seed.active_monthly.transaction_id.clone(),
        seed.active_second_group.transaction_id.clone(),
    ];
    let base = crate::clock::now_ms();
    for i in 0..count {
        let env = if i % 2 == 0 {
            SimEnvironment::Production
        } else {
            SimEnvironment::Sandbox
        };
        let spec = NotificationSpec::new("DID_RENEW").transaction(&subscriptions[(i / 2) % 2]);
        // One millisecond apart: every nested JWS differs too.
        let jws = sim.sign_notification_at(env, spec, base - i as i64)?;
        writeln!(out, "{}", serde_json::json!({ "signedPayload": jws }))?;
    }
    out.flush()?;
    sim.stop().await;
    Ok(token)
}
