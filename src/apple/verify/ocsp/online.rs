//! The online part: both requests of a chain POSTed at once, under one overall deadline, and a chain found good
//! remembered for [`GOOD_FOR`] (at most [`CACHE_CAPACITY`] chains, per instance), as Apple's libraries do.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use chrono::Utc;
use sha2::{Digest, Sha256};

use super::super::jws::B64STD;
use super::{within, OcspOutcome, OcspQuery, REQUEST_CONTENT_TYPE};

/// How long a chain checked good is not checked again.
pub const GOOD_FOR: Duration = Duration::from_secs(15 * 60);
/// Chains remembered at most; the oldest goes first.
pub const CACHE_CAPACITY: usize = 32;
/// The longest both checks together may take before the notification is answered 503 (Apple retries).
pub const DEADLINE: Duration = Duration::from_secs(5);
/// An answer larger than this is not an OCSP response for one certificate.
const ANSWER_LIMIT: usize = 64 * 1024;

/// What the check of a whole chain says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainStatus {
    /// Checked good within [`GOOD_FOR`]: no request made.
    Cached,
    Good,
    Revoked,
    BadAnswer(String),
    Unreachable(String),
}

impl ChainStatus {
    /// The metrics label of the outcome.
    pub fn label(&self) -> &'static str {
        match self {
            ChainStatus::Cached => "cached",
            ChainStatus::Good => "good",
            ChainStatus::Revoked => "revoked",
            ChainStatus::BadAnswer(_) => "bad",
            ChainStatus::Unreachable(_) => "unreachable",
        }
    }
}

/// The leaf's and the intermediate's (notBefore, notAfter), UNIX ms: kept with a chain found good, so that a cached
/// chain is held to the current time without decoding its certificates again.
type Validity = [(i64, i64); 2];

/// Chains found good (by key: when, and their certificates' validity), and their keys oldest first.
type GoodChains = (HashMap<[u8; 32], (Instant, Validity)>, VecDeque<[u8; 32]>);

/// With online checks on, the chain is checked at the current time (Apple's rule), cached or not: a certificate
/// may expire within the cache's time.
fn not_valid_now(validity: &Validity, now: chrono::DateTime<Utc>) -> Option<ChainStatus> {
    let which = ["leaf", "intermediate"]
        .into_iter()
        .zip(validity)
        .find(|(_, window)| !within(**window, now))?
        .0;
    Some(ChainStatus::BadAnswer(format!(
        "the {which} certificate is not valid now (with online checks on, the chain is checked at the current time, \
         as Apple's libraries do)"
    )))
}

/// Checks chains online; share one per instance.
#[derive(Debug)]
pub struct OnlineChecker {
    http: reqwest::Client,
    deadline: Duration,
    good: Mutex<GoodChains>,
}

impl OnlineChecker {
    pub fn new(deadline: Duration) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(deadline)
            // Apple's responder is plain HTTP (OCSP answers are signed); a redirect is not followed.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(OnlineChecker {
            http,
            deadline,
            good: Mutex::new((HashMap::new(), VecDeque::new())),
        })
    }

    /// Checks the leaf (issuer: the intermediate) and the intermediate (issuer: the root) of an x5c chain as
    /// sent (standard base64: leaf, intermediate, root), already validated offline.
    pub async fn check(&self, x5c: &[String]) -> ChainStatus {
        let [leaf, intermediate, root] = x5c else {
            return ChainStatus::BadAnswer("the chain does not have three certificates".into());
        };
        let key = chain_key(leaf, intermediate, root);
        let now = Utc::now();
        if let Some(validity) = self.cached(&key) {
            return not_valid_now(&validity, now).unwrap_or(ChainStatus::Cached);
        }
        let der = |b64: &str| {
            B64STD
                .decode(b64)
                .map_err(|_| "a certificate is not base64".to_owned())
        };
        let queries = der(leaf)
            .and_then(|leaf| Ok((leaf, der(intermediate)?, der(root)?)))
            .and_then(|(leaf, intermediate, root)| {
                Ok((
                    OcspQuery::new(&leaf, &intermediate)?,
                    OcspQuery::new(&intermediate, &root)?,
                ))
            });
        let (leaf_query, intermediate_query) = match queries {
            Ok(q) => q,
            Err(reason) => return ChainStatus::BadAnswer(reason),
        };
        let validity = [leaf_query.validity(), intermediate_query.validity()];
        if let Some(invalid) = not_valid_now(&validity, now) {
            return invalid;
        }
        let both = async { tokio::join!(self.ask(&leaf_query), self.ask(&intermediate_query)) };
        let (leaf_outcome, intermediate_outcome) =
            match tokio::time::timeout(self.deadline, both).await {
                Ok(outcomes) => outcomes,
                Err(_) => {
                    return ChainStatus::Unreachable(format!(
                        "no answer within {} s",
                        self.deadline.as_secs_f32()
                    ))
                }
            };
        let status = combine(leaf_outcome, intermediate_outcome);
        if status == ChainStatus::Good {
            self.remember(key, validity);
        }
        status
    }

    async fn ask(&self, query: &OcspQuery) -> OcspOutcome {
        let sent = self
            .http
            .post(&query.url)
            .header(reqwest::header::CONTENT_TYPE, REQUEST_CONTENT_TYPE)
            .body(query.body.clone())
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            Err(e) => {
                return OcspOutcome::Unreachable(format!(
                    "the responder could not be reached ({e})"
                ))
            }
        };
        if response.status() != reqwest::StatusCode::OK {
            return OcspOutcome::Unreachable(format!(
                "the responder answered {}",
                response.status()
            ));
        }
        if response
            .content_length()
            .is_some_and(|len| len > ANSWER_LIMIT as u64)
        {
            return OcspOutcome::BadAnswer("the answer is too large".into());
        }
        match response.bytes().await {
            Ok(body) if body.len() > ANSWER_LIMIT => {
                OcspOutcome::BadAnswer("the answer is too large".into())
            }
            Ok(body) => query.judge(&body, Utc::now()),
            Err(e) => OcspOutcome::Unreachable(format!("the answer could not be read ({e})")),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, GoodChains> {
        self.good.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The validity of a chain found good within [`GOOD_FOR`], if it is one.
    fn cached(&self, key: &[u8; 32]) -> Option<Validity> {
        let mut cache = self.lock();
        match cache.0.get(key) {
            Some((at, validity)) if at.elapsed() < GOOD_FOR => Some(*validity),
            Some(_) => {
                cache.0.remove(key);
                cache.1.retain(|k| k != key);
                None
            }
            None => None,
        }
    }

    fn remember(&self, key: [u8; 32], validity: Validity) {
        let mut cache = self.lock();
        let (map, order) = &mut *cache;
        if map.insert(key, (Instant::now(), validity)).is_none() {
            order.push_back(key);
        }
        while map.len() > CACHE_CAPACITY {
            match order.pop_front() {
                Some(oldest) => {
                    map.remove(&oldest);
                }
                None => map.clear(),
            }
        }
    }

    /// Chains remembered as good (for tests).
    pub fn cached_chains(&self) -> usize {
        self.lock().0.len()
    }
}

fn chain_key(leaf: &str, intermediate: &str, root: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    // '.' is not a base64 character: the entries' boundaries are unambiguous.
    for part in [leaf, ".", intermediate, ".", root] {
        hasher.update(part.as_bytes());
    }
    hasher.finalize().into()
}

/// A definite answer about either certificate wins over a missing one: revoked first, then a bad answer.
fn combine(leaf: OcspOutcome, intermediate: OcspOutcome) -> ChainStatus {
    use OcspOutcome::*;
    match (leaf, intermediate) {
        (Revoked, _) | (_, Revoked) => ChainStatus::Revoked,
        (BadAnswer(r), _) => ChainStatus::BadAnswer(format!("leaf: {r}")),
        (_, BadAnswer(r)) => ChainStatus::BadAnswer(format!("intermediate: {r}")),
        (Unreachable(r), _) => ChainStatus::Unreachable(format!("leaf: {r}")),
        (_, Unreachable(r)) => ChainStatus::Unreachable(format!("intermediate: {r}")),
        (Good, Good) => ChainStatus::Good,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cached_chain_is_still_held_to_the_current_time() {
        let now = Utc::now();
        let ms = now.timestamp_millis();
        let valid = (ms - 1_000, ms + 1_000);
        let expired = (ms - 2_000, ms - 1);
        assert_eq!(not_valid_now(&[valid, valid], now), None);
        let says = |v: &Validity| match not_valid_now(v, now) {
            Some(ChainStatus::BadAnswer(reason)) => reason,
            other => panic!("expected a bad answer, got {other:?}"),
        };
        assert!(says(&[expired, valid]).starts_with("the leaf certificate is not valid now"));
        assert!(
            says(&[valid, expired]).starts_with("the intermediate certificate is not valid now")
        );
    }
}
