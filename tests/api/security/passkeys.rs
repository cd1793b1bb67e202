//! Passkeys (issue 20), black-box over HTTP on both databases: enrolment on the account page and the sign-in's
//! second step, driven by a software passkey written apart from webauthn-rs (`soft_passkey`); wrong challenges,
//! other origins, replays, another user's passkey, a counter that goes backwards, expired and used-up ceremonies,
//! removal, the required role's last second factor, and the admin's and command line's reset. Every refusal is
//! checked for its sentence and for nothing stored.
use serde_json::Value;
use storedesk::domain::Role;

use super::soft_passkey::{b64, Bend, SoftPasskey};
use super::{account_post, audit, text, user_id};
use crate::helpers::{
    assert_redirect_to, client, csrf_from, spawn_app, spawn_app_with, Backend, TestApp, PASSWORD,
};
use crate::on_both_backends;

/// Makes a bad answer from the user's passkey, another user's passkey and the options.
type AnswerMaker = dyn Fn(&mut SoftPasskey, &mut SoftPasskey, &Value) -> Value;

/// The app with `STOREDESK_PUBLIC_URL=http://localhost:PORT`: passkeys need a host name, not an IP address.
async fn on_localhost(backend: Backend, require: Vec<Role>) -> Option<TestApp> {
    spawn_app_with(backend, |s| {
        s.public_url = format!("http://localhost:{}", s.bind.port());
        s.require_mfa = require;
    })
    .await
}

fn origin(app: &TestApp) -> String {
    format!("http://localhost:{}", app.port)
}

/// A sentence as a page shows it (askama escapes HTML's special characters).
fn html(sentence: &str) -> String {
    sentence
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

async fn passkeys(app: &TestApp, email: &str) -> usize {
    app.store
        .passkeys_of(user_id(app, email).await)
        .await
        .expect("passkeys")
        .len()
}

async fn db(app: &TestApp) -> sqlx::AnyConnection {
    use sqlx::Connection as _;
    sqlx::any::install_default_drivers();
    sqlx::AnyConnection::connect(app.settings.database_url.as_str())
        .await
        .expect("connect")
}

/// Forgets the failed sign-ins so far, so a test can make more refusals than the throttle lets through.
async fn forgive(app: &TestApp) {
    sqlx::query("DELETE FROM login_failures")
        .execute(&mut db(app).await)
        .await
        .unwrap();
}

/// Asks for the options to add a passkey named `name`.
async fn registration_options(app: &TestApp, c: &reqwest::Client, name: &str) -> reqwest::Response {
    account_post(app, c, "/account/passkeys/options", &[("name", name)]).await
}

async fn options_json(response: reqwest::Response) -> Value {
    assert_eq!(response.status().as_u16(), 200, "options");
    assert_eq!(
        response
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    response.json().await.expect("JSON options")
}

async fn refusal(response: reqwest::Response, status: u16) -> String {
    assert_eq!(response.status().as_u16(), status);
    let json: Value = response.json().await.expect("JSON refusal");
    json["error"]
        .as_str()
        .expect("an error sentence")
        .to_string()
}

async fn add(app: &TestApp, c: &reqwest::Client, credential: &str) -> reqwest::Response {
    account_post(app, c, "/account/passkeys", &[("credential", credential)]).await
}

/// Adds a passkey named `name` for the client's user and returns it.
async fn enrol(app: &TestApp, c: &reqwest::Client, name: &str) -> SoftPasskey {
    let mut key = SoftPasskey::new(&origin(app));
    let options = options_json(registration_options(app, c, name).await).await;
    assert_eq!(options["publicKey"]["rp"]["id"], "localhost");
    let answer = key.register(&options);
    let added = add(app, c, &answer.to_string()).await;
    assert_redirect_to(&added, "/account#two-step");
    key
}

/// A fresh client that typed the right password of a user with a second factor.
async fn password_step(app: &TestApp, email: &str) -> reqwest::Client {
    let c = client();
    assert_redirect_to(
        &app.post_login(&c, email, PASSWORD).await,
        "/login/second-step",
    );
    c
}

async fn second_step_page(app: &TestApp, c: &reqwest::Client) -> String {
    let page = c
        .get(app.url("/login/second-step"))
        .send()
        .await
        .expect("GET");
    assert_eq!(page.status().as_u16(), 200);
    text(page).await
}

async fn sign_in_options_response(app: &TestApp, c: &reqwest::Client) -> reqwest::Response {
    let csrf = csrf_from(&second_step_page(app, c).await);
    c.post(app.url("/login/second-step/passkey/options"))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .expect("POST options")
}

async fn sign_in_options(app: &TestApp, c: &reqwest::Client) -> Value {
    options_json(sign_in_options_response(app, c).await).await
}

async fn send_assertion(app: &TestApp, c: &reqwest::Client, credential: &str) -> reqwest::Response {
    let csrf = csrf_from(&second_step_page(app, c).await);
    c.post(app.url("/login/second-step/passkey"))
        .form(&[("credential", credential), ("csrf_token", csrf.as_str())])
        .send()
        .await
        .expect("POST assertion")
}

/// The second-step page says `sentence` (422) and no session was made.
async fn refused_at_sign_in(
    app: &TestApp,
    c: &reqwest::Client,
    response: reqwest::Response,
    sentence: &str,
) {
    assert_eq!(response.status().as_u16(), 422);
    let page = text(response).await;
    assert!(page.contains(&html(sentence)), "{sentence}\n{page}");
    assert_redirect_to(
        &c.get(app.url("/projects")).send().await.expect("GET"),
        "/login?next=/projects",
    );
}

on_both_backends!(
    a_passkey_is_added_listed_and_signs_in,
    |backend| on_localhost(backend, Vec::new()),
    app => {
        let lead = app.session(Role::Lead).await;
        let page = text(lead.get("/account").await).await;
        assert!(page.contains("No passkeys yet."));
        assert!(page.contains("Adding a passkey needs JavaScript"), "the page says so without JavaScript");
        assert!(page.contains("id=\"passkey-add\"") && page.contains("/passkeys.js\""));
        let mut key = enrol(&app, &lead.client, "  Work laptop ").await;
        let page = text(lead.get("/account").await).await;
        assert!(page.contains("Your passkey \u{201c}Work laptop\u{201d} is added."), "{page}");
        assert!(page.contains("<strong class=\"passkey-name\">Work laptop</strong>"));
        assert!(page.contains("not used yet"));
        let added = audit(&app, "auth.passkey_added").await;
        assert_eq!(added.len(), 1);
        assert_eq!(added[0].target, lead.email);
        assert!(added[0].detail.contains("Work laptop") && added[0].detail.contains("localhost"));

        // A right password now leads to the second step, which offers the passkey and no code (none is set up).
        let c = password_step(&app, &lead.email).await;
        let page = second_step_page(&app, &c).await;
        assert!(page.contains("Now use your passkey."));
        assert!(page.contains("id=\"passkey-sign-in\""));
        assert!(page.contains("Signing in with a passkey needs JavaScript"));
        assert!(!page.contains("name=\"code\""));
        let options = sign_in_options(&app, &c).await;
        assert_eq!(options["publicKey"]["rpId"], "localhost");
        assert_eq!(
            options["publicKey"]["allowCredentials"][0]["id"],
            b64(&key.credential_id)
        );
        let answer = key.assert(&options);
        assert_redirect_to(&send_assertion(&app, &c, &answer.to_string()).await, "/projects");
        assert_eq!(c.get(app.url("/projects")).send().await.unwrap().status().as_u16(), 200);
        let used = audit(&app, "auth.passkey_used").await;
        assert_eq!(used.len(), 1);
        assert!(used[0].detail.contains("Work laptop"), "{}", used[0].detail);
        assert!(text(c.get(app.url("/account")).send().await.unwrap()).await.contains("last used"));
        // The counter is stored, so the next sign-in must move it on.
        let row = &app.store.passkeys_of(user_id(&app, &lead.email).await).await.unwrap()[0];
        assert!(row.credential.contains("\"counter\":1"), "{}", row.credential);
        assert!(row.last_used_at.is_some());
        // The same answer again, on a new sign-in: refused (its challenge was for the other request).
        let c2 = password_step(&app, &lead.email).await;
        sign_in_options(&app, &c2).await;
        let replay = send_assertion(&app, &c2, &answer.to_string()).await;
        refused_at_sign_in(
            &app,
            &c2,
            replay,
            "The passkey was refused: it answers another request than the one this page made; try again, or type a code instead.",
        )
        .await;
    }
);

on_both_backends!(
    bad_registrations_are_refused_and_nothing_is_stored,
    |backend| on_localhost(backend, Vec::new()),
    app => {
        let lead = app.session(Role::Lead).await;
        let c = &lead.client;
        for (name, sentence) in [
            ("   ", "Give the passkey a name, such as \u{201c}Work laptop\u{201d} or \u{201c}Phone\u{201d}, so you can tell your passkeys apart; nothing was added."),
            (&"x".repeat(61), "A passkey's name can be at most 60 characters; nothing was added."),
            ("tab\there", "A passkey's name cannot hold control characters (such as a tab or a line break); nothing was added."),
        ] {
            assert_eq!(refusal(registration_options(&app, c, name).await, 422).await, sentence);
        }
        // Nothing asked: the browser's answer has no request to answer.
        let mut key = SoftPasskey::new(&origin(&app));
        let unasked = key.register(&serde_json::json!({"publicKey": {"challenge": "AAAA"}}));
        let gone = "This passkey request waited more than five minutes or was already used; nothing was added. Press \u{201c}Add a passkey\u{201d} again.";
        let response = add(&app, c, &unasked.to_string()).await;
        assert_eq!(response.status().as_u16(), 422);
        assert!(text(response).await.contains(&html(gone)));

        let cases: Vec<(Bend, &str)> = vec![
            (
                Bend { challenge: Some("bm90IHRoaXMgb25l".into()), ..Bend::default() },
                "The passkey was refused: it answers another request than the one this page made; nothing was added.",
            ),
            (
                Bend { origin: Some("http://localhost.evil.example".into()), ..Bend::default() },
                "The passkey was refused: it was made for another web address than this console's; nothing was added.",
            ),
            (
                Bend { rp_id: Some("evil.example".into()), ..Bend::default() },
                "The passkey was refused: it was made for another web address than this console's; nothing was added.",
            ),
            (
                Bend { flags: Some(0x41), ..Bend::default() },
                "The passkey was refused: your device did not check that it is you (a PIN, fingerprint or face); nothing was added.",
            ),
            (
                Bend { ceremony_type: Some("webauthn.get".into()), ..Bend::default() },
                "The passkey was refused: it is not the kind of answer this step asks for; nothing was added.",
            ),
        ];
        for (bend, sentence) in cases {
            let options = options_json(registration_options(&app, c, "Phone").await).await;
            let answer = key.register_bent(&options, &bend);
            let response = add(&app, c, &answer.to_string()).await;
            assert_eq!(response.status().as_u16(), 422, "{bend:?}");
            let page = text(response).await;
            assert!(page.contains(&html(sentence)), "{bend:?}: {sentence}\n{}", page.lines().filter(|l| l.contains("refused")).collect::<Vec<_>>().join("\n"));
            // The request is used up by the refusal: the right answer to it is refused now too.
            let right = key.register(&options);
            assert!(text(add(&app, c, &right.to_string()).await).await.contains(&html(gone)));
        }
        for (credential, sentence) in [
            ("", "Adding a passkey needs JavaScript in your browser, and the browser sent no passkey; nothing was added. Turn JavaScript on, or use an authenticator app instead."),
            ("{\"id\": 1}", "The browser's answer could not be read as a passkey; nothing was added. Try again."),
        ] {
            registration_options(&app, c, "Phone").await;
            let response = add(&app, c, credential).await;
            assert_eq!(response.status().as_u16(), 422);
            assert!(text(response).await.contains(&html(sentence)), "{sentence}");
        }
        // Expired: five minutes are made to have passed.
        let options = options_json(registration_options(&app, c, "Phone").await).await;
        sqlx::query("UPDATE passkey_ceremonies SET expires_at = 0")
            .execute(&mut db(&app).await)
            .await
            .unwrap();
        assert!(text(add(&app, c, &key.register(&options).to_string()).await).await.contains(&html(gone)));
        assert_eq!(passkeys(&app, &lead.email).await, 0, "nothing was stored");
        assert!(!app.store.has_second_factor(user_id(&app, &lead.email).await).await.unwrap());
        assert!(audit(&app, "auth.passkey_added").await.is_empty());

        // Added once; the same answer again is refused (used up), as are a second passkey of the same name and the
        // same authenticator's credential for another account.
        let options = options_json(registration_options(&app, c, "Phone").await).await;
        let answer = key.register(&options).to_string();
        assert_redirect_to(&add(&app, c, &answer).await, "/account#two-step");
        assert!(text(add(&app, c, &answer).await).await.contains(&html(gone)));
        assert_eq!(
            refusal(registration_options(&app, c, " Phone").await, 422).await,
            "You already have a passkey named \u{201c}Phone\u{201d}. Choose another name; nothing was added."
        );
        let admin = app.session(Role::Admin).await;
        let options = options_json(registration_options(&app, &admin.client, "Borrowed").await).await;
        let response = add(&app, &admin.client, &key.register(&options).to_string()).await;
        assert_eq!(response.status().as_u16(), 422);
        assert!(text(response).await.contains(&html(
            "This passkey is already registered with storedesk, for this account or another; nothing was added."
        )));
        assert_eq!(passkeys(&app, &lead.email).await, 1);
        assert_eq!(passkeys(&app, &admin.email).await, 0);
        assert_eq!(audit(&app, "auth.passkey_added").await.len(), 1);
    }
);

on_both_backends!(
    bad_sign_ins_are_refused_and_counted,
    |backend| on_localhost(backend, Vec::new()),
    app => {
        let lead = app.session(Role::Lead).await;
        let admin = app.session(Role::Admin).await;
        let mut key = enrol(&app, &lead.client, "Laptop").await;
        let mut other = enrol(&app, &admin.client, "Admin's key").await;
        let c = password_step(&app, &lead.email).await;
        let bad: Vec<(Box<AnswerMaker>, &str)> = vec![
            (
                Box::new(|k, _, o| { k.counter += 1; k.assert_bent(o, &Bend { challenge: Some("bm90IHRoaXMgb25l".into()), ..Bend::default() }) }),
                "The passkey was refused: it answers another request than the one this page made; try again, or type a code instead.",
            ),
            (
                Box::new(|_, other, o| other.assert(o)),
                "The passkey was refused: it is not one of this account's passkeys; try again, or type a code instead.",
            ),
            (
                Box::new(|k, _, o| { k.counter += 1; k.assert_bent(o, &Bend { origin: Some("http://127.0.0.1".into()), ..Bend::default() }) }),
                "The passkey was refused: it was made for another web address than this console's; try again, or type a code instead.",
            ),
            (
                Box::new(|k, _, o| { k.counter += 1; k.assert_bent(o, &Bend { flags: Some(0x01), ..Bend::default() }) }),
                "The passkey was refused: your device did not check that it is you (a PIN, fingerprint or face); try again, or type a code instead.",
            ),
        ];
        let gone = "This passkey request waited more than five minutes or was already used. Press \u{201c}Use a passkey\u{201d} again.";
        for (make, sentence) in &bad {
            let options = sign_in_options(&app, &c).await;
            let answer = make(&mut key, &mut other, &options);
            let response = send_assertion(&app, &c, &answer.to_string()).await;
            refused_at_sign_in(&app, &c, response, sentence).await;
            // Single use: the request is spent, and the right answer to it is refused now.
            let right = key.assert(&options);
            refused_at_sign_in(&app, &c, send_assertion(&app, &c, &right.to_string()).await, gone).await;
            forgive(&app).await;
        }
        // No answer, an unreadable one, and an expired request.
        sign_in_options(&app, &c).await;
        refused_at_sign_in(
            &app,
            &c,
            send_assertion(&app, &c, "").await,
            "Signing in with a passkey needs JavaScript in your browser, and the browser sent no passkey. Turn JavaScript on, or type a code instead.",
        )
        .await;
        refused_at_sign_in(
            &app,
            &c,
            send_assertion(&app, &c, "[]").await,
            "The browser's answer could not be read as a passkey. Press \u{201c}Use a passkey\u{201d} again.",
        )
        .await;
        forgive(&app).await;
        let options = sign_in_options(&app, &c).await;
        sqlx::query("UPDATE passkey_ceremonies SET expires_at = 0")
            .execute(&mut db(&app).await)
            .await
            .unwrap();
        let answer = key.assert(&options);
        refused_at_sign_in(&app, &c, send_assertion(&app, &c, &answer.to_string()).await, gone).await;

        // A counter that does not move forward is what a copied passkey shows: refused.
        let options = sign_in_options(&app, &c).await;
        let answer = key.assert(&options);
        assert_redirect_to(&send_assertion(&app, &c, &answer.to_string()).await, "/projects");
        let c = password_step(&app, &lead.email).await;
        let options = sign_in_options(&app, &c).await;
        let cloned = key.assert_bent(&options, &Bend::default());
        refused_at_sign_in(
            &app,
            &c,
            send_assertion(&app, &c, &cloned.to_string()).await,
            "The passkey was refused: its signature counter went backwards, which is what a copied passkey does; try again, or type a code instead.",
        )
        .await;

        let failed = audit(&app, "auth.passkey_failed").await;
        assert_eq!(failed.len(), 12, "{failed:?}");
        assert!(failed.iter().all(|e| e.target == lead.email));
        assert!(failed.iter().any(|e| e.detail.contains("possibly a cloned passkey")));
        assert!(failed.iter().any(|e| e.detail.contains("expired, or already used")));
        assert_eq!(audit(&app, "auth.passkey_used").await.len(), 1);
        // Each refusal counts as a failed sign-in of this account: five pause it, the right passkey included.
        forgive(&app).await;
        for _ in 0..5 {
            sign_in_options(&app, &c).await;
            let response = send_assertion(&app, &c, "").await;
            assert_eq!(response.status().as_u16(), 422);
        }
        let options = sign_in_options(&app, &c).await;
        let paused = send_assertion(&app, &c, &key.assert(&options).to_string()).await;
        assert_eq!(paused.status().as_u16(), 429);
        assert!(text(paused).await.contains("Sign-in is paused for"));
        assert_eq!(audit(&app, "auth.passkey_used").await.len(), 1);
        // Without a pending sign-in there are no options.
        let stranger = client();
        app.login_page(&stranger).await;
        let page = text(stranger.get(app.url("/login")).send().await.unwrap()).await;
        let csrf = csrf_from(&page);
        let response = stranger
            .post(app.url("/login/second-step/passkey/options"))
            .form(&[("csrf_token", csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(
            refusal(response, 401).await,
            "Your sign-in waited more than five minutes or has ended. Sign in again with your password."
        );
    }
);

on_both_backends!(
    passkeys_are_removed_with_the_password,
    |backend| on_localhost(backend, Vec::new()),
    app => {
        let lead = app.session(Role::Lead).await;
        let admin = app.session(Role::Admin).await;
        enrol(&app, &lead.client, "Laptop").await;
        enrol(&app, &lead.client, "Phone").await;
        enrol(&app, &admin.client, "Admin's key").await;
        let id = user_id(&app, &lead.email).await;
        let rows = app.store.passkeys_of(id).await.unwrap();
        let admin_row = &app.store.passkeys_of(user_id(&app, &admin.email).await).await.unwrap()[0];
        let remove = |pk: i64| format!("/account/passkeys/{pk}/remove");

        let wrong = account_post(&app, &lead.client, &remove(rows[0].id), &[("current_password", "not my password")]).await;
        assert_eq!(wrong.status().as_u16(), 422);
        assert!(text(wrong).await.contains("This is not your current password."));
        let none = "You have no such passkey (it may have been removed already); nothing was removed.";
        for pk in [admin_row.id, 999_999] {
            let response = account_post(&app, &lead.client, &remove(pk), &[("current_password", PASSWORD)]).await;
            assert_eq!(response.status().as_u16(), 404);
            assert!(text(response).await.contains(none));
        }
        assert_eq!(passkeys(&app, &lead.email).await, 2);
        assert_eq!(passkeys(&app, &admin.email).await, 1);
        assert!(audit(&app, "auth.passkey_removed").await.is_empty());

        let removed = account_post(&app, &lead.client, &remove(rows[0].id), &[("current_password", PASSWORD)]).await;
        assert_redirect_to(&removed, "/account#two-step");
        let page = text(lead.get("/account").await).await;
        assert!(page.contains("Your passkey \u{201c}Laptop\u{201d} is removed."), "{page}");
        assert!(!page.contains(">Laptop<") && page.contains(">Phone<"));
        assert!(app.store.has_second_factor(id).await.unwrap());
        let removed = account_post(&app, &lead.client, &remove(rows[1].id), &[("current_password", PASSWORD)]).await;
        assert_redirect_to(&removed, "/account#two-step");
        assert!(text(lead.get("/account").await).await.contains(
            "Your passkey \u{201c}Phone\u{201d} is removed. You sign in with your password alone now, and your recovery codes no longer work."
        ));
        assert!(!app.store.has_second_factor(id).await.unwrap());
        let logged = audit(&app, "auth.passkey_removed").await;
        assert_eq!(logged.len(), 2);
        assert!(logged.iter().all(|e| e.target == lead.email));
        // The password alone signs in again.
        assert_redirect_to(&app.post_login(&client(), &lead.email, PASSWORD).await, "/projects");
    }
);

on_both_backends!(
    a_required_role_enrols_a_passkey_and_keeps_its_last_second_factor,
    |backend| on_localhost(backend, vec![Role::Admin]),
    app => {
        let admin = app.session(Role::Admin).await;
        assert_redirect_to(&admin.get("/projects").await, "/account");
        // The set-up of a passkey opens before anything else.
        enrol(&app, &admin.client, "Laptop").await;
        assert_eq!(admin.get("/projects").await.status().as_u16(), 200);
        let id = user_id(&app, &admin.email).await;
        let row = app.store.passkeys_of(id).await.unwrap()[0].id;
        let refused = account_post(
            &app,
            &admin.client,
            &format!("/account/passkeys/{row}/remove"),
            &[("current_password", PASSWORD)],
        )
        .await;
        assert_eq!(refused.status().as_u16(), 409);
        assert!(text(refused).await.contains(
            "Your role must sign in with two steps, and this is your last second factor, so it stays. Add a passkey or an authenticator app first; nothing was removed."
        ));
        assert_eq!(passkeys(&app, &admin.email).await, 1);
        assert!(audit(&app, "auth.passkey_removed").await.is_empty());
        // With a second passkey, the first may go.
        enrol(&app, &admin.client, "Phone").await;
        let removed = account_post(
            &app,
            &admin.client,
            &format!("/account/passkeys/{row}/remove"),
            &[("current_password", PASSWORD)],
        )
        .await;
        assert_redirect_to(&removed, "/account#two-step");
        assert_eq!(passkeys(&app, &admin.email).await, 1);
    }
);

on_both_backends!(
    an_admin_and_the_command_line_reset_passkeys,
    |backend| on_localhost(backend, Vec::new()),
    app => {
        let admin = app.session(Role::Admin).await;
        let lead = app.session(Role::Lead).await;
        let id = user_id(&app, &lead.email).await;
        enrol(&app, &lead.client, "Laptop").await;
        // A sign-in waits for its passkey while the reset happens.
        let waiting = password_step(&app, &lead.email).await;
        sign_in_options(&app, &waiting).await;
        let reset = admin
            .post_form("/admin/users", &format!("/admin/users/{id}/reset-second-factor"), &[])
            .await;
        assert_redirect_to(&reset, "/admin/users");
        assert_eq!(passkeys(&app, &lead.email).await, 0);
        assert!(!app.store.has_second_factor(id).await.unwrap());
        let logged = audit(&app, "user.second_factor_reset").await;
        assert_eq!(logged.len(), 1);
        assert!(logged[0].detail.contains("1 passkey(s) removed"), "{}", logged[0].detail);
        let (left,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM passkey_ceremonies")
            .fetch_one(&mut db(&app).await)
            .await
            .unwrap();
        assert_eq!(left, 0);
        assert_redirect_to(&app.post_login(&client(), &lead.email, PASSWORD).await, "/projects");

        let admin_id = user_id(&app, &admin.email).await;
        enrol(&app, &admin.client, "Admin's key").await;
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_storedesk"))
            .args(["user", "reset-mfa", "--email", &admin.email])
            .env("STOREDESK_DATABASE_URL", app.settings.database_url.as_str())
            .output()
            .expect("run storedesk");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(passkeys(&app, &admin.email).await, 0);
        assert!(!app.store.has_second_factor(admin_id).await.unwrap());
    }
);

on_both_backends!(
    passkeys_need_a_host_name,
    |backend| spawn_app(backend),
    app => {
        let lead = app.session(Role::Lead).await;
        let sentence = "Passkeys are not available: STOREDESK_PUBLIC_URL names this console by an IP address, and passkeys need a host name (such as localhost or console.example.com). Ask whoever runs storedesk to set it.";
        let page = text(lead.get("/account").await).await;
        assert!(page.contains(sentence));
        assert!(!page.contains("id=\"passkey-add\"") && !page.contains("passkeys.js"));
        assert_eq!(refusal(registration_options(&app, &lead.client, "Laptop").await, 409).await, sentence);
        assert_eq!(passkeys(&app, &lead.email).await, 0);
    }
);

on_both_backends!(
    an_account_holds_at_most_twenty_passkeys,
    |backend| on_localhost(backend, Vec::new()),
    app => {
        let lead = app.session(Role::Lead).await;
        for n in 0..storedesk::auth::passkey::PER_USER_MAX {
            enrol(&app, &lead.client, &format!("Key {n}")).await;
        }
        let refused = refusal(registration_options(&app, &lead.client, "One more").await, 422).await;
        assert_eq!(refused, storedesk::auth::passkey::too_many());
        assert_eq!(passkeys(&app, &lead.email).await, storedesk::auth::passkey::PER_USER_MAX);
        assert_eq!(audit(&app, "auth.passkey_added").await.len(), storedesk::auth::passkey::PER_USER_MAX);
    }
);
