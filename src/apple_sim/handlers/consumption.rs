//! Send Consumption Information (v2, current) and its deprecated V1.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{Map, Value};

use super::{gate, json_object, transaction_for_path};
use crate::apple_sim::data::{ConsumptionRecord, ProductKind};
use crate::apple_sim::errors::{
    api, ApiResult, CONSUMPTION_PERCENTAGE_AUTO_RENEWABLE, FAMILY_TRANSACTION_NOT_SUPPORTED,
    GENERAL_BAD_REQUEST, INVALID_ACCOUNT_TENURE, INVALID_APP_ACCOUNT_TOKEN,
    INVALID_CONSUMPTION_STATUS, INVALID_CUSTOMER_CONSENTED, INVALID_DELIVERY_STATUS,
    INVALID_LIFETIME_DOLLARS_PURCHASED, INVALID_LIFETIME_DOLLARS_REFUNDED, INVALID_PLATFORM,
    INVALID_PLAY_TIME, INVALID_REFUND_PREFERENCE, INVALID_SAMPLE_CONTENT_PROVIDED,
    INVALID_USER_STATUS,
};
use crate::apple_sim::query::is_uuid;
use crate::apple_sim::rate_limit::Endpoint;
use crate::apple_sim::state::{lock, SimState};

const DELIVERY_STATUSES: &[&str] = &[
    "DELIVERED",
    "UNDELIVERED_QUALITY_ISSUE",
    "UNDELIVERED_WRONG_ITEM",
    "UNDELIVERED_SERVER_OUTAGE",
    "UNDELIVERED_OTHER",
];
const REFUND_PREFERENCES: &[&str] = &["DECLINE", "GRANT_FULL", "GRANT_PRORATED"];
/// Milliunits: 100000 is 100 %.
const MAX_CONSUMPTION_PERCENTAGE: i64 = 100_000;

fn customer_consented(body: &Map<String, Value>) -> ApiResult<()> {
    match body.get("customerConsented") {
        Some(Value::Bool(true)) => Ok(()),
        _ => Err(api(INVALID_CUSTOMER_CONSENTED)),
    }
}

fn sample_content_provided(body: &Map<String, Value>) -> ApiResult<()> {
    match body.get("sampleContentProvided") {
        Some(Value::Bool(_)) => Ok(()),
        _ => Err(api(INVALID_SAMPLE_CONTENT_PROVIDED)),
    }
}

pub(crate) async fn send_consumption_v2(
    req: HttpRequest,
    st: web::Data<SimState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let ctx = gate(&req, &st, Endpoint::SendConsumptionInformation).await?;
    let mut data = lock(&st.data);
    let tx = transaction_for_path(&data, &path)?;
    if tx.family_shared {
        return Err(api(FAMILY_TRANSACTION_NOT_SUPPORTED));
    }
    let auto_renewable = tx.kind == ProductKind::AutoRenewable;
    let transaction_id = tx.transaction_id.clone();
    let body = json_object(&body)?;
    customer_consented(&body)?;
    sample_content_provided(&body)?;
    let delivery = body
        .get("deliveryStatus")
        .and_then(Value::as_str)
        .filter(|s| DELIVERY_STATUSES.contains(s))
        .ok_or_else(|| api(INVALID_DELIVERY_STATUS))?;
    let refund_preference = match body.get("refundPreference") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_str()
                .filter(|s| REFUND_PREFERENCES.contains(s))
                .ok_or_else(|| api(INVALID_REFUND_PREFERENCE))?,
        ),
    };
    let percentage = match body.get("consumptionPercentage") {
        None | Some(Value::Null) => None,
        // Apple's codes for ConsumptionPercentageOutOfRange and UndeliveredConsumptionPercentageNonZero are not
        // published; 4000000 stands in for them.
        Some(v) => Some(
            v.as_i64()
                .filter(|p| (0..=MAX_CONSUMPTION_PERCENTAGE).contains(p))
                .ok_or_else(|| api(GENERAL_BAD_REQUEST))?,
        ),
    };
    // Apple computes an auto-renewable subscription's consumption from the time used and refuses any share.
    if auto_renewable && percentage.is_some() {
        return Err(api(CONSUMPTION_PERCENTAGE_AUTO_RENEWABLE));
    }
    if delivery != "DELIVERED" && percentage.is_some_and(|p| p != 0) {
        return Err(api(GENERAL_BAD_REQUEST));
    }
    // A prorated refund of anything else needs a share strictly between 0 and 100 %.
    if !auto_renewable
        && refund_preference == Some("GRANT_PRORATED")
        && !percentage.is_some_and(|p| p > 0 && p < MAX_CONSUMPTION_PERCENTAGE)
    {
        return Err(api(GENERAL_BAD_REQUEST));
    }
    data.consumption.push(ConsumptionRecord {
        transaction_id,
        body: Value::Object(body),
        at_ms: ctx.now_ms,
    });
    Ok(HttpResponse::Accepted().finish())
}

fn int_field(body: &Map<String, Value>, key: &str, max: i64, code: i64) -> ApiResult<()> {
    match body.get(key).and_then(Value::as_i64) {
        Some(v) if (0..=max).contains(&v) => Ok(()),
        _ => Err(api(code)),
    }
}

pub(crate) async fn send_consumption_v1(
    req: HttpRequest,
    st: web::Data<SimState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let ctx = gate(&req, &st, Endpoint::SendConsumptionInformationV1).await?;
    let mut data = lock(&st.data);
    let transaction_id = transaction_for_path(&data, &path)?.transaction_id.clone();
    let body = json_object(&body)?;
    customer_consented(&body)?;
    int_field(&body, "consumptionStatus", 3, INVALID_CONSUMPTION_STATUS)?;
    int_field(&body, "platform", 2, INVALID_PLATFORM)?;
    sample_content_provided(&body)?;
    int_field(&body, "deliveryStatus", 5, INVALID_DELIVERY_STATUS)?;
    match body.get("appAccountToken") {
        Some(Value::String(s)) if s.is_empty() || is_uuid(s) => {}
        _ => return Err(api(INVALID_APP_ACCOUNT_TOKEN)),
    }
    int_field(&body, "accountTenure", 7, INVALID_ACCOUNT_TENURE)?;
    int_field(&body, "playTime", 7, INVALID_PLAY_TIME)?;
    int_field(
        &body,
        "lifetimeDollarsRefunded",
        7,
        INVALID_LIFETIME_DOLLARS_REFUNDED,
    )?;
    int_field(
        &body,
        "lifetimeDollarsPurchased",
        7,
        INVALID_LIFETIME_DOLLARS_PURCHASED,
    )?;
    int_field(&body, "userStatus", 4, INVALID_USER_STATUS)?;
    if body.get("refundPreference").is_some_and(|v| !v.is_null()) {
        int_field(&body, "refundPreference", 3, INVALID_REFUND_PREFERENCE)?;
    }
    data.consumption.push(ConsumptionRecord {
        transaction_id,
        body: Value::Object(body),
        at_ms: ctx.now_ms,
    });
    Ok(HttpResponse::Accepted().finish())
}
