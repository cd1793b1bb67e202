//! The alert job against a real webhook receiver on loopback: each event once per channel, the reminder before a
//! consumption request's deadline, nothing new on a second run, retries with backoff after a 500, a refused
//! connection or a timeout (and the error on the settings page), an alert claimed before a crash, two instances.
//! The job's clock is a parameter: no test waits for it.
use std::time::Duration;

use storedesk::alerts::{job, run_once, AlertRun, Run};
use storedesk::apple_sim::SimEnvironment::Production;
use storedesk::domain::Verdict;
use storedesk::state::AppState;
use storedesk::store::alerts::{DeliveryStatus, NewAlert};
use storedesk::store::keys::KeyCheck;
use storedesk::store::notification_work::NewGap;
use storedesk::store::AuditFilter;

use super::peers::{closed_port, Receiver, Reply};
use super::{ready_with, PAGE, WEBHOOKS};
use crate::helpers::{assert_redirect_to, Ready};
use crate::on_both_backends;
use crate::projects::notifications::signed::{arrive, esc, spec, state};

const MIN: i64 = 60_000;
const HOUR: i64 = 3_600_000;

macro_rules! with_alerts {
    ($name:ident, |$r:ident| $body:block) => {
        on_both_backends!($name, |backend| ready_with(backend, |_| {}), $r => $body);
    };
    ($name:ident, $adjust:expr, |$r:ident| $body:block) => {
        on_both_backends!($name, |backend| ready_with(backend, $adjust), $r => $body);
    };
}

async fn add_webhook(r: &Ready, url: &str, events: &[&str]) {
    let mut form: Vec<(&str, &str)> = vec![("url", url)];
    form.extend(events.iter().map(|e| (*e, "on")));
    let response = r.admin.post_form(PAGE, WEBHOOKS, &form).await;
    assert_redirect_to(&response, PAGE);
}

const ALL: &[&str] = &["consumption_requests", "key_problems", "notification_gaps"];

/// A CONSUMPTION_REQUEST that arrived now; its row id and Apple's signedDate.
async fn consumption_request(r: &Ready) -> (i64, i64) {
    let coins = r.sim.seed().consumable_transaction_id;
    let id = arrive(
        &r.app,
        &r.sim,
        &r.project,
        Production,
        spec("CONSUMPTION_REQUEST", &coins),
    )
    .await;
    let row = r
        .app
        .store
        .notification(r.project.id, id)
        .await
        .unwrap()
        .unwrap();
    (id, row.signed_date)
}

/// Apple refuses the project's key: Verify now got HTTP 401 in Sandbox and in Production, as the keys page records
/// it; returns the key's id.
async fn refuse_key(r: &Ready) -> String {
    let key = r.app.store.key_in_use(r.project.id).await.unwrap().unwrap();
    let refused = KeyCheck {
        sandbox: Some(Verdict::Refused),
        production: Some(Verdict::Refused),
        ok: false,
        summary: "Apple refused the key in both Sandbox and Production (HTTP 401).".into(),
        failure: Some("HTTP 401 in Sandbox and in Production (Verify now)".into()),
    };
    r.app
        .store
        .record_key_check(key.id, &refused)
        .await
        .unwrap();
    key.key_id
}

/// The gap check found two DID_RENEW notifications that never arrived.
async fn gap(r: &Ready) -> i64 {
    let now = storedesk::clock::now_ms();
    r.app
        .store
        .record_gap(&NewGap {
            project_id: r.project.id,
            environment: "Production".into(),
            detected_at: now,
            window_start: now - 3 * 24 * HOUR,
            window_end: now - 10 * MIN,
            sent: 5,
            arrived: 3,
            recovered: 2,
            missed: 2,
            type_counts: r#"[{"type":"DID_RENEW","sent":5,"arrived":3,"recovered":2,"missed":2}]"#
                .into(),
        })
        .await
        .unwrap()
}

async fn tick(state: &AppState, now: i64) -> AlertRun {
    match run_once(state, "test-instance", now).await.unwrap() {
        Run::Ran(run) => run,
        Run::Skipped => panic!("the only instance was skipped"),
    }
}

fn sent(n: usize) -> AlertRun {
    AlertRun {
        sent: n,
        ..AlertRun::default()
    }
}

with_alerts!(each_event_is_sent_once_to_each_webhook_that_chose_it, |r| {
    let (everything, requests_only) = (Receiver::start(&[]).await, Receiver::start(&[]).await);
    add_webhook(&r, &everything.url("all"), ALL).await;
    add_webhook(
        &r,
        &requests_only.url("requests"),
        &["consumption_requests"],
    )
    .await;
    let (request, signed) = consumption_request(&r).await;
    let key_id = refuse_key(&r).await;
    gap(&r).await;
    let state = state(&r.app);
    let now = storedesk::clock::now_ms();

    assert_eq!(
        tick(&state, now).await,
        AlertRun {
            claimed: 4,
            sent: 4,
            ..AlertRun::default()
        }
    );
    let texts = everything.texts();
    assert_eq!(texts.len(), 3, "{texts:#?}");
    let deadline = storedesk::present::time::utc(signed + 12 * HOUR);
    let base = &r.app.address;
    let request_text = texts
        .iter()
        .find(|t| t.contains("consumption request"))
        .unwrap();
    assert!(request_text.starts_with(&format!(
        "*[storedesk] Demo: a consumption request waits for an answer (due {deadline})*\n"
    )));
    assert!(request_text.contains(&format!(
        "Answer by {deadline} (due in 11 h): after that Apple decides without it."
    )));
    assert!(request_text.contains(&format!(
        "Answer it here: {base}/projects/demo/notifications/consumption#request-{request}"
    )));
    let key_text = texts
        .iter()
        .find(|t| t.contains("In-App Purchase key"))
        .unwrap();
    assert!(key_text.starts_with(&format!(
        "*[storedesk] Demo: Apple refuses the In-App Purchase key {key_id}*\nKey {key_id} is refused: Apple refused this key in Sandbox and in Production (HTTP 401): its Key ID, Issuer ID and .p8 do not belong together, or it was revoked in App Store Connect.\n"
    )));
    assert!(key_text.contains(&format!("{base}/projects/demo/keys")));
    let gap_text = texts.iter().find(|t| t.contains("did not arrive")).unwrap();
    assert!(gap_text.contains("Apple sent 2 notifications (2 DID_RENEW) in Production between "));
    assert!(gap_text.contains(&format!(
        "Step 4: {base}/projects/demo/settings/stores/apple#step4"
    )));
    let first = everything.received.lock().unwrap()[0].clone();
    assert_eq!(first.content_type, "application/json");
    assert_eq!(first.path, "/services/T000/B000/all-secret-part");
    assert_eq!(requests_only.texts().len(), 1);
    assert!(requests_only.texts()[0].contains("a consumption request waits"));

    // A second run, and a later one, send nothing new.
    assert_eq!(tick(&state, now).await, AlertRun::default());
    assert_eq!(tick(&state, now + 30 * MIN).await, AlertRun::default());
    assert_eq!((everything.count(), requests_only.count()), (3, 1));

    // A further 401 on a refused key is the same trouble; a key that recovers and fails again is new.
    let key = r.app.store.key_in_use(r.project.id).await.unwrap().unwrap();
    r.app
        .store
        .record_key_call(key.id, Err(("HTTP 401 in Production", true)))
        .await
        .unwrap();
    assert_eq!(tick(&state, now + 31 * MIN).await, AlertRun::default());
    r.app.store.record_key_call(key.id, Ok(())).await.unwrap();
    assert_eq!(tick(&state, now + 32 * MIN).await, AlertRun::default());
    for _ in 0..2 {
        r.app
            .store
            .record_key_call(key.id, Err(("HTTP 401 in Production", true)))
            .await
            .unwrap();
    }
    let relapse = tick(&state, now + 33 * MIN).await;
    assert_eq!((relapse.claimed, relapse.sent), (1, 1));
    assert!(everything.texts()[3].contains(&format!(
        "Key {key_id} is failing: Apple keeps refusing calls signed with this key (HTTP 401)."
    )));

    // What was sent is on the settings page and in the audit log.
    let html = r.admin.get_text(PAGE).await;
    assert!(html.contains("<span class=\"badge badge-good\">working</span>"));
    assert!(html.contains(&esc(
        "[storedesk] Demo: notifications from Apple did not arrive"
    )));
    let audited = r
        .app
        .store
        .list_audit(&AuditFilter {
            action: Some("alerts.sent".into()),
            limit: 20,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(audited.len(), 5);
    assert!(audited.iter().all(|a| !a.target.contains("secret-part")));
    assert!(audited
        .iter()
        .any(|a| a.target == format!("http://127.0.0.1:{}/…part", requests_only.port)));
});

with_alerts!(
    a_reminder_goes_out_two_hours_before_the_deadline_once,
    |r| {
        let early = Receiver::start(&[]).await;
        add_webhook(&r, &early.url("early"), &["consumption_requests"]).await;
        let (_, signed) = consumption_request(&r).await;
        let state = state(&r.app);

        assert_eq!(tick(&state, signed + MIN).await.sent, 1);
        assert_eq!(
            tick(&state, signed + 9 * HOUR + 59 * MIN).await,
            AlertRun::default()
        );
        let reminder = tick(&state, signed + 10 * HOUR + MIN).await;
        assert_eq!((reminder.claimed, reminder.sent), (1, 1));
        let texts = early.texts();
        assert_eq!(texts.len(), 2);
        assert!(texts[1].starts_with(
        "*[storedesk] Demo: reminder, a consumption request is due in 1 h 59 min and still unanswered*\nReminder: still no answer. Apple asked for consumption information"
    ), "{}", texts[1]);
        assert_eq!(
            tick(&state, signed + 10 * HOUR + 2 * MIN).await,
            AlertRun::default()
        );
        assert_eq!(tick(&state, signed + 11 * HOUR).await, AlertRun::default());

        // A channel added inside the last two hours gets the request once, not a reminder right after it.
        let late = Receiver::start(&[]).await;
        add_webhook(&r, &late.url("late"), &["consumption_requests"]).await;
        assert_eq!(
            tick(&state, signed + 11 * HOUR + MIN).await,
            AlertRun {
                claimed: 1,
                sent: 1,
                ..AlertRun::default()
            }
        );
        assert_eq!(
            tick(&state, signed + 11 * HOUR + 2 * MIN).await,
            AlertRun::default()
        );
        assert!(late.texts()[0].contains("a consumption request waits for an answer"));
        // Past the deadline a request is overdue, not open: a new channel gets nothing about it.
        let after = Receiver::start(&[]).await;
        add_webhook(&r, &after.url("after"), &["consumption_requests"]).await;
        assert_eq!(
            tick(&state, signed + 12 * HOUR + MIN).await,
            AlertRun::default()
        );
        assert_eq!((early.count(), late.count(), after.count()), (2, 1, 0));
    }
);

with_alerts!(
    a_webhook_that_answers_500_is_retried_with_backoff_and_its_error_shown,
    |r| {
        let hook = Receiver::start(&[Reply::Status(500), Reply::Status(503)]).await;
        add_webhook(&r, &hook.url("flaky"), ALL).await;
        refuse_key(&r).await;
        let state = state(&r.app);
        let now = storedesk::clock::now_ms();

        let first = tick(&state, now).await;
        assert_eq!((first.claimed, first.sent, first.failed), (1, 0, 1));
        let html = r.admin.get_text(PAGE).await;
        assert!(
            html.contains(&esc(
                "The webhook at 127.0.0.1 answered HTTP 500: no_service."
            )),
            "{html}"
        );
        assert!(html.contains("<span class=\"badge badge-bad\">failing</span>"));
        assert!(html.contains("1 alert to send or retry"));
        assert!(html.contains("<span class=\"badge badge-warn\">failed, will retry</span>"));
        assert!(html.contains(" Next try: "));
        assert!(!html.contains("flaky-secret-part"));

        // One minute after the first failure, then two after the second.
        assert_eq!(tick(&state, now + 59_000).await, AlertRun::default());
        assert_eq!(tick(&state, now + MIN).await.failed, 1);
        assert_eq!(
            tick(&state, now + 2 * MIN + 59_000).await,
            AlertRun::default()
        );
        assert_eq!(tick(&state, now + 3 * MIN).await, sent(1));
        assert_eq!(hook.count(), 3, "three attempts, one message");
        assert_eq!(tick(&state, now + 10 * MIN).await, AlertRun::default());
        let html = r.admin.get_text(PAGE).await;
        assert!(html.contains("<span class=\"badge badge-good\">working</span>"));
        assert!(
            html.contains(&esc(
                "The webhook at 127.0.0.1 answered HTTP 503: no_service."
            )),
            "the last error stays readable"
        );
    }
);

with_alerts!(a_refused_connection_is_retried_until_it_is_given_up, |r| {
    let port = closed_port();
    add_webhook(
        &r,
        &format!("http://127.0.0.1:{port}/services/T000/B000/refused-secret-part"),
        ALL,
    )
    .await;
    refuse_key(&r).await;
    let state = state(&r.app);
    let mut now = storedesk::clock::now_ms();
    for attempt in 1..=job::MAX_ATTEMPTS {
        let run = tick(&state, now).await;
        assert_eq!(run.failed, 1, "attempt {attempt}");
        now += job::backoff_ms(attempt);
    }
    assert_eq!(tick(&state, now + 24 * HOUR).await, AlertRun::default());
    let alerts = r.app.store.recent_alerts(r.project.id, 10).await.unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].status, DeliveryStatus::Failed);
    assert_eq!(alerts[0].attempts, job::MAX_ATTEMPTS);
    let error = alerts[0].last_error.clone().unwrap();
    assert!(
        error.starts_with("Could not connect to the webhook at 127.0.0.1: "),
        "{error}"
    );
    assert!(error.to_lowercase().contains("refused"), "{error}");
    let html = r.admin.get_text(PAGE).await;
    assert!(html.contains("<span class=\"badge badge-bad\">given up</span>"));
    assert!(html.contains(&esc(&error)));
    let given_up = r
        .app
        .store
        .list_audit(&AuditFilter {
            action: Some("alerts.given_up".into()),
            limit: 5,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(given_up.len(), 1);
    assert!(!given_up[0].detail.contains("refused-secret-part"));
});

with_alerts!(
    a_webhook_that_does_not_answer_times_out_and_is_retried,
    |s| s.alerts.send_timeout = Duration::from_secs(1),
    |r| {
        let hook = Receiver::start(&[Reply::Hang]).await;
        add_webhook(&r, &hook.url("slow"), ALL).await;
        refuse_key(&r).await;
        let state = state(&r.app);
        let now = storedesk::clock::now_ms();
        let started = std::time::Instant::now();
        assert_eq!(tick(&state, now).await.failed, 1);
        assert!(started.elapsed() < Duration::from_secs(10));
        let alerts = r.app.store.recent_alerts(r.project.id, 1).await.unwrap();
        assert_eq!(
            alerts[0].last_error.as_deref(),
            Some("The webhook at 127.0.0.1 did not answer within 1 second.")
        );
        assert_eq!(tick(&state, now + MIN).await, sent(1));
        assert_eq!(hook.count(), 2);
    }
);

with_alerts!(
    an_alert_claimed_before_a_crash_is_sent_after_the_attempt_lapses,
    |r| {
        let hook = Receiver::start(&[]).await;
        add_webhook(&r, &hook.url("crash"), ALL).await;
        let channel = r.app.store.alert_channels(r.project.id).await.unwrap()[0].clone();
        let now = storedesk::clock::now_ms();
        // An instance claimed the alert and began its attempt, then stopped before it could send or say so.
        let alert = NewAlert {
            channel_id: channel.id,
            project_id: r.project.id,
            event_key: "key:1:0",
            subject: "[storedesk] Demo: Apple refuses the In-App Purchase key",
            body: "body",
            expires_at: None,
        };
        assert!(r.app.store.claim_alert(&alert, now).await.unwrap());
        assert!(
            !r.app.store.claim_alert(&alert, now).await.unwrap(),
            "claimed once"
        );
        let pending = r.app.store.due_alerts(now, 10).await.unwrap();
        assert!(r
            .app
            .store
            .start_alert_attempt(pending[0].id, now, now + job::IN_FLIGHT_MS)
            .await
            .unwrap());

        let state = state(&r.app);
        assert_eq!(
            tick(&state, now + MIN).await,
            AlertRun::default(),
            "still in flight"
        );
        assert_eq!(hook.count(), 0);
        assert_eq!(tick(&state, now + job::IN_FLIGHT_MS).await, sent(1));
        assert_eq!(hook.count(), 1);
    }
);

with_alerts!(two_instances_on_one_database_send_each_alert_once, |r| {
    let hook = Receiver::start(&[]).await;
    add_webhook(&r, &hook.url("shared"), ALL).await;
    consumption_request(&r).await;
    refuse_key(&r).await;
    gap(&r).await;
    let (a, b) = (state(&r.app), state(&r.app));
    let now = storedesk::clock::now_ms();
    let (first, second) = tokio::join!(
        run_once(&a, "instance-a", now),
        run_once(&b, "instance-b", now)
    );
    let ran: Vec<AlertRun> = [first.unwrap(), second.unwrap()]
        .into_iter()
        .filter_map(|run| match run {
            Run::Ran(run) => Some(run),
            Run::Skipped => None,
        })
        .collect();
    assert_eq!(ran.len(), 1, "one instance holds the lease");
    assert_eq!(ran[0].sent, 3);
    assert_eq!(hook.count(), 3);

    // Once the lease has lapsed the other instance runs, and finds nothing left to send.
    let later = now + 2 * MIN;
    for holder in ["instance-a", "instance-b"] {
        let Run::Ran(run) = run_once(&b, holder, later).await.unwrap() else {
            continue;
        };
        assert_eq!(run, AlertRun::default());
    }
    assert_eq!(hook.count(), 3);

    // Without the lease, each attempt still takes its alert in one statement: of two, one wins.
    let channel = r.app.store.alert_channels(r.project.id).await.unwrap()[0].clone();
    let alert = NewAlert {
        channel_id: channel.id,
        project_id: r.project.id,
        event_key: "race",
        subject: "race",
        body: "race",
        expires_at: None,
    };
    let (x, y) = tokio::join!(
        a.store.claim_alert(&alert, later),
        b.store.claim_alert(&alert, later)
    );
    assert_eq!([x.unwrap(), y.unwrap()].iter().filter(|c| **c).count(), 1);
    let id = a.store.due_alerts(later, 10).await.unwrap()[0].id;
    let (x, y) = tokio::join!(
        a.store.start_alert_attempt(id, later, later + MIN),
        b.store.start_alert_attempt(id, later, later + MIN)
    );
    assert_eq!([x.unwrap(), y.unwrap()].iter().filter(|t| **t).count(), 1);
});
