//! Two instances on PostgreSQL behind nginx configured with `docs/deploy/nginx.conf`: the example's names,
//! addresses, ports and certificate paths replaced by the test's (each replacement must find its text, so the test
//! follows the file), inside a minimal `nginx.conf` of the test's own, with a certificate from an authority made in
//! the test. Sign-in over https, the client's address, http sent to https, and one instance killed while pages and
//! notifications keep being answered.
use std::time::Duration;

use super::{
    browser, create_project, deliver, free_port, have, notification, read, session_ips, sign_in,
    Deployment, CLIENT_IP, DOMAIN,
};

/// A certificate authority and a certificate for [`DOMAIN`] it signed: (authority PEM, chain PEM, key PEM).
fn certificates() -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec![DOMAIN.to_owned()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    (ca.pem(), leaf.pem(), key.serialize_pem())
}

/// `text` with `from` replaced by `to`, which must be there.
fn replace(text: String, from: &str, to: &str) -> String {
    assert!(
        text.contains(from),
        "docs/deploy/nginx.conf no longer has `{from}`"
    );
    text.replace(from, to)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_behind_nginx_with_the_documented_configuration() {
    if !have("nginx", "-v", "nginx") {
        return;
    }
    let Some(database) = crate::helpers::fresh_postgres_database().await else {
        return;
    };
    let (https_port, http_port) = (free_port(), free_port());
    let base = format!("https://{DOMAIN}:{https_port}");
    let d = Deployment::new(database, base.clone()).await;
    let (migrated, out) = d.run(&["migrate"], "").await;
    assert!(migrated, "{out}");
    d.add_admin().await;
    let a = d.serve("a").await;
    let mut b = d.serve("b").await;

    let dir = tempfile::tempdir().unwrap();
    let (ca, chain, key) = certificates();
    let (chain_file, key_file) = (
        dir.path().join("fullchain.pem"),
        dir.path().join("privkey.pem"),
    );
    std::fs::write(&chain_file, chain).unwrap();
    std::fs::write(&key_file, key).unwrap();
    let mut site = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/deploy/nginx.conf"
    ))
    .unwrap();
    for (from, to) in [
        (
            "/etc/letsencrypt/live/storedesk.example.com/fullchain.pem".to_owned(),
            chain_file.display().to_string(),
        ),
        (
            "/etc/letsencrypt/live/storedesk.example.com/privkey.pem".to_owned(),
            key_file.display().to_string(),
        ),
        ("storedesk.example.com".to_owned(), DOMAIN.to_owned()),
        ("127.0.0.1:8081".to_owned(), format!("127.0.0.1:{}", a.port)),
        ("127.0.0.1:8082".to_owned(), format!("127.0.0.1:{}", b.port)),
        (
            "listen 443 ".to_owned(),
            format!("listen 127.0.0.1:{https_port} "),
        ),
        (
            "listen 80;".to_owned(),
            format!("listen 127.0.0.1:{http_port};"),
        ),
        // The machine may have no IPv6.
        ("    listen [::]:443 ssl http2;\n".to_owned(), String::new()),
        ("    listen [::]:80;\n".to_owned(), String::new()),
    ] {
        site = replace(site, &from, &to);
    }
    let site_file = dir.path().join("storedesk.conf");
    std::fs::write(&site_file, site).unwrap();
    // One process (no master and workers), so that killing it, also when the test fails, leaves nothing behind.
    let p = dir.path().display();
    std::fs::write(
        dir.path().join("nginx.conf"),
        format!(
            "daemon off;\nmaster_process off;\npid {p}/nginx.pid;\nerror_log {p}/error.log;\n\
             events {{ worker_connections 64; }}\nhttp {{\n  access_log {p}/access.log;\n  \
             client_body_temp_path {p}/body;\n  proxy_temp_path {p}/proxy;\n  fastcgi_temp_path {p}/fastcgi;\n  \
             uwsgi_temp_path {p}/uwsgi;\n  scgi_temp_path {p}/scgi;\n  include {};\n}}\n",
            site_file.display()
        ),
    )
    .unwrap();
    let mut nginx = tokio::process::Command::new("nginx")
        .arg("-p")
        .arg(dir.path())
        .arg("-c")
        .arg(dir.path().join("nginx.conf"))
        .arg("-e")
        .arg(dir.path().join("error.log"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let client = browser(https_port, ca.as_bytes());
    let mut up = false;
    for _ in 0..100 {
        if let Some(status) = nginx.try_wait().unwrap() {
            panic!(
                "nginx ended ({status}):\n{}",
                read(&dir.path().join("error.log"))
            );
        }
        if let Ok(r) = client.get(format!("{base}/healthz")).send().await {
            up = r.status().is_success();
            if up {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        up,
        "nginx did not serve within 10 s:\n{}",
        read(&dir.path().join("error.log"))
    );

    // Secure cookie and HSTS (checked by sign_in), and the session recorded with the client's address.
    let (admin, _) = sign_in(&client, &base).await;
    assert_eq!(admin.get("/projects").await.status().as_u16(), 200);
    assert_eq!(session_ips(&d).await, vec![CLIENT_IP.to_owned()]);
    // Plain http is sent to https.
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .resolve(DOMAIN, ([127, 0, 0, 1], http_port).into())
        .build()
        .unwrap();
    let redirect = plain
        .get(format!("http://{DOMAIN}:{http_port}/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(redirect.status().as_u16(), 301);

    // b dies (kill -9): nginx sends what b cannot take to a, pages and notifications alike.
    create_project(&admin, &d.sim).await;
    let store = d.store().await;
    let project = store.project_by_slug("demo").await.unwrap().unwrap();
    let url = format!(
        "{base}/apple/notifications/{}",
        store.notification_token(project.id).await.unwrap()
    );
    b.kill().await;
    for i in 0..6 {
        assert_eq!(admin.get("/projects/demo").await.status().as_u16(), 200);
        let (body, _) = notification(&d.sim, i);
        assert_eq!(deliver(&client, &url, body).await, 200);
    }
    assert_eq!(store.count_notifications(project.id).await.unwrap(), 6);
    assert_eq!(
        a.counter("storedesk_notifications_total{outcome=\"accepted\"}")
            .await,
        6,
        "a took them all"
    );
    let _ = nginx.start_kill();
}
