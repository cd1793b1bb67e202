//! Liveness, readiness and metrics for load balancers and Prometheus.
use actix_web::{web, HttpResponse};

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

pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render())
}
