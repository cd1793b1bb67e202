//! What pages and the JSON API answer while the database is out of reach (`state::DatabaseWatch`): a 503 with a
//! sentence saying so, at once, rather than each request waiting out a timeout of its own. Two layers, because
//! actix routes a request by changing it in place, which a middleware cannot do while holding a copy: before
//! routing, [`fail_fast`] answers every request while the database is known to be unavailable; after routing,
//! [`cut_short`] (around each route of the two route tables) answers a request that was already waiting the moment
//! the database is found unavailable. The webhook bounds its own waits (its answers are Apple's); health, metrics
//! and static files need no database.
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse, ResponseError};

use crate::error::AppError;
use crate::state::AppState;

/// Whether a path's answer depends on the database (and so gets the 503 while it is out of reach).
fn needs_database(path: &str) -> bool {
    !(path.starts_with("/apple/")
        || path.starts_with("/static/")
        || matches!(path, "/healthz" | "/readyz" | "/metrics"))
}

/// The 503: the error page, or the JSON error under `/api/`.
fn answer(path: &str) -> HttpResponse {
    let e = AppError::DatabaseUnavailable;
    if path.starts_with("/api/") {
        e.json_response()
    } else {
        e.error_response()
    }
}

/// The app's middleware, before routing: while the database is known to be unavailable, every request that needs
/// it is answered 503 without running.
pub async fn fail_fast(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let unavailable = needs_database(req.path())
        && req
            .app_data::<web::Data<AppState>>()
            .is_some_and(|s| !s.database.available());
    if unavailable {
        let response = answer(req.path());
        return Ok(req.into_response(response));
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

/// A route's middleware, after routing: a request still waiting when the database is found unavailable is
/// answered 503 then. Whatever it was doing is dropped; a write it had sent may or may not have been committed,
/// which the sentence does not hide ("could not finish this request").
pub async fn cut_short(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let Some(state) = state.filter(|_| needs_database(req.path())) else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    // A copy of the request to answer with; after routing nothing changes the request in place any more.
    let request = req.request().clone();
    tokio::select! {
        done = next.call(req) => Ok(done?.map_into_boxed_body()),
        () = state.database.lost() => {
            tracing::warn!(path = %request.path(), "request cut short: the database stopped answering");
            let response = answer(request.path());
            Ok(ServiceResponse::new(request, response))
        }
    }
}
