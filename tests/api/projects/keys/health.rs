//! A key's health in every state, from what happened to it (Step 3, Verify now, calls, rotation, Mark revoked),
//! shown with the same badge and sentence on the keys page, on Step 3 and in the 401 banner.
use storedesk::apple_sim::{IssuedKey, SimConfig, SimHandle};
use storedesk::domain::{KeyHealth, Role, Verdict};
use storedesk::present::status::key_health;
use storedesk::store::keys::KeyCheck;

use super::verify::random_key;
use crate::helpers::{assert_redirect_to, project_for, store_key, Session, TestApp};
use crate::projects::settings::stores::apple::key::unescape;
use crate::with_sim;

const KEYS: &str = "/projects/demo/keys";
const WIZARD: &str = "/projects/demo/settings/stores/apple";

/// The badge class, word and sentence shown first after `anchor` in `html`.
pub fn health_after(html: &str, anchor: &str) -> (String, String, String) {
    let start = html
        .find(anchor)
        .unwrap_or_else(|| panic!("no {anchor} in the page: {html}"));
    let rest = &html[start..];
    let badge = r#"<span class="badge "#;
    let rest = &rest[rest.find(badge).expect("a badge") + badge.len()..];
    let class = &rest[..rest.find('"').unwrap()];
    let word = &rest[rest.find('>').unwrap() + 1..rest.find("</span>").unwrap()];
    let marker = r#"<span class="key-health">"#;
    let s = rest.find(marker).expect("the health's sentence") + marker.len();
    let sentence = &rest[s..s + rest[s..].find("</span>").unwrap()];
    (class.to_owned(), unescape(word), unescape(sentence))
}

fn words(health: KeyHealth) -> (String, String, String) {
    let w = key_health(health);
    (w.class.to_owned(), w.word.to_owned(), w.sentence.to_owned())
}

/// Key row `row_id` shows `health` on the keys page, and, while in use, on Step 3 and (when Apple refuses it) in
/// the banner, in the same words.
pub async fn assert_shown(admin: &Session, row_id: i64, health: KeyHealth) {
    let expected = words(health);
    let keys = admin.get_text(KEYS).await;
    assert_eq!(
        health_after(&keys, &format!(r#"<tr id="key-{row_id}">"#)),
        expected,
        "keys page"
    );
    let banner = keys.contains(r#"id="key-banner""#);
    if health.is_in_use() {
        let wizard = admin.get_text(WIZARD).await;
        assert_eq!(
            health_after(&wizard, r#"<dd id="key-health">"#),
            expected,
            "Step 3"
        );
        assert_eq!(banner, health.is_refused(), "the 401 banner: {keys}");
        if banner {
            assert_eq!(
                health_after(&keys, r#"id="key-banner""#),
                expected,
                "banner"
            );
        }
    }
}

/// The word and badge of Step 3 in the wizard's list of steps.
async fn step3(admin: &Session) -> String {
    let wizard = admin.get_text(WIZARD).await;
    let marker = r##"<a href="#step3">Step 3 · Server API access</a> <span class="badge "##;
    let start = wizard.find(marker).expect("Step 3 in the steps") + marker.len();
    let rest = &wizard[start..];
    rest[..rest.find("</span>").unwrap()].replace("\">", " ")
}

async fn step1(admin: &Session) -> String {
    let wizard = admin.get_text(WIZARD).await;
    let marker = r##"<a href="#step1">Step 1 · App</a> <span class="badge "##;
    let start = wizard.find(marker).expect("Step 1 in the steps") + marker.len();
    let rest = &wizard[start..];
    rest[..rest.find("</span>").unwrap()].replace("\">", " ")
}

async fn verify(admin: &Session, back: &str) {
    let r = admin
        .post_form(
            back,
            "/projects/demo/keys/verify",
            &[("return_to", if back == KEYS { "keys" } else { "wizard" })],
        )
        .await;
    assert_redirect_to(&r, back);
}

async fn setup(app: &TestApp, sim: &SimHandle, key: &IssuedKey) -> (Session, i64) {
    let admin = app.session(Role::Admin).await;
    let project = project_for(app, sim, &admin).await;
    let row = store_key(app, &project, key).await;
    (admin, row)
}

/// A support lookup: calls Apple with the key in use.
async fn lookup(admin: &Session, sim: &SimHandle) {
    let id = sim.seed().active_monthly.transaction_id;
    let r = admin
        .get(&format!("/projects/demo/transactions?q={id}"))
        .await;
    assert!(r.status().is_success() || r.status().as_u16() == 502);
}

with_sim!(
    a_saved_key_is_not_verified_everywhere,
    SimConfig::default(),
    |app, sim| {
        let (admin, row) = setup(&app, &sim, &sim.issue_key()).await;
        assert_shown(&admin, row, KeyHealth::NotVerified).await;
        assert_eq!(
            key_health(KeyHealth::NotVerified).sentence,
            "Saved and encrypted, but Apple has not accepted it yet. Verify now asks Apple in Sandbox and in Production."
        );
        assert_eq!(step3(&admin).await, "badge-warn saved");
        assert_eq!(
            step1(&admin).await,
            "badge-warn saved",
            "nothing proves the bundle ID yet"
        );
        let keys = admin.get_text(KEYS).await;
        assert!(keys.contains("Last success") && keys.contains("<td>never</td>"));
    }
);

with_sim!(
    a_key_accepted_in_both_environments_is_verified_with_its_last_success,
    SimConfig::default(),
    |app, sim| {
        let (admin, row) = setup(&app, &sim, &sim.issue_key()).await;
        verify(&admin, WIZARD).await;
        assert_shown(&admin, row, KeyHealth::Verified).await;
        assert_eq!(step3(&admin).await, "badge-good verified");
        assert_eq!(step1(&admin).await, "badge-good verified");
        // "Apple accepted the key" never stands above "Last success: never".
        let wizard = admin.get_text(WIZARD).await;
        assert!(wizard.contains("<dt>Last success</dt><dd>"), "{wizard}");
        assert!(
            !wizard.contains("<dt>Last success</dt><dd>never</dd>"),
            "{wizard}"
        );
        let keys = admin.get_text(KEYS).await;
        assert!(!keys.contains("<td>never</td>"), "{keys}");
        assert!(
            !keys.contains(r#"id="correct""#),
            "Apple accepted it: nothing to correct"
        );
    }
);

with_sim!(
    a_key_of_an_app_not_released_yet_is_sandbox_only,
    SimConfig {
        production_released: false,
        ..SimConfig::default()
    },
    |app, sim| {
        let (admin, row) = setup(&app, &sim, &sim.issue_key()).await;
        verify(&admin, KEYS).await;
        assert_shown(&admin, row, KeyHealth::SandboxOnly).await;
        assert_eq!(
            key_health(KeyHealth::SandboxOnly).sentence,
            "Apple accepted this key in Sandbox; Production refused it (HTTP 401), most likely because the app has not been released in Production yet."
        );
        assert_eq!(step3(&admin).await, "badge-warn Sandbox only");
    }
);

with_sim!(
    a_key_only_production_accepts_is_production_only,
    SimConfig::default(),
    |app, sim| {
        // The simulator's Sandbox never refuses a key it issued; the check is recorded as Verify now records it.
        let (admin, row) = setup(&app, &sim, &sim.issue_key()).await;
        let check = KeyCheck {
            sandbox: Some(Verdict::Refused),
            production: Some(Verdict::Accepted),
            ok: true,
            summary: "Production accepts the key; Sandbox answered 401.".into(),
            failure: None,
        };
        app.store.record_key_check(row, &check).await.unwrap();
        assert_shown(&admin, row, KeyHealth::ProductionOnly).await;
        assert_eq!(step3(&admin).await, "badge-good verified");
    }
);

with_sim!(
    a_key_whose_calls_succeed_but_was_never_checked_is_active,
    SimConfig::default(),
    |app, sim| {
        let (admin, row) = setup(&app, &sim, &sim.issue_key()).await;
        lookup(&admin, &sim).await;
        assert_shown(&admin, row, KeyHealth::Working).await;
        assert_eq!(step3(&admin).await, "badge-good verified");
        assert!(!admin.get_text(KEYS).await.contains(r#"id="correct""#));
    }
);

with_sim!(
    a_key_refused_in_both_environments_says_so_at_once,
    SimConfig::default(),
    |app, sim| {
        let (admin, row) = setup(&app, &sim, &random_key(&sim.issue_key().issuer_id)).await;
        verify(&admin, WIZARD).await;
        assert_shown(&admin, row, KeyHealth::Refused).await;
        assert_eq!(
            key_health(KeyHealth::Refused).sentence,
            "Apple refused this key in Sandbox and in Production (HTTP 401): its Key ID, Issuer ID and .p8 do not belong together, or it was revoked in App Store Connect."
        );
        assert_eq!(step3(&admin).await, "badge-bad failing");
        let keys = admin.get_text(KEYS).await;
        assert!(
            keys.contains("HTTP 401 in Sandbox and in Production (Verify now)"),
            "the last failure names both: {keys}"
        );
        assert!(!keys.contains("HTTP 401 in Production<"), "{keys}");
        // Never accepted: the banner offers the correction, which both pages show.
        assert!(
            keys.contains(r##"<a href="#correct">Correct its Key ID or Issuer ID</a>"##),
            "{keys}"
        );
        assert!(admin.get_text(WIZARD).await.contains(r#"id="correct""#));
    }
);

with_sim!(
    a_working_key_apple_revoked_turns_failing_after_repeated_401s,
    SimConfig::default(),
    |app, sim| {
        let issued = sim.issue_key();
        let (admin, row) = setup(&app, &sim, &issued).await;
        verify(&admin, KEYS).await;
        assert_shown(&admin, row, KeyHealth::Verified).await;
        sim.revoke_key(&issued.key_id);
        for _ in 0..5 {
            lookup(&admin, &sim).await;
            let key = app
                .store
                .key_in_use(app.store.project_by_slug("demo").await.unwrap().unwrap().id)
                .await
                .unwrap()
                .unwrap();
            if key.status.as_str() == "failing" {
                break;
            }
        }
        assert_shown(&admin, row, KeyHealth::Failing).await;
        assert_eq!(step3(&admin).await, "badge-bad failing");
        // Apple accepted it before: its identifiers are right, and only Rotate helps.
        let keys = admin.get_text(KEYS).await;
        assert!(!keys.contains(r#"id="correct""#), "{keys}");
        assert!(keys.contains(r##"<a href="#rotate">Rotate</a>"##), "{keys}");
    }
);

with_sim!(
    a_key_replaced_while_apple_refused_it_is_not_plain_retired,
    SimConfig::default(),
    |app, sim| {
        let (admin, old) = setup(&app, &sim, &random_key(&sim.issue_key().issuer_id)).await;
        verify(&admin, KEYS).await;
        let next = sim.issue_key();
        let r = crate::projects::keys::verify::upload(&admin, KEYS, KEYS, &next, false).await;
        assert_redirect_to(&r, KEYS);
        let page = unescape(&admin.get_text(KEYS).await);
        assert!(
            page.contains(&format!(
                "Key {} is now the key in use. Key ZZZZZZZZZ9, which Apple refused, is retired and its private part destroyed. Apple accepted the key in Sandbox and in Production.",
                next.key_id
            )),
            "{page}"
        );
        assert_shown(&admin, old, KeyHealth::RetiredAfterRefusal).await;
        assert_eq!(
            key_health(KeyHealth::RetiredAfterRefusal).sentence,
            "Replaced while Apple refused it (HTTP 401), most likely because it was revoked in App Store Connect; its private part was destroyed."
        );
        let new_row = app
            .store
            .key_in_use(app.store.project_by_slug("demo").await.unwrap().unwrap().id)
            .await
            .unwrap()
            .unwrap();
        assert_shown(&admin, new_row.id, KeyHealth::Verified).await;
        let retire = app
            .store
            .list_audit(&crate::projects::settings::stores::apple::key::audit_limit())
            .await
            .unwrap()
            .into_iter()
            .find(|e| e.action == "key.retire")
            .unwrap();
        assert_eq!(
            retire.detail,
            "replaced by a new key while Apple refused it (HTTP 401); private part destroyed"
        );
    }
);

with_sim!(
    a_rotated_key_is_retired_and_a_revoked_one_revoked,
    SimConfig::default(),
    |app, sim| {
        let (admin, first) = setup(&app, &sim, &sim.issue_key()).await;
        verify(&admin, KEYS).await;
        let r = crate::projects::keys::verify::upload(&admin, KEYS, KEYS, &sim.issue_key(), false)
            .await;
        assert_redirect_to(&r, KEYS);
        assert_shown(&admin, first, KeyHealth::Retired).await;
        let csrf = crate::helpers::csrf_from(&admin.get_text(KEYS).await);
        let first_key_id = app
            .store
            .keys_of_project(app.store.project_by_slug("demo").await.unwrap().unwrap().id)
            .await
            .unwrap()
            .into_iter()
            .find(|k| k.id == first)
            .unwrap()
            .key_id;
        let r = admin
            .client
            .post(admin.url(&format!("{KEYS}/{first}/revoke")))
            .form(&[
                ("csrf_token", csrf.as_str()),
                ("confirm_key_id", first_key_id.as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_redirect_to(&r, KEYS);
        assert_shown(&admin, first, KeyHealth::Revoked).await;
    }
);

crate::both_backends!(a_call_that_succeeds_after_a_refusal_heals_the_key, |app| {
    // A refusal in both environments is said at once; a later success (Apple took the key after all) must not
    // leave the key "refused".
    let pid = crate::helpers::store_project(&app.store, "healing").await;
    let project = app.store.project_by_slug("healing").await.unwrap().unwrap();
    let row = store_key(
        &app,
        &project,
        &random_key("57246542-96fe-1a63-e053-0824d011072a"),
    )
    .await;
    let refused = KeyCheck {
        sandbox: Some(Verdict::Refused),
        production: Some(Verdict::Refused),
        ok: false,
        summary: "Apple refused the key in both Sandbox and Production (HTTP 401).".into(),
        failure: Some("HTTP 401 in Sandbox and in Production (Verify now)".into()),
    };
    app.store.record_key_check(row, &refused).await.unwrap();
    let key = app.store.key_in_use(pid).await.unwrap().unwrap();
    assert_eq!(
        (key.status.as_str(), key.health()),
        ("failing", KeyHealth::Refused)
    );
    assert_eq!(key.auth_failures, 1);

    app.store.record_key_call(row, Ok(())).await.unwrap();

    let key = app.store.key_in_use(pid).await.unwrap().unwrap();
    assert_eq!(
        (key.status.as_str(), key.health()),
        ("active", KeyHealth::Working)
    );
    assert_eq!((key.sandbox_check, key.production_check), (None, None));
    assert_eq!(key.auth_failures, 0);
});
