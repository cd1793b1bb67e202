//! The real peers alerts are delivered to, on loopback: a webhook receiver (a small HTTP/1.1 server on port 0 in
//! this process that answers as a test scripts it and keeps each JSON body), and an SMTP server (aiosmtpd, in
//! Python, from the venv `.ci/run` makes; its interpreter is `STOREDESK_TEST_PYTHON`).
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use crate::helpers::{python_helper, read_request};

/// How the receiver answers one request.
#[derive(Clone, Copy, Debug)]
pub enum Reply {
    Status(u16),
    /// Reads the request and never answers (until the client gives up).
    Hang,
}

/// One request the receiver got.
#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    pub content_type: String,
    pub json: serde_json::Value,
}

impl Received {
    pub fn text(&self) -> String {
        self.json["text"].as_str().unwrap_or_default().to_owned()
    }
}

pub struct Receiver {
    pub port: u16,
    pub received: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    /// Answers the scripted replies in order, then 200 to everything.
    pub async fn start(script: &[Reply]) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(script.iter().copied().collect::<VecDeque<_>>()));
        let r = received.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (r, s) = (r.clone(), script.clone());
                tokio::spawn(async move { serve(stream, r, s).await });
            }
        });
        Receiver { port, received }
    }

    /// A webhook URL of this receiver, long enough that its page shows only the last four characters.
    pub fn url(&self, name: &str) -> String {
        format!(
            "http://127.0.0.1:{}/services/T000/B000/{name}-secret-part",
            self.port
        )
    }

    pub fn texts(&self) -> Vec<String> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .map(Received::text)
            .collect()
    }

    pub fn count(&self) -> usize {
        self.received.lock().unwrap().len()
    }
}

async fn serve(
    stream: tokio::net::TcpStream,
    received: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<VecDeque<Reply>>>,
) {
    let mut reader = BufReader::new(stream);
    let Some(request) = read_request(&mut reader).await else {
        return;
    };
    let reply = script
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or(Reply::Status(200));
    received.lock().unwrap().push(Received {
        content_type: request
            .header("content-type")
            .unwrap_or_default()
            .to_owned(),
        json: serde_json::from_slice(&request.body).unwrap_or(serde_json::Value::Null),
        path: request.path,
    });
    let status = match reply {
        Reply::Hang => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            return;
        }
        Reply::Status(s) => s,
    };
    let said = if status == 200 { "ok" } else { "no_service" };
    let response = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{said}",
        said.len()
    );
    let _ = reader.get_mut().write_all(response.as_bytes()).await;
    let _ = reader.get_mut().shutdown().await;
}

/// A port on which nothing listens (bound, then freed): connections to it are refused.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// aiosmtpd, run as a child process for one test; it ends when the sink is dropped.
pub struct SmtpSink {
    pub port: u16,
    messages: Arc<Mutex<Vec<serde_json::Value>>>,
    _child: tokio::process::Child,
}

/// Options of the sink (see `tests/python/smtp_sink.py`).
#[derive(Default)]
pub struct SinkOptions {
    pub user: Option<(&'static str, &'static str)>,
    pub refuse_first: usize,
}

fn smtp_missing(why: &str) -> Option<SmtpSink> {
    if std::env::var("STOREDESK_REQUIRE_SMTP").as_deref() == Ok("1") {
        panic!("an SMTP server is required (STOREDESK_REQUIRE_SMTP=1) but {why}");
    }
    eprintln!("skipped: {why}; .ci/run provides it (STOREDESK_TEST_PYTHON, a venv with aiosmtpd); set STOREDESK_REQUIRE_SMTP=1 to make this a failure");
    None
}

impl SmtpSink {
    /// The sink on a free port, or None (with a skip notice) when Python with aiosmtpd is not available.
    pub async fn start(options: SinkOptions) -> Option<SmtpSink> {
        let Ok(python) = std::env::var("STOREDESK_TEST_PYTHON") else {
            return smtp_missing("STOREDESK_TEST_PYTHON is not set");
        };
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/smtp_sink.py");
        let mut command = tokio::process::Command::new(&python);
        command
            .arg(script)
            .arg("--refuse-first")
            .arg(options.refuse_first.to_string());
        if let Some((user, password)) = options.user {
            command
                .arg("--user")
                .arg(user)
                .arg("--password")
                .arg(password);
        }
        let (port, messages, child) = match python_helper(command, "aiosmtpd").await {
            Ok(started) => started,
            Err(why) => return smtp_missing(&why),
        };
        Some(SmtpSink {
            port,
            messages,
            _child: child,
        })
    }

    /// The messages taken so far, after giving the sink's output a moment to arrive.
    pub async fn messages(&self, at_least: usize) -> Vec<serde_json::Value> {
        for _ in 0..100 {
            if self.messages.lock().unwrap().len() >= at_least {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.messages.lock().unwrap().clone()
    }
}
