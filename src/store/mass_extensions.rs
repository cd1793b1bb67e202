//! Rows of `mass_extensions`: Apple's "extend for all active subscribers" requests, stored with their
//! `requestIdentifier` before they are sent, then followed to completion (Apple's status endpoint, or the summary
//! notification Apple sends at the end).
use super::{Store, StoreResult};

/// Sent, no outcome recorded yet (a crash between the call and the record leaves it so: treated as unknown).
pub const SENDING: &str = "sending";
/// Apple took the request and is working through the subscribers.
pub const ACCEPTED: &str = "accepted";
pub const REFUSED: &str = "refused";
/// The request left and no readable answer came back, or Apple's server failed: Apple may have taken it.
pub const UNKNOWN: &str = "unknown";
/// Apple says it is done.
pub const COMPLETE: &str = "complete";

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct MassExtensionRow {
    pub id: i64,
    pub project_id: i64,
    pub environment: String,
    pub request_identifier: String,
    pub product_id: String,
    pub days: i64,
    pub reason_code: i64,
    pub storefronts: String,
    pub state: String,
    pub sentence: String,
    pub requested_by: String,
    pub attempts: i64,
    pub succeeded_count: Option<i64>,
    pub failed_count: Option<i64>,
    pub complete_date: Option<i64>,
    pub last_checked_at: Option<i64>,
    pub summary_notification_uuid: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl MassExtensionRow {
    /// Sent, and neither taken nor refused as far as storedesk can tell.
    pub fn outcome_unknown(&self) -> bool {
        self.state == SENDING || self.state == UNKNOWN
    }

    /// Apple took it and has not said it is done: its status is worth asking.
    pub fn in_progress(&self) -> bool {
        self.state == ACCEPTED
    }
}

/// A request about to be sent for the first time.
pub struct NewMassExtension<'a> {
    pub project_id: i64,
    pub environment: &'a str,
    pub request_identifier: &'a str,
    pub product_id: &'a str,
    pub days: i64,
    pub reason_code: i64,
    pub storefronts: &'a str,
    pub requested_by: &'a str,
}

/// Apple's progress, from its status endpoint or its summary notification.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MassProgress {
    pub complete: bool,
    pub complete_date: Option<i64>,
    pub succeeded_count: Option<i64>,
    pub failed_count: Option<i64>,
}

const COLUMNS: &str = "id, project_id, environment, request_identifier, product_id, days, reason_code, storefronts, \
     state, sentence, requested_by, attempts, succeeded_count, failed_count, complete_date, last_checked_at, \
     summary_notification_uuid, created_at, updated_at";

impl Store {
    /// Stores the request as `sending`, before it leaves.
    #[tracing::instrument(skip_all)]
    pub async fn insert_mass_extension(
        &self,
        new: &NewMassExtension<'_>,
    ) -> StoreResult<MassExtensionRow> {
        let now = crate::clock::now_ms();
        let row = sqlx::query_as::<_, MassExtensionRow>(&format!(
            "INSERT INTO mass_extensions (project_id, environment, request_identifier, product_id, days, \
             reason_code, storefronts, state, sentence, requested_by, attempts, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, '', $9, 1, $10, $10) RETURNING {COLUMNS}"
        ))
        .bind(new.project_id)
        .bind(new.environment)
        .bind(new.request_identifier)
        .bind(new.product_id)
        .bind(new.days)
        .bind(new.reason_code)
        .bind(new.storefronts)
        .bind(SENDING)
        .bind(new.requested_by)
        .bind(now)
        .fetch_one(self.pool())
        .await?;
        Ok(row)
    }

    /// The same request is about to be sent again: back to `sending`, one more attempt. `false` when it is no
    /// longer of unknown outcome (someone else's attempt settled it meanwhile): nothing is to be sent.
    #[tracing::instrument(skip_all)]
    pub async fn resend_mass_extension(&self, id: i64) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE mass_extensions SET state = $1, attempts = attempts + 1, updated_at = $2 \
             WHERE id = $3 AND state = $4",
        )
        .bind(SENDING)
        .bind(crate::clock::now_ms())
        .bind(id)
        .bind(UNKNOWN)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records the outcome of the latest attempt to send it.
    #[tracing::instrument(skip_all)]
    pub async fn settle_mass_extension(
        &self,
        id: i64,
        state: &str,
        sentence: &str,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE mass_extensions SET state = $1, sentence = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(state)
        .bind(sentence)
        .bind(crate::clock::now_ms())
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Records Apple's progress; a complete one becomes `complete`. Counts already known are kept when Apple's
    /// answer leaves them out.
    #[tracing::instrument(skip_all)]
    pub async fn record_mass_progress(&self, id: i64, progress: &MassProgress) -> StoreResult<()> {
        let now = crate::clock::now_ms();
        sqlx::query(
            "UPDATE mass_extensions SET \
             state = CASE WHEN $1 = 1 THEN $2 ELSE state END, \
             complete_date = COALESCE($3, complete_date), \
             succeeded_count = COALESCE($4, succeeded_count), \
             failed_count = COALESCE($5, failed_count), \
             last_checked_at = $6, updated_at = $6 WHERE id = $7",
        )
        .bind(i64::from(progress.complete))
        .bind(COMPLETE)
        .bind(progress.complete_date)
        .bind(progress.succeeded_count)
        .bind(progress.failed_count)
        .bind(now)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Apple's summary notification for the request `request_identifier` of `project_id` arrived: linked, and the
    /// request marked complete with Apple's counts. `None` when no such request is known.
    #[tracing::instrument(skip_all)]
    pub async fn link_mass_summary(
        &self,
        project_id: i64,
        request_identifier: &str,
        notification_uuid: &str,
        progress: &MassProgress,
    ) -> StoreResult<Option<i64>> {
        let id: Option<i64> = sqlx::query_scalar(
            "UPDATE mass_extensions SET summary_notification_uuid = $1 \
             WHERE project_id = $2 AND request_identifier = $3 RETURNING id",
        )
        .bind(notification_uuid)
        .bind(project_id)
        .bind(request_identifier)
        .fetch_optional(self.pool())
        .await?;
        if let Some(id) = id {
            self.record_mass_progress(id, progress).await?;
        }
        Ok(id)
    }

    #[tracing::instrument(skip_all)]
    pub async fn mass_extension(
        &self,
        project_id: i64,
        id: i64,
    ) -> StoreResult<Option<MassExtensionRow>> {
        Ok(sqlx::query_as::<_, MassExtensionRow>(&format!(
            "SELECT {COLUMNS} FROM mass_extensions WHERE project_id = $1 AND id = $2"
        ))
        .bind(project_id)
        .bind(id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// The request Apple knows by `request_identifier`, if it is this project's.
    #[tracing::instrument(skip_all)]
    pub async fn mass_extension_by_request(
        &self,
        project_id: i64,
        request_identifier: &str,
    ) -> StoreResult<Option<MassExtensionRow>> {
        Ok(sqlx::query_as::<_, MassExtensionRow>(&format!(
            "SELECT {COLUMNS} FROM mass_extensions WHERE project_id = $1 AND request_identifier = $2"
        ))
        .bind(project_id)
        .bind(request_identifier)
        .fetch_optional(self.pool())
        .await?)
    }

    /// The project's requests, newest first.
    #[tracing::instrument(skip_all)]
    pub async fn mass_extensions(&self, project_id: i64) -> StoreResult<Vec<MassExtensionRow>> {
        Ok(sqlx::query_as::<_, MassExtensionRow>(&format!(
            "SELECT {COLUMNS} FROM mass_extensions WHERE project_id = $1 ORDER BY id DESC LIMIT 100"
        ))
        .bind(project_id)
        .fetch_all(self.pool())
        .await?)
    }

    /// Every project's requests Apple is still working on, for the status job.
    #[tracing::instrument(skip_all)]
    pub async fn mass_extensions_in_progress(&self) -> StoreResult<Vec<MassExtensionRow>> {
        Ok(sqlx::query_as::<_, MassExtensionRow>(&format!(
            "SELECT {COLUMNS} FROM mass_extensions WHERE state = $1 ORDER BY id"
        ))
        .bind(ACCEPTED)
        .fetch_all(self.pool())
        .await?)
    }

    /// The RENEWAL_EXTENSION / SUMMARY notification Apple sent for `request_identifier`, if one arrived: its
    /// UUID and stored payload. The identifier is a UUID Apple echoes; its text is matched inside the payload.
    #[tracing::instrument(skip_all)]
    pub async fn mass_extension_summary(
        &self,
        project_id: i64,
        request_identifier: &str,
    ) -> StoreResult<Option<(String, String)>> {
        if !request_identifier
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b'-')
        {
            return Ok(None);
        }
        Ok(sqlx::query_as::<_, (String, String)>(
            "SELECT notification_uuid, payload FROM notifications \
             WHERE project_id = $1 AND notification_type = 'RENEWAL_EXTENSION' AND subtype = 'SUMMARY' \
             AND payload LIKE $2 ORDER BY id LIMIT 1",
        )
        .bind(project_id)
        .bind(format!("%\"requestIdentifier\":\"{request_identifier}\"%"))
        .fetch_optional(self.pool())
        .await?)
    }

    /// The auto-renewable products this project's stored transactions name and its synced catalog lists (storedesk
    /// may not have seen a transaction of every subscription sold), for the form's choices.
    #[tracing::instrument(skip_all)]
    pub async fn auto_renewable_product_ids(&self, project_id: i64) -> StoreResult<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT product_id FROM transactions \
             WHERE project_id = $1 AND product_type = 'Auto-Renewable Subscription' \
             UNION SELECT product_id FROM catalog_products WHERE project_id = $1 AND kind = $2 \
             ORDER BY product_id",
        )
        .bind(project_id)
        .bind(crate::domain::catalog::ProductKind::AutoRenewable.as_str())
        .fetch_all(self.pool())
        .await?)
    }
}
