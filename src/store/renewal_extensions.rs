//! Rows of `renewal_extensions`: a renewal-date extension is stored with its `requestIdentifier` before it is sent,
//! so that trying again after an unknown outcome sends the same request (which Apple applies only once).
use super::{Store, StoreResult};

/// Sent, no outcome recorded yet (a crash between the call and the record leaves it so: treated as unknown).
pub const SENDING: &str = "sending";
pub const EXTENDED: &str = "extended";
pub const REFUSED: &str = "refused";
/// The request left and no readable answer came back, or Apple's server failed: Apple may have applied it.
pub const UNKNOWN: &str = "unknown";

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct ExtensionRow {
    pub id: i64,
    #[serde(skip)]
    pub project_id: i64,
    pub original_transaction_id: String,
    pub request_identifier: String,
    pub days: i64,
    pub reason_code: i64,
    #[serde(skip)]
    pub note: String,
    pub state: String,
    pub sentence: String,
    pub requested_by: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub attempts: i64,
}

impl ExtensionRow {
    /// Its outcome is not known: sent, and neither applied nor refused as far as storedesk can tell.
    pub fn outcome_unknown(&self) -> bool {
        self.state == SENDING || self.state == UNKNOWN
    }
}

/// A request about to be sent for the first time.
pub struct NewExtension<'a> {
    pub project_id: i64,
    pub original_transaction_id: &'a str,
    pub request_identifier: &'a str,
    pub days: i64,
    pub reason_code: i64,
    pub note: &'a str,
    pub requested_by: &'a str,
}

const COLUMNS: &str =
    "id, project_id, original_transaction_id, request_identifier, days, reason_code, note, state, \
                       sentence, requested_by, created_at, updated_at, attempts";

impl Store {
    /// Stores the request as `sending`, before it leaves; `None` when the subscription already has an extension
    /// whose outcome is not known (one at a time: a unique index holds it, also against two instances at once).
    #[tracing::instrument(skip_all)]
    pub async fn insert_extension(
        &self,
        new: &NewExtension<'_>,
    ) -> StoreResult<Option<ExtensionRow>> {
        let now = crate::clock::now_ms();
        let row = sqlx::query_as::<_, ExtensionRow>(&format!(
            "INSERT INTO renewal_extensions (project_id, original_transaction_id, request_identifier, days, \
             reason_code, note, state, sentence, requested_by, created_at, updated_at, attempts) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, '', $8, $9, $9, 1) RETURNING {COLUMNS}"
        ))
        .bind(new.project_id)
        .bind(new.original_transaction_id)
        .bind(new.request_identifier)
        .bind(new.days)
        .bind(new.reason_code)
        .bind(new.note)
        .bind(SENDING)
        .bind(new.requested_by)
        .bind(now)
        .fetch_one(self.pool())
        .await;
        match row {
            Ok(row) => Ok(Some(row)),
            Err(e) => match super::StoreError::from(e) {
                super::StoreError::Conflict(_) => Ok(None),
                other => Err(other),
            },
        }
    }

    /// The same request is about to be sent again: back to `sending`, one more attempt.
    #[tracing::instrument(skip_all)]
    pub async fn resend_extension(&self, id: i64) -> StoreResult<()> {
        sqlx::query(
            "UPDATE renewal_extensions SET state = $1, attempts = attempts + 1, updated_at = $2 WHERE id = $3",
        )
        .bind(SENDING)
        .bind(crate::clock::now_ms())
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Records the outcome of the latest attempt.
    #[tracing::instrument(skip_all)]
    pub async fn settle_extension(&self, id: i64, state: &str, sentence: &str) -> StoreResult<()> {
        sqlx::query(
            "UPDATE renewal_extensions SET state = $1, sentence = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(state)
        .bind(sentence)
        .bind(crate::clock::now_ms())
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The subscription's latest extension whose outcome is not known, if any.
    #[tracing::instrument(skip_all)]
    pub async fn unsettled_extension(
        &self,
        project_id: i64,
        original_transaction_id: &str,
    ) -> StoreResult<Option<ExtensionRow>> {
        let row = sqlx::query_as::<_, ExtensionRow>(&format!(
            "SELECT {COLUMNS} FROM renewal_extensions \
             WHERE project_id = $1 AND original_transaction_id = $2 AND state IN ($3, $4) \
             ORDER BY id DESC LIMIT 1"
        ))
        .bind(project_id)
        .bind(original_transaction_id)
        .bind(SENDING)
        .bind(UNKNOWN)
        .fetch_optional(self.pool())
        .await?;
        Ok(row)
    }
}
