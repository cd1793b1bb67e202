//! Settings from `STOREDESK_*` environment variables (each also a flag), checked before anything starts.
use std::{net::SocketAddr, path::PathBuf, time::Duration};

use secrecy::SecretString;

use crate::crypto::MasterKey;

mod alerts;
mod forwarding;
mod metrics;
mod retention;

pub use alerts::{alert_settings, parse_smtp_url, AlertSettings, SmtpSettings, SmtpTls};
pub use forwarding::{forward_settings, ForwardSettings};
pub use metrics::{MetricsSettings, MIN_TOKEN_CHARS as MIN_METRICS_TOKEN_CHARS};
pub use retention::{parse_days, Retention};

/// Where the data lives: the URL scheme picks the backend.
#[derive(Clone)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn parse(raw: &str) -> Result<Self, ConfigError> {
        let raw = raw.trim();
        if raw.starts_with("sqlite:") {
            Ok(Self(with_create_mode(raw)))
        } else if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            Ok(Self(raw.to_string()))
        } else {
            Err(ConfigError::new(
                "STOREDESK_DATABASE_URL",
                "a URL that starts with sqlite:// (for example sqlite://./storedesk-data/storedesk.db) or postgres://",
            ))
        }
    }

    pub fn sqlite_file(path: &std::path::Path) -> Self {
        Self(format!("sqlite://{}?mode=rwc", path.display()))
    }

    pub fn is_postgres(&self) -> bool {
        self.0.starts_with("postgres")
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The URL with any password replaced, for logs and messages.
    pub fn redacted(&self) -> String {
        match (self.0.find("://"), self.0.rfind('@')) {
            (Some(scheme), Some(at)) if at > scheme => {
                let userinfo = &self.0[scheme + 3..at];
                let user = userinfo.split(':').next().unwrap_or("");
                format!("{}://{}:***@{}", &self.0[..scheme], user, &self.0[at + 1..])
            }
            _ => self.0.clone(),
        }
    }
}

/// A SQLite file named without `mode=` is created when it does not exist yet, as people expect of a database
/// storedesk manages (SQLite's own default, `rw`, fails with "unable to open database file"). A `mode=` given is
/// kept, so `?mode=ro` or `?mode=rw` still mean what they say; an in-memory database needs none.
fn with_create_mode(raw: &str) -> String {
    let has_mode = raw
        .split_once('?')
        .is_some_and(|(_, query)| query.split('&').any(|p| p.starts_with("mode=")));
    if has_mode || raw.contains(":memory:") {
        raw.to_owned()
    } else if raw.contains('?') {
        format!("{raw}&mode=rwc")
    } else {
        format!("{raw}?mode=rwc")
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{variable} is set but wrong: it should be {expected}.")]
pub struct ConfigError {
    pub variable: &'static str,
    pub expected: String,
}

impl ConfigError {
    pub fn new(variable: &'static str, expected: impl Into<String>) -> Self {
        Self {
            variable,
            expected: expected.into(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct AppleSettings {
    pub production_url: String,
    pub sandbox_url: String,
    /// The App Store Connect API (`STOREDESK_APP_STORE_CONNECT_URL`): Step 1's key and the catalog.
    pub connect_url: String,
    /// Extra trusted roots (DER), for a simulator only; never set by default.
    pub extra_roots: Vec<Vec<u8>>,
    pub timeout: Duration,
    /// Calls per hour per endpoint to budget for in Production instead of Apple's published limits.
    pub hourly_limit: Option<u64>,
    /// How long a page or button waits for Apple at most, retries included (`STOREDESK_APPLE_ANSWER_WITHIN`).
    pub answer_within: Duration,
    /// Check live notifications' certificates for revocation with OCSP (`STOREDESK_APPLE_ONLINE_CHECKS`).
    pub online_checks: bool,
}

impl Default for AppleSettings {
    fn default() -> Self {
        Self {
            production_url: "https://api.storekit.apple.com".into(),
            sandbox_url: "https://api.storekit-sandbox.apple.com".into(),
            connect_url: crate::apple::connect::DEFAULT_CONNECT_URL.into(),
            extra_roots: Vec::new(),
            timeout: Duration::from_secs(30),
            hourly_limit: None,
            answer_within: crate::apple::DEFAULT_ANSWER_WITHIN,
            online_checks: false,
        }
    }
}

/// Everything the server needs; `Application::build` takes nothing else.
#[derive(Clone)]
pub struct Settings {
    pub database_url: DatabaseUrl,
    pub data_dir: PathBuf,
    pub bind: SocketAddr,
    pub public_url: String,
    pub master_key: MasterKey,
    /// Older master keys still accepted for opening rows while `master-key rotate` runs.
    pub previous_master_keys: Vec<MasterKey>,
    pub apple: AppleSettings,
    pub session_idle: Duration,
    pub session_absolute: Duration,
    /// How long a TEST notification Apple reports delivered may take to arrive before Step 4 says it went to
    /// another URL ([`TEST_NOTIFICATION_GRACE`]; tests shorten it instead of waiting).
    pub test_notification_grace: Duration,
    pub alerts: AlertSettings,
    /// How long notifications and forwarding deliveries are kept (forever by default).
    pub retention: Retention,
    /// Proxies whose forwarding headers name the client (`STOREDESK_TRUSTED_PROXIES`).
    pub trusted_proxies: crate::client_address::TrustedProxies,
    /// The delivery workers of forwarding (issue 18).
    pub forwarding: ForwardSettings,
    /// Backfills left by an instance that stopped: how long a lease lasts, and whether this instance resumes them.
    pub backfill: BackfillSettings,
    /// Roles that must use two-step sign-in (`STOREDESK_REQUIRE_MFA`).
    pub require_mfa: Vec<crate::domain::Role>,
    /// Who may read `/metrics`: a bearer of `STOREDESK_METRICS_TOKEN`, or anyone at `STOREDESK_METRICS_BIND`.
    pub metrics: MetricsSettings,
}

/// Half a minute: a backfill's holder renews its lease every third of it, and another instance resumes the job
/// within about this long after its instance stopped.
pub const BACKFILL_LEASE: Duration = Duration::from_secs(30);

#[derive(Clone, Debug)]
pub struct BackfillSettings {
    /// How long a backfill stays with the instance running it without a renewal (`STOREDESK_BACKFILL_LEASE`).
    pub lease: Duration,
    /// Whether this instance looks for backfills whose instance stopped and resumes them (every instance does;
    /// the black-box tests turn it off in the app they run in-process, so only the processes they start do).
    pub take_over: bool,
}

impl Default for BackfillSettings {
    fn default() -> Self {
        Self {
            lease: BACKFILL_LEASE,
            take_over: true,
        }
    }
}

/// A duration variable (`250ms`, `2s`, `1m`, or seconds) between `min` and `max`; empty or absent is `None`.
pub fn parse_duration_between(
    variable: &'static str,
    raw: Option<&str>,
    min: Duration,
    max: Duration,
    expected: &str,
) -> Result<Option<Duration>, ConfigError> {
    let Some(raw) = raw.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    forwarding::parse_duration(&raw.to_ascii_lowercase())
        .filter(|d| *d >= min && *d <= max)
        .map(Some)
        .ok_or_else(|| ConfigError::new(variable, expected))
}

/// A comma-separated list of role names (empty: none); the error names the first word that is no role.
pub fn parse_roles(text: &str) -> Result<Vec<crate::domain::Role>, String> {
    let mut roles = Vec::new();
    for word in text.split(',').map(str::trim).filter(|w| !w.is_empty()) {
        let role = crate::domain::Role::parse(&word.to_ascii_lowercase())
            .map_err(|_| format!("\"{word}\" is not a role"))?;
        if !roles.contains(&role) {
            roles.push(role);
        }
    }
    Ok(roles)
}

/// A minute: Apple reports a delivery only after the receiver answered, and storedesk answers only after its
/// commit, so a notification delivered here is on record before Apple says so; the minute covers clocks that differ.
pub const TEST_NOTIFICATION_GRACE: Duration = Duration::from_secs(60);

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("database_url", &self.database_url)
            .field("data_dir", &self.data_dir)
            .field("bind", &self.bind)
            .field("public_url", &self.public_url)
            .field("master_key", &"[redacted]")
            .field("apple", &self.apple)
            .field("alerts", &self.alerts)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("forwarding", &self.forwarding)
            .field("backfill", &self.backfill)
            .field("require_mfa", &self.require_mfa)
            .field("metrics", &self.metrics)
            .finish()
    }
}

impl Settings {
    pub fn keyring(&self) -> crate::crypto::Keyring {
        crate::crypto::Keyring::new(self.master_key.clone(), self.previous_master_keys.clone())
    }

    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    /// The public URL's origin (`scheme://host[:port]`), for the CSRF origin check.
    pub fn public_origin(&self) -> String {
        origin_of(&self.public_url).unwrap_or_default()
    }
}

pub fn origin_of(url: &str) -> Option<String> {
    let scheme_end = url.find("://")?;
    let rest = &url[scheme_end + 3..];
    let host_end = rest.find('/').unwrap_or(rest.len());
    Some(format!("{}{}", &url[..scheme_end + 3], &rest[..host_end]).to_ascii_lowercase())
}

pub fn parse_bind(raw: &str) -> Result<SocketAddr, ConfigError> {
    raw.trim().parse().map_err(|_| {
        ConfigError::new(
            "STOREDESK_BIND",
            "an address and port such as 127.0.0.1:8080 or 0.0.0.0:8080",
        )
    })
}

pub fn parse_public_url(raw: &str) -> Result<String, ConfigError> {
    let raw = raw.trim().trim_end_matches('/');
    let ok = (raw.starts_with("http://") || raw.starts_with("https://"))
        && origin_of(raw).is_some_and(|o| o.len() > "https://".len());
    if ok {
        Ok(raw.to_string())
    } else {
        Err(ConfigError::new(
            "STOREDESK_PUBLIC_URL",
            "the http:// or https:// URL that users and Apple reach, such as https://storedesk.example.com",
        ))
    }
}

/// An App Store Server API base URL: https://, or http:// only to a loopback address (a simulator on this machine),
/// so a key's tokens and customers' purchases never cross a network in clear.
pub fn parse_base_url(variable: &'static str, raw: &str) -> Result<String, ConfigError> {
    let raw = raw.trim().trim_end_matches('/');
    let Ok(url) = reqwest::Url::parse(raw) else {
        return Err(ConfigError::new(
            variable,
            "an https:// base URL of the App Store Server API",
        ));
    };
    match url.scheme() {
        "https" if url.host().is_some() => Ok(raw.to_string()),
        "http" if is_loopback_url(&url) => Ok(raw.to_string()),
        "http" => Err(ConfigError::new(
            variable,
            "an https:// URL (http:// is accepted only for a simulator on this machine, at a loopback address such as 127.0.0.1)",
        )),
        _ => Err(ConfigError::new(
            variable,
            "an https:// base URL of the App Store Server API",
        )),
    }
}

/// True when the URL's host is this machine: `localhost`, 127.0.0.0/8 or ::1.
pub fn is_loopback_url(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Extra trusted roots make storedesk accept data a simulator signed: allowed only while both Apple URLs are a
/// simulator on this machine, so a production console can never be told to trust another root.
pub fn check_extra_roots(apple: &AppleSettings) -> Result<(), ConfigError> {
    let local = |u: &str| reqwest::Url::parse(u).is_ok_and(|u| is_loopback_url(&u));
    if apple.extra_roots.is_empty() || (local(&apple.production_url) && local(&apple.sandbox_url)) {
        Ok(())
    } else {
        Err(ConfigError::new(
            "STOREDESK_APPLE_EXTRA_ROOTS",
            "unset while the Apple URLs are Apple's: extra roots are trusted only when STOREDESK_APPLE_PRODUCTION_URL and STOREDESK_APPLE_SANDBOX_URL are both a simulator at a loopback address",
        ))
    }
}

/// Reads a secret from `VAR` or from the file named by `VAR_FILE`; both set is an error.
pub fn secret_from_env(
    variable: &'static str,
    file_variable: &'static str,
    value: Option<String>,
    file: Option<PathBuf>,
) -> Result<Option<SecretString>, ConfigError> {
    match (value, file) {
        (Some(_), Some(_)) => Err(ConfigError::new(
            variable,
            format!("set alone: {variable} and {file_variable} are both set"),
        )),
        (Some(v), None) => Ok(Some(SecretString::from(v))),
        (None, Some(path)) => std::fs::read_to_string(&path)
            .map(|s| Some(SecretString::from(s.trim().to_string())))
            .map_err(|_| {
                ConfigError::new(
                    file_variable,
                    format!(
                        "the path of a readable file; {} cannot be read",
                        path.display()
                    ),
                )
            }),
        (None, None) => Ok(None),
    }
}

pub fn parse_previous_master_keys(raw: &str) -> Result<Vec<MasterKey>, ConfigError> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            MasterKey::from_base64(s).map_err(|_| {
                ConfigError::new(
                    "STOREDESK_PREVIOUS_MASTER_KEYS",
                    "comma-separated master keys, each 32 random bytes in base64",
                )
            })
        })
        .collect()
}

pub fn parse_master_key(secret: &SecretString) -> Result<MasterKey, ConfigError> {
    use secrecy::ExposeSecret;
    MasterKey::from_base64(secret.expose_secret()).map_err(|_| {
        ConfigError::new(
            "STOREDESK_MASTER_KEY",
            "32 random bytes in base64 (44 characters); `storedesk master-key generate` prints one",
        )
    })
}

/// Extra roots may be DER or PEM; a PEM file is decoded here so the verifier sees DER only.
pub fn load_extra_roots(raw: &str) -> Result<Vec<Vec<u8>>, ConfigError> {
    use base64::Engine;
    let mut roots = Vec::new();
    for path in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let bytes = std::fs::read(path).map_err(|_| {
            ConfigError::new(
                "STOREDESK_APPLE_EXTRA_ROOTS",
                format!("comma-separated paths of certificate files; {path} cannot be read"),
            )
        })?;
        let der = match std::str::from_utf8(&bytes) {
            Ok(text) if text.contains("-----BEGIN CERTIFICATE-----") => {
                let body: String = text
                    .lines()
                    .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE-----"))
                    .skip(1)
                    .take_while(|l| !l.starts_with("-----END"))
                    .collect();
                base64::engine::general_purpose::STANDARD
                    .decode(body.trim())
                    .map_err(|_| {
                        ConfigError::new(
                            "STOREDESK_APPLE_EXTRA_ROOTS",
                            format!("paths of DER or PEM certificates; {path} is not one"),
                        )
                    })?
            }
            _ => bytes,
        };
        roots.push(der);
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bounded_duration_reads_as_people_write_it_and_names_its_variable_when_wrong() {
        let read = |raw: Option<&str>| {
            parse_duration_between(
                "STOREDESK_APPLE_ANSWER_WITHIN",
                raw,
                Duration::from_secs(1),
                Duration::from_secs(120),
                "a time between 1s and 120s, such as 15s",
            )
        };
        assert_eq!(read(None).unwrap(), None);
        assert_eq!(read(Some(" ")).unwrap(), None);
        assert_eq!(read(Some("15s")).unwrap(), Some(Duration::from_secs(15)));
        assert_eq!(
            read(Some("2500MS")).unwrap(),
            Some(Duration::from_millis(2500))
        );
        assert_eq!(read(Some("2m")).unwrap(), Some(Duration::from_secs(120)));
        for wrong in ["500ms", "3m", "soon", "-1s"] {
            let e = read(Some(wrong)).unwrap_err();
            assert_eq!(e.variable, "STOREDESK_APPLE_ANSWER_WITHIN");
            assert_eq!(e.expected, "a time between 1s and 120s, such as 15s");
        }
        assert_eq!(
            AppleSettings::default().answer_within,
            Duration::from_secs(15)
        );
        assert_eq!(BackfillSettings::default().lease, Duration::from_secs(30));
    }

    #[test]
    fn a_sqlite_file_without_a_mode_is_created_and_a_given_mode_is_kept() {
        let parsed = |raw: &str| DatabaseUrl::parse(raw).unwrap().as_str().to_owned();
        assert_eq!(
            parsed("sqlite:///var/lib/storedesk/storedesk.db"),
            "sqlite:///var/lib/storedesk/storedesk.db?mode=rwc"
        );
        assert_eq!(
            parsed("sqlite://data/s.db?cache=shared"),
            "sqlite://data/s.db?cache=shared&mode=rwc"
        );
        assert_eq!(parsed("sqlite://s.db?mode=ro"), "sqlite://s.db?mode=ro");
        assert_eq!(parsed("sqlite::memory:"), "sqlite::memory:");
    }

    #[test]
    fn a_postgres_password_never_shows_in_the_redacted_url() {
        let url = DatabaseUrl::parse("postgres://app:s3cret@db:5432/storedesk").unwrap();
        assert_eq!(url.redacted(), "postgres://app:***@db:5432/storedesk");
        assert!(!format!("{url:?}").contains("s3cret"));
    }

    #[test]
    fn wrong_values_name_their_variable() {
        let err = DatabaseUrl::parse("mysql://x").err().unwrap();
        assert!(err
            .to_string()
            .starts_with("STOREDESK_DATABASE_URL is set but wrong"));
        assert!(parse_bind("localhost").is_err());
        assert!(parse_public_url("storedesk.example.com").is_err());
        assert_eq!(
            parse_public_url("https://a.example/").unwrap(),
            "https://a.example"
        );
        assert_eq!(
            origin_of("https://A.example:8443/x/y").unwrap(),
            "https://a.example:8443"
        );
    }
}
