use std::time::Duration;

use serde_json::json;

use super::{assert_api_error, TestSim};
use crate::apple_sim::{Fault, SimConfig};

#[tokio::test]
async fn an_injected_api_error_applies_to_the_next_calls_only() {
    let t = TestSim::start().await;
    let path = format!(
        "/inApps/v1/transactions/{}",
        t.sim.seed().active_monthly.transaction_id
    );
    t.sim.inject_fault(Fault::ApiError {
        code: 5_000_001,
        count: 2,
    });
    assert_api_error(t.get(&path).await, 5_000_001).await;
    assert_api_error(t.get(&path).await, 5_000_001).await;
    assert_eq!(t.get(&path).await.status().as_u16(), 200);
    assert_eq!(t.sim.request_count(), 3);
}

#[tokio::test]
async fn a_rate_limited_fault_carries_retry_after_in_epoch_milliseconds() {
    let t = TestSim::start().await;
    let path = format!(
        "/inApps/v1/transactions/{}",
        t.sim.seed().active_monthly.transaction_id
    );
    t.sim.inject_fault(Fault::RateLimited {
        retry_after_ms: 30_000,
        count: 1,
    });
    let resp = t.get(&path).await;
    let retry_after: i64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let now = chrono::Utc::now().timestamp_millis();
    assert!((now + 25_000..=now + 31_000).contains(&retry_after));
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(
        body,
        json!({ "errorCode": 4_290_000, "errorMessage": "Rate limit exceeded." })
    );
}

#[tokio::test]
async fn garbage_and_hang_faults_break_the_transport() {
    let t = TestSim::start().await;
    let path = format!(
        "/inApps/v1/transactions/{}",
        t.sim.seed().active_monthly.transaction_id
    );
    t.sim.inject_fault(Fault::Garbage { count: 1 });
    let resp = t.get(&path).await;
    assert_eq!(resp.status().as_u16(), 200);
    let text = resp.text().await.unwrap();
    assert!(serde_json::from_str::<serde_json::Value>(&text).is_err());

    t.sim.inject_fault(Fault::Hang {
        seconds: 2,
        count: 1,
    });
    let err = t
        .http
        .get(t.url("production", &path))
        .bearer_auth(t.token())
        .timeout(Duration::from_millis(300))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout());
}

#[tokio::test]
async fn faults_injected_over_http_and_admin_calls_never_consume_them() {
    let t = TestSim::start().await;
    let base = t.sim.base_url();
    let resp = t
        .http
        .post(format!("{base}/sim/faults"))
        .json(&json!({ "type": "ApiError", "code": 4_040_002 }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 204);
    let seed = t.http.get(format!("{base}/sim/seed")).send().await.unwrap();
    assert_eq!(seed.status().as_u16(), 200);
    let path = format!(
        "/inApps/v1/subscriptions/{}",
        t.sim.seed().active_monthly.transaction_id
    );
    assert_api_error(t.get(&path).await, 4_040_002).await;
    assert_eq!(t.get(&path).await.status().as_u16(), 200);
}

#[tokio::test]
async fn hourly_rate_limits_are_per_endpoint_and_a_tenth_in_sandbox() {
    let t = TestSim::with(SimConfig {
        rate_limits: true,
        rate_limit_budget: Some(3),
        ..SimConfig::default()
    })
    .await;
    let seed = t.sim.seed();
    let info = format!(
        "/inApps/v1/transactions/{}",
        seed.active_monthly.transaction_id
    );
    for _ in 0..3 {
        assert_eq!(t.get(&info).await.status().as_u16(), 200);
    }
    let resp = t.get(&info).await;
    let retry_after: i64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after > chrono::Utc::now().timestamp_millis() + 3_500_000);
    assert_api_error(resp, 4_290_000).await;
    // Another endpoint has its own budget.
    let statuses = format!(
        "/inApps/v1/subscriptions/{}",
        seed.active_monthly.transaction_id
    );
    assert_eq!(t.get(&statuses).await.status().as_u16(), 200);

    let first = t.call(reqwest::Method::GET, "sandbox", &info, None).await;
    assert_eq!(first.status().as_u16(), 200);
    let second = t.call(reqwest::Method::GET, "sandbox", &info, None).await;
    assert_api_error(second, 4_290_000).await;
}

#[tokio::test]
async fn an_answer_delay_holds_every_api_answer_back() {
    let t = TestSim::with(SimConfig {
        answer_delay: Duration::from_millis(60),
        ..SimConfig::default()
    })
    .await;
    let path = format!(
        "/inApps/v1/transactions/{}",
        t.sim.seed().active_monthly.transaction_id
    );
    for _ in 0..2 {
        let asked = std::time::Instant::now();
        let resp = t.get(&path).await;
        // A lower bound only: the sleep cannot end early, however fast or slow the machine.
        assert!(asked.elapsed() >= Duration::from_millis(60));
        assert_eq!(resp.status().as_u16(), 200);
    }
}
