//! Paging through Apple's Get Notification History with the project's key, as the backfill and the gap job
//! both do: the same filters with every `paginationToken`, and a short wait when Apple says to slow down.
use std::time::Duration;

use app_store_server_library::models::notification_history_request::NotificationHistoryRequest;

use super::ingest::{ingest_forwarding, IngestError, Source};
use crate::apple::{AppleError, Environment};
use crate::error::AppError;
use crate::state::AppState;
use crate::store::notifications::Inserted;
use crate::store::Project;

pub const DAY_MS: i64 = 86_400_000;
/// How far back Apple keeps notification history.
pub fn history_window_days(env: Environment) -> i64 {
    match env {
        Environment::Production => 180,
        Environment::Sandbox => 30,
    }
}

/// A rate-limited page is retried after Apple's Retry-After when that is at most this far away.
const MAX_RATE_LIMIT_WAIT: Duration = Duration::from_secs(60);
const MAX_RATE_LIMIT_RETRIES: u32 = 3;

#[derive(Debug)]
pub enum HistoryError {
    /// Apple refused or could not be reached; the sentence is for people.
    Apple(AppleError),
    /// Ours (no key in use, database): the sentence is for people too.
    App(String),
    /// Apple's paging did not move on: what came before is stored.
    Stuck(String),
}

impl HistoryError {
    pub fn sentence(&self) -> String {
        match self {
            HistoryError::Apple(e) => e.sentence(),
            HistoryError::App(s) | HistoryError::Stuck(s) => s.clone(),
        }
    }
}

impl From<AppError> for HistoryError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::BadRequest(s) => HistoryError::App(s),
            other => {
                tracing::error!(error = ?other, "notification history");
                HistoryError::App(
                    "storedesk had an internal error; the server log has the details.".into(),
                )
            }
        }
    }
}

pub struct HistoryPager<'a> {
    state: &'a AppState,
    project: &'a Project,
    env: Environment,
    request: NotificationHistoryRequest,
    token: Option<String>,
    done: bool,
    /// Page tokens already followed, pages read, and empty pages in a row: a history that keeps saying "more"
    /// without moving on is stopped instead of paged forever.
    followed: std::collections::HashSet<String>,
    pages: usize,
    empty_in_a_row: usize,
    /// Why the pager stopped early, told on the call after the page that made it stop (that page is kept).
    stopped: Option<String>,
}

/// Most pages one pager reads (20 notifications each: a million notifications).
const MAX_PAGES: usize = 50_000;
/// Empty pages in a row that still say more follow, before the pager gives up.
const MAX_EMPTY_IN_A_ROW: usize = 20;

impl<'a> HistoryPager<'a> {
    pub fn new(
        state: &'a AppState,
        project: &'a Project,
        env: Environment,
        start_ms: i64,
        end_ms: i64,
    ) -> Self {
        let date = |ms: i64| chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default();
        HistoryPager {
            state,
            project,
            env,
            request: NotificationHistoryRequest {
                start_date: date(start_ms),
                end_date: date(end_ms),
                notification_type: None,
                notification_subtype: None,
                transaction_id: None,
                only_failures: None,
            },
            token: None,
            done: false,
            followed: std::collections::HashSet::new(),
            pages: 0,
            empty_in_a_row: 0,
            stopped: None,
        }
    }

    /// Goes on from Apple's `paginationToken` of an earlier pager over the same range (a backfill taken over).
    pub fn resume_at(mut self, token: String) -> Self {
        self.followed.insert(token.clone());
        self.token = Some(token);
        self
    }

    /// Where the history goes on after the pages read so far: the token of the next page, or `None` once the
    /// last page was read.
    pub fn next_token(&self) -> Option<&str> {
        match self.done {
            true => None,
            false => self.token.as_deref(),
        }
    }

    /// The signed payloads of the next page, or `None` after the last page.
    pub async fn next_page(&mut self) -> Result<Option<Vec<String>>, HistoryError> {
        if let Some(why) = self.stopped.take() {
            return Err(HistoryError::Stuck(why));
        }
        if self.done {
            return Ok(None);
        }
        let mut rate_limited = 0;
        let response = loop {
            let state = self.state;
            let (env, request, token) = (self.env, &self.request, self.token.as_deref());
            let result = crate::apple_calls::with_project_key_in_background(
                state,
                self.project,
                |creds| async move {
                    state
                        .apple
                        .get_notification_history(&creds, env, request, token)
                        .await
                },
            )
            .await?;
            match result {
                Ok(r) => break r,
                Err(AppleError::RateLimited {
                    retry_at_ms: Some(at),
                }) if rate_limited < MAX_RATE_LIMIT_RETRIES => {
                    let wait = at.saturating_sub(crate::clock::now_ms());
                    let wait = u64::try_from(wait.max(0)).unwrap_or(0);
                    if Duration::from_millis(wait) > MAX_RATE_LIMIT_WAIT {
                        return Err(HistoryError::Apple(AppleError::RateLimited {
                            retry_at_ms: Some(at),
                        }));
                    }
                    rate_limited += 1;
                    tokio::time::sleep(Duration::from_millis(wait)).await;
                }
                Err(e) => return Err(HistoryError::Apple(e)),
            }
        };
        let items: Vec<String> = response
            .notification_history
            .unwrap_or_default()
            .into_iter()
            .filter_map(|item| item.signed_payload)
            .collect();
        self.pages += 1;
        self.empty_in_a_row = if items.is_empty() {
            self.empty_in_a_row + 1
        } else {
            0
        };
        match (response.has_more, response.pagination_token) {
            (Some(true), Some(token)) if !token.is_empty() => {
                let stuck = if !self.followed.insert(token.clone()) {
                    Some("sent a page token it had sent before")
                } else if self.empty_in_a_row >= MAX_EMPTY_IN_A_ROW {
                    Some("sent empty pages, one after another, while saying more followed")
                } else if self.pages >= MAX_PAGES {
                    Some("kept saying more followed")
                } else {
                    None
                };
                if let Some(why) = stuck {
                    self.done = true;
                    self.stopped = Some(format!(
                        "Apple's notification history {why}, so storedesk stopped after {} pages; what it \
                         fetched until then is stored. Start again with a shorter range if notifications are missing.",
                        self.pages
                    ));
                    return Ok(Some(items));
                }
                self.token = Some(token);
            }
            _ => self.done = true,
        }
        Ok(Some(items))
    }
}

/// What storing one page did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageOutcome {
    /// (notification type, signedDate, newly stored?) of every payload that verified.
    pub stored: Vec<(String, i64, bool)>,
    /// The ids of the stored notifications that were already here.
    pub already_present: Vec<i64>,
    pub rejected: i64,
}

/// Verifies and stores each payload; a payload that does not verify is counted and skipped (it is logged),
/// a database failure stops the work. With `forward`, each new notification is queued for the project's
/// forwarding destinations in the transaction that stores it (Apple's history has no request body: the
/// destinations get Apple's usual form, rebuilt from the JWS).
pub async fn store_page(
    state: &AppState,
    project: &Project,
    payloads: &[String],
    source: Source,
    forward: bool,
) -> Result<PageOutcome, HistoryError> {
    let mut outcome = PageOutcome::default();
    for payload in payloads {
        match ingest_forwarding(
            &state.store,
            &state.verifier,
            project,
            payload,
            source,
            forward,
        )
        .await
        {
            Ok((inserted, n)) => {
                if let Inserted::AlreadyPresent(id) = inserted {
                    outcome.already_present.push(id);
                }
                outcome.stored.push((
                    n.notification_type.clone(),
                    n.signed_date,
                    matches!(inserted, Inserted::New(_)),
                ));
            }
            Err(IngestError::Store(e)) => {
                tracing::error!(error = %e, "storing a notification from Apple's history failed");
                return Err(HistoryError::App(
                    "storedesk could not store a notification (database error); the server log has the details."
                        .into(),
                ));
            }
            Err(e) => {
                tracing::warn!(reason = e.reason(), project = %project.slug, error = %e, "a notification from Apple's history did not verify");
                outcome.rejected += 1;
            }
        }
    }
    Ok(outcome)
}
