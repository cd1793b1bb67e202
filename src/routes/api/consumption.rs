//! The JSON API of automatic consumption answers: `GET /projects/{project}/consumption-requests` lists the requests
//! still open with their deadlines (`read`), and `PUT /projects/{project}/consumption-requests/{notification_id}`
//! gives the project's policy what only the backend knows of one request (`sign`: it makes storedesk act).
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::Serialize;

use super::{json, ok, ApiError, ApiProject, ApiResult};
use crate::notifications::auto_consumption::{check_with_policy, BackendData};
use crate::routes::projects::settings::consumption::PolicyForm;
use crate::state::AppState;
use crate::store::notification_log::{QueueState, CONSUMPTION_DEADLINE_MS};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingRequest {
    /// The id to PUT backend data to.
    pub id: i64,
    pub notification_uuid: String,
    pub transaction_id: Option<String>,
    pub original_transaction_id: Option<String>,
    pub product_id: Option<String>,
    /// The product's reference name in the project's catalog; null without one.
    pub product_name: Option<String>,
    pub environment: String,
    pub signed_date: i64,
    /// Apple's deadline (UNIX ms).
    pub deadline: i64,
    /// What the policy holds for it: `waiting`, `dry_run`, `claimed`, `sent`, `failed`, `skipped` or `person`.
    pub policy_state: String,
    pub backend: Option<serde_json::Value>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingList {
    pub requests: Vec<PendingRequest>,
}

pub async fn list(api: ApiProject, state: web::Data<AppState>) -> ApiResult {
    let now = crate::clock::now_ms();
    let open = state
        .store
        .consumption_queue(api.project.id, QueueState::Open, now, 500)
        .await?;
    let autos = state.store.consumption_autos(api.project.id).await?;
    let names = state.store.catalog_names(api.project.id).await?;
    let requests = open
        .into_iter()
        .map(|r| {
            let n = r.notification;
            let auto = autos.iter().find(|a| a.notification_id == n.id);
            PendingRequest {
                id: n.id,
                deadline: n.signed_date + CONSUMPTION_DEADLINE_MS,
                notification_uuid: n.notification_uuid,
                transaction_id: n.transaction_id,
                original_transaction_id: n.original_transaction_id,
                product_name: n
                    .product_id
                    .as_deref()
                    .and_then(|p| names.product(p))
                    .map(str::to_owned),
                product_id: n.product_id,
                environment: n.environment,
                signed_date: n.signed_date,
                policy_state: auto.map_or_else(|| "waiting".into(), |a| a.state.clone()),
                backend: auto
                    .and_then(|a| a.backend.as_deref())
                    .and_then(|b| serde_json::from_str(b).ok()),
            }
        })
        .collect();
    ok(&PendingList { requests })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Accepted {
    result: &'static str,
    id: i64,
    backend: BackendData,
}

pub async fn put(
    api: ApiProject,
    state: web::Data<AppState>,
    path: web::Path<(String, i64)>,
    body: web::Json<BackendData>,
) -> Result<HttpResponse, ApiError> {
    let (_, id) = path.into_inner();
    let backend = body.into_inner();
    if let Err((field, message)) = backend.check() {
        return Err(ApiError::invalid(field, &message));
    }
    let now = crate::clock::now_ms();
    let request = state
        .store
        .consumption_request(api.project.id, id)
        .await?
        .filter(|r| r.notification.signed_date + CONSUMPTION_DEADLINE_MS > now)
        .ok_or_else(|| {
            ApiError::NotFound(
                "This project has no open consumption request with this id (it may be past Apple's deadline)."
                    .into(),
            )
        })?;
    let conflict = || {
        ApiError::Conflict {
        code: "already_answered",
        message: "This consumption request has been answered (or is being answered); the data was not stored."
            .into(),
    }
    };
    if request.answered_at.is_some() {
        return Err(conflict());
    }
    // Held to Apple's rules as the answer will go out, with the policy's values, so the backend hears now what
    // Apple would refuse rather than the policy failing at its turn. Without a policy yet, the defaults of the form.
    let policy = match state.store.consumption_policy(api.project.id).await? {
        Some(policy) => Some(policy),
        None => PolicyForm::default_for_new().parse(api.project.id, "").ok(),
    };
    if let Some(Err((field, message))) = policy
        .as_ref()
        .map(|p| check_with_policy(p, &backend, &request))
    {
        return Err(ApiError::invalid(field, &message));
    }
    let text = serde_json::to_string(&backend)
        .map_err(|e| ApiError::BadRequest(format!("The data could not be stored: {e}")))?;
    if !state
        .store
        .put_consumption_backend(api.project.id, id, &text)
        .await?
    {
        return Err(conflict());
    }
    state
        .store
        .audit(
            &api.client.actor(),
            "consumption.backend_data",
            Some(api.project.id),
            request
                .notification
                .transaction_id
                .as_deref()
                .unwrap_or_default(),
            &text,
        )
        .await?;
    Ok(json(
        StatusCode::ACCEPTED,
        &Accepted {
            result: "stored",
            id,
            backend,
        },
    ))
}
