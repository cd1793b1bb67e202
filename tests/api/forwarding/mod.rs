//! Forwarding's delivery engine, black-box: notifications arrive through the real webhook (or the store's writer),
//! the workers run (`forwarding::run_once` with the test's clock, or the real `storedesk serve`), and a publisher's
//! backend on loopback — Python with the Standard Webhooks reference library — checks every body and signature.
//! Without Python and `standardwebhooks` these tests say "skipped" and pass, unless `STOREDESK_REQUIRE_PYTHON=1`.
use std::sync::{Arc, Mutex};
use std::time::Duration;

use secrecy::{ExposeSecret as _, SecretString};
use serde_json::Value;

use storedesk::store::forwarding::DestinationSettings;
use storedesk::store::{Actor, Store};

use crate::helpers::python_helper;

mod delivery;
mod enqueue;
mod instances;

/// A destination for `url` getting every type of both environments, enabled unless `enabled` is false; returns
/// its id and its secret.
pub async fn add_destination(
    store: &Store,
    keyring: &storedesk::crypto::Keyring,
    project_id: i64,
    url: &str,
    enabled: bool,
) -> (i64, String) {
    add_destination_with(
        store,
        keyring,
        project_id,
        DestinationSettings {
            name: "backend".into(),
            url: url.into(),
            production: true,
            sandbox: true,
            types: Vec::new(),
            enabled,
        },
    )
    .await
}

pub async fn add_destination_with(
    store: &Store,
    keyring: &storedesk::crypto::Keyring,
    project_id: i64,
    settings: DestinationSettings,
) -> (i64, String) {
    let secret = storedesk::forwarding::secret::generate();
    let seal = |id: i64| storedesk::keys::seal_forward_secret(keyring, project_id, id, &secret);
    let id = store
        .add_forward_destination(project_id, &settings, &seal, &Actor::system("test"))
        .await
        .unwrap();
    (id, secret.expose_secret().to_owned())
}

/// Rotates a destination's secret (the previous one signs for 24 hours more); returns the new one.
pub async fn rotate(
    store: &Store,
    keyring: &storedesk::crypto::Keyring,
    project_id: i64,
    id: i64,
) -> String {
    let secret: SecretString = storedesk::forwarding::secret::generate();
    let seal = |id: i64| storedesk::keys::seal_forward_secret(keyring, project_id, id, &secret);
    store
        .rotate_forward_secret(
            project_id,
            id,
            &seal,
            storedesk::clock::now_ms() + storedesk::forwarding::secret::ROTATION_OVERLAP_MS,
            &Actor::system("test"),
        )
        .await
        .unwrap();
    secret.expose_secret().to_owned()
}

/// `tests/python/forward_receiver.py`, run for one test; it ends when dropped.
pub struct PyReceiver {
    pub port: u16,
    lines: Arc<Mutex<Vec<Value>>>,
    _child: tokio::process::Child,
}

fn python_missing(why: &str) -> Option<PyReceiver> {
    let required = |v: &str| std::env::var(v).as_deref() == Ok("1");
    if required("STOREDESK_REQUIRE_PYTHON") || required("STOREDESK_REQUIRE_SMTP") {
        panic!("Python with standardwebhooks is required (STOREDESK_REQUIRE_PYTHON=1) but {why}");
    }
    eprintln!("skipped: {why}; .ci/run provides it (STOREDESK_TEST_PYTHON, a venv with standardwebhooks); set STOREDESK_REQUIRE_PYTHON=1 to make this a failure");
    None
}

impl PyReceiver {
    /// The receiver with `args` (see the script), or None (with a skip notice) when Python is not available.
    pub async fn start(args: &[&str]) -> Option<PyReceiver> {
        let Ok(python) = std::env::var("STOREDESK_TEST_PYTHON") else {
            return python_missing("STOREDESK_TEST_PYTHON is not set");
        };
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/python/forward_receiver.py"
        );
        let mut command = tokio::process::Command::new(&python);
        command.arg(script).args(args);
        let (port, got, child) = match python_helper(command, "standardwebhooks").await {
            Ok(started) => started,
            Err(why) => return python_missing(&why),
        };
        Some(PyReceiver {
            port,
            lines: got,
            _child: child,
        })
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/apple/notifications", self.port)
    }

    /// The requests so far, after giving the receiver's output a moment to arrive when fewer than `at_least`.
    pub async fn requests(&self, at_least: usize) -> Vec<Value> {
        for _ in 0..100 {
            if self.lines.lock().unwrap().len() >= at_least {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.lines.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.lines.lock().unwrap().len()
    }

    /// Waits up to `limit` for requests answered 200 carrying `n` distinct webhook-ids; returns that count.
    pub async fn wait_for_delivered(&self, n: usize, limit: Duration) -> usize {
        let deadline = std::time::Instant::now() + limit;
        loop {
            let got = self.delivered_ids().len();
            if got >= n || std::time::Instant::now() > deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The webhook-ids of the requests answered 200.
    pub fn delivered_ids(&self) -> std::collections::HashSet<String> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l["answered"] == "200")
            .filter_map(|l| l["id"].as_str().map(str::to_owned))
            .collect()
    }
}

/// `msg_` and the UUID without dashes, as a receiver sees it.
pub fn webhook_id(uuid: &str) -> String {
    format!("msg_{}", uuid.replace('-', ""))
}
