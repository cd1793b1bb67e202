//! Rows of `forward_destinations`: where a project's notifications are forwarded, which of them, whether it is
//! paused, its signing secret (sealed; sealing happens in `crate::keys`, this file only moves bytes) and its health.
use sqlx::{Any, Transaction};

use crate::store::{audit, projects, Actor, Store, StoreError, StoreResult};

/// At most this many destinations per project.
pub const MAX_DESTINATIONS: i64 = 10;
pub const TOO_MANY_DESTINATIONS: &str =
    "A project can forward to at most 10 destinations. Remove one before adding another.";

/// What a person sets on a destination, already checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DestinationSettings {
    pub name: String,
    pub url: String,
    pub production: bool,
    pub sandbox: bool,
    /// Notification types it gets; empty for every type.
    pub types: Vec<String>,
    pub enabled: bool,
}

impl DestinationSettings {
    /// The stored form of `types`: '' for every type, else `,A,B,` (so SQL matches a type with LIKE '%,A,%').
    pub fn types_column(&self) -> String {
        match self.types.is_empty() {
            true => String::new(),
            false => format!(",{},", self.types.join(",")),
        }
    }

    /// "Production and Sandbox; every type; enabled", for the audit log.
    pub fn words(&self) -> String {
        let envs = match (self.production, self.sandbox) {
            (true, true) => "Production and Sandbox",
            (true, false) => "Production",
            (false, true) => "Sandbox",
            (false, false) => "no environment",
        };
        let types = match self.types.is_empty() {
            true => "every type".to_owned(),
            false => self.types.join(", "),
        };
        let state = if self.enabled { "enabled" } else { "paused" };
        format!("{envs}; {types}; {state}")
    }
}

/// A destination as pages and the delivery workers see it; its secrets only sealed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DestinationRow {
    pub id: i64,
    pub project_id: i64,
    pub settings: DestinationSettings,
    pub sealed_secret: Vec<u8>,
    pub master_key_id: String,
    /// The secret before the last rotation, signing beside the new one until `previous_until`.
    pub sealed_previous: Option<Vec<u8>>,
    pub previous_master_key_id: Option<String>,
    pub previous_until: Option<i64>,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub consecutive_failures: i64,
    pub last_success_at: Option<i64>,
    pub last_failure_at: Option<i64>,
    pub last_failure: Option<String>,
}

impl DestinationRow {
    /// The previous secret, while it still signs at `now`.
    pub fn previous_in_force(&self, now: i64) -> Option<(&[u8], &str)> {
        match (
            &self.sealed_previous,
            &self.previous_master_key_id,
            self.previous_until,
        ) {
            (Some(sealed), Some(key), Some(until)) if until > now => Some((sealed, key)),
            _ => None,
        }
    }

    /// Whether a notification of this type and environment goes to this destination.
    pub fn wants(&self, notification_type: &str, environment: &str) -> bool {
        let env = match environment {
            "Production" => self.settings.production,
            "Sandbox" => self.settings.sandbox,
            _ => false,
        };
        env && (self.settings.types.is_empty()
            || self.settings.types.iter().any(|t| t == notification_type))
    }
}

#[derive(sqlx::FromRow)]
struct RawDestination {
    id: i64,
    project_id: i64,
    name: String,
    url: String,
    production: i64,
    sandbox: i64,
    types: String,
    enabled: i64,
    sealed_secret: Vec<u8>,
    master_key_id: String,
    sealed_previous: Option<Vec<u8>>,
    previous_master_key_id: Option<String>,
    previous_until: Option<i64>,
    created_by: String,
    created_at: i64,
    updated_at: i64,
    consecutive_failures: i64,
    last_success_at: Option<i64>,
    last_failure_at: Option<i64>,
    last_failure: Option<String>,
}

impl From<RawDestination> for DestinationRow {
    fn from(r: RawDestination) -> Self {
        DestinationRow {
            id: r.id,
            project_id: r.project_id,
            settings: DestinationSettings {
                name: r.name,
                url: r.url,
                production: r.production != 0,
                sandbox: r.sandbox != 0,
                types: r
                    .types
                    .split(',')
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned)
                    .collect(),
                enabled: r.enabled != 0,
            },
            sealed_secret: r.sealed_secret,
            master_key_id: r.master_key_id,
            sealed_previous: r.sealed_previous,
            previous_master_key_id: r.previous_master_key_id,
            previous_until: r.previous_until,
            created_by: r.created_by,
            created_at: r.created_at,
            updated_at: r.updated_at,
            consecutive_failures: r.consecutive_failures,
            last_success_at: r.last_success_at,
            last_failure_at: r.last_failure_at,
            last_failure: r.last_failure,
        }
    }
}

pub const DESTINATION_COLUMNS: &str = "d.id, d.project_id, d.name, d.url, d.production, d.sandbox, d.types, \
     d.enabled, d.sealed_secret, d.master_key_id, d.sealed_previous, d.previous_master_key_id, d.previous_until, \
     d.created_by, d.created_at, d.updated_at, d.consecutive_failures, d.last_success_at, d.last_failure_at, \
     d.last_failure";

/// Seals a new signing secret for the destination row id it is given: `(sealed bytes, master key id)`.
pub type SecretSeal<'a> = &'a (dyn Fn(i64) -> (Vec<u8>, String) + Sync);

/// A signing secret sealed under a master key, for `master-key rotate`.
#[derive(Clone, sqlx::FromRow)]
pub struct SealedSecretRow {
    pub id: i64,
    pub project_id: i64,
    pub master_key_id: String,
    pub sealed_secret: Vec<u8>,
    pub previous_master_key_id: Option<String>,
    pub sealed_previous: Option<Vec<u8>>,
}

async fn fetch(
    tx: &mut Transaction<'static, Any>,
    project_id: i64,
    id: i64,
) -> StoreResult<DestinationRow> {
    Ok(sqlx::query_as::<_, RawDestination>(&format!(
        "SELECT {DESTINATION_COLUMNS} FROM forward_destinations d WHERE d.id = $1 AND d.project_id = $2"
    ))
    .bind(id)
    .bind(project_id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(StoreError::NotFound)?
    .into())
}

impl Store {
    /// Adds a destination with its audit row in one transaction; its secret is sealed for the new row by `seal`.
    /// More than [`MAX_DESTINATIONS`] is a `Conflict` carrying the page's sentence.
    pub async fn add_forward_destination(
        &self,
        project_id: i64,
        settings: &DestinationSettings,
        seal: SecretSeal<'_>,
        actor: &Actor,
    ) -> StoreResult<i64> {
        let now = crate::clock::now_ms();
        let mut tx = self.pool().begin().await?;
        projects::lock_project(&mut tx, project_id).await?;
        let (count,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM forward_destinations WHERE project_id = $1")
                .bind(project_id)
                .fetch_one(&mut *tx)
                .await?;
        if count >= MAX_DESTINATIONS {
            return Err(StoreError::Conflict(TOO_MANY_DESTINATIONS.into()));
        }
        // The row id is part of what the secret is sealed to, so the row comes first, with an empty secret that
        // nothing outside this transaction ever sees.
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO forward_destinations (project_id, name, url, production, sandbox, types, enabled, \
             sealed_secret, master_key_id, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, '', $9, $10, $10) RETURNING id",
        )
        .bind(project_id)
        .bind(&settings.name)
        .bind(&settings.url)
        .bind(i64::from(settings.production))
        .bind(i64::from(settings.sandbox))
        .bind(settings.types_column())
        .bind(i64::from(settings.enabled))
        .bind(Vec::<u8>::new())
        .bind(&actor.email)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let (sealed, master_key_id) = seal(id);
        sqlx::query(
            "UPDATE forward_destinations SET sealed_secret = $1, master_key_id = $2 WHERE id = $3",
        )
        .bind(sealed)
        .bind(master_key_id)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        audit::record(
            &mut tx,
            actor,
            "forwarding.destination_add",
            Some(project_id),
            &settings.name,
            &format!("{}; {}", settings.url, settings.words()),
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Changes a destination's settings (its secret and deliveries stay) and audits what it became.
    pub async fn update_forward_destination(
        &self,
        project_id: i64,
        id: i64,
        settings: &DestinationSettings,
        actor: &Actor,
    ) -> StoreResult<()> {
        let now = crate::clock::now_ms();
        let mut tx = self.pool().begin().await?;
        let before = fetch(&mut tx, project_id, id).await?;
        sqlx::query(
            "UPDATE forward_destinations SET name = $1, url = $2, production = $3, sandbox = $4, types = $5, \
             enabled = $6, updated_at = $7 WHERE id = $8",
        )
        .bind(&settings.name)
        .bind(&settings.url)
        .bind(i64::from(settings.production))
        .bind(i64::from(settings.sandbox))
        .bind(settings.types_column())
        .bind(i64::from(settings.enabled))
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let action = match (before.settings.enabled, settings.enabled) {
            (true, false) => "forwarding.destination_pause",
            (false, true) => "forwarding.destination_resume",
            _ => "forwarding.destination_change",
        };
        audit::record(
            &mut tx,
            actor,
            action,
            Some(project_id),
            &settings.name,
            &format!("{}; {}", settings.url, settings.words()),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Replaces the signing secret; the one it replaces keeps signing beside it until `previous_until`.
    pub async fn rotate_forward_secret(
        &self,
        project_id: i64,
        id: i64,
        seal: SecretSeal<'_>,
        previous_until: i64,
        actor: &Actor,
    ) -> StoreResult<()> {
        let now = crate::clock::now_ms();
        let mut tx = self.pool().begin().await?;
        let before = fetch(&mut tx, project_id, id).await?;
        let (sealed, master_key_id) = seal(id);
        sqlx::query(
            "UPDATE forward_destinations SET sealed_previous = sealed_secret, \
             previous_master_key_id = master_key_id, previous_until = $1, sealed_secret = $2, master_key_id = $3, \
             updated_at = $4 WHERE id = $5",
        )
        .bind(previous_until)
        .bind(sealed)
        .bind(master_key_id)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        audit::record(
            &mut tx,
            actor,
            "forwarding.secret_rotate",
            Some(project_id),
            &before.settings.name,
            &format!(
                "the previous secret signs too until {}",
                crate::present::time::utc(previous_until)
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes a destination with its deliveries and replays, and records who did it.
    pub async fn remove_forward_destination(
        &self,
        project_id: i64,
        id: i64,
        actor: &Actor,
    ) -> StoreResult<DestinationRow> {
        let mut tx = self.pool().begin().await?;
        let row = fetch(&mut tx, project_id, id).await?;
        for table in ["forward_deliveries", "forward_replays"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE destination_id = $1"))
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("DELETE FROM forward_destinations WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        audit::record(
            &mut tx,
            actor,
            "forwarding.destination_remove",
            Some(project_id),
            &row.settings.name,
            &row.settings.url,
        )
        .await?;
        tx.commit().await?;
        Ok(row)
    }

    /// A project's destinations, oldest first.
    pub async fn forward_destinations(&self, project_id: i64) -> StoreResult<Vec<DestinationRow>> {
        let rows = sqlx::query_as::<_, RawDestination>(&format!(
            "SELECT {DESTINATION_COLUMNS} FROM forward_destinations d WHERE d.project_id = $1 ORDER BY d.id"
        ))
        .bind(project_id)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// One destination of a project.
    pub async fn forward_destination(
        &self,
        project_id: i64,
        id: i64,
    ) -> StoreResult<Option<DestinationRow>> {
        let row = sqlx::query_as::<_, RawDestination>(&format!(
            "SELECT {DESTINATION_COLUMNS} FROM forward_destinations d WHERE d.id = $1 AND d.project_id = $2"
        ))
        .bind(id)
        .bind(project_id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(Into::into))
    }

    /// Every sealed signing secret, for `master-key rotate`.
    pub async fn all_sealed_forward_secrets(&self) -> StoreResult<Vec<SealedSecretRow>> {
        Ok(sqlx::query_as::<_, SealedSecretRow>(
            "SELECT id, project_id, master_key_id, sealed_secret, previous_master_key_id, sealed_previous \
             FROM forward_destinations ORDER BY id",
        )
        .fetch_all(self.pool())
        .await?)
    }

    /// Replaces one destination's sealed secrets only if nobody changed the row meanwhile.
    pub async fn reseal_forward_secrets(
        &self,
        id: i64,
        old_master_key_id: &str,
        sealed: &[u8],
        previous: Option<&[u8]>,
        new_master_key_id: &str,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE forward_destinations SET sealed_secret = $1, master_key_id = $2, sealed_previous = $3, \
             previous_master_key_id = CASE WHEN $3 IS NULL THEN NULL ELSE $2 END \
             WHERE id = $4 AND master_key_id = $5",
        )
        .bind(sealed)
        .bind(new_master_key_id)
        .bind(previous.map(<[u8]>::to_vec))
        .bind(id)
        .bind(old_master_key_id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(types: &[&str]) -> DestinationSettings {
        DestinationSettings {
            name: "backend".into(),
            url: "https://example.com/apple".into(),
            production: true,
            sandbox: false,
            types: types.iter().map(|t| (*t).to_owned()).collect(),
            enabled: true,
        }
    }

    #[test]
    fn types_are_stored_with_commas_around_each() {
        assert_eq!(settings(&[]).types_column(), "");
        assert_eq!(
            settings(&["DID_RENEW", "REFUND"]).types_column(),
            ",DID_RENEW,REFUND,"
        );
        assert_eq!(settings(&["REFUND"]).words(), "Production; REFUND; enabled");
    }
}
