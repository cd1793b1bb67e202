//! A destination's server on loopback: a small HTTP/1.1 server on port 0 that keeps each request's headers and
//! raw body, and answers as the test scripts it (then 200).
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use crate::helpers::read_request;

pub use crate::helpers::RawRequest as Request;

pub struct Receiver {
    pub port: u16,
    pub requests: Arc<Mutex<Vec<Request>>>,
}

impl Receiver {
    /// Answers the scripted (status, body) replies in order, then `200 thanks`.
    pub async fn start(script: &[(u16, &str)]) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let script: VecDeque<(u16, String)> =
            script.iter().map(|(s, b)| (*s, (*b).to_owned())).collect();
        let script = Arc::new(Mutex::new(script));
        let r = requests.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (r, s) = (r.clone(), script.clone());
                tokio::spawn(async move { serve(stream, r, s).await });
            }
        });
        Receiver { port, requests }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/apple/notifications", self.port)
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

async fn serve(
    stream: tokio::net::TcpStream,
    requests: Arc<Mutex<Vec<Request>>>,
    script: Arc<Mutex<VecDeque<(u16, String)>>>,
) {
    let mut reader = BufReader::new(stream);
    let Some(request) = read_request(&mut reader).await else {
        return;
    };
    requests.lock().unwrap().push(request);
    let (status, said) = script
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or((200, "thanks".into()));
    let response = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: text/plain\r\nlocation: https://example.com/elsewhere\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{said}",
        said.len()
    );
    let _ = reader.get_mut().write_all(response.as_bytes()).await;
    let _ = reader.get_mut().shutdown().await;
}
