//! Alert settings: the mail server alert e-mails go through (`STOREDESK_SMTP_URL`, its `_FILE`, and
//! `STOREDESK_SMTP_FROM`) and how often the alert job runs (`STOREDESK_ALERTS_INTERVAL`).
use std::time::Duration;

use secrecy::SecretString;

use super::ConfigError;

/// How the connection to the mail server is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpTls {
    /// `smtps://`: TLS from the first byte (port 465).
    Implicit,
    /// `smtp://`: the plain connection is upgraded with STARTTLS, which the server must offer (port 587).
    StartTls,
    /// `smtp://…?tls=none`: no encryption, for a relay on the same machine or network (port 25).
    None,
}

/// The mail server alerts are sent through: `STOREDESK_SMTP_URL` and `STOREDESK_SMTP_FROM`.
#[derive(Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub username: Option<String>,
    pub password: Option<SecretString>,
    /// The sender, as `STOREDESK_SMTP_FROM` gave it (`storedesk <alerts@example.com>` or a bare address).
    pub from: String,
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "[redacted]"))
            .field("from", &self.from)
            .finish()
    }
}

/// Alerts: the mail server (none: e-mail alerts cannot be sent) and the background job's schedule.
#[derive(Clone, Debug)]
pub struct AlertSettings {
    pub smtp: Option<SmtpSettings>,
    /// How often the alert job looks for events and sends; `None`: the job is off (`STOREDESK_ALERTS_INTERVAL=off`).
    pub interval: Option<Duration>,
    /// How long one delivery may take (a webhook's answer, an SMTP conversation) before it counts as failed.
    pub send_timeout: Duration,
}

impl Default for AlertSettings {
    fn default() -> Self {
        Self {
            smtp: None,
            interval: Some(Duration::from_secs(60)),
            send_timeout: Duration::from_secs(15),
        }
    }
}

const SMTP_URL_SHAPE: &str = "smtp://user:password@host:587 (STARTTLS), smtps://user:password@host:465 (TLS from \
     the start) or smtp://host:25?tls=none (no encryption), with special characters of the user and password \
     percent-encoded";

/// Reads `STOREDESK_SMTP_URL`: the scheme chooses the protection, the port defaults to the scheme's (465, 587,
/// or 25 with `?tls=none`). A password is never sent unencrypted to another machine.
pub fn parse_smtp_url(raw: &str, from: &str) -> Result<SmtpSettings, ConfigError> {
    let wrong = || ConfigError::new("STOREDESK_SMTP_URL", SMTP_URL_SHAPE);
    let url = url::Url::parse(raw.trim()).map_err(|_| wrong())?;
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(wrong)?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    if !matches!(url.path(), "" | "/") || url.fragment().is_some() {
        return Err(wrong());
    }
    let mut tls = match url.scheme() {
        "smtps" => SmtpTls::Implicit,
        "smtp" => SmtpTls::StartTls,
        _ => return Err(wrong()),
    };
    for (name, value) in url.query_pairs() {
        match (name.as_ref(), value.as_ref(), tls) {
            ("tls", "none", SmtpTls::StartTls) => tls = SmtpTls::None,
            ("tls", "starttls" | "required", SmtpTls::StartTls) => {}
            _ => return Err(wrong()),
        }
    }
    let port = url.port().unwrap_or(match tls {
        SmtpTls::Implicit => 465,
        SmtpTls::StartTls => 587,
        SmtpTls::None => 25,
    });
    let decode = |s: &str| {
        percent_decode(s).ok_or_else(|| {
            ConfigError::new(
                "STOREDESK_SMTP_URL",
                "a URL whose user and password are UTF-8 once percent-decoded",
            )
        })
    };
    let username = Some(decode(url.username())?).filter(|u| !u.is_empty());
    let password = url.password().map(decode).transpose()?;
    if password.is_some() && username.is_none() {
        return Err(wrong());
    }
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if tls == SmtpTls::None && password.is_some() && !loopback {
        return Err(ConfigError::new(
            "STOREDESK_SMTP_URL",
            "a URL that does not send a password unencrypted to another machine: with a password, use smtp:// \
             (STARTTLS) or smtps:// (TLS), or leave ?tls=none for a relay that needs no password",
        ));
    }
    let from = from.trim();
    if from.parse::<lettre::message::Mailbox>().is_err() {
        return Err(ConfigError::new(
            "STOREDESK_SMTP_FROM",
            "the sender of alert e-mails, an address such as alerts@example.com or storedesk <alerts@example.com>",
        ));
    }
    Ok(SmtpSettings {
        host,
        port,
        tls,
        username,
        password: password.map(SecretString::from),
        from: from.to_owned(),
    })
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The alert settings from what the environment gave: the SMTP URL (from the variable or its file), the sender,
/// and the interval ("60", "90s", "5m", "1h", or "off"; at least 10 seconds).
pub fn alert_settings(
    smtp_url: Option<&SecretString>,
    smtp_from: Option<&str>,
    interval: Option<&str>,
) -> Result<AlertSettings, ConfigError> {
    use secrecy::ExposeSecret;
    let mut settings = AlertSettings::default();
    let smtp_from = smtp_from.filter(|s| !s.trim().is_empty());
    settings.smtp = match (smtp_url, smtp_from) {
        (Some(url), Some(from)) => Some(parse_smtp_url(url.expose_secret(), from)?),
        (Some(_), None) => {
            return Err(ConfigError::new(
                "STOREDESK_SMTP_FROM",
                "set too when STOREDESK_SMTP_URL is: the sender of alert e-mails, such as alerts@example.com",
            ))
        }
        (None, Some(_)) => {
            return Err(ConfigError::new(
                "STOREDESK_SMTP_URL",
                format!("set too when STOREDESK_SMTP_FROM is: {SMTP_URL_SHAPE}"),
            ))
        }
        (None, None) => None,
    };
    if let Some(raw) = interval.filter(|s| !s.trim().is_empty()) {
        settings.interval = parse_interval(raw).ok_or_else(|| {
            ConfigError::new(
                "STOREDESK_ALERTS_INTERVAL",
                "a duration of at least 10 seconds such as 60, 90s, 5m or 1h, or off",
            )
        })?;
    }
    Ok(settings)
}

/// "60", "90s", "5m", "1h" → a duration of at least 10 seconds; "off" or "0" → None (switched off).
fn parse_interval(value: &str) -> Option<Option<Duration>> {
    let v = value.trim().to_ascii_lowercase();
    if v == "off" || v == "0" {
        return Some(None);
    }
    let (digits, unit) = match v.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => v.split_at(i),
        None => (v.as_str(), "s"),
    };
    let n: u64 = digits.parse().ok()?;
    let secs = match unit.trim() {
        "s" => n,
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        _ => return None,
    };
    (secs >= 10).then_some(Some(Duration::from_secs(secs)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    fn smtp(url: &str) -> Result<SmtpSettings, String> {
        parse_smtp_url(url, "storedesk <alerts@example.com>").map_err(|e| e.to_string())
    }

    #[test]
    fn the_smtp_url_chooses_protection_and_port() {
        let s = smtp("smtp://alerts%40example.com:p%40ss@mail.example.com").unwrap();
        assert_eq!(
            (s.host.as_str(), s.port, s.tls),
            ("mail.example.com", 587, SmtpTls::StartTls)
        );
        assert_eq!(s.username.as_deref(), Some("alerts@example.com"));
        use secrecy::ExposeSecret;
        assert_eq!(s.password.as_ref().unwrap().expose_secret(), "p@ss");
        assert!(!format!("{s:?}").contains("p@ss"));
        let s = smtp("smtps://u:p@mail.example.com").unwrap();
        assert_eq!((s.port, s.tls), (465, SmtpTls::Implicit));
        let s = smtp("smtp://relay.internal?tls=none").unwrap();
        assert_eq!((s.port, s.tls, s.username), (25, SmtpTls::None, None));
        let s = smtp("smtp://u:p@127.0.0.1:2525?tls=none").unwrap();
        assert_eq!((s.port, s.tls), (2525, SmtpTls::None));
        let s = smtp("smtp://mail.example.com:2587?tls=starttls").unwrap();
        assert_eq!((s.port, s.tls), (2587, SmtpTls::StartTls));
    }

    #[test]
    fn a_wrong_smtp_setting_names_its_variable() {
        for bad in [
            "mail.example.com",
            "http://mail.example.com",
            "smtp://",
            "smtps://mail.example.com?tls=none",
            "smtp://mail.example.com?tls=maybe",
            "smtp://mail.example.com/path",
            "smtp://:secret@mail.example.com",
        ] {
            let e = smtp(bad).unwrap_err();
            assert!(
                e.starts_with("STOREDESK_SMTP_URL is set but wrong: it should be smtp://user:password@host:587"),
                "{bad}: {e}"
            );
        }
        let e = smtp("smtp://u:secret@mail.example.com?tls=none").unwrap_err();
        assert!(e.contains("does not send a password unencrypted"), "{e}");
        assert!(!e.contains("secret"));
        let e = parse_smtp_url("smtp://mail.example.com", "not an address").unwrap_err();
        assert!(e
            .to_string()
            .starts_with("STOREDESK_SMTP_FROM is set but wrong"));
        let url = SecretString::from("smtp://mail.example.com");
        let e = alert_settings(Some(&url), None, None).unwrap_err();
        assert_eq!(e.variable, "STOREDESK_SMTP_FROM");
        let e = alert_settings(None, Some("alerts@example.com"), None).unwrap_err();
        assert_eq!(e.variable, "STOREDESK_SMTP_URL");
        let e = alert_settings(None, None, Some("5")).unwrap_err();
        assert_eq!(e.variable, "STOREDESK_ALERTS_INTERVAL");
    }

    #[test]
    fn alert_intervals_read_like_people_write_them() {
        let none = alert_settings(None, None, None).unwrap();
        assert_eq!(none.interval, Some(Duration::from_secs(60)));
        assert!(none.smtp.is_none());
        assert_eq!(parse_interval("90s"), Some(Some(Duration::from_secs(90))));
        assert_eq!(parse_interval("5m"), Some(Some(Duration::from_secs(300))));
        assert_eq!(parse_interval("off"), Some(None));
        assert_eq!(parse_interval("soon"), None);
    }
}
