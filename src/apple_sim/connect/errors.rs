//! App Store Connect's JSON:API error answers (`{"errors":[{id,status,code,title,detail,source?}]}`) and the
//! `X-Rate-Limit` header every answer but a 401 carries.

use actix_web::http::header::CONTENT_TYPE;
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use serde_json::{json, Value};

/// What is left of a key's hourly budget after this call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RateHeader {
    pub limit: u64,
    pub remaining: u64,
}

impl RateHeader {
    pub(crate) fn value(self) -> String {
        format!(
            "user-hour-lim:{};user-hour-rem:{};",
            self.limit, self.remaining
        )
    }
}

/// Why a Connect call does not get its normal answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ConnectError {
    NotAuthorized,
    /// The key's role or app access does not allow this request.
    Forbidden,
    /// No resource of `kind` with this id (or none the team has).
    NotFound {
        kind: &'static str,
        id: String,
    },
    /// A path the API does not define.
    PathNotFound,
    /// A defined path called with another method than GET.
    MethodNotAllowed,
    /// `source.parameter` names the parameter.
    InvalidParameter {
        parameter: String,
        detail: String,
    },
    /// A parameter the endpoint does not take.
    IllegalParameter {
        parameter: String,
    },
    RateLimited,
    Unexpected,
}

impl ConnectError {
    fn status(&self) -> StatusCode {
        match self {
            Self::NotAuthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound { .. } | Self::PathNotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::InvalidParameter { .. } | Self::IllegalParameter { .. } => {
                StatusCode::BAD_REQUEST
            }
            Self::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Self::Unexpected => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// (code, title, detail, source parameter)
    fn parts(&self) -> (&'static str, &'static str, String, Option<&str>) {
        match self {
            Self::NotAuthorized => (
                "NOT_AUTHORIZED",
                "Authentication credentials are missing or invalid.",
                "Provide a properly configured and signed bearer token, and make sure that it has not expired. \
                 Learn more about Generating Tokens for API Requests \
                 https://developer.apple.com/go/?id=api-generating-tokens"
                    .to_owned(),
                None,
            ),
            Self::Forbidden => (
                "FORBIDDEN_ERROR",
                "This request is forbidden for security reasons",
                "The API key in use does not allow this request".to_owned(),
                None,
            ),
            Self::NotFound { kind, id } => (
                "NOT_FOUND",
                "The specified resource does not exist",
                format!("There is no resource of type '{kind}' with id '{id}'"),
                None,
            ),
            Self::PathNotFound => (
                "NOT_FOUND",
                "The specified resource does not exist",
                "The path provided does not match a defined resource type.".to_owned(),
                None,
            ),
            Self::MethodNotAllowed => (
                "METHOD_NOT_ALLOWED",
                "The request method is not valid for the resource path.",
                "The request method is not valid for the resource path.".to_owned(),
                None,
            ),
            Self::InvalidParameter { parameter, detail } => (
                "PARAMETER_ERROR.INVALID",
                "A parameter has an invalid value",
                detail.clone(),
                Some(parameter.as_str()),
            ),
            Self::IllegalParameter { parameter } => (
                "PARAMETER_ERROR.ILLEGAL",
                "A given parameter is not allowed for this request",
                format!("The parameter '{parameter}' can not be used with this request"),
                Some(parameter.as_str()),
            ),
            Self::RateLimited => (
                "RATE_LIMIT_EXCEEDED",
                "The request rate limit has been reached.",
                "We've received too many requests for this API. Please wait and try again or slow down \
                 your request rate."
                    .to_owned(),
                None,
            ),
            Self::Unexpected => (
                "UNEXPECTED_ERROR",
                "An unexpected error occurred.",
                "An unexpected error occurred.".to_owned(),
                None,
            ),
        }
    }

    pub(crate) fn body(&self) -> Value {
        let status = self.status();
        let (code, title, detail, parameter) = self.parts();
        let mut error = json!({
            "id": uuid::Uuid::new_v4().to_string(),
            "status": status.as_u16().to_string(),
            "code": code,
            "title": title,
            "detail": detail,
        });
        if let (Some(parameter), Some(map)) = (parameter, error.as_object_mut()) {
            map.insert("source".to_owned(), json!({ "parameter": parameter }));
        }
        json!({ "errors": [error] })
    }

    /// The answer, with the rate header when the call was counted (every answer but a 401).
    pub(crate) fn response(&self, rate: Option<RateHeader>) -> HttpResponse {
        let mut resp = HttpResponse::build(self.status());
        resp.insert_header((CONTENT_TYPE, "application/json"));
        if let Some(rate) = rate {
            resp.insert_header(("X-Rate-Limit", rate.value()));
        }
        resp.body(self.body().to_string())
    }
}

/// 400 for a parameter value Apple would not take.
pub(crate) fn invalid(parameter: &str, detail: String) -> ConnectError {
    ConnectError::InvalidParameter {
        parameter: parameter.to_owned(),
        detail,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn an_error_body_is_a_json_api_errors_array_with_a_fresh_id() {
        let body = ConnectError::NotFound {
            kind: "apps",
            id: "42".to_owned(),
        }
        .body();
        let error = &body["errors"][0];
        assert_eq!(error["status"], "404");
        assert_eq!(error["code"], "NOT_FOUND");
        assert_eq!(
            error["detail"],
            "There is no resource of type 'apps' with id '42'"
        );
        assert!(uuid::Uuid::parse_str(error["id"].as_str().unwrap()).is_ok());
        assert!(error.get("source").is_none());

        let body = invalid("limit", "x".to_owned()).body();
        assert_eq!(body["errors"][0]["source"]["parameter"], "limit");
    }
}
