//! A PostgreSQL cluster of a test's own: its data directory in a temp dir, its own port on loopback, started with
//! the server binaries of /usr/lib/postgresql/*/bin (as the `postgres` user when the test runs as root). A test may
//! stop, restart, freeze (SIGSTOP) and thaw it without touching the shared server on 5432 that other tests use.
//! Dropping it thaws, stops and removes it.
//!
//! `fsync=off`: these tests kill and freeze processes, never the machine, and a process-level fault loses nothing
//! PostgreSQL wrote to the page cache; without it each commit would wait for a disk the other tests share.
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

pub struct PrivatePostgres {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    as_postgres: bool,
    frozen: Vec<u32>,
}

/// The newest installed server's binaries, if any.
fn server_binaries() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            (bin.join("initdb").is_file() && bin.join("pg_ctl").is_file()).then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Skips (None) with a printed reason, or fails under `STOREDESK_REQUIRE_POSTGRES=1`.
fn skip(reason: &str) -> Option<PrivatePostgres> {
    if std::env::var("STOREDESK_REQUIRE_POSTGRES").as_deref() == Ok("1") {
        panic!("PostgreSQL is required (STOREDESK_REQUIRE_POSTGRES=1) but {reason}");
    }
    eprintln!("skipped: {reason}; set STOREDESK_REQUIRE_POSTGRES=1 to make this a failure");
    None
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl PrivatePostgres {
    /// initdb and start a new cluster; None (after printing why) when PostgreSQL's server binaries are missing.
    pub async fn start() -> Option<PrivatePostgres> {
        let Some(bin) = server_binaries() else {
            return skip("no PostgreSQL server binaries in /usr/lib/postgresql/*/bin");
        };
        let as_postgres = running_as_root();
        let dir = tempfile::tempdir().expect("temp dir");
        if as_postgres {
            // PostgreSQL refuses to run as root; its user must reach the directory.
            let status = Command::new("chown")
                .args(["postgres:", dir.path().to_str().expect("utf-8 path")])
                .status()
                .expect("chown");
            assert!(status.success(), "could not give the temp dir to postgres");
        }
        let mut pg = PrivatePostgres {
            bin,
            dir,
            port: 0,
            as_postgres,
            frozen: Vec::new(),
        };
        let init = pg.run(
            "initdb",
            &[
                "-D",
                pg.data().to_str().expect("utf-8 path"),
                "-A",
                "trust",
                "-U",
                "postgres",
                "-N",
                "--no-instructions",
            ],
        );
        if !init.status.success() {
            return skip(&format!(
                "initdb failed: {}",
                String::from_utf8_lossy(&init.stderr)
            ));
        }
        // Another process may take the port between our look and the server's bind: try a few.
        for _ in 0..3 {
            pg.port = free_port();
            if pg.pg_ctl_start().await {
                return Some(pg);
            }
        }
        panic!(
            "the private PostgreSQL cluster did not start; its log:\n{}",
            std::fs::read_to_string(pg.log()).unwrap_or_default()
        );
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("postgres.log")
    }

    fn run(&self, program: &str, args: &[&str]) -> Output {
        let path = self.bin.join(program);
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        };
        command
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("could not run {program}: {e}"))
    }

    async fn pg_ctl_start(&self) -> bool {
        let options = format!(
            "-c listen_addresses=127.0.0.1 -c port={} -c unix_socket_directories={} -c fsync=off -c max_connections=60",
            self.port,
            self.dir.path().display()
        );
        let (data, log) = (self.data(), self.log());
        let out = self.run(
            "pg_ctl",
            &[
                "start",
                "-w",
                "-t",
                "30",
                "-D",
                data.to_str().expect("utf-8 path"),
                "-l",
                log.to_str().expect("utf-8 path"),
                "-o",
                &options,
            ],
        );
        out.status.success() && self.accepts().await
    }

    /// Whether a connection is accepted and answered now.
    async fn accepts(&self) -> bool {
        use sqlx::Connection as _;
        let attempt = tokio::time::timeout(
            Duration::from_secs(5),
            sqlx::PgConnection::connect(&self.url("postgres")),
        );
        matches!(attempt.await, Ok(Ok(_)))
    }

    /// The URL of a database on this cluster (created by [`Self::create_database`], or `postgres`).
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// A new database; its URL.
    pub async fn create_database(&self, name: &str) -> String {
        use sqlx::Connection as _;
        let mut conn = sqlx::PgConnection::connect(&self.url("postgres"))
            .await
            .expect("connect to the private cluster");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("create database");
        self.url(name)
    }

    /// `pg_ctl stop -m fast`, as a service manager stops it: open connections are ended.
    pub fn stop(&self) {
        let data = self.data();
        let out = self.run(
            "pg_ctl",
            &[
                "stop",
                "-w",
                "-m",
                "fast",
                "-D",
                data.to_str().expect("utf-8 path"),
            ],
        );
        assert!(
            out.status.success(),
            "pg_ctl stop failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts it again on the same port.
    pub async fn start_again(&self) {
        assert!(
            self.pg_ctl_start().await,
            "the private PostgreSQL cluster did not start again; its log:\n{}",
            std::fs::read_to_string(self.log()).unwrap_or_default()
        );
    }

    /// The postmaster and every process it started (its backends, checkpointer, WAL writer, ...).
    fn processes(&self) -> Vec<u32> {
        let pid_file = std::fs::read_to_string(self.data().join("postmaster.pid"))
            .expect("postmaster.pid of a running cluster");
        let postmaster: u32 = pid_file
            .lines()
            .next()
            .and_then(|l| l.trim().parse().ok())
            .expect("a pid on postmaster.pid's first line");
        let mut pids = vec![postmaster];
        pids.extend(children(postmaster));
        pids
    }

    /// SIGSTOP to the whole cluster: connections stay open (the kernel keeps acknowledging) but nothing answers,
    /// like a server that hangs.
    pub fn freeze(&mut self) {
        assert!(self.frozen.is_empty(), "already frozen");
        // The postmaster first, so that it starts no process we would miss.
        for pid in self.processes() {
            signal("STOP", pid);
            self.frozen.push(pid);
        }
    }

    /// SIGCONT to what [`Self::freeze`] stopped.
    pub fn thaw(&mut self) {
        for pid in self.frozen.drain(..).rev() {
            signal("CONT", pid);
        }
    }
}

fn children(parent: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| parent_of(*pid) == Some(parent))
        .collect()
}

/// The parent pid from /proc/<pid>/stat (whose second field, the name in parentheses, may hold spaces).
fn parent_of(pid: u32) -> Option<u32> {
    let stat =
        std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(1)?.parse().ok()
}

fn signal(name: &str, pid: u32) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{name} {pid} failed");
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        self.thaw();
        let data = self.data();
        if let Some(data) = data.to_str() {
            let _ = self.run("pg_ctl", &["stop", "-m", "immediate", "-D", data]);
        }
    }
}
