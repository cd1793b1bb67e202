//! A project's automatic consumption policy and what it did with each CONSUMPTION_REQUEST (`consumption_auto`):
//! the backend's data for a request, the body computed in a dry run, and the claim that keeps one request from
//! being sent twice (by the policy on two instances, or by the policy and a person).
use super::{Store, StoreResult};

pub const OFF: &str = "off";
pub const DRY_RUN: &str = "dry_run";
pub const AUTOMATIC: &str = "automatic";

pub const WAITING: &str = "waiting";
pub const COMPUTED: &str = "dry_run";
pub const CLAIMED: &str = "claimed";
pub const SENT: &str = "sent";
pub const FAILED: &str = "failed";
pub const SKIPPED: &str = "skipped";
pub const PERSON: &str = "person";

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct PolicyRow {
    pub project_id: i64,
    pub mode: String,
    pub consent_declared: i64,
    pub delivery_status: String,
    pub refund_preference: String,
    pub sample_content_provided: i64,
    pub wait_minutes: i64,
    pub updated_by: String,
    pub updated_at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct AutoRow {
    pub notification_id: i64,
    pub project_id: i64,
    pub backend: Option<String>,
    pub backend_at: Option<i64>,
    pub state: String,
    pub body: Option<String>,
    pub sentence: String,
    pub updated_at: i64,
}

const AUTO_COLUMNS: &str =
    "notification_id, project_id, backend, backend_at, state, body, sentence, updated_at";

impl Store {
    pub async fn consumption_policy(&self, project_id: i64) -> StoreResult<Option<PolicyRow>> {
        Ok(sqlx::query_as::<_, PolicyRow>(
            "SELECT project_id, mode, consent_declared, delivery_status, refund_preference, \
             sample_content_provided, wait_minutes, updated_by, updated_at \
             FROM consumption_policies WHERE project_id = $1",
        )
        .bind(project_id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// The projects whose policy is not `off`.
    pub async fn active_consumption_policies(&self) -> StoreResult<Vec<PolicyRow>> {
        Ok(sqlx::query_as::<_, PolicyRow>(
            "SELECT project_id, mode, consent_declared, delivery_status, refund_preference, \
             sample_content_provided, wait_minutes, updated_by, updated_at \
             FROM consumption_policies WHERE mode <> $1 ORDER BY project_id",
        )
        .bind(OFF)
        .fetch_all(self.pool())
        .await?)
    }

    pub async fn save_consumption_policy(&self, p: &PolicyRow) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO consumption_policies (project_id, mode, consent_declared, delivery_status, \
             refund_preference, sample_content_provided, wait_minutes, updated_by, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (project_id) DO UPDATE SET mode = excluded.mode, \
             consent_declared = excluded.consent_declared, delivery_status = excluded.delivery_status, \
             refund_preference = excluded.refund_preference, \
             sample_content_provided = excluded.sample_content_provided, wait_minutes = excluded.wait_minutes, \
             updated_by = excluded.updated_by, updated_at = excluded.updated_at",
        )
        .bind(p.project_id)
        .bind(&p.mode)
        .bind(p.consent_declared)
        .bind(&p.delivery_status)
        .bind(&p.refund_preference)
        .bind(p.sample_content_provided)
        .bind(p.wait_minutes)
        .bind(&p.updated_by)
        .bind(p.updated_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn consumption_auto(&self, notification_id: i64) -> StoreResult<Option<AutoRow>> {
        Ok(sqlx::query_as::<_, AutoRow>(&format!(
            "SELECT {AUTO_COLUMNS} FROM consumption_auto WHERE notification_id = $1"
        ))
        .bind(notification_id)
        .fetch_optional(self.pool())
        .await?)
    }

    pub async fn consumption_autos(&self, project_id: i64) -> StoreResult<Vec<AutoRow>> {
        Ok(sqlx::query_as::<_, AutoRow>(&format!(
            "SELECT {AUTO_COLUMNS} FROM consumption_auto WHERE project_id = $1"
        ))
        .bind(project_id)
        .fetch_all(self.pool())
        .await?)
    }

    /// Stores the backend's data for a request the policy has not sent or computed yet; `false` when it is past
    /// that (sent, being sent, or answered by a person).
    pub async fn put_consumption_backend(
        &self,
        project_id: i64,
        notification_id: i64,
        backend: &str,
    ) -> StoreResult<bool> {
        let now = crate::clock::now_ms();
        let done = sqlx::query(
            "INSERT INTO consumption_auto (notification_id, project_id, backend, backend_at, state, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $4) \
             ON CONFLICT (notification_id) DO UPDATE SET backend = excluded.backend, \
             backend_at = excluded.backend_at, state = excluded.state, updated_at = excluded.updated_at \
             WHERE consumption_auto.state IN ($5, $6, $7)",
        )
        .bind(notification_id)
        .bind(project_id)
        .bind(backend)
        .bind(now)
        .bind(WAITING)
        .bind(COMPUTED)
        .bind(SKIPPED)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Takes the request for `state` (`claimed` before the policy sends, `person` before a person does). The
    /// policy may take only what no one took; a person may take anything the policy is not sending or has not
    /// sent. `false` when it was not taken.
    pub async fn claim_consumption(
        &self,
        project_id: i64,
        notification_id: i64,
        by: &str,
    ) -> StoreResult<bool> {
        let now = crate::clock::now_ms();
        let takeable: &[&str] = if by == PERSON {
            &[WAITING, COMPUTED, SKIPPED, FAILED, PERSON]
        } else {
            &[WAITING, COMPUTED]
        };
        let list = (0..takeable.len())
            .map(|i| format!("${}", i + 5))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "INSERT INTO consumption_auto (notification_id, project_id, state, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (notification_id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at \
             WHERE consumption_auto.state IN ({list})"
        );
        let mut q = sqlx::query(&sql)
            .bind(notification_id)
            .bind(project_id)
            .bind(by)
            .bind(now);
        for s in takeable {
            q = q.bind(*s);
        }
        Ok(q.execute(self.pool()).await?.rows_affected() == 1)
    }

    /// Records what the policy did, and the body it computed or sent.
    pub async fn settle_consumption_auto(
        &self,
        project_id: i64,
        notification_id: i64,
        state: &str,
        body: Option<&str>,
        sentence: &str,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO consumption_auto (notification_id, project_id, state, body, sentence, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (notification_id) DO UPDATE SET state = excluded.state, body = excluded.body, \
             sentence = excluded.sentence, updated_at = excluded.updated_at",
        )
        .bind(notification_id)
        .bind(project_id)
        .bind(state)
        .bind(body)
        .bind(sentence)
        .bind(crate::clock::now_ms())
        .execute(self.pool())
        .await?;
        Ok(())
    }
}
