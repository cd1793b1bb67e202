//! Liveness, readiness and metrics for load balancers and Prometheus.
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::error::RETRY_AFTER_SECONDS;
use crate::state::database::PROBE_TIMEOUT;
use crate::state::AppState;

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body("ok\n")
}

/// 200 when the database answers. 503 at once while the database watch finds it unavailable, and otherwise after
/// at most the watch's own probe timeout: a load balancer's probe never hangs on a database that hangs.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let ready = state.database.available()
        && tokio::time::timeout(PROBE_TIMEOUT, state.store.ping())
            .await
            .unwrap_or(false);
    if ready {
        HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body("ready\n")
    } else {
        HttpResponse::ServiceUnavailable()
            .content_type("text/plain; charset=utf-8")
            .insert_header(("Retry-After", RETRY_AFTER_SECONDS))
            .body("database unreachable\n")
    }
}

/// The console's address serves the counters only to a bearer of `STOREDESK_METRICS_TOKEN`; without a token set
/// they are not served here at all (`STOREDESK_METRICS_BIND` serves them on an address of their own).
pub async fn metrics(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let settings = &state.settings.metrics;
    if !settings.token_set() {
        return HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body(METRICS_OFF);
    }
    let presented = crate::auth::bearer_token(&req);
    match presented {
        Some(token) if settings.admits(token) => metrics_text(&state.metrics),
        _ => HttpResponse::Unauthorized()
            .insert_header((
                header::WWW_AUTHENTICATE,
                "Bearer realm=\"storedesk metrics\"",
            ))
            .content_type("text/plain; charset=utf-8")
            .body(METRICS_TOKEN_NEEDED),
    }
}

pub const METRICS_OFF: &str =
    "Metrics are not served on this address. Set STOREDESK_METRICS_TOKEN to read them here \
with a bearer token, or STOREDESK_METRICS_BIND to serve them on an address of their own.\n";

pub const METRICS_TOKEN_NEEDED: &str =
    "Reading metrics here needs the bearer token set in STOREDESK_METRICS_TOKEN \
(Authorization: Bearer <token>); none was given, or another one.\n";

/// The counters in Prometheus' text format, for either address.
pub fn metrics_text(metrics: &crate::metrics::Metrics) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(metrics.render())
}
