//! One classification of what can keep an answer of Apple's from being shown: the kind of each failure
//! ([`ProblemKind::of`]) and, in one table ([`ProblemKind::answer`]), what the JSON API answers for it and where the
//! sentence for people comes from. The support desk's problems, the JSON API's errors and the pages all classify
//! through here, so the same failure can't be called one thing in one place and another elsewhere.
//!
//! The rule behind the table: the status says whose problem it is. 404 and 422 are about what the caller asked
//! for, 429 says "later", 5xx says the trouble is on Apple's side of storedesk, or in storedesk itself.

use serde::Serialize;

use super::error::{ApiErrorKind, AppleError};

/// The kinds of failure, for machines (the API's `code` and `kind`) and for choosing words. Serialized in
/// snake_case as the `kind` of a problem.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// The project has no key in use, so nothing was asked.
    NoKey,
    /// HTTP 401: Apple refused the key.
    Unauthorized,
    /// Apple has no transaction, original transaction or app transaction for the id asked about
    /// (`TRANSACTION_ID_NOT_FOUND` and `ORIGINAL_TRANSACTION_ID_NOT_FOUND`, on which the environment fallback acts,
    /// and `APP_TRANSACTION_DOES_NOT_EXIST_ERROR`).
    NotFound,
    /// Apple's rate limit (HTTP 429 with its `Retry-After`, or the `RATE_LIMIT_EXCEEDED` code).
    RateLimited,
    /// storedesk's own hourly share of Apple's rate limit is spent; nothing was sent. Its `kind` stays
    /// `rate_limited`, as before it had a kind of its own; the API's `code` tells the two apart.
    #[serde(rename = "rate_limited")]
    BudgetSpent,
    /// Apple's side failed: a 5xx, an error code Apple calls retryable, or an error status without Apple's
    /// error code (a proxy or gateway in front of Apple).
    AppleError,
    Timeout,
    Unreachable,
    /// Apple's answer could not be read.
    Unreadable,
    /// Apple's signed data did not pass verification; nothing from it is shown.
    Unverifiable,
    /// Apple read the request and refused it with its error code (a 4xx other than the ones above).
    Refused,
    /// storedesk could not prepare the request (e.g. the token could not be signed); nothing was sent.
    Unprepared,
}

/// What the JSON API answers for a kind of failure, and where the sentence for people comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Answer {
    /// The API's `error.code`.
    pub code: &'static str,
    /// The HTTP status of the API's answer (a `u16`, so that this floor needs no web framework).
    pub status: u16,
    pub sentence: Sentence,
}

/// Where the sentence shown on pages (and as the API's `message`) comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sentence {
    /// [`AppleError::sentence`] of the failure. A page may say more where it knows more (the support desk says
    /// "in Production or in Sandbox" once both were asked).
    OfTheError,
    /// Always this sentence.
    Always(&'static str),
    /// This start, then the reason in our words (the support desk's `AppleProblem::unverifiable`).
    StartsWith(&'static str),
}

impl Sentence {
    /// The part of the sentence the table fixes: all of it, its start, or nothing (the error's own sentence).
    pub fn fixed(self) -> &'static str {
        match self {
            Sentence::OfTheError => "",
            Sentence::Always(s) | Sentence::StartsWith(s) => s,
        }
    }
}

impl ProblemKind {
    /// THE table: what the API answers and which words people get, for each kind.
    pub fn answer(self) -> Answer {
        use Sentence::{Always, OfTheError, StartsWith};
        let (code, status, sentence) = match self {
            // A state of the project the caller's admin can change (add a key): a conflict, not an outage.
            ProblemKind::NoKey => (
                "no_key",
                409,
                Always("This project has no In-App Purchase key in use, so storedesk can't ask Apple. An admin or lead adds one under App Store settings."),
            ),
            // Apple refusing our key is a problem of this server's setup, not of the caller's request.
            ProblemKind::Unauthorized => ("apple_unauthorized", 502, OfTheError),
            ProblemKind::NotFound => ("apple_not_found", 404, OfTheError),
            ProblemKind::RateLimited => ("apple_rate_limited", 429, OfTheError),
            ProblemKind::BudgetSpent => ("rate_budget_spent", 429, OfTheError),
            ProblemKind::AppleError | ProblemKind::Unreadable => ("apple_error", 502, OfTheError),
            ProblemKind::Timeout => ("apple_timeout", 504, OfTheError),
            ProblemKind::Unreachable => ("apple_unreachable", 502, OfTheError),
            ProblemKind::Unverifiable => (
                "apple_unverifiable",
                502,
                StartsWith("Apple's answer did not pass verification, so none of it is shown:"),
            ),
            ProblemKind::Refused => ("apple_rejected", 422, OfTheError),
            // Nothing reached Apple and the caller can't fix it: storedesk's own failure.
            ProblemKind::Unprepared => ("internal", 500, OfTheError),
        };
        Answer {
            code,
            status,
            sentence,
        }
    }

    /// THE classification of an error of Apple's client.
    pub fn of(e: &AppleError) -> Self {
        match e {
            AppleError::Unauthorized { .. } => ProblemKind::Unauthorized,
            AppleError::RateLimited { .. } => ProblemKind::RateLimited,
            AppleError::BudgetExhausted { .. } => ProblemKind::BudgetSpent,
            AppleError::Timeout { .. } | AppleError::NoAnswer { .. } => ProblemKind::Timeout,
            AppleError::Network { .. } => ProblemKind::Unreachable,
            AppleError::MalformedResponse(_) => ProblemKind::Unreadable,
            AppleError::Request(_) => ProblemKind::Unprepared,
            // Without Apple's error code nothing says the request was at fault: a 5xx is Apple's server, a 4xx
            // most likely a proxy or gateway in front of Apple (Apple itself answers its 4xx with a code).
            AppleError::HttpStatus { .. } => ProblemKind::AppleError,
            // The answers whose sentence says "Apple has no … with this id": what the caller asked about does
            // not exist. Other 404 codes are about something else (an account, an app, a URL set in App Store
            // Connect) and are refusals, as their sentence says.
            AppleError::Api { .. } if e.is_not_found_in_environment() => ProblemKind::NotFound,
            AppleError::Api {
                kind: ApiErrorKind::AppTransactionDoesNotExist,
                ..
            } => ProblemKind::NotFound,
            // Apple's code says what happened, whatever the status (Apple: "branch on errorCode only").
            AppleError::Api {
                kind: ApiErrorKind::RateLimitExceeded,
                ..
            } => ProblemKind::RateLimited,
            // A code Apple calls retryable (e.g. ORIGINAL_TRANSACTION_ID_NOT_FOUND_RETRYABLE, a 404) was already
            // retried by the client: it is Apple's passing state, not a fault of the request.
            AppleError::Api { status, kind, .. } if *status >= 500 || kind.is_retryable() => {
                ProblemKind::AppleError
            }
            AppleError::Api { .. } => ProblemKind::Refused,
        }
    }
}

#[cfg(test)]
mod tests;
