//! On the host: the data directory and the SQLite file are private to their owner, a destroyed key's ciphertext is
//! left in neither the database file nor its write-ahead log, and the Apple URLs and extra roots are checked.
use storedesk::store::Actor;

use crate::helpers::{spawn_app, store_key, store_project, Backend};

#[cfg(unix)]
#[tokio::test]
async fn the_data_directory_and_the_database_file_are_created_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("fresh").join("data");
    let url = storedesk::config::DatabaseUrl::sqlite_file(&data.join("storedesk.db"));
    let store = storedesk::store::Store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("storedesk.db")), 0o600);
    // SQLite gives its write-ahead log the database file's permissions.
    assert_eq!(mode(&data.join("storedesk.db-wal")), 0o600);
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn a_destroyed_key_leaves_no_ciphertext_in_the_sqlite_files() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let id = store_project(&app.store, "demo").await;
    let project = app.store.project_by_slug("demo").await.unwrap().unwrap();
    assert_eq!(project.id, id);
    let sim = storedesk::apple_sim::spawn(storedesk::apple_sim::SimConfig::default())
        .await
        .unwrap();
    let key = sim.issue_key();
    let row = store_key(&app, &project, &key).await;
    let reader = sqlx::AnyPool::connect(app.settings.database_url.as_str())
        .await
        .unwrap();
    let (sealed,): (Vec<u8>,) = sqlx::query_as("SELECT sealed_key FROM apple_keys WHERE id = $1")
        .bind(row)
        .fetch_one(&reader)
        .await
        .unwrap();
    reader.close().await;
    assert!(sealed.len() > 64);
    let path = app.settings.data_dir.join("test.db");
    let files = || {
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend(std::fs::read(path.with_extension("db-wal")).unwrap_or_default());
        bytes
    };
    assert!(
        contains(&files(), &sealed),
        "the sealed key is on disk before"
    );
    app.store
        .revoke_key(project.id, row, &key.key_id, &Actor::system("test"))
        .await
        .unwrap();
    assert!(
        !contains(&files(), &sealed),
        "a revoked key's ciphertext is gone from the files"
    );
}

#[test]
fn apple_urls_are_https_or_a_loopback_simulator_and_extra_roots_need_the_simulator() {
    use storedesk::config::{check_extra_roots, parse_base_url, AppleSettings};
    let v = "STOREDESK_APPLE_PRODUCTION_URL";
    assert!(parse_base_url(v, "https://api.storekit.itunes.apple.com").is_ok());
    assert!(parse_base_url(v, "http://127.0.0.1:8090").is_ok());
    assert!(parse_base_url(v, "http://localhost:8090/").is_ok());
    assert!(parse_base_url(v, "http://[::1]:8090").is_ok());
    assert_eq!(
        parse_base_url(v, "http://apple-proxy.internal:8080").unwrap_err().to_string(),
        "STOREDESK_APPLE_PRODUCTION_URL is set but wrong: it should be an https:// URL (http:// is accepted only for a simulator on this machine, at a loopback address such as 127.0.0.1)."
    );
    assert!(parse_base_url(v, "ftp://127.0.0.1").is_err());
    let mut apple = AppleSettings::default();
    assert!(
        check_extra_roots(&apple).is_ok(),
        "no extra roots, Apple's URLs"
    );
    apple.extra_roots = vec![vec![1, 2, 3]];
    assert_eq!(
        check_extra_roots(&apple).unwrap_err().to_string(),
        "STOREDESK_APPLE_EXTRA_ROOTS is set but wrong: it should be unset while the Apple URLs are Apple's: extra roots are trusted only when STOREDESK_APPLE_PRODUCTION_URL and STOREDESK_APPLE_SANDBOX_URL are both a simulator at a loopback address."
    );
    apple.production_url = "http://127.0.0.1:8090".into();
    assert!(
        check_extra_roots(&apple).is_err(),
        "Sandbox is still Apple's"
    );
    apple.sandbox_url = "http://127.0.0.1:8090".into();
    assert!(check_extra_roots(&apple).is_ok());
}

crate::both_backends!(project_pages_say_when_a_simulator_root_is_trusted, |app| {
    let admin = app.session(storedesk::domain::Role::Admin).await;
    assert_eq!(
        crate::helpers::create_project(&admin, "demo")
            .await
            .status()
            .as_u16(),
        303
    );
    assert!(!admin
        .get_text("/projects/demo")
        .await
        .contains("App Store simulator"));
});

#[tokio::test]
async fn with_the_simulator_s_root_every_project_page_says_it_shows_test_data() {
    let r = crate::helpers::ready(Backend::Sqlite, Default::default())
        .await
        .unwrap();
    for path in [
        "/projects/demo",
        "/projects/demo/keys",
        "/projects/demo/notifications",
    ] {
        let page = r.admin.get_text(path).await;
        assert!(
            page.contains("This console talks to an App Store simulator on this machine and trusts its test root besides Apple's (STOREDESK_APPLE_EXTRA_ROOTS): what these pages show is test data, not Apple's."),
            "{path}"
        );
    }
}
