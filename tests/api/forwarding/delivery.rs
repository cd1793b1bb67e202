//! The workers against a real receiver (Python `standardwebhooks`), one pass at a time with the test's clock:
//! the exact body and signature, retries of a flaky, a hanging and a redirecting receiver with the same
//! `webhook-id`, the dead state after 72 hours, a paused destination, Redeliver and a rotated secret.
use std::time::Duration;

use serde_json::Value;
use storedesk::apple_sim::{NotificationSpec, SimConfig, SimEnvironment};
use storedesk::forwarding::{run_once, Tick};
use storedesk::state::AppState;
use storedesk::store::Actor;

use super::{add_destination, rotate, webhook_id, PyReceiver};
use crate::apple::notifications::{body, webhook_url};
use crate::helpers::Ready;
use crate::on_both_backends;
use crate::projects::notifications::signed::state;

const HOUR: i64 = 3_600_000;

/// Runs one test body on both databases with a ready app whose deliveries time out after a second.
macro_rules! with_forwarding {
    ($name:ident, |$r:ident| $body:block) => {
        on_both_backends!(
            $name,
            |backend| crate::helpers::ready_with(backend, SimConfig::default(), |s| {
                s.forwarding.timeout = Duration::from_secs(1);
            }),
            $r => $body
        );
    };
}

/// A notification Apple sends to the webhook (real HTTP, answered 200); returns its UUID, the body sent and its id.
async fn arrive(
    r: &Ready,
    env: SimEnvironment,
    notification_type: &str,
    subtype: Option<&str>,
) -> (String, String, i64) {
    let uuid = uuid::Uuid::new_v4().to_string();
    let mut spec = NotificationSpec::new(notification_type)
        .transaction(&r.sim.seed().active_monthly.transaction_id);
    spec.notification_uuid = Some(uuid.clone());
    spec.subtype = subtype.map(str::to_owned);
    let jws = r.sim.sign_notification(env, spec).unwrap();
    let sent = body(&jws);
    let (status, _) =
        crate::apple::notifications::deliver(&webhook_url(r).await, sent.clone()).await;
    assert_eq!(status, 200);
    let id = r
        .app
        .store
        .notification_by_uuid(r.project.id, &uuid)
        .await
        .unwrap()
        .unwrap()
        .id;
    (uuid, sent, id)
}

async fn tick(state: &AppState, now: i64) -> Tick {
    run_once(state, "test-instance", now).await.unwrap()
}

fn now() -> i64 {
    storedesk::clock::now_ms()
}

with_forwarding!(a_delivery_is_apples_body_signed_as_standard_webhooks, |r| {
    let Some((receiver, destination, _)) = destination_with(&r, &[]).await else {
        return;
    };
    let state = state(&r.app);

    let (uuid, sent, id) = arrive(
        &r,
        SimEnvironment::Production,
        "DID_CHANGE_RENEWAL_STATUS",
        Some("AUTO_RENEW_DISABLED"),
    )
    .await;
    // A body not in Apple's usual form (spaces) is forwarded as it came, byte for byte.
    let uuid2 = uuid::Uuid::new_v4().to_string();
    let mut spec =
        NotificationSpec::new("DID_RENEW").transaction(&r.sim.seed().active_monthly.transaction_id);
    spec.notification_uuid = Some(uuid2.clone());
    let jws = r
        .sim
        .sign_notification(SimEnvironment::Sandbox, spec)
        .unwrap();
    let spaced = format!("{{ \"signedPayload\" : \"{jws}\" }}");
    let (status, _) =
        crate::apple::notifications::deliver(&webhook_url(&r).await, spaced.clone()).await;
    assert_eq!(status, 200);

    assert_eq!(
        tick(&state, now()).await,
        Tick {
            delivered: 2,
            ..Tick::default()
        }
    );
    let requests = receiver.requests(2).await;
    assert_eq!(requests.len(), 2);
    let of = |u: &str| {
        requests
            .iter()
            .find(|q| q["id"] == webhook_id(u).as_str())
            .cloned()
            .unwrap()
    };
    let first = of(&uuid);
    assert_eq!(
        first["verified"],
        serde_json::json!([true]),
        "{}",
        first["error"]
    );
    assert_eq!(first["body"], sent.as_str());
    assert_eq!(first["path"], "/apple/notifications");
    let signed_date =
        crate::apple::notifications::payload_of(&sent_jws(&sent))["signedDate"].clone();
    let headers = &first["headers"];
    assert_eq!(headers["content-type"], "application/json");
    assert!(headers["user-agent"]
        .as_str()
        .unwrap()
        .starts_with("storedesk/"));
    assert_eq!(
        headers["x-storedesk-notification-type"],
        "DID_CHANGE_RENEWAL_STATUS"
    );
    assert_eq!(
        headers["x-storedesk-notification-subtype"],
        "AUTO_RENEW_DISABLED"
    );
    assert_eq!(headers["x-storedesk-environment"], "Production");
    assert_eq!(headers["x-storedesk-notification-uuid"], uuid.as_str());
    assert_eq!(
        headers["x-storedesk-signed-date"],
        signed_date.to_string().as_str()
    );
    let second = of(&uuid2);
    assert_eq!(second["verified"], serde_json::json!([true]));
    assert_eq!(second["body"], spaced.as_str());
    assert_eq!(second["headers"]["x-storedesk-environment"], "Sandbox");
    assert!(second["headers"]
        .get("x-storedesk-notification-subtype")
        .is_none());

    let d = r
        .app
        .store
        .forward_delivery(destination, id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (d.status.as_str(), d.attempts, d.last_status),
        ("delivered", 1, Some(200))
    );
    assert_eq!(d.last_response.as_deref(), Some("ok"));
    assert_eq!(d.lease_owner, None);
    let health = r
        .app
        .store
        .forward_destination(r.project.id, destination)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(health.consecutive_failures, 0);
    assert!(health.last_success_at.is_some());
    // Nothing more is due.
    assert_eq!(tick(&state, now() + HOUR).await, Tick::default());
});

/// The JWS inside Apple's usual body.
fn sent_jws(sent: &str) -> String {
    serde_json::from_str::<Value>(sent).unwrap()["signedPayload"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Points a destination at another URL (the receiver is started after the secret is known).
async fn sqlx_set_url(r: &Ready, destination: i64, url: &str) {
    let mut row = r
        .app
        .store
        .forward_destination(r.project.id, destination)
        .await
        .unwrap()
        .unwrap();
    row.settings.url = url.to_owned();
    r.app
        .store
        .update_forward_destination(
            r.project.id,
            destination,
            &row.settings,
            &Actor::system("test"),
        )
        .await
        .unwrap();
}

/// A destination for a receiver started with its secret and `args`.
async fn destination_with(r: &Ready, args: &[&str]) -> Option<(PyReceiver, i64, String)> {
    let keyring = r.app.settings.keyring();
    let (destination, secret) = add_destination(
        &r.app.store,
        &keyring,
        r.project.id,
        "http://127.0.0.1:9/",
        true,
    )
    .await;
    let mut all = vec!["--secret", secret.as_str()];
    all.extend_from_slice(args);
    let receiver = PyReceiver::start(&all).await?;
    sqlx_set_url(r, destination, &receiver.url()).await;
    Some((receiver, destination, secret))
}

with_forwarding!(
    a_receiver_failing_30_percent_of_the_time_gets_every_notification_with_one_id_each,
    |r| {
        let Some((receiver, destination, _)) =
            destination_with(&r, &["--fail-rate", "0.3", "--seed", "7"]).await
        else {
            return;
        };
        let state = state(&r.app);
        let mut sent = Vec::new();
        for _ in 0..30 {
            sent.push(arrive(&r, SimEnvironment::Production, "DID_RENEW", None).await);
        }
        let mut at = now();
        let mut total = Tick::default();
        for _ in 0..20 {
            let t = tick(&state, at).await;
            total.delivered += t.delivered;
            total.failed += t.failed;
            if total.delivered == sent.len() {
                break;
            }
            at += 2 * HOUR;
        }
        assert_eq!(total.delivered, sent.len(), "{total:?}");
        assert!(
            total.failed > 0,
            "the receiver never failed: the test proves nothing"
        );
        let requests = receiver.requests(sent.len() + total.failed).await;
        assert_eq!(requests.len(), sent.len() + total.failed);
        for (uuid, body, id) in &sent {
            let mine: Vec<&Value> = requests
                .iter()
                .filter(|q| q["headers"]["x-storedesk-notification-uuid"] == uuid.as_str())
                .collect();
            assert!(mine.iter().all(|q| q["id"] == webhook_id(uuid).as_str()
                && q["body"] == body.as_str()
                && q["verified"] == serde_json::json!([true])));
            assert_eq!(mine.iter().filter(|q| q["answered"] == "200").count(), 1);
            let d = r
                .app
                .store
                .forward_delivery(destination, *id)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                (d.status.as_str(), d.attempts as usize),
                ("delivered", mine.len())
            );
        }
    }
);

with_forwarding!(a_hanging_receiver_times_out_and_is_tried_again_later, |r| {
    let Some((receiver, destination, _)) =
        destination_with(&r, &["--first", "1", "--then", "hang"]).await
    else {
        return;
    };
    let state = state(&r.app);
    let (uuid, _, id) = arrive(&r, SimEnvironment::Production, "DID_RENEW", None).await;
    let start = now();
    let started = std::time::Instant::now();
    assert_eq!(
        tick(&state, start).await,
        Tick {
            failed: 1,
            ..Tick::default()
        }
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the attempt was not cut at its timeout"
    );
    let d = r
        .app
        .store
        .forward_delivery(destination, id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        d.last_error.as_deref(),
        Some("The receiver did not answer within 1 second.")
    );
    assert_eq!(
        (d.status.as_str(), d.attempts, d.last_status),
        ("pending", 1, None)
    );
    // The first retry waits 30 seconds, ±20 %.
    let wait = d.next_attempt_at - start;
    assert!((24_000..=37_000).contains(&wait), "{wait}");
    assert_eq!(tick(&state, start + 10_000).await, Tick::default());
    let health = r
        .app
        .store
        .forward_destination(r.project.id, destination)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(health.consecutive_failures, 1);
    assert_eq!(
        health.last_failure.as_deref(),
        Some("The receiver did not answer within 1 second.")
    );

    assert_eq!(
        tick(&state, start + 40_000).await,
        Tick {
            delivered: 1,
            ..Tick::default()
        }
    );
    let requests = receiver.requests(2).await;
    assert_eq!(requests.len(), 2);
    assert!(requests
        .iter()
        .all(|q| q["id"] == webhook_id(&uuid).as_str()));
    let health = r
        .app
        .store
        .forward_destination(r.project.id, destination)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(health.consecutive_failures, 0);
});

with_forwarding!(a_redirect_is_a_failure_and_is_not_followed, |r| {
    let Some((receiver, destination, _)) =
        destination_with(&r, &["--first", "1", "--then", "redirect"]).await
    else {
        return;
    };
    let state = state(&r.app);
    let (_, _, id) = arrive(&r, SimEnvironment::Production, "DID_RENEW", None).await;
    let start = now();
    assert_eq!(
        tick(&state, start).await,
        Tick {
            failed: 1,
            ..Tick::default()
        }
    );
    let d = r
        .app
        .store
        .forward_delivery(destination, id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d.last_status, Some(307));
    assert_eq!(
        d.last_error.as_deref(),
        Some("The receiver redirected (HTTP 307); storedesk does not follow redirects: set the destination's URL to the address that answers.")
    );
    // Only the receiver was asked (the redirect's target, port 9, would have refused the connection).
    assert_eq!(receiver.requests(1).await.len(), 1);
    assert_eq!(
        tick(&state, start + HOUR).await,
        Tick {
            delivered: 1,
            ..Tick::default()
        }
    );
});

with_forwarding!(a_delivery_failing_for_72_hours_is_dead, |r| {
    let Some((receiver, destination, _)) =
        destination_with(&r, &["--first", "100000", "--then", "500"]).await
    else {
        return;
    };
    let state = state(&r.app);
    let (_, _, id) = arrive(&r, SimEnvironment::Production, "DID_RENEW", None).await;
    let start = r
        .app
        .store
        .forward_delivery(destination, id)
        .await
        .unwrap()
        .unwrap()
        .round_started_at;
    let mut at = start;
    let mut attempts = 0;
    let mut dead = 0;
    while at <= start + 80 * HOUR {
        let t = tick(&state, at).await;
        attempts += t.failed + t.dead;
        dead += t.dead;
        let d = r
            .app
            .store
            .forward_delivery(destination, id)
            .await
            .unwrap()
            .unwrap();
        if d.status == "dead" {
            break;
        }
        assert!(
            d.next_attempt_at <= start + 72 * HOUR,
            "retries stop at the round's end"
        );
        at = d.next_attempt_at;
    }
    let d = r
        .app
        .store
        .forward_delivery(destination, id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d.status, "dead");
    assert_eq!(dead, 1);
    assert!(
        at >= start + 72 * HOUR && at < start + 73 * HOUR,
        "dead at the 72-hour mark: {}",
        (at - start) / HOUR
    );
    // 30 s doubling to an hour: 8 attempts in the first ~2 hours, then one an hour.
    assert!((70..=85).contains(&attempts), "{attempts}");
    assert_eq!(d.attempts as usize, attempts);
    assert_eq!(
        d.last_error.as_deref(),
        Some("The receiver answered HTTP 500.")
    );
    assert_eq!(receiver.requests(attempts).await.len(), attempts);
    let health = r
        .app
        .store
        .forward_destination(r.project.id, destination)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(health.consecutive_failures as usize, attempts);
    // Dead is final: nothing is sent later.
    assert_eq!(tick(&state, start + 100 * HOUR).await, Tick::default());

    // Redeliver starts a new round, with the same webhook-id.
    r.app
        .store
        .redeliver(r.project.id, id, destination, &Actor::system("test"))
        .await
        .unwrap();
    let d = r
        .app
        .store
        .forward_delivery(destination, id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (d.status.as_str(), d.attempts, d.origin.as_str()),
        ("pending", 0, "redeliver")
    );
});

with_forwarding!(
    a_paused_destination_keeps_its_deliveries_until_it_is_resumed,
    |r| {
        let Some((receiver, destination, _)) = destination_with(&r, &[]).await else {
            return;
        };
        let state = state(&r.app);
        let mut row = r
            .app
            .store
            .forward_destination(r.project.id, destination)
            .await
            .unwrap()
            .unwrap();
        row.settings.enabled = false;
        let actor = Actor::system("test");
        r.app
            .store
            .update_forward_destination(r.project.id, destination, &row.settings, &actor)
            .await
            .unwrap();

        let (uuid, _, id) = arrive(&r, SimEnvironment::Sandbox, "DID_RENEW", None).await;
        assert_eq!(tick(&state, now()).await, Tick::default());
        assert_eq!(tick(&state, now() + 5 * HOUR).await, Tick::default());
        assert_eq!(receiver.count(), 0);
        let d = r
            .app
            .store
            .forward_delivery(destination, id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((d.status.as_str(), d.attempts), ("pending", 0));

        row.settings.enabled = true;
        r.app
            .store
            .update_forward_destination(r.project.id, destination, &row.settings, &actor)
            .await
            .unwrap();
        assert_eq!(
            tick(&state, now()).await,
            Tick {
                delivered: 1,
                ..Tick::default()
            }
        );
        let requests = receiver.requests(1).await;
        assert_eq!(requests[0]["id"], webhook_id(&uuid).as_str());
    }
);

with_forwarding!(
    redeliver_sends_again_with_the_same_id_even_to_a_newer_destination,
    |r| {
        let state = state(&r.app);
        // Stored before the destination existed: no delivery row until Redeliver makes one.
        let (uuid, sent, id) = arrive(&r, SimEnvironment::Production, "REFUND", None).await;
        let Some((receiver, destination, _)) = destination_with(&r, &[]).await else {
            return;
        };
        assert!(r
            .app
            .store
            .forward_delivery(destination, id)
            .await
            .unwrap()
            .is_none());
        assert_eq!(tick(&state, now()).await, Tick::default());

        let actor = Actor::system("test");
        r.app
            .store
            .redeliver(r.project.id, id, destination, &actor)
            .await
            .unwrap();
        assert_eq!(
            tick(&state, now()).await,
            Tick {
                delivered: 1,
                ..Tick::default()
            }
        );
        r.app
            .store
            .redeliver(r.project.id, id, destination, &actor)
            .await
            .unwrap();
        let d = r
            .app
            .store
            .forward_delivery(destination, id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (d.status.as_str(), d.attempts, d.delivered_at),
            ("pending", 0, None)
        );
        assert_eq!(
            tick(&state, now()).await,
            Tick {
                delivered: 1,
                ..Tick::default()
            }
        );
        let requests = receiver.requests(2).await;
        assert_eq!(requests.len(), 2);
        assert!(requests
            .iter()
            .all(|q| q["id"] == webhook_id(&uuid).as_str() && q["body"] == sent.as_str()));
        let audit = r.app.store.audit_actions().await.unwrap();
        assert!(
            audit.iter().any(|a| a == "forwarding.redeliver"),
            "{audit:?}"
        );

        // Another project's notification or destination is not found.
        let other = crate::helpers::store_project(&r.app.store, "other").await;
        assert!(matches!(
            r.app.store.redeliver(other, id, destination, &actor).await,
            Err(storedesk::store::StoreError::NotFound)
        ));
    }
);

with_forwarding!(after_a_rotation_both_secrets_sign_for_a_day, |r| {
    let keyring = r.app.settings.keyring();
    let (destination, old) = add_destination(
        &r.app.store,
        &keyring,
        r.project.id,
        "http://127.0.0.1:9/",
        true,
    )
    .await;
    let new = rotate(&r.app.store, &keyring, r.project.id, destination).await;
    let Some(receiver) = PyReceiver::start(&["--secret", &old, "--secret", &new]).await else {
        return;
    };
    sqlx_set_url(&r, destination, &receiver.url()).await;
    let state = state(&r.app);
    arrive(&r, SimEnvironment::Production, "DID_RENEW", None).await;
    assert_eq!(
        tick(&state, now()).await,
        Tick {
            delivered: 1,
            ..Tick::default()
        }
    );
    let q = &receiver.requests(1).await[0];
    assert_eq!(q["verified"], serde_json::json!([true, true]));
    assert_eq!(q["signature"].as_str().unwrap().split(' ').count(), 2);
});

with_forwarding!(a_link_local_or_metadata_address_is_never_called, |r| {
    let keyring = r.app.settings.keyring();
    let state = state(&r.app);
    let (metadata, _) = add_destination(
        &r.app.store,
        &keyring,
        r.project.id,
        "http://169.254.169.254/latest/meta-data/",
        true,
    )
    .await;
    let (mapped, _) = add_destination(
        &r.app.store,
        &keyring,
        r.project.id,
        "http://[::ffff:169.254.169.254]/",
        true,
    )
    .await;
    let (_, _, id) = arrive(&r, SimEnvironment::Production, "DID_RENEW", None).await;
    let started = std::time::Instant::now();
    assert_eq!(
        tick(&state, now()).await,
        Tick {
            failed: 2,
            ..Tick::default()
        }
    );
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "it tried to connect"
    );
    for destination in [metadata, mapped] {
        let d = r
            .app
            .store
            .forward_delivery(destination, id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            d.last_error.as_deref(),
            Some("The destination's address is link-local or a cloud metadata service, which storedesk never calls; change the destination's URL.")
        );
    }
});

with_forwarding!(
    metrics_count_deliveries_by_outcome_and_show_the_queue,
    |r| {
        let Some((_receiver, _, _)) =
            destination_with(&r, &["--first", "1", "--then", "500"]).await
        else {
            return;
        };
        let state = state(&r.app);
        arrive(&r, SimEnvironment::Production, "DID_RENEW", None).await;
        arrive(&r, SimEnvironment::Production, "DID_RENEW", None).await;
        let start = now();
        let t = tick(&state, start).await;
        assert_eq!((t.delivered, t.failed), (1, 1));
        let m = state.metrics.render();
        assert!(
            m.contains("storedesk_forward_deliveries_total{outcome=\"delivered\"} 1\n"),
            "{m}"
        );
        assert!(
            m.contains("storedesk_forward_deliveries_total{outcome=\"failed\"} 1\n"),
            "{m}"
        );
        assert!(
            m.contains(
                "# TYPE storedesk_forward_queue_depth gauge\nstoredesk_forward_queue_depth 1\n"
            ),
            "{m}"
        );
        assert!(
            m.contains("storedesk_forward_oldest_undelivered_seconds 0\n"),
            "{m}"
        );
        // Read later, the waiting delivery has aged.
        tick(&state, start + 20_000).await;
        let m = state.metrics.render();
        assert!(
            m.contains("storedesk_forward_oldest_undelivered_seconds 2"),
            "{m}"
        );
        // The app's own /metrics names them too.
        let page = r.app.metrics().await;
        for name in [
            "storedesk_forward_deliveries_total",
            "storedesk_forward_queue_depth",
            "storedesk_forward_oldest_undelivered_seconds",
        ] {
            assert!(page.contains(&format!("# HELP {name} ")), "{name}");
        }
    }
);
