//! Errors of the JSON API. Every one answers `{"error": {"code", "message", "request_id"}}` (the shape of
//! `AppError::json_response`), so a client can branch on `code` and a person can quote the request id.
use std::collections::BTreeMap;

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};

use crate::apple::failure::Answer;
use crate::apple::{AppleError, ProblemKind};
use crate::domain::ApiScope;
use crate::error::{current_request_id, AppError};
use crate::support::AppleProblem;

/// `WWW-Authenticate` for a request without a usable token (RFC 6750).
const CHALLENGE: &str = "Bearer realm=\"storedesk\"";
const CHALLENGE_INVALID: &str = "Bearer realm=\"storedesk\", error=\"invalid_token\"";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 401: no token was sent. Answered with a bare `WWW-Authenticate: Bearer` challenge.
    #[error("{0}")]
    MissingToken(String),
    /// 401: a token was sent but is malformed, unknown, wrong or revoked.
    #[error("{0}")]
    InvalidToken(String),
    /// 403: a valid token for another project.
    #[error("{0}")]
    Forbidden(String),
    /// 403: a valid token whose scope is too small for this endpoint.
    #[error("This endpoint needs an API token with the {needed} scope; this token has the {have} scope. Create a {needed} token under /admin/api-tokens.")]
    InsufficientScope { needed: ApiScope, have: ApiScope },
    /// 404 with a sentence saying what was not found.
    #[error("{0}")]
    NotFound(String),
    #[error("This endpoint does not accept {method}; use {allowed}.")]
    MethodNotAllowed {
        method: String,
        allowed: &'static str,
    },
    /// 400: the body could not be read as the JSON this endpoint expects.
    #[error("{0}")]
    BadRequest(String),
    /// 422: the JSON was read, but values in it are not acceptable. Keys of `fields` are the JSON field names.
    #[error("{}", .0.values().cloned().collect::<Vec<_>>().join(" "))]
    Invalid(BTreeMap<String, String>),
    /// 409: the project is not in a state to do this (e.g. it has no key in use); `code` says which state.
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// Apple refused or could not be reached; mapped by `apple::ProblemKind`'s table to a status that says whose
    /// problem it is.
    #[error("{}", .0.sentence())]
    Apple(AppleError),
    /// A look-up of the support desk found nothing to show because of `problem` (Apple said "no such thing",
    /// could not answer while storedesk's index had nothing either, or there is no key). Mapped like `Apple`;
    /// `message` is the support desk's whole sentence.
    #[error("{message}")]
    Lookup {
        problem: AppleProblem,
        message: String,
    },
    /// 503: the database is out of reach (the same sentence as the pages').
    #[error("{}", crate::error::DATABASE_UNAVAILABLE)]
    DatabaseUnavailable,
    #[error("storedesk could not finish this request. Nothing secret was exposed; the details are in the server log under the request id.")]
    Unexpected(#[source] anyhow::Error),
}

impl ApiError {
    /// One field with one sentence, the common case of a 422.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        ApiError::Invalid(BTreeMap::from([(field.to_string(), message.into())]))
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::MissingToken(_) | ApiError::InvalidToken(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::InsufficientScope { .. } => "insufficient_scope",
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed { .. } => "method_not_allowed",
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Invalid(_) => "invalid_request",
            ApiError::Conflict { code, .. } => code,
            ApiError::Apple(e) => ProblemKind::of(e).answer().code,
            ApiError::Lookup { problem, .. } => problem.kind.answer().code,
            ApiError::DatabaseUnavailable => "database_unavailable",
            ApiError::Unexpected(_) => "internal",
        }
    }
}

/// The status of a row of the one table of Apple's failures (`apple::failure`), which an Apple error and a
/// look-up's problem both answer by, so the two can't disagree. The table's statuses are all valid; 500 is only
/// the conversion's fallback.
fn status_of(answer: Answer) -> StatusCode {
    StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::NotFound => ApiError::NotFound("There is nothing at this address.".into()),
            AppError::BadRequest(m) => ApiError::BadRequest(m),
            AppError::Forbidden { needed } => {
                ApiError::Forbidden(format!("This needs the {needed} role."))
            }
            AppError::Unexpected(e) if crate::store::unavailable(&e) => {
                tracing::error!(error.cause_chain = ?e, request_id = %current_request_id(), "the database is unavailable");
                ApiError::DatabaseUnavailable
            }
            AppError::Unexpected(e) => ApiError::Unexpected(e),
            AppError::DatabaseUnavailable => ApiError::DatabaseUnavailable,
            other => ApiError::Unexpected(anyhow::anyhow!("{other}")),
        }
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        ApiError::from(AppError::from(e))
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        match AppError::from(e) {
            AppError::Unexpected(e) => ApiError::Unexpected(e),
            other => ApiError::from(other),
        }
    }
}

impl From<AppleError> for ApiError {
    fn from(e: AppleError) -> Self {
        ApiError::Apple(e)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::MissingToken(_) | ApiError::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) | ApiError::InsufficientScope { .. } => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::Apple(e) => status_of(ProblemKind::of(e).answer()),
            ApiError::Lookup { problem, .. } => status_of(problem.kind.answer()),
            ApiError::DatabaseUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Unexpected(e) = self {
            tracing::error!(error.cause_chain = ?e, request_id = %current_request_id(), "API request failed");
        }
        let mut error = serde_json::json!({
            "code": self.code(),
            "message": self.to_string(),
            "request_id": current_request_id(),
        });
        match self {
            ApiError::Invalid(fields) => {
                error["fields"] = serde_json::json!(fields);
            }
            ApiError::Apple(e) => {
                if let Some(code) = e.code() {
                    error["apple_error_code"] = serde_json::json!(code);
                }
            }
            ApiError::Lookup { problem, .. } => {
                if let Some(code) = problem.code {
                    error["apple_error_code"] = serde_json::json!(code);
                }
            }
            _ => {}
        }
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CACHE_CONTROL, "no-store"));
        match self {
            ApiError::MissingToken(_) => {
                response.insert_header((header::WWW_AUTHENTICATE, CHALLENGE));
            }
            ApiError::InvalidToken(_) => {
                response.insert_header((header::WWW_AUTHENTICATE, CHALLENGE_INVALID));
            }
            ApiError::InsufficientScope { needed, .. } => {
                response.insert_header((
                    header::WWW_AUTHENTICATE,
                    format!("Bearer realm=\"storedesk\", error=\"insufficient_scope\", scope=\"{needed}\""),
                ));
            }
            ApiError::MethodNotAllowed { allowed, .. } => {
                response.insert_header((header::ALLOW, *allowed));
            }
            ApiError::DatabaseUnavailable => {
                response.insert_header((header::RETRY_AFTER, crate::error::RETRY_AFTER_SECONDS));
            }
            _ => {}
        }
        response.json(serde_json::json!({ "error": error }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apple::{ApiErrorKind, Environment};

    fn api(status: u16, code: i64) -> AppleError {
        AppleError::Api {
            status,
            code,
            kind: ApiErrorKind::from_code(code),
            environment: Environment::Production,
            retries: 0,
        }
    }

    #[test]
    fn apple_errors_map_to_a_status_that_says_whose_problem_it_is() {
        let cases = [
            (api(404, 4040010), 404, "apple_not_found"),
            (api(400, 4000006), 422, "apple_rejected"),
            (api(429, 4290000), 429, "apple_rate_limited"),
            (api(500, 5000000), 502, "apple_error"),
            (
                AppleError::Unauthorized {
                    environment: Environment::Sandbox,
                },
                502,
                "apple_unauthorized",
            ),
            (AppleError::Timeout { retries: 2 }, 504, "apple_timeout"),
            (
                AppleError::RateLimited { retry_at_ms: None },
                429,
                "apple_rate_limited",
            ),
            (
                AppleError::BudgetExhausted {
                    environment: Environment::Production,
                    endpoint: "transactions",
                    retry_at_ms: 0,
                },
                429,
                "rate_budget_spent",
            ),
            (
                AppleError::Network {
                    detail: "refused".into(),
                    retries: 2,
                },
                502,
                "apple_unreachable",
            ),
            (
                AppleError::MalformedResponse("not JSON".into()),
                502,
                "apple_error",
            ),
            (
                AppleError::HttpStatus {
                    status: 503,
                    retries: 2,
                },
                502,
                "apple_error",
            ),
            // The cases the API's two copies of the table answered differently (the old answers are in
            // apple::failure's tests and in docs/decisions.md): each now as the one table says.
            (
                AppleError::HttpStatus {
                    status: 403,
                    retries: 0,
                },
                502,
                "apple_error",
            ),
            (
                AppleError::Request("the key could not sign".into()),
                500,
                "internal",
            ),
            (api(400, 4290000), 429, "apple_rate_limited"),
            (api(500, 4290000), 429, "apple_rate_limited"),
            (api(429, 4000006), 422, "apple_rejected"),
            (api(404, 4040001), 422, "apple_rejected"),
            (api(404, 4040006), 502, "apple_error"),
            (api(404, 4040019), 404, "apple_not_found"),
            (api(400, 5000000), 502, "apple_error"),
        ];
        for (e, status, code) in cases {
            let e = ApiError::from(e);
            assert_eq!((e.status_code().as_u16(), e.code()), (status, code), "{e}");
        }
    }

    #[test]
    fn a_classified_problem_maps_like_the_apple_error_it_came_from() {
        let cases = [
            api(404, 4040010),
            api(400, 4000006),
            api(429, 4290000),
            api(500, 5000000),
            AppleError::Unauthorized {
                environment: Environment::Production,
            },
            AppleError::Timeout { retries: 2 },
            AppleError::RateLimited { retry_at_ms: None },
            AppleError::BudgetExhausted {
                environment: Environment::Production,
                endpoint: "transactions",
                retry_at_ms: 0,
            },
            AppleError::Network {
                detail: "refused".into(),
                retries: 2,
            },
            AppleError::MalformedResponse("not JSON".into()),
            // The cases that mapped one way as an Apple error and another as a look-up's problem.
            AppleError::HttpStatus {
                status: 403,
                retries: 0,
            },
            AppleError::HttpStatus {
                status: 503,
                retries: 1,
            },
            AppleError::Request("the key could not sign".into()),
            api(400, 4290000),
            api(500, 4290000),
            api(429, 4000006),
            api(404, 4040001),
            api(404, 4040006),
            api(404, 4040007),
            api(404, 4040019),
        ];
        for e in cases {
            let direct = ApiError::from(e.clone());
            let problem = AppleProblem::from_error(&e);
            let classified = ApiError::Lookup {
                message: problem.sentence.clone(),
                problem,
            };
            assert_eq!(
                (classified.status_code(), classified.code()),
                (direct.status_code(), direct.code()),
                "{e}"
            );
            assert_eq!(classified.to_string(), direct.to_string(), "{e}");
        }
        let no_key = ApiError::Lookup {
            problem: AppleProblem::no_key(),
            message: "No key.".into(),
        };
        assert_eq!(
            (no_key.status_code().as_u16(), no_key.code()),
            (409, "no_key")
        );
    }

    #[test]
    fn a_422_lists_every_field_and_joins_the_sentences() {
        let mut fields = BTreeMap::new();
        fields.insert("b".to_string(), "Second.".to_string());
        fields.insert("a".to_string(), "First.".to_string());
        let e = ApiError::Invalid(fields);
        assert_eq!(e.to_string(), "First. Second.");
        assert_eq!(e.status_code(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(ApiError::invalid("x", "Bad.").to_string(), "Bad.");
    }
}
