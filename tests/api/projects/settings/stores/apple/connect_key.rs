//! Step 1's App Store Connect API key over HTTP: each bad input is refused with its exact sentence next to its
//! field (422, the typed IDs kept, the key never shown, nothing stored), an In-App Purchase key is refused as the
//! wrong kind, and a good key is stored encrypted, shown by fingerprint only, audited, and replaced by the next.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use storedesk::domain::connect_key::{
    for_connect_api, key_id_mismatch, IN_APP_PURCHASE_KEY_AT_STEP_1, NO_CONNECT_FILE,
};
use storedesk::domain::{IssuerIdError, KeyIdError, PrivateKeyError};

use super::key::{
    admin_with_project, assert_no_key_material, audit_limit, contains_bytes, field_error,
    input_value, refuse as refuse_at_step3, subscription_name, KeyUpload, TestKey, ISSUER_ID, KEYS,
    KEY_ID, OTHER_KEY_ID, WIZARD,
};
use crate::both_backends;
use crate::helpers::{Session, TestApp};

const SAVE: &str = "/projects/demo/settings/stores/apple/connect-key";
const FIELDS: [&str; 3] = ["connect_key_id", "connect_issuer_id", "connect_private_key"];

fn auth_key_name(key_id: &str) -> String {
    format!("AuthKey_{key_id}.p8")
}

async fn assert_no_connect_key(app: &TestApp, project_id: i64) {
    assert!(
        app.store
            .connect_keys_of_project(project_id)
            .await
            .unwrap()
            .is_empty(),
        "an App Store Connect API key row was stored"
    );
    assert!(
        app.store
            .keys_of_project(project_id)
            .await
            .unwrap()
            .is_empty(),
        "an In-App Purchase key row was stored"
    );
}

/// Posts `upload` to Step 1 and checks the refusal: 422, `expected` next to `field` only, the IDs kept.
async fn refuse(
    app: &TestApp,
    admin: &Session,
    project_id: i64,
    upload: &KeyUpload<'_>,
    field: &str,
    expected: &str,
) {
    let response = upload.send(admin, WIZARD, SAVE).await;
    assert_eq!(
        response.status().as_u16(),
        422,
        "a refused Step 1 key is 422"
    );
    let html = response.text().await.unwrap();
    for f in FIELDS {
        let error = field_error(&html, f);
        if f == field {
            assert_eq!(error.as_deref(), Some(expected), "the sentence next to {f}");
            assert!(
                html.contains(&format!("aria-describedby=\"{f}-help {f}-error\"")),
                "{f} points at its error"
            );
        } else {
            assert_eq!(error, None, "no error expected next to {f}");
        }
    }
    assert_eq!(input_value(&html, "connect_key_id"), upload.key_id.trim());
    assert_eq!(
        input_value(&html, "connect_issuer_id"),
        upload.issuer_id.trim()
    );
    if let Some((_, bytes)) = upload.file {
        assert_no_key_material(&html, bytes);
    }
    assert_no_connect_key(app, project_id).await;
}

both_backends!(
    step1_refuses_an_in_app_purchase_key_as_the_wrong_kind,
    |app| {
        let (admin, pid) = admin_with_project(&app).await;
        let key = TestKey::generate();
        let name = subscription_name(KEY_ID);
        let upload = KeyUpload::new(KEY_ID, ISSUER_ID, &name, key.pem.as_bytes());
        refuse(
            &app,
            &admin,
            pid,
            &upload,
            "connect_private_key",
            IN_APP_PURCHASE_KEY_AT_STEP_1,
        )
        .await;
        // Said first even when the Key ID is wrong too: the wrong file is the mistake to fix.
        assert!(IN_APP_PURCHASE_KEY_AT_STEP_1.contains("App Store Connect API"));
    }
);

both_backends!(
    step1_refuses_an_auth_key_named_after_another_key_id,
    |app| {
        let (admin, pid) = admin_with_project(&app).await;
        let key = TestKey::generate();
        let name = auth_key_name(OTHER_KEY_ID);
        let upload = KeyUpload::new(KEY_ID, ISSUER_ID, &name, key.pem.as_bytes());
        let expected = key_id_mismatch(OTHER_KEY_ID, KEY_ID);
        refuse(&app, &admin, pid, &upload, "connect_private_key", &expected).await;
    }
);

both_backends!(
    step1_refuses_bad_ids_and_files_with_sentences_about_the_app_store_connect_api_tab,
    |app| {
        let (admin, pid) = admin_with_project(&app).await;
        let key = TestKey::generate();
        let name = auth_key_name(KEY_ID);
        // An empty Key ID.
        let expected = for_connect_api(&KeyIdError::Empty.to_string());
        assert!(expected.contains("App Store Connect API") && !expected.contains("In-App"));
        let upload = KeyUpload::new("", ISSUER_ID, &name, key.pem.as_bytes());
        refuse(&app, &admin, pid, &upload, "connect_key_id", &expected).await;
        // An empty Issuer ID.
        let expected = for_connect_api(&IssuerIdError::Empty.to_string());
        assert!(expected.contains("App Store Connect API tab"));
        let upload = KeyUpload::new(KEY_ID, "", &name, key.pem.as_bytes());
        refuse(&app, &admin, pid, &upload, "connect_issuer_id", &expected).await;
        // No file chosen.
        let upload = KeyUpload {
            key_id: KEY_ID,
            issuer_id: ISSUER_ID,
            file: None,
        };
        refuse(
            &app,
            &admin,
            pid,
            &upload,
            "connect_private_key",
            NO_CONNECT_FILE,
        )
        .await;
        // A file that is not a key.
        let expected = for_connect_api(&PrivateKeyError::Empty.to_string());
        assert!(expected.contains("AuthKey_") && !expected.contains("SubscriptionKey_"));
        let upload = KeyUpload::new(KEY_ID, ISSUER_ID, &name, b"");
        refuse(&app, &admin, pid, &upload, "connect_private_key", &expected).await;
    }
);

both_backends!(
    step1_stores_the_key_encrypted_shows_its_fingerprint_and_replaces_it,
    |app| {
        let (admin, pid) = admin_with_project(&app).await;
        let key = TestKey::generate();
        let name = auth_key_name(KEY_ID);
        let response = KeyUpload::new(KEY_ID, ISSUER_ID, &name, key.pem.as_bytes())
            .send(&admin, WIZARD, SAVE)
            .await;
        assert_eq!(response.status().as_u16(), 303);
        let rows = app.store.connect_keys_of_project(pid).await.unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].key_id, KEY_ID);
        assert_eq!(rows[0].issuer_id, ISSUER_ID);
        assert_eq!(rows[0].fingerprint, key.fingerprint());
        // Not the In-App Purchase key: Step 3 is still to do.
        assert!(app.store.keys_of_project(pid).await.unwrap().is_empty());
        let sealed = app
            .store
            .sealed_connect_key_in_use(pid)
            .await
            .unwrap()
            .unwrap();
        for secret in key.secrets() {
            assert!(
                !contains_bytes(&sealed, &secret),
                "the key is stored in clear"
            );
        }
        let page = admin.get_text(WIZARD).await;
        assert!(
            page.contains(&key.fingerprint()),
            "the fingerprint is shown"
        );
        assert!(page.contains("id=\"connect-key-id\">2X9R4HXF34<"));
        assert_no_key_material(&page, key.pem.as_bytes());
        // The keys page lists it apart, with its kind.
        let keys_page = admin.get_text(KEYS).await;
        let listed = &keys_page[keys_page.find("id=\"connect-keys\"").expect("the list")..];
        assert!(listed.contains("App Store Connect API") && listed.contains(&key.fingerprint()));
        assert_no_key_material(&keys_page, key.pem.as_bytes());
        let audit = app.store.list_audit(&audit_limit()).await.unwrap();
        assert!(audit
            .iter()
            .any(|e| e.action == "connect_key.save" && e.target == KEY_ID));
        // The next key replaces it; the old row keeps its metadata without its private part.
        let next = TestKey::generate();
        let name = auth_key_name(OTHER_KEY_ID);
        let response = KeyUpload::new(OTHER_KEY_ID, ISSUER_ID, &name, next.pem.as_bytes())
            .send(&admin, WIZARD, SAVE)
            .await;
        assert_eq!(response.status().as_u16(), 303);
        let rows = app.store.connect_keys_of_project(pid).await.unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].key_id, OTHER_KEY_ID);
        assert_eq!(rows[0].status.as_str(), "active");
        assert_eq!(rows[1].status.as_str(), "retired");
        let sealed = app
            .store
            .sealed_connect_key_in_use(pid)
            .await
            .unwrap()
            .unwrap();
        assert!(!sealed.is_empty());
    }
);

both_backends!(step3_still_refuses_an_auth_key_as_the_wrong_kind, |app| {
    let (admin, pid) = admin_with_project(&app).await;
    let key = TestKey::generate();
    let name = auth_key_name(KEY_ID);
    let upload = KeyUpload::new(KEY_ID, ISSUER_ID, &name, key.pem.as_bytes());
    refuse_at_step3(
        &app,
        &admin,
        pid,
        &upload,
        "private_key",
        &PrivateKeyError::AppStoreConnectApiKey.to_string(),
    )
    .await;
    assert!(app
        .store
        .connect_keys_of_project(pid)
        .await
        .unwrap()
        .is_empty());
});

both_backends!(
    step1_key_is_marked_revoked_only_when_its_key_id_is_typed,
    |app| {
        let (admin, pid) = admin_with_project(&app).await;
        let key = TestKey::generate();
        let name = auth_key_name(KEY_ID);
        let response = KeyUpload::new(KEY_ID, ISSUER_ID, &name, key.pem.as_bytes())
            .send(&admin, WIZARD, SAVE)
            .await;
        assert_eq!(response.status().as_u16(), 303);
        let revoke = format!("{SAVE}/revoke");
        // Without the Key ID: 422, the sentence next to the confirmation, nothing changed.
        let response = admin
            .post_form(WIZARD, &revoke, &[("confirm_key_id", "")])
            .await;
        assert_eq!(response.status().as_u16(), 422);
        let html = response.text().await.unwrap();
        assert_eq!(
            field_error(&html, "connect_confirm_key_id").as_deref(),
            Some("Type the Key ID 2X9R4HXF34 to confirm. Nothing was changed.")
        );
        assert!(app.store.connect_key_in_use(pid).await.unwrap().is_some());
        // With it: revoked, the private part destroyed, audited.
        let response = admin
            .post_form(WIZARD, &revoke, &[("confirm_key_id", KEY_ID)])
            .await;
        assert_eq!(response.status().as_u16(), 303);
        assert!(app.store.connect_key_in_use(pid).await.unwrap().is_none());
        assert!(app
            .store
            .sealed_connect_key_in_use(pid)
            .await
            .unwrap()
            .is_none());
        let rows = app.store.connect_keys_of_project(pid).await.unwrap();
        assert_eq!(rows[0].status.as_str(), "revoked");
        let audit = app.store.list_audit(&audit_limit()).await.unwrap();
        assert!(audit
            .iter()
            .any(|e| e.action == "connect_key.revoke" && e.target == KEY_ID));
    }
);

both_backends!(
    master_key_rotate_reseals_step1_keys_which_then_open_under_the_new_key_only,
    |app| {
        let (admin, pid) = admin_with_project(&app).await;
        let key = TestKey::generate();
        let name = auth_key_name(KEY_ID);
        let response = KeyUpload::new(KEY_ID, ISSUER_ID, &name, key.pem.as_bytes())
            .send(&admin, WIZARD, SAVE)
            .await;
        assert_eq!(response.status().as_u16(), 303);
        let old = app.settings.master_key.clone();
        let new = storedesk::crypto::MasterKey::generate();
        let before = app.store.all_sealed_connect_keys().await.unwrap();
        assert_eq!(before.len(), 1);
        assert_eq!(before[0].master_key_id, old.key_id());

        storedesk::keys::rotate_master_key(&app.store, &old, &new)
            .await
            .unwrap();

        let after = app.store.all_sealed_connect_keys().await.unwrap();
        assert_eq!(after.len(), 1);
        assert_eq!(after[0].master_key_id, new.key_id());
        assert_ne!(after[0].sealed_key, before[0].sealed_key);
        let aad = storedesk::keys::connect_key_aad(pid, after[0].id, KEY_ID);
        let only_new = storedesk::crypto::Keyring::new(new.clone(), vec![]);
        let der = only_new
            .open_sealed(&after[0].master_key_id, &after[0].sealed_key, &aad, "test")
            .unwrap();
        let opened = storedesk::domain::ApplePrivateKey::from_pkcs8_der(&der).unwrap();
        assert_eq!(opened.public_key_fingerprint(), key.fingerprint());
        assert!(storedesk::crypto::Keyring::new(old.clone(), vec![])
            .open_sealed(&after[0].master_key_id, &after[0].sealed_key, &aad, "test")
            .is_err());
        let audit = app.store.list_audit(&audit_limit()).await.unwrap();
        assert!(audit.iter().any(|e| e.action == "master_key.rotate"
            && e.detail.contains("1 App Store Connect API key(s)")));
    }
);
