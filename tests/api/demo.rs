//! `storedesk demo` as a newcomer runs it: the real binary, its printed password, a lookup, then Ctrl-C.
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{client, csrf_from};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The value after `label` on the first line of `lines` that starts with it.
fn printed(lines: &[String], label: &str) -> Option<String> {
    lines.iter().find_map(|l| {
        l.trim_start()
            .strip_prefix(label)
            .map(|rest| rest.split_whitespace().next().unwrap_or("").to_string())
    })
}

/// Starts the real `storedesk demo` on a free port; returns it, its printed lines up to the banner, and the port.
fn start_demo(dir: &std::path::Path) -> (std::process::Child, Vec<String>, u16) {
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_storedesk"))
        .args(["demo", "--bind", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(dir)
        .env_remove("STOREDESK_DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let started = Instant::now();
    let mut lines = Vec::new();
    while !lines.iter().any(|l: &String| l.starts_with("Press Ctrl-C")) {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the demo printed no start banner in 60 s: {lines:?}"
        );
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            lines.push(line);
        }
    }
    (child, lines, port)
}

/// Sends `signal` and expects a clean exit within 15 s.
fn stops_cleanly_on(child: &mut std::process::Child, signal: &str) {
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args([signal, &pid])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(
                status.success(),
                "the demo exited with {status} after {signal}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the demo kept running after {signal}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_starts_serves_a_lookup_and_stops_on_ctrl_c() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, lines, port) = start_demo(dir.path());
    let password = printed(&lines, "Password:").expect("a printed password");
    let open = printed(&lines, "Open:").expect("a printed URL");
    let try_url = printed(&lines, "Try:").expect("a suggested lookup");
    assert_eq!(open, format!("http://127.0.0.1:{port}/login"));
    let base = format!("http://127.0.0.1:{port}");

    let c = client();
    let login = c
        .get(format!("{base}/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let r = c
        .post(format!("{base}/login"))
        .form(&[
            ("email", "admin@storedesk.local"),
            ("password", password.as_str()),
            ("csrf_token", csrf_from(&login).as_str()),
            ("next", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303, "the printed password signs in");

    let id = try_url.rsplit("q=").next().unwrap().to_string();
    let r = c.get(&try_url).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let page = r.text().await.unwrap();
    assert!(page.contains("Fresh from Apple (Production)"), "{page}");
    assert!(page.contains(&id));
    assert!(page.contains("Transaction history"));

    // Ctrl-C: SIGINT, then a clean exit.
    stops_cleanly_on(&mut child, "-INT");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_stops_cleanly_on_sigterm_as_serve_does() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, _, port) = start_demo(dir.path());
    let ready = client()
        .get(format!("http://127.0.0.1:{port}/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status().as_u16(), 200);
    stops_cleanly_on(&mut child, "-TERM");
}
