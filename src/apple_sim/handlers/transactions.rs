//! Get Transaction Info, Get Transaction History (v2 and V1), Get App Transaction Info, Finish Transaction,
//! Set App Account Token.

use std::cmp::Reverse;

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::{customer_for_path, gate, json_object, json_ok, transaction_for_path};
use crate::apple_sim::data::{id_sort_key, Data, IdKind, ProductKind, Transaction};
use crate::apple_sim::errors::{
    api, ApiResult, APP_TRANSACTION_DOES_NOT_EXIST, APP_TRANSACTION_ID_NOT_SUPPORTED,
    FAMILY_TRANSACTION_NOT_SUPPORTED, INVALID_APP_ACCOUNT_TOKEN_UUID, INVALID_END_DATE,
    INVALID_EXCLUDE_REVOKED, INVALID_IN_APP_OWNERSHIP_TYPE, INVALID_PRODUCT_ID,
    INVALID_PRODUCT_TYPE, INVALID_REVOKED, INVALID_SORT, INVALID_START_DATE,
    INVALID_SUBSCRIPTION_GROUP_IDENTIFIER, INVALID_TRANSACTION_ID,
    ORIGINAL_TRANSACTION_ID_NOT_FOUND, START_DATE_AFTER_END_DATE, TRANSACTION_ID_IS_NOT_ORIGINAL,
};
use crate::apple_sim::paging::{decode_revision, encode_revision, PAGE_SIZE};
use crate::apple_sim::payloads;
use crate::apple_sim::query::{is_numeric_id, is_uuid, parse_bool, Query};
use crate::apple_sim::rate_limit::Endpoint;
use crate::apple_sim::state::{lock, SimState};

pub(crate) async fn get_transaction_info(
    req: HttpRequest,
    st: web::Data<SimState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let ctx = gate(&req, &st, Endpoint::GetTransactionInfo).await?;
    let data = lock(&st.data);
    let tx = transaction_for_path(&data, &path)?;
    let payload = payloads::transaction(&data, tx, &st.app, ctx.env, ctx.now_ms);
    Ok(json_ok(json!({
        "signedTransactionInfo": st.pki.signer.sign(&payload, ctx.corrupt),
    })))
}

pub(crate) async fn get_transaction_history_v2(
    req: HttpRequest,
    st: web::Data<SimState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    history(req, st, path.into_inner(), 2).await
}

pub(crate) async fn get_transaction_history_v1(
    req: HttpRequest,
    st: web::Data<SimState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    history(req, st, path.into_inner(), 1).await
}

fn valid_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 200
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

#[derive(Debug, PartialEq, Eq)]
enum Sort {
    Ascending,
    Descending,
}

/// The history filters, validated in the order Apple's digest lists their error codes.
struct HistoryFilter {
    start: Option<i64>,
    end: Option<i64>,
    product_ids: Vec<String>,
    product_types: Vec<ProductKind>,
    groups: Vec<String>,
    family_shared: Option<bool>,
    revoked: Option<bool>,
    exclude_revoked: bool,
    sort: Sort,
}

fn parse_date(s: Option<&str>, code: i64) -> ApiResult<Option<i64>> {
    match s {
        None => Ok(None),
        Some(v) => match v.parse::<i64>() {
            Ok(ms) if ms >= 0 => Ok(Some(ms)),
            _ => Err(api(code)),
        },
    }
}

impl HistoryFilter {
    fn parse(q: &Query) -> ApiResult<Self> {
        let start = parse_date(q.one("startDate"), INVALID_START_DATE)?;
        let end = parse_date(q.one("endDate"), INVALID_END_DATE)?;
        if let (Some(s), Some(e)) = (start, end) {
            if s >= e {
                return Err(api(START_DATE_AFTER_END_DATE));
            }
        }
        let mut product_ids = Vec::new();
        for p in q.all("productId") {
            if !valid_identifier(p) {
                return Err(api(INVALID_PRODUCT_ID));
            }
            product_ids.push(p.to_owned());
        }
        let mut product_types = Vec::new();
        for t in q.all("productType") {
            product_types
                .push(ProductKind::from_filter(t).ok_or_else(|| api(INVALID_PRODUCT_TYPE))?);
        }
        let mut groups = Vec::new();
        for g in q.all("subscriptionGroupIdentifier") {
            if !valid_identifier(g) {
                return Err(api(INVALID_SUBSCRIPTION_GROUP_IDENTIFIER));
            }
            groups.push(g.to_owned());
        }
        let family_shared = match q.one("inAppOwnershipType") {
            None => None,
            Some("FAMILY_SHARED") => Some(true),
            Some("PURCHASED") => Some(false),
            Some(_) => return Err(api(INVALID_IN_APP_OWNERSHIP_TYPE)),
        };
        let revoked = match q.one("revoked") {
            None => None,
            Some(v) => Some(parse_bool(v).ok_or_else(|| api(INVALID_REVOKED))?),
        };
        let exclude_revoked = match q.one("excludeRevoked") {
            None => false,
            Some(v) => parse_bool(v).ok_or_else(|| api(INVALID_EXCLUDE_REVOKED))?,
        };
        let sort = match q.one("sort") {
            None | Some("ASCENDING") => Sort::Ascending,
            Some("DESCENDING") => Sort::Descending,
            Some(_) => return Err(api(INVALID_SORT)),
        };
        Ok(Self {
            start,
            end,
            product_ids,
            product_types,
            groups,
            family_shared,
            revoked,
            exclude_revoked,
            sort,
        })
    }

    /// A canonical form: the same filters in any parameter order give the same key.
    fn key(&self) -> String {
        let mut products = self.product_ids.clone();
        products.sort();
        let mut types: Vec<String> = self
            .product_types
            .iter()
            .map(|t| format!("{t:?}"))
            .collect();
        types.sort();
        let mut groups = self.groups.clone();
        groups.sort();
        format!(
            "s={:?}|e={:?}|p={}|t={}|g={}|o={:?}|r={:?}|x={}|sort={:?}",
            self.start,
            self.end,
            products.join(","),
            types.join(","),
            groups.join(","),
            self.family_shared,
            self.revoked,
            self.exclude_revoked,
            self.sort
        )
    }

    fn matches(&self, t: &Transaction) -> bool {
        self.start.is_none_or(|s| t.purchase_date_ms >= s)
            && self.end.is_none_or(|e| t.purchase_date_ms < e)
            && (self.product_ids.is_empty() || self.product_ids.iter().any(|p| p == t.product_id))
            && (self.product_types.is_empty() || self.product_types.contains(&t.kind))
            && (self.groups.is_empty()
                || t.group.is_some_and(|g| self.groups.iter().any(|x| x == g)))
            && self.family_shared.is_none_or(|f| t.family_shared == f)
            && self.revoked.is_none_or(|r| t.revocation.is_some() == r)
            && !(self.exclude_revoked && t.revocation.is_some())
    }
}

type SortKey = (i64, (usize, String));

fn sort_key(t: &Transaction) -> SortKey {
    (t.modified_ms, id_sort_key(&t.transaction_id))
}

async fn history(
    req: HttpRequest,
    st: web::Data<SimState>,
    id: String,
    version: u8,
) -> ApiResult<HttpResponse> {
    let endpoint = if version == 2 {
        Endpoint::GetTransactionHistory
    } else {
        Endpoint::GetTransactionHistoryV1
    };
    let ctx = gate(&req, &st, endpoint).await?;
    let q = Query::parse(req.query_string())?;
    if !is_numeric_id(&id) {
        return Err(api(INVALID_TRANSACTION_ID));
    }
    let filter = HistoryFilter::parse(&q)?;
    let data = lock(&st.data);
    let customer = customer_for_path(&data, &id)?;
    let filter_key = format!("v{version}|c{customer}|{}", filter.key());
    let after = match q.one("revision") {
        Some(r) => decode_revision(r, "history", &filter_key)?,
        None => None,
    };
    let after_key: Option<SortKey> = after.as_ref().map(|(d, id)| (*d, id_sort_key(id)));

    let mut items: Vec<&Transaction> = data
        .customer_transactions(customer)
        .filter(|t| filter.matches(t))
        // V1 leaves out consumables the app has finished.
        .filter(|t| version == 2 || !(t.kind == ProductKind::Consumable && t.finished))
        .filter(|t| match (&after_key, &filter.sort) {
            (None, _) => true,
            (Some(a), Sort::Ascending) => sort_key(t) > *a,
            (Some(a), Sort::Descending) => sort_key(t) < *a,
        })
        .collect();
    match filter.sort {
        Sort::Ascending => items.sort_by_key(|t| sort_key(t)),
        Sort::Descending => items.sort_by_key(|t| Reverse(sort_key(t))),
    }
    let has_more = items.len() > PAGE_SIZE;
    items.truncate(PAGE_SIZE);
    let position = items
        .last()
        .map(|t| (t.modified_ms, t.transaction_id.clone()))
        .or(after);
    let signed: Vec<String> = items
        .iter()
        .map(|t| {
            let p = payloads::transaction(&data, t, &st.app, ctx.env, ctx.now_ms);
            st.pki.signer.sign(&p, ctx.corrupt)
        })
        .collect();
    Ok(json_ok(json!({
        "revision": encode_revision("history", &filter_key, position.as_ref()),
        "hasMore": has_more,
        "bundleId": st.app.bundle_id,
        "appAppleId": st.app.app_apple_id,
        "environment": ctx.env.as_str(),
        "signedTransactions": signed,
    })))
}

pub(crate) async fn get_app_transaction_info(
    req: HttpRequest,
    st: web::Data<SimState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let ctx = gate(&req, &st, Endpoint::GetAppTransactionInfo).await?;
    let data = lock(&st.data);
    let customer_index = customer_for_path(&data, &path)?;
    let customer = data
        .customers
        .get(customer_index)
        .filter(|c| c.app_transaction_id.is_some())
        .ok_or_else(|| api(APP_TRANSACTION_DOES_NOT_EXIST))?;
    let payload = payloads::app_transaction(customer, &st.app, ctx.env, ctx.now_ms);
    Ok(json_ok(json!({
        "signedAppTransactionInfo": st.pki.signer.sign(&payload, ctx.corrupt),
    })))
}

pub(crate) async fn finish_transaction(
    req: HttpRequest,
    st: web::Data<SimState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    gate(&req, &st, Endpoint::FinishTransaction).await?;
    let mut data = lock(&st.data);
    let id = transaction_for_path(&data, &path)?.transaction_id.clone();
    if let Some(t) = data.tx_mut(&id) {
        t.finished = true;
    }
    Ok(HttpResponse::Ok().finish())
}

/// The original transaction for Set App Account Token, with that endpoint's own error codes.
fn original_for_token(data: &Data, id: &str) -> ApiResult<String> {
    if !is_numeric_id(id) {
        return Err(api(INVALID_TRANSACTION_ID));
    }
    match data.identify(id) {
        None => Err(api(ORIGINAL_TRANSACTION_ID_NOT_FOUND)),
        Some(IdKind::AppTransaction(_)) => Err(api(APP_TRANSACTION_ID_NOT_SUPPORTED)),
        Some(IdKind::Transaction(i)) => {
            let t = data
                .transactions
                .get(i)
                .ok_or_else(|| api(ORIGINAL_TRANSACTION_ID_NOT_FOUND))?;
            if t.original_transaction_id != t.transaction_id {
                return Err(api(TRANSACTION_ID_IS_NOT_ORIGINAL));
            }
            if t.family_shared {
                return Err(api(FAMILY_TRANSACTION_NOT_SUPPORTED));
            }
            Ok(t.transaction_id.clone())
        }
    }
}

pub(crate) async fn set_app_account_token(
    req: HttpRequest,
    st: web::Data<SimState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let ctx = gate(&req, &st, Endpoint::SetAppAccountToken).await?;
    let mut data = lock(&st.data);
    let original = original_for_token(&data, &path)?;
    let body = json_object(&body)?;
    let token = match body.get("appAccountToken") {
        Some(Value::String(s)) if is_uuid(s) => s.to_ascii_lowercase(),
        _ => return Err(api(INVALID_APP_ACCOUNT_TOKEN_UUID)),
    };
    for t in data
        .transactions
        .iter_mut()
        .filter(|t| t.original_transaction_id == original)
    {
        t.app_account_token = Some(token.clone());
        t.modified_ms = ctx.now_ms;
    }
    Ok(HttpResponse::Ok().finish())
}
