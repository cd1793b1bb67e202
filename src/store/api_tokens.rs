//! Rows of `api_tokens`. Tokens are made and checked in `crate::auth::api_token`; this file only sees hashes.
use super::{audit, Actor, Store, StoreError, StoreResult};
use crate::domain::ApiScope;

/// A token as lists show it (with its project), never with anything secret.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ApiTokenRow {
    pub id: i64,
    pub project_id: i64,
    pub project_slug: String,
    pub project_name: String,
    pub name: String,
    pub scope: String,
    pub prefix: String,
    pub created_by: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub revoked_by: Option<String>,
}

impl ApiTokenRow {
    pub fn is_revoked(&self) -> bool {
        self.revoked_at.is_some()
    }
}

/// What the bearer check needs: the stored hash to compare and what the token grants.
#[derive(Clone, sqlx::FromRow)]
pub struct ApiTokenAuthRow {
    pub id: i64,
    pub project_id: i64,
    pub project_slug: String,
    pub name: String,
    pub scope: String,
    pub prefix: String,
    pub token_hash: String,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// A new token, already made: only its public prefix and hash reach the database.
pub struct NewApiToken<'a> {
    pub project_id: i64,
    pub name: &'a str,
    pub scope: ApiScope,
    pub prefix: &'a str,
    pub token_hash: &'a str,
    pub created_by: &'a str,
}

const ROW_SELECT: &str =
    "SELECT t.id, t.project_id, p.slug AS project_slug, p.name AS project_name, t.name, t.scope, \
     t.prefix, t.created_by, t.created_at, t.last_used_at, t.revoked_at, t.revoked_by \
     FROM api_tokens t JOIN projects p ON p.id = t.project_id";

/// `last_used_at` is written at most once a minute per token, so a busy backend does not turn every read into a write.
pub const LAST_USED_PRECISION_MS: i64 = 60_000;

impl Store {
    /// Inserts the token and its `api_token.create` audit row in one transaction.
    #[tracing::instrument(skip_all)]
    pub async fn create_api_token(
        &self,
        new: &NewApiToken<'_>,
        actor: &Actor,
    ) -> StoreResult<ApiTokenRow> {
        let now = crate::clock::now_ms();
        let mut tx = self.pool().begin().await?;
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO api_tokens (project_id, name, scope, prefix, token_hash, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(new.project_id)
        .bind(new.name)
        .bind(new.scope.as_str())
        .bind(new.prefix)
        .bind(new.token_hash)
        .bind(new.created_by)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let row = sqlx::query_as::<_, ApiTokenRow>(&format!("{ROW_SELECT} WHERE t.id = $1"))
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        audit::record(
            &mut tx,
            actor,
            "api_token.create",
            Some(row.project_id),
            &row.prefix,
            &format!("name {:?}; scope {}", row.name, row.scope),
        )
        .await?;
        tx.commit().await?;
        Ok(row)
    }

    pub async fn list_api_tokens(&self) -> StoreResult<Vec<ApiTokenRow>> {
        Ok(sqlx::query_as::<_, ApiTokenRow>(&format!(
            "{ROW_SELECT} ORDER BY (t.revoked_at IS NULL) DESC, t.id DESC"
        ))
        .fetch_all(self.pool())
        .await?)
    }

    pub async fn api_token(&self, id: i64) -> StoreResult<Option<ApiTokenRow>> {
        Ok(
            sqlx::query_as::<_, ApiTokenRow>(&format!("{ROW_SELECT} WHERE t.id = $1"))
                .bind(id)
                .fetch_optional(self.pool())
                .await?,
        )
    }

    pub async fn api_token_for_auth(&self, prefix: &str) -> StoreResult<Option<ApiTokenAuthRow>> {
        Ok(sqlx::query_as::<_, ApiTokenAuthRow>(
            "SELECT t.id, t.project_id, p.slug AS project_slug, t.name, t.scope, t.prefix, t.token_hash, \
             t.last_used_at, t.revoked_at FROM api_tokens t JOIN projects p ON p.id = t.project_id WHERE t.prefix = $1",
        )
        .bind(prefix)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Records a use. The condition keeps concurrent requests from all writing within the same minute.
    pub async fn touch_api_token(&self, id: i64, now: i64) -> StoreResult<()> {
        sqlx::query(
            "UPDATE api_tokens SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at <= $3)",
        )
        .bind(now)
        .bind(id)
        .bind(now - LAST_USED_PRECISION_MS)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Revokes the token for good, with its `api_token.revoke` audit row in the same transaction.
    #[tracing::instrument(skip_all)]
    pub async fn revoke_api_token(&self, id: i64, actor: &Actor) -> StoreResult<ApiTokenRow> {
        let now = crate::clock::now_ms();
        let mut tx = self.pool().begin().await?;
        let changed = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $1, revoked_by = $2 WHERE id = $3 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(&actor.email)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let row = sqlx::query_as::<_, ApiTokenRow>(&format!("{ROW_SELECT} WHERE t.id = $1"))
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?;
        if changed == 0 {
            return Err(StoreError::Conflict(format!(
                "The token “{}” ({}) was already revoked.",
                row.name, row.prefix
            )));
        }
        audit::record(
            &mut tx,
            actor,
            "api_token.revoke",
            Some(row.project_id),
            &row.prefix,
            &format!("name {:?}; scope {}", row.name, row.scope),
        )
        .await?;
        tx.commit().await?;
        Ok(row)
    }
}
