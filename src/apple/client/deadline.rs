//! The bound on how long a person waits for Apple. The client's own limits (a timeout per attempt, retries with
//! backoff) suit work in the background, but together they can keep a page or a button waiting a minute and more
//! on an Apple that accepts connections and then stays silent. A call someone waits for runs [`AppleClient::within`]
//! one deadline that covers every attempt and every request of the call; past it the call is dropped.
use std::future::Future;
use std::time::Duration;

use super::AppleClient;
use crate::apple::error::AppleError;

/// What a person waits for Apple at most by default, retries included.
pub const DEFAULT_ANSWER_WITHIN: Duration = Duration::from_secs(15);

impl AppleClient {
    /// Runs `call` (one request or several, with their retries) within the client's answer bound
    /// ([`super::AppleClientConfig::answer_within`]); past it, `call` is dropped and the answer is
    /// [`AppleError::NoAnswer`].
    pub async fn within<T, Fut>(&self, call: Fut) -> Result<T, AppleError>
    where
        Fut: Future<Output = Result<T, AppleError>>,
    {
        let bound = self.config.answer_within;
        match tokio::time::timeout(bound, call).await {
            Ok(answer) => answer,
            Err(_) => Err(AppleError::NoAnswer { within: bound }),
        }
    }
}
