//! HTTP handlers. Every App Store Server API handler starts with `gate`, which does what Apple does before
//! looking at the request: authenticate, then apply injected faults and rate limits.

pub(crate) mod admin;
mod consumption;
mod notifications;
mod refunds;
mod subscriptions;
mod transactions;

use std::sync::atomic::Ordering;
use std::time::Duration;

use actix_web::http::header::{AUTHORIZATION, CONTENT_TYPE};
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{Map, Value};

use super::data::{Data, IdKind, Transaction};
use super::errors::{
    api, ApiResult, SimError, APP_TRANSACTION_ID_NOT_SUPPORTED, GENERAL_BAD_REQUEST,
    INVALID_TRANSACTION_ID, TRANSACTION_ID_NOT_FOUND,
};
use super::faults::Fault;
use super::query::is_numeric_id;
use super::rate_limit::Endpoint;
use super::state::{lock, now_ms, SimState};
use super::SimEnvironment;

/// Set on the `/production` and `/sandbox` scopes so handlers know which host was called.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EnvTag(pub SimEnvironment);

/// What a handler needs to know about the call once it passed the gate.
pub(crate) struct Ctx {
    pub env: SimEnvironment,
    /// The BadSignature fault: sign everything in this answer with a broken signature.
    pub corrupt: bool,
    pub now_ms: i64,
    /// The AppliedThenError fault: do the work, then answer this error code.
    pub then_error: Option<i64>,
}

pub(crate) async fn gate(req: &HttpRequest, st: &SimState, endpoint: Endpoint) -> ApiResult<Ctx> {
    st.requests.fetch_add(1, Ordering::Relaxed);
    let env = req
        .app_data::<web::Data<EnvTag>>()
        .map(|t| t.0)
        .unwrap_or(SimEnvironment::Production);
    let now = now_ms();
    let verdict = if env == SimEnvironment::Production && !st.production_released {
        Err(super::auth::AuthFailure::AppNotReleased)
    } else {
        let authorization = req
            .headers()
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        lock(&st.keys).authenticate(authorization, &st.app.bundle_id, now.div_euclid(1000))
    };
    if let Err(reason) = verdict {
        tracing::debug!(%reason, ?endpoint, %env, "apple-sim answers 401");
        return Err(SimError::Unauthenticated);
    }

    let fault = lock(&st.faults).take();
    let mut corrupt = false;
    let mut then_error = None;
    match fault {
        Some(Fault::AppliedThenError { code, .. })
            if endpoint == Endpoint::ExtendSubscriptionRenewalDate
                || endpoint == Endpoint::MassExtendRenewalDate =>
        {
            then_error = Some(code)
        }
        Some(Fault::AppliedThenError { code, .. }) => return Err(SimError::Api(code)),
        Some(Fault::Touch { transaction_id, .. }) => {
            for t in lock(&st.data)
                .transactions
                .iter_mut()
                .filter(|t| t.transaction_id == transaction_id)
            {
                t.modified_ms = now;
            }
        }
        Some(Fault::ApiError { code, .. }) => return Err(SimError::Api(code)),
        Some(Fault::RateLimited { retry_after_ms, .. }) => {
            return Err(SimError::RateLimited {
                retry_at_ms: now + retry_after_ms,
            })
        }
        Some(Fault::Garbage { .. }) => return Err(SimError::Garbage),
        Some(Fault::Stuck { .. }) => return Err(SimError::Stuck),
        Some(Fault::Oversized { .. }) => return Err(SimError::Oversized),
        Some(Fault::HttpStatus { status, .. }) => return Err(SimError::HttpStatus(status)),
        Some(Fault::Hang { seconds, .. }) => tokio::time::sleep(Duration::from_secs(seconds)).await,
        Some(Fault::BadSignature { .. }) => corrupt = true,
        Some(Fault::Normal { .. }) | None => {}
    }

    if st.rate_limits {
        let limited = lock(&st.limiter).check(env, endpoint, now);
        if let Err(retry_at_ms) = limited {
            return Err(SimError::RateLimited { retry_at_ms });
        }
    }
    Ok(Ctx {
        env,
        corrupt,
        now_ms: now_ms(),
        then_error,
    })
}

pub(crate) fn json_ok(body: Value) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "application/json"))
        .body(body.to_string())
}

/// A JSON object body; anything else is Apple's general bad request.
pub(crate) fn json_object(body: &[u8]) -> ApiResult<Map<String, Value>> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(api(GENERAL_BAD_REQUEST)),
    }
}

/// `{transactionId}` endpoints: digits only, an appTransactionId is refused, unknown is 4040010.
pub(crate) fn transaction_for_path<'a>(data: &'a Data, id: &str) -> ApiResult<&'a Transaction> {
    if !is_numeric_id(id) {
        return Err(api(INVALID_TRANSACTION_ID));
    }
    match data.identify(id) {
        Some(IdKind::Transaction(i)) => data
            .transactions
            .get(i)
            .ok_or_else(|| api(TRANSACTION_ID_NOT_FOUND)),
        Some(IdKind::AppTransaction(_)) => Err(api(APP_TRANSACTION_ID_NOT_SUPPORTED)),
        None => Err(api(TRANSACTION_ID_NOT_FOUND)),
    }
}

/// `{anyTransactionId}` endpoints: any id of the customer, including the appTransactionId.
pub(crate) fn customer_for_path(data: &Data, id: &str) -> ApiResult<usize> {
    if !is_numeric_id(id) {
        return Err(api(INVALID_TRANSACTION_ID));
    }
    data.customer_of(id)
        .ok_or_else(|| api(TRANSACTION_ID_NOT_FOUND))
}

/// The API routes, mounted once under `/production` and once under `/sandbox`.
pub(crate) fn api_routes(cfg: &mut web::ServiceConfig) {
    // More specific paths first: actix tries resources in registration order.
    cfg.route(
        "/inApps/v1/transactions/appTransactions/{id}",
        web::get().to(transactions::get_app_transaction_info),
    )
    .route(
        "/inApps/v1/transactions/consumption/{id}",
        web::put().to(consumption::send_consumption_v1),
    )
    .route(
        "/inApps/v2/transactions/consumption/{id}",
        web::put().to(consumption::send_consumption_v2),
    )
    .route(
        "/inApps/v1/transactions/{id}/appAccountToken",
        web::put().to(transactions::set_app_account_token),
    )
    .route(
        "/inApps/v1/transactions/{id}/finish",
        web::post().to(transactions::finish_transaction),
    )
    .route(
        "/inApps/v1/transactions/{id}",
        web::get().to(transactions::get_transaction_info),
    )
    .route(
        "/inApps/v2/history/{id}",
        web::get().to(transactions::get_transaction_history_v2),
    )
    .route(
        "/inApps/v1/history/{id}",
        web::get().to(transactions::get_transaction_history_v1),
    )
    .route(
        "/inApps/v1/subscriptions/extend/mass/{product_id}/{request_identifier}",
        web::get().to(subscriptions::get_mass_extension_status),
    )
    .route(
        "/inApps/v1/subscriptions/extend/mass",
        web::post().to(subscriptions::extend_for_all_active_subscribers),
    )
    .route(
        "/inApps/v1/subscriptions/extend/{id}",
        web::put().to(subscriptions::extend_renewal_date),
    )
    .route(
        "/inApps/v1/subscriptions/{id}",
        web::get().to(subscriptions::get_all_subscription_statuses),
    )
    .route(
        "/inApps/v2/refund/lookup/{id}",
        web::get().to(refunds::get_refund_history),
    )
    .route(
        "/inApps/v1/lookup/{order_id}",
        web::get().to(refunds::look_up_order_id),
    )
    .route(
        "/inApps/v1/notifications/test/{token}",
        web::get().to(notifications::get_test_notification_status),
    )
    .route(
        "/inApps/v1/notifications/test",
        web::post().to(notifications::request_test_notification),
    )
    .route(
        "/inApps/v1/notifications/history",
        web::post().to(notifications::get_notification_history),
    );
}
