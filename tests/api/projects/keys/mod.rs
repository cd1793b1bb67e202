//! The key history: rotation (also under concurrent signing, and several rotations or revocations at once), Mark
//! revoked, who may do what, and the master key (re-sealing every key, refusing a wrong one, `storedesk serve`
//! without one).
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod correct;
mod health;
mod revoke;
pub mod verify;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use p256::ecdsa::signature::{Signer, Verifier};
use storedesk::crypto::Keyring;
use storedesk::crypto::MasterKey;
use storedesk::domain::{IssuerId, KeyId, PrivateKeyError, Role};
use storedesk::keys::open_key_in_use;
use storedesk::store::{Actor, Store};

use crate::both_backends;
use crate::helpers::{assert_redirect_to, create_project, csrf_from, TestApp};
use crate::projects::settings::stores::apple::key::{
    admin_with_project, assert_no_key_material, contains_bytes, field_error, input_value,
    key_audit, project_id, unescape, KeyUpload, Multipart, TestKey, ISSUER_ID, KEYS, KEY_ID,
    OTHER_KEY_ID, SAVE, WIZARD,
};

const SECOND_ISSUER: &str = "69a6de70-03db-47e3-e053-5b8c7c11a4d1";

/// Saves `key` as the project's key in use the way the routes do, without HTTP.
async fn save_directly(app: &TestApp, slug: &str, key_id: &str, key: &TestKey) -> i64 {
    let project = app.store.project_by_slug(slug).await.unwrap().unwrap();
    storedesk::keys::save_key(
        &app.store,
        &app.settings.keyring(),
        &project,
        &KeyId::parse(key_id).unwrap(),
        &IssuerId::parse(ISSUER_ID).unwrap(),
        &key.parsed(),
        &Actor::system("test"),
        storedesk::keys::OnKeyInUse::Replace,
    )
    .await
    .unwrap()
}

/// A Key ID per index, for keys saved in a loop.
fn nth_key_id(i: usize) -> String {
    format!("ROTATE{i:04}")
}

/// An admin, the project `demo` and its first key, saved through Step 3 from a file named `file`.
async fn admin_with_first_key(
    app: &TestApp,
    file: &str,
) -> (crate::helpers::Session, i64, TestKey) {
    let (admin, pid) = admin_with_project(app).await;
    let first = TestKey::generate();
    assert_redirect_to(
        &KeyUpload::new(KEY_ID, ISSUER_ID, file, first.pem.as_bytes())
            .to_wizard(&admin)
            .await,
        WIZARD,
    );
    (admin, pid, first)
}

/// `n` new keys with Key IDs from [`nth_key_id`], and for each an upload form carrying the CSRF token of
/// `form_page`, ready to be posted all at once.
async fn upload_forms(
    admin: &crate::helpers::Session,
    n: usize,
    form_page: &str,
) -> (Vec<TestKey>, Vec<Multipart>) {
    let keys: Vec<TestKey> = (0..n).map(|_| TestKey::generate()).collect();
    let mut forms = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        let key_id = nth_key_id(i);
        let upload = KeyUpload::new(&key_id, ISSUER_ID, "k.p8", key.pem.as_bytes());
        forms.push(upload.form(admin, form_page).await);
    }
    (keys, forms)
}

/// The CSRF token of the keys page and the POST to revoke key row `id`, confirmed by typing `typed`.
async fn post_revoke_typed(
    session: &crate::helpers::Session,
    id: i64,
    typed: Option<&str>,
) -> reqwest::Response {
    let csrf = csrf_from(&session.get_text(KEYS).await);
    let mut fields = vec![("csrf_token", csrf.as_str())];
    if let Some(typed) = typed {
        fields.push(("confirm_key_id", typed));
    }
    session
        .client
        .post(session.url(&format!("{KEYS}/{id}/revoke")))
        .form(&fields)
        .send()
        .await
        .unwrap()
}

/// Mark revoked on key row `id`, confirmed with `key_id` typed as a person would.
async fn post_revoke(
    session: &crate::helpers::Session,
    id: i64,
    key_id: &str,
) -> reqwest::Response {
    post_revoke_typed(session, id, Some(key_id)).await
}

// ---------------------------------------------------------------------------------------------------------------
// Rotation
// ---------------------------------------------------------------------------------------------------------------

both_backends!(
    rotating_replaces_the_key_in_use_and_destroys_the_old_private_part,
    |app| {
        // Arrange: a first key through the wizard.
        let (admin, pid, first) = admin_with_first_key(&app, "first.p8").await;
        let first_row = app.store.key_in_use(pid).await.unwrap().unwrap();

        // The keys page offers Rotate with the Issuer ID prefilled, and lists the key without its secret.
        let page = admin.get_text(KEYS).await;
        assert!(page.contains("Rotate: upload a replacement"));
        assert!(
            page.contains(&format!("action=\"{KEYS}\"")),
            "the rotate form posts to the keys page"
        );
        assert_eq!(
            input_value(&page, "issuer_id"),
            ISSUER_ID,
            "Issuer ID prefilled"
        );
        assert_eq!(
            input_value(&page, "key_id"),
            "",
            "Key ID left for the new key"
        );
        assert!(page.contains(&first.fingerprint()));
        assert!(
            page.contains("id=\"troubleshooting\""),
            "the 401 guide is on the keys page"
        );
        assert_no_key_material(&page, first.pem.as_bytes());

        // Act: rotate to a second key with the prefilled Issuer ID. Apple cannot be reached from the tests, so the
        // first attempt is held back until "Activate anyway" is ticked.
        let second = TestKey::generate();
        let name = format!("SubscriptionKey_{OTHER_KEY_ID}.p8");
        let issuer = input_value(&page, "issuer_id");
        let upload = KeyUpload::new(OTHER_KEY_ID, &issuer, &name, second.pem.as_bytes());
        let held = upload.send(&admin, KEYS, KEYS).await;
        assert_eq!(
            held.status().as_u16(),
            422,
            "not switched without Apple's confirmation"
        );
        let held = held.text().await.unwrap();
        assert!(
            held.contains("name=\"activate_anyway\""),
            "Activate anyway is offered"
        );
        assert_no_key_material(&held, second.pem.as_bytes());
        assert_eq!(
            app.store.key_in_use(pid).await.unwrap().unwrap().id,
            first_row.id,
            "the first key stays in use"
        );
        let r = upload
            .form(&admin, KEYS)
            .await
            .text("activate_anyway", "1")
            .post(&admin, KEYS)
            .await;

        // Assert
        assert_redirect_to(&r, KEYS);
        let page = unescape(&admin.get_text(KEYS).await);
        assert!(
            page.contains(&format!(
                "Key {OTHER_KEY_ID} is now the key in use. Key {KEY_ID} is retired and its private part destroyed. \
                 It was switched on without Apple's confirmation: Verify now once Apple can be reached."
            )),
            "flash: {page}"
        );
        assert_no_key_material(&page, second.pem.as_bytes());
        let rows = app.store.keys_of_project(pid).await.unwrap();
        assert_eq!(rows.len(), 2);
        let active: Vec<_> = rows
            .iter()
            .filter(|r| r.status.as_str() == "active")
            .collect();
        assert_eq!(active.len(), 1, "exactly one active key");
        assert_eq!(
            (active[0].key_id.as_str(), active[0].fingerprint.as_str()),
            (OTHER_KEY_ID, second.fingerprint().as_str())
        );
        let old = rows.iter().find(|r| r.id == first_row.id).unwrap();
        assert_eq!(old.status.as_str(), "retired");
        assert!(old.retired_at.is_some());
        assert_eq!(
            old.fingerprint,
            first.fingerprint(),
            "the retired key's metadata stays"
        );
        let sealed = app.store.all_sealed_keys().await.unwrap();
        assert_eq!(
            sealed.iter().map(|s| s.id).collect::<Vec<_>>(),
            vec![active[0].id],
            "only the new key has a private part"
        );
        let opened = open_key_in_use(&app.store, &app.settings.keyring(), pid)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(opened.signing_key.verifying_key(), &second.verifying_key());
        let audit = key_audit(&app).await;
        let retire = audit
            .iter()
            .find(|e| e.action == "key.retire")
            .expect("key.retire audited");
        assert_eq!(retire.target, KEY_ID);
        let saves: Vec<_> = audit.iter().filter(|e| e.action == "key.save").collect();
        assert_eq!(saves.len(), 2);
        assert!(saves.iter().any(|e| e.target == OTHER_KEY_ID
            && e.detail.contains(&second.fingerprint())
            && e.detail.contains(&format!("replaces {KEY_ID}"))));
        for e in &audit {
            assert_no_key_material(&e.detail, first.pem.as_bytes());
            assert_no_key_material(&e.detail, second.pem.as_bytes());
        }
    }
);

both_backends!(
    a_refused_replacement_keeps_the_key_in_use_and_stores_nothing,
    |app| {
        let (admin, pid, first) = admin_with_first_key(&app, "k.p8").await;
        let p384 = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384)
            .unwrap()
            .serialize_pem();

        let upload = KeyUpload::new(OTHER_KEY_ID, SECOND_ISSUER, "k.p8", p384.as_bytes());
        let r = upload.send(&admin, KEYS, KEYS).await;

        assert_eq!(r.status().as_u16(), 422);
        let html = r.text().await.unwrap();
        let expected = PrivateKeyError::WrongCurve {
            curve: "P-384".into(),
        }
        .to_string();
        assert_eq!(
            field_error(&html, "private_key").as_deref(),
            Some(expected.as_str())
        );
        assert_eq!(
            input_value(&html, "key_id"),
            OTHER_KEY_ID,
            "the typed Key ID is kept"
        );
        assert_eq!(
            input_value(&html, "issuer_id"),
            SECOND_ISSUER,
            "the typed Issuer ID is kept, not the previous one"
        );
        assert_no_key_material(&html, p384.as_bytes());
        let rows = app.store.keys_of_project(pid).await.unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(
            (rows[0].key_id.as_str(), rows[0].status.as_str()),
            (KEY_ID, "active")
        );
        let opened = open_key_in_use(&app.store, &app.settings.keyring(), pid)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(opened.signing_key.verifying_key(), &first.verifying_key());
        assert_eq!(key_audit(&app).await.len(), 1, "only the first key.save");
    }
);

both_backends!(rotations_sent_at_once_all_land_one_after_the_other, |app| {
    // Arrange: a key in use, and replacements uploaded by several managers at the same moment (Apple cannot be
    // reached from the tests, so each ticks "Activate anyway").
    const AT_ONCE: usize = 12;
    let (admin, pid, _) = admin_with_first_key(&app, "k.p8").await;
    let (_keys, forms) = upload_forms(&admin, AT_ONCE, KEYS).await;
    let forms = forms.into_iter().map(|f| f.text("activate_anyway", "1"));

    // Act
    let answers =
        futures_util::future::join_all(forms.into_iter().map(|f| f.post(&admin, KEYS))).await;

    // Assert: every rotation is answered as done, none as a server error, and they form one chain: each
    // replaced the key in use before it, so exactly one is in use and only it keeps a private part.
    for r in &answers {
        assert_redirect_to(r, KEYS);
    }
    let rows = app.store.keys_of_project(pid).await.unwrap();
    assert_eq!(rows.len(), AT_ONCE + 1);
    let active: Vec<_> = rows
        .iter()
        .filter(|r| r.status.as_str() == "active")
        .collect();
    assert_eq!(active.len(), 1, "exactly one key in use: {rows:?}");
    assert!(rows
        .iter()
        .filter(|r| r.id != active[0].id)
        .all(|r| r.status.as_str() == "retired" && r.retired_at.is_some()));
    let sealed = app.store.all_sealed_keys().await.unwrap();
    assert_eq!(
        sealed.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![active[0].id]
    );
    let audit = key_audit(&app).await;
    let mut replaced: Vec<&str> = audit
        .iter()
        .filter(|e| e.action == "key.save")
        .filter_map(|e| e.detail.split("replaces ").nth(1))
        .collect();
    replaced.sort_unstable();
    let mut expected: Vec<&str> = rows
        .iter()
        .filter(|r| r.id != active[0].id)
        .map(|r| r.key_id.as_str())
        .collect();
    expected.sort_unstable();
    assert_eq!(
        replaced, expected,
        "each key but the last was replaced once"
    );
    assert_eq!(
        audit.iter().filter(|e| e.action == "key.retire").count(),
        AT_ONCE
    );
});

both_backends!(
    rotation_under_concurrent_signing_never_hands_out_a_retired_key,
    |app| {
        // Arrange: N keys, the first in use; readers sign in a loop while a writer rotates through the rest.
        const KEYS_TO_USE: usize = 6;
        let (_admin, pid) = admin_with_project(&app).await;
        let keys: Arc<Vec<TestKey>> =
            Arc::new((0..KEYS_TO_USE).map(|_| TestKey::generate()).collect());
        save_directly(&app, "demo", &nth_key_id(0), &keys[0]).await;
        let store = app.store.clone();
        let keyring = app.settings.keyring();
        // Index of the newest key whose rotation has returned: no call that starts after it may see an older key.
        let completed = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));

        let mut readers = Vec::new();
        for reader in 0..3 {
            let (store, keyring, keys, completed, stop) = (
                store.clone(),
                keyring.clone(),
                keys.clone(),
                completed.clone(),
                stop.clone(),
            );
            readers.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut calls = 0usize;
            while !stop.load(Ordering::SeqCst) && calls < 20_000 {
                let floor = completed.load(Ordering::SeqCst);
                let opened = open_key_in_use(&store, &keyring, pid)
                    .await
                    .unwrap_or_else(|e| panic!("reader {reader}: the key in use did not open: {e:#}"))
                    .unwrap_or_else(|| panic!("reader {reader}: no key in use during a rotation"));
                let index = keys
                    .iter()
                    .position(|k| k.fingerprint() == opened.fingerprint)
                    .unwrap_or_else(|| panic!("reader {reader}: a key that was never uploaded: {}", opened.fingerprint));
                assert!(index >= floor, "reader {reader}: got key {index} after rotation to key {floor} had completed");
                assert_eq!(opened.key_id.as_str(), nth_key_id(index));
                assert_eq!(opened.signing_key.verifying_key(), &keys[index].verifying_key(), "fingerprint and key agree");
                let message = format!("reader {reader} call {calls}");
                let signature: p256::ecdsa::Signature = opened.signing_key.sign(message.as_bytes());
                keys[index].verifying_key().verify(message.as_bytes(), &signature).expect("signed with the uploaded key");
                if seen.last() != Some(&index) {
                    seen.push(index);
                }
                calls += 1;
                tokio::task::yield_now().await;
            }
            (calls, seen)
        }));
        }

        // Act: rotate through the remaining keys.
        for (i, key) in keys.iter().enumerate().skip(1) {
            tokio::time::sleep(Duration::from_millis(30)).await;
            save_directly(&app, "demo", &nth_key_id(i), key).await;
            completed.store(i, Ordering::SeqCst);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        stop.store(true, Ordering::SeqCst);

        // Assert
        let mut all_seen = std::collections::BTreeSet::new();
        for reader in readers {
            let (calls, seen) = reader
                .await
                .expect("reader finished without a failed assertion");
            assert!(calls > 0);
            assert!(
                seen.windows(2).all(|w| w[0] < w[1]),
                "a reader went back to an older key: {seen:?}"
            );
            eprintln!("reader: {calls} calls, keys seen in order {seen:?}");
            all_seen.extend(seen);
        }
        assert!(
            all_seen.len() > 1,
            "the readers overlapped the rotations: {all_seen:?}"
        );
        let rows = app.store.keys_of_project(pid).await.unwrap();
        assert_eq!(
            rows.iter()
                .filter(|r| r.status.as_str() == "active")
                .count(),
            1
        );
        assert_eq!(
            rows.iter()
                .filter(|r| r.status.as_str() == "retired")
                .count(),
            KEYS_TO_USE - 1
        );
        let sealed = app.store.all_sealed_keys().await.unwrap();
        assert_eq!(
            sealed.len(),
            1,
            "every retired key's private part is destroyed"
        );
        assert_eq!(sealed[0].key_id, nth_key_id(KEYS_TO_USE - 1));
        let opened = open_key_in_use(&app.store, &keyring, pid)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            opened.signing_key.verifying_key(),
            &keys[KEYS_TO_USE - 1].verifying_key()
        );
    }
);

// ---------------------------------------------------------------------------------------------------------------
// Mark revoked
// ---------------------------------------------------------------------------------------------------------------

both_backends!(
    marking_the_key_in_use_revoked_stops_all_use_at_once,
    |app| {
        let (admin, pid, _) = admin_with_first_key(&app, "k.p8").await;
        let row = app.store.key_in_use(pid).await.unwrap().unwrap();
        let page = admin.get_text(KEYS).await;
        assert!(
            page.contains(&format!("action=\"{KEYS}/{}/revoke\"", row.id)),
            "a Mark revoked form for the key"
        );
        assert!(page.contains(&format!(">Mark key {KEY_ID} revoked</button>")));

        let r = post_revoke(&admin, row.id, KEY_ID).await;

        assert_redirect_to(&r, KEYS);
        let page = unescape(&admin.get_text(KEYS).await);
        assert!(
            page.contains(&format!(
                "Key {KEY_ID} is marked revoked and its private part destroyed. This project has no key in use now, \
                 so storedesk makes no calls to Apple for it: upload a replacement below."
            )),
            "flash: {page}"
        );
        assert!(
            !page.contains(&format!("action=\"{KEYS}/{}/revoke\"", row.id)),
            "a revoked key has no Mark revoked form"
        );
        let rows = app.store.keys_of_project(pid).await.unwrap();
        assert_eq!(rows[0].status.as_str(), "revoked");
        assert!(app.store.key_in_use(pid).await.unwrap().is_none());
        assert!(
            app.store.all_sealed_keys().await.unwrap().is_empty(),
            "the private part is destroyed"
        );
        assert!(
            open_key_in_use(&app.store, &app.settings.keyring(), pid)
                .await
                .unwrap()
                .is_none(),
            "nothing can sign"
        );
        let revoke = key_audit(&app)
            .await
            .into_iter()
            .find(|e| e.action == "key.revoke")
            .expect("key.revoke audited");
        assert_eq!(
            (revoke.target.as_str(), revoke.user_email.as_str()),
            (KEY_ID, "admin@example.com")
        );
        // The wizard asks for a key again.
        let wizard = admin.get_text(WIZARD).await;
        assert!(wizard.contains(&format!("action=\"{SAVE}\"")));
    }
);

both_backends!(revoking_a_key_twice_says_it_is_already_revoked, |app| {
    let (admin, pid) = admin_with_project(&app).await;
    let key = TestKey::generate();
    let id = save_directly(&app, "demo", KEY_ID, &key).await;
    assert_redirect_to(&post_revoke(&admin, id, KEY_ID).await, KEYS);
    admin.get_text(KEYS).await; // shows and clears the first flash

    let r = post_revoke(&admin, id, KEY_ID).await;

    assert_redirect_to(&r, KEYS);
    let page = unescape(&admin.get_text(KEYS).await);
    assert!(
        page.contains("This key is already marked revoked."),
        "{page}"
    );
    let revokes = key_audit(&app)
        .await
        .into_iter()
        .filter(|e| e.action == "key.revoke")
        .count();
    assert_eq!(revokes, 1, "the second attempt changes nothing");
    assert!(open_key_in_use(&app.store, &app.settings.keyring(), pid)
        .await
        .unwrap()
        .is_none());
});

both_backends!(
    revoking_a_key_from_several_pages_at_once_revokes_it_once,
    |app| {
        let (admin, pid) = admin_with_project(&app).await;
        let key = TestKey::generate();
        let id = save_directly(&app, "demo", KEY_ID, &key).await;

        let csrf = csrf_from(&admin.get_text(KEYS).await);
        let revoke = || {
            admin
                .client
                .post(admin.url(&format!("{KEYS}/{id}/revoke")))
                .form(&[("csrf_token", csrf.as_str()), ("confirm_key_id", KEY_ID)])
                .send()
        };

        let answers = futures_util::future::join_all((0..8).map(|_| revoke())).await;

        for r in answers {
            assert_redirect_to(&r.unwrap(), KEYS);
        }
        let revokes = key_audit(&app)
            .await
            .into_iter()
            .filter(|e| e.action == "key.revoke")
            .count();
        assert_eq!(revokes, 1, "the later of the two changes nothing");
        let rows = app.store.keys_of_project(pid).await.unwrap();
        assert_eq!(
            rows.iter().map(|r| r.status.as_str()).collect::<Vec<_>>(),
            vec!["revoked"]
        );
    }
);

both_backends!(
    a_key_of_another_project_cannot_be_revoked_through_this_one,
    |app| {
        let (admin, _pid) = admin_with_project(&app).await;
        assert_eq!(create_project(&admin, "other").await.status().as_u16(), 303);
        let other_pid = project_id(&app, "other").await;
        let id = save_directly(&app, "other", KEY_ID, &TestKey::generate()).await;

        let r = post_revoke(&admin, id, KEY_ID).await;

        assert_eq!(r.status().as_u16(), 404);
        assert_eq!(
            app.store
                .key_in_use(other_pid)
                .await
                .unwrap()
                .unwrap()
                .status
                .as_str(),
            "active"
        );
    }
);

// ---------------------------------------------------------------------------------------------------------------
// Roles
// ---------------------------------------------------------------------------------------------------------------

both_backends!(
    a_support_user_sees_the_history_but_cannot_change_keys,
    |app| {
        let (_admin, pid) = admin_with_project(&app).await;
        let key = TestKey::generate();
        let id = save_directly(&app, "demo", KEY_ID, &key).await;
        let support = app.session(Role::Support).await;

        let page = support.get(KEYS).await;
        assert_eq!(page.status().as_u16(), 200);
        let html = page.text().await.unwrap();
        assert!(html.contains(KEY_ID), "the history is visible");
        assert!(
            !html.contains("enctype=\"multipart/form-data\""),
            "no Rotate form"
        );
        assert!(!html.contains("Rotate: upload a replacement"));
        assert!(
            !html.contains("Mark revoked") && !html.contains("/revoke\""),
            "no Mark revoked form"
        );
        assert_no_key_material(&html, key.pem.as_bytes());

        assert_eq!(support.get(WIZARD).await.status().as_u16(), 403);
        let csrf = csrf_from(&support.get_text("/account").await);
        let replacement = TestKey::generate();
        for action in [SAVE, KEYS] {
            let r = Multipart::new()
                .text("csrf_token", &csrf)
                .text("key_id", OTHER_KEY_ID)
                .text("issuer_id", ISSUER_ID)
                .file("private_key", "k.p8", replacement.pem.as_bytes())
                .post(&support, action)
                .await;
            assert_eq!(r.status().as_u16(), 403, "POST {action}");
        }
        let r = post_revoke(&support, id, KEY_ID).await;
        assert_eq!(r.status().as_u16(), 403);

        let rows = app.store.keys_of_project(pid).await.unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(
            (rows[0].key_id.as_str(), rows[0].status.as_str()),
            (KEY_ID, "active")
        );
        assert_eq!(key_audit(&app).await.len(), 1, "only the first key.save");
    }
);

// ---------------------------------------------------------------------------------------------------------------
// The master key
// ---------------------------------------------------------------------------------------------------------------

both_backends!(
    rotating_the_master_key_reseals_every_key_without_stopping_readers,
    |app| {
        // Arrange: keys in two projects, one of them with a retired key (no private part left to re-seal).
        let (admin, demo) = admin_with_project(&app).await;
        assert_eq!(create_project(&admin, "other").await.status().as_u16(), 303);
        let other = project_id(&app, "other").await;
        let (demo_key, other_key) = (TestKey::generate(), TestKey::generate());
        save_directly(&app, "demo", OTHER_KEY_ID, &TestKey::generate()).await;
        save_directly(&app, "demo", KEY_ID, &demo_key).await;
        save_directly(&app, "other", KEY_ID, &other_key).await;
        let old = app.settings.master_key.clone();
        let new = MasterKey::generate();
        let before = app.store.all_sealed_keys().await.unwrap();
        assert_eq!(before.len(), 2);

        // Readers holding both keys keep signing while the rotation runs.
        let stop = Arc::new(AtomicBool::new(false));
        let reader = {
            let (store, stop, window) = (
                app.store.clone(),
                stop.clone(),
                Keyring::new(new.clone(), vec![old.clone()]),
            );
            tokio::spawn(async move {
                let mut calls = 0;
                while !stop.load(Ordering::SeqCst) && calls < 20_000 {
                    for pid in [demo, other] {
                        open_key_in_use(&store, &window, pid)
                            .await
                            .expect("opens during the rotation window")
                            .expect("a key in use");
                    }
                    calls += 1;
                    tokio::task::yield_now().await;
                }
                calls
            })
        };

        // Act
        let resealed = storedesk::keys::rotate_master_key(&app.store, &old, &new)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        stop.store(true, Ordering::SeqCst);

        // Assert
        assert!(reader.await.unwrap() > 0);
        assert_eq!(resealed, 2);
        let after = app.store.all_sealed_keys().await.unwrap();
        assert_eq!(after.len(), 2);
        for (b, a) in before.iter().zip(&after) {
            assert_eq!(a.id, b.id);
            assert_eq!(a.master_key_id, new.key_id());
            assert_ne!(a.sealed_key, b.sealed_key);
        }
        for secret in demo_key.secrets().iter().chain(other_key.secrets().iter()) {
            assert!(after
                .iter()
                .all(|row| !contains_bytes(&row.sealed_key, secret)));
        }
        for (pid, key) in [(demo, &demo_key), (other, &other_key)] {
            let only_new = open_key_in_use(&app.store, &Keyring::new(new.clone(), vec![]), pid)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(only_new.signing_key.verifying_key(), &key.verifying_key());
            let window = open_key_in_use(
                &app.store,
                &Keyring::new(new.clone(), vec![old.clone()]),
                pid,
            )
            .await
            .unwrap()
            .unwrap();
            assert_eq!(window.fingerprint, key.fingerprint());
            let only_old =
                open_key_in_use(&app.store, &Keyring::new(old.clone(), vec![]), pid).await;
            let err = only_old.expect_err("the old master key alone no longer opens it");
            assert!(
                format!("{err:#}").contains("STOREDESK_MASTER_KEY"),
                "{err:#}"
            );
        }
        // A start with the old key alone is refused; the new one, or the new one with the old as previous, is fine.
        assert!(
            storedesk::keys::ensure_master_key(&app.store, &Keyring::new(old.clone(), vec![]))
                .await
                .is_err()
        );
        storedesk::keys::ensure_master_key(&app.store, &Keyring::new(new.clone(), vec![]))
            .await
            .unwrap();
        storedesk::keys::ensure_master_key(
            &app.store,
            &Keyring::new(new.clone(), vec![old.clone()]),
        )
        .await
        .unwrap();
        let audit = app
            .store
            .list_audit(&crate::projects::settings::stores::apple::key::audit_limit())
            .await
            .unwrap();
        assert!(audit.iter().any(|e| e.action == "master_key.rotate"
            && e.target == new.key_id()
            && e.detail.contains("2 key(s)")));
        // Running it again with the same keys re-seals nothing.
        assert_eq!(
            storedesk::keys::rotate_master_key(&app.store, &old, &new)
                .await
                .unwrap(),
            0
        );
    }
);

#[tokio::test]
async fn a_wrong_master_key_is_refused_at_start_with_a_sentence_naming_the_variable() {
    // Arrange: a fresh database that has met its master key.
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&storedesk::config::DatabaseUrl::sqlite_file(
        &dir.path().join("fresh.db"),
    ))
    .await
    .unwrap();
    store.migrate().await.unwrap();
    let right = MasterKey::generate();
    storedesk::keys::ensure_master_key(&store, &Keyring::new(right.clone(), vec![]))
        .await
        .unwrap();

    // Act
    let wrong = MasterKey::generate();
    let err = storedesk::keys::ensure_master_key(&store, &Keyring::new(wrong.clone(), vec![]))
        .await
        .unwrap_err();

    // Assert
    let message = format!("{err:#}");
    assert!(
        message.contains(
            "STOREDESK_MASTER_KEY is not the master key this database was encrypted with"
        ),
        "{message}"
    );
    assert!(message.contains(&right.key_id()) && message.contains(&wrong.key_id()));
    assert!(message.contains("storedesk master-key rotate"));
    use secrecy::ExposeSecret;
    for key in [&right, &wrong] {
        assert!(
            !message.contains(key.to_base64_secret().expose_secret()),
            "the key itself is never printed"
        );
    }
    storedesk::keys::ensure_master_key(&store, &Keyring::new(right.clone(), vec![]))
        .await
        .unwrap();
    storedesk::keys::ensure_master_key(&store, &Keyring::new(wrong, vec![right]))
        .await
        .unwrap();
}

/// Runs `storedesk serve` with only the given STOREDESK_* variables; it must exit by itself.
pub async fn serve_with(vars: &[(&str, &str)]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_storedesk"));
    command.arg("serve").kill_on_drop(true);
    for (name, _) in std::env::vars() {
        if name.starts_with("STOREDESK_") {
            command.env_remove(name);
        }
    }
    command
        .env("STOREDESK_DATA_DIR", dir.path())
        .env("STOREDESK_BIND", "127.0.0.1:0")
        .env("NO_COLOR", "1");
    for (name, value) in vars {
        command.env(name, value);
    }
    tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("storedesk serve should refuse to start, not keep running")
        .unwrap()
}

#[tokio::test]
async fn serve_refuses_to_start_without_a_master_key_and_says_how_to_make_one() {
    let output = serve_with(&[]).await;

    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(storedesk::cli::NO_MASTER_KEY), "{stderr}");
    assert!(
        stderr.contains("`storedesk master-key generate`")
            && stderr.contains("STOREDESK_MASTER_KEY")
    );
}

#[tokio::test]
async fn serve_refuses_a_malformed_master_key_naming_the_variable() {
    let short = "c2hvcnQga2V5"; // "short key": valid base64 of 9 bytes
    for bad in ["not a key!", short] {
        let output = serve_with(&[("STOREDESK_MASTER_KEY", bad)]).await;

        assert!(!output.status.success(), "{bad}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("STOREDESK_MASTER_KEY is set but wrong"),
            "{stderr}"
        );
        assert!(stderr.contains("storedesk master-key generate"), "{stderr}");
        assert!(!stderr.contains(bad), "the value is not echoed: {stderr}");
    }
}

both_backends!(
    the_first_key_form_does_not_replace_a_key_in_use_behind_rotations_back,
    |app| {
        // Arrange: a key in use (a second admin's tab may still show the empty Step 3 form).
        let (admin, pid, first) = admin_with_first_key(&app, "first.p8").await;
        let second = TestKey::generate();

        // Act: the first-key form is posted again, with a valid key and with a bad one.
        let replaced = KeyUpload::new(OTHER_KEY_ID, ISSUER_ID, "second.p8", second.pem.as_bytes())
            .to_wizard(&admin)
            .await;
        let bad = KeyUpload::new("Qonversion", ISSUER_ID, "second.p8", second.pem.as_bytes())
            .to_wizard(&admin)
            .await;

        // Assert: neither touches the key in use (a replacement goes through Rotate, which checks it with Apple first).
        for r in [replaced, bad] {
            assert_redirect_to(&r, KEYS);
        }
        let page = unescape(&admin.get_text(KEYS).await);
        assert!(page.contains("already has a key in use"), "{page}");
        let rows = app.store.keys_of_project(pid).await.unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(
            (rows[0].key_id.as_str(), rows[0].status.as_str()),
            (KEY_ID, "active")
        );
        let opened = open_key_in_use(&app.store, &app.settings.keyring(), pid)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(opened.signing_key.verifying_key(), &first.verifying_key());
        assert_eq!(key_audit(&app).await.len(), 1, "only the first key.save");
    }
);

both_backends!(
    first_keys_uploaded_at_once_keep_the_one_saved_first,
    |app| {
        // Arrange: two managers at Step 3 of a project without a key, each uploading their own key.
        const AT_ONCE: usize = 6;
        let (admin, pid) = admin_with_project(&app).await;
        let (_keys, forms) = upload_forms(&admin, AT_ONCE, WIZARD).await;

        // Act
        let answers =
            futures_util::future::join_all(forms.into_iter().map(|f| f.post(&admin, SAVE))).await;

        // Assert: one upload is saved; the others are told a key is in use (Step 3 never replaces one, that is
        // Rotate's work) and leave no row, no retirement and no audit row behind.
        let to_wizard = answers
            .iter()
            .filter(|r| r.headers().get("location").is_some_and(|l| l == WIZARD))
            .count();
        let to_keys = answers
            .iter()
            .filter(|r| r.headers().get("location").is_some_and(|l| l == KEYS))
            .count();
        assert_eq!((to_wizard, to_keys), (1, AT_ONCE - 1));
        let rows = app.store.keys_of_project(pid).await.unwrap();
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(rows[0].status.as_str(), "active");
        let audit = key_audit(&app).await;
        assert_eq!(
            audit.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
            vec!["key.save"]
        );
        assert_eq!(audit[0].target, rows[0].key_id);
        // What a refused upload says: one more, sent alone, so its flash is the one the next page shows (of the
        // uploads sent at once, the cookie jar keeps whichever answer it read last).
        let (_more, late) = upload_forms(&admin, 1, WIZARD).await;
        for f in late {
            let r = f.post(&admin, SAVE).await;
            assert!(r.headers().get("location").is_some_and(|l| l == KEYS));
        }
        let page = unescape(&admin.get_text(KEYS).await);
        assert!(page.contains("already has a key in use"), "{page}");
    }
);
