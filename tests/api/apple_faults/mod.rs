//! Apple's faults that a whole request path must survive: an Apple that stays silent (every page and button still
//! answers within its bound, with a sentence), and a backfill whose instance dies (another instance finishes it).
use std::process::{Child, Command, Stdio};

use secrecy::ExposeSecret as _;

use crate::helpers::{free_port, wait_ready, Ready, Session};

mod apple_silent;
mod backfill_takeover;

/// A `storedesk serve` process on the test app's database, with its master key, wired to its simulator; killed
/// when dropped.
pub struct Instance {
    child: Child,
    pub address: String,
    _dir: tempfile::TempDir,
}

impl Instance {
    /// Starts the real binary with `env` on top of what it needs, and waits until it is ready.
    pub async fn start(r: &Ready, env: &[(&str, &str)]) -> Instance {
        let dir = tempfile::tempdir().unwrap();
        let roots = dir.path().join("simulator-root.der");
        std::fs::write(&roots, r.sim.root_ca_der()).unwrap();
        let port = free_port();
        let key = r.app.settings.master_key.to_base64_secret();
        let mut command = Command::new(env!("CARGO_BIN_EXE_storedesk"));
        command
            .arg("serve")
            .env_clear()
            .env(
                "STOREDESK_DATABASE_URL",
                r.app.settings.database_url.as_str(),
            )
            .env("STOREDESK_DATA_DIR", dir.path())
            .env("STOREDESK_MASTER_KEY", key.expose_secret())
            .env("STOREDESK_BIND", format!("127.0.0.1:{port}"))
            .env("STOREDESK_APPLE_PRODUCTION_URL", r.sim.production_url())
            .env("STOREDESK_APPLE_SANDBOX_URL", r.sim.sandbox_url())
            .env("STOREDESK_APPLE_EXTRA_ROOTS", &roots)
            // Only what the test is about runs: no gap check, alerts or forwarding asking Apple or the database.
            .env("STOREDESK_GAP_CHECK_INTERVAL", "off")
            .env("STOREDESK_ALERTS_INTERVAL", "off")
            .env("STOREDESK_FORWARD_INTERVAL", "off")
            .env("STOREDESK_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (name, value) in env {
            command.env(name, value);
        }
        let child = command.spawn().unwrap();
        let address = format!("http://127.0.0.1:{port}");
        wait_ready(&address).await;
        Instance {
            child,
            address,
            _dir: dir,
        }
    }

    /// The test's admin, signed in: sessions live in the shared database, and the cookie jar sends the cookie to
    /// every port of 127.0.0.1.
    pub fn admin(&self, r: &Ready) -> Session {
        Session {
            client: r.admin.client.clone(),
            base: self.address.clone(),
            email: r.admin.email.clone(),
        }
    }

    /// SIGKILL: the process stops at once, mid-work, as a crashed machine would.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
