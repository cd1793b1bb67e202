//! `storedesk check`: what a deployment needs, checked for the configuration it is given (the same variables as
//! `serve`), each with one line — `ok`, `WARN` or `FAIL` and a sentence — and exit status 1 when anything failed.
//! It changes nothing: it neither migrates nor records the master key.
use std::time::Duration;

use crate::config::Settings;
use crate::keys::MASTER_KEY_SETTING;
use crate::store::Store;

/// Apple refuses a token whose `iat` is in the future, and its tokens live at most an hour: a clock off by more
/// than this is trouble for every call.
const CLOCK_TOLERANCE_S: i64 = 60;
const APPLE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    Warn,
    Fail,
}

/// One checked thing, for the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    pub verdict: Verdict,
    pub what: &'static str,
    pub sentence: String,
}

impl std::fmt::Display for Line {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let word = match self.verdict {
            Verdict::Ok => "ok  ",
            Verdict::Warn => "WARN",
            Verdict::Fail => "FAIL",
        };
        write!(f, "{word}  {:<15} {}", self.what, self.sentence)
    }
}

fn line(verdict: Verdict, what: &'static str, sentence: impl Into<String>) -> Line {
    Line {
        verdict,
        what,
        sentence: sentence.into(),
    }
}

/// Every check, in the order a deployment meets them.
pub async fn run(settings: &Settings) -> Vec<Line> {
    let mut lines = Vec::new();
    match Store::connect(&settings.database_url).await {
        Err(e) => lines.push(line(
            Verdict::Fail,
            "database",
            format!("cannot be opened: {e:#}"),
        )),
        Ok(store) => {
            let migrated = migrations(&store).await;
            let usable = migrated.verdict == Verdict::Ok;
            lines.push(migrated);
            lines.push(match usable {
                true => master_key(&store, settings).await,
                false => line(
                    Verdict::Warn,
                    "master key",
                    "not compared: the database is not migrated yet",
                ),
            });
        }
    }
    lines.push(public_url(&settings.public_url));
    let (reach, clock) = apple(settings).await;
    lines.extend(reach);
    lines.push(clock);
    lines
}

async fn migrations(store: &Store) -> Line {
    match store.migration_status().await {
        Ok((applied, known)) if applied == known => line(
            Verdict::Ok,
            "database",
            format!(
                "reachable ({}); all {known} migrations applied",
                if store.is_postgres() { "PostgreSQL" } else { "SQLite" }
            ),
        ),
        Ok((applied, known)) if applied < known => line(
            Verdict::Fail,
            "database",
            format!(
                "reachable, but {} of {known} migrations are not applied: run `storedesk migrate` (serve applies them too)",
                known - applied
            ),
        ),
        Ok((applied, known)) => line(
            Verdict::Fail,
            "database",
            format!("holds {applied} migrations, more than this version's {known}: it was used by a newer storedesk"),
        ),
        Err(e) => line(
            Verdict::Fail,
            "database",
            format!("reachable, but its migrations cannot be read: {e}"),
        ),
    }
}

async fn master_key(store: &Store, settings: &Settings) -> Line {
    let keyring = settings.keyring();
    let given = keyring.current().key_id();
    let recorded = match store.setting(MASTER_KEY_SETTING).await {
        Ok(r) => r,
        Err(e) => {
            return line(
                Verdict::Fail,
                "master key",
                format!("cannot be compared: {e}"),
            )
        }
    };
    let sealed = store.all_sealed_keys().await.unwrap_or_default();
    let strangers = sealed
        .iter()
        .filter(|k| !keyring.knows(&k.master_key_id))
        .count();
    match recorded {
        Some(id) if !keyring.knows(&id) => line(
            Verdict::Fail,
            "master key",
            format!("is not the one this database was encrypted with (it has key id {id}; the given key has id {given})"),
        ),
        _ if strangers > 0 => line(
            Verdict::Fail,
            "master key",
            format!("{strangers} stored In-App Purchase key(s) are sealed under a master key that was not given"),
        ),
        None => line(
            Verdict::Ok,
            "master key",
            format!("key id {given}; the database has none recorded yet (the first serve records it)"),
        ),
        Some(_) => line(
            Verdict::Ok,
            "master key",
            format!("key id {given} opens the database's {} stored key(s)", sealed.len()),
        ),
    }
}

fn public_url(url: &str) -> Line {
    let parsed = url::Url::parse(url).ok();
    let host = parsed
        .as_ref()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    let local = host == "localhost"
        || host
            .trim_matches(|c| c == '[' || c == ']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if !url.starts_with("https://") {
        line(
            Verdict::Fail,
            "public URL",
            format!("{url} is not https://: Apple delivers notifications only to https:// URLs (put a TLS proxy such as Caddy or nginx in front, as docs/deploy/ shows)"),
        )
    } else if local {
        line(
            Verdict::Warn,
            "public URL",
            format!("{url} names this machine: Apple cannot reach it"),
        )
    } else {
        line(Verdict::Ok, "public URL", url.to_owned())
    }
}

/// Whether both of Apple's API hosts answer over HTTPS from here (any HTTP answer counts: reaching them is the
/// question), and how far our clock is from Production's `Date`.
async fn apple(settings: &Settings) -> (Vec<Line>, Line) {
    let mut lines = Vec::new();
    let mut offset = None;
    let http = match reqwest::Client::builder().timeout(APPLE_TIMEOUT).build() {
        Ok(c) => c,
        Err(e) => {
            return (
                vec![line(Verdict::Fail, "Apple", format!("no HTTP client: {e}"))],
                line(Verdict::Warn, "clock", "not compared"),
            )
        }
    };
    for (what, url) in [
        ("Apple (Prod.)", &settings.apple.production_url),
        ("Apple (Sandbox)", &settings.apple.sandbox_url),
    ] {
        let what: &'static str = what;
        match http.get(url.as_str()).send().await {
            Ok(r) => {
                if offset.is_none() {
                    offset = r
                        .headers()
                        .get("date")
                        .and_then(|d| d.to_str().ok())
                        .and_then(|d| chrono::DateTime::parse_from_rfc2822(d).ok())
                        .map(|theirs| chrono::Utc::now().timestamp() - theirs.timestamp());
                }
                lines.push(line(Verdict::Ok, what, format!("{url} answered (HTTP {})", r.status().as_u16())));
            }
            Err(e) if e.is_timeout() => lines.push(line(
                Verdict::Fail,
                what,
                format!("{url} did not answer within {} s: check the firewall and proxy between this machine and Apple", APPLE_TIMEOUT.as_secs()),
            )),
            Err(e) => lines.push(line(
                Verdict::Fail,
                what,
                format!("{url} cannot be reached from this machine: {}", chain(&e)),
            )),
        }
    }
    let clock = match offset {
        None => line(Verdict::Warn, "clock", "not compared: Apple gave no Date header"),
        Some(s) if s.abs() > CLOCK_TOLERANCE_S => line(
            Verdict::Fail,
            "clock",
            format!("{s} s off Apple's: Apple refuses tokens from a clock more than a minute off; run NTP (chrony, systemd-timesyncd)"),
        ),
        Some(s) => line(Verdict::Ok, "clock", format!("{s} s off Apple's")),
    };
    (lines, clock)
}

/// An error with its causes, as one line (reqwest's own message says only "error sending request").
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
