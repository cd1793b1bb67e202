//! Two-step sign-in (issue 20), black-box: enrolment on the account page, the sign-in's second step with codes
//! computed by pyotp (an implementation independent of storedesk's), replays, old codes, recovery codes, the
//! throttle, the pending cookie, `STOREDESK_REQUIRE_MFA`, and the admin's and the command line's reset.
//!
//! The server keeps real time, so the tests pick their codes by time: a test that needs the previous window's
//! code waits for the next window instead of moving a clock.
use std::time::Duration;

use storedesk::domain::Role;

use super::{account_post, audit, text, user_id};
use crate::helpers::{assert_redirect_to, client, csrf_from, spawn_app_with, TestApp, PASSWORD};
use crate::{both_backends, on_both_backends};

const STEP: u64 = 30;

/// pyotp from `STOREDESK_TEST_PYTHON`, or None with a skip notice (a failure under `STOREDESK_REQUIRE_PYTHON=1`).
struct Pyotp {
    python: String,
}

fn pyotp() -> Option<Pyotp> {
    let missing = |why: &str| {
        if std::env::var("STOREDESK_REQUIRE_PYTHON").as_deref() == Ok("1") {
            panic!("Python with pyotp is required (STOREDESK_REQUIRE_PYTHON=1) but {why}");
        }
        eprintln!("skipped: {why}; .ci/run provides it (STOREDESK_TEST_PYTHON, a venv with pyotp); set STOREDESK_REQUIRE_PYTHON=1 to make this a failure");
        None
    };
    let Ok(python) = std::env::var("STOREDESK_TEST_PYTHON") else {
        return missing("STOREDESK_TEST_PYTHON is not set");
    };
    let ok = std::process::Command::new(&python)
        .args(["-c", "import pyotp"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        return missing(&format!("{python} cannot import pyotp"));
    }
    Some(Pyotp { python })
}

impl Pyotp {
    /// The code of `secret` at UNIX time `at`.
    async fn code(&self, secret: &str, at: u64) -> String {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/totp_code.py");
        let out = tokio::process::Command::new(&self.python)
            .arg(script)
            .arg(secret)
            .arg(at.to_string())
            .output()
            .await
            .expect("run pyotp");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .expect("utf-8")
            .trim()
            .to_string()
    }
}

fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs()
}

/// Waits, when the current 30-second window has less than 12 s left, for the next one, so the codes a test
/// computes from "now" stay in the window they were meant for while the test runs.
async fn settle() {
    let into = now_s() % STEP;
    if into > STEP - 12 {
        tokio::time::sleep(Duration::from_secs(STEP - into + 1)).await;
    }
}

/// Waits for the start of the next window (plus a second).
async fn next_window() {
    let into = now_s() % STEP;
    tokio::time::sleep(Duration::from_secs(STEP - into + 1)).await;
}

fn between<'a>(html: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = html.find(start)? + start.len();
    let to = html[from..].find(end)? + from;
    Some(&html[from..to])
}

/// Starts the set-up from a signed-in client and returns the secret the page shows.
async fn start_enrolment(app: &TestApp, c: &reqwest::Client) -> String {
    let started = account_post(app, c, "/account/second-factor", &[]).await;
    assert_redirect_to(&started, "/account#two-step");
    let page = text(c.get(app.url("/account")).send().await.unwrap()).await;
    let secret = between(&page, "id=\"totp-secret\">", "<")
        .expect("the secret is shown")
        .to_string();
    let uri = between(&page, "id=\"totp-uri\">", "<").expect("the otpauth URI is shown");
    assert!(
        uri.starts_with("otpauth://totp/storedesk:") && uri.contains(&format!("secret={secret}")),
        "{uri}"
    );
    secret
}

/// Enrols the client's user with the previous window's code (so the current window's code is still unused) and
/// returns the secret and the recovery codes shown.
async fn enrol(app: &TestApp, c: &reqwest::Client, otp: &Pyotp) -> (String, Vec<String>) {
    let secret = start_enrolment(app, c).await;
    let code = otp.code(&secret, now_s() - STEP).await;
    let confirmed =
        account_post(app, c, "/account/second-factor/confirm", &[("code", &code)]).await;
    assert_eq!(confirmed.status().as_u16(), 200);
    let page = text(confirmed).await;
    let codes: Vec<String> = between(&page, "id=\"recovery-codes\">", "</pre>")
        .expect("recovery codes shown")
        .lines()
        .map(str::to_string)
        .filter(|l| !l.is_empty())
        .collect();
    (secret, codes)
}

/// A fresh client that typed the right password of a user with two-step sign-in: it holds only the pending cookie.
async fn password_step(app: &TestApp, email: &str) -> reqwest::Client {
    let c = client();
    let response = app.post_login(&c, email, PASSWORD).await;
    assert_redirect_to(&response, "/login/second-step");
    c
}

async fn send_code(app: &TestApp, c: &reqwest::Client, code: &str) -> reqwest::Response {
    let page = text(c.get(app.url("/login/second-step")).send().await.unwrap()).await;
    let csrf = csrf_from(&page);
    c.post(app.url("/login/second-step"))
        .form(&[("code", code), ("csrf_token", &csrf)])
        .send()
        .await
        .unwrap()
}

const WRONG_CODE: &str =
    "This code is not right. Type the 6-digit code your app shows now, or one of your recovery codes.";
const REPLAYED: &str =
    "This code was already used. Wait for the next code in your app and type that one.";

both_backends!(
    enrolment_needs_a_right_code_and_shows_recovery_codes_once,
    |app| {
        let Some(otp) = pyotp() else { return };
        settle().await;
        let admin = app.session(Role::Admin).await;
        let id = user_id(&app, &admin.email).await;
        let secret = start_enrolment(&app, &admin.client).await;
        // Not yet on: the row waits, and sign-in still needs only the password.
        assert!(!app.store.has_second_factor(id).await.unwrap());
        let stale = otp.code(&secret, now_s() - 4 * STEP).await;
        let refused = account_post(
            &app,
            &admin.client,
            "/account/second-factor/confirm",
            &[("code", &stale)],
        )
        .await;
        assert_eq!(refused.status().as_u16(), 422);
        assert!(text(refused).await.contains(
        "This code is not right. Type the 6-digit code your app shows now for storedesk; nothing was turned on."
    ));
        assert!(!app.store.has_second_factor(id).await.unwrap());
        let c = client();
        assert_redirect_to(
            &app.post_login(&c, &admin.email, PASSWORD).await,
            "/projects",
        );

        // The secret is sealed at rest: neither its base32 nor its bytes are in the row.
        let row = app
            .store
            .second_factor(id, "totp")
            .await
            .unwrap()
            .expect("row");
        assert!(!row
            .sealed_secret
            .windows(secret.len())
            .any(|w| w == secret.as_bytes()));

        let code = otp.code(&secret, now_s()).await;
        let confirmed = account_post(
            &app,
            &admin.client,
            "/account/second-factor/confirm",
            &[("code", &code)],
        )
        .await;
        assert_eq!(confirmed.status().as_u16(), 200);
        let page = text(confirmed).await;
        let codes: Vec<&str> = between(&page, "id=\"recovery-codes\">", "</pre>")
            .unwrap()
            .lines()
            .filter(|l| !l.is_empty())
            .collect();
        assert_eq!(codes.len(), 10, "{codes:?}");
        assert!(app.store.has_second_factor(id).await.unwrap());
        assert_eq!(app.store.recovery_codes_left(id).await.unwrap(), 10);
        assert_eq!(audit(&app, "auth.second_factor_enrolled").await.len(), 1);
        // Shown once: neither the secret nor the codes come back.
        let again = text(admin.get("/account").await).await;
        assert!(!again.contains(&secret) && !again.contains(codes[0]));
        assert!(again.contains("10 recovery codes left"));
        // The confirming code was used: it cannot sign in.
        let c = password_step(&app, &admin.email).await;
        let replay = send_code(&app, &c, &code).await;
        assert_eq!(replay.status().as_u16(), 422);
        assert!(text(replay).await.contains(REPLAYED));
    }
);

both_backends!(
    sign_in_takes_a_current_code_once_and_refuses_a_code_two_windows_old,
    |app| {
        let Some(otp) = pyotp() else { return };
        settle().await;
        let lead = app.session(Role::Lead).await;
        let (secret, _) = enrol(&app, &lead.client, &otp).await;

        let c = password_step(&app, &lead.email).await;
        // The pending cookie alone opens nothing.
        assert_redirect_to(
            &c.get(app.url("/projects")).send().await.unwrap(),
            "/login?next=/projects",
        );
        assert_redirect_to(
            &c.get(app.url("/account")).send().await.unwrap(),
            "/login?next=/account",
        );
        let old = otp.code(&secret, now_s() - 2 * STEP).await;
        let refused = send_code(&app, &c, &old).await;
        assert_eq!(refused.status().as_u16(), 422);
        assert!(text(refused).await.contains(WRONG_CODE));
        let current = otp.code(&secret, now_s()).await;
        let passed = send_code(&app, &c, &current).await;
        assert_redirect_to(&passed, "/projects");
        assert_eq!(
            c.get(app.url("/projects"))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16(),
            200
        );

        // The same code again, from another sign-in: refused as used.
        let c2 = password_step(&app, &lead.email).await;
        let replay = send_code(&app, &c2, &current).await;
        assert_eq!(replay.status().as_u16(), 422);
        assert!(text(replay).await.contains(REPLAYED));
        assert_redirect_to(
            &c2.get(app.url("/projects")).send().await.unwrap(),
            "/login?next=/projects",
        );

        let passed = audit(&app, "auth.second_factor_passed").await;
        assert_eq!(passed.len(), 1);
        assert!(passed[0].detail.contains("authenticator code"));
        let failed = audit(&app, "auth.second_factor_failed").await;
        assert_eq!(failed.len(), 2);
        assert!(failed.iter().any(|e| e.detail.contains("already used")));
        assert!(failed
            .iter()
            .all(|e| !e.detail.contains(&current) && !e.detail.contains(&old)));
    }
);

both_backends!(a_code_from_the_previous_window_is_accepted, |app| {
    let Some(otp) = pyotp() else { return };
    settle().await;
    let support = app.session(Role::Support).await;
    let (secret, _) = enrol(&app, &support.client, &otp).await;
    // The window the set-up was confirmed in is over; its code is now the previous window's, and unused.
    let current_window_start = now_s() / STEP * STEP;
    next_window().await;
    let c = password_step(&app, &support.email).await;
    let previous = otp.code(&secret, current_window_start).await;
    assert_redirect_to(&send_code(&app, &c, &previous).await, "/projects");
});

both_backends!(a_recovery_code_signs_in_once_and_only_once, |app| {
    let Some(otp) = pyotp() else { return };
    let admin = app.session(Role::Admin).await;
    let id = user_id(&app, &admin.email).await;
    let (_, codes) = enrol(&app, &admin.client, &otp).await;
    let c = password_step(&app, &admin.email).await;
    // Typed in upper case with spaces for dashes: still the same code.
    let typed = codes[3].to_uppercase().replace('-', " ");
    assert_redirect_to(&send_code(&app, &c, &typed).await, "/projects");
    assert_eq!(app.store.recovery_codes_left(id).await.unwrap(), 9);
    let passed = audit(&app, "auth.second_factor_passed").await;
    assert!(
        passed[0]
            .detail
            .contains("recovery code, now used up; 9 left"),
        "{}",
        passed[0].detail
    );
    assert!(!passed[0].detail.contains(&codes[3]));

    let c2 = password_step(&app, &admin.email).await;
    let again = send_code(&app, &c2, &codes[3]).await;
    assert_eq!(again.status().as_u16(), 422);
    assert!(text(again).await.contains(WRONG_CODE));

    // New codes (with the password) replace the old ones.
    let made = account_post(
        &app,
        &admin.client,
        "/account/second-factor/recovery-codes",
        &[("current_password", PASSWORD)],
    )
    .await;
    assert_eq!(made.status().as_u16(), 200);
    let page = text(made).await;
    assert_eq!(
        between(&page, "id=\"recovery-codes\">", "</pre>")
            .unwrap()
            .lines()
            .filter(|l| !l.is_empty())
            .count(),
        10
    );
    let c3 = password_step(&app, &admin.email).await;
    assert_eq!(send_code(&app, &c3, &codes[4]).await.status().as_u16(), 422);
});

both_backends!(wrong_codes_count_like_failed_sign_ins, |app| {
    let Some(otp) = pyotp() else { return };
    settle().await;
    let lead = app.session(Role::Lead).await;
    let (secret, _) = enrol(&app, &lead.client, &otp).await;
    let c = password_step(&app, &lead.email).await;
    for _ in 0..5 {
        let wrong = send_code(&app, &c, "000000").await;
        // One in a million: 000000 may be this window's code; then the test would pass a right code, so check.
        assert_eq!(wrong.status().as_u16(), 422);
    }
    let current = otp.code(&secret, now_s()).await;
    let locked = send_code(&app, &c, &current).await;
    assert_eq!(locked.status().as_u16(), 429);
    assert!(text(locked)
        .await
        .contains("Too many wrong codes. Sign-in is paused for"));
    assert_redirect_to(
        &c.get(app.url("/projects")).send().await.unwrap(),
        "/login?next=/projects",
    );
    assert_eq!(audit(&app, "auth.second_factor_locked").await.len(), 1);
});

both_backends!(the_pending_sign_in_is_single_use_and_expires, |app| {
    use sqlx::Connection as _;
    let Some(otp) = pyotp() else { return };
    settle().await;
    let admin = app.session(Role::Admin).await;
    let (secret, codes) = enrol(&app, &admin.client, &otp).await;
    let c = password_step(&app, &admin.email).await;
    let pending = c.get(app.url("/login/second-step")).send().await.unwrap();
    assert_eq!(pending.status().as_u16(), 200);
    let csrf = csrf_from(&text(pending).await);
    // Expired: five minutes are made to have passed in the database.
    sqlx::any::install_default_drivers();
    let mut db = sqlx::AnyConnection::connect(app.settings.database_url.as_str())
        .await
        .unwrap();
    sqlx::query("UPDATE pending_sign_ins SET expires_at = created_at")
        .execute(&mut db)
        .await
        .unwrap();
    let current = otp.code(&secret, now_s()).await;
    let gone = c
        .post(app.url("/login/second-step"))
        .form(&[("code", current.as_str()), ("csrf_token", &csrf)])
        .send()
        .await
        .unwrap();
    assert_redirect_to(&gone, "/login");
    assert_eq!(
        c.get(app.url("/login/second-step"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        303
    );
    // A recovery code was not spent on the expired sign-in either.
    let c2 = password_step(&app, &admin.email).await;
    assert_redirect_to(&send_code(&app, &c2, &codes[0]).await, "/projects");
    // Used: the same pending cookie cannot sign in a second browser.
    let cookie = "storedesk_pending_sign_in";
    let c3 = password_step(&app, &admin.email).await;
    let page = text(c3.get(app.url("/login/second-step")).send().await.unwrap()).await;
    assert!(page.contains("Two-step sign-in"));
    assert_redirect_to(&send_code(&app, &c3, &codes[1]).await, "/projects");
    let left: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM pending_sign_ins")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(left.0, 0, "no {cookie} row is left once used");
});

on_both_backends!(
    required_roles_are_sent_to_enrol_before_anything_else,
    |backend| spawn_app_with(backend, |s| s.require_mfa = vec![Role::Admin]),
    app => {
        let Some(otp) = pyotp() else { return };
        settle().await;
        let admin = app.session(Role::Admin).await;
        for path in ["/projects", "/admin/users", "/admin/audit", "/"] {
            assert_redirect_to(&admin.get(path).await, "/account");
        }
        let page = text(admin.get("/account").await).await;
        assert!(page.contains("Set up two-step sign-in before going on."));
        // Another role is not held.
        let support = app.session(Role::Support).await;
        assert_eq!(support.get("/projects").await.status().as_u16(), 200);
        enrol(&app, &admin.client, &otp).await;
        assert_eq!(admin.get("/admin/users").await.status().as_u16(), 200);

        // An issued password comes first: its holder cannot start the set-up before choosing their own.
        let hash = storedesk::auth::password::hash_password(secrecy::SecretString::from(PASSWORD))
            .await
            .unwrap();
        let issued = app
            .store
            .create_user(
                &storedesk::domain::Email::parse("new-admin@example.com").unwrap(),
                &hash,
                Role::Admin,
                true,
                &storedesk::store::Actor::system("test"),
            )
            .await
            .unwrap();
        let c = client();
        assert_redirect_to(&app.post_login(&c, "new-admin@example.com", PASSWORD).await, "/account");
        let page = text(c.get(app.url("/account")).send().await.unwrap()).await;
        assert!(page.contains("Choose your own password before going on."));
        assert!(!page.contains("Set up two-step sign-in before going on."));
        let started = account_post(&app, &c, "/account/second-factor", &[]).await;
        assert_redirect_to(&started, "/account");
        assert!(app.store.second_factor(issued.id, "totp").await.unwrap().is_none());
    }
);

both_backends!(an_admin_and_the_command_line_reset_a_second_factor, |app| {
    let Some(otp) = pyotp() else { return };
    let admin = app.session(Role::Admin).await;
    let lead = app.session(Role::Lead).await;
    let id = user_id(&app, &lead.email).await;
    enrol(&app, &lead.client, &otp).await;
    let users = text(admin.get("/admin/users").await).await;
    assert!(users.contains(&format!("/admin/users/{id}/reset-second-factor")));
    let reset = admin
        .post_form(
            "/admin/users",
            &format!("/admin/users/{id}/reset-second-factor"),
            &[],
        )
        .await;
    assert_redirect_to(&reset, "/admin/users");
    assert!(!app.store.has_second_factor(id).await.unwrap());
    assert_eq!(app.store.recovery_codes_left(id).await.unwrap(), 0);
    // The lead's session ended; the password alone signs in again.
    assert_redirect_to(&lead.get("/projects").await, "/login?next=/projects");
    let c = client();
    assert_redirect_to(
        &app.post_login(&c, &lead.email, PASSWORD).await,
        "/projects",
    );
    let logged = audit(&app, "user.second_factor_reset").await;
    assert_eq!(logged.len(), 1);
    assert_eq!(logged[0].target, lead.email);

    // The command line, for the last admin.
    let admin_id = user_id(&app, &admin.email).await;
    enrol(&app, &admin.client, &otp).await;
    assert!(app.store.has_second_factor(admin_id).await.unwrap());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_storedesk"))
        .args(["user", "reset-mfa", "--email", "Admin@Example.com"])
        .env("STOREDESK_DATABASE_URL", app.settings.database_url.as_str())
        .output()
        .expect("run storedesk");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout)
        .contains("Turned off two-step sign-in for admin@example.com"));
    assert!(!app.store.has_second_factor(admin_id).await.unwrap());
    assert_eq!(audit(&app, "user.second_factor_reset").await.len(), 2);
});

on_both_backends!(
    a_required_role_cannot_turn_off_its_last_second_factor,
    |backend| spawn_app_with(backend, |s| s.require_mfa = vec![Role::Admin]),
    app => {
        let Some(otp) = pyotp() else { return };
        settle().await;
        let admin = app.session(Role::Admin).await;
        let lead = app.session(Role::Lead).await;
        let admin_id = user_id(&app, &admin.email).await;
        let lead_id = user_id(&app, &lead.email).await;
        enrol(&app, &admin.client, &otp).await;
        enrol(&app, &lead.client, &otp).await;
        let wrong = account_post(
            &app,
            &admin.client,
            "/account/second-factor/disable",
            &[("current_password", "not my password")],
        )
        .await;
        assert_eq!(wrong.status().as_u16(), 422);
        assert!(text(wrong).await.contains("This is not your current password."));
        let refused = account_post(
            &app,
            &admin.client,
            "/account/second-factor/disable",
            &[("current_password", PASSWORD)],
        )
        .await;
        assert_eq!(refused.status().as_u16(), 409);
        assert!(text(refused).await.contains(
            "Your role must sign in with two steps, and this is your last second factor, so it stays. Add a passkey or an authenticator app first; nothing was removed."
        ));
        assert!(app.store.has_totp(admin_id).await.unwrap());
        assert_eq!(app.store.recovery_codes_left(admin_id).await.unwrap(), 10);
        assert!(audit(&app, "auth.second_factor_disabled").await.is_empty());
        assert_eq!(admin.get("/admin/users").await.status().as_u16(), 200);

        // A role that is not required turns it off; the recovery codes go with it.
        let off = account_post(
            &app,
            &lead.client,
            "/account/second-factor/disable",
            &[("current_password", PASSWORD)],
        )
        .await;
        assert_redirect_to(&off, "/account");
        assert!(text(lead.get("/account").await).await.contains(
            "Two-step sign-in is off, and your recovery codes no longer work. You sign in with your password alone."
        ));
        assert!(!app.store.has_second_factor(lead_id).await.unwrap());
        assert_eq!(app.store.recovery_codes_left(lead_id).await.unwrap(), 0);
        let logged = audit(&app, "auth.second_factor_disabled").await;
        assert_eq!(logged.len(), 1);
        assert_eq!(logged[0].target, lead.email);
    }
);

both_backends!(wrong_confirmation_codes_count_like_failed_sign_ins, |app| {
    let Some(otp) = pyotp() else { return };
    settle().await;
    let admin = app.session(Role::Admin).await;
    let id = user_id(&app, &admin.email).await;
    let secret = start_enrolment(&app, &admin.client).await;
    // A code that is none of the last windows' (checked with pyotp), so each try below is wrong.
    let mut wrong = 0u32;
    let wrong_code = loop {
        let candidate = format!("{wrong:06}");
        let mut right = false;
        for back in 0..3 {
            right |= otp.code(&secret, now_s() - back * STEP).await == candidate;
        }
        if !right {
            break candidate;
        }
        wrong += 1;
    };
    for _ in 0..5 {
        let refused = account_post(
            &app,
            &admin.client,
            "/account/second-factor/confirm",
            &[("code", &wrong_code)],
        )
        .await;
        assert_eq!(refused.status().as_u16(), 422);
        assert!(text(refused).await.contains(
            "This code is not right. Type the 6-digit code your app shows now for storedesk; nothing was turned on."
        ));
    }
    // Paused: even the right code is refused now, and so is a password sign-in from this address.
    let right = otp.code(&secret, now_s()).await;
    let paused = account_post(
        &app,
        &admin.client,
        "/account/second-factor/confirm",
        &[("code", &right)],
    )
    .await;
    assert_eq!(paused.status().as_u16(), 429);
    let page = text(paused).await;
    assert!(
        page.contains(
            "Too many wrong codes. Confirming is paused for 15 minutes; try again then. Nothing was turned on."
        ),
        "{page}"
    );
    assert!(!app.store.has_second_factor(id).await.unwrap());
    assert_eq!(app.store.recovery_codes_left(id).await.unwrap(), 0);
    assert_eq!(
        app.post_login(&client(), &admin.email, PASSWORD)
            .await
            .status()
            .as_u16(),
        429
    );
    assert_eq!(
        audit(&app, "auth.second_factor_confirm_failed").await.len(),
        5
    );
    assert!(audit(&app, "auth.second_factor_enrolled").await.is_empty());
});

both_backends!(
    the_master_key_rotation_reseals_second_factors_and_their_codes_still_work,
    |app| {
        use secrecy::ExposeSecret as _;
        use storedesk::auth::second_factor::{verify, Method, StepOutcome};
        use storedesk::crypto::{Keyring, MasterKey};
        let Some(otp) = pyotp() else { return };
        let lead = app.session(Role::Lead).await;
        let id = user_id(&app, &lead.email).await;
        // Enrolled with the previous window's code: the current window's is still unused.
        let (secret, _) = enrol(&app, &lead.client, &otp).await;
        let old = app.settings.master_key.clone();
        let new = MasterKey::generate();

        let out = std::process::Command::new(env!("CARGO_BIN_EXE_storedesk"))
            .args(["master-key", "rotate"])
            .env("STOREDESK_DATABASE_URL", app.settings.database_url.as_str())
            .env(
                "STOREDESK_MASTER_KEY",
                old.to_base64_secret().expose_secret(),
            )
            .env(
                "STOREDESK_NEW_MASTER_KEY",
                new.to_base64_secret().expose_secret(),
            )
            .output()
            .expect("run storedesk");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("and 1 second-factor secret(s)"), "{stdout}");
        assert!(
            !stdout.contains(&secret) && !String::from_utf8_lossy(&out.stderr).contains(&secret)
        );

        // Sealed under the new key: the old one alone cannot open it, the new one alone can.
        let row = app
            .store
            .second_factor(id, "totp")
            .await
            .unwrap()
            .expect("the TOTP row");
        assert_eq!(row.master_key_id, new.key_id());
        let code = otp.code(&secret, now_s()).await;
        let refused = verify(&app.store, &Keyring::new(old, Vec::new()), id, &code).await;
        assert!(
            refused.is_err(),
            "the old master key still opens the secret"
        );
        let outcome = verify(
            &app.store,
            &Keyring::new(new.clone(), Vec::new()),
            id,
            &code,
        )
        .await
        .unwrap();
        assert_eq!(outcome, StepOutcome::Passed(Method::Totp));

        // A second run has nothing left to do.
        let again = std::process::Command::new(env!("CARGO_BIN_EXE_storedesk"))
            .args(["master-key", "rotate"])
            .env("STOREDESK_DATABASE_URL", app.settings.database_url.as_str())
            .env(
                "STOREDESK_MASTER_KEY",
                new.to_base64_secret().expose_secret(),
            )
            .env(
                "STOREDESK_NEW_MASTER_KEY",
                new.to_base64_secret().expose_secret(),
            )
            .output()
            .expect("run storedesk");
        assert!(String::from_utf8_lossy(&again.stdout).contains("and 0 second-factor secret(s)"));
    }
);
