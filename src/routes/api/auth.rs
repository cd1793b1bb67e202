//! The bearer-token check of `/api/v1/...`, in two steps: [`require_token`] (on the whole scope) admits a valid,
//! unrevoked token before anything else is read, and [`require_scope`] (on each route, with the scope the API's
//! route table states) admits the token's own project with a scope that allows the route. A handler takes the
//! result as an [`ApiProject`]:
//!
//! ```ignore
//! async fn handler(api: ApiProject) -> ApiResult { /* api.project, api.client */ }
//! ```
use std::future::Future;
use std::pin::Pin;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};

use super::error::ApiError;
use crate::auth::api_token as token;
use crate::domain::ApiScope;
use crate::state::AppState;
use crate::store::api_tokens::LAST_USED_PRECISION_MS;
use crate::store::{Actor, Project};

/// Who is calling: one unrevoked API token, scoped to one project.
#[derive(Clone, Debug)]
pub struct ApiClient {
    pub token_id: i64,
    pub project_id: i64,
    pub project_slug: String,
    pub scope: ApiScope,
    /// The token's name and public prefix, for audit rows and logs.
    pub name: String,
    pub prefix: String,
    pub ip: String,
}

impl ApiClient {
    /// Refuses (403) unless this token belongs to the project `slug` and its scope covers `needed`.
    /// The project is checked first, so a token never learns what another project would allow.
    pub fn require(&self, slug: &str, needed: ApiScope) -> Result<(), ApiError> {
        if slug != self.project_slug {
            return Err(ApiError::Forbidden(format!(
                "This API token belongs to the project “{}” and cannot be used for “{slug}”.",
                self.project_slug
            )));
        }
        if !self.scope.allows(needed) {
            return Err(ApiError::InsufficientScope {
                needed,
                have: self.scope,
            });
        }
        Ok(())
    }

    /// `require`, then the project itself (a 404 only if it vanished since the token was checked).
    pub async fn project(
        &self,
        state: &AppState,
        slug: &str,
        needed: ApiScope,
    ) -> Result<Project, ApiError> {
        self.require(slug, needed)?;
        state
            .store
            .project_by_slug(slug)
            .await?
            .filter(|p| p.id == self.project_id)
            .ok_or_else(|| ApiError::NotFound(format!("There is no project “{slug}”.")))
    }

    /// The audit log's actor for what this token does.
    pub fn actor(&self) -> Actor {
        Actor {
            user_id: None,
            email: format!("API token “{}” ({})", self.name, self.prefix),
            ip: self.ip.clone(),
        }
    }
}

pub const MISSING: &str =
    "Send an API token in the Authorization header: “Authorization: Bearer sd_…”. Admins create tokens under /admin/api-tokens.";
pub const MALFORMED: &str = "The Authorization header must be “Bearer ” followed by a storedesk API token, which starts with sd_ and is 59 characters long.";
pub const UNKNOWN: &str = "This API token is not valid. Check that it was copied whole, or ask an admin for a new one under /admin/api-tokens.";
pub const REVOKED: &str =
    "This API token was revoked. Ask an admin for a new one under /admin/api-tokens.";

/// A hash no token has, compared against when the prefix is unknown, so that both paths do the same work.
const NO_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

async fn authenticate(req: &HttpRequest) -> Result<ApiClient, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::Unexpected(anyhow::anyhow!("application state missing")))?;
    if req.headers().get(header::AUTHORIZATION).is_none() {
        return Err(ApiError::MissingToken(MISSING.into()));
    }
    let presented = crate::auth::bearer_token(req)
        .and_then(token::parse)
        .ok_or_else(|| ApiError::InvalidToken(MALFORMED.into()))?;
    let row = state.store.api_token_for_auth(presented.prefix).await?;
    let stored_hash = row.as_ref().map_or(NO_HASH, |r| r.token_hash.as_str());
    let genuine = token::matches(presented.whole, stored_hash);
    let Some(row) = row.filter(|_| genuine) else {
        state
            .metrics
            .inc("storedesk_api_auth_failures_total", "reason=\"invalid\"");
        tracing::info!(
            prefix = presented.prefix,
            "API token refused: unknown or wrong"
        );
        return Err(ApiError::InvalidToken(UNKNOWN.into()));
    };
    if row.revoked_at.is_some() {
        state
            .metrics
            .inc("storedesk_api_auth_failures_total", "reason=\"revoked\"");
        tracing::info!(prefix = presented.prefix, "API token refused: revoked");
        return Err(ApiError::InvalidToken(REVOKED.into()));
    }
    let scope = ApiScope::parse(&row.scope).map_err(|_| {
        ApiError::Unexpected(anyhow::anyhow!(
            "API token {} has an unknown scope",
            row.prefix
        ))
    })?;
    let now = crate::clock::now_ms();
    if row
        .last_used_at
        .is_none_or(|at| now - at >= LAST_USED_PRECISION_MS)
    {
        // Bookkeeping only: a failed write must not refuse a genuine caller.
        if let Err(e) = state.store.touch_api_token(row.id, now).await {
            tracing::warn!(error = %e, prefix = %row.prefix, "could not record the API token's last use");
        }
    }
    Ok(ApiClient {
        token_id: row.id,
        project_id: row.project_id,
        project_slug: row.project_slug,
        scope,
        name: row.name,
        prefix: row.prefix,
        ip: crate::auth::session::client_ip(req),
    })
}

/// Middleware of the `/api/v1` scope: checks the token before any extractor reads the body or query, so a
/// caller without a valid token gets 401 and nothing else. The client is left in the request's extensions.
pub async fn require_token(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    match authenticate(req.request()).await {
        Ok(client) => {
            req.extensions_mut().insert(client);
            Ok(next.call(req).await?.map_into_boxed_body())
        }
        Err(e) => Ok(req.error_response(e)),
    }
}

impl FromRequest for ApiClient {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut actix_web::dev::Payload) -> Self::Future {
        let checked = req.extensions().get::<ApiClient>().cloned();
        let req = req.clone();
        Box::pin(async move {
            match checked {
                Some(client) => Ok(client),
                None => authenticate(&req).await,
            }
        })
    }
}

/// A request the API's route table admitted: the calling token and the project named by `{project}`, which is the
/// token's own and its scope allows the route.
#[derive(Clone, Debug)]
pub struct ApiProject {
    pub client: ApiClient,
    pub project: Project,
}

/// Middleware of each API route: the token (already admitted by [`require_token`]) must name this route's project
/// and have the route's scope. Runs before the route's extractors, so a token for another project learns nothing
/// about the body it sent.
pub async fn require_scope(
    scope: ApiScope,
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let admitted = async {
        let client = ApiClient::extract(req.request()).await?;
        let state = req
            .app_data::<web::Data<AppState>>()
            .cloned()
            .ok_or_else(|| ApiError::Unexpected(anyhow::anyhow!("application state missing")))?;
        let slug = req
            .match_info()
            .get("project")
            .unwrap_or_default()
            .to_owned();
        let project = client.project(&state, &slug, scope).await?;
        Ok::<_, ApiError>(ApiProject { client, project })
    };
    match admitted.await {
        Ok(api) => {
            req.extensions_mut().insert(api);
            Ok(next.call(req).await?.map_into_boxed_body())
        }
        Err(e) => Ok(req.error_response(e)),
    }
}

impl FromRequest for ApiProject {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _payload: &mut actix_web::dev::Payload) -> Self::Future {
        std::future::ready(
            req.extensions()
                .get::<ApiProject>()
                .cloned()
                .ok_or_else(|| {
                    ApiError::Unexpected(anyhow::anyhow!(
                        "an API route without its scope in the route table"
                    ))
                }),
        )
    }
}
