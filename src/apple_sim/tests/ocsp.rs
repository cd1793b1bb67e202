//! storedesk's online checker against the simulator's OCSP responder, over real HTTP: each switch of the
//! responder gives the outcome Apple's rules say, and a chain checked good is not asked about again.

use std::time::{Duration, Instant};

use crate::apple::verify::ocsp::{ChainStatus, OnlineChecker};
use crate::apple_sim::OcspMode;

use super::{decode_segment, TestSim};

const DEADLINE: Duration = Duration::from_millis(1500);

/// The x5c of a JWS the simulator signs, as a notification carries it.
fn x5c(t: &TestSim) -> Vec<String> {
    let jws = t.sim.sign_json(&serde_json::json!({"x": 1}));
    let header = decode_segment(jws.split('.').next().unwrap());
    serde_json::from_value(header["x5c"].clone()).unwrap()
}

async fn check_in(mode: OcspMode) -> (ChainStatus, (u64, u64)) {
    let t = TestSim::start().await;
    t.sim.set_ocsp_mode(mode);
    let status = OnlineChecker::new(DEADLINE).unwrap().check(&x5c(&t)).await;
    (status, t.sim.ocsp_requests())
}

#[tokio::test]
async fn a_good_chain_is_asked_about_once_per_certificate_then_cached() {
    let t = TestSim::start().await;
    let checker = OnlineChecker::new(DEADLINE).unwrap();
    let chain = x5c(&t);
    assert_eq!(checker.check(&chain).await, ChainStatus::Good);
    assert_eq!(t.sim.ocsp_requests(), (1, 1));
    assert_eq!(checker.check(&chain).await, ChainStatus::Cached);
    assert_eq!(t.sim.ocsp_requests(), (1, 1));
    assert_eq!(checker.cached_chains(), 1);
}

#[tokio::test]
async fn a_revoked_leaf_or_intermediate_is_revoked() {
    assert_eq!(
        check_in(OcspMode::RevokedLeaf).await.0,
        ChainStatus::Revoked
    );
    assert_eq!(
        check_in(OcspMode::RevokedIntermediate).await.0,
        ChainStatus::Revoked
    );
}

#[tokio::test]
async fn unknown_badly_signed_or_about_another_certificate_is_a_bad_answer() {
    for (mode, says) in [
        (OcspMode::Unknown, "does not know"),
        (OcspMode::BadlySigned, "not signed by the issuer"),
        (OcspMode::WrongCertId, "CertID does not match"),
    ] {
        match check_in(mode).await.0 {
            ChainStatus::BadAnswer(reason) => assert!(reason.contains(says), "{mode:?}: {reason}"),
            other => panic!("{mode:?}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_responder_that_is_down_is_unreachable_and_nothing_is_cached() {
    let t = TestSim::start().await;
    let checker = OnlineChecker::new(DEADLINE).unwrap();
    let chain = x5c(&t);
    t.sim.set_ocsp_mode(OcspMode::Unreachable);
    assert!(matches!(
        checker.check(&chain).await,
        ChainStatus::Unreachable(reason) if reason.contains("503")
    ));
    assert_eq!(checker.cached_chains(), 0);
    // Back up: Apple's retry is checked, and found good.
    t.sim.set_ocsp_mode(OcspMode::Good);
    assert_eq!(checker.check(&chain).await, ChainStatus::Good);
}

#[tokio::test]
async fn a_silent_responder_is_unreachable_within_the_deadline() {
    let t = TestSim::start().await;
    t.sim.set_ocsp_mode(OcspMode::Slow(Duration::from_secs(6)));
    let checker = OnlineChecker::new(DEADLINE).unwrap();
    let started = Instant::now();
    let status = checker.check(&x5c(&t)).await;
    assert!(matches!(status, ChainStatus::Unreachable(_)), "{status:?}");
    assert!(started.elapsed() < DEADLINE * 2, "{:?}", started.elapsed());
}
