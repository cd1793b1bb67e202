//! `Application::build` is the only way the server starts: for `serve`, `demo` and every test.
use std::net::TcpListener;
use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::{from_fn, Condition, Next};
use actix_web::{web, App, HttpMessage, HttpServer, ResponseError};
use anyhow::Context;
use tracing_actix_web::{RequestId, TracingLogger};

use crate::apple::{AppleClient, AppleClientConfig, SignedDataVerifier};
use crate::config::Settings;
use crate::error::{AppError, REQUEST_ID};
use crate::metrics::Metrics;
use crate::state::{AppState, DatabaseWatch, Intake};
use crate::store::Store;

/// Batches waiting for a page-verification thread; beyond it a page verifies on its own thread.
const PAGE_VERIFY_QUEUE: usize = 256;

pub struct Application {
    port: u16,
    /// The port of `STOREDESK_METRICS_BIND`'s listener, when there is one.
    metrics_port: Option<u16>,
    server: Server,
    store: Store,
    state: web::Data<AppState>,
}

/// A content security policy with no inline script or style and no other origin: pages work without JavaScript,
/// and what little script there is comes from our own file.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        let store = Store::connect(&settings.database_url).await?;
        store.migrate().await?;
        crate::keys::ensure_master_key(&store, &settings.keyring()).await?;
        let listener = TcpListener::bind(settings.bind)
            .with_context(|| format!("could not listen on {}", settings.bind))?;
        Self::build_with(settings, store, listener).await
    }

    pub async fn build_with(
        settings: Settings,
        store: Store,
        listener: TcpListener,
    ) -> anyhow::Result<Application> {
        let port = listener.local_addr()?.port();
        let apple = AppleClient::new(AppleClientConfig {
            production_url: settings.apple.production_url.clone(),
            sandbox_url: settings.apple.sandbox_url.clone(),
            timeout: settings.apple.timeout,
            answer_within: settings.apple.answer_within,
            ..AppleClientConfig::default()
        })
        .map_err(|e| anyhow::anyhow!("could not build the Apple client: {e}"))?
        .with_budget(Arc::new(crate::call_budget::StoreBudget::new(
            store.clone(),
            settings.apple.hourly_limit,
        )));
        let connect = crate::apple::connect::ConnectClient::new(
            &settings.apple.connect_url,
            settings.apple.timeout,
            &AppleClientConfig::default().user_agent,
        )
        .map_err(|e| anyhow::anyhow!("could not build the App Store Connect client: {e}"))?;
        // Apple Root CA - G3 is always the anchor; a simulator's root only when configured.
        let verifier = SignedDataVerifier::new()
            .with_extra_roots(settings.apple.extra_roots.clone())
            .map_err(|e| anyhow::anyhow!("STOREDESK_APPLE_EXTRA_ROOTS holds a certificate that cannot be used as a root: {e}"))?;
        let metrics = Arc::new(Metrics::default());
        let metrics_port = match settings.metrics.bind {
            Some(bind) => Some(serve_metrics(bind, metrics.clone())?),
            None => None,
        };
        let state = web::Data::new(AppState {
            store: store.clone(),
            settings: settings.clone(),
            database: DatabaseWatch::start(&store, metrics.clone()),
            metrics,
            apple,
            connect,
            verifier: Arc::new(verifier),
            intake: Intake::start(&store).context("could not start the notification intake")?,
            page_pool: crate::cpu_pool::CpuPool::per_core("page-verify", PAGE_VERIFY_QUEUE)
                .context("could not start the page verification threads")?,
        });
        crate::notifications::gap::spawn_schedule(state.clone().into_inner())?;
        crate::alerts::spawn_schedule(state.clone().into_inner());
        crate::housekeeping::spawn_schedule(state.clone().into_inner());
        crate::support::mass_extension::spawn_schedule(state.clone().into_inner());
        crate::notifications::auto_consumption::spawn_schedule(state.clone().into_inner());
        crate::forwarding::replay::spawn_schedule(store.clone());
        crate::notifications::backfill::spawn_schedule(state.clone().into_inner());
        crate::catalog::schedule::spawn_schedule(state.clone().into_inner());
        crate::forwarding::spawn_workers(state.clone().into_inner())
            .context("could not start forwarding's delivery workers")?;
        let state_for_caller = state.clone();
        let hsts = settings.secure_cookies();
        let server = HttpServer::new(move || {
            let security = actix_web::middleware::DefaultHeaders::new()
                .add(("Content-Security-Policy", CSP))
                .add(("X-Frame-Options", "DENY"))
                .add(("X-Content-Type-Options", "nosniff"))
                .add(("Referrer-Policy", "same-origin"))
                .add(("Cross-Origin-Opener-Policy", "same-origin"))
                .add((
                    "Permissions-Policy",
                    "camera=(), microphone=(), geolocation=(), payment=()",
                ));
            let security = if hsts {
                security.add(("Strict-Transport-Security", "max-age=31536000"))
            } else {
                security
            };
            App::new()
                .app_data(state.clone())
                .app_data(web::Data::new(state.settings.trusted_proxies.clone()))
                // Requests the extractors refuse get the same pages as any other error, not actix's plain text;
                // an id in the path that is not a number is an address with nothing at it.
                .app_data(
                    web::FormConfig::default()
                        .limit(64 * 1024)
                        .error_handler(|e, _| crate::error::form_error(&e).into()),
                )
                .app_data(
                    web::QueryConfig::default()
                        .error_handler(|e, _| crate::error::query_error(&e).into()),
                )
                .app_data(
                    web::PathConfig::default().error_handler(|_, _| AppError::NotFound.into()),
                )
                .app_data(web::JsonConfig::default().limit(256 * 1024))
                .configure(crate::routes::configure)
                .wrap(from_fn(crate::routes::unavailable::fail_fast))
                .wrap(Condition::new(
                    hsts,
                    from_fn(crate::auth::session::secure_cookies),
                ))
                .wrap(from_fn(origin_check))
                .wrap(from_fn(request_context))
                .wrap(security)
                .wrap(TracingLogger::<crate::telemetry::RequestSpan>::new())
        })
        .listen(listener)?
        .shutdown_timeout(5)
        .run();
        Ok(Application {
            port,
            metrics_port,
            server,
            store,
            state: state_for_caller,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_port
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// What the handlers share, for work the embedding process does itself (the demo's first catalog sync).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }

    pub fn server(self) -> Server {
        self.server
    }
}

/// `/metrics` alone, with no token, on an address of its own (`STOREDESK_METRICS_BIND`): a network only the
/// monitoring reaches guards it. Anything else there is 404. It stops with the process (it answers the same signals
/// as the console's server).
fn serve_metrics(bind: std::net::SocketAddr, metrics: Arc<Metrics>) -> anyhow::Result<u16> {
    let listener = TcpListener::bind(bind).with_context(|| {
        format!("could not listen on {bind} (STOREDESK_METRICS_BIND) to serve /metrics")
    })?;
    let port = listener.local_addr()?.port();
    let metrics = web::Data::from(metrics);
    let server = HttpServer::new(move || {
        App::new().app_data(metrics.clone()).route(
            "/metrics",
            web::get()
                .to(|m: web::Data<Metrics>| async move { crate::routes::health::metrics_text(&m) }),
        )
    })
    .workers(1)
    .listen(listener)?
    .shutdown_timeout(1)
    .run();
    // tokio's spawn, not actix's: the tests build the server on a plain tokio runtime.
    tokio::spawn(server);
    Ok(port)
}

/// Puts the request id in scope for error pages, echoes it in `X-Request-Id`, and counts responses.
async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.to_string())
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let metrics = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.metrics.clone());
    let mut response = REQUEST_ID.scope(id.clone(), next.call(req)).await?;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response
            .headers_mut()
            .insert(HeaderName::from_static("x-request-id"), value);
    }
    if let Some(metrics) = metrics {
        let class = format!("class=\"{}xx\"", response.status().as_u16() / 100);
        metrics.inc("storedesk_http_responses_total", &class);
    }
    Ok(response)
}

/// Every state-changing browser request must come from our own pages. Apple's webhook and the bearer-token API
/// authenticate by other means and are exempt.
async fn origin_check(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    let safe = matches!(req.method().as_str(), "GET" | "HEAD" | "OPTIONS");
    let exempt = req.path().starts_with("/apple/") || req.path().starts_with("/api/");
    if !safe && !exempt {
        let origin = req
            .app_data::<web::Data<AppState>>()
            .map(|s| s.settings.public_origin())
            .unwrap_or_default();
        if !crate::auth::csrf::origin_allowed(req.request(), &origin) {
            tracing::warn!(path = %req.path(), "cross-origin form post refused");
            let response = AppError::CsrfRejected.error_response();
            return Ok(req.into_response(response));
        }
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}
