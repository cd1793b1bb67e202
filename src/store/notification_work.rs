//! Rows of the work done around notifications: consumption answers, backfill jobs and detected gaps.
use super::keys::KEY_IN_USE;
use super::status_text::status_text;
use super::{audit, Actor, Store, StoreResult};
use crate::present::time;

// ---------------------------------------------------------------- consumption answers

/// `consumption_answers.outcome`: what Apple did with an answer we sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConsumptionOutcome {
    /// Apple answered 202.
    Accepted,
    /// Apple refused it, or it never reached Apple; `error` says why.
    Refused,
    /// Apple did not answer in time: whether it received the answer is not known.
    Unanswered,
}

status_text!(ConsumptionOutcome, "consumption answer outcome");

impl ConsumptionOutcome {
    pub const ALL: [ConsumptionOutcome; 3] = [
        ConsumptionOutcome::Accepted,
        ConsumptionOutcome::Refused,
        ConsumptionOutcome::Unanswered,
    ];

    /// The text stored in `consumption_answers.outcome`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConsumptionOutcome::Accepted => "accepted",
            ConsumptionOutcome::Refused => "refused",
            ConsumptionOutcome::Unanswered => "unanswered",
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ConsumptionAnswer {
    pub id: i64,
    pub project_id: i64,
    pub notification_id: i64,
    pub transaction_id: String,
    pub environment: String,
    pub sent_by: String,
    pub sent_at: i64,
    pub request: String,
    pub outcome: ConsumptionOutcome,
    pub error_code: Option<i64>,
    pub error: Option<String>,
}

const ANSWER_COLUMNS: &str =
    "id, project_id, notification_id, transaction_id, environment, sent_by, sent_at, \
     request, outcome, error_code, error";

#[derive(Debug, Clone)]
pub struct NewConsumptionAnswer {
    pub project_id: i64,
    pub notification_id: i64,
    pub transaction_id: String,
    pub environment: String,
    pub request: String,
    /// `Ok(())` when Apple accepted it; otherwise how it ended (refused or unanswered), Apple's error code (if
    /// any) and our sentence.
    pub outcome: Result<(), (ConsumptionOutcome, Option<i64>, String)>,
}

// ---------------------------------------------------------------- backfills

/// `notification_backfills.status`: where a backfill job is. A running job whose lease ran out (its instance
/// stopped, and no other has taken it over yet) is shown as stalled, but that is a reading of `lease_until`, not a
/// stored status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BackfillStatus {
    Running,
    Done,
    Failed,
}

status_text!(BackfillStatus, "backfill status");

impl BackfillStatus {
    pub const ALL: [BackfillStatus; 3] = [
        BackfillStatus::Running,
        BackfillStatus::Done,
        BackfillStatus::Failed,
    ];

    /// The text stored in `notification_backfills.status`.
    pub fn as_str(self) -> &'static str {
        match self {
            BackfillStatus::Running => "running",
            BackfillStatus::Done => "done",
            BackfillStatus::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Backfill {
    pub id: i64,
    pub project_id: i64,
    pub environment: String,
    pub start_ms: i64,
    pub end_ms: i64,
    pub status: BackfillStatus,
    pub pages_done: i64,
    pub fetched: i64,
    pub new_count: i64,
    pub already_present: i64,
    pub rejected: i64,
    pub error: Option<String>,
    pub started_by: String,
    pub started_at: i64,
    pub updated_at: i64,
    pub finished_at: Option<i64>,
    /// 1: what it stores is queued for the project's forwarding destinations.
    pub forward: i64,
    /// The run holding the job (one id per run, so even two runs in one process never share it).
    pub lease_owner: Option<String>,
    pub lease_until: Option<i64>,
    /// Where Apple's history goes on; see [`Backfill::resume_point`].
    pub next_page: Option<String>,
    /// The last time a run on another instance took the job over, and how many times that happened.
    pub taken_over_at: Option<i64>,
    pub takeovers: i64,
}

const BACKFILL_COLUMNS: &str =
    "id, project_id, environment, start_ms, end_ms, status, pages_done, fetched, \
     new_count, already_present, rejected, error, started_by, started_at, updated_at, finished_at, \
     forward, lease_owner, lease_until, next_page, taken_over_at, takeovers";

/// Where a backfill goes on from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResumePoint {
    /// No page was recorded yet: from the first page, with no counts.
    FirstPage,
    /// The page behind this paginationToken of Apple's comes next.
    Page(String),
    /// Every page is stored; only the end is left to record.
    AllPagesStored,
}

impl Backfill {
    pub fn progress(&self) -> BackfillProgress {
        BackfillProgress {
            pages_done: self.pages_done,
            fetched: self.fetched,
            new_count: self.new_count,
            already_present: self.already_present,
            rejected: self.rejected,
        }
    }

    pub fn resume_point(&self) -> ResumePoint {
        match self.next_page.as_deref() {
            None => ResumePoint::FirstPage,
            Some("") => ResumePoint::AllPagesStored,
            Some(token) => ResumePoint::Page(token.to_owned()),
        }
    }

    /// Running, but nobody works on it: its lease ran out (a job from before leases: it stopped reporting).
    pub fn is_stalled(&self, now: i64) -> bool {
        self.status == BackfillStatus::Running
            && match self.lease_until {
                Some(until) => until < now,
                None => now - self.updated_at > BACKFILL_STALL_MS,
            }
    }
}

/// Counts a running backfill reports after each page.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BackfillProgress {
    pub pages_done: i64,
    pub fetched: i64,
    pub new_count: i64,
    pub already_present: i64,
    pub rejected: i64,
}

/// A running job from before leases (no `lease_until`) that has not reported for this long is shown as stalled, and
/// is taken over like one whose lease ran out.
pub const BACKFILL_STALL_MS: i64 = 10 * 60_000;

/// A job whose runs stopped this many times is not taken over again: something in it (or in Apple's answer) stops
/// every instance that works on it.
pub const MAX_BACKFILL_TAKEOVERS: i64 = 5;

/// The running jobs a claim may take: lease run out, or (from before leases) silent for [`BACKFILL_STALL_MS`].
/// `$3` is now, `$4` now minus the stall time, `$5` the running status.
const UNHELD: &str =
    "status = $5 AND (lease_until < $3 OR (lease_until IS NULL AND updated_at < $4))";

// ---------------------------------------------------------------- gaps

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct GapRow {
    pub id: i64,
    pub project_id: i64,
    pub environment: String,
    pub detected_at: i64,
    pub window_start: i64,
    pub window_end: i64,
    pub sent: i64,
    pub arrived: i64,
    pub recovered: i64,
    pub missed: i64,
    pub type_counts: String,
    pub acknowledged_at: Option<i64>,
    pub acknowledged_by: Option<String>,
}

const GAP_COLUMNS: &str =
    "id, project_id, environment, detected_at, window_start, window_end, sent, arrived, \
     recovered, missed, type_counts, acknowledged_at, acknowledged_by";

#[derive(Debug, Clone)]
pub struct NewGap {
    pub project_id: i64,
    pub environment: String,
    pub detected_at: i64,
    pub window_start: i64,
    pub window_end: i64,
    pub sent: i64,
    pub arrived: i64,
    pub recovered: i64,
    pub missed: i64,
    pub type_counts: String,
}

impl Store {
    /// Records an answer sent to Apple and its audit entry in one transaction.
    pub async fn record_consumption_answer(
        &self,
        answer: &NewConsumptionAnswer,
        actor: &Actor,
    ) -> StoreResult<i64> {
        let (outcome, code, error) = match &answer.outcome {
            Ok(()) => (ConsumptionOutcome::Accepted, None, None),
            Err((outcome, code, sentence)) => (*outcome, *code, Some(sentence.clone())),
        };
        let mut tx = self.pool().begin().await?;
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO consumption_answers (project_id, notification_id, transaction_id, environment, \
             sent_by_user_id, sent_by, sent_at, request, outcome, error_code, error) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
        )
        .bind(answer.project_id)
        .bind(answer.notification_id)
        .bind(&answer.transaction_id)
        .bind(&answer.environment)
        .bind(actor.user_id)
        .bind(&actor.email)
        .bind(crate::clock::now_ms())
        .bind(&answer.request)
        .bind(outcome.as_str())
        .bind(code)
        .bind(error.clone())
        .fetch_one(&mut *tx)
        .await?;
        let detail = match &error {
            None => format!(
                "{} {}: accepted by Apple",
                answer.environment, answer.request
            ),
            Some(e) => format!(
                "{} {}: {}: {e}",
                answer.environment,
                answer.request,
                outcome.as_str()
            ),
        };
        audit::record(
            &mut tx,
            actor,
            "consumption.send",
            Some(answer.project_id),
            &answer.transaction_id,
            &detail,
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Every answer about the given transactions, newest first.
    pub async fn consumption_answers_for(
        &self,
        project_id: i64,
        transaction_ids: &[String],
    ) -> StoreResult<Vec<ConsumptionAnswer>> {
        if transaction_ids.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders = (0..transaction_ids.len())
            .map(|i| format!("${}", i + 2))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT {ANSWER_COLUMNS} FROM consumption_answers WHERE project_id = $1 \
             AND transaction_id IN ({placeholders}) ORDER BY sent_at DESC, id DESC"
        );
        let mut query = sqlx::query_as::<_, ConsumptionAnswer>(&sql).bind(project_id);
        for id in transaction_ids {
            query = query.bind(id.clone());
        }
        Ok(query.fetch_all(self.pool()).await?)
    }

    pub async fn count_consumption_answers(&self, project_id: i64) -> StoreResult<i64> {
        let (n,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM consumption_answers WHERE project_id = $1")
                .bind(project_id)
                .fetch_one(self.pool())
                .await?;
        Ok(n)
    }

    /// Starts a backfill row, held by `holder` for `lease_ms`, unless one is already running for the project (a
    /// stalled one too: another instance resumes it); audited. `None` means one is running.
    #[allow(clippy::too_many_arguments)]
    pub async fn start_backfill(
        &self,
        project_id: i64,
        environment: &str,
        start_ms: i64,
        end_ms: i64,
        forward: bool,
        holder: &str,
        lease_ms: i64,
        actor: &Actor,
    ) -> StoreResult<Option<i64>> {
        let now = crate::clock::now_ms();
        let mut tx = self.pool().begin().await?;
        // PostgreSQL checks NOT EXISTS against what was committed when the statement began: two forms sent at once
        // would both find no job running and both start one.
        super::projects::lock_project(&mut tx, project_id).await?;
        let inserted: Option<(i64,)> = sqlx::query_as(
            "INSERT INTO notification_backfills (project_id, environment, start_ms, end_ms, status, \
             started_by, started_at, updated_at, forward, lease_owner, lease_until) \
             SELECT $1, $2, $3, $4, $7, $5, $6, $6, $8, $9, $10 WHERE NOT EXISTS \
             (SELECT 1 FROM notification_backfills WHERE project_id = $1 AND status = $7) \
             RETURNING id",
        )
        .bind(project_id)
        .bind(environment)
        .bind(start_ms)
        .bind(end_ms)
        .bind(&actor.email)
        .bind(now)
        .bind(BackfillStatus::Running.as_str())
        .bind(i64::from(forward))
        .bind(holder)
        .bind(now + lease_ms)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((id,)) = inserted else {
            return Ok(None);
        };
        audit::record(
            &mut tx,
            actor,
            "notifications.backfill",
            Some(project_id),
            environment,
            &format!(
                "from {} to {} (job {id})",
                time::utc(start_ms),
                time::utc(end_ms)
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(Some(id))
    }

    /// Takes the oldest running backfill nobody holds (its lease ran out) for `holder` until `now + lease_ms`, and
    /// counts the takeover. One statement, so two instances never take the same job. The row it returns still has
    /// the `updated_at` of the last page its previous run recorded.
    pub async fn claim_backfill(
        &self,
        holder: &str,
        now: i64,
        lease_ms: i64,
    ) -> StoreResult<Option<Backfill>> {
        Ok(sqlx::query_as::<_, Backfill>(&format!(
            "UPDATE notification_backfills SET lease_owner = $1, lease_until = $2, taken_over_at = $3, \
             takeovers = takeovers + 1 WHERE id = (SELECT id FROM notification_backfills WHERE {UNHELD} \
             ORDER BY id LIMIT 1) AND {UNHELD} RETURNING {BACKFILL_COLUMNS}"
        ))
        .bind(holder)
        .bind(now + lease_ms)
        .bind(now)
        .bind(now - BACKFILL_STALL_MS)
        .bind(BackfillStatus::Running.as_str())
        .fetch_optional(self.pool())
        .await?)
    }

    /// Records one stored page of a job `holder` holds: its counts, where Apple's history goes on (`next_page`, ''
    /// after the last page), and a renewed lease. False when the job is no longer this holder's.
    pub async fn record_backfill_page(
        &self,
        id: i64,
        holder: &str,
        p: &BackfillProgress,
        next_page: &str,
        lease_ms: i64,
    ) -> StoreResult<bool> {
        let now = crate::clock::now_ms();
        let done = sqlx::query(
            "UPDATE notification_backfills SET pages_done = $1, fetched = $2, new_count = $3, \
             already_present = $4, rejected = $5, next_page = $6, updated_at = $7, lease_until = $8 \
             WHERE id = $9 AND lease_owner = $10 AND status = $11",
        )
        .bind(p.pages_done)
        .bind(p.fetched)
        .bind(p.new_count)
        .bind(p.already_present)
        .bind(p.rejected)
        .bind(next_page)
        .bind(now)
        .bind(now + lease_ms)
        .bind(id)
        .bind(holder)
        .bind(BackfillStatus::Running.as_str())
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(done == 1)
    }

    /// Keeps a job with `holder` while a page takes long. False when it is no longer this holder's.
    pub async fn renew_backfill_lease(
        &self,
        id: i64,
        holder: &str,
        lease_ms: i64,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE notification_backfills SET lease_until = $1 WHERE id = $2 AND lease_owner = $3 AND status = $4",
        )
        .bind(crate::clock::now_ms() + lease_ms)
        .bind(id)
        .bind(holder)
        .bind(BackfillStatus::Running.as_str())
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(done == 1)
    }

    /// Ends a backfill `holder` holds, with its final counts (a page whose record failed is in them): `error` None
    /// is success. False when it is no longer this holder's.
    pub async fn finish_backfill(
        &self,
        id: i64,
        holder: &str,
        p: &BackfillProgress,
        error: Option<&str>,
    ) -> StoreResult<bool> {
        let now = crate::clock::now_ms();
        let done = sqlx::query(
            "UPDATE notification_backfills SET status = $1, error = $2, updated_at = $3, finished_at = $3, \
             lease_owner = NULL, lease_until = NULL, pages_done = $7, fetched = $8, new_count = $9, \
             already_present = $10, rejected = $11 WHERE id = $4 AND lease_owner = $5 AND status = $6",
        )
        .bind(if error.is_some() { BackfillStatus::Failed } else { BackfillStatus::Done }.as_str())
        .bind(error.map(str::to_owned))
        .bind(now)
        .bind(id)
        .bind(holder)
        .bind(BackfillStatus::Running.as_str())
        .bind(p.pages_done)
        .bind(p.fetched)
        .bind(p.new_count)
        .bind(p.already_present)
        .bind(p.rejected)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(done == 1)
    }

    /// Of the given notifications of a project, how many a backfill stored at or after `since_ms`: after a
    /// takeover, the ones the stopped run stored from the page it never recorded, which are this job's new ones,
    /// not ones that were already here.
    pub async fn count_backfilled_since(
        &self,
        project_id: i64,
        ids: &[i64],
        since_ms: i64,
    ) -> StoreResult<i64> {
        if ids.is_empty() {
            return Ok(0);
        }
        let placeholders = (0..ids.len())
            .map(|i| format!("${}", i + 3))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT COUNT(*) FROM notifications WHERE project_id = $1 AND source = 'backfill' \
             AND received_at >= $2 AND id IN ({placeholders})"
        );
        let mut query = sqlx::query_as::<_, (i64,)>(&sql)
            .bind(project_id)
            .bind(since_ms);
        for id in ids {
            query = query.bind(*id);
        }
        Ok(query.fetch_one(self.pool()).await?.0)
    }

    /// The project a job resumed on this instance works for.
    pub async fn project_by_id(&self, id: i64) -> StoreResult<Option<super::Project>> {
        Ok(sqlx::query_as::<_, super::Project>(&format!(
            "SELECT {} FROM projects WHERE id = $1",
            super::projects::PROJECT_COLUMNS
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await?)
    }

    pub async fn backfill(&self, project_id: i64, id: i64) -> StoreResult<Option<Backfill>> {
        Ok(sqlx::query_as::<_, Backfill>(&format!(
            "SELECT {BACKFILL_COLUMNS} FROM notification_backfills WHERE project_id = $1 AND id = $2"
        ))
        .bind(project_id)
        .bind(id)
        .fetch_optional(self.pool())
        .await?)
    }

    pub async fn recent_backfills(
        &self,
        project_id: i64,
        limit: i64,
    ) -> StoreResult<Vec<Backfill>> {
        Ok(sqlx::query_as::<_, Backfill>(&format!(
            "SELECT {BACKFILL_COLUMNS} FROM notification_backfills WHERE project_id = $1 ORDER BY id DESC LIMIT $2"
        ))
        .bind(project_id)
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }

    pub async fn record_gap(&self, gap: &NewGap) -> StoreResult<i64> {
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO notification_gaps (project_id, environment, detected_at, window_start, window_end, \
             sent, arrived, recovered, missed, type_counts) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             RETURNING id",
        )
        .bind(gap.project_id)
        .bind(&gap.environment)
        .bind(gap.detected_at)
        .bind(gap.window_start)
        .bind(gap.window_end)
        .bind(gap.sent)
        .bind(gap.arrived)
        .bind(gap.recovered)
        .bind(gap.missed)
        .bind(&gap.type_counts)
        .fetch_one(self.pool())
        .await?;
        Ok(id)
    }

    /// Gaps detected since `since_ms`, newest first; `unacknowledged` leaves out the ones someone dismissed.
    pub async fn gaps_since(
        &self,
        project_id: i64,
        since_ms: i64,
        unacknowledged: bool,
    ) -> StoreResult<Vec<GapRow>> {
        Ok(sqlx::query_as::<_, GapRow>(&format!(
            "SELECT {GAP_COLUMNS} FROM notification_gaps WHERE project_id = $1 AND detected_at >= $2 \
             AND ($3 = 0 OR acknowledged_at IS NULL) ORDER BY detected_at DESC, id DESC LIMIT 200"
        ))
        .bind(project_id)
        .bind(since_ms)
        .bind(i64::from(unacknowledged))
        .fetch_all(self.pool())
        .await?)
    }

    /// Dismisses the gap banner: gaps up to the newest one shown are marked seen; audited.
    pub async fn acknowledge_gaps(
        &self,
        project_id: i64,
        up_to_id: i64,
        actor: &Actor,
    ) -> StoreResult<u64> {
        let mut tx = self.pool().begin().await?;
        let done = sqlx::query(
            "UPDATE notification_gaps SET acknowledged_at = $1, acknowledged_by = $2 \
             WHERE project_id = $3 AND id <= $4 AND acknowledged_at IS NULL",
        )
        .bind(crate::clock::now_ms())
        .bind(&actor.email)
        .bind(project_id)
        .bind(up_to_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        audit::record(
            &mut tx,
            actor,
            "notifications.gaps_acknowledge",
            Some(project_id),
            "gap banner",
            &format!("{done} gap record(s) acknowledged"),
        )
        .await?;
        tx.commit().await?;
        Ok(done)
    }

    /// Projects that have a key in use: the ones the gap job can ask Apple about.
    pub async fn projects_with_key(&self) -> StoreResult<Vec<super::Project>> {
        Ok(sqlx::query_as::<_, super::Project>(&format!(
            "SELECT {} FROM projects p WHERE EXISTS (SELECT 1 FROM apple_keys k WHERE k.project_id = p.id \
             AND k.status {KEY_IN_USE} AND k.sealed_key IS NOT NULL) ORDER BY id",
            super::projects::PROJECT_COLUMNS
        ))
        .fetch_all(self.pool())
        .await?)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn every_backfill_status_round_trips_through_its_stored_text() {
        let words: Vec<&str> = BackfillStatus::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(words, ["running", "done", "failed"]);
        for status in BackfillStatus::ALL {
            assert_eq!(BackfillStatus::parse(status.as_str()), Ok(status));
            assert_eq!(status.to_string(), status.as_str());
        }
    }

    #[test]
    fn an_unknown_backfill_status_is_refused_by_name() {
        // "stalled" is only ever shown, never stored.
        for word in ["stalled", "Done", ""] {
            let error = BackfillStatus::parse(word).unwrap_err();
            assert_eq!(error.value, word);
            assert_eq!(
                error.to_string(),
                format!("unknown backfill status {word:?} in the database")
            );
        }
    }

    #[test]
    fn every_consumption_outcome_round_trips_through_its_stored_text() {
        let words: Vec<&str> = ConsumptionOutcome::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(words, ["accepted", "refused", "unanswered"]);
        for outcome in ConsumptionOutcome::ALL {
            assert_eq!(ConsumptionOutcome::parse(outcome.as_str()), Ok(outcome));
            assert_eq!(outcome.to_string(), outcome.as_str());
        }
    }

    #[test]
    fn an_unknown_consumption_outcome_is_refused_by_name() {
        let error = ConsumptionOutcome::parse("pending").unwrap_err();
        assert_eq!(error.value, "pending");
        assert_eq!(
            error.to_string(),
            "unknown consumption answer outcome \"pending\" in the database"
        );
    }
}
