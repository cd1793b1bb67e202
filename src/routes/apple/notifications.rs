//! `POST /apple/notifications/{project_token}`: where Apple delivers App Store Server Notifications V2.
//!
//! Order of checks: size (413), the project behind the URL (404), the body's shape (400), Apple's signature and
//! this app's identity on the notification and on each nested JWS (400), then the store. 200 means committed;
//! a second delivery of the same notificationUUID is answered 200 without a second row. Our own failures answer
//! 5xx so that Apple sends the notification again. A database that is down or hangs gets a 503 within
//! [`DATABASE_DEADLINE`] (at once while the database watch finds it unavailable), never an endless wait.
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt as _;
use serde::Deserialize;
use serde_json::json;

use crate::apple::verify::ocsp::{ChainStatus, DEADLINE as ONLINE_CHECK_DEADLINE};
use crate::cpu_pool::PoolError;
use crate::error::current_request_id;
use crate::notifications::ingest::{prepare, IngestError, Source};
use crate::state::AppState;
use crate::store::forwarding::deliveries::apple_form;
use crate::store::notifications::{Inserted, NewNotification};

/// Apple's notifications are a few kilobytes; anything this big is not one.
pub const BODY_LIMIT: usize = 64 * 1024;
/// How long a notification's body may take to arrive once its headers have (Apple sends a few KiB at once).
const BODY_DEADLINE: std::time::Duration = std::time::Duration::from_secs(10);
/// Seconds a 503 asks the sender to wait.
const RETRY_AFTER: &str = crate::error::RETRY_AFTER_SECONDS;
/// The longest each database step (the project behind the URL, then the commit) may take before the
/// notification is answered 503. A commit under full load takes tens of milliseconds (docs/benchmarks.md), so only
/// a database that is down or hangs reaches this; the watch usually finds such a database sooner (within
/// `PROBE_INTERVAL + PROBE_TIMEOUT`, 3 s) and cuts the wait short. Why 5 s: docs/decisions.md.
pub const DATABASE_DEADLINE: std::time::Duration = std::time::Duration::from_secs(5);

pub const METRIC: &str = "storedesk_notifications_total";
pub const ONLINE_CHECK_METRIC: &str = "storedesk_apple_online_checks_total";

#[derive(Deserialize)]
struct Body {
    #[serde(rename = "signedPayload")]
    signed_payload: String,
}

/// Every way a delivery can end, with its status, JSON body, metric labels and log line.
enum Outcome {
    Stored(Inserted, String),
    TooLarge,
    /// The body did not arrive within [`BODY_DEADLINE`].
    SlowBody,
    Malformed,
    UnknownProject,
    Rejected(IngestError),
    Busy,
    VerifyFailed,
    StoreFailed,
    /// The database is down, hangs, or the watch finds it unavailable.
    DatabaseUnavailable,
    /// Online checks: the responder says the leaf or the intermediate was revoked.
    Revoked,
    /// Online checks: the responder's answer could not be trusted or did not say good.
    OnlineCheckBad,
    /// Online checks: no answer from the responder within the deadline (Apple retries).
    OnlineCheckUnreachable,
}

impl Outcome {
    fn respond(self, state: &AppState, project: Option<&str>) -> HttpResponse {
        let (status, outcome, reason) = match &self {
            Outcome::Stored(Inserted::New(_), _) => (StatusCode::OK, "accepted", None),
            Outcome::Stored(Inserted::AlreadyPresent(_), _) => (StatusCode::OK, "duplicate", None),
            Outcome::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "rejected", Some("TOO_LARGE")),
            Outcome::SlowBody => (StatusCode::REQUEST_TIMEOUT, "rejected", Some("SLOW_BODY")),
            Outcome::Malformed => (StatusCode::BAD_REQUEST, "rejected", Some("MALFORMED_BODY")),
            Outcome::UnknownProject => (StatusCode::NOT_FOUND, "unknown_project", None),
            Outcome::Rejected(e) => (StatusCode::BAD_REQUEST, "rejected", Some(e.reason())),
            Outcome::Busy => (StatusCode::SERVICE_UNAVAILABLE, "error", Some("BUSY")),
            Outcome::VerifyFailed => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "error",
                Some("VERIFY_FAILED"),
            ),
            Outcome::StoreFailed => (
                StatusCode::SERVICE_UNAVAILABLE,
                "error",
                Some("STORE_FAILURE"),
            ),
            Outcome::DatabaseUnavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "error",
                Some("DATABASE_UNAVAILABLE"),
            ),
            Outcome::Revoked => (StatusCode::BAD_REQUEST, "rejected", Some("REVOKED")),
            Outcome::OnlineCheckBad => (
                StatusCode::BAD_REQUEST,
                "rejected",
                Some("VERIFICATION_FAILURE"),
            ),
            Outcome::OnlineCheckUnreachable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "error",
                Some("ONLINE_CHECK_UNAVAILABLE"),
            ),
        };
        let labels = match reason {
            Some(r) => format!("outcome=\"{outcome}\",reason=\"{r}\""),
            None => format!("outcome=\"{outcome}\""),
        };
        state.metrics.inc(METRIC, &labels);
        let project = project.unwrap_or("-");

        let (code, message) = match self {
            Outcome::Stored(inserted, uuid) => {
                tracing::debug!(project, notification_uuid = %uuid, outcome, "notification received");
                return HttpResponse::Ok().json(json!({
                    "result": if inserted.is_new() { "accepted" } else { "duplicate" },
                    "notificationUUID": uuid,
                }));
            }
            Outcome::TooLarge => ("payload_too_large", format!(
                "The body is larger than {} KiB, so it was not read. App Store Server Notifications are much smaller.",
                BODY_LIMIT / 1024
            )),
            Outcome::SlowBody => ("request_timeout", format!(
                "The body did not arrive within {} seconds, so nothing was stored; send it again.",
                BODY_DEADLINE.as_secs()
            )),
            Outcome::Malformed => ("malformed_body", "The body must be a JSON object with a non-empty signedPayload string, as App Store Server Notifications V2 send it.".to_owned()),
            Outcome::UnknownProject => ("not_found", "No project has this notification URL. If it was regenerated, copy the new URL from the project's App Store settings (Step 4) into App Store Connect.".to_owned()),
            Outcome::Rejected(e) => (rejection_code(&e), format!("{e} Nothing was stored.")),
            Outcome::Busy => ("busy", "storedesk is too busy to check this notification now and did not store it; send it again later.".to_owned()),
            Outcome::VerifyFailed => ("internal", "storedesk could not check this notification and did not store it; send it again later.".to_owned()),
            Outcome::StoreFailed => ("unavailable", "storedesk could not store this notification (its database is unavailable); send it again later.".to_owned()),
            Outcome::DatabaseUnavailable => ("database_unavailable", "storedesk cannot reach its database right now, so this notification was not stored; send it again later.".to_owned()),
            Outcome::Revoked => ("revoked", "The certificate that signed this notification was revoked, according to Apple's revocation check (OCSP). Nothing was stored.".to_owned()),
            Outcome::OnlineCheckBad => ("verification_failure", "The revocation check (OCSP) of the certificates that signed this notification gave an answer that could not be trusted or did not say they are good. Nothing was stored.".to_owned()),
            Outcome::OnlineCheckUnreachable => ("online_check_unavailable", format!(
                "The revocation check (OCSP) of the certificates that signed this notification could not be made within {} seconds, so it was not stored; Apple will send it again.",
                ONLINE_CHECK_DEADLINE.as_secs()
            )),
        };
        let request_id = current_request_id();
        if status.is_server_error() {
            tracing::error!(
                project,
                outcome,
                reason,
                request_id,
                "notification not stored"
            );
        } else {
            // The reason and our sentence only: never the payload.
            tracing::warn!(project, outcome, reason, request_id, message = %message, "notification refused");
        }
        let mut response = HttpResponse::build(status);
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.insert_header(("Retry-After", RETRY_AFTER));
        }
        response.json(json!({
            "error": {"code": code, "message": message, "request_id": request_id}
        }))
    }
}

/// The JSON error code of a refused notification: Apple's verifier status, lowercase.
fn rejection_code(e: &IngestError) -> &'static str {
    match e.reason() {
        "VERIFICATION_FAILURE" => "verification_failure",
        "INVALID_CHAIN_LENGTH" => "invalid_chain_length",
        "INVALID_CERTIFICATE" => "invalid_certificate",
        "INVALID_CHAIN" => "invalid_chain",
        "INVALID_APP_IDENTIFIER" => "invalid_app_identifier",
        "INVALID_ENVIRONMENT" => "invalid_environment",
        "MISSING_FIELD" => "missing_field",
        _ => "rejected",
    }
}

/// Apple's body, kept for forwarding only when it is not exactly Apple's usual form (which forwarding rebuilds
/// from the stored JWS): a body with other fields, spaces or escapes is forwarded as it came. `body` is UTF-8:
/// [`parse_body`] refused it otherwise.
fn unusual_body(body: &str, signed_payload: &str) -> Option<String> {
    // Compared in place: building Apple's form would copy the whole JWS (about 17 KB) for every notification.
    let usual = apple_form("");
    let (open, close) = usual.split_at(usual.len() - 2);
    let same = body
        .strip_prefix(open)
        .and_then(|rest| rest.strip_suffix(close))
        .is_some_and(|jws| jws == signed_payload.trim());
    (!same).then(|| body.to_owned())
}

/// What the webhook takes from a body: the notification's JWS and, when the body is not in Apple's usual form,
/// the body itself for forwarding.
#[derive(Debug, PartialEq, Eq)]
pub struct WebhookBody {
    pub signed_payload: String,
    pub raw_body: Option<String>,
}

/// The webhook body parser's entry point: `{"signedPayload": "<JWS>"}` with a non-empty JWS, in UTF-8, else
/// `None` (the route answers 400 malformed_body). Everything the route does with the body before verifying is
/// here; the fuzz harness in tests/fuzz calls it with arbitrary bytes and then `notifications::prepare`, as the
/// route does.
pub fn parse_body(body: &[u8]) -> Option<WebhookBody> {
    // JSON is UTF-8 (RFC 8259). serde_json checks only the strings it reads, not those of fields it skips, and
    // a body kept for forwarding must be forwarded as it came, not with replacement characters.
    let body = std::str::from_utf8(body).ok()?;
    let signed_payload = match serde_json::from_str::<Body>(body) {
        Ok(b) if !b.signed_payload.trim().is_empty() => b.signed_payload,
        _ => return None,
    };
    let raw_body = unusual_body(body, &signed_payload);
    Some(WebhookBody {
        signed_payload,
        raw_body,
    })
}

/// Tokens are 32 random bytes in unpadded base64url; anything else is answered without asking the database.
fn plausible_token(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

async fn read_body(req: &HttpRequest, mut payload: web::Payload) -> Result<web::BytesMut, Outcome> {
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > BODY_LIMIT) {
        return Err(Outcome::TooLarge);
    }
    // What a sender declares is not reserved up front: it may never send it.
    let mut body = web::BytesMut::with_capacity(declared.unwrap_or(0).min(8 * 1024));
    let read = async {
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|_| Outcome::Malformed)?;
            if body.len() + chunk.len() > BODY_LIMIT {
                return Err(Outcome::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(())
    };
    // actix times the request's head only; a body sent a byte a minute would hold the handler forever.
    match tokio::time::timeout(BODY_DEADLINE, read).await {
        Ok(Ok(())) => Ok(body),
        Ok(Err(outcome)) => Err(outcome),
        Err(_) => Err(Outcome::SlowBody),
    }
}

pub async fn receive(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    // The URL's token is checked before the body is read: a stranger's request costs no wait for its body.
    let token = path.into_inner();
    let project = if plausible_token(&token) {
        // Nothing is read or verified for a database known to be unavailable: the answer would be 503 anyway.
        if !state.database.available() {
            return Outcome::DatabaseUnavailable.respond(&state, None);
        }
        let lookup = state
            .database
            .bounded(
                DATABASE_DEADLINE,
                state.intake.project(&state.store, &token),
            )
            .await;
        match lookup {
            Some(Ok(p)) => p,
            Some(Err(e)) => {
                tracing::error!(error = %e, "could not look up the project of a notification URL");
                return store_failure(&e).respond(&state, None);
            }
            None => return Outcome::DatabaseUnavailable.respond(&state, None),
        }
    } else {
        None
    };
    let Some(project) = project else {
        return Outcome::UnknownProject.respond(&state, None);
    };
    let body = match read_body(&req, payload).await {
        Ok(b) => b,
        Err(outcome) => return outcome.respond(&state, Some(&project.slug)),
    };
    let Some(WebhookBody {
        signed_payload,
        raw_body,
    }) = parse_body(&body)
    else {
        return Outcome::Malformed.respond(&state, Some(&project.slug));
    };
    drop(body);

    let slug = project.slug.clone();
    // Live notifications only (backfill and replay keep the offline check at the signed date). Read before the
    // verification takes the payload; used only once the verification passed, so the chain is Apple's.
    let online_chain = state
        .settings
        .apple
        .online_checks
        .then(|| header_x5c(&signed_payload));
    let verifier_state = state.clone();
    let verified = state
        .intake
        .pool()
        .run(move || {
            prepare(
                &verifier_state.verifier,
                &project,
                &signed_payload,
                Source::Webhook,
            )
        })
        .await;
    let row = match verified {
        Ok(Ok((row, _))) => NewNotification { raw_body, ..row },
        Ok(Err(e)) => return Outcome::Rejected(e).respond(&state, Some(&slug)),
        Err(PoolError::Busy) => return Outcome::Busy.respond(&state, Some(&slug)),
        Err(PoolError::Failed) => return Outcome::VerifyFailed.respond(&state, Some(&slug)),
    };
    if let Some(chain) = online_chain {
        // Async, after the CPU pool: a slow responder holds this request only, not a verification thread.
        let status = match chain {
            Some(x5c) => state.intake.online().check(&x5c).await,
            None => ChainStatus::BadAnswer("the header carries no readable x5c".into()),
        };
        state.metrics.inc(
            ONLINE_CHECK_METRIC,
            &format!("outcome=\"{}\"", status.label()),
        );
        let refused = match &status {
            ChainStatus::Good | ChainStatus::Cached => None,
            ChainStatus::Revoked => Some(Outcome::Revoked),
            ChainStatus::BadAnswer(reason) => {
                tracing::warn!(project = %slug, reason = %reason, "a notification's revocation check gave a bad answer");
                Some(Outcome::OnlineCheckBad)
            }
            ChainStatus::Unreachable(reason) => {
                tracing::warn!(project = %slug, reason = %reason, "a notification's revocation check could not be made");
                Some(Outcome::OnlineCheckUnreachable)
            }
        };
        if let Some(outcome) = refused {
            return outcome.respond(&state, Some(&slug));
        }
    }
    let uuid = row.notification_uuid.clone();
    // Cut short, the row may still be committed later (the writer stores what its callers gave up on): the 503
    // makes Apple send it again, and its notificationUUID keeps the second delivery from making a second row.
    let stored = state
        .database
        .bounded(DATABASE_DEADLINE, state.intake.writer().insert(row))
        .await;
    match stored {
        Some(Ok(inserted)) => Outcome::Stored(inserted, uuid).respond(&state, Some(&slug)),
        Some(Err(e)) => {
            tracing::error!(error = %e, project = %slug, "could not store a verified notification");
            store_failure(&e).respond(&state, Some(&slug))
        }
        None => {
            tracing::error!(project = %slug, notification_uuid = %uuid, "the database did not commit a notification in time");
            Outcome::DatabaseUnavailable.respond(&state, Some(&slug))
        }
    }
}

/// The x5c entries of a JWS's header as sent (standard base64), or None when the header cannot be read.
fn header_x5c(jws: &str) -> Option<Vec<String>> {
    #[derive(Deserialize)]
    struct Header {
        x5c: Vec<String>,
    }
    use base64::Engine as _;
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(jws.trim().split('.').next()?.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice::<Header>(&header)
        .ok()
        .map(|h| h.x5c)
}

/// A database out of reach is said to be so; any other failure to store is the general 503.
fn store_failure(e: &crate::store::StoreError) -> Outcome {
    if e.is_unavailable() {
        Outcome::DatabaseUnavailable
    } else {
        Outcome::StoreFailed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_body_in_another_form_than_apples_is_kept() {
        assert_eq!(unusual_body(r#"{"signedPayload":"a.b.c"}"#, "a.b.c"), None);
        assert_eq!(
            unusual_body(r#"{ "signedPayload": "a.b.c" }"#, "a.b.c").as_deref(),
            Some(r#"{ "signedPayload": "a.b.c" }"#)
        );
        assert!(unusual_body(r#"{"signedPayload":" a.b.c"}"#, " a.b.c").is_some());
        assert!(unusual_body(r#"{"signedPayload":"a.b.c","x":1}"#, "a.b.c").is_some());
    }

    #[test]
    fn a_body_that_is_not_utf8_is_malformed_even_where_the_parser_would_skip_it() {
        // Found by fuzzing: the invalid byte is in a field serde_json skips without reading its string.
        assert_eq!(
            parse_body(b"{\"signedPayload\":\"a.b.c\",\"x\":\"\x80\"}"),
            None
        );
        assert_eq!(
            parse_body(b"{\"signedPayload\":\"a.b.c\",\"x\":\"\xc3\xa9\"}"),
            Some(WebhookBody {
                signed_payload: "a.b.c".into(),
                raw_body: Some("{\"signedPayload\":\"a.b.c\",\"x\":\"é\"}".into()),
            })
        );
    }

    #[test]
    fn only_tokens_of_the_right_shape_reach_the_database() {
        assert!(plausible_token(&"a".repeat(43)));
        assert!(plausible_token(
            "AZaz09-_AZaz09-_AZaz09-_AZaz09-_AZaz09-_xyz"
        ));
        assert!(!plausible_token(&"a".repeat(42)));
        assert!(!plausible_token(&"a".repeat(44)));
        assert!(!plausible_token(&format!("{}%", "a".repeat(42))));
        assert!(!plausible_token(""));
    }
}
