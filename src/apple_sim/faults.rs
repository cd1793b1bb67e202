//! Faults a test can queue so the next API calls misbehave the ways Apple (or the network) can.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

fn one() -> u32 {
    1
}

/// One kind of misbehaviour, applied to the next `count` App Store Server API calls (after authentication).
/// As JSON (for `POST /sim/faults`): `{"type":"ApiError","code":5000001,"count":2}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Fault {
    /// Answer `{"errorCode": code, ...}` with HTTP status = the code's first three digits.
    ApiError {
        code: i64,
        #[serde(default = "one")]
        count: u32,
    },
    /// Answer 429 / 4290000 with `Retry-After` = now + `retry_after_ms`, as a UNIX time in milliseconds.
    RateLimited {
        retry_after_ms: i64,
        #[serde(default = "one")]
        count: u32,
    },
    /// Wait `seconds` before answering normally (longer than the client's timeout, usually).
    Hang {
        seconds: u64,
        #[serde(default = "one")]
        count: u32,
    },
    /// Answer 200 with a body that is not JSON.
    Garbage {
        #[serde(default = "one")]
        count: u32,
    },
    /// Answer normally, but every signed field carries a signature that does not verify.
    BadSignature {
        #[serde(default = "one")]
        count: u32,
    },
    /// Answer normally: holds a place in the queue, so that the fault after it hits a later call.
    Normal {
        #[serde(default = "one")]
        count: u32,
    },
    /// Answer HTTP `status` with a plain-text body and no error code (a proxy or gateway in the way).
    HttpStatus {
        status: u16,
        #[serde(default = "one")]
        count: u32,
    },
    /// Answer 200 with a JSON body of 9 MiB (most of it spaces), larger than any answer of Apple's.
    Oversized {
        #[serde(default = "one")]
        count: u32,
    },
    /// Carry out a renewal-date extension, then answer Apple's error `code` (say 5000000): the work was done and
    /// the answer says it failed, as when Apple's server fails after applying it. Other endpoints answer the error
    /// before any work, as `ApiError`.
    AppliedThenError {
        code: i64,
        #[serde(default = "one")]
        count: u32,
    },
    /// Answer normally, after Apple changed the transaction `transaction_id` just now (as a refund or a renewal
    /// would): its last-modified date becomes the time of this call, so it moves in History's order.
    Touch {
        transaction_id: String,
        #[serde(default = "one")]
        count: u32,
    },
    /// Answer 200 with an empty page that says more follow, under the same page token every time (a history that
    /// never moves on).
    Stuck {
        #[serde(default = "one")]
        count: u32,
    },
}

impl Fault {
    fn count(&self) -> u32 {
        match self {
            Self::ApiError { count, .. }
            | Self::RateLimited { count, .. }
            | Self::Hang { count, .. }
            | Self::Garbage { count }
            | Self::BadSignature { count }
            | Self::Normal { count }
            | Self::Stuck { count }
            | Self::AppliedThenError { count, .. }
            | Self::Touch { count, .. }
            | Self::Oversized { count }
            | Self::HttpStatus { count, .. } => *count,
        }
    }
}

/// Faults are consumed in the order they were injected; each stays at the front until its count is used up.
#[derive(Default)]
pub(crate) struct FaultQueue {
    queue: VecDeque<(Fault, u32)>,
}

impl FaultQueue {
    pub(crate) fn push(&mut self, fault: Fault) {
        let count = fault.count();
        if count > 0 {
            self.queue.push_back((fault, count));
        }
    }

    /// The fault for the current call, if any.
    pub(crate) fn take(&mut self) -> Option<Fault> {
        let (fault, remaining) = self.queue.front_mut()?;
        let fault = fault.clone();
        *remaining -= 1;
        if *remaining == 0 {
            self.queue.pop_front();
        }
        Some(fault)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn faults_apply_in_order_for_their_count() {
        let mut q = FaultQueue::default();
        q.push(Fault::Garbage { count: 2 });
        q.push(Fault::ApiError {
            code: 5_000_001,
            count: 1,
        });
        assert_eq!(q.take(), Some(Fault::Garbage { count: 2 }));
        assert_eq!(q.take(), Some(Fault::Garbage { count: 2 }));
        assert!(matches!(
            q.take(),
            Some(Fault::ApiError {
                code: 5_000_001,
                ..
            })
        ));
        assert_eq!(q.take(), None);
    }

    #[test]
    fn fault_json_defaults_count_to_one() {
        let f: Fault = serde_json::from_str(r#"{"type":"ApiError","code":5000000}"#).unwrap();
        assert_eq!(
            f,
            Fault::ApiError {
                code: 5_000_000,
                count: 1
            }
        );
    }
}
