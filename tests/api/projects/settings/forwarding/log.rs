//! A destination at work, against a real receiver on loopback: Send test event (signed, checked with the
//! `standardwebhooks` crate, the answer shown), the delivery log's filters and pages, Redeliver from a
//! notification's page, Replay as a background job (progress, a lease another instance takes over), and Step 4's
//! banner for a failing destination. Until the delivery engine is merged, what its workers record on a delivery
//! (status, answer) is written straight into the database here.
use sqlx::Connection as _;
use storedesk::apple_sim::SimEnvironment;
use storedesk::domain::Role;
use storedesk::forwarding::replay;

use super::receiver::Receiver;
use super::{add, audit, secret_on, PAGE};
use crate::helpers::{assert_redirect_to, Ready};
use crate::projects::notifications::signed::{arrive, day, spec};
use crate::with_ready;

async fn db(r: &Ready) -> sqlx::AnyConnection {
    sqlx::any::install_default_drivers();
    sqlx::AnyConnection::connect(r.app.settings.database_url.as_str())
        .await
        .unwrap()
}

fn verify(secret: &str, req: &super::receiver::Request) -> bool {
    standardwebhooks::Webhook::new(secret)
        .unwrap()
        .verify(&req.body, &req.header_map())
        .is_ok()
}

with_ready!(
    a_test_event_is_signed_sent_at_once_and_its_answer_shown,
    |r| {
        let receiver =
            Receiver::start(&[(200, "got it"), (503, "busy right now"), (301, "")]).await;
        let (id, secret) = add(&r.admin, &r.app, &r.project, "Backend", &receiver.url()).await;
        let page = format!("{PAGE}/{id}");
        let test = format!("{page}/test");

        let r1 = r.admin.post_form(&page, &test, &[]).await;
        assert_eq!(r1.status().as_u16(), 200);
        let html = r1.text().await.unwrap();
        assert!(html.contains("Test event: delivered"), "{html}");
        assert!(html.contains("HTTP 200"));
        assert!(html.contains("got it"));
        let got = receiver.requests();
        assert_eq!(got.len(), 1);
        let req = &got[0];
        assert_eq!(req.path, "/apple/notifications");
        let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
        assert_eq!(body["signedPayload"], serde_json::Value::Null);
        assert_eq!(body["storedesk"], "test");
        assert_eq!(req.header("content-type"), Some("application/json"));
        assert_eq!(
            req.header("x-storedesk-notification-type"),
            Some("STOREDESK_TEST")
        );
        assert!(req.header("user-agent").unwrap().starts_with("storedesk/"));
        assert!(req.header("webhook-id").unwrap().starts_with("msg_"));
        assert!(
            verify(&secret, req),
            "the signature does not verify with the secret shown"
        );
        assert!(!verify("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", req));

        let html = r
            .admin
            .post_form(&page, &test, &[])
            .await
            .text()
            .await
            .unwrap();
        assert!(html.contains("Test event: not delivered"));
        assert!(html.contains("127.0.0.1 answered HTTP 503."));
        assert!(html.contains("busy right now"));
        let html = r
            .admin
            .post_form(&page, &test, &[])
            .await
            .text()
            .await
            .unwrap();
        assert!(html.contains("127.0.0.1 answered with a redirect (HTTP 301). storedesk does not follow redirects: enter the address it redirects to."), "{html}");
        assert_eq!(receiver.requests().len(), 3, "a redirect was followed");

        // After a rotation both secrets verify it, for 24 hours.
        let rotated = r
            .admin
            .post_form(&page, &format!("{page}/rotate"), &[])
            .await
            .text()
            .await
            .unwrap();
        let new_secret = secret_on(&rotated);
        r.admin.post_form(&page, &test, &[]).await;
        let last = receiver.requests().pop().unwrap();
        assert_eq!(
            last.header("webhook-signature")
                .unwrap()
                .matches("v1,")
                .count(),
            2
        );
        assert!(verify(&secret, &last) && verify(&new_secret, &last));

        // A receiver that is not there is said so.
        let closed = crate::projects::settings::alerts::peers::closed_port();
        let gone = r
            .admin
            .post_form(
                &page,
                &page,
                &[
                    ("name", "Backend"),
                    ("url", &format!("http://127.0.0.1:{closed}/x")),
                    ("production", "on"),
                ],
            )
            .await;
        assert_redirect_to(&gone, &page);
        let html = r
            .admin
            .post_form(&page, &test, &[])
            .await
            .text()
            .await
            .unwrap();
        assert!(html.contains("127.0.0.1 could not be reached"), "{html}");

        let tests: Vec<_> = audit(&r.app)
            .await
            .into_iter()
            .filter(|a| a.0 == "forwarding.test")
            .collect();
        assert_eq!(tests.len(), 5);
        assert!(tests.iter().all(|a| !a.2.contains("whsec_")));
        // Support may not send one.
        let support = r.app.session(Role::Support).await;
        assert_eq!(
            support.post_form(&page, &test, &[]).await.status().as_u16(),
            403
        );
    }
);

with_ready!(
    the_delivery_log_filters_by_status_and_environment_and_pages,
    |r| {
        let mut ids = Vec::new();
        for _ in 0..51 {
            ids.push(
                arrive(
                    &r.app,
                    &r.sim,
                    &r.project,
                    SimEnvironment::Production,
                    spec("DID_RENEW", &r.sim.seed().active_monthly.transaction_id),
                )
                .await,
            );
        }
        let sandbox = arrive(
            &r.app,
            &r.sim,
            &r.project,
            SimEnvironment::Sandbox,
            spec("REFUND", &r.sim.seed().active_monthly.transaction_id),
        )
        .await;
        let (id, _) = add(
            &r.admin,
            &r.app,
            &r.project,
            "Backend",
            "https://api.example.com/apple",
        )
        .await;
        let page = format!("{PAGE}/{id}");
        let html = r.admin.get_text(&page).await;
        assert!(html.contains("Nothing was forwarded to this destination yet."));
        // Replay today: every notification is queued, by the app's own background job.
        let today = day(storedesk::clock::now_ms());
        let started = r
            .admin
            .post_form(
                &page,
                &format!("{page}/replay"),
                &[("from", &today), ("to", &today)],
            )
            .await;
        assert_redirect_to(&started, &format!("{page}#replays"));
        let mut html = String::new();
        for _ in 0..100 {
            html = r.admin.get_text(&page).await;
            if html.contains("52 of 52 notifications queued") && html.contains(">done<") {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(html.contains("52 of 52 notifications queued"), "{html}");
        // What the delivery workers would have recorded.
        let mut db = db(&r).await;
        let now = storedesk::clock::now_ms();
        sqlx::query("UPDATE forward_deliveries SET status = 'delivered', attempts = 1, last_status = 200, last_latency_ms = 42, last_response = 'ok thanks', last_attempt_at = $1 WHERE notification_id = $2")
        .bind(now).bind(ids[0]).execute(&mut db).await.unwrap();
        sqlx::query("UPDATE forward_deliveries SET status = 'dead', attempts = 9, last_status = 500, last_error = 'api.example.com answered HTTP 500.', last_attempt_at = $1 WHERE notification_id = $2")
        .bind(now).bind(ids[1]).execute(&mut db).await.unwrap();

        let rows = |html: &str| html.matches("<tr>").count() - 1;
        let first = r.admin.get_text(&page).await;
        assert_eq!(rows(&first), 50);
        assert!(first.contains("Older →"));
        assert!(
            first.contains("52 notifications, the oldest for")
                || first.contains("50 notifications")
                || first.contains("notifications, the oldest"),
            "the queue is shown"
        );
        let older = first
            .split("<a href=\"")
            .filter_map(|s| s.split('"').next())
            .find(|h| h.contains("before="))
            .unwrap()
            .replace("&amp;", "&");
        let second = r.admin.get_text(&older).await;
        assert_eq!(rows(&second), 2);
        assert!(second.contains("← Newest") && !second.contains("Older →"));

        let delivered = r.admin.get_text(&format!("{page}?status=delivered")).await;
        assert_eq!(rows(&delivered), 1);
        assert!(
            delivered.contains("ok thanks")
                && delivered.contains("42 ms")
                && delivered.contains(&format!("/projects/demo/notifications/{}", ids[0]))
        );
        let dead = r.admin.get_text(&format!("{page}?status=dead")).await;
        assert_eq!(rows(&dead), 1);
        assert!(dead.contains("api.example.com answered HTTP 500."));
        let sandbox_only = r
            .admin
            .get_text(&format!("{page}?environment=Sandbox"))
            .await;
        assert_eq!(rows(&sandbox_only), 1);
        assert!(sandbox_only.contains(&format!("/projects/demo/notifications/{sandbox}")));
        let none = r
            .admin
            .get_text(&format!("{page}?status=dead&environment=Sandbox"))
            .await;
        assert!(none.contains("No delivery matches these filters."));
        // Support reads the log too.
        let support = r.app.session(Role::Support).await;
        assert_eq!(
            rows(&support.get_text(&format!("{page}?status=delivered")).await),
            1
        );
        // The list shows the dead one.
        assert!(r
            .admin
            .get_text(PAGE)
            .await
            .contains("given up after 72 hours"));
    }
);

with_ready!(
    redeliver_starts_a_new_round_from_the_notification_page,
    |r| {
        let n = arrive(
            &r.app,
            &r.sim,
            &r.project,
            SimEnvironment::Production,
            spec("REFUND", &r.sim.seed().active_monthly.transaction_id),
        )
        .await;
        let (id, _) = add(
            &r.admin,
            &r.app,
            &r.project,
            "Backend",
            "https://api.example.com/apple",
        )
        .await;
        let detail = format!("/projects/demo/notifications/{n}");
        let html = r.admin.get_text(&detail).await;
        assert!(html.contains("Forwarded to") && html.contains("not sent"));
        assert!(html.contains(&format!("action=\"{detail}/redeliver\"")));
        let support_html = r.app.session(Role::Support).await.get_text(&detail).await;
        assert!(support_html.contains("Forwarded to") && !support_html.contains("/redeliver\""));

        // A destination that is not the project's: nothing happens.
        let bad = r
            .admin
            .post_form(
                &detail,
                &format!("{detail}/redeliver"),
                &[("destination", "999")],
            )
            .await;
        assert_redirect_to(&bad, &format!("{detail}#deliveries"));
        assert!(audit(&r.app)
            .await
            .iter()
            .all(|a| a.0 != "forwarding.redeliver"));

        let ok = r
            .admin
            .post_form(
                &detail,
                &format!("{detail}/redeliver"),
                &[("destination", &id.to_string())],
            )
            .await;
        assert_redirect_to(&ok, &format!("{detail}#deliveries"));
        let rows = r
            .app
            .store
            .forward_deliveries_of(r.project.id, n)
            .await
            .unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(
            (
                rows[0].status.as_str(),
                rows[0].origin.as_str(),
                rows[0].attempts
            ),
            ("pending", "redeliver", 0)
        );
        // Once more after it was delivered: the same row, a new round.
        let mut db = db(&r).await;
        sqlx::query("UPDATE forward_deliveries SET status = 'delivered', attempts = 3, round_started_at = 1 WHERE notification_id = $1")
        .bind(n).execute(&mut db).await.unwrap();
        r.admin
            .post_form(
                &detail,
                &format!("{detail}/redeliver"),
                &[("destination", &id.to_string())],
            )
            .await;
        let rows = r
            .app
            .store
            .forward_deliveries_of(r.project.id, n)
            .await
            .unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].status.as_str(), rows[0].attempts), ("pending", 0));
        assert!(rows[0].round_started_at > 1);
        let redelivers = audit(&r.app)
            .await
            .into_iter()
            .filter(|a| a.0 == "forwarding.redeliver")
            .count();
        assert_eq!(redelivers, 2);
        assert!(r.admin.get_text(&detail).await.contains("waiting"));
        // Support may not.
        let support = r.app.session(Role::Support).await;
        assert_eq!(
            support
                .post_form(
                    &detail,
                    &format!("{detail}/redeliver"),
                    &[("destination", &id.to_string())]
                )
                .await
                .status()
                .as_u16(),
            403
        );
    }
);

with_ready!(
    a_replay_is_refused_with_its_sentences_and_taken_over_when_its_holder_dies,
    |r| {
        for i in 0..7 {
            arrive(
                &r.app,
                &r.sim,
                &r.project,
                SimEnvironment::Sandbox,
                spec(
                    if i % 2 == 0 { "DID_RENEW" } else { "REFUND" },
                    &r.sim.seed().active_monthly.transaction_id,
                ),
            )
            .await;
        }
        let (id, _) = add(
            &r.admin,
            &r.app,
            &r.project,
            "Backend",
            "https://api.example.com/apple",
        )
        .await;
        let page = format!("{PAGE}/{id}");
        let action = format!("{page}/replay");
        let cases: &[crate::projects::settings::forwarding::Case] = &[
        (&[("from", ""), ("to", "2026-11-27")], "r-from-error", "Write the first day as YYYY-MM-DD, for example 2026-11-01."),
        (&[("from", "2026-11-01"), ("to", "27/11/2026")], "r-to-error", "Write the last day as YYYY-MM-DD, for example 2026-11-27."),
        (&[("from", "2026-11-27"), ("to", "2026-11-01")], "r-to-error", "The last day comes before the first day."),
        (&[("from", "2026-11-01"), ("to", "2026-11-27"), ("types", "DID_RENEW, RENEWED")], "r-types-error", "“RENEWED” is not a notification type Apple sends. Use the codes shown in the notification log, such as DID_RENEW, separated by commas."),
    ];
        for (form, field, sentence) in cases {
            let resp = r.admin.post_form(&page, &action, form).await;
            assert_eq!(resp.status().as_u16(), 422, "{form:?}");
            let html = resp.text().await.unwrap();
            assert!(
                html.contains(&format!(
                    "<p class=\"field-error\" id=\"{field}\">{}</p>",
                    crate::projects::notifications::signed::esc(sentence)
                )),
                "{form:?}"
            );
        }
        assert!(r
            .app
            .store
            .forward_replays(r.project.id, id, 10)
            .await
            .unwrap()
            .is_empty());
        assert!(audit(&r.app)
            .await
            .iter()
            .all(|a| a.0 != "forwarding.replay"));

        // Only REFUND, Sandbox: 3 of the 7.
        let today = day(storedesk::clock::now_ms());
        let started = r
            .admin
            .post_form(
                &page,
                &action,
                &[
                    ("from", &today),
                    ("to", &today),
                    ("environment", "Sandbox"),
                    ("types", "refund"),
                ],
            )
            .await;
        assert_redirect_to(&started, &format!("{page}#replays"));
        // A dead instance took it (with a clock ahead of every live one, so nothing else holds it after this).
        let later = storedesk::clock::now_ms() + 600_000;
        let held = r
            .app
            .store
            .claim_forward_replay("dead-instance", later, replay::LEASE_MS)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(held.matched, 3);
        let skipped = replay::run_once(&r.app.store, "other-instance", later + 1)
            .await
            .unwrap();
        assert_eq!(skipped.replays, 0, "a held replay was taken");
        let run = replay::run_once(&r.app.store, "other-instance", later + replay::LEASE_MS + 1)
            .await
            .unwrap();
        assert_eq!((run.replays, run.finished), (1, 1));
        // The dead instance's next batch is refused: it lost the lease.
        assert_eq!(
            r.app
                .store
                .forward_replay_batch(
                    &held,
                    "dead-instance",
                    later + replay::LEASE_MS + 2,
                    replay::LEASE_MS,
                    10
                )
                .await
                .unwrap(),
            storedesk::store::forwarding::Batch::LostLease
        );
        let log = r
            .app
            .store
            .forward_delivery_log(
                r.project.id,
                &storedesk::store::forwarding::LogFilter {
                    destination_id: Some(id),
                    limit: 50,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(log.len(), 3);
        assert!(log.iter().all(|d| d.notification_type == "REFUND"
            && d.origin == "replay"
            && d.status == "pending"));
        let html = r.admin.get_text(&page).await;
        assert!(html.contains("3 of 3 notifications queued"));
        assert!(html.contains("Sandbox; REFUND"));
        let replays: Vec<_> = audit(&r.app)
            .await
            .into_iter()
            .filter(|a| a.0 == "forwarding.replay")
            .collect();
        assert_eq!(replays.len(), 1);
        assert!(
            replays[0].2.ends_with("Sandbox; REFUND; 3 notifications"),
            "{}",
            replays[0].2
        );
    }
);

with_ready!(
    step_4_links_to_forwarding_and_warns_while_a_destination_fails,
    |r| {
        let wizard = "/projects/demo/settings/stores/apple";
        let html = r.admin.get_text(wizard).await;
        assert!(html.contains(&format!("href=\"{PAGE}\">Set up forwarding →")));
        assert!(!html.contains("Forwarding is failing"));
        let (id, _) = add(
            &r.admin,
            &r.app,
            &r.project,
            "Backend",
            "https://api.example.com/apple",
        )
        .await;
        let mut db = db(&r).await;
        sqlx::query("UPDATE forward_destinations SET consecutive_failures = 3, last_failure = 'api.example.com answered HTTP 503.', last_failure_at = $1 WHERE id = $2")
        .bind(storedesk::clock::now_ms()).bind(id).execute(&mut db).await.unwrap();
        let html = r.admin.get_text(wizard).await;
        assert!(html.contains("Forwarding is failing"));
        assert!(html.contains("“Backend” is failing: its last 3 deliveries failed (api.example.com answered HTTP 503)."), "{html}");
        assert!(html.contains("Forwarding (1 destination) →"));
        let list = r.admin.get_text(PAGE).await;
        assert!(list.contains("<span class=\"badge badge-bad\">failing</span>"));
        // Paused, it is not failing any more.
        r.admin
            .post_form(&format!("{PAGE}/{id}"), &format!("{PAGE}/{id}/pause"), &[])
            .await;
        assert!(!r
            .admin
            .get_text(wizard)
            .await
            .contains("Forwarding is failing"));
    }
);
