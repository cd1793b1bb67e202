//! Rows of `alert_channels`: where a project's alerts go (an e-mail recipient, a Slack-compatible incoming
//! webhook) and which events each gets, with how its last deliveries went. Sealing a webhook's URL happens in
//! `crate::keys`; this file only moves bytes.
use sqlx::{Any, Transaction};

use crate::store::status_text::status_text;
use crate::store::{audit, projects, Actor, Project, Store, StoreError, StoreResult};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChannelKind {
    /// One e-mail recipient.
    Email,
    /// A Slack-compatible incoming webhook (`{"text": …}` posted to a secret URL).
    Webhook,
}

impl ChannelKind {
    pub const ALL: [ChannelKind; 2] = [ChannelKind::Email, ChannelKind::Webhook];

    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Email => "email",
            ChannelKind::Webhook => "webhook",
        }
    }
}

status_text!(ChannelKind, "alert channel kind");

/// Which events a channel gets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AlertEvents {
    /// A consumption request waits for an answer (and the reminder before its deadline).
    pub consumption_requests: bool,
    /// Apple refuses the project's key, or the key is failing.
    pub key_problems: bool,
    /// The gap check found notifications that never arrived.
    pub notification_gaps: bool,
}

impl AlertEvents {
    pub fn any(self) -> bool {
        self.consumption_requests || self.key_problems || self.notification_gaps
    }

    /// "consumption requests, key problems" (for the audit log and the settings page).
    pub fn words(self) -> String {
        let mut words = Vec::new();
        if self.consumption_requests {
            words.push("consumption requests");
        }
        if self.key_problems {
            words.push("key problems");
        }
        if self.notification_gaps {
            words.push("notification gaps");
        }
        words.join(", ")
    }
}

/// A channel as pages and the job see it; a webhook's URL only sealed.
#[derive(Clone, Debug)]
pub struct ChannelRow {
    pub id: i64,
    pub project_id: i64,
    pub kind: ChannelKind,
    /// The address, or the webhook's URL masked.
    pub label: String,
    pub sealed_url: Option<Vec<u8>>,
    pub master_key_id: Option<String>,
    pub events: AlertEvents,
    pub created_by: String,
    pub created_at: i64,
    pub last_sent_at: Option<i64>,
    pub last_error: Option<String>,
    pub last_error_at: Option<i64>,
    /// Alerts claimed for it and not delivered yet (waiting for their next attempt).
    pub pending: i64,
}

#[derive(sqlx::FromRow)]
struct RawChannel {
    id: i64,
    project_id: i64,
    kind: ChannelKind,
    label: String,
    sealed_url: Option<Vec<u8>>,
    master_key_id: Option<String>,
    consumption_requests: i64,
    key_problems: i64,
    notification_gaps: i64,
    created_by: String,
    created_at: i64,
    last_sent_at: Option<i64>,
    last_error: Option<String>,
    last_error_at: Option<i64>,
    pending: i64,
}

impl From<RawChannel> for ChannelRow {
    fn from(r: RawChannel) -> Self {
        ChannelRow {
            id: r.id,
            project_id: r.project_id,
            kind: r.kind,
            label: r.label,
            sealed_url: r.sealed_url,
            master_key_id: r.master_key_id,
            events: AlertEvents {
                consumption_requests: r.consumption_requests != 0,
                key_problems: r.key_problems != 0,
                notification_gaps: r.notification_gaps != 0,
            },
            created_by: r.created_by,
            created_at: r.created_at,
            last_sent_at: r.last_sent_at,
            last_error: r.last_error,
            last_error_at: r.last_error_at,
            pending: r.pending,
        }
    }
}

const CHANNEL_COLUMNS: &str = "c.id, c.project_id, c.kind, c.label, c.sealed_url, c.master_key_id, \
     c.consumption_requests, c.key_problems, c.notification_gaps, c.created_by, c.created_at, c.last_sent_at, \
     c.last_error, c.last_error_at, \
     (SELECT COUNT(*) FROM alert_deliveries d WHERE d.channel_id = c.id AND d.status = 'pending') AS pending";

/// A channel to add, already checked.
pub struct NewChannel<'a> {
    pub project_id: i64,
    pub kind: ChannelKind,
    pub label: &'a str,
    pub target_key: &'a str,
    pub events: AlertEvents,
}

/// Seals a webhook's URL for the row id it is given: `(sealed bytes, master key id)`.
pub type SealFor<'a> = &'a (dyn Fn(i64) -> (Vec<u8>, String) + Sync);

/// At most this many channels per project: a list anyone can still read on the settings page.
pub const MAX_CHANNELS: i64 = 20;

/// Why a channel was not added, in the settings page's words.
pub const ALREADY_THERE_EMAIL: &str = "This address already gets alerts for this project.";
pub const ALREADY_THERE_WEBHOOK: &str = "This webhook already gets alerts for this project.";
pub const TOO_MANY: &str =
    "A project can send alerts to at most 20 places. Remove one before adding another.";

/// One alert: an event for one channel, with its message and where its delivery is.
/// A webhook URL sealed under a master key, for `master-key rotate`.
#[derive(Clone, sqlx::FromRow)]
pub struct SealedUrlRow {
    pub id: i64,
    pub project_id: i64,
    pub master_key_id: String,
    pub sealed_url: Vec<u8>,
}

async fn insert_channel(
    tx: &mut Transaction<'static, Any>,
    new: &NewChannel<'_>,
    actor: &Actor,
    now: i64,
) -> StoreResult<i64> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO alert_channels (project_id, kind, label, target_key, consumption_requests, key_problems, \
         notification_gaps, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(new.project_id)
    .bind(new.kind.as_str())
    .bind(new.label)
    .bind(new.target_key)
    .bind(i64::from(new.events.consumption_requests))
    .bind(i64::from(new.events.key_problems))
    .bind(i64::from(new.events.notification_gaps))
    .bind(&actor.email)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    Ok(id)
}

impl Store {
    /// Adds a channel and its audit row in one transaction; a webhook's URL is sealed for the new row by `seal`.
    /// The same target twice, or more than [`MAX_CHANNELS`], is a `Conflict` carrying the page's sentence.
    pub async fn add_alert_channel(
        &self,
        new: &NewChannel<'_>,
        seal: Option<SealFor<'_>>,
        actor: &Actor,
    ) -> StoreResult<i64> {
        let now = crate::clock::now_ms();
        let mut tx = self.pool().begin().await?;
        // Two additions at once are counted one after the other.
        projects::lock_project(&mut tx, new.project_id).await?;
        let (count,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM alert_channels WHERE project_id = $1")
                .bind(new.project_id)
                .fetch_one(&mut *tx)
                .await?;
        if count >= MAX_CHANNELS {
            return Err(StoreError::Conflict(TOO_MANY.into()));
        }
        let id = match insert_channel(&mut tx, new, actor, now).await {
            Err(StoreError::Conflict(_)) => {
                return Err(StoreError::Conflict(
                    match new.kind {
                        ChannelKind::Email => ALREADY_THERE_EMAIL,
                        ChannelKind::Webhook => ALREADY_THERE_WEBHOOK,
                    }
                    .into(),
                ))
            }
            other => other?,
        };
        if let Some(seal) = seal {
            let (sealed, master_key_id) = seal(id);
            sqlx::query(
                "UPDATE alert_channels SET sealed_url = $1, master_key_id = $2 WHERE id = $3",
            )
            .bind(sealed)
            .bind(master_key_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        audit::record(
            &mut tx,
            actor,
            "alerts.channel_add",
            Some(new.project_id),
            new.label,
            &format!("{}; events: {}", new.kind.as_str(), new.events.words()),
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Removes a channel (its pending alerts go with it) and records who did it.
    pub async fn remove_alert_channel(
        &self,
        project_id: i64,
        id: i64,
        actor: &Actor,
    ) -> StoreResult<ChannelRow> {
        let mut tx = self.pool().begin().await?;
        projects::lock_project(&mut tx, project_id).await?;
        let row: ChannelRow = sqlx::query_as::<_, RawChannel>(&format!(
            "SELECT {CHANNEL_COLUMNS} FROM alert_channels c WHERE c.id = $1 AND c.project_id = $2"
        ))
        .bind(id)
        .bind(project_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?
        .into();
        sqlx::query("DELETE FROM alert_deliveries WHERE channel_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM alert_channels WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        audit::record(
            &mut tx,
            actor,
            "alerts.channel_remove",
            Some(project_id),
            &row.label,
            &format!("{}; events: {}", row.kind.as_str(), row.events.words()),
        )
        .await?;
        tx.commit().await?;
        Ok(row)
    }

    /// A project's channels, oldest first.
    pub async fn alert_channels(&self, project_id: i64) -> StoreResult<Vec<ChannelRow>> {
        let rows = sqlx::query_as::<_, RawChannel>(&format!(
            "SELECT {CHANNEL_COLUMNS} FROM alert_channels c WHERE c.project_id = $1 ORDER BY c.id"
        ))
        .bind(project_id)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    pub async fn alert_channel(&self, id: i64) -> StoreResult<Option<ChannelRow>> {
        let row = sqlx::query_as::<_, RawChannel>(&format!(
            "SELECT {CHANNEL_COLUMNS} FROM alert_channels c WHERE c.id = $1"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(Into::into))
    }

    /// Projects that send alerts somewhere: the ones the alert job looks at.
    pub async fn projects_with_alert_channels(&self) -> StoreResult<Vec<Project>> {
        Ok(sqlx::query_as::<_, Project>(&format!(
            "SELECT {} FROM projects p WHERE EXISTS (SELECT 1 FROM alert_channels c WHERE c.project_id = p.id) \
             ORDER BY id",
            projects::PROJECT_COLUMNS
        ))
        .fetch_all(self.pool())
        .await?)
    }

    /// How a test alert went, on the channel (last sent, or last error) and in the audit log.
    pub async fn record_alert_test(
        &self,
        channel: &ChannelRow,
        outcome: Result<(), &str>,
        actor: &Actor,
    ) -> StoreResult<()> {
        let now = crate::clock::now_ms();
        let mut tx = self.pool().begin().await?;
        match outcome {
            Ok(()) => sqlx::query("UPDATE alert_channels SET last_sent_at = $1 WHERE id = $2")
                .bind(now)
                .bind(channel.id),
            Err(error) => sqlx::query(
                "UPDATE alert_channels SET last_error = $1, last_error_at = $2 WHERE id = $3",
            )
            .bind(error)
            .bind(now)
            .bind(channel.id),
        }
        .execute(&mut *tx)
        .await?;
        audit::record(
            &mut tx,
            actor,
            "alerts.test",
            Some(channel.project_id),
            &channel.label,
            match outcome {
                Ok(()) => "sent",
                Err(error) => error,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every sealed webhook URL, for `master-key rotate`.
    pub async fn all_sealed_alert_urls(&self) -> StoreResult<Vec<SealedUrlRow>> {
        Ok(sqlx::query_as::<_, SealedUrlRow>(
            "SELECT id, project_id, master_key_id, sealed_url FROM alert_channels \
             WHERE sealed_url IS NOT NULL AND master_key_id IS NOT NULL ORDER BY id",
        )
        .fetch_all(self.pool())
        .await?)
    }

    /// Replaces one sealed URL only if nobody changed the row meanwhile.
    pub async fn reseal_alert_url(
        &self,
        id: i64,
        old_master_key_id: &str,
        sealed: &[u8],
        new_master_key_id: &str,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE alert_channels SET sealed_url = $1, master_key_id = $2 WHERE id = $3 AND master_key_id = $4",
        )
        .bind(sealed)
        .bind(new_master_key_id)
        .bind(id)
        .bind(old_master_key_id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn every_channel_kind_round_trips_through_its_stored_text() {
        for kind in ChannelKind::ALL {
            assert_eq!(ChannelKind::parse(kind.as_str()), Ok(kind));
        }
        assert_eq!(
            ChannelKind::parse("sms").unwrap_err().to_string(),
            "unknown alert channel kind \"sms\" in the database"
        );
    }

    #[test]
    fn events_read_as_words() {
        let all = AlertEvents {
            consumption_requests: true,
            key_problems: true,
            notification_gaps: true,
        };
        assert_eq!(
            all.words(),
            "consumption requests, key problems, notification gaps"
        );
        assert!(!AlertEvents::default().any());
    }
}
