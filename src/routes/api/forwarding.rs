//! The JSON API of forwarding: `GET /projects/{project}/forwarding/deliveries` (the delivery log, filtered and
//! paged newest first, like the destination's page) with the `read` scope, and
//! `POST /projects/{project}/forwarding/deliveries/{notification_id}/redeliver?destination=ID` with the `sign`
//! scope: a read token only reads, and `sign` is the scope that already makes storedesk act for the backend.
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

use super::{json, ok, ApiError, ApiProject, ApiResult};
use crate::state::AppState;
use crate::store::forwarding::{DeliveryLogRow, LogFilter, StatusFilter};
use crate::store::StoreError;

const MAX_LIMIT: i64 = 200;

#[derive(Deserialize, Default)]
pub struct DeliveriesQuery {
    #[serde(default)]
    pub destination: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub environment: Option<String>,
    #[serde(default)]
    pub before: Option<String>,
    #[serde(default)]
    pub limit: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryJson {
    pub id: i64,
    pub destination_id: i64,
    pub notification_id: i64,
    pub notification_uuid: String,
    /// The `webhook-id` every attempt of this delivery carries.
    pub webhook_id: String,
    pub notification_type: String,
    pub subtype: Option<String>,
    pub environment: String,
    pub signed_date: i64,
    /// `delivered`, `waiting`, `retrying` or `dead`.
    pub status: &'static str,
    pub origin: String,
    pub attempts: i64,
    pub created_at: i64,
    pub round_started_at: i64,
    pub next_attempt_at: Option<i64>,
    pub last_attempt_at: Option<i64>,
    pub delivered_at: Option<i64>,
    pub last_status: Option<i64>,
    pub last_latency_ms: Option<i64>,
    pub last_error: Option<String>,
    pub last_response: Option<String>,
}

impl DeliveryJson {
    fn of(d: DeliveryLogRow) -> Self {
        let status = d.shown_status().as_str();
        DeliveryJson {
            webhook_id: crate::forwarding::sign::webhook_id(&d.notification_uuid),
            next_attempt_at: (d.status == "pending").then_some(d.next_attempt_at),
            id: d.id,
            destination_id: d.destination_id,
            notification_id: d.notification_id,
            notification_uuid: d.notification_uuid,
            notification_type: d.notification_type,
            subtype: d.subtype,
            environment: d.environment,
            signed_date: d.signed_date,
            status,
            origin: d.origin,
            attempts: d.attempts,
            created_at: d.created_at,
            round_started_at: d.round_started_at,
            last_attempt_at: d.last_attempt_at,
            delivered_at: d.delivered_at,
            last_status: d.last_status,
            last_latency_ms: d.last_latency_ms,
            last_error: d.last_error,
            last_response: d.last_response,
        }
    }
}

#[derive(Serialize)]
pub struct DeliveriesJson {
    pub deliveries: Vec<DeliveryJson>,
    /// The next (older) page, or null.
    pub next: Option<String>,
}

fn number(field: &str, value: &Option<String>, sentence: &str) -> Result<Option<i64>, ApiError> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| *n > 0)
            .map(Some)
            .ok_or_else(|| ApiError::invalid(field, sentence)),
    }
}

pub async fn deliveries(
    api: ApiProject,
    state: web::Data<AppState>,
    query: web::Query<DeliveriesQuery>,
) -> ApiResult {
    let destination = number(
        "destination",
        &query.destination,
        "destination is a destination's id, a number (see its page's address).",
    )?;
    let status = match query.status.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(s) => Some(StatusFilter::parse(s).ok_or_else(|| {
            ApiError::invalid("status", "status is delivered, waiting, retrying or dead.")
        })?),
    };
    let environment = match query.environment.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(e @ ("Production" | "Sandbox")) => Some(e.to_owned()),
        Some(_) => {
            return Err(ApiError::invalid(
                "environment",
                "environment is Production or Sandbox.",
            ))
        }
    };
    let before = number(
        "before",
        &query.before,
        "before is a delivery id, a number (take next from the previous answer).",
    )?;
    let limit = number("limit", &query.limit, "limit is a number from 1 to 200.")?.unwrap_or(50);
    if limit > MAX_LIMIT {
        return Err(ApiError::invalid(
            "limit",
            "limit is a number from 1 to 200.",
        ));
    }
    let filter = LogFilter {
        destination_id: destination,
        status,
        environment: environment.clone(),
        before,
        limit,
    };
    let rows = state
        .store
        .forward_delivery_log(api.project.id, &filter)
        .await?;
    let next = (i64::try_from(rows.len()).unwrap_or(0) >= limit)
        .then(|| rows.last().map(|r| r.id))
        .flatten()
        .map(|last| {
            let mut pairs = vec![("before", last.to_string()), ("limit", limit.to_string())];
            if let Some(d) = destination {
                pairs.push(("destination", d.to_string()));
            }
            if let Some(s) = status {
                pairs.push(("status", s.as_str().to_owned()));
            }
            if let Some(e) = &environment {
                pairs.push(("environment", e.clone()));
            }
            crate::urls::link(
                &crate::urls::api_forward_deliveries(&api.project.slug),
                &pairs,
            )
        });
    ok(&DeliveriesJson {
        deliveries: rows.into_iter().map(DeliveryJson::of).collect(),
        next,
    })
}

#[derive(Deserialize, Default)]
pub struct RedeliverQuery {
    #[serde(default)]
    pub destination: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Redelivered {
    pub result: &'static str,
    pub notification_id: i64,
    pub destination_id: i64,
}

pub async fn redeliver(
    api: ApiProject,
    state: web::Data<AppState>,
    path: web::Path<(String, i64)>,
    query: web::Query<RedeliverQuery>,
) -> Result<HttpResponse, ApiError> {
    let (_, notification_id) = path.into_inner();
    let Some(destination) = number(
        "destination",
        &query.destination,
        "destination is a destination's id, a number.",
    )?
    else {
        return Err(ApiError::invalid(
            "destination",
            "Name the destination to redeliver to: ?destination=<its id>.",
        ));
    };
    match state
        .store
        .redeliver(
            api.project.id,
            notification_id,
            destination,
            &api.client.actor(),
        )
        .await
    {
        Ok(()) => Ok(json(
            actix_web::http::StatusCode::ACCEPTED,
            &Redelivered {
                result: "queued",
                notification_id,
                destination_id: destination,
            },
        )),
        Err(StoreError::NotFound) => Err(ApiError::NotFound(
            "This project has no such notification or destination.".into(),
        )),
        Err(e) => Err(e.into()),
    }
}
