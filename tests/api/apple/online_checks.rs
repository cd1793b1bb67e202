//! `STOREDESK_APPLE_ONLINE_CHECKS`: live notifications' certificates checked for revocation (OCSP) against the
//! simulator's responder, over real HTTP, on both databases.
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use storedesk::apple_sim::{OcspMode, SimConfig, SimEnvironment};

use super::notifications::{body, deliver, payload_of, renewal, webhook_url};
use crate::helpers::{ready_with, Ready};
use crate::on_both_backends;

async fn online(backend: crate::helpers::Backend) -> Option<Ready> {
    ready_with(backend, SimConfig::default(), |s| {
        s.apple.online_checks = true
    })
    .await
}

fn error(code: &str, message: &str) -> Value {
    json!({"error": {"code": code, "message": message, "request_id": "<id>"}})
}

async fn count(r: &Ready) -> i64 {
    r.app.store.count_notifications(r.project.id).await.unwrap()
}

const REVOKED: &str = "The certificate that signed this notification was revoked, according to Apple's revocation check (OCSP). Nothing was stored.";
const BAD: &str = "The revocation check (OCSP) of the certificates that signed this notification gave an answer that could not be trusted or did not say they are good. Nothing was stored.";
const UNREACHABLE: &str = "The revocation check (OCSP) of the certificates that signed this notification could not be made within 5 seconds, so it was not stored; Apple will send it again.";

/// POSTs and returns the status, the Retry-After header and the body.
async fn deliver_raw(url: &str, jws: &str) -> (u16, Option<String>, Value) {
    let response = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(body(jws))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let retry = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let mut json: Value = response.json().await.unwrap();
    if let Some(id) = json.pointer_mut("/error/request_id") {
        *id = json!("<id>");
    }
    (status, retry, json)
}

on_both_backends!(a_good_chain_is_checked_once_then_cached, |backend| online(backend), r => {
    let url = webhook_url(&r).await;
    let first = renewal(&r.sim, SimEnvironment::Sandbox);
    assert_eq!(deliver(&url, body(&first)).await.0, 200);
    assert_eq!(r.sim.ocsp_requests(), (1, 1), "one request per certificate");
    let second = renewal(&r.sim, SimEnvironment::Sandbox);
    assert_ne!(payload_of(&first)["notificationUUID"], payload_of(&second)["notificationUUID"]);
    assert_eq!(deliver(&url, body(&second)).await.0, 200);
    assert_eq!(r.sim.ocsp_requests(), (1, 1), "the second is answered from the cache");
    assert_eq!(count(&r).await, 2);
    let m = r.app.metrics().await;
    assert!(m.contains("storedesk_apple_online_checks_total{outcome=\"good\"} 1\n"), "{m}");
    assert!(m.contains("storedesk_apple_online_checks_total{outcome=\"cached\"} 1\n"), "{m}");
});

on_both_backends!(a_revoked_leaf_or_intermediate_is_refused_and_nothing_stored, |backend| online(backend), r => {
    let url = webhook_url(&r).await;
    for mode in [OcspMode::RevokedLeaf, OcspMode::RevokedIntermediate] {
        r.sim.set_ocsp_mode(mode);
        let jws = renewal(&r.sim, SimEnvironment::Sandbox);
        assert_eq!(deliver(&url, body(&jws)).await, (400, error("revoked", REVOKED)), "{mode:?}");
    }
    assert_eq!(count(&r).await, 0);
});

on_both_backends!(an_untrustworthy_answer_is_a_verification_failure, |backend| online(backend), r => {
    let url = webhook_url(&r).await;
    for mode in [OcspMode::BadlySigned, OcspMode::WrongCertId, OcspMode::Unknown] {
        r.sim.set_ocsp_mode(mode);
        let jws = renewal(&r.sim, SimEnvironment::Sandbox);
        assert_eq!(
            deliver(&url, body(&jws)).await,
            (400, error("verification_failure", BAD)),
            "{mode:?}"
        );
    }
    assert_eq!(count(&r).await, 0);
});

on_both_backends!(an_unreachable_responder_gives_503_then_apples_retry_is_stored, |backend| online(backend), r => {
    let url = webhook_url(&r).await;
    let jws = renewal(&r.sim, SimEnvironment::Sandbox);
    r.sim.set_ocsp_mode(OcspMode::Unreachable);
    let (status, retry, answer) = deliver_raw(&url, &jws).await;
    assert_eq!((status, answer), (503, error("online_check_unavailable", UNREACHABLE)));
    assert!(retry.is_some_and(|s| s.parse::<u64>().is_ok_and(|n| n > 0)));
    assert_eq!(count(&r).await, 0);
    r.sim.set_ocsp_mode(OcspMode::Good);
    assert_eq!(deliver(&url, body(&jws)).await.0, 200);
    assert_eq!(count(&r).await, 1);
});

on_both_backends!(a_silent_responder_gives_503_within_the_deadline, |backend| online(backend), r => {
    let url = webhook_url(&r).await;
    r.sim.set_ocsp_mode(OcspMode::Slow(Duration::from_secs(30)));
    let jws = renewal(&r.sim, SimEnvironment::Sandbox);
    let started = Instant::now();
    let (status, _, answer) = deliver_raw(&url, &jws).await;
    assert_eq!((status, answer), (503, error("online_check_unavailable", UNREACHABLE)));
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    assert_eq!(count(&r).await, 0);
});

on_both_backends!(with_online_checks_off_no_ocsp_request_is_made, |backend| ready_with(backend, SimConfig::default(), |_| {}), r => {
    let url = webhook_url(&r).await;
    r.sim.set_ocsp_mode(OcspMode::RevokedLeaf);
    let jws = renewal(&r.sim, SimEnvironment::Sandbox);
    assert_eq!(deliver(&url, body(&jws)).await.0, 200);
    assert_eq!(r.sim.ocsp_requests(), (0, 0));
});

#[test]
fn a_value_other_than_true_or_false_is_refused_at_start() {
    use secrecy::ExposeSecret as _;
    let master = storedesk::crypto::MasterKey::generate();
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_storedesk"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("STOREDESK_DATA_DIR", dir.path())
        .env(
            "STOREDESK_MASTER_KEY",
            master.to_base64_secret().expose_secret(),
        )
        .env("STOREDESK_APPLE_ONLINE_CHECKS", "yes")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains(
            "STOREDESK_APPLE_ONLINE_CHECKS is set but wrong: it should be true or false."
        ),
        "{said}"
    );
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "nothing created"
    );
}

on_both_backends!(a_backfill_keeps_the_offline_check_with_online_checks_on, |backend| online(backend), r => {
    use crate::projects::notifications::signed::{day, DAY_MS};
    // A responder that would refuse everything: the backfill must not ask it.
    r.sim.set_ocsp_mode(OcspMode::RevokedLeaf);
    let now = storedesk::clock::now_ms();
    let log = "/projects/demo/notifications";
    let response = r
        .admin
        .post_form(
            log,
            "/projects/demo/notifications/backfill",
            &[
                ("start", &day(now - 10 * DAY_MS)),
                ("end", &day(now)),
                ("environment", "Production"),
            ],
        )
        .await;
    crate::helpers::assert_redirect_to(&response, &format!("{log}#backfill"));
    let job = crate::projects::notifications::backfill::finished(&r.app, r.project.id).await;
    assert_eq!(job.status.as_str(), "done", "{:?}", job.error);
    assert!(job.new_count > 0);
    assert_eq!(job.rejected, 0);
    assert_eq!(r.sim.ocsp_requests(), (0, 0));
});
