//! Request a Test Notification, Get Test Notification Status, Get Notification History.

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::{gate, json_object, json_ok};
use crate::apple_sim::data::{NotificationRecord, PageCursor, TestNotification, DAY_MS};
use crate::apple_sim::errors::{
    api, ApiResult, GENERAL_BAD_REQUEST, INVALID_END_DATE, INVALID_NOTIFICATION_TYPE,
    INVALID_PAGINATION_TOKEN, INVALID_START_DATE, INVALID_TEST_NOTIFICATION_TOKEN,
    INVALID_TRANSACTION_ID, MULTIPLE_FILTERS_SUPPLIED, PAGINATION_TOKEN_EXPIRED,
    SERVER_NOTIFICATION_URL_NOT_FOUND, START_DATE_AFTER_END_DATE, START_DATE_TOO_FAR_IN_PAST,
    TEST_NOTIFICATION_NOT_FOUND, TRANSACTION_ID_NOT_FOUND,
};
use crate::apple_sim::notify::{self, NotificationSpec};
use crate::apple_sim::paging::PAGE_SIZE;
use crate::apple_sim::query::{is_numeric_id, is_uuid, Query};
use crate::apple_sim::rate_limit::Endpoint;
use crate::apple_sim::state::{lock, SimState};
use crate::apple_sim::SimEnvironment;

/// How long a notification-history pagination token stays usable (Apple does not publish its value).
const PAGINATION_TOKEN_TTL_MS: i64 = DAY_MS;

pub(crate) async fn request_test_notification(
    req: HttpRequest,
    st: web::Data<SimState>,
) -> ApiResult<HttpResponse> {
    let ctx = gate(&req, &st, Endpoint::RequestTestNotification).await?;
    let url = st
        .notification_url(ctx.env)
        .ok_or_else(|| api(SERVER_NOTIFICATION_URL_NOT_FOUND))?;
    let notification_uuid = notify::record_new(&st, ctx.env, &NotificationSpec::new("TEST"))
        .map_err(|e| {
            tracing::warn!(error = %e, "could not build the TEST notification");
            api(crate::apple_sim::errors::GENERAL_INTERNAL)
        })?;
    let token = uuid::Uuid::new_v4().to_string();
    lock(&st.data).test_notifications.insert(
        token.clone(),
        TestNotification {
            env: ctx.env,
            notification_uuid: notification_uuid.clone(),
        },
    );
    // Apple answers first and sends afterwards; the status endpoint says 4040008 until the attempt is done.
    let state: Arc<SimState> = st.into_inner();
    let env = ctx.env;
    tokio::spawn(async move {
        if let Err(e) = notify::deliver(&state, env, &notification_uuid, &url).await {
            tracing::debug!(error = %e, "test notification delivery failed");
        }
    });
    Ok(json_ok(json!({ "testNotificationToken": token })))
}

fn attempts_json(record: &NotificationRecord) -> Value {
    Value::Array(
        record
            .attempts
            .iter()
            .map(|a| json!({ "attemptDate": a.attempt_date_ms, "sendAttemptResult": a.result }))
            .collect(),
    )
}

pub(crate) async fn get_test_notification_status(
    req: HttpRequest,
    st: web::Data<SimState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let ctx = gate(&req, &st, Endpoint::GetTestNotificationStatus).await?;
    let token = path.into_inner();
    if !is_uuid(&token) {
        return Err(api(INVALID_TEST_NOTIFICATION_TOKEN));
    }
    let data = lock(&st.data);
    let test = data
        .test_notifications
        .get(&token)
        .filter(|t| t.env == ctx.env)
        .ok_or_else(|| api(TEST_NOTIFICATION_NOT_FOUND))?;
    let record = data
        .notifications(ctx.env)
        .iter()
        .find(|r| r.notification_uuid == test.notification_uuid)
        .filter(|r| !r.attempts.is_empty())
        .ok_or_else(|| api(TEST_NOTIFICATION_NOT_FOUND))?;
    Ok(json_ok(json!({
        "signedPayload": record.signed_payload,
        "sendAttempts": attempts_json(record),
    })))
}

fn date_field(body: &serde_json::Map<String, Value>, key: &str, code: i64) -> ApiResult<i64> {
    body.get(key)
        .and_then(Value::as_i64)
        .filter(|v| *v >= 0)
        .ok_or_else(|| api(code))
}

fn optional_str<'a>(
    body: &'a serde_json::Map<String, Value>,
    key: &str,
) -> ApiResult<Option<&'a str>> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(api(GENERAL_BAD_REQUEST)),
    }
}

pub(crate) async fn get_notification_history(
    req: HttpRequest,
    st: web::Data<SimState>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let ctx = gate(&req, &st, Endpoint::GetNotificationHistory).await?;
    let q = Query::parse(req.query_string())?;
    let body = json_object(&body)?;
    let start = date_field(&body, "startDate", INVALID_START_DATE)?;
    let end = date_field(&body, "endDate", INVALID_END_DATE)?;
    let window_days = match ctx.env {
        SimEnvironment::Production => 180,
        SimEnvironment::Sandbox => 30,
    };
    if start < ctx.now_ms - window_days * DAY_MS {
        return Err(api(START_DATE_TOO_FAR_IN_PAST));
    }
    if start >= end {
        return Err(api(START_DATE_AFTER_END_DATE));
    }
    let notification_type = optional_str(&body, "notificationType")?;
    let subtype = optional_str(&body, "notificationSubtype")?;
    let transaction_id = optional_str(&body, "transactionId")?;
    let only_failures = match body.get("onlyFailures") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(api(GENERAL_BAD_REQUEST)),
    };
    if notification_type.is_some() && transaction_id.is_some() {
        return Err(api(MULTIPLE_FILTERS_SUPPLIED));
    }
    match (notification_type, subtype) {
        (None, Some(_)) => return Err(api(INVALID_NOTIFICATION_TYPE)),
        (Some(t), s) if !notify::is_valid_filter(t, s) => {
            return Err(api(INVALID_NOTIFICATION_TYPE))
        }
        _ => {}
    }

    let mut data = lock(&st.data);
    let customer = match transaction_id {
        None => None,
        Some(id) if !is_numeric_id(id) => return Err(api(INVALID_TRANSACTION_ID)),
        Some(id) => Some(
            data.customer_of(id)
                .ok_or_else(|| api(TRANSACTION_ID_NOT_FOUND))?,
        ),
    };
    // A future endDate means "until now".
    let end = end.min(ctx.now_ms);
    // The requested endDate, not the clamped one, so that a token stays valid as time passes.
    let requested_end = body.get("endDate");
    let filter_key = format!(
        "{}|{start}|{requested_end:?}|{notification_type:?}|{subtype:?}|{customer:?}|{only_failures}",
        ctx.env,
    );
    let after = match q.one("paginationToken") {
        None => None,
        Some(token) => {
            let cursor = data
                .page_cursors
                .get(token)
                .filter(|c| c.env == ctx.env && c.filter_key == filter_key)
                .ok_or_else(|| api(INVALID_PAGINATION_TOKEN))?;
            if ctx.now_ms - cursor.issued_ms > PAGINATION_TOKEN_TTL_MS {
                return Err(api(PAGINATION_TOKEN_EXPIRED));
            }
            Some(cursor.after.clone())
        }
    };

    let mut records: Vec<&NotificationRecord> = data
        .notifications(ctx.env)
        .iter()
        .filter(|r| r.signed_date_ms >= start && r.signed_date_ms < end)
        .filter(|r| notification_type.is_none_or(|t| r.notification_type == t))
        .filter(|r| subtype.is_none_or(|s| r.subtype.as_deref() == Some(s)))
        .filter(|r| customer.is_none_or(|c| r.customer == Some(c)))
        .filter(|r| !only_failures || !r.delivered())
        .filter(|r| {
            after
                .as_ref()
                .is_none_or(|(d, u)| (r.signed_date_ms, &r.notification_uuid) > (*d, u))
        })
        .collect();
    records.sort_by(|a, b| {
        (a.signed_date_ms, &a.notification_uuid).cmp(&(b.signed_date_ms, &b.notification_uuid))
    });
    let has_more = records.len() > PAGE_SIZE;
    records.truncate(PAGE_SIZE);
    let items: Vec<Value> = records
        .iter()
        .map(|r| json!({ "signedPayload": r.signed_payload, "sendAttempts": attempts_json(r) }))
        .collect();
    let position = records
        .last()
        .map(|r| (r.signed_date_ms, r.notification_uuid.clone()))
        .or(after);
    let token = uuid::Uuid::new_v4().to_string();
    data.page_cursors.insert(
        token.clone(),
        PageCursor {
            env: ctx.env,
            filter_key,
            after: position.unwrap_or((i64::MIN, String::new())),
            issued_ms: ctx.now_ms,
        },
    );
    Ok(json_ok(json!({
        "paginationToken": token,
        "hasMore": has_more,
        "notificationHistory": items,
    })))
}
