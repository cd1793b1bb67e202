//! The JSON API under `/api/v1/`, for the publisher's own backend. Bearer API tokens (`crate::auth::api_token`),
//! one project per token, scope `read` or `sign`.
//!
//! To add an endpoint: add its row to the table below with the scope it needs, take an [`ApiProject`] (the token
//! and its project, already checked against the row), answer with [`ok`] or an [`ApiError`]. Every request under
//! `/api/v1` is authenticated by [`auth::require_token`] before any extractor or handler runs, so a caller without
//! a valid token learns nothing but 401, not even which paths exist.
use actix_web::http::{header, Method, StatusCode};
use actix_web::middleware::from_fn;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;

pub mod auth;
pub mod catalog;
pub mod consumption;
pub mod error;
pub mod forwarding;
pub mod json;
pub mod offers;
pub mod projects;
pub mod transactions;

use crate::domain::ApiScope;
pub use auth::{ApiClient, ApiProject};
pub use error::ApiError;

pub type ApiResult = Result<HttpResponse, ApiError>;

/// One row of the API's route table: what a route needs of the calling token.
#[derive(Clone, Copy, Debug)]
pub struct ApiRule {
    pub method: &'static str,
    /// Under `/api/v1`.
    pub path: &'static str,
    pub scope: ApiScope,
}

/// Declares the table once: [`TABLE`] for tests and documentation, and `register` mounting each row with the
/// check of its scope ([`auth::require_scope`]) and a 405 naming the method it takes.
macro_rules! api_table {
    ($($method:ident $path:literal, $scope:ident => $handler:path;)*) => {
        /// Every endpoint of the JSON API under `/api/v1`, with the token scope it needs.
        pub const TABLE: &[ApiRule] =
            &[$(ApiRule { method: stringify!($method), path: $path, scope: ApiScope::$scope }),*];

        fn register(cfg: &mut web::ServiceConfig) {
            $(
                cfg.service(
                    web::resource($path)
                        .wrap(from_fn(|req, next| auth::require_scope(ApiScope::$scope, req, next)))
                        .wrap(from_fn(crate::routes::unavailable::cut_short))
                        .route(web::method(Method::$method).to($handler))
                        .default_service(web::to(method_not_allowed(stringify!($method)))),
                );
            )*
        }
    };
}

api_table! {
    GET "/projects/{project}", Read => projects::show;
    POST "/projects/{project}/offers/signature", Sign => offers::sign;
    GET "/projects/{project}/transactions", Read => transactions::transactions;
    GET "/projects/{project}/transactions/{transaction_id}/history.csv", Read => transactions::history_csv;
    GET "/projects/{project}/subscriptions/{original_transaction_id}", Read => transactions::subscription;
    GET "/projects/{project}/forwarding/deliveries", Read => forwarding::deliveries;
    POST "/projects/{project}/forwarding/deliveries/{notification_id}/redeliver", Sign => forwarding::redeliver;
    GET "/projects/{project}/consumption-requests", Read => consumption::list;
    PUT "/projects/{project}/consumption-requests/{notification_id}", Sign => consumption::put;
    GET "/projects/{project}/catalog", Read => catalog::show;
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api")
            .app_data(
                web::JsonConfig::default()
                    .limit(64 * 1024)
                    // curl sends form content types unless told otherwise, and some clients send none; the body
                    // must still be JSON.
                    .content_type(|_| true)
                    .content_type_required(false)
                    .error_handler(|e, _| ApiError::BadRequest(json_problem(&e)).into()),
            )
            .app_data(web::QueryConfig::default().error_handler(|e, _| {
                ApiError::BadRequest(format!("The query string is not valid: {e}.")).into()
            }))
            .service(
                web::scope("/v1")
                    .wrap(from_fn(auth::require_token))
                    .configure(register)
                    .default_service(web::to(not_found)),
            )
            .default_service(web::to(not_found)),
    );
}

/// A JSON answer. `Cache-Control: no-store`: answers carry customer data and signatures no proxy should keep.
pub fn json<T: Serialize>(status: StatusCode, body: &T) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}

/// `200 OK` with `body` as JSON.
pub fn ok<T: Serialize>(body: &T) -> ApiResult {
    Ok(json(StatusCode::OK, body))
}

async fn not_found() -> ApiResult {
    Err(ApiError::NotFound(
        "There is no API endpoint at this address. The API lives under /api/v1/; see the README for its endpoints."
            .into(),
    ))
}

fn method_not_allowed(
    allowed: &'static str,
) -> impl Fn(HttpRequest) -> std::future::Ready<ApiResult> + Clone + 'static {
    move |req: HttpRequest| {
        std::future::ready(Err(ApiError::MethodNotAllowed {
            method: req.method().to_string(),
            allowed,
        }))
    }
}

fn json_problem(e: &actix_web::error::JsonPayloadError) -> String {
    use actix_web::error::JsonPayloadError as E;
    match e {
        E::OverflowKnownLength { .. } | E::Overflow { .. } => {
            "The request body is larger than 64 KiB.".into()
        }
        E::Deserialize(inner) if inner.is_data() => {
            format!("The request body does not have the fields this endpoint expects: {inner}.")
        }
        E::Deserialize(_) | E::Serialize(_) => {
            "The request body is not valid JSON. Send an object such as {\"productIdentifier\": \"…\"}.".into()
        }
        _ => "The request body could not be read as JSON.".into(),
    }
}
