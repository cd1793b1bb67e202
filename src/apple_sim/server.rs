//! The actix-web server: Apple's API under `/production` and `/sandbox`, the App Store Connect API under
//! `/connect`, the admin surface under `/sim`.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, Service as _};
use actix_web::{web, App, HttpServer};
use anyhow::Context as _;

use super::handlers::{self, EnvTag};
use super::state::SimState;
use super::SimEnvironment;

/// What `/sim/*` answers on a simulator listening beyond this machine.
pub const ADMIN_ONLY_ON_LOOPBACK: &str = "The simulator's admin endpoints answer only when it listens on a loopback address (such as 127.0.0.1).";

pub(crate) fn start(
    state: Arc<SimState>,
    listener: TcpListener,
    answer_delay: Duration,
) -> anyhow::Result<(Server, SocketAddr)> {
    let addr = listener.local_addr().context("reading the bound address")?;
    let data = web::Data::from(state);
    // The admin surface can issue keys, seed purchases and send notifications: only for a simulator that nobody
    // but this machine reaches.
    let local = addr.ip().is_loopback();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .wrap_fn(move |req, srv| {
                let api = !req.path().starts_with("/sim/");
                let answer = srv.call(req);
                async move {
                    if api && !answer_delay.is_zero() {
                        tokio::time::sleep(answer_delay).await;
                    }
                    answer.await
                }
            })
            .service(
                web::scope("/production")
                    .app_data(web::Data::new(EnvTag(SimEnvironment::Production)))
                    .configure(handlers::api_routes),
            )
            .service(
                web::scope("/sandbox")
                    .app_data(web::Data::new(EnvTag(SimEnvironment::Sandbox)))
                    .configure(handlers::api_routes),
            )
            .service(
                web::scope(super::connect::SCOPE)
                    .configure(super::connect::routes)
                    .default_service(web::to(super::connect::unknown_path)),
            )
            .route(super::ocsp::PATH, web::post().to(super::ocsp::respond))
            .service(if local {
                web::scope("/sim").configure(handlers::admin::routes)
            } else {
                web::scope("/sim").default_service(web::to(|| async {
                    actix_web::HttpResponse::Forbidden().json(serde_json::json!({
                        "error": ADMIN_ONLY_ON_LOOPBACK
                    }))
                }))
            })
    })
    .workers(2)
    // The embedding process (tests, `storedesk demo`) owns Ctrl-C handling.
    .disable_signals()
    .shutdown_timeout(1)
    .listen(listener)
    .context("listening")?
    .run();
    Ok((server, addr))
}
