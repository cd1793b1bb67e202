//! The simulator's own admin surface under `/sim/`, for scripts and `storedesk demo`. It is not part of
//! Apple's API, needs no token, and is never affected by injected faults or rate limits.

use actix_web::http::header::CONTENT_TYPE;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use crate::apple_sim::faults::Fault;
use crate::apple_sim::notify::{self, NotificationSpec};
use crate::apple_sim::state::SimState;
use crate::apple_sim::{ConnectRole, SimEnvironment};

fn bad_request(message: impl std::fmt::Display) -> HttpResponse {
    HttpResponse::BadRequest().json(json!({ "error": message.to_string() }))
}

fn parse_env(raw: &str) -> Result<SimEnvironment, Box<HttpResponse>> {
    raw.parse::<SimEnvironment>()
        .map_err(|e| Box::new(bad_request(e)))
}

async fn issue_key(st: web::Data<SimState>) -> HttpResponse {
    let key = st.issue_key();
    HttpResponse::Ok().json(json!({
        "keyId": key.key_id,
        "issuerId": key.issuer_id,
        "privateKey": key.private_key_pem,
        "fileName": key.file_name,
    }))
}

/// `{"role": "APP_MANAGER", "apps": ["1234567890"]}`, both optional: an Admin key for all apps by default.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ConnectKeyBody {
    role: Option<ConnectRole>,
    apps: Option<Vec<AppAppleId>>,
}

/// An App Apple ID as a string (as App Store Connect writes ids) or as a number.
#[derive(Deserialize)]
#[serde(untagged)]
enum AppAppleId {
    Text(String),
    Number(u64),
}

async fn issue_connect_key(st: web::Data<SimState>, body: web::Bytes) -> HttpResponse {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        ConnectKeyBody::default()
    } else {
        match serde_json::from_slice::<ConnectKeyBody>(&body) {
            Ok(b) => b,
            Err(e) => return bad_request(format!("Expected {{\"role\", \"apps\"}}: {e}")),
        }
    };
    let role = body.role.unwrap_or(ConnectRole::Admin);
    let apps = body.apps.map(|apps| {
        apps.into_iter()
            .map(|a| match a {
                AppAppleId::Text(s) => s,
                AppAppleId::Number(n) => n.to_string(),
            })
            .collect::<Vec<_>>()
    });
    let key = st.issue_connect_key(role, apps.clone());
    HttpResponse::Ok().json(json!({
        "keyId": key.key_id,
        "issuerId": key.issuer_id,
        "privateKey": key.private_key_pem,
        "fileName": key.file_name,
        "role": role,
        "apps": apps,
    }))
}

async fn revoke_key(st: web::Data<SimState>, path: web::Path<String>) -> HttpResponse {
    if st.revoke_key(&path) {
        HttpResponse::NoContent().finish()
    } else {
        HttpResponse::NotFound().json(json!({ "error": "no such key" }))
    }
}

async fn root_pem(st: web::Data<SimState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "application/x-pem-file"))
        .body(st.pki.root_pem.clone())
}

#[derive(Deserialize)]
struct UrlBody {
    url: Option<String>,
}

async fn set_notification_url(
    st: web::Data<SimState>,
    path: web::Path<String>,
    body: web::Json<UrlBody>,
) -> HttpResponse {
    let env = match parse_env(&path) {
        Ok(env) => env,
        Err(resp) => return *resp,
    };
    let url = body.into_inner().url.filter(|u| !u.is_empty());
    if let Some(u) = &url {
        if !crate::apple_sim::notify::is_loopback(u).await {
            return bad_request(format!(
                "The simulator posts notifications only to this machine: {u} is not a loopback address."
            ));
        }
    }
    st.set_notification_url(env, url);
    HttpResponse::NoContent().finish()
}

async fn send_notification(
    st: web::Data<SimState>,
    path: web::Path<String>,
    body: web::Json<NotificationSpec>,
) -> HttpResponse {
    let env = match parse_env(&path) {
        Ok(env) => env,
        Err(resp) => return *resp,
    };
    match notify::send(&st, env, body.into_inner()).await {
        Ok(outcome) => HttpResponse::Ok().json(outcome),
        Err(e) => bad_request(format!("{e:#}")),
    }
}

async fn inject_fault(st: web::Data<SimState>, body: web::Json<Fault>) -> HttpResponse {
    st.inject_fault(body.into_inner());
    HttpResponse::NoContent().finish()
}

async fn seed(st: web::Data<SimState>) -> HttpResponse {
    HttpResponse::Ok().json(&st.seed)
}

/// What the app sent to Send Consumption Information, so tests can check it.
async fn consumption(st: web::Data<SimState>) -> HttpResponse {
    HttpResponse::Ok().json(st.consumption_submissions())
}

/// Some other server that accepts whatever is posted to it: App Store Connect's URL may name an old deployment,
/// a proxy or another project, which answer 200 for a notification storedesk never sees. Apple then reports the
/// delivery as `SUCCESS`; pointing a notification URL here reproduces that.
async fn elsewhere(st: web::Data<SimState>) -> HttpResponse {
    st.elsewhere
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    HttpResponse::Ok().finish()
}

pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/keys", web::post().to(issue_key))
        .route("/connect-keys", web::post().to(issue_connect_key))
        .route("/keys/{key_id}/revoke", web::post().to(revoke_key))
        .route("/root.pem", web::get().to(root_pem))
        .route(
            "/notification-url/{env}",
            web::put().to(set_notification_url),
        )
        .route("/notifications/{env}", web::post().to(send_notification))
        .route("/faults", web::post().to(inject_fault))
        .route("/seed", web::get().to(seed))
        .route("/consumption", web::get().to(consumption))
        .route("/elsewhere", web::post().to(elsewhere));
}
