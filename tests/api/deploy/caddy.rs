//! Two `storedesk serve` instances on one PostgreSQL database behind Caddy, configured with `docs/deploy/Caddyfile`
//! and its own authority's certificate: sign-in over https, a key rotated on one instance used on the other,
//! notifications spread over both and each stored once, and one instance killed while Caddy keeps answering.
use std::path::PathBuf;
use std::time::Duration;

use storedesk::store::AuditFilter;

use super::{
    browser, create_project, deliver, direct_session, free_port, have, notification, read,
    session_ips, sign_in, Deployment, Instance, CLIENT_IP, DOMAIN,
};
use crate::projects::settings::stores::apple::key::{KeyUpload, KEYS};

const ACCEPTED: &str = "storedesk_notifications_total{outcome=\"accepted\"}";
const DUPLICATE: &str = "storedesk_notifications_total{outcome=\"duplicate\"}";
const APPLE_OK: &str = "storedesk_apple_calls_total{outcome=\"ok\"}";

/// Caddy running the documented Caddyfile, imported into a wrapper with the test's global options: its own
/// authority instead of ACME (`local_certs`), nothing installed into the system's trust store, its own ports, no
/// admin endpoint, and its storage in a temporary folder.
pub struct Caddy {
    child: tokio::process::Child,
    /// Caddy's root certificate (PEM), the one the test's client trusts.
    pub root: Vec<u8>,
    pub log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Caddy {
    pub async fn start(https_port: u16, upstreams: [&Instance; 2]) -> Caddy {
        let dir = tempfile::tempdir().unwrap();
        let storage = dir.path().join("storage");
        let documented = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/deploy/Caddyfile");
        let wrapper = dir.path().join("Caddyfile");
        std::fs::write(
            &wrapper,
            format!(
                "{{\n\tlocal_certs\n\tskip_install_trust\n\thttp_port {}\n\thttps_port {https_port}\n\tadmin off\n\
                 \tstorage file_system {{\n\t\troot {}\n\t}}\n}}\n\nimport {documented}\n",
                free_port(),
                storage.display()
            ),
        )
        .unwrap();
        let log = dir.path().join("caddy.log");
        let file = std::fs::File::create(&log).unwrap();
        let mut child = tokio::process::Command::new("caddy")
            .args(["run", "--adapter", "caddyfile", "--config"])
            .arg(&wrapper)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", dir.path())
            .env("XDG_CONFIG_HOME", dir.path().join("config"))
            .env("XDG_DATA_HOME", dir.path().join("data"))
            .env("STOREDESK_DOMAIN", DOMAIN)
            .env(
                "STOREDESK_UPSTREAM_1",
                format!("127.0.0.1:{}", upstreams[0].port),
            )
            .env(
                "STOREDESK_UPSTREAM_2",
                format!("127.0.0.1:{}", upstreams[1].port),
            )
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        // Caddy makes its authority at start, then the site's certificate; the site is up once a request over
        // TLS, trusting only that authority, reaches storedesk.
        let root_file = storage.join("pki/authorities/local/root.crt");
        for _ in 0..300 {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("caddy ended ({status}):\n{}", read(&log));
            }
            if let Ok(root) = std::fs::read(&root_file) {
                let client = browser(https_port, &root);
                let up = client
                    .get(format!("https://{DOMAIN}:{https_port}/healthz"))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                if up {
                    return Caddy {
                        child,
                        root,
                        log,
                        _dir: dir,
                    };
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("caddy did not serve within 30 s:\n{}", read(&log));
    }
}

impl Drop for Caddy {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

fn lookup(q: &str) -> String {
    format!("/projects/demo/transactions?q={q}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_behind_caddy_share_sessions_keys_and_notifications_and_survive_one_dying() {
    if !have("caddy", "version", "caddy") {
        return;
    }
    let Some(database) = crate::helpers::fresh_postgres_database().await else {
        return;
    };
    let https_port = free_port();
    let base = format!("https://{DOMAIN}:{https_port}");
    let d = Deployment::new(database, base.clone()).await;
    let (migrated, out) = d.run(&["migrate"], "").await;
    assert!(migrated, "{out}");
    d.add_admin().await;
    let a = d.serve("a").await;
    let mut b = d.serve("b").await;
    let caddy = Caddy::start(https_port, [&a, &b]).await;
    let store = d.store().await;

    // Sign-in through Caddy: Secure, HttpOnly, SameSite cookie and HSTS (checked by sign_in), and the sign-in
    // recorded with the client's own address, not Caddy's.
    let client = browser(https_port, &caddy.root);
    let (admin, cookie) = sign_in(&client, &base).await;
    assert_eq!(
        session_ips(&d).await,
        vec![CLIENT_IP.to_owned()],
        "the session's address"
    );
    create_project(&admin, &d.sim).await;
    let audit = store
        .list_audit(&AuditFilter {
            limit: 10,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    let created = audit
        .iter()
        .find(|e| e.action == "project.create")
        .expect("project.create audited");
    assert_eq!(created.ip, CLIENT_IP, "{created:?}");
    let project = store.project_by_slug("demo").await.unwrap().unwrap();

    // The first key through Step 3, over https; instance b looks a customer up with it.
    let seed = d.sim.seed();
    let first = d.sim.issue_key();
    let saved = KeyUpload::new(
        &first.key_id,
        &first.issuer_id,
        &first.file_name,
        first.private_key_pem.as_bytes(),
    )
    .to_wizard(&admin)
    .await;
    assert_eq!(saved.status().as_u16(), 303, "first key saved");
    let (on_a, on_b) = (direct_session(&a, &cookie), direct_session(&b, &cookie));
    let page = on_b
        .get_text(&lookup(&seed.active_monthly.transaction_id))
        .await;
    assert!(page.contains("Fresh from Apple"), "{page}");

    // Rotated on a; Apple then refuses the first key. The next lookup on b succeeds, so b signed it with the
    // second key: no instance keeps using a key another one replaced.
    let second = d.sim.issue_key();
    let rotated = KeyUpload::new(
        &second.key_id,
        &second.issuer_id,
        &second.file_name,
        second.private_key_pem.as_bytes(),
    )
    .send(&on_a, KEYS, KEYS)
    .await;
    crate::helpers::assert_redirect_to(&rotated, KEYS);
    d.sim.revoke_key(&first.key_id);
    let calls = b.counter(APPLE_OK).await;
    let page = on_b.get_text(&lookup(&seed.upgraded_transaction_id)).await;
    assert!(page.contains("Fresh from Apple"), "{page}");
    assert!(b.counter(APPLE_OK).await > calls, "b called Apple itself");
    let in_use = store.key_in_use(project.id).await.unwrap().unwrap();
    assert_eq!(in_use.key_id, second.key_id);
    assert!(in_use.last_success_at.is_some());

    // Notifications over https through Caddy, each sent twice at once: both instances take some, every one is
    // answered 200 and stored exactly once.
    let token = store.notification_token(project.id).await.unwrap();
    let url = format!("{base}/apple/notifications/{token}");
    let before = (a.counter(ACCEPTED).await, b.counter(ACCEPTED).await);
    let sent: Vec<(String, String)> = (0..30).map(|i| notification(&d.sim, i)).collect();
    let mut calls = tokio::task::JoinSet::new();
    for (body, _) in sent.iter().chain(sent.iter()) {
        let (client, url, body) = (client.clone(), url.clone(), body.clone());
        calls.spawn(async move { deliver(&client, &url, body).await });
    }
    let statuses = calls.join_all().await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let took = (
        a.counter(ACCEPTED).await - before.0,
        b.counter(ACCEPTED).await - before.1,
    );
    assert!(
        took.0 > 0 && took.1 > 0,
        "both instances took some: {took:?}"
    );
    assert_eq!(took.0 + took.1, 30, "each stored once: {took:?}");
    assert_eq!(
        a.counter(DUPLICATE).await + b.counter(DUPLICATE).await,
        30,
        "the second copies were answered as duplicates"
    );
    assert_eq!(store.count_notifications(project.id).await.unwrap(), 30);
    for (_, uuid) in &sent {
        assert!(store
            .notification_by_uuid(project.id, uuid)
            .await
            .unwrap()
            .is_some());
    }

    // b dies (kill -9): Caddy skips it and every request still succeeds, all of them on a.
    b.kill().await;
    let before = a.counter(ACCEPTED).await;
    let after_kill: Vec<(String, String)> = (0..12).map(|i| notification(&d.sim, i)).collect();
    for (body, _) in &after_kill {
        assert_eq!(deliver(&client, &url, body.clone()).await, 200);
        let page = admin.get("/projects/demo").await;
        assert_eq!(page.status().as_u16(), 200, "pages too");
    }
    assert_eq!(a.counter(ACCEPTED).await - before, 12, "a took them all");
    assert_eq!(store.count_notifications(project.id).await.unwrap(), 42);
    let log = read(&caddy.log);
    assert!(
        !log.contains("\"status\":502"),
        "no request failed in Caddy:\n{log}"
    );
}
