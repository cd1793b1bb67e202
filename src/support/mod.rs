//! The support desk's service layer: find a customer's purchases from whatever id was pasted, tell them in plain
//! words, page the history, show the subscription's state, extend a renewal date, and keep a local index of every
//! transaction seen so that the desk still answers (saying how old the answer is) when Apple can't.
//!
//! Nothing here knows about HTML: the pages in `routes::support` and the JSON API are both built on these
//! functions, and every result is `Serialize`. Every Apple call goes through `apple_calls::with_project_key`;
//! every signed item is verified against the project's identity before it is shown or indexed; every lookup is
//! written to the audit log.

pub mod customer;
pub(crate) mod fetch;
pub mod history;
pub mod index;
pub mod lookup;
pub mod mass_extension;
pub mod present;
pub mod query;
pub mod subscription;
pub mod timeline;

use std::future::Future;
use std::sync::Arc;

use serde::Serialize;

use crate::apple::models::jws_transaction_decoded_payload::JWSTransactionDecodedPayload;
use crate::apple::{
    ApiCredentials, AppIdentity, AppleError, Environment, ProblemKind, SignedDataVerifier,
    Verified, VerifyError,
};
use crate::cpu_pool::{PoolError, Submitted};
use crate::error::AppError;
use crate::state::AppState;
use crate::store::transactions::StoredCopies;
use crate::store::Project;

pub use history::{export_csv, CsvExport, HistoryFilters, HistoryPage, HistoryParams};
pub use index::{index_transaction, index_transaction_in};
pub use lookup::{
    search, CustomerNow, HistoryRequest, RefundHistory, SearchResult, TransactionReport,
};
pub use present::{Money, TransactionView, When};
pub use query::{Pasted, SearchInput, SearchInputError, SearchQuery};
pub use subscription::{
    extend_renewal_date, subscription_status, ExtendRequest, SubscriptionReport,
};
pub use timeline::Timeline;

/// A form or query field that was refused, with the sentence shown next to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

/// Why Apple's answer is missing, with the sentence for people (`AppleError::sentence`, or ours). Its kind comes
/// from the one classification of Apple's failures, `ProblemKind::of`, whose table the JSON API answers by.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AppleProblem {
    pub kind: ProblemKind,
    pub sentence: String,
    pub code: Option<i64>,
    pub http_status: Option<u16>,
}

impl AppleProblem {
    pub fn from_error(e: &AppleError) -> Self {
        AppleProblem {
            kind: ProblemKind::of(e),
            sentence: e.sentence(),
            code: e.code(),
            http_status: e.http_status(),
        }
    }

    pub fn no_key() -> Self {
        AppleProblem {
            kind: ProblemKind::NoKey,
            sentence: ProblemKind::NoKey.answer().sentence.fixed().to_owned(),
            code: None,
            http_status: None,
        }
    }

    pub fn unverifiable(e: &VerifyError) -> Self {
        // A parser's own words (which byte of which DER structure) mean nothing to an agent; they go to the log.
        let why = match e {
            VerifyError::BadCertificate { which, reason } => {
                tracing::warn!(error = %reason, "a certificate in Apple's answer could not be parsed");
                format!("The {which} certificate in the signed data could not be read.")
            }
            VerifyError::MalformedJws(detail) => {
                tracing::warn!(error = %detail, "Apple's answer is not a well-formed JWS");
                "The signed data is not a well-formed JWS.".to_owned()
            }
            other => other.to_string(),
        };
        AppleProblem {
            kind: ProblemKind::Unverifiable,
            sentence: format!(
                "{} {why}",
                ProblemKind::Unverifiable.answer().sentence.fixed()
            ),
            code: None,
            http_status: None,
        }
    }

    pub(crate) fn not_found(sentence: impl Into<String>) -> Self {
        AppleProblem {
            kind: ProblemKind::NotFound,
            sentence: sentence.into(),
            code: None,
            http_status: None,
        }
    }

    /// Apple answered, and the answer is that the thing does not exist.
    pub fn is_not_found(&self) -> bool {
        self.kind == ProblemKind::NotFound
    }
}

/// Where the data of a result (or of one section of it) came from, and how old it is. Data from the index is
/// never presented as fresh.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Freshness {
    /// True only when Apple answered for this very request.
    pub fresh: bool,
    /// The environment that answered (fresh), or that the indexed rows belong to.
    pub environment: Option<String>,
    /// When Apple answered (fresh) or, for the index, the oldest "as of" time among the rows shown.
    pub as_of: Option<When>,
    pub problem: Option<AppleProblem>,
    /// One sentence for people.
    pub sentence: String,
}

impl Freshness {
    pub fn from_apple(environment: Environment, now_ms: i64) -> Self {
        Freshness {
            fresh: true,
            environment: Some(environment.as_str().to_owned()),
            as_of: Some(When::at(now_ms, now_ms)),
            problem: None,
            sentence: format!(
                "Fresh from Apple ({environment}) at {}.",
                crate::present::time::utc(now_ms)
            ),
        }
    }

    /// The index answers because Apple could not (or, for app account tokens, because only the index can).
    pub fn from_index(
        as_of_ms: Option<i64>,
        problem: Option<AppleProblem>,
        empty: bool,
        now_ms: i64,
    ) -> Self {
        let as_of = as_of_ms.map(|ms| When::at(ms, now_ms));
        let lead = problem
            .as_ref()
            .map(|p| format!("{} ", p.sentence))
            .unwrap_or_default();
        let sentence = match (&as_of, empty) {
            (_, true) => format!("{lead}storedesk's own index has nothing for it either."),
            (Some(w), false) => format!(
                "{lead}Showing storedesk's index as of {} ({}), not fresh from Apple.",
                w.utc, w.relative
            ),
            (None, false) => format!("{lead}Showing storedesk's index, not fresh from Apple."),
        };
        Freshness {
            fresh: false,
            environment: None,
            as_of,
            problem,
            sentence,
        }
    }
}

/// The identity Apple's signed data must carry for this project in `environment`.
pub fn identity(project: &Project, environment: Environment) -> AppIdentity {
    AppIdentity {
        bundle_id: project.bundle_id.clone(),
        app_apple_id: project.app_apple_id,
        environment,
    }
}

/// Runs one Apple call with the project's key (recorded on the key row), within the client's answer bound.
/// `Ok(Err(problem))` is Apple's trouble, to be shown; `Err` is ours (database, sealed key), a 500.
pub(crate) async fn call_apple<T, F, Fut>(
    state: &AppState,
    project: &Project,
    call: F,
) -> Result<Result<T, AppleProblem>, AppError>
where
    F: FnOnce(ApiCredentials) -> Fut,
    Fut: Future<Output = Result<T, AppleError>>,
{
    // Bounded by the client's answer bound (`AppleClient::within`): past it the index answers.
    match crate::apple_calls::with_project_key(state, project, call).await {
        Ok(Ok(value)) => Ok(Ok(value)),
        Ok(Err(e)) => Ok(Err(AppleProblem::from_error(&e))),
        // with_project_key answers BadRequest only when the project has no key in use.
        Err(AppError::BadRequest(_)) => Ok(Err(AppleProblem::no_key())),
        Err(e) => Err(e),
    }
}

/// A transaction Apple signed and we verified, with the JWS kept for the index.
#[derive(Clone, Debug)]
pub struct SignedTransaction {
    pub jws: String,
    pub environment: Environment,
    pub verified: Verified<JWSTransactionDecodedPayload>,
    /// False for a copy recognised as one the index holds verified (`verified` is then that copy, and `jws`, whose
    /// signature was not checked, is never stored).
    pub signature_checked: bool,
}

/// Below this many items, one pool thread does the whole batch: handing out parts costs more than it saves.
const PARALLEL_VERIFY_FROM: usize = 4;

/// Verifies a batch of signed transactions on the page-verification threads (a history page is 20 signatures),
/// without holding up the caller's thread meanwhile.
pub(crate) async fn verify_transactions(
    state: &AppState,
    identity: &AppIdentity,
    jws: &[String],
) -> Vec<Result<SignedTransaction, VerifyError>> {
    verify_soon(state, identity, jws.to_vec()).wait().await
}

type Checked = Result<SignedTransaction, VerifyError>;

/// Verifies one signed transaction, unless it is a new signature over a copy the index holds verified.
pub(crate) fn check_one(
    verifier: &SignedDataVerifier,
    identity: &AppIdentity,
    known: Option<&StoredCopies>,
    jws: &str,
) -> Checked {
    let env = identity.environment.as_str();
    // An empty index (a customer never seen) holds nothing to recognise: the payload is not read twice for it.
    let recognised = known.filter(|k| !k.is_empty()).and_then(|k| {
        SignedDataVerifier::recognise_transaction(jws, identity, |id| k.verified_payload(id, env))
    });
    let signature_checked = recognised.is_none();
    let verified = match recognised {
        Some(v) => v,
        None => verifier.verify_transaction(jws, identity)?,
    };
    Ok(SignedTransaction {
        jws: jws.to_owned(),
        environment: identity.environment,
        verified,
        signature_checked,
    })
}

/// One after the other, on this thread.
fn verify_each(
    verifier: &SignedDataVerifier,
    identity: &AppIdentity,
    known: Option<&StoredCopies>,
    jws: &[String],
) -> Vec<Checked> {
    jws.iter()
        .map(|s| check_one(verifier, identity, known, s))
        .collect()
}

/// Some of a batch, and its job on the pool (or why it could not be queued: it is then verified by the waiter).
type Part = (Arc<Vec<String>>, Result<Submitted<Vec<Checked>>, PoolError>);

/// A batch of signed transactions being verified on the page-verification threads while the page goes on.
pub(crate) struct Verifying {
    parts: Vec<Part>,
    verifier: Arc<SignedDataVerifier>,
    identity: AppIdentity,
    known: Option<Arc<StoredCopies>>,
}

/// Starts verifying `jws` at once, spread over the page-verification threads (persistent, one per core: a page
/// verifies up to three batches, and starting threads for each cost more than the smaller ones took).
pub(crate) fn verify_soon(state: &AppState, identity: &AppIdentity, jws: Vec<String>) -> Verifying {
    verify_soon_knowing(state, identity, jws, None)
}

/// [`verify_soon`], taking copies that match ones the index holds (`known`, read for the same project) from the
/// index instead of checking their new signatures.
pub(crate) fn verify_soon_knowing(
    state: &AppState,
    identity: &AppIdentity,
    mut jws: Vec<String>,
    known: Option<Arc<StoredCopies>>,
) -> Verifying {
    let chunks = if jws.len() < PARALLEL_VERIFY_FROM {
        1
    } else {
        state.page_pool.threads().min(jws.len())
    };
    let size = jws.len().div_ceil(chunks).max(1);
    let mut parts = Vec::with_capacity(chunks);
    while !jws.is_empty() {
        let rest = jws.split_off(size.min(jws.len()));
        let part = Arc::new(std::mem::replace(&mut jws, rest));
        let (verifier, who, input) = (state.verifier.clone(), identity.clone(), part.clone());
        let known = known.clone();
        let job = state
            .page_pool
            .submit(move || verify_each(&verifier, &who, known.as_deref(), &input));
        parts.push((part, job));
    }
    Verifying {
        parts,
        verifier: state.verifier.clone(),
        identity: identity.clone(),
        known,
    }
}

impl Verifying {
    /// The results in the order given.
    pub(crate) async fn wait(self) -> Vec<Checked> {
        let mut out = Vec::new();
        for (part, job) in self.parts {
            let done = match job {
                Ok(job) => job.result().await.ok(),
                Err(_) => None,
            };
            // The queue was full or the job failed: verified here instead.
            out.extend(done.unwrap_or_else(|| {
                verify_each(&self.verifier, &self.identity, self.known.as_deref(), &part)
            }));
        }
        out
    }
}

/// What a JWS payload claims, read WITHOUT verifying it: only ever used to decide what to ask Apple next, what
/// to read from the index ahead, or to skip a copy already verified from another answer — never to show or store
/// anything. Only these fields are read (serde skips the rest), so a page can ask it of every transaction Apple
/// listed.
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct Claims {
    #[serde(rename = "transactionId")]
    transaction_id: Option<String>,
    #[serde(rename = "originalTransactionId")]
    original_transaction_id: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
}

impl Claims {
    fn is_subscription(&self) -> bool {
        self.kind.as_deref() == Some("Auto-Renewable Subscription")
    }
}

fn claims(jws: &str) -> Claims {
    use base64::Engine as _;
    let Some(payload) = jws.split('.').nth(1) else {
        return Claims::default();
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

pub(crate) fn claimed_transaction_id(jws: &str) -> Option<String> {
    claims(jws).transaction_id
}

/// The copies in `signed` whose claimed transaction is not in `seen` yet (each one kept is added), so that a
/// transaction verified from another answer is not verified twice. A copy that claims no id is kept.
pub(crate) fn unseen(
    signed: Vec<String>,
    seen: &mut std::collections::HashSet<String>,
) -> Vec<String> {
    signed
        .into_iter()
        .filter(|j| claimed_transaction_id(j).is_none_or(|t| seen.insert(t)))
        .collect()
}

/// Keeps what verified; the first failure becomes the section's problem (nothing unverified is shown).
pub(crate) fn split_verified(
    results: Vec<Result<SignedTransaction, VerifyError>>,
) -> (Vec<SignedTransaction>, Option<AppleProblem>) {
    let mut ok = Vec::with_capacity(results.len());
    let mut problem = None;
    for r in results {
        match r {
            Ok(t) => ok.push(t),
            Err(e) => {
                tracing::warn!(error = %e, code = e.code(), "a signed transaction from Apple failed verification");
                problem.get_or_insert_with(|| AppleProblem::unverifiable(&e));
            }
        }
    }
    (ok, problem)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apple::ApiErrorKind;

    #[test]
    fn a_parsers_words_stay_off_the_page() {
        let cases = [
            (
                VerifyError::BadCertificate {
                    which: "leaf",
                    reason: "incomplete DER: expected 312 bytes at byte 17".into(),
                },
                "Apple's answer did not pass verification, so none of it is shown: The leaf certificate in the \
                 signed data could not be read.",
            ),
            (
                VerifyError::MalformedJws("invalid base64 at offset 9".into()),
                "Apple's answer did not pass verification, so none of it is shown: The signed data is not a \
                 well-formed JWS.",
            ),
            (
                VerifyError::BadSignature,
                "Apple's answer did not pass verification, so none of it is shown: The signature does not match \
                 the signed data; it was altered or not signed by Apple.",
            ),
        ];
        for (error, sentence) in cases {
            assert_eq!(AppleProblem::unverifiable(&error).sentence, sentence);
        }
    }

    #[test]
    fn each_apple_error_falls_in_its_category() {
        let api = |code: i64| AppleError::Api {
            status: (code / 10_000) as u16,
            code,
            kind: ApiErrorKind::from_code(code),
            environment: Environment::Sandbox,
            retries: 0,
        };
        let kind = |e: AppleError| AppleProblem::from_error(&e).kind;
        assert_eq!(
            kind(AppleError::Unauthorized {
                environment: Environment::Production
            }),
            ProblemKind::Unauthorized
        );
        assert_eq!(kind(api(4040010)), ProblemKind::NotFound);
        assert_eq!(kind(api(4040005)), ProblemKind::NotFound);
        assert_eq!(
            kind(AppleError::RateLimited { retry_at_ms: None }),
            ProblemKind::RateLimited
        );
        assert_eq!(kind(api(5000000)), ProblemKind::AppleError);
        assert_eq!(
            kind(AppleError::HttpStatus {
                status: 503,
                retries: 2
            }),
            ProblemKind::AppleError
        );
        assert_eq!(
            kind(AppleError::Timeout { retries: 2 }),
            ProblemKind::Timeout
        );
        assert_eq!(kind(api(4000006)), ProblemKind::Refused);
        let p = AppleProblem::from_error(&api(5000001));
        assert_eq!(p.code, Some(5000001));
        assert_eq!(p.http_status, Some(500));
    }

    #[test]
    fn index_answers_never_claim_to_be_fresh() {
        let now = 1_800_000_000_000;
        let f = Freshness::from_index(
            Some(now - 3_600_000),
            Some(AppleProblem::from_error(&AppleError::Timeout {
                retries: 2,
            })),
            false,
            now,
        );
        assert!(!f.fresh);
        assert!(f.sentence.starts_with("Apple did not answer in time."));
        assert!(f.sentence.contains("Showing storedesk's index as of"));
        assert!(f.sentence.contains("1 hour ago"));
        assert!(f.sentence.contains("not fresh from Apple"));
    }
}
