//! Faults survived (issue 19), each with the real binary (`storedesk serve`) under webhook load on a PostgreSQL
//! cluster of the test's own: the database frozen with SIGSTOP, the database restarted, one of two instances
//! killed with SIGKILL. After each, every notification answered 200 is stored exactly once. (SIGKILL of the single
//! instance on SQLite is `apple::notifications::crash`.)
use std::time::{Duration, Instant};

use storedesk::error::DATABASE_UNAVAILABLE;

mod instance;
mod load;
pub mod private_pg;

use instance::{Fixture, Instance};
use load::{answered_200, summary, Load};
use private_pg::PrivatePostgres;

/// The webhook's sentence while its database is out of reach.
const WEBHOOK_UNAVAILABLE: &str =
    "storedesk cannot reach its database right now, so this notification was not stored; send it again later.";

/// Slack over the server's own bounds (the webhook's 5 s, the watch's 3 s) on a machine shared with builds.
const BOUND: Duration = Duration::from_secs(10);

/// A page that needs the database (the session, the projects), answered while it is out of reach: the 503 page.
async fn assert_unavailable_page(response: reqwest::Response) {
    assert_eq!(response.status().as_u16(), 503);
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("5")
    );
    let html = response.text().await.expect("body");
    assert!(html.contains("<h1>Database unavailable</h1>"), "{html}");
    assert!(html.contains(DATABASE_UNAVAILABLE), "{html}");
}

/// One notification posted on its own while the database is out of reach: 503, Retry-After, the sentence.
async fn assert_unavailable_webhook(url: &str, body: &str) -> Duration {
    let started = Instant::now();
    let response = reqwest::Client::new()
        .post(url)
        .body(body.to_owned())
        .send()
        .await
        .expect("the webhook answers");
    let took = started.elapsed();
    assert_eq!(response.status().as_u16(), 503);
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("5")
    );
    let json: serde_json::Value = response.json().await.expect("a JSON body");
    assert_eq!(json["error"]["code"], "database_unavailable");
    assert_eq!(json["error"]["message"], WEBHOOK_UNAVAILABLE);
    took
}

/// No notification waited `BOUND` or longer for its answer.
fn assert_answered_in_time(attempts: &[load::Attempt]) {
    let slowest = attempts.iter().map(|a| a.took).max().unwrap_or_default();
    eprintln!("  slowest answer: {slowest:?}");
    assert!(
        slowest < BOUND,
        "a notification waited {slowest:?} for its answer"
    );
}

async fn text(client: &reqwest::Client, url: &str) -> (u16, String) {
    let r = client.get(url).send().await.expect("an answer");
    let status = r.status().as_u16();
    (status, r.text().await.expect("body"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_database_gets_503s_within_seconds_and_all_recovers_when_it_thaws() {
    let Some(mut pg) = PrivatePostgres::start().await else {
        return;
    };
    let fixture = Fixture::new(&pg.create_database("frozen").await).await;
    let server = Instance::start(&fixture, "frozen").await;
    let browser = server.sign_in().await;
    let notifications = fixture.notifications(300);
    let (probe_uuid, probe_body) = notifications[0].clone();
    let webhook = server.url(&fixture.webhook_path);
    let load = Load::start(vec![webhook.clone()], notifications[1..].to_vec(), 4);
    load.wait_for("200 before the freeze", 20, BOUND * 3, |a| {
        a.status == Some(200)
    })
    .await;

    pg.freeze();
    let frozen_at = Instant::now();
    // Asked while nobody knows yet that the database hangs: answered when the watch finds out.
    let page = browser
        .get(server.url("/projects"))
        .send()
        .await
        .expect("an answer");
    let took = frozen_at.elapsed();
    eprintln!("  a page asked at the freeze was answered after {took:?}");
    assert!(took < BOUND, "the page took {took:?}");
    assert_unavailable_page(page).await;
    load.wait_for("503 after the freeze", 1, BOUND, |a| {
        a.sent >= frozen_at && a.status == Some(503)
    })
    .await;
    // Now that the watch knows, nothing waits: every request is answered at once.
    let took = assert_unavailable_webhook(&webhook, &probe_body).await;
    eprintln!("  a notification sent once the watch knew was answered after {took:?}");
    assert!(took < Duration::from_secs(2), "the webhook took {took:?}");
    let started = Instant::now();
    assert_unavailable_page(reqwest::get(server.url("/login")).await.expect("an answer")).await;
    assert!(started.elapsed() < Duration::from_secs(2));
    let plain = reqwest::Client::new();
    assert_eq!(
        text(&plain, &server.url("/readyz")).await,
        (503, "database unreachable\n".to_owned())
    );
    assert_eq!(
        text(&plain, &server.url("/healthz")).await,
        (200, "ok\n".to_owned())
    );
    let metrics = crate::helpers::read_metrics(&server.url("")).await;
    assert!(
        metrics.contains("\nstoredesk_database_available 0\n"),
        "{metrics}"
    );
    // Frozen a while longer under load.
    tokio::time::sleep(Duration::from_secs(2)).await;

    pg.thaw();
    let thawed_at = Instant::now();
    server.wait_ready(BOUND).await;
    eprintln!("  ready again {:?} after the thaw", thawed_at.elapsed());
    load.wait_for("200 after the thaw", 1, BOUND, |a| {
        a.sent >= thawed_at && a.status == Some(200)
    })
    .await;
    let (status, _) = text(&browser, &server.url("/projects")).await;
    assert_eq!(status, 200, "the page did not recover");
    let metrics = crate::helpers::read_metrics(&server.url("")).await;
    assert!(
        metrics.contains("\nstoredesk_database_available 1\n"),
        "{metrics}"
    );
    // Apple's retry of the notification refused during the freeze lands once.
    let retried = plain
        .post(&webhook)
        .body(probe_body)
        .send()
        .await
        .expect("an answer");
    assert_eq!(retried.status().as_u16(), 200);

    let attempts = load.finish(BOUND * 6).await;
    eprintln!("frozen database: {}", summary(&attempts));
    assert_answered_in_time(&attempts);
    assert!(
        attempts
            .iter()
            .all(|a| matches!(a.status, Some(200) | Some(503))),
        "answers other than 200 and 503: {}",
        summary(&attempts)
    );
    let mut answered = answered_200(&attempts);
    answered.push(probe_uuid);
    fixture.assert_stored_once(&answered).await;
    assert_eq!(fixture.stored().await.len(), notifications.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_restarted_under_load_gets_503s_while_down_and_loses_nothing() {
    let Some(pg) = PrivatePostgres::start().await else {
        return;
    };
    let fixture = Fixture::new(&pg.create_database("restarted").await).await;
    let server = Instance::start(&fixture, "restarted").await;
    let browser = server.sign_in().await;
    let notifications = fixture.notifications(300);
    let (probe_uuid, probe_body) = notifications[0].clone();
    let webhook = server.url(&fixture.webhook_path);
    let load = Load::start(vec![webhook.clone()], notifications[1..].to_vec(), 4);
    load.wait_for("200 before the restart", 20, BOUND * 3, |a| {
        a.status == Some(200)
    })
    .await;

    pg.stop();
    let stopped_at = Instant::now();
    load.wait_for("503 while the database is down", 1, BOUND, |a| {
        a.sent >= stopped_at && a.status == Some(503)
    })
    .await;
    let took = assert_unavailable_webhook(&webhook, &probe_body).await;
    assert!(took < BOUND, "the webhook took {took:?}");
    let page = browser
        .get(server.url("/projects"))
        .send()
        .await
        .expect("an answer");
    assert_unavailable_page(page).await;

    pg.start_again().await;
    let started_at = Instant::now();
    load.wait_for("200 after the restart", 1, BOUND, |a| {
        a.sent >= started_at && a.status == Some(200)
    })
    .await;
    server.wait_ready(BOUND).await;
    let (status, _) = text(&browser, &server.url("/projects")).await;
    assert_eq!(status, 200, "the page did not recover");
    let retried = reqwest::Client::new()
        .post(&webhook)
        .body(probe_body)
        .send()
        .await
        .expect("an answer");
    assert_eq!(retried.status().as_u16(), 200);

    let attempts = load.finish(BOUND * 6).await;
    eprintln!("restarted database: {}", summary(&attempts));
    assert_answered_in_time(&attempts);
    assert!(
        attempts
            .iter()
            .all(|a| matches!(a.status, Some(200) | Some(503))),
        "answers other than 200 and 503: {}",
        summary(&attempts)
    );
    let mut answered = answered_200(&attempts);
    answered.push(probe_uuid);
    fixture.assert_stored_once(&answered).await;
    assert_eq!(fixture.stored().await.len(), notifications.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_of_two_instances_killed_under_load_the_other_answers_and_nothing_is_lost() {
    let Some(pg) = PrivatePostgres::start().await else {
        return;
    };
    let fixture = Fixture::new(&pg.create_database("killed").await).await;
    let mut a = Instance::start(&fixture, "a").await;
    let b = Instance::start(&fixture, "b").await;
    let notifications = fixture.notifications(400);
    let load = Load::start(
        vec![a.url(&fixture.webhook_path), b.url(&fixture.webhook_path)],
        notifications.clone(),
        6,
    );
    for (instance, name) in [(0, "a"), (1, "b")] {
        load.wait_for(&format!("200 from {name}"), 20, BOUND * 3, |t| {
            t.target == instance && t.status == Some(200)
        })
        .await;
    }

    a.kill();
    let killed_at = Instant::now();
    load.wait_for("200 from b after the kill", 50, BOUND * 3, |t| {
        t.sent >= killed_at && t.target == 1 && t.status == Some(200)
    })
    .await;

    let attempts = load.finish(BOUND * 6).await;
    eprintln!("one instance killed: {}", summary(&attempts));
    assert_answered_in_time(&attempts);
    let from_a = attempts
        .iter()
        .filter(|t| t.target == 0 && t.status == Some(200))
        .count();
    assert!(from_a >= 20, "a answered {from_a} before the kill");
    // The one left answers every notification sent to it, including those that were on their way to the other.
    let refused_by_b: Vec<_> = attempts
        .iter()
        .filter(|t| t.target == 1 && t.status != Some(200))
        .collect();
    assert!(
        refused_by_b.is_empty(),
        "b did not answer 200: {refused_by_b:?}"
    );
    let answered = answered_200(&attempts);
    assert_eq!(answered.len(), notifications.len());
    fixture.assert_stored_once(&answered).await;
    assert_eq!(fixture.stored().await.len(), notifications.len());
    drop(b);
}
