//! Get All Subscription Statuses and the renewal-date extension endpoints.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};

use super::{customer_for_path, gate, json_object, json_ok};
use crate::apple_sim::data::{Extension, MassExtensionJob, ProductKind, DAY_MS};
use crate::apple_sim::errors::{
    api, ApiResult, FAMILY_SHARED_SUBSCRIPTION_EXTENSION_INELIGIBLE,
    INVALID_EMPTY_STOREFRONT_COUNTRY_CODE_LIST, INVALID_EXTEND_BY_DAYS, INVALID_EXTEND_REASON_CODE,
    INVALID_ORIGINAL_TRANSACTION_ID, INVALID_PRODUCT_ID, INVALID_REQUEST_IDENTIFIER,
    INVALID_STATUS, INVALID_STOREFRONT_COUNTRY_CODE, ORIGINAL_TRANSACTION_ID_NOT_FOUND,
    STATUS_REQUEST_NOT_FOUND, SUBSCRIPTION_EXTENSION_INELIGIBLE, SUBSCRIPTION_MAX_EXTENSION,
};
use crate::apple_sim::notify::{self, NotificationSpec};
use crate::apple_sim::payloads;
use crate::apple_sim::query::{is_numeric_id, is_uuid, Query};
use crate::apple_sim::rate_limit::Endpoint;
use crate::apple_sim::state::{lock, now_ms, SimState};

/// Apple's cap on one extension.
const MAX_EXTEND_DAYS: i64 = 90;
/// At most this many extensions of one subscription per 365 days.
const MAX_EXTENSIONS_PER_YEAR: usize = 2;
/// Mass extensions run in the background at Apple; here they finish after this delay.
const MASS_EXTENSION_DELAY: Duration = Duration::from_secs(1);

pub(crate) async fn get_all_subscription_statuses(
    req: HttpRequest,
    st: web::Data<SimState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let ctx = gate(&req, &st, Endpoint::GetAllSubscriptionStatuses).await?;
    let q = Query::parse(req.query_string())?;
    let mut wanted = Vec::new();
    for s in q.all("status") {
        match s.parse::<i64>() {
            Ok(v) if (1..=5).contains(&v) => wanted.push(v),
            _ => return Err(api(INVALID_STATUS)),
        }
    }
    let data = lock(&st.data);
    let customer = customer_for_path(&data, &path)?;
    let mut groups: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    for sub in data
        .subscriptions
        .values()
        .filter(|s| s.customer == customer)
    {
        if !wanted.is_empty() && !wanted.contains(&sub.status) {
            continue;
        }
        let Some(latest) = data.latest_of(&sub.original_transaction_id) else {
            continue;
        };
        let tx = payloads::transaction(&data, latest, &st.app, ctx.env, ctx.now_ms);
        let renewal = payloads::renewal(&data, sub, ctx.env, ctx.now_ms);
        groups.entry(sub.group).or_default().push(json!({
            "status": sub.status,
            "originalTransactionId": sub.original_transaction_id,
            "signedTransactionInfo": st.pki.signer.sign(&tx, ctx.corrupt),
            "signedRenewalInfo": st.pki.signer.sign(&renewal, ctx.corrupt),
        }));
    }
    let items: Vec<Value> = groups
        .into_iter()
        .map(|(group, last)| json!({ "subscriptionGroupIdentifier": group, "lastTransactions": last }))
        .collect();
    Ok(json_ok(json!({
        "environment": ctx.env.as_str(),
        "bundleId": st.app.bundle_id,
        "appAppleId": st.app.app_apple_id,
        "data": items,
    })))
}

fn int_in(
    body: &Map<String, Value>,
    key: &str,
    range: std::ops::RangeInclusive<i64>,
    code: i64,
) -> ApiResult<i64> {
    body.get(key)
        .and_then(Value::as_i64)
        .filter(|v| range.contains(v))
        .ok_or_else(|| api(code))
}

pub(crate) async fn extend_renewal_date(
    req: HttpRequest,
    st: web::Data<SimState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let ctx = gate(&req, &st, Endpoint::ExtendSubscriptionRenewalDate).await?;
    let id = path.into_inner();
    if !is_numeric_id(&id) {
        return Err(api(INVALID_ORIGINAL_TRANSACTION_ID));
    }
    let body = json_object(&body)?;
    let days = int_in(
        &body,
        "extendByDays",
        1..=MAX_EXTEND_DAYS,
        INVALID_EXTEND_BY_DAYS,
    )?;
    int_in(&body, "extendReasonCode", 0..=3, INVALID_EXTEND_REASON_CODE)?;
    let request_identifier = body
        .get("requestIdentifier")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty() && s.len() <= 128)
        .ok_or_else(|| api(INVALID_REQUEST_IDENTIFIER))?
        .to_owned();

    let mut received = json!({
        "originalTransactionId": id,
        "requestIdentifier": request_identifier,
        "extendByDays": days,
        "applied": false,
        "receivedAt": ctx.now_ms,
    });
    let outcome = extend(&st, &ctx, &id, days, request_identifier);
    received["applied"] = json!(outcome.as_ref().is_ok_and(|(_, applied)| *applied));
    lock(&st.extension_requests).push(received);
    let (response, _) = outcome?;
    match ctx.then_error {
        Some(code) => Err(api(code)),
        None => Ok(response),
    }
}

/// Applies one extension; `true` with the answer when it moved the renewal date.
fn extend(
    st: &SimState,
    ctx: &super::Ctx,
    id: &str,
    days: i64,
    request_identifier: String,
) -> ApiResult<(HttpResponse, bool)> {
    let mut data = lock(&st.data);
    if !data.is_original_id(id) {
        return Err(api(ORIGINAL_TRANSACTION_ID_NOT_FOUND));
    }
    let answer = |original: &str, e: &Extension| {
        json_ok(json!({
            "originalTransactionId": original,
            "webOrderLineItemId": e.web_order_line_item_id,
            "success": true,
            "effectiveDate": e.effective_date_ms,
        }))
    };
    let Some(sub) = data.subscriptions.get(id) else {
        return Err(api(SUBSCRIPTION_EXTENSION_INELIGIBLE));
    };
    // The same requestIdentifier again is answered, not applied twice (unless the switch is off).
    if let Some(e) = sub
        .extensions
        .iter()
        .find(|e| st.dedupe_extensions && e.request_identifier == request_identifier)
    {
        return Ok((answer(id, e), false));
    }
    let latest = data
        .latest_of(id)
        .ok_or_else(|| api(ORIGINAL_TRANSACTION_ID_NOT_FOUND))?;
    if latest.family_shared {
        return Err(api(FAMILY_SHARED_SUBSCRIPTION_EXTENSION_INELIGIBLE));
    }
    // Only an active, paid period: not a revoked one, nor a free trial or other free offer period.
    let free_offer = latest
        .offer
        .as_ref()
        .is_some_and(|o| o.discount_type == Some("FREE_TRIAL"));
    if sub.status != 1 || latest.revocation.is_some() || free_offer {
        return Err(api(SUBSCRIPTION_EXTENSION_INELIGIBLE));
    }
    let recent = sub
        .extensions
        .iter()
        .filter(|e| ctx.now_ms - e.at_ms < 365 * DAY_MS)
        .count();
    if recent >= MAX_EXTENSIONS_PER_YEAR {
        return Err(api(SUBSCRIPTION_MAX_EXTENSION));
    }
    let Some(latest) = data.latest_of_mut(id) else {
        return Err(api(ORIGINAL_TRANSACTION_ID_NOT_FOUND));
    };
    let effective = latest.expires_date_ms.unwrap_or(ctx.now_ms) + days * DAY_MS;
    latest.expires_date_ms = Some(effective);
    latest.modified_ms = ctx.now_ms;
    let extension = Extension {
        request_identifier,
        at_ms: ctx.now_ms,
        effective_date_ms: effective,
        web_order_line_item_id: latest.web_order_line_item_id.clone().unwrap_or_default(),
    };
    let response = answer(id, &extension);
    if let Some(sub) = data.subscriptions.get_mut(id) {
        sub.extensions.push(extension);
    }
    Ok((response, true))
}

pub(crate) async fn extend_for_all_active_subscribers(
    req: HttpRequest,
    st: web::Data<SimState>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let ctx = gate(&req, &st, Endpoint::MassExtendRenewalDate).await?;
    let body = json_object(&body)?;
    let request_identifier = body
        .get("requestIdentifier")
        .and_then(Value::as_str)
        .filter(|s| is_uuid(s))
        .ok_or_else(|| api(INVALID_REQUEST_IDENTIFIER))?
        .to_owned();
    let days = int_in(
        &body,
        "extendByDays",
        1..=MAX_EXTEND_DAYS,
        INVALID_EXTEND_BY_DAYS,
    )?;
    int_in(&body, "extendReasonCode", 0..=3, INVALID_EXTEND_REASON_CODE)?;
    let product_id = body
        .get("productId")
        .and_then(Value::as_str)
        .ok_or_else(|| api(INVALID_PRODUCT_ID))?
        .to_owned();
    let storefronts: Option<Vec<String>> = match body.get("storefrontCountryCodes") {
        None | Some(Value::Null) => None,
        Some(Value::Array(codes)) => {
            if codes.is_empty() {
                return Err(api(INVALID_EMPTY_STOREFRONT_COUNTRY_CODE_LIST));
            }
            let mut list = Vec::new();
            for c in codes {
                match c.as_str() {
                    Some(s) if crate::domain::is_storefront_country_code(s) => {
                        list.push(s.to_owned())
                    }
                    _ => return Err(api(INVALID_STOREFRONT_COUNTRY_CODE)),
                }
            }
            Some(list)
        }
        Some(_) => return Err(api(INVALID_STOREFRONT_COUNTRY_CODE)),
    };
    {
        let mut data = lock(&st.data);
        if data
            .product(&product_id)
            .is_none_or(|p| p.kind != ProductKind::AutoRenewable)
        {
            return Err(api(INVALID_PRODUCT_ID));
        }
        let key = (product_id.clone(), request_identifier.clone());
        if data.mass_jobs.contains_key(&key) {
            return match ctx.then_error {
                Some(code) => Err(api(code)),
                None => Ok(json_ok(json!({ "requestIdentifier": request_identifier }))),
            };
        }
        data.mass_jobs.insert(
            key.clone(),
            MassExtensionJob {
                env: ctx.env,
                storefronts: storefronts.clone(),
                complete: false,
                complete_date_ms: None,
                succeeded: 0,
                failed: 0,
            },
        );
    }
    let state: Arc<SimState> = st.into_inner();
    let env = ctx.env;
    tokio::spawn(async move {
        tokio::time::sleep(MASS_EXTENSION_DELAY).await;
        let extended = run_mass_extension(
            &state,
            &product_id,
            &request_identifier,
            days,
            storefronts.as_deref(),
        );
        // As Apple does: RENEWAL_EXTENDED for each subscription extended, then one RENEWAL_EXTENSION / SUMMARY, to
        // the environment's notification URL when one is set.
        if state.notification_url(env).is_none() {
            return;
        }
        for original in extended {
            let spec = NotificationSpec::new("RENEWAL_EXTENDED").transaction(&original);
            if let Err(e) = notify::send(&state, env, spec).await {
                tracing::debug!(error = %e, "RENEWAL_EXTENDED not sent");
            }
        }
        let summary = NotificationSpec::new("RENEWAL_EXTENSION")
            .subtype("SUMMARY")
            .mass_request(&request_identifier);
        if let Err(e) = notify::send(&state, env, summary).await {
            tracing::debug!(error = %e, "the mass extension's summary was not sent");
        }
    });
    if let Some(code) = ctx.then_error {
        return Err(api(code));
    }
    Ok(json_ok(
        json!({ "requestIdentifier": body.get("requestIdentifier") }),
    ))
}

fn run_mass_extension(
    st: &SimState,
    product_id: &str,
    request_identifier: &str,
    days: i64,
    storefronts: Option<&[String]>,
) -> Vec<String> {
    let now = now_ms();
    let mut data = lock(&st.data);
    let candidates: Vec<(String, bool)> = data
        .subscriptions
        .values()
        .filter(|s| s.status == 1)
        .filter_map(|s| {
            let latest = data.latest_of(&s.original_transaction_id)?;
            let country = data.customers.get(s.customer)?.storefront.country;
            let in_storefront = storefronts.is_none_or(|list| list.iter().any(|c| c == country));
            (latest.product_id == product_id && in_storefront)
                .then(|| (s.original_transaction_id.clone(), latest.family_shared))
        })
        .collect();
    let (mut succeeded, mut failed) = (0, 0);
    let mut extended = Vec::new();
    for (original, family_shared) in candidates {
        if family_shared {
            failed += 1;
            continue;
        }
        let Some(latest) = data.latest_of_mut(&original) else {
            failed += 1;
            continue;
        };
        let effective = latest.expires_date_ms.unwrap_or(now) + days * DAY_MS;
        latest.expires_date_ms = Some(effective);
        latest.modified_ms = now;
        let line_item = latest.web_order_line_item_id.clone().unwrap_or_default();
        if let Some(sub) = data.subscriptions.get_mut(&original) {
            sub.extensions.push(Extension {
                request_identifier: request_identifier.to_owned(),
                at_ms: now,
                effective_date_ms: effective,
                web_order_line_item_id: line_item,
            });
        }
        succeeded += 1;
        extended.push(original);
    }
    if let Some(job) = data
        .mass_jobs
        .get_mut(&(product_id.to_owned(), request_identifier.to_owned()))
    {
        job.complete = true;
        job.complete_date_ms = Some(now);
        job.succeeded = succeeded;
        job.failed = failed;
    }
    extended
}

pub(crate) async fn get_mass_extension_status(
    req: HttpRequest,
    st: web::Data<SimState>,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    gate(&req, &st, Endpoint::GetMassExtendStatus).await?;
    let (product_id, request_identifier) = path.into_inner();
    let data = lock(&st.data);
    let job = data
        .mass_jobs
        .get(&(product_id, request_identifier.clone()))
        .ok_or_else(|| api(STATUS_REQUEST_NOT_FOUND))?;
    let mut body = json!({
        "requestIdentifier": request_identifier,
        "complete": job.complete,
        "succeededCount": job.succeeded,
        "failedCount": job.failed,
    });
    if let (Some(date), Some(map)) = (job.complete_date_ms, body.as_object_mut()) {
        map.insert("completeDate".into(), json!(date));
    }
    tracing::trace!(env = %job.env, "mass extension status");
    Ok(json_ok(body))
}
