//! All SQL lives here, one file per table or aggregate. One `Any` pool serves SQLite and PostgreSQL with the same
//! queries (`$1` placeholders, BIGINT times in milliseconds, integer flags), so handlers never see a dialect.
use anyhow::Context;
use sqlx::any::AnyPoolOptions;
use sqlx::AnyPool;

use crate::config::DatabaseUrl;

pub mod alerts;
pub mod api_tokens;
pub mod audit;
pub mod call_budget;
pub mod forwarding;
pub mod housekeeping;
pub mod keys;
pub mod leases;
pub mod notification_log;
pub mod notification_work;
pub mod notification_writer;
pub mod notifications;
pub mod projects;
pub mod second_factor;
pub mod sessions;
pub mod settings;
pub mod status_text;
pub mod test_notifications;
pub mod throttle;
pub mod transactions;

pub mod users;

pub use audit::{Actor, AuditEntry, AuditFilter};
pub use projects::{NewProject, Project};
pub use users::User;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    /// Text PostgreSQL cannot store: it holds a NUL character (which no form or page of ours produces).
    #[error("What was sent holds a NUL character (\\0), which cannot be stored, so nothing was changed. Remove it and try again.")]
    Unstorable,
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Conflict("already exists".into())
            }
            // PostgreSQL's "invalid byte sequence for encoding UTF8: 0x00".
            sqlx::Error::Database(db) if db.code().as_deref() == Some("22021") => {
                StoreError::Unstorable
            }
            _ => StoreError::Other(anyhow::Error::new(e)),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    postgres: bool,
}

impl Store {
    pub async fn connect(url: &DatabaseUrl) -> anyhow::Result<Store> {
        sqlx::any::install_default_drivers();
        let postgres = url.is_postgres();
        if !postgres {
            ensure_sqlite_dir(url.as_str())?;
        }
        let options = AnyPoolOptions::new()
            .max_connections(if postgres { 10 } else { 8 })
            .acquire_timeout(std::time::Duration::from_secs(10));
        let options = if postgres {
            options
        } else {
            // A connection to a local file does not go stale, so it is not pinged before every use (sqlx's default
            // costs each query a second round trip to the connection's thread).
            let options = options.test_before_acquire(false);
            // WAL lets readers and the single writer proceed together; busy_timeout queues writers instead of failing.
            options.after_connect(|conn, _meta| {
                Box::pin(async move {
                    for pragma in [
                        "PRAGMA journal_mode = WAL",
                        "PRAGMA synchronous = NORMAL",
                        "PRAGMA foreign_keys = ON",
                        "PRAGMA busy_timeout = 10000",
                    ] {
                        sqlx::query(pragma).execute(&mut *conn).await?;
                    }
                    Ok(())
                })
            })
        };
        let pool = options
            .connect(url.as_str())
            .await
            .with_context(|| format!("could not open the database at {}", url.redacted()))?;
        Ok(Store { pool, postgres })
    }

    /// How many of this version's migrations the database holds, and how many there are: `check` reports it
    /// without migrating. A database never migrated holds none.
    pub async fn migration_status(&self) -> anyhow::Result<(usize, usize)> {
        let migrator = if self.postgres {
            sqlx::migrate!("migrations/postgres")
        } else {
            sqlx::migrate!("migrations/sqlite")
        };
        let known = migrator.iter().count();
        let applied: Vec<(i64,)> =
            match sqlx::query_as("SELECT version FROM _sqlx_migrations WHERE success")
                .fetch_all(&self.pool)
                .await
            {
                Ok(rows) => rows,
                // No table yet: nothing was ever applied.
                Err(sqlx::Error::Database(_)) => Vec::new(),
                Err(e) => return Err(e.into()),
            };
        Ok((applied.len(), known))
    }

    pub async fn migrate(&self) -> anyhow::Result<()> {
        if self.postgres {
            sqlx::migrate!("migrations/postgres").run(&self.pool).await
        } else {
            sqlx::migrate!("migrations/sqlite").run(&self.pool).await
        }
        .context("could not run the database migrations")
    }

    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    pub fn is_postgres(&self) -> bool {
        self.postgres
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn ensure_sqlite_dir(url: &str) -> anyhow::Result<()> {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or("");
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    if let Some(dir) = std::path::Path::new(path).parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir).with_context(|| {
                format!("could not create the data directory {}", dir.display())
            })?;
        }
    }
    Ok(())
}
