//! Correcting the Key ID or Issuer ID of a key Apple never accepted, in place: the stored `.p8` is kept (sealed again
//! under the new Key ID), the change is audited, and the key is verified again at once. Bad input is refused with
//! the sentence next to its field and changes nothing; a key Apple accepted cannot be "corrected".
use storedesk::apple_sim::{IssuedKey, SimConfig, SimHandle};
use storedesk::domain::{IssuerId, KeyHealth, KeyId, Role};
use storedesk::routes::projects::keys::correct::UNCHANGED;
use storedesk::store::keys::KeyRow;

use super::verify::{random_key, upload};
use crate::helpers::{assert_redirect_to, project_for, store_key, Session, TestApp};
use crate::projects::settings::stores::apple::key::{
    audit_limit, field_error, input_value, key_audit, unescape,
};
use crate::with_sim;

const KEYS: &str = "/projects/demo/keys";
const WIZARD: &str = "/projects/demo/settings/stores/apple";
/// An Issuer ID of the right shape that is not the simulator's (as if copied from the App Store Connect API tab).
const WRONG_ISSUER: &str = "69a6de70-03db-47e3-e053-5b8c7c11a4d1";

fn correct_url(row: i64) -> String {
    format!("{KEYS}/{row}/correct")
}

async fn the_row(app: &TestApp, row: i64) -> KeyRow {
    let pid = app.store.project_by_slug("demo").await.unwrap().unwrap().id;
    app.store
        .keys_of_project(pid)
        .await
        .unwrap()
        .into_iter()
        .find(|k| k.id == row)
        .unwrap()
}

async fn sealed_bytes(app: &TestApp, row: i64) -> Vec<u8> {
    app.store
        .all_sealed_keys()
        .await
        .unwrap()
        .into_iter()
        .find(|k| k.id == row)
        .expect("the private part is still stored")
        .sealed_key
}

/// The project `demo` for the simulator's app with `key` saved (not yet verified), and a signed-in admin.
async fn with_key(app: &TestApp, sim: &SimHandle, key: &IssuedKey) -> (Session, i64) {
    let admin = app.session(Role::Admin).await;
    let project = project_for(app, sim, &admin).await;
    let row = store_key(app, &project, key).await;
    (admin, row)
}

async fn verify(admin: &Session) {
    let r = admin
        .post_form(KEYS, "/projects/demo/keys/verify", &[("return_to", "keys")])
        .await;
    assert_redirect_to(&r, KEYS);
}

/// A correction typed (Key ID, Issuer ID) and the sentences expected next to the Key ID, the Issuer ID and the form.
type Case<'a> = (
    &'a str,
    &'a str,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
);

fn corrections(audit: &[storedesk::store::audit::AuditEntry]) -> usize {
    audit.iter().filter(|e| e.action == "key.correct").count()
}

with_sim!(
    an_issuer_id_from_the_wrong_tab_is_corrected_in_place_keeping_the_p8,
    SimConfig::default(),
    |app, sim| {
        // Arrange: the right key, saved with the Issuer ID of the other tab; Apple refuses it.
        let issued = sim.issue_key();
        let wrong = IssuedKey {
            issuer_id: WRONG_ISSUER.into(),
            ..issued.clone()
        };
        let (admin, row) = with_key(&app, &sim, &wrong).await;
        verify(&admin).await;
        assert_eq!(the_row(&app, row).await.health(), KeyHealth::Refused);
        let sealed_before = sealed_bytes(&app, row).await;
        let page = admin.get_text(KEYS).await;
        assert_eq!(
            input_value(&page, "correct_key_id"),
            issued.key_id,
            "prefilled"
        );
        assert_eq!(
            input_value(&page, "correct_issuer_id"),
            WRONG_ISSUER,
            "prefilled"
        );

        // Act: the right Issuer ID, pasted in capitals with spaces around it.
        let right = format!("  {}  ", issued.issuer_id.to_uppercase());
        let r = admin
            .post_form(
                KEYS,
                &correct_url(row),
                &[
                    ("key_id", &issued.key_id),
                    ("issuer_id", &right),
                    ("return_to", "keys"),
                ],
            )
            .await;

        // Assert: one row, the same private part, the new Issuer ID, and Apple's answer at once.
        assert_redirect_to(&r, KEYS);
        let fingerprint =
            storedesk::domain::ApplePrivateKey::parse(issued.private_key_pem.as_bytes())
                .unwrap()
                .public_key_fingerprint();
        let page = unescape(&admin.get_text(KEYS).await);
        assert!(
            page.contains(&format!(
                "Key {} corrected (Issuer ID {WRONG_ISSUER} → {}); the stored .p8 is kept (fingerprint {fingerprint}). \
                 Apple accepted the key in Sandbox and in Production.",
                issued.key_id, issued.issuer_id
            )),
            "{page}"
        );
        let pid = app.store.project_by_slug("demo").await.unwrap().unwrap().id;
        let rows = app.store.keys_of_project(pid).await.unwrap();
        assert_eq!(rows.len(), 1, "the key is listed once");
        let key = &rows[0];
        assert_eq!(key.id, row);
        assert_eq!(
            (
                key.key_id.as_str(),
                key.issuer_id.as_str(),
                key.fingerprint.as_str()
            ),
            (
                issued.key_id.as_str(),
                issued.issuer_id.as_str(),
                fingerprint.as_str()
            )
        );
        assert_eq!(key.health(), KeyHealth::Verified);
        assert_ne!(
            sealed_bytes(&app, row).await,
            sealed_before,
            "sealed again under the new identifiers"
        );
        let opened = storedesk::keys::open_key_in_use(&app.store, &app.settings.keyring(), pid)
            .await
            .unwrap()
            .unwrap();
        let expected = storedesk::domain::ApplePrivateKey::parse(issued.private_key_pem.as_bytes())
            .unwrap()
            .signing_key();
        assert_eq!(opened.signing_key.verifying_key(), expected.verifying_key());
        let audit = key_audit(&app).await;
        let correct = audit
            .iter()
            .find(|e| e.action == "key.correct")
            .expect("audited");
        assert_eq!(correct.target, issued.key_id);
        assert_eq!(correct.user_email, "admin@example.com");
        assert_eq!(
            correct.detail,
            format!(
                "Issuer ID {WRONG_ISSUER} → {}; .p8 kept (fingerprint {fingerprint})",
                issued.issuer_id
            )
        );
        assert!(
            !audit.iter().any(|e| e.action == "key.retire"),
            "nothing was retired"
        );
        assert!(!page.contains("private part was destroyed"), "{page}");
    }
);

with_sim!(
    a_wrong_key_id_is_corrected_from_step_3_and_verified_again,
    SimConfig::default(),
    |app, sim| {
        let issued = sim.issue_key();
        let typo = IssuedKey {
            key_id: "AAAAAAAAAA".into(),
            ..issued.clone()
        };
        let (admin, row) = with_key(&app, &sim, &typo).await;
        let wizard = admin.get_text(WIZARD).await;
        assert!(
            wizard.contains(&format!(r#"action="{}""#, correct_url(row))),
            "offered on Step 3 before any check"
        );

        let r = admin
            .post_form(
                WIZARD,
                &correct_url(row),
                &[
                    ("key_id", &issued.key_id),
                    ("issuer_id", &issued.issuer_id),
                    ("return_to", "wizard"),
                ],
            )
            .await;

        assert_redirect_to(&r, WIZARD);
        let page = unescape(&admin.get_text(WIZARD).await);
        assert!(
            page.contains(&format!(
                "Key {0} corrected (Key ID AAAAAAAAAA → {0}); the stored .p8 is kept",
                issued.key_id
            )),
            "{page}"
        );
        assert!(page.contains(r##"<a href="#step3">Step 3 · Server API access</a> <span class="badge badge-good">verified</span>"##));
        assert!(
            !page.contains(r#"id="correct""#),
            "accepted now: no correction form"
        );
        let key = the_row(&app, row).await;
        assert_eq!(key.key_id, issued.key_id);
        let correct = key_audit(&app)
            .await
            .into_iter()
            .find(|e| e.action == "key.correct")
            .unwrap();
        assert!(correct
            .detail
            .starts_with(&format!("Key ID AAAAAAAAAA → {}; .p8 kept", issued.key_id)));
    }
);

with_sim!(
    a_correction_with_bad_input_says_why_next_to_its_field_and_changes_nothing,
    SimConfig::default(),
    |app, sim| {
        let issued = sim.issue_key();
        let wrong = IssuedKey {
            issuer_id: WRONG_ISSUER.into(),
            ..issued.clone()
        };
        let (admin, row) = with_key(&app, &sim, &wrong).await;
        let before = the_row(&app, row).await;
        let sealed = sealed_bytes(&app, row).await;
        let key_id_error = KeyId::parse("My IAP key").unwrap_err().to_string();
        let issuer_error = IssuerId::parse("not-an-issuer").unwrap_err().to_string();
        let cases: [Case; 4] = [
            (
                "My IAP key",
                &issued.issuer_id,
                Some(key_id_error.as_str()),
                None,
                None,
            ),
            (
                &issued.key_id,
                "not-an-issuer",
                None,
                Some(issuer_error.as_str()),
                None,
            ),
            (
                "My IAP key",
                "not-an-issuer",
                Some(key_id_error.as_str()),
                Some(issuer_error.as_str()),
                None,
            ),
            (&issued.key_id, WRONG_ISSUER, None, None, Some(UNCHANGED)),
        ];
        for (form_page, return_to) in [(KEYS, "keys"), (WIZARD, "wizard")] {
            for (key_id, issuer_id, key_error, issuer_err, form_error) in cases {
                let r = admin
                    .post_form(
                        form_page,
                        &correct_url(row),
                        &[
                            ("key_id", key_id),
                            ("issuer_id", issuer_id),
                            ("return_to", return_to),
                        ],
                    )
                    .await;
                assert_eq!(r.status().as_u16(), 422, "{key_id} / {issuer_id}");
                let html = r.text().await.unwrap();
                assert_eq!(field_error(&html, "correct_key_id").as_deref(), key_error);
                assert_eq!(
                    field_error(&html, "correct_issuer_id").as_deref(),
                    issuer_err
                );
                assert_eq!(field_error(&html, "correct").as_deref(), form_error);
                assert_eq!(
                    input_value(&html, "correct_key_id"),
                    key_id,
                    "what was typed is kept"
                );
                assert_eq!(input_value(&html, "correct_issuer_id"), issuer_id);
                if key_error.is_some() {
                    assert!(html.contains(
                        r#"aria-describedby="correct_key_id-help correct_key_id-error""#
                    ));
                }
                if return_to == "wizard" {
                    assert!(html.contains(r#"<h2 id="step3-title">"#), "Step 3 again");
                } else {
                    assert!(html.contains(r#"<h2 id="rotate">"#), "the keys page again");
                }
            }
        }
        let after = the_row(&app, row).await;
        assert_eq!(
            (
                after.key_id,
                after.issuer_id,
                after.status,
                after.master_key_id
            ),
            (
                before.key_id,
                before.issuer_id,
                before.status,
                before.master_key_id
            )
        );
        assert_eq!(
            sealed_bytes(&app, row).await,
            sealed,
            "the sealed key is untouched"
        );
        assert_eq!(corrections(&key_audit(&app).await), 0);
    }
);

with_sim!(
    a_key_apple_accepted_is_not_corrected,
    SimConfig::default(),
    |app, sim| {
        let issued = sim.issue_key();
        let (admin, row) = with_key(&app, &sim, &issued).await;
        verify(&admin).await;
        assert!(
            !admin.get_text(KEYS).await.contains(r#"id="correct""#),
            "not offered"
        );

        let r = admin
            .post_form(
                KEYS,
                &correct_url(row),
                &[
                    ("key_id", "AAAAAAAAAA"),
                    ("issuer_id", WRONG_ISSUER),
                    ("return_to", "keys"),
                ],
            )
            .await;

        assert_redirect_to(&r, KEYS);
        let page = unescape(&admin.get_text(KEYS).await);
        assert!(page.contains(&format!("Apple has accepted key {}, so its Key ID, Issuer ID and .p8 belong together and nothing was changed. To use another key, upload it with Rotate.", issued.key_id)), "{page}");
        let key = the_row(&app, row).await;
        assert_eq!(
            (key.key_id.as_str(), key.issuer_id.as_str()),
            (issued.key_id.as_str(), issued.issuer_id.as_str())
        );
        assert_eq!(corrections(&key_audit(&app).await), 0);
        // A key of no project of this URL is not found.
        let r = admin
            .post_form(
                KEYS,
                &correct_url(row + 1000),
                &[("key_id", "AAAAAAAAAA"), ("issuer_id", WRONG_ISSUER)],
            )
            .await;
        assert_eq!(r.status().as_u16(), 404);
    }
);

with_sim!(
    a_retired_key_is_not_corrected,
    SimConfig::default(),
    |app, sim| {
        let old = random_key(&sim.issue_key().issuer_id);
        let (admin, row) = with_key(&app, &sim, &old).await;
        assert_redirect_to(
            &upload(&admin, KEYS, KEYS, &sim.issue_key(), false).await,
            KEYS,
        );
        let r = admin
            .post_form(
                KEYS,
                &correct_url(row),
                &[
                    ("key_id", "AAAAAAAAAA"),
                    ("issuer_id", WRONG_ISSUER),
                    ("return_to", "keys"),
                ],
            )
            .await;
        assert_redirect_to(&r, KEYS);
        let page = unescape(&admin.get_text(KEYS).await);
        assert!(
            page.contains("Key ZZZZZZZZZ9 is no longer in use, so nothing was changed."),
            "{page}"
        );
        assert_eq!(the_row(&app, row).await.key_id, "ZZZZZZZZZ9");
        assert_eq!(
            corrections(&app.store.list_audit(&audit_limit()).await.unwrap()),
            0
        );
    }
);

with_sim!(
    rotating_to_the_same_p8_changes_nothing_and_points_to_the_correction,
    SimConfig::default(),
    |app, sim| {
        let issued = sim.issue_key();
        let wrong = IssuedKey {
            issuer_id: WRONG_ISSUER.into(),
            ..issued.clone()
        };
        let (admin, row) = with_key(&app, &sim, &wrong).await;

        let r = upload(&admin, KEYS, KEYS, &issued, false).await;

        assert_eq!(r.status().as_u16(), 422);
        let html = r.text().await.unwrap();
        assert_eq!(
            field_error(&html, "private_key").as_deref(),
            Some(format!("This .p8 is key {}, already in use (same fingerprint), so nothing was changed. To fix its Key ID or Issuer ID, use “Correct the Key ID or Issuer ID” on this page: the stored .p8 is kept.", issued.key_id).as_str())
        );
        let pid = app.store.project_by_slug("demo").await.unwrap().unwrap().id;
        let rows = app.store.keys_of_project(pid).await.unwrap();
        assert_eq!(rows.len(), 1, "not listed twice");
        assert_eq!(rows[0].id, row);
        assert_eq!(sim.request_count(), 0, "decided before asking Apple");
    }
);
