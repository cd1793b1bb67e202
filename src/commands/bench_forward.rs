//! `storedesk bench-forward-setup` and `bench-forward-receiver` (hidden): what the webhook load benchmark needs to
//! measure forwarding (`FORWARD=1 benches/webhook-load.sh`): a destination of the benchmark's project, its secret
//! sealed under the master key the server will use, and a receiver on loopback that answers every POST 200.
use anyhow::Context as _;

use super::bench_webhook::PROJECT_SLUG;
use crate::crypto::Keyring;
use crate::store::forwarding::DestinationSettings;
use crate::store::{Actor, Store};

/// Adds a destination for `url` (every type, both environments) to the benchmark's project.
pub async fn setup(store: &Store, keyring: &Keyring, url: &str) -> anyhow::Result<i64> {
    crate::keys::ensure_master_key(store, keyring).await?;
    let project = store
        .project_by_slug(PROJECT_SLUG)
        .await?
        .context("run bench-webhook-setup first: the benchmark's project is missing")?;
    let settings = DestinationSettings {
        name: "benchmark receiver".into(),
        url: url.to_owned(),
        production: true,
        sandbox: true,
        types: Vec::new(),
        enabled: true,
    };
    let secret = crate::forwarding::secret::generate();
    let seal = |id: i64| crate::keys::seal_forward_secret(keyring, project.id, id, &secret);
    Ok(store
        .add_forward_destination(
            project.id,
            &settings,
            &seal,
            &Actor::system("bench-forward-setup"),
        )
        .await?)
}

/// Answers every request 200 `ok` on `bind`, on one thread (the benchmark's machine has two cores to share).
pub async fn receive(bind: std::net::SocketAddr) -> anyhow::Result<()> {
    use actix_web::{web, App, HttpResponse, HttpServer};
    HttpServer::new(|| {
        App::new().default_service(web::to(|_body: web::Bytes| async {
            HttpResponse::Ok().content_type("text/plain").body("ok")
        }))
    })
    .workers(1)
    .bind(bind)
    .with_context(|| format!("could not listen on {bind}"))?
    .run()
    .await
    .context("the receiver stopped")
}
