//! What the notification webhook needs besides the store: threads to verify on, the group-commit writer, and a
//! short-lived cache of the projects behind notification URLs.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::apple::verify::ocsp::{OnlineChecker, DEADLINE as ONLINE_CHECK_DEADLINE};
use crate::cpu_pool::CpuPool;
use crate::store::notification_writer::NotificationWriter;
use crate::store::{Project, Store, StoreResult};

/// Verifications waiting for a thread before new ones are answered "busy" (Apple retries those).
const VERIFY_QUEUE: usize = 4096;

/// How long the project behind a notification URL is remembered. Apple delivers in bursts; without this every
/// notification would cost a database round trip before its verification could start. Regenerating the URL
/// forgets it at once in this process; other instances sharing the database may accept the old URL for this
/// long, which is harmless: the token only routes, the signature is what proves a notification is Apple's.
const PROJECT_CACHE_TTL: Duration = Duration::from_secs(2);
const PROJECT_CACHE_MAX: usize = 1024;

#[derive(Debug)]
pub struct Intake {
    pool: CpuPool,
    writer: NotificationWriter,
    projects: Mutex<HashMap<String, (Arc<Project>, Instant)>>,
    /// Online (OCSP) checks of live notifications' chains, with their cache; used only when the setting is on.
    online: OnlineChecker,
}

impl Intake {
    /// Starts the verification threads and the writer task (on the current tokio runtime).
    pub fn start(store: &Store) -> std::io::Result<Self> {
        Ok(Intake {
            pool: CpuPool::per_core("verify", VERIFY_QUEUE)?,
            writer: NotificationWriter::spawn(store.clone()),
            projects: Mutex::new(HashMap::new()),
            online: OnlineChecker::new(ONLINE_CHECK_DEADLINE).map_err(std::io::Error::other)?,
        })
    }

    /// The online (OCSP) checker of live notifications.
    pub fn online(&self) -> &OnlineChecker {
        &self.online
    }

    pub fn writer(&self) -> &NotificationWriter {
        &self.writer
    }

    /// The threads notifications are verified on.
    pub fn pool(&self) -> &CpuPool {
        &self.pool
    }

    /// Drops what is remembered about a project's URL, e.g. right after it was regenerated.
    pub fn forget_project(&self, project_id: i64) {
        self.lock_projects().retain(|_, (p, _)| p.id != project_id);
    }

    fn lock_projects(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Arc<Project>, Instant)>> {
        self.projects.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The project whose notification URL holds `token`, remembered for a moment.
    pub async fn project(&self, store: &Store, token: &str) -> StoreResult<Option<Arc<Project>>> {
        if let Some((project, at)) = self.lock_projects().get(token) {
            if at.elapsed() < PROJECT_CACHE_TTL {
                return Ok(Some(project.clone()));
            }
        }
        let Some(project) = store.project_by_notification_token(token).await? else {
            return Ok(None);
        };
        let project = Arc::new(project);
        let mut cache = self.lock_projects();
        if cache.len() >= PROJECT_CACHE_MAX {
            cache.clear();
        }
        cache.insert(token.to_owned(), (project.clone(), Instant::now()));
        Ok(Some(project))
    }
}
