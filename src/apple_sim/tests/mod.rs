//! Black-box tests: spawn the simulator on port 0 and talk to it over real HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth;
mod connect;
mod endpoints;
mod faults;
mod history;
mod notifications;
mod ocsp;
mod signing;
mod verifier;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use super::{spawn, IssuedKey, SimConfig, SimHandle};

pub(super) struct TestSim {
    pub sim: SimHandle,
    pub key: IssuedKey,
    pub http: reqwest::Client,
}

pub(super) fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The claims Apple's Node and Swift clients send (iat present, 5-minute lifetime).
pub(super) fn claims(key: &IssuedKey, bundle_id: &str) -> Value {
    let now = now_secs();
    json!({
        "iss": key.issuer_id,
        "iat": now,
        "exp": now + 300,
        "aud": "appstoreconnect-v1",
        "bid": bundle_id,
    })
}

/// Signs `claims` with `signing_key`'s PEM, naming `kid` in the header.
pub(super) fn sign_token(signing_key: &IssuedKey, kid: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(kid.to_owned());
    let key = EncodingKey::from_ec_pem(signing_key.private_key_pem.as_bytes()).unwrap();
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

pub(super) fn decode_segment(segment: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segment).unwrap()).unwrap()
}

/// The payload of a JWS, without verifying it (signing tests verify separately).
pub(super) fn jws_payload(jws: &str) -> Value {
    decode_segment(jws.split('.').nth(1).unwrap())
}

impl TestSim {
    pub async fn start() -> Self {
        Self::with(SimConfig::default()).await
    }

    pub async fn with(config: SimConfig) -> Self {
        let sim = spawn(config).await.unwrap();
        let key = sim.issue_key();
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .unwrap();
        Self { sim, key, http }
    }

    pub fn token(&self) -> String {
        sign_token(
            &self.key,
            &self.key.key_id,
            &claims(&self.key, &self.sim.seed().bundle_id),
        )
    }

    pub fn url(&self, env: &str, path: &str) -> String {
        let base = match env {
            "sandbox" => self.sim.sandbox_url(),
            _ => self.sim.production_url(),
        };
        format!("{base}{path}")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.call(reqwest::Method::GET, "production", path, None)
            .await
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        env: &str,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut req = self
            .http
            .request(method, self.url(env, path))
            .bearer_auth(self.token())
            .header("Accept", "application/json");
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await.unwrap()
    }

    /// Calls and returns (status, parsed JSON body or Null).
    pub async fn json(
        &self,
        method: reqwest::Method,
        env: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let resp = self.call(method, env, path, body).await;
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        self.json(reqwest::Method::GET, "production", path, None)
            .await
    }
}

/// Asserts an Apple error answer: JSON content type without charset, status = first 3 digits of the code.
pub(super) async fn assert_api_error(resp: reqwest::Response, code: i64) {
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["errorCode"], json!(code), "body: {body}");
    assert!(body["errorMessage"].is_string());
    assert_eq!(i64::from(status), code / 10_000);
    assert_eq!(content_type.as_deref(), Some("application/json"));
}
