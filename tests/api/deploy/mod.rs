//! The deployment in `docs/deploy/`, run for real: the `storedesk` binary as `serve` (two instances on one
//! PostgreSQL database), Caddy and nginx configured with the documented files, the systemd unit checked by
//! `systemd-analyze`, and backups taken and restored as `docs/deploy/backup.md` says. The tools come from Debian's
//! packages; without one a test says "skipped", and under `STOREDESK_REQUIRE_PROXY=1` (as CI runs) it fails.
mod backup;
mod caddy;
mod nginx;
mod systemd;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use secrecy::ExposeSecret as _;
use storedesk::apple_sim::{SimConfig, SimHandle};
use storedesk::crypto::MasterKey;

/// The name the tests give the console; the client resolves it to 127.0.0.1 itself.
pub const DOMAIN: &str = "storedesk.test";
/// The client's own address, so that the proxy's (127.0.0.1) and the client's differ.
pub const CLIENT_IP: &str = "127.0.0.2";
pub const ADMIN: &str = "admin@example.com";
pub const ADMIN_PASSWORD: &str = "a long deployment password";

/// Whether `tool` runs here; when not, says why the test is skipped, or fails under `STOREDESK_REQUIRE_PROXY=1`.
pub fn have(tool: &str, version_arg: &str, package: &str) -> bool {
    let found = std::process::Command::new(tool)
        .arg(version_arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        if std::env::var("STOREDESK_REQUIRE_PROXY").as_deref() == Ok("1") {
            panic!("`{tool}` is required (STOREDESK_REQUIRE_PROXY=1) but is not on the PATH; install Debian's `{package}` package");
        }
        eprintln!("skipped: `{tool}` is not on the PATH (Debian package `{package}`); set STOREDESK_REQUIRE_PROXY=1 to make this a failure");
    }
    found
}

/// A port free a moment ago, for a child process that cannot be handed a listener (storedesk's own tests bind
/// port 0 instead).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// What every instance of one deployment shares: the database, the master key (in a file, as systemd hands it
/// over), the Apple simulator and its root, and the public URL.
pub struct Deployment {
    /// Empty: the default, the SQLite file `storedesk.db` in the data directory (see [`Deployment::sqlite_file`]).
    pub database_url: String,
    pub public_url: String,
    pub sim: SimHandle,
    pub dir: tempfile::TempDir,
    master_key_file: PathBuf,
    sim_root: PathBuf,
}

impl Deployment {
    pub async fn new(database_url: String, public_url: String) -> Deployment {
        let dir = tempfile::tempdir().unwrap();
        let sim = storedesk::apple_sim::spawn(SimConfig::default())
            .await
            .unwrap();
        let sim_root = dir.path().join("sim-root.pem");
        std::fs::write(&sim_root, sim.root_ca_pem()).unwrap();
        let master_key_file = dir.path().join("master-key");
        std::fs::write(
            &master_key_file,
            MasterKey::generate().to_base64_secret().expose_secret(),
        )
        .unwrap();
        Deployment {
            database_url,
            public_url,
            sim,
            dir,
            master_key_file,
            sim_root,
        }
    }

    pub fn sqlite_file(&self) -> PathBuf {
        self.dir.path().join("storedesk.db")
    }

    /// The database as the test opens it.
    pub async fn store(&self) -> storedesk::store::Store {
        let url = if self.database_url.is_empty() {
            storedesk::config::DatabaseUrl::sqlite_file(&self.sqlite_file())
        } else {
            storedesk::config::DatabaseUrl::parse(&self.database_url).unwrap()
        };
        storedesk::store::Store::connect(&url).await.unwrap()
    }

    /// The database's URL as the test reaches it.
    pub fn url(&self) -> String {
        if self.database_url.is_empty() {
            format!("sqlite://{}", self.sqlite_file().display())
        } else {
            self.database_url.clone()
        }
    }

    pub fn master_key_file(&self) -> &Path {
        &self.master_key_file
    }

    /// The `storedesk` binary with this deployment's configuration and nothing else from the test's environment.
    pub fn storedesk(&self, args: &[&str]) -> tokio::process::Command {
        let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_storedesk"));
        c.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("STOREDESK_DATA_DIR", self.dir.path())
            .env("STOREDESK_MASTER_KEY_FILE", &self.master_key_file)
            .env("STOREDESK_PUBLIC_URL", &self.public_url)
            .env("STOREDESK_APPLE_PRODUCTION_URL", self.sim.production_url())
            .env("STOREDESK_APPLE_SANDBOX_URL", self.sim.sandbox_url())
            .env("STOREDESK_APPLE_EXTRA_ROOTS", &self.sim_root)
            .env("STOREDESK_TRUSTED_PROXIES", "127.0.0.1")
            .env("STOREDESK_METRICS_TOKEN", crate::helpers::METRICS_TOKEN)
            .kill_on_drop(true);
        if !self.database_url.is_empty() {
            c.env("STOREDESK_DATABASE_URL", &self.database_url);
        }
        c
    }

    /// Runs a one-off command to its end; its output (stdout then stderr) and whether it succeeded.
    pub async fn run(&self, args: &[&str], stdin: &str) -> (bool, String) {
        run_with(self.storedesk(args), stdin).await
    }

    /// `storedesk user add` for the admin, with the password on stdin, as an operator makes the first admin.
    pub async fn add_admin(&self) {
        let (ok, out) = self
            .run(
                &[
                    "user",
                    "add",
                    "--email",
                    ADMIN,
                    "--role",
                    "admin",
                    "--password-stdin",
                ],
                ADMIN_PASSWORD,
            )
            .await;
        assert!(ok, "user add: {out}");
    }

    /// `storedesk serve` on a port of its own, once its /readyz answers 200.
    pub async fn serve(&self, name: &str) -> Instance {
        let port = free_port();
        let log = self.dir.path().join(format!("{name}.log"));
        let file = std::fs::File::create(&log).unwrap();
        let child = self
            .storedesk(&["serve"])
            .env("STOREDESK_BIND", format!("127.0.0.1:{port}"))
            .env("STOREDESK_LOG_FORMAT", "json")
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap();
        let mut instance = Instance { child, port, log };
        instance.wait_ready().await;
        instance
    }
}

/// The client address of every session, as the sign-in recorded it.
pub async fn session_ips(d: &Deployment) -> Vec<String> {
    d.store().await; // installs sqlx's drivers
    let pool = sqlx::AnyPool::connect(&d.url()).await.unwrap();
    sqlx::query_scalar("SELECT ip FROM sessions")
        .fetch_all(&pool)
        .await
        .unwrap()
}

/// Runs `command` with `stdin` written to it; whether it succeeded and what it printed.
pub async fn run_with(mut command: tokio::process::Command, stdin: &str) -> (bool, String) {
    use tokio::io::AsyncWriteExt as _;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).await.unwrap();
    drop(input);
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("the command ended within 60 s")
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// One `storedesk serve` process, killed when dropped.
pub struct Instance {
    pub child: tokio::process::Child,
    pub port: u16,
    pub log: PathBuf,
}

impl Instance {
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    async fn wait_ready(&mut self) {
        let plain = reqwest::Client::new();
        for _ in 0..300 {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("storedesk serve ended ({status}):\n{}", read(&self.log));
            }
            if let Ok(r) = plain.get(self.url("/readyz")).send().await {
                if r.status().is_success() {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "storedesk serve was not ready within 30 s:\n{}",
            read(&self.log)
        );
    }

    /// `kill -9`, and waits until it is gone.
    pub async fn kill(&mut self) {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
    }

    /// A counter from this instance's /metrics (0 when it has not counted anything yet).
    pub async fn counter(&self, series: &str) -> u64 {
        let text = crate::helpers::read_metrics(&self.url("")).await;
        metric(&text, series)
    }
}

/// The value of `series` (a name with its labels, as printed) in Prometheus text, 0 when absent.
pub fn metric(text: &str, series: &str) -> u64 {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(series)?
                .strip_prefix(' ')?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// A browser at [`CLIENT_IP`] that reaches `DOMAIN:port` at 127.0.0.1 and trusts only `root_pem` (the proxy's
/// authority), with cookies, sending the Origin a browser sends from the console's pages.
pub fn browser(port: u16, root_pem: &[u8]) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::ORIGIN,
        format!("https://{DOMAIN}:{port}").parse().unwrap(),
    );
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(root_pem).unwrap())
        .resolve(DOMAIN, ([127, 0, 0, 1], port).into())
        .local_address(CLIENT_IP.parse::<std::net::IpAddr>().unwrap())
        .default_headers(headers)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// Signs in as the admin through `base` and returns the session and its `Set-Cookie` line, asserting what a deployment behind TLS must
/// show: a 303 to the console, HSTS, and a session cookie that is Secure, HttpOnly and SameSite=Lax.
pub async fn sign_in(client: &reqwest::Client, base: &str) -> (crate::helpers::Session, String) {
    let page = client.get(format!("{base}/login")).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert_eq!(
        page.headers()
            .get("strict-transport-security")
            .and_then(|v| v.to_str().ok()),
        Some("max-age=31536000"),
        "HSTS on every page behind https"
    );
    let csrf = crate::helpers::csrf_from(&page.text().await.unwrap());
    let response = client
        .post(format!("{base}/login"))
        .form(&[
            ("email", ADMIN),
            ("password", ADMIN_PASSWORD),
            ("csrf_token", &csrf),
            ("next", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 303, "signed in");
    let cookie = session_cookie(&response);
    let attributes: Vec<String> = cookie
        .split(';')
        .skip(1)
        .map(|a| a.trim().to_ascii_lowercase())
        .collect();
    for wanted in ["secure", "httponly", "samesite=lax"] {
        assert!(
            attributes.iter().any(|a| a == wanted),
            "the session cookie is {wanted}: {attributes:?}"
        );
    }
    let session = crate::helpers::Session {
        client: client.clone(),
        base: base.to_owned(),
        email: ADMIN.to_owned(),
    };
    (session, cookie)
}

/// The `Set-Cookie` line of the session cookie.
pub fn session_cookie(response: &reqwest::Response) -> String {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        // Under https the session cookie carries the `__Host-` prefix (tests/api/security/cookies.rs).
        .find(|v| v.starts_with("__Host-storedesk_session="))
        .expect("a session cookie")
        .to_owned()
}

/// The same session, sent straight to one instance over plain http: a cookie store would keep a `Secure` cookie
/// off plain http, so the cookie goes in a header, as the proxy would pass it on.
pub fn direct_session(instance: &Instance, set_cookie: &str) -> crate::helpers::Session {
    let pair = set_cookie.split(';').next().unwrap().to_owned();
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::COOKIE, pair.parse().unwrap());
    crate::helpers::Session {
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .default_headers(headers)
            .build()
            .unwrap(),
        base: format!("http://127.0.0.1:{}", instance.port),
        email: ADMIN.to_owned(),
    }
}

/// A renewal of the simulator's active subscription, signed as Apple would, and its notificationUUID.
pub fn notification(sim: &SimHandle, i: usize) -> (String, String) {
    use storedesk::apple_sim::{NotificationSpec, SimEnvironment};
    let seed = sim.seed();
    let env = if i % 2 == 0 {
        SimEnvironment::Production
    } else {
        SimEnvironment::Sandbox
    };
    let jws = sim
        .sign_notification(
            env,
            NotificationSpec::new("DID_RENEW").transaction(&seed.active_monthly.transaction_id),
        )
        .unwrap();
    let uuid = crate::apple::notifications::payload_of(&jws)["notificationUUID"]
        .as_str()
        .unwrap()
        .to_owned();
    (crate::apple::notifications::body(&jws), uuid)
}

/// POSTs one notification body; the status (0 when no answer came at all).
pub async fn deliver(client: &reqwest::Client, url: &str, body: String) -> u16 {
    match client
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
    {
        Ok(r) => r.status().as_u16(),
        Err(_) => 0,
    }
}

/// Creates the project `demo` for the simulator's app through `admin`, as a person would.
pub async fn create_project(admin: &crate::helpers::Session, sim: &SimHandle) {
    let seed = sim.seed();
    let r = admin
        .post_form(
            "/projects/new",
            "/projects",
            &[
                ("name", "Demo"),
                ("slug", "demo"),
                ("bundle_id", &seed.bundle_id),
                ("app_apple_id", &seed.app_apple_id.to_string()),
                ("environment", "Production"),
            ],
        )
        .await;
    assert_eq!(r.status().as_u16(), 303, "project created");
}
