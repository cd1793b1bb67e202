//! Mark revoked asks for the key's Key ID in the same form, saying what stops; a post without it changes nothing
//! and says why; the message afterwards says what is true of the project's keys.
use storedesk::domain::KeyHealth;

use super::{post_revoke, post_revoke_typed, save_directly};
use crate::both_backends;
use crate::helpers::assert_redirect_to;
use crate::projects::settings::stores::apple::key::{
    admin_with_project, field_error, key_audit, unescape, TestKey, KEYS, KEY_ID, OTHER_KEY_ID,
};

both_backends!(the_confirmation_names_the_key_and_what_stops, |app| {
    let (admin, _pid) = admin_with_project(&app).await;
    let old = save_directly(&app, "demo", OTHER_KEY_ID, &TestKey::generate()).await;
    let current = save_directly(&app, "demo", KEY_ID, &TestKey::generate()).await;

    let page = unescape(&admin.get_text(KEYS).await);

    assert!(page.contains(&format!(
            "<p id=\"revoke-{current}-what\">Key {KEY_ID} is the key in use. Marking it revoked destroys its private part and stops every call to Apple for this project at once (lookups, Verify now, test notifications, backfills, consumption answers and offer signatures) until a replacement is uploaded.</p>"
        )), "{page}");
    assert!(page.contains(&format!(
            "<p id=\"revoke-{old}-what\">Key {OTHER_KEY_ID} is no longer used. Marking it revoked records that it was revoked (for example in App Store Connect); nothing stops.</p>"
        )), "{page}");
    assert!(page.contains(&format!(
        "<label for=\"revoke-{current}\">Type the Key ID <code>{KEY_ID}</code> to confirm</label>"
    )));
    assert!(page.contains(&format!(
        "<input id=\"revoke-{current}\" name=\"confirm_key_id\""
    )));
    assert!(page.contains(&format!(
        "<button type=\"submit\" class=\"danger\">Mark key {KEY_ID} revoked</button>"
    )));
    // The table's action leads to the confirmation, which is closed until asked for; nothing revokes at once.
    assert!(page.contains(&format!(
        "<a href=\"#revoke-{current}-what\" aria-label=\"Mark key {KEY_ID} revoked…\">Mark revoked…</a>"
    )));
    assert!(page.contains(&format!(
        "<details class=\"card confirm\" id=\"revoke-{current}-confirm\">"
    )));
});

both_backends!(
    mark_revoked_without_its_confirmation_changes_nothing_and_says_why,
    |app| {
        let (admin, pid) = admin_with_project(&app).await;
        let id = save_directly(&app, "demo", KEY_ID, &TestKey::generate()).await;
        let cases = [
            (None, format!("Type the Key ID {KEY_ID} to confirm: marking it revoked stops every call to Apple for this project. Nothing was changed.")),
            (Some("  "), format!("Type the Key ID {KEY_ID} to confirm: marking it revoked stops every call to Apple for this project. Nothing was changed.")),
            (Some(OTHER_KEY_ID), format!("“{OTHER_KEY_ID}” is not this key's Key ID ({KEY_ID}). Nothing was changed.")),
        ];
        for (typed, sentence) in cases {
            let r = post_revoke_typed(&admin, id, typed).await;

            assert_eq!(r.status().as_u16(), 422, "{typed:?}");
            let html = r.text().await.unwrap();
            assert_eq!(
                field_error(&html, &format!("revoke-{id}")).as_deref(),
                Some(sentence.as_str())
            );
            assert!(
                html.contains(&format!(
                    "<details class=\"card confirm\" id=\"revoke-{id}-confirm\" open>"
                )),
                "the confirmation is shown open"
            );
            assert!(html.contains(&format!(
                "aria-describedby=\"revoke-{id}-what revoke-{id}-error\" aria-invalid=\"true\""
            )));
        }
        let key = app
            .store
            .key_in_use(pid)
            .await
            .unwrap()
            .expect("still in use");
        assert_eq!((key.id, key.status.as_str()), (id, "active"));
        assert_eq!(
            app.store.all_sealed_keys().await.unwrap().len(),
            1,
            "its private part is kept"
        );
        assert!(!key_audit(&app)
            .await
            .iter()
            .any(|e| e.action == "key.revoke"));
    }
);

both_backends!(revoking_a_retired_key_says_the_key_in_use_stays, |app| {
    let (admin, pid) = admin_with_project(&app).await;
    let old = save_directly(&app, "demo", OTHER_KEY_ID, &TestKey::generate()).await;
    let current = save_directly(&app, "demo", KEY_ID, &TestKey::generate()).await;

    let r = post_revoke(&admin, old, OTHER_KEY_ID).await;

    assert_redirect_to(&r, KEYS);
    let page = unescape(&admin.get_text(KEYS).await);
    assert!(
            page.contains(&format!(
                "Key {OTHER_KEY_ID} is marked revoked (it was no longer used). Key {KEY_ID} stays in use (not verified). Nothing else changed."
            )),
            "{page}"
        );
    assert!(!page.contains("no key in use"), "{page}");
    let key = app.store.key_in_use(pid).await.unwrap().unwrap();
    assert_eq!(key.id, current);
    let rows = app.store.keys_of_project(pid).await.unwrap();
    let revoked = rows.iter().find(|r| r.id == old).unwrap();
    assert_eq!(revoked.health(), KeyHealth::Revoked);
});

both_backends!(
    revoking_the_last_keys_says_the_project_has_none_in_use,
    |app| {
        let (admin, pid) = admin_with_project(&app).await;
        let old = save_directly(&app, "demo", OTHER_KEY_ID, &TestKey::generate()).await;
        let current = save_directly(&app, "demo", KEY_ID, &TestKey::generate()).await;
        assert_redirect_to(&post_revoke(&admin, current, KEY_ID).await, KEYS);
        admin.get_text(KEYS).await; // shows and clears the first message

        assert_redirect_to(&post_revoke(&admin, old, OTHER_KEY_ID).await, KEYS);

        let page = unescape(&admin.get_text(KEYS).await);
        assert!(
            page.contains(&format!(
                "Key {OTHER_KEY_ID} is marked revoked (it was no longer used). This project has no key in use: upload one below to call Apple."
            )),
            "{page}"
        );
        assert!(app.store.key_in_use(pid).await.unwrap().is_none());
        assert!(
            page.contains("<h2 id=\"rotate\">Upload a key</h2>"),
            "{page}"
        );
    }
);
