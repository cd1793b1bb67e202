//! Projects: one app of the publisher, addressed by its slug in every URL.
use sqlx::{Any, Transaction};

use super::{audit, Actor, Store, StoreError, StoreResult};
use crate::domain::{AppAppleId, BundleId, Environment, Slug};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Project {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub bundle_id: String,
    pub app_apple_id: Option<i64>,
    pub environment: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A project's editable fields, already parsed.
#[derive(Clone, Debug)]
pub struct NewProject {
    pub name: String,
    pub slug: Slug,
    pub bundle_id: BundleId,
    pub app_apple_id: Option<AppAppleId>,
    pub environment: Environment,
}

pub(crate) const PROJECT_COLUMNS: &str =
    "id, slug, name, bundle_id, app_apple_id, environment, created_at, updated_at";

fn slug_taken(e: StoreError) -> StoreError {
    match e {
        StoreError::Conflict(_) => {
            StoreError::Conflict("Another project already uses this slug. Choose another.".into())
        }
        other => other,
    }
}

/// The first statement of a transaction that reads a project's state and then changes it: the project's row is
/// locked until the commit, so two such transactions run one after the other and the later one reads what the
/// earlier one wrote. On SQLite this also takes the database's write lock before anything is read: a transaction
/// that has read cannot wait for that lock, and would fail with "database is locked" when another writer is busy.
pub(crate) async fn lock_project(tx: &mut Transaction<'static, Any>, id: i64) -> StoreResult<()> {
    sqlx::query("UPDATE projects SET id = id WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

impl Store {
    #[tracing::instrument(skip_all)]
    pub async fn create_project(&self, p: &NewProject, actor: &Actor) -> StoreResult<Project> {
        let now = crate::clock::now_ms();
        let mut tx = self.pool().begin().await?;
        let project = sqlx::query_as::<_, Project>(&format!(
            "INSERT INTO projects (slug, name, bundle_id, app_apple_id, environment, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING {PROJECT_COLUMNS}"
        ))
        .bind(p.slug.as_str())
        .bind(&p.name)
        .bind(p.bundle_id.as_str())
        .bind(p.app_apple_id.as_ref().map(|a| a.get()))
        .bind(p.environment.as_str())
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| slug_taken(e.into()))?;
        let detail = format!(
            "bundle {}, environment {}",
            project.bundle_id, project.environment
        );
        audit::record(
            &mut tx,
            actor,
            "project.create",
            Some(project.id),
            &project.slug,
            &detail,
        )
        .await?;
        tx.commit().await?;
        Ok(project)
    }

    #[tracing::instrument(skip_all)]
    pub async fn update_project(
        &self,
        id: i64,
        p: &NewProject,
        actor: &Actor,
    ) -> StoreResult<Project> {
        let now = crate::clock::now_ms();
        let mut tx = self.pool().begin().await?;
        lock_project(&mut tx, id).await?;
        let before = sqlx::query_as::<_, Project>(&format!(
            "SELECT {PROJECT_COLUMNS} FROM projects WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        let project = sqlx::query_as::<_, Project>(&format!(
            "UPDATE projects SET slug = $1, name = $2, bundle_id = $3, app_apple_id = $4, environment = $5, updated_at = $6 \
             WHERE id = $7 RETURNING {PROJECT_COLUMNS}"
        ))
        .bind(p.slug.as_str())
        .bind(&p.name)
        .bind(p.bundle_id.as_str())
        .bind(p.app_apple_id.as_ref().map(|a| a.get()))
        .bind(p.environment.as_str())
        .bind(now)
        .bind(id)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| slug_taken(e.into()))?;
        let mut changes = Vec::new();
        if before.slug != project.slug {
            changes.push(format!("slug {} -> {}", before.slug, project.slug));
        }
        if before.name != project.name {
            changes.push(format!("name {:?} -> {:?}", before.name, project.name));
        }
        if before.bundle_id != project.bundle_id {
            changes.push(format!(
                "bundle {} -> {}",
                before.bundle_id, project.bundle_id
            ));
        }
        if before.app_apple_id != project.app_apple_id {
            let show = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_else(|| "none".into());
            changes.push(format!(
                "App Apple ID {} -> {}",
                show(before.app_apple_id),
                show(project.app_apple_id)
            ));
        }
        if before.environment != project.environment {
            changes.push(format!(
                "environment {} -> {}",
                before.environment, project.environment
            ));
        }
        let detail = if changes.is_empty() {
            "no change".to_string()
        } else {
            changes.join("; ")
        };
        audit::record(
            &mut tx,
            actor,
            "project.update",
            Some(id),
            &project.slug,
            &detail,
        )
        .await?;
        tx.commit().await?;
        Ok(project)
    }

    pub async fn list_projects(&self) -> StoreResult<Vec<Project>> {
        Ok(sqlx::query_as::<_, Project>(&format!(
            "SELECT {PROJECT_COLUMNS} FROM projects ORDER BY name, slug"
        ))
        .fetch_all(self.pool())
        .await?)
    }

    pub async fn project_by_slug(&self, slug: &str) -> StoreResult<Option<Project>> {
        Ok(sqlx::query_as::<_, Project>(&format!(
            "SELECT {PROJECT_COLUMNS} FROM projects WHERE slug = $1"
        ))
        .bind(slug)
        .fetch_optional(self.pool())
        .await?)
    }
}
