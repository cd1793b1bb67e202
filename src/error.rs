//! The one error type at the HTTP edge: each kind maps to one status and one safe page (or JSON body).
//! The log gets the whole cause chain; the user gets a sentence and the request id.
use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

tokio::task_local! {
    /// Set by the request-id middleware for the duration of each request, so error pages can show it.
    pub static REQUEST_ID: String;
}

pub fn current_request_id() -> String {
    REQUEST_ID
        .try_with(|id| id.clone())
        .unwrap_or_else(|_| "none".into())
}

#[derive(thiserror::Error)]
pub enum AppError {
    #[error("not signed in")]
    Unauthenticated { next: String },
    #[error("forbidden; needs {needed}")]
    Forbidden { needed: String },
    #[error("the form's security token is missing or wrong")]
    CsrfRejected,
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    BadRequest(String),
    #[error("too many requests")]
    TooManyRequests(String),
    /// The database could not be reached or stopped answering (`store::unavailable`, `state::DatabaseWatch`).
    #[error("the database is unavailable")]
    DatabaseUnavailable,
    /// The user signed in with a password an admin issued and must choose their own before anything else.
    #[error("password change needed")]
    PasswordChangeNeeded,
    /// The user's role must use two-step sign-in (`STOREDESK_REQUIRE_MFA`) and they have not set it up yet.
    #[error("second factor needed")]
    SecondFactorNeeded,
    /// Too much work of one kind at once (password checks): answered 503 with Retry-After at once.
    #[error("overloaded")]
    Overloaded(&'static str),
    #[error(transparent)]
    Unexpected(anyhow::Error),
}

/// An error saying the server refused work because too much of it is already running; `AppError::Overloaded`
/// when it reaches a response. The sentence is the page's.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Overloaded(pub &'static str);

impl From<anyhow::Error> for AppError {
    fn from(e: anyhow::Error) -> Self {
        // A store error carried through `anyhow` is still the request's fault when the request's text was unstorable.
        if let Some(Overloaded(sentence)) = e.downcast_ref::<Overloaded>() {
            return AppError::Overloaded(sentence);
        }
        match e.downcast_ref::<crate::store::StoreError>() {
            Some(crate::store::StoreError::Unstorable) => {
                AppError::BadRequest(crate::store::StoreError::Unstorable.to_string())
            }
            _ if crate::store::unavailable(&e) => unavailable(&e),
            _ => AppError::Unexpected(e),
        }
    }
}

impl std::fmt::Debug for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{self}")?;
        if let AppError::Unexpected(e) = self {
            for cause in e.chain().skip(1) {
                writeln!(f, "Caused by: {cause}")?;
            }
        }
        Ok(())
    }
}

impl From<crate::store::StoreError> for AppError {
    fn from(e: crate::store::StoreError) -> Self {
        match e {
            crate::store::StoreError::NotFound => AppError::NotFound,
            e @ crate::store::StoreError::Unstorable => AppError::BadRequest(e.to_string()),
            other => AppError::from(anyhow::Error::new(other)),
        }
    }
}

/// The page's sentence for [`AppError::DatabaseUnavailable`]; the webhook says the same of a notification.
pub const DATABASE_UNAVAILABLE: &str = "storedesk cannot reach its database right now, so it could not finish \
     this request. Try again in a minute; if this lasts, check that the database server is running and reachable \
     from this machine.";

/// Seconds a 503 for an unavailable database asks the client to wait before trying again.
pub const RETRY_AFTER_SECONDS: &str = "5";

/// Logs why the database counts as unavailable (the cause chain, which the page never shows).
fn unavailable(e: &anyhow::Error) -> AppError {
    tracing::error!(error.cause_chain = ?e, request_id = %current_request_id(), "the database is unavailable");
    AppError::DatabaseUnavailable
}

static UNAVAILABLE: AppError = AppError::DatabaseUnavailable;

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    pub status: u16,
    pub title: &'a str,
    pub message: &'a str,
    pub request_id: String,
    pub css: &'static str,
}

impl AppError {
    /// What the error is answered as: an unexpected failure caused by the database being out of reach, however it
    /// was wrapped on its way here (`AppError::Unexpected(e.into())` is common), is answered as
    /// [`AppError::DatabaseUnavailable`].
    fn answered_as(&self) -> &AppError {
        match self {
            AppError::Unexpected(e) if crate::store::unavailable(e) => &UNAVAILABLE,
            other => other,
        }
    }

    fn title_and_message(&self) -> (&'static str, String) {
        match self.answered_as() {
            AppError::Unauthenticated { .. } => ("Sign in needed", "Sign in to continue.".into()),
            AppError::Forbidden { needed } => (
                "Not allowed",
                format!("Your role cannot open this page or do this. It needs the {needed} role; ask an admin if you need it."),
            ),
            AppError::CsrfRejected => (
                "Form expired",
                "This form's security token is missing or no longer valid, so nothing was changed. Go back, reload the page and try again."
                    .into(),
            ),
            AppError::NotFound => ("Not found", "There is nothing at this address.".into()),
            AppError::BadRequest(m) => ("Bad request", m.clone()),
            AppError::TooManyRequests(m) => ("Too many requests", m.clone()),
            AppError::DatabaseUnavailable => ("Database unavailable", DATABASE_UNAVAILABLE.into()),
            AppError::Overloaded(m) => ("Busy", (*m).to_string()),
            AppError::PasswordChangeNeeded => (
                "Choose your password",
                "Choose your own password under Account before going on.".into(),
            ),
            AppError::SecondFactorNeeded => (
                "Set up two-step sign-in",
                "Your role must use two-step sign-in: set it up under Account before going on.".into(),
            ),
            AppError::Unexpected(_) => (
                "Something went wrong",
                "storedesk could not finish this request. Nothing secret was shown; the details are in the server log under the request id below."
                    .into(),
            ),
        }
    }

    pub fn code(&self) -> &'static str {
        match self.answered_as() {
            AppError::Unauthenticated { .. } => "unauthenticated",
            AppError::Forbidden { .. } => "forbidden",
            AppError::CsrfRejected => "csrf_rejected",
            AppError::NotFound => "not_found",
            AppError::BadRequest(_) => "bad_request",
            AppError::TooManyRequests(_) => "too_many_requests",
            AppError::DatabaseUnavailable => "database_unavailable",
            AppError::Overloaded(_) => "overloaded",
            AppError::PasswordChangeNeeded => "password_change_needed",
            AppError::SecondFactorNeeded => "second_factor_needed",
            AppError::Unexpected(_) => "internal",
        }
    }

    /// The JSON form used under /api/ and for machine endpoints.
    pub fn json_response(&self) -> HttpResponse {
        let (_, message) = self.title_and_message();
        let status = match self {
            AppError::Unauthenticated { .. } => StatusCode::UNAUTHORIZED,
            _ => self.status_code(),
        };
        let mut response = HttpResponse::build(status);
        if matches!(
            self.answered_as(),
            AppError::DatabaseUnavailable | AppError::Overloaded(_)
        ) {
            response.insert_header((header::RETRY_AFTER, RETRY_AFTER_SECONDS));
        }
        response.json(serde_json::json!({
            "error": {"code": self.code(), "message": message, "request_id": current_request_id()}
        }))
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self.answered_as() {
            AppError::Unauthenticated { .. }
            | AppError::PasswordChangeNeeded
            | AppError::SecondFactorNeeded => StatusCode::SEE_OTHER,
            AppError::Forbidden { .. } | AppError::CsrfRejected => StatusCode::FORBIDDEN,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            AppError::DatabaseUnavailable | AppError::Overloaded(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            AppError::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let AppError::Unexpected(e) = self {
            tracing::error!(error.cause_chain = ?e, request_id = %current_request_id(), "request failed");
        }
        if let AppError::Unauthenticated { next } = self {
            let location = crate::urls::login(next);
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, location))
                .finish();
        }
        if let AppError::PasswordChangeNeeded | AppError::SecondFactorNeeded = self {
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, crate::urls::account()))
                .finish();
        }
        let (title, message) = self.title_and_message();
        let page = ErrorPage {
            status: self.status_code().as_u16(),
            title,
            message: &message,
            request_id: current_request_id(),
            css: crate::assets::css_url(),
        };
        let mut response = HttpResponse::build(self.status_code());
        if matches!(
            self.answered_as(),
            AppError::DatabaseUnavailable | AppError::Overloaded(_)
        ) {
            response.insert_header((header::RETRY_AFTER, RETRY_AFTER_SECONDS));
        }
        match page.render() {
            Ok(html) => response.content_type("text/html; charset=utf-8").body(html),
            Err(_) => response
                .content_type("text/plain; charset=utf-8")
                .body(message),
        }
    }
}

/// A web form actix could not read, as the page's sentence (nothing was changed: the handler never ran).
pub fn form_error(e: &actix_web::error::UrlencodedError) -> AppError {
    use actix_web::error::UrlencodedError;
    AppError::BadRequest(match e {
        UrlencodedError::Overflow { limit, .. } => format!(
            "This form is larger than {} KiB, so nothing was changed. Shorten what you typed and send it again.",
            limit / 1024
        ),
        UrlencodedError::ContentType => {
            "This form was not sent as a web form, so nothing was changed. Reload the page and send it from there."
                .into()
        }
        other => format!(
            "This form could not be read ({other}), so nothing was changed. Reload the page and send it from there."
        ),
    })
}

/// An address whose query actix could not read (a value of the wrong kind, a name given twice).
pub fn query_error(e: &actix_web::error::QueryPayloadError) -> AppError {
    AppError::BadRequest(format!(
        "The part of this address after “?” could not be read ({e}). Remove it, or open the page from its link."
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreError;

    #[test]
    fn a_failure_caused_by_the_database_out_of_reach_is_answered_503_however_it_was_wrapped() {
        let wrapped = AppError::Unexpected(
            anyhow::Error::new(StoreError::from(sqlx::Error::PoolTimedOut))
                .context("reading the session"),
        );
        assert_eq!(wrapped.status_code(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(wrapped.code(), "database_unavailable");
        assert_eq!(wrapped.title_and_message().1, DATABASE_UNAVAILABLE);
        let converted = AppError::from(StoreError::from(sqlx::Error::PoolClosed));
        assert!(matches!(converted, AppError::DatabaseUnavailable));
        // Any other unexpected failure stays a 500.
        let other = AppError::Unexpected(anyhow::anyhow!("a template failed"));
        assert_eq!(other.status_code(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(other.code(), "internal");
    }
}
