//! The audit log: who did what, when, from where. Rows are written inside the transaction of the change they record.

use super::{Store, StoreResult};

/// The person (or command) behind a change.
#[derive(Clone, Debug)]
pub struct Actor {
    pub user_id: Option<i64>,
    pub email: String,
    pub ip: String,
}

impl Actor {
    pub fn system(what: &str) -> Self {
        Self {
            user_id: None,
            email: format!("system ({what})"),
            ip: "local".into(),
        }
    }
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct AuditEntry {
    pub id: i64,
    pub at: i64,
    pub user_id: Option<i64>,
    pub user_email: String,
    pub action: String,
    pub project_id: Option<i64>,
    pub target: String,
    pub detail: String,
    pub ip: String,
}

#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    pub action: Option<String>,
    pub user_email: Option<String>,
    pub project_id: Option<i64>,
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
    pub before_id: Option<i64>,
    pub limit: i64,
}

/// Writes one audit row on `conn`: a transaction's connection (the row then commits with what it records) or a
/// connection of its own.
pub async fn record(
    conn: &mut sqlx::AnyConnection,
    actor: &Actor,
    action: &str,
    project_id: Option<i64>,
    target: &str,
    detail: &str,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO audit_log (at, user_id, user_email, action, project_id, target, detail, ip) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(crate::clock::now_ms())
    .bind(actor.user_id)
    .bind(&actor.email)
    .bind(action)
    .bind(project_id)
    .bind(target)
    .bind(detail)
    .bind(&actor.ip)
    .execute(conn)
    .await?;
    Ok(())
}

impl Store {
    /// For actions that change nothing else (a lookup): one row in its own transaction.
    pub async fn audit(
        &self,
        actor: &Actor,
        action: &str,
        project_id: Option<i64>,
        target: &str,
        detail: &str,
    ) -> StoreResult<()> {
        let mut tx = self.pool().begin().await?;
        record(&mut tx, actor, action, project_id, target, detail).await?;
        tx.commit().await?;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    pub async fn list_audit(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEntry>> {
        // Optional filters are passed as NULL and short-circuit in SQL, so there is one statement for every combination.
        let rows = sqlx::query_as::<_, AuditEntry>(
            "SELECT id, at, user_id, user_email, action, project_id, target, detail, ip FROM audit_log \
             WHERE ($1 IS NULL OR action = $1) \
               AND ($2 IS NULL OR user_email = $2) \
               AND ($3 IS NULL OR project_id = $3) \
               AND ($4 IS NULL OR at >= $4) \
               AND ($5 IS NULL OR at < $5) \
               AND ($6 IS NULL OR id < $6) \
             ORDER BY id DESC LIMIT $7",
        )
        .bind(filter.action.clone())
        .bind(filter.user_email.clone())
        .bind(filter.project_id)
        .bind(filter.since_ms)
        .bind(filter.until_ms)
        .bind(filter.before_id)
        .bind(if filter.limit > 0 { filter.limit } else { 50 })
        .fetch_all(self.pool())
        .await?;
        Ok(rows)
    }

    /// The project's audit rows with one of `actions` about one of `targets` (transaction ids), newest first: what
    /// staff did about one customer.
    #[tracing::instrument(skip_all)]
    pub async fn audit_about(
        &self,
        project_id: i64,
        actions: &[&str],
        targets: &[String],
        limit: i64,
    ) -> StoreResult<Vec<AuditEntry>> {
        if actions.is_empty() || targets.is_empty() {
            return Ok(Vec::new());
        }
        let list = |from: usize, n: usize| {
            (from..from + n)
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let sql = format!(
            "SELECT id, at, user_id, user_email, action, project_id, target, detail, ip FROM audit_log \
             WHERE project_id = $1 AND target IN ({}) AND action IN ({}) ORDER BY id DESC LIMIT ${}",
            list(2, targets.len()),
            list(2 + targets.len(), actions.len()),
            2 + targets.len() + actions.len()
        );
        let mut query = sqlx::query_as::<_, AuditEntry>(&sql).bind(project_id);
        for t in targets {
            query = query.bind(t.clone());
        }
        for a in actions {
            query = query.bind(a.to_string());
        }
        Ok(query.bind(limit).fetch_all(self.pool()).await?)
    }

    pub async fn audit_actions(&self) -> StoreResult<Vec<String>> {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT DISTINCT action FROM audit_log ORDER BY action")
                .fetch_all(self.pool())
                .await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }
}
