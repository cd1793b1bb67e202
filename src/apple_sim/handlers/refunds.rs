//! Get Refund History (v2) and Look Up Order ID.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::{customer_for_path, gate, json_ok};
use crate::apple_sim::data::{id_sort_key, Transaction};
use crate::apple_sim::errors::{api, ApiResult, GENERAL_BAD_REQUEST};
use crate::apple_sim::paging::{decode_revision, encode_revision, PAGE_SIZE};
use crate::apple_sim::payloads;
use crate::apple_sim::query::Query;
use crate::apple_sim::rate_limit::Endpoint;
use crate::apple_sim::state::{lock, SimState};
use crate::apple_sim::SimEnvironment;

fn refund_key(t: &Transaction) -> (i64, (usize, String)) {
    let date = t.revocation.as_ref().map(|r| r.date_ms).unwrap_or_default();
    (date, id_sort_key(&t.transaction_id))
}

pub(crate) async fn get_refund_history(
    req: HttpRequest,
    st: web::Data<SimState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let ctx = gate(&req, &st, Endpoint::GetRefundHistory).await?;
    let q = Query::parse(req.query_string())?;
    let data = lock(&st.data);
    let customer = customer_for_path(&data, &path)?;
    let filter_key = format!("c{customer}");
    let after = match q.one("revision") {
        Some(r) => decode_revision(r, "refunds", &filter_key)?,
        None => None,
    };
    let after_key = after.as_ref().map(|(d, id)| (*d, id_sort_key(id)));
    let mut refunds: Vec<&Transaction> = data
        .customer_transactions(customer)
        .filter(|t| t.revocation.is_some())
        .filter(|t| after_key.as_ref().is_none_or(|a| refund_key(t) > *a))
        .collect();
    refunds.sort_by_key(|t| refund_key(t));
    let has_more = refunds.len() > PAGE_SIZE;
    refunds.truncate(PAGE_SIZE);
    // A revision from the last page stays valid: reused later, it returns only newer refunds.
    let position = refunds
        .last()
        .map(|t| (refund_key(t).0, t.transaction_id.clone()))
        .or(after);
    let signed: Vec<String> = refunds
        .iter()
        .map(|t| {
            let p = payloads::transaction(&data, t, &st.app, ctx.env, ctx.now_ms);
            st.pki.signer.sign(&p, ctx.corrupt)
        })
        .collect();
    Ok(json_ok(json!({
        "signedTransactions": signed,
        "revision": encode_revision("refunds", &filter_key, position.as_ref()),
        "hasMore": has_more,
    })))
}

/// Unknown orders are not an error at Apple: 200 with status 1. The sandbox has no order ids at all, so it
/// always answers status 1 (older Apple docs say the endpoint is unavailable there).
pub(crate) async fn look_up_order_id(
    req: HttpRequest,
    st: web::Data<SimState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let ctx = gate(&req, &st, Endpoint::LookUpOrderId).await?;
    let order_id = path.into_inner();
    if order_id.is_empty()
        || order_id.len() > 64
        || !order_id.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return Err(api(GENERAL_BAD_REQUEST));
    }
    if ctx.env == SimEnvironment::Sandbox {
        return Ok(json_ok(json!({ "status": 1 })));
    }
    let data = lock(&st.data);
    let Some(ids) = data.orders.get(&order_id.to_ascii_uppercase()) else {
        return Ok(json_ok(json!({ "status": 1 })));
    };
    let signed: Vec<String> = ids
        .iter()
        .filter_map(|id| data.tx(id))
        .map(|t| {
            let p = payloads::transaction(&data, t, &st.app, ctx.env, ctx.now_ms);
            st.pki.signer.sign(&p, ctx.corrupt)
        })
        .collect();
    Ok(json_ok(
        json!({ "status": 0, "signedTransactions": signed }),
    ))
}
