//! The table pinned: for every kind of Apple failure, the API's code and status and the words people see,
//! including the cases that two copies of the table answered differently before there was one.

use super::*;
use crate::apple::Environment;

fn api(status: u16, code: i64, environment: Environment, retries: u32) -> AppleError {
    AppleError::Api {
        status,
        code,
        kind: ApiErrorKind::from_code(code),
        environment,
        retries,
    }
}

/// Every kind. The match fails to compile when a kind is added, so that it gets a row here and in the table.
fn every_kind() -> Vec<ProblemKind> {
    use ProblemKind::*;
    let all = vec![
        NoKey,
        Unauthorized,
        NotFound,
        RateLimited,
        BudgetSpent,
        AppleError,
        Timeout,
        Unreachable,
        Unreadable,
        Unverifiable,
        Refused,
        Unprepared,
    ];
    for kind in &all {
        match kind {
            NoKey | Unauthorized | NotFound | RateLimited | BudgetSpent | AppleError | Timeout
            | Unreachable | Unreadable | Unverifiable | Refused | Unprepared => {}
        }
    }
    all
}

/// A sentence ending in "…" pins only its start; any other must match whole.
fn assert_sentence(actual: &str, expected: &str, case: &str) {
    match expected.strip_suffix('…') {
        Some(start) => assert!(actual.starts_with(start), "{case}: {actual}"),
        None => assert_eq!(actual, expected, "{case}"),
    }
}

#[test]
fn each_kind_has_one_code_one_status_and_its_words() {
    use ProblemKind::*;
    let table = [
        (
            NoKey,
            "no_key",
            409,
            Sentence::Always("This project has no In-App Purchase key in use, so storedesk can't ask Apple. An admin or lead adds one under App Store settings."),
        ),
        (Unauthorized, "apple_unauthorized", 502, Sentence::OfTheError),
        (NotFound, "apple_not_found", 404, Sentence::OfTheError),
        (RateLimited, "apple_rate_limited", 429, Sentence::OfTheError),
        (BudgetSpent, "rate_budget_spent", 429, Sentence::OfTheError),
        (AppleError, "apple_error", 502, Sentence::OfTheError),
        (Timeout, "apple_timeout", 504, Sentence::OfTheError),
        (Unreachable, "apple_unreachable", 502, Sentence::OfTheError),
        (Unreadable, "apple_error", 502, Sentence::OfTheError),
        (
            Unverifiable,
            "apple_unverifiable",
            502,
            Sentence::StartsWith("Apple's answer did not pass verification, so none of it is shown:"),
        ),
        (Refused, "apple_rejected", 422, Sentence::OfTheError),
        // Request(_) was "internal"/500 for the API's own errors but Refused (apple_rejected/422) for a look-up.
        (Unprepared, "internal", 500, Sentence::OfTheError),
    ];
    assert_eq!(
        table.iter().map(|row| row.0).collect::<Vec<_>>(),
        every_kind(),
        "one row per kind"
    );
    for (kind, code, status, sentence) in table {
        assert_eq!(
            kind.answer(),
            Answer {
                code,
                status,
                sentence
            },
            "{kind:?}"
        );
    }
}

#[test]
fn each_apple_error_is_classified_once_with_its_code_status_and_sentence() {
    use Environment::{Production, Sandbox};
    let cases: Vec<(AppleError, ProblemKind, &str, u16, &str)> = vec![
        (
            AppleError::Unauthorized {
                environment: Production,
            },
            ProblemKind::Unauthorized,
            "apple_unauthorized",
            502,
            "Apple refused our credentials (HTTP 401) in Production. Check that the key…",
        ),
        (
            api(404, 4040010, Sandbox, 0),
            ProblemKind::NotFound,
            "apple_not_found",
            404,
            "Apple has no transaction with this id in Sandbox.",
        ),
        (
            api(404, 4040005, Production, 0),
            ProblemKind::NotFound,
            "apple_not_found",
            404,
            "Apple has no original transaction with this id in Production.",
        ),
        // Was apple_not_found/404 for the API's own errors, apple_rejected/422 for a look-up (where only the
        // environment fallback's two codes were "not found"): the sentence says Apple has no such thing.
        (
            api(404, 4040019, Production, 0),
            ProblemKind::NotFound,
            "apple_not_found",
            404,
            "Apple has no app transaction for this customer in Production.",
        ),
        // Was apple_not_found/404 for the API's own errors (every 404 was "not found"), apple_rejected/422 for
        // a look-up: the account, not the thing asked about, is missing, as the sentence says.
        (
            api(404, 4040001, Production, 0),
            ProblemKind::Refused,
            "apple_rejected",
            422,
            "Apple refused the request: the customer account was not found.",
        ),
        // Was apple_not_found/404 for the API's own errors, apple_rejected/422 for a look-up: a setting missing in
        // App Store Connect, not a thing that does not exist.
        (
            api(404, 4040007, Sandbox, 0),
            ProblemKind::Refused,
            "apple_rejected",
            422,
            "No App Store Server Notifications URL is set for Sandbox in App Store Connect, so Apple can't send a test notification.",
        ),
        // Was apple_not_found/404 for the API's own errors, apple_rejected/422 for a look-up: Apple calls it
        // retryable and the client already retried, so it is Apple's passing state, not the request's fault.
        (
            api(404, 4040006, Production, 2),
            ProblemKind::AppleError,
            "apple_error",
            502,
            "Apple refused the request: the original transaction was not found yet. It was retried 2 times.",
        ),
        (
            api(400, 4000006, Production, 0),
            ProblemKind::Refused,
            "apple_rejected",
            422,
            "Apple refused the request: the transaction id is not valid (it must be digits only).",
        ),
        (
            api(403, 4030007, Production, 0),
            ProblemKind::Refused,
            "apple_rejected",
            422,
            "Apple refused the request: Family Sharing subscriptions can't be extended.",
        ),
        (
            api(400, 9_990_000, Sandbox, 0),
            ProblemKind::Refused,
            "apple_rejected",
            422,
            "Apple refused the request with error code 9990000 (HTTP 400), which storedesk does not know.",
        ),
        (
            api(503, 9_990_000, Sandbox, 0),
            ProblemKind::AppleError,
            "apple_error",
            502,
            "Apple refused the request with error code 9990000 (HTTP 503), which storedesk does not know.",
        ),
        (
            api(429, 4_290_000, Production, 0),
            ProblemKind::RateLimited,
            "apple_rate_limited",
            429,
            "Apple's rate limit for this endpoint was reached; try again later.",
        ),
        // Was apple_rejected/422 for the API's own errors (the status was read before the code), 429 for a
        // look-up: Apple's code says it is the rate limit.
        (
            api(400, 4_290_000, Production, 0),
            ProblemKind::RateLimited,
            "apple_rate_limited",
            429,
            "Apple's rate limit for this endpoint was reached; try again later.",
        ),
        // Was apple_error with a 429 (code and status from different rules) for the API's own errors, 429 for a
        // look-up.
        (
            api(500, 4_290_000, Sandbox, 0),
            ProblemKind::RateLimited,
            "apple_rate_limited",
            429,
            "Apple's rate limit for this endpoint was reached; try again later.",
        ),
        // Was apple_rate_limited/429 for the API's own errors, apple_rejected/422 for a look-up: the code, which
        // Apple says to branch on, and the sentence both say the request was refused. (Apple's client answers
        // every 429 as RateLimited before reading a body, so this comes only from elsewhere.)
        (
            api(429, 4000006, Production, 0),
            ProblemKind::Refused,
            "apple_rejected",
            422,
            "Apple refused the request: the transaction id is not valid (it must be digits only).",
        ),
        (
            api(500, 5_000_000, Production, 2),
            ProblemKind::AppleError,
            "apple_error",
            502,
            "Apple's server had an error (Production). It was retried 2 times.",
        ),
        (
            api(500, 5_000_001, Sandbox, 0),
            ProblemKind::AppleError,
            "apple_error",
            502,
            "Apple's server had an error (Sandbox).",
        ),
        // Was apple_rejected/422 in both copies (they read the status): the code and the sentence say Apple's
        // server failed.
        (
            api(400, 5_000_000, Production, 0),
            ProblemKind::AppleError,
            "apple_error",
            502,
            "Apple's server had an error (Production).",
        ),
        (
            api(500, 4000006, Production, 0),
            ProblemKind::AppleError,
            "apple_error",
            502,
            "Apple's server had an error: the transaction id is not valid (it must be digits only).",
        ),
        (
            AppleError::RateLimited {
                retry_at_ms: Some(1_700_000_000_000),
            },
            ProblemKind::RateLimited,
            "apple_rate_limited",
            429,
            "Apple's rate limit for this endpoint was reached; try again after 22:13 UTC.",
        ),
        (
            AppleError::RateLimited { retry_at_ms: None },
            ProblemKind::RateLimited,
            "apple_rate_limited",
            429,
            "Apple's rate limit for this endpoint was reached; try again later.",
        ),
        (
            AppleError::BudgetExhausted {
                environment: Production,
                endpoint: "transactions",
                retry_at_ms: 1_700_000_000_000,
            },
            ProblemKind::BudgetSpent,
            "rate_budget_spent",
            429,
            "storedesk held this call back: this hour's share of Apple's rate limit for transactions in Production is used up (all storedesk instances share it), and going over would get the key throttled by Apple. Try again after 22:13 UTC.",
        ),
        (
            AppleError::Timeout { retries: 2 },
            ProblemKind::Timeout,
            "apple_timeout",
            504,
            "Apple did not answer in time. It was retried 2 times. Try again later.",
        ),
        (
            AppleError::Network {
                detail: "connection refused".into(),
                retries: 1,
            },
            ProblemKind::Unreachable,
            "apple_unreachable",
            502,
            "storedesk could not reach Apple (network error). It was retried once. Check the server's connection and try again.",
        ),
        (
            AppleError::MalformedResponse("expected value at line 1".into()),
            ProblemKind::Unreadable,
            "apple_error",
            502,
            "Apple's answer was not in the expected format.",
        ),
        (
            AppleError::HttpStatus {
                status: 503,
                retries: 1,
            },
            ProblemKind::AppleError,
            "apple_error",
            502,
            "Apple's server had an error (HTTP 503). It was retried once.",
        ),
        // Was apple_error/502 for the API's own errors, apple_rejected/422 for a look-up: without Apple's error
        // code it is most likely a proxy or gateway in front of Apple, which the caller can't fix.
        (
            AppleError::HttpStatus {
                status: 403,
                retries: 0,
            },
            ProblemKind::AppleError,
            "apple_error",
            502,
            "Apple refused the request (HTTP 403).",
        ),
        // Was internal/500 for the API's own errors, apple_rejected/422 for a look-up: nothing was sent, and
        // only storedesk's setup can fix it.
        (
            AppleError::Request("the Production base URL is not a valid URL".into()),
            ProblemKind::Unprepared,
            "internal",
            500,
            "The request to Apple could not be prepared; check the stored key.",
        ),
    ];
    let mut seen = std::collections::HashSet::new();
    for (error, kind, code, status, sentence) in cases {
        let case = format!("{error:?}");
        assert_eq!(ProblemKind::of(&error), kind, "{case}");
        let answer = kind.answer();
        assert_eq!((answer.code, answer.status), (code, status), "{case}");
        assert_eq!(answer.sentence, Sentence::OfTheError, "{case}");
        assert_sentence(&error.sentence(), sentence, &case);
        seen.insert(kind);
    }
    // Every kind an error of Apple's client can have is among the cases; the other two have no such error.
    for kind in every_kind() {
        let without_error = matches!(kind, ProblemKind::NoKey | ProblemKind::Unverifiable);
        assert_eq!(seen.contains(&kind), !without_error, "{kind:?}");
    }
}

#[test]
fn the_kind_a_problem_carries_keeps_its_json_name() {
    let names: Vec<String> = every_kind()
        .into_iter()
        .map(|k| {
            serde_json::to_value(k)
                .map(|v| v.to_string())
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(
        names,
        [
            "\"no_key\"",
            "\"unauthorized\"",
            "\"not_found\"",
            "\"rate_limited\"",
            // The budget had no kind of its own before; its problems kept saying "rate_limited".
            "\"rate_limited\"",
            "\"apple_error\"",
            "\"timeout\"",
            "\"unreachable\"",
            "\"unreadable\"",
            "\"unverifiable\"",
            "\"refused\"",
            "\"unprepared\"",
        ]
    );
}
