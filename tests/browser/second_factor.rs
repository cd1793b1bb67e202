//! Two-step sign-in as a person uses it: set it up on the account page with a code from an authenticator (pyotp,
//! an implementation independent of storedesk's), keep the recovery codes, sign out and sign in with a code.
use std::time::Duration;

use crate::app::{TestApp, ADMIN, PASSWORD};
use crate::driver::Browser;

/// The code of `secret` at UNIX time `at`, from pyotp in `STOREDESK_TEST_PYTHON`'s venv.
fn code(python: &str, secret: &str, at: u64) -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/totp_code.py");
    let out = std::process::Command::new(python)
        .arg(script)
        .arg(secret)
        .arg(at.to_string())
        .output()
        .expect("run pyotp");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_sets_up_two_step_sign_in_and_signs_in_with_a_code() {
    let python = match std::env::var("STOREDESK_TEST_PYTHON") {
        Ok(p) => p,
        Err(_) => {
            assert!(
                std::env::var("STOREDESK_REQUIRE_PYTHON").as_deref() != Ok("1"),
                "Python with pyotp is required (STOREDESK_REQUIRE_PYTHON=1) but STOREDESK_TEST_PYTHON is not set"
            );
            eprintln!("skipped: STOREDESK_TEST_PYTHON is not set; .ci/run provides it (a venv with pyotp)");
            return;
        }
    };
    let app = TestApp::spawn().await;
    let Some(b) = Browser::start("two-step", &app.address).await else {
        return;
    };
    // Codes are picked by time: stay clear of a window's last seconds.
    if now_s() % 30 > 18 {
        tokio::time::sleep(Duration::from_secs(30 - now_s() % 30 + 1)).await;
    }
    b.sign_in(ADMIN, PASSWORD).await;
    b.goto("/account").await;
    b.click_and_wait("form[action='/account/second-factor'] button")
        .await;
    let secret = b.text("#totp-secret").await;
    assert_eq!(secret.len(), 32, "a 160-bit key in base32: {secret}");
    b.assert_clean().await;
    b.screenshot("set-up").await;
    // Confirmed with the previous window's code, so the current one is still unused for the sign-in below.
    b.fill("#code", &code(&python, &secret, now_s() - 30)).await;
    b.click_and_wait("form[action='/account/second-factor/confirm'] button")
        .await;
    let codes = b.text("#recovery-codes").await;
    assert_eq!(
        codes.lines().filter(|l| !l.trim().is_empty()).count(),
        10,
        "{codes}"
    );
    b.assert_clean().await;
    b.screenshot("recovery-codes").await;

    b.click_and_wait("header form[action='/logout'] button")
        .await;
    b.sign_in(ADMIN, PASSWORD).await;
    assert_eq!(b.path().await, "/login/second-step");
    b.fill("#code", &code(&python, &secret, now_s())).await;
    b.click_and_wait("form[action='/login/second-step'] button")
        .await;
    assert_eq!(b.path().await, "/projects");
    b.assert_clean().await;
    b.finish().await;
}
