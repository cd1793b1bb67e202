//! The command line: every setting is a flag and a `STOREDESK_*` variable; secrets also as `*_FILE`.
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::client_address::TrustedProxies;
use crate::config::{self, AppleSettings, ConfigError, DatabaseUrl, Settings};

#[derive(Parser, Debug)]
#[command(
    name = "storedesk",
    version,
    about = "Holds your Apple In-App Purchase key and puts it to work."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the console in production (configuration from the environment).
    // Boxed: its flags outweigh every other command's, and the enum is built once per run.
    Serve(Box<ServeArgs>),
    /// Everything on one machine with no setup: SQLite, the Apple simulator, a seeded project and an admin.
    Demo(DemoArgs),
    /// Check a deployment's configuration (the same variables as serve) and exit: the database reachable and
    /// migrated, the master key, the public URL, Apple reachable from here, the clock. Changes nothing.
    Check(Box<ServeArgs>),
    /// Run the database migrations and exit.
    Migrate(DbArgs),
    /// Manage user accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage API tokens for the JSON API.
    ApiToken {
        #[command(subcommand)]
        command: ApiTokenCommand,
    },
    /// Make or rotate the master key that encrypts stored private keys.
    MasterKey {
        #[command(subcommand)]
        command: MasterKeyCommand,
    },
    /// Run the local App Store Server API simulator.
    AppleSim(SimArgs),
    /// Internal: prepare the webhook load benchmark (project, simulator root, signed bodies); prints the URL token.
    #[command(hide = true)]
    BenchWebhookSetup(BenchWebhookArgs),
    /// Internal: add a forwarding destination to the benchmark's project (master key from STOREDESK_MASTER_KEY).
    #[command(hide = true)]
    BenchForwardSetup(BenchForwardArgs),
    /// Internal: a loopback receiver answering every request 200, for the forwarding benchmark.
    #[command(hide = true)]
    BenchForwardReceiver {
        #[arg(long)]
        bind: String,
    },
}

#[derive(Args, Debug, Clone)]
pub struct BenchForwardArgs {
    #[command(flatten)]
    pub db: DbArgs,
    #[command(flatten)]
    pub key: MasterKeyArgs,
    /// The destination's URL.
    #[arg(long)]
    pub url: String,
}

#[derive(Args, Debug, Clone)]
pub struct BenchWebhookArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// How many distinct signed notifications to write.
    #[arg(long, default_value_t = 1000)]
    pub count: usize,
    /// Where to write sim-root.pem and bodies.txt.
    #[arg(long)]
    pub out_dir: PathBuf,
}

#[derive(Args, Debug, Clone)]
pub struct DbArgs {
    /// sqlite://… or postgres://…; default: a SQLite file in the data directory.
    #[arg(long, env = "STOREDESK_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Where the SQLite file and demo files live.
    #[arg(long, env = "STOREDESK_DATA_DIR", default_value = "./storedesk-data")]
    pub data_dir: PathBuf,
}

impl DbArgs {
    pub fn database_url(&self, file_name: &str) -> Result<DatabaseUrl, ConfigError> {
        match self
            .database_url
            .as_deref()
            .filter(|s| !s.trim().is_empty())
        {
            Some(raw) => DatabaseUrl::parse(raw),
            None => Ok(DatabaseUrl::sqlite_file(&self.data_dir.join(file_name))),
        }
    }
}

/// The master key is read from the environment or a file only, never from a flag: a command line is visible to
/// every user of the machine (`ps`, /proc/*/cmdline). STOREDESK_MASTER_KEY (32 random bytes, base64;
/// `storedesk master-key generate` prints one), or STOREDESK_MASTER_KEY_FILE naming a file that holds it; older
/// keys accepted for reading while `master-key rotate` runs in STOREDESK_PREVIOUS_MASTER_KEYS (comma-separated).
#[derive(Args, Debug, Clone)]
pub struct MasterKeyArgs {
    /// A file holding the master key (or set STOREDESK_MASTER_KEY; there is no flag for the key itself).
    #[arg(long, env = "STOREDESK_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    #[command(flatten)]
    pub db: DbArgs,
    #[command(flatten)]
    pub key: MasterKeyArgs,
    /// Listen address.
    #[arg(long, env = "STOREDESK_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,
    /// The URL users and Apple reach; https makes cookies Secure. Default: http:// + bind.
    #[arg(long, env = "STOREDESK_PUBLIC_URL")]
    pub public_url: Option<String>,
    #[arg(long, env = "STOREDESK_APPLE_PRODUCTION_URL")]
    pub apple_production_url: Option<String>,
    #[arg(long, env = "STOREDESK_APPLE_SANDBOX_URL")]
    pub apple_sandbox_url: Option<String>,
    /// Base URL of the App Store Connect API (Step 1's key and the catalog).
    #[arg(long, env = "STOREDESK_APP_STORE_CONNECT_URL")]
    pub app_store_connect_url: Option<String>,
    /// Comma-separated paths of extra trusted root certificates (DER or PEM), for a simulator only.
    #[arg(long, env = "STOREDESK_APPLE_EXTRA_ROOTS")]
    pub apple_extra_roots: Option<String>,
    /// Calls per hour per endpoint to budget for in Production (Sandbox gets a tenth), instead of Apple's
    /// published limits; for when Apple gives an app a different limit.
    #[arg(long, env = "STOREDESK_APPLE_HOURLY_LIMIT")]
    pub apple_hourly_limit: Option<String>,
    /// How long a page or button waits for Apple at most, retries included (15s by default; 1s to 120s).
    #[arg(long, env = "STOREDESK_APPLE_ANSWER_WITHIN")]
    pub apple_answer_within: Option<String>,
    /// `true` checks the certificates of live notifications for revocation (OCSP) before storing them; `false`
    /// (the default) checks them offline only.
    #[arg(long, env = "STOREDESK_APPLE_ONLINE_CHECKS")]
    pub apple_online_checks: Option<String>,
    /// How long a backfill stays with its instance without a renewal before another instance resumes it (30s by
    /// default; 1s to 10m).
    #[arg(long, env = "STOREDESK_BACKFILL_LEASE")]
    pub backfill_lease: Option<String>,
    /// `json` for JSON log lines.
    #[arg(long, env = "STOREDESK_LOG_FORMAT", default_value = "pretty")]
    pub log_format: String,
    /// Minutes without activity after which a session ends.
    #[arg(long, env = "STOREDESK_SESSION_IDLE_MINUTES", default_value_t = 30)]
    pub session_idle_minutes: u64,
    /// Hours after sign-in after which a session ends regardless of activity.
    #[arg(long, env = "STOREDESK_SESSION_MAX_HOURS", default_value_t = 12)]
    pub session_max_hours: u64,
    /// Roles (admin, lead, support; separated by commas) that must use two-step sign-in: a user of such a role
    /// without it is sent to set it up before anything else opens.
    #[arg(long, env = "STOREDESK_REQUIRE_MFA")]
    pub require_mfa: Option<String>,
    /// Proxies (addresses or CIDR networks, separated by commas) whose X-Forwarded-For / Forwarded headers name
    /// the client; from any other peer those headers are ignored.
    #[arg(long, env = "STOREDESK_TRUSTED_PROXIES")]
    pub trusted_proxies: Option<String>,
    /// Serve /metrics on an address of its own (such as 127.0.0.1:9464), without a token: for a network only your
    /// monitoring reaches. The token itself comes only from STOREDESK_METRICS_TOKEN (a flag would show in `ps`).
    #[arg(long, env = "STOREDESK_METRICS_BIND")]
    pub metrics_bind: Option<String>,
    /// A file holding STOREDESK_METRICS_TOKEN, the bearer token that reads /metrics on the console's address.
    #[arg(long, env = "STOREDESK_METRICS_TOKEN_FILE")]
    pub metrics_token_file: Option<PathBuf>,
    /// Days to keep notifications (and their consumption answers); default forever.
    #[arg(long, env = "STOREDESK_KEEP_NOTIFICATIONS_DAYS")]
    pub keep_notifications_days: Option<String>,
    /// Days to keep forwarding deliveries that ended (delivered or dead); default forever.
    #[arg(long, env = "STOREDESK_KEEP_DELIVERIES_DAYS")]
    pub keep_deliveries_days: Option<String>,
    #[command(flatten)]
    pub alerts: AlertArgs,
    #[command(flatten)]
    pub forwarding: ForwardArgs,
}

/// Forwarding's delivery workers: how often an idle one looks for work, how many requests one destination gets
/// at once, and how long one attempt may take.
#[derive(Args, Debug, Clone)]
pub struct ForwardArgs {
    /// How often an idle delivery worker looks for due deliveries (250ms, 1s), or off (this instance forwards nothing).
    #[arg(long, env = "STOREDESK_FORWARD_INTERVAL")]
    pub forward_interval: Option<String>,
    /// Requests in flight to one destination from this instance (1 to 256; 8 by default).
    #[arg(long, env = "STOREDESK_FORWARD_CONCURRENCY")]
    pub forward_concurrency: Option<String>,
    /// How long one delivery attempt may take, from connecting to the answer's last byte (15s by default).
    #[arg(long, env = "STOREDESK_FORWARD_TIMEOUT")]
    pub forward_timeout: Option<String>,
}

impl ForwardArgs {
    pub fn settings(&self) -> Result<config::ForwardSettings, ConfigError> {
        config::forward_settings(
            self.forward_interval.as_deref(),
            self.forward_concurrency.as_deref(),
            self.forward_timeout.as_deref(),
        )
    }
}

/// Where alerts are sent from: the mail server and the sender; how often the alert job runs.
#[derive(Args, Debug, Clone)]
pub struct AlertArgs {
    /// smtp://user:password@host:587 (STARTTLS), smtps://…:465 (TLS) or smtp://host:25?tls=none.
    #[arg(long, env = "STOREDESK_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// A file holding STOREDESK_SMTP_URL (it carries the mail server's password).
    #[arg(long, env = "STOREDESK_SMTP_URL_FILE")]
    pub smtp_url_file: Option<PathBuf>,
    /// The sender of alert e-mails, such as `storedesk <alerts@example.com>`.
    #[arg(long, env = "STOREDESK_SMTP_FROM")]
    pub smtp_from: Option<String>,
    /// How often the alert job runs (60, 90s, 5m, 1h), or off.
    #[arg(long, env = "STOREDESK_ALERTS_INTERVAL")]
    pub alerts_interval: Option<String>,
}

impl AlertArgs {
    pub fn settings(&self) -> Result<config::AlertSettings, ConfigError> {
        let url = config::secret_from_env(
            "STOREDESK_SMTP_URL",
            "STOREDESK_SMTP_URL_FILE",
            self.smtp_url.clone().filter(|s| !s.trim().is_empty()),
            self.smtp_url_file.clone(),
        )?;
        config::alert_settings(
            url.as_ref(),
            self.smtp_from.as_deref(),
            self.alerts_interval.as_deref(),
        )
    }
}

#[derive(Args, Debug, Clone)]
pub struct DemoArgs {
    #[arg(long, env = "STOREDESK_DATA_DIR", default_value = "./storedesk-data")]
    pub data_dir: PathBuf,
    #[arg(long, env = "STOREDESK_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Add a user; prints a one-time password unless --password-stdin is given.
    Add {
        #[arg(long)]
        email: String,
        #[arg(long)]
        role: String,
        /// Read the password from standard input instead of generating one.
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Open sign-in again for a user whose sign-in is paused after failed attempts (also the last admin).
    Unlock {
        #[arg(long)]
        email: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Turn off a user's two-step sign-in (their authenticator and recovery codes) and end their sessions, for
    /// one who lost their phone and codes (also the last admin).
    ResetMfa {
        #[arg(long)]
        email: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Issue a new one-time password (printed once); the user must choose their own at sign-in. Ends their
    /// sessions and unlocks their sign-in.
    ResetPassword {
        #[arg(long)]
        email: String,
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Subcommand, Debug)]
pub enum ApiTokenCommand {
    /// Create a token for one project; prints it once (only its hash is stored).
    Add {
        /// The project's slug.
        #[arg(long)]
        project: String,
        /// `read` (look-ups) or `sign` (look-ups and promotional offer signatures).
        #[arg(long)]
        scope: String,
        /// Who uses the token, e.g. "billing backend".
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Subcommand, Debug)]
pub enum MasterKeyCommand {
    /// Print a new random master key (base64).
    Generate,
    /// Re-encrypt every stored key under a new master key (STOREDESK_NEW_MASTER_KEY).
    Rotate {
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        key: MasterKeyArgs,
        /// A file holding the new key (or set STOREDESK_NEW_MASTER_KEY; there is no flag for the key itself).
        #[arg(long, env = "STOREDESK_NEW_MASTER_KEY_FILE")]
        new_master_key_file: Option<PathBuf>,
    },
}

#[derive(Args, Debug, Clone)]
pub struct SimArgs {
    /// Listen address of the simulator.
    #[arg(long, env = "STOREDESK_SIM_BIND", default_value = "127.0.0.1:8090")]
    pub bind: String,
    /// Where to write the issued key and the simulator's root certificate.
    #[arg(long, env = "STOREDESK_DATA_DIR", default_value = "./storedesk-data")]
    pub data_dir: PathBuf,
}

impl MasterKeyArgs {
    pub fn load(&self) -> Result<Option<crate::crypto::MasterKey>, ConfigError> {
        let secret = config::secret_from_env(
            "STOREDESK_MASTER_KEY",
            "STOREDESK_MASTER_KEY_FILE",
            env_secret("STOREDESK_MASTER_KEY"),
            self.master_key_file.clone(),
        )?;
        secret.as_ref().map(config::parse_master_key).transpose()
    }

    /// STOREDESK_PREVIOUS_MASTER_KEYS, from the environment only.
    pub fn previous_master_keys(&self) -> Option<String> {
        env_secret("STOREDESK_PREVIOUS_MASTER_KEYS")
    }
}

/// A secret variable's value from the environment (never a flag); unset or empty is none.
fn env_secret(variable: &str) -> Option<String> {
    std::env::var(variable).ok().filter(|s| !s.is_empty())
}

pub const NO_MASTER_KEY: &str = "storedesk serve needs a master key to encrypt the private keys it stores. \
Make one with `storedesk master-key generate` and pass it as STOREDESK_MASTER_KEY (or a file path in STOREDESK_MASTER_KEY_FILE). \
Keep it safe: without it the stored keys cannot be read.";

impl ServeArgs {
    pub fn settings(&self) -> anyhow::Result<Settings> {
        let database_url = self.db.database_url("storedesk.db")?;
        let bind = config::parse_bind(&self.bind)?;
        let public_url = match self.public_url.as_deref().filter(|s| !s.trim().is_empty()) {
            Some(raw) => config::parse_public_url(raw)?,
            None => format!("http://{bind}"),
        };
        let master_key = self
            .key
            .load()?
            .ok_or_else(|| anyhow::anyhow!(NO_MASTER_KEY))?;
        let mut apple = AppleSettings::default();
        if let Some(url) = self
            .apple_production_url
            .as_deref()
            .filter(|s| !s.is_empty())
        {
            apple.production_url = config::parse_base_url("STOREDESK_APPLE_PRODUCTION_URL", url)?;
        }
        if let Some(url) = self.apple_sandbox_url.as_deref().filter(|s| !s.is_empty()) {
            apple.sandbox_url = config::parse_base_url("STOREDESK_APPLE_SANDBOX_URL", url)?;
        }
        if let Some(url) = self
            .app_store_connect_url
            .as_deref()
            .filter(|s| !s.is_empty())
        {
            apple.connect_url = config::parse_base_url("STOREDESK_APP_STORE_CONNECT_URL", url)?;
        }
        if let Some(roots) = self.apple_extra_roots.as_deref() {
            apple.extra_roots = config::load_extra_roots(roots)?;
        }
        config::check_extra_roots(&apple)?;
        if let Some(raw) = self.apple_hourly_limit.as_deref().filter(|s| !s.is_empty()) {
            apple.hourly_limit = Some(
                raw.trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| {
                        ConfigError::new(
                            "STOREDESK_APPLE_HOURLY_LIMIT",
                            "a whole number of calls per hour above 0",
                        )
                    })?,
            );
        }
        if let Some(within) = config::parse_duration_between(
            "STOREDESK_APPLE_ANSWER_WITHIN",
            self.apple_answer_within.as_deref(),
            Duration::from_secs(1),
            Duration::from_secs(120),
            "a time between 1s and 120s, such as 15s",
        )? {
            apple.answer_within = within;
        }
        apple.online_checks = match self.apple_online_checks.as_deref().map(str::trim) {
            None | Some("false") => false,
            Some("true") => true,
            Some(_) => {
                return Err(
                    ConfigError::new("STOREDESK_APPLE_ONLINE_CHECKS", "true or false").into(),
                )
            }
        };
        let lease = config::parse_duration_between(
            "STOREDESK_BACKFILL_LEASE",
            self.backfill_lease.as_deref(),
            Duration::from_secs(1),
            Duration::from_secs(600),
            "a time between 1s and 10m, such as 30s",
        )?
        .unwrap_or(config::BACKFILL_LEASE);
        if self.log_format != "json" && self.log_format != "pretty" {
            return Err(ConfigError::new("STOREDESK_LOG_FORMAT", "json or pretty").into());
        }
        if self.session_idle_minutes == 0 || self.session_max_hours == 0 {
            return Err(ConfigError::new(
                "STOREDESK_SESSION_IDLE_MINUTES",
                "a number of minutes above 0",
            )
            .into());
        }
        Ok(Settings {
            database_url,
            data_dir: self.db.data_dir.clone(),
            bind,
            public_url,
            master_key,
            previous_master_keys: config::parse_previous_master_keys(
                self.key.previous_master_keys().as_deref().unwrap_or(""),
            )?,
            apple,
            session_idle: Duration::from_secs(self.session_idle_minutes * 60),
            session_absolute: Duration::from_secs(self.session_max_hours * 3600),
            test_notification_grace: config::TEST_NOTIFICATION_GRACE,
            retention: config::Retention {
                notifications: config::parse_days(
                    "STOREDESK_KEEP_NOTIFICATIONS_DAYS",
                    self.keep_notifications_days.as_deref(),
                )?,
                deliveries: config::parse_days(
                    "STOREDESK_KEEP_DELIVERIES_DAYS",
                    self.keep_deliveries_days.as_deref(),
                )?,
            },
            trusted_proxies: TrustedProxies::parse(self.trusted_proxies.as_deref().unwrap_or(""))
                .map_err(|e| {
                ConfigError::new(
                    "STOREDESK_TRUSTED_PROXIES",
                    format!("IP addresses or CIDR networks separated by commas; {e}"),
                )
            })?,
            alerts: self.alerts.settings()?,
            forwarding: self.forwarding.settings()?,
            backfill: config::BackfillSettings {
                lease,
                take_over: true,
            },
            require_mfa: config::parse_roles(self.require_mfa.as_deref().unwrap_or("")).map_err(
                |e| {
                    ConfigError::new(
                        "STOREDESK_REQUIRE_MFA",
                        format!("roles (admin, lead, support) separated by commas; {e}"),
                    )
                },
            )?,
            metrics: config::MetricsSettings::new(
                config::secret_from_env(
                    "STOREDESK_METRICS_TOKEN",
                    "STOREDESK_METRICS_TOKEN_FILE",
                    env_secret("STOREDESK_METRICS_TOKEN"),
                    self.metrics_token_file.clone(),
                )?
                .as_ref(),
                self.metrics_bind.as_deref(),
            )?,
        })
    }
}
