//! All SQL lives here, one file per table or aggregate. One `Any` pool serves SQLite and PostgreSQL with the same
//! queries (`$1` placeholders, BIGINT times in milliseconds, integer flags), so handlers never see a dialect.
use anyhow::Context;
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyConnection, AnyPool, ConnectOptions as _};

use crate::config::DatabaseUrl;

pub mod alerts;
pub mod api_tokens;
pub mod audit;
pub mod call_budget;
pub mod catalog;
pub mod connect_keys;
pub mod consumption_policy;
pub mod forwarding;
pub mod housekeeping;
pub mod keys;
pub mod leases;
pub mod mass_extensions;
pub mod notification_log;
pub mod notification_work;
pub mod notification_writer;
pub mod notifications;
pub mod passkeys;
pub mod projects;
pub mod renewal_extensions;
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

impl StoreError {
    /// The database could not be reached or stopped answering (a refused or broken connection, a pool that timed
    /// out, a server shutting down), as opposed to a query it refused: asking again later may well succeed.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Other(e) => unavailable(e),
            _ => false,
        }
    }
}

/// Whether a failure, somewhere in its chain of causes, is the database being out of reach (see
/// [`StoreError::is_unavailable`]).
pub fn unavailable(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        if let Some(StoreError::Other(inner)) = cause.downcast_ref::<StoreError>() {
            return unavailable(inner);
        }
        cause
            .downcast_ref::<sqlx::Error>()
            .is_some_and(sqlx_unavailable)
    })
}

fn sqlx_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        // PostgreSQL's classes 08 (connection exception) and 57P (shutting down, starting up).
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|c| c.starts_with("08") || c.starts_with("57P")),
        _ => false,
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
                        // A deleted row (a destroyed key's ciphertext, a pruned notification) is overwritten with
                        // zeros in the file, not left readable in a free page.
                        "PRAGMA secure_delete = ON",
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

    /// A connection of its own, outside the pool, for the database watch (`state::database`): its probe can then
    /// be abandoned mid-query on a server that stopped answering without leaving a pooled connection stuck, and
    /// a pool that is merely busy is not taken for a database that is gone.
    pub async fn probe_connection(&self) -> StoreResult<AnyConnection> {
        Ok(self.pool.connect_options().connect().await?)
    }

    /// One round trip on a probe connection.
    pub async fn probe(conn: &mut AnyConnection) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(conn).await?;
        Ok(())
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
    let file = std::path::Path::new(path);
    if let Some(dir) = file.parent() {
        if !dir.as_os_str().is_empty() && !dir.exists() {
            private_dir(dir).with_context(|| {
                format!("could not create the data directory {}", dir.display())
            })?;
        }
    }
    // Created here, readable by its owner only, before SQLite opens it (SQLite would create it by the umask, and
    // gives its -wal and -shm files the database file's permissions).
    if !file.exists() {
        private_file(file)
            .with_context(|| format!("could not create the database file {}", file.display()))?;
    }
    Ok(())
}

/// A directory only its owner can enter: it holds the database with customers' purchases and sealed keys.
#[cfg(unix)]
fn private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

#[cfg(unix)]
fn private_file(file: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(file)
        .map(drop)
}

#[cfg(not(unix))]
fn private_file(file: &std::path::Path) -> std::io::Result<()> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(file)
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_out_of_reach_is_told_from_a_query_it_refused() {
        let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert!(StoreError::from(sqlx::Error::Io(refused)).is_unavailable());
        assert!(StoreError::from(sqlx::Error::PoolTimedOut).is_unavailable());
        assert!(StoreError::from(sqlx::Error::PoolClosed).is_unavailable());
        // Wrapped in context, as services pass it on.
        let wrapped = anyhow::Error::new(StoreError::from(sqlx::Error::PoolTimedOut))
            .context("loading the page");
        assert!(unavailable(&wrapped));
        assert!(!StoreError::from(sqlx::Error::RowNotFound).is_unavailable());
        assert!(!StoreError::from(sqlx::Error::ColumnNotFound("x".into())).is_unavailable());
        assert!(!StoreError::Conflict("already exists".into()).is_unavailable());
        assert!(!unavailable(&anyhow::anyhow!("something else")));
    }
}
