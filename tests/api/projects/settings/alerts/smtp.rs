//! Alert e-mails through a real SMTP server on loopback (aiosmtpd, see `peers.rs`): the message as it arrives,
//! once per event; the test alert; a temporary refusal retried; a wrong password shown without the password.
//! Without Python and aiosmtpd these tests say "skipped" and pass, unless `STOREDESK_REQUIRE_SMTP=1`.
use storedesk::alerts::{run_once, AlertRun, Run};
use storedesk::apple_sim::SimEnvironment::Production;
use storedesk::domain::Role;

use super::peers::{SinkOptions, SmtpSink};
use super::{ready_with, smtp_on, EMAIL, PAGE};
use crate::helpers::{assert_redirect_to, Backend, Ready};
use crate::projects::notifications::signed::{arrive, esc, spec, state};

const MIN: i64 = 60_000;
const RECIPIENT: &str = "support-leads@example.com";

/// Runs a body on SQLite and PostgreSQL with a fresh SMTP sink started with `$options`, and the app sending
/// through it as `$user` (a user and password, or none).
macro_rules! with_sink {
    ($name:ident, $options:expr, $user:expr, |$r:ident, $sink:ident| $body:block) => {
        mod $name {
            use super::*;
            async fn run(backend: Backend) {
                let Some($sink) = SmtpSink::start($options).await else {
                    return;
                };
                let port = $sink.port;
                let Some($r) =
                    ready_with(backend, move |s| s.alerts.smtp = Some(smtp_on(port, $user))).await
                else {
                    return;
                };
                $body
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                run(Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                run(Backend::Postgres).await
            }
        }
    };
}

async fn add_recipient(r: &Ready) {
    let response = r
        .admin
        .post_form(
            PAGE,
            EMAIL,
            &[
                ("email", RECIPIENT),
                ("consumption_requests", "on"),
                ("key_problems", "on"),
                ("notification_gaps", "on"),
            ],
        )
        .await;
    assert_redirect_to(&response, PAGE);
}

async fn request(r: &Ready) {
    let coins = r.sim.seed().consumable_transaction_id;
    arrive(
        &r.app,
        &r.sim,
        &r.project,
        Production,
        spec("CONSUMPTION_REQUEST", &coins),
    )
    .await;
}

async fn tick(r: &Ready, now: i64) -> AlertRun {
    match run_once(&state(&r.app), "test-instance", now)
        .await
        .unwrap()
    {
        Run::Ran(run) => run,
        Run::Skipped => panic!("the only instance was skipped"),
    }
}

/// A message as people read it: long headers unfolded, and the quoted-printable body's soft line breaks
/// joined (the alerts' bodies are ASCII without `=`, so nothing else is encoded).
fn unfolded(data: &serde_json::Value) -> String {
    data["data"]
        .as_str()
        .unwrap()
        .replace("\r\n ", " ")
        .replace("=\r\n", "")
}

with_sink!(
    an_alert_is_mailed_once_through_a_real_smtp_server,
    SinkOptions {
        user: Some(("alerts@storedesk.test", "s3cret pass")),
        ..SinkOptions::default()
    },
    Some(("alerts@storedesk.test", "s3cret pass")),
    |r, sink| {
        add_recipient(&r).await;
        request(&r).await;
        let now = storedesk::clock::now_ms();
        assert_eq!(
            tick(&r, now).await,
            AlertRun {
                claimed: 1,
                sent: 1,
                ..AlertRun::default()
            }
        );
        let messages = sink.messages(1).await;
        assert_eq!(messages.len(), 1);
        let m = &messages[0];
        assert_eq!(m["mail_from"], "alerts@storedesk.test");
        assert_eq!(m["rcpt_tos"], serde_json::json!([RECIPIENT]));
        let data = unfolded(m);
        assert!(
            data.contains("From: \"storedesk alerts\" <alerts@storedesk.test>\r\n"),
            "{data}"
        );
        assert!(data.contains(&format!("To: {RECIPIENT}\r\n")), "{data}");
        assert!(
            data.contains(
                "Subject: [storedesk] Demo: a consumption request waits for an answer (due "
            ),
            "{data}"
        );
        assert!(
            data.contains("Content-Type: text/plain; charset=utf-8"),
            "{data}"
        );
        assert!(
            data.contains(&format!(
                "Answer it here: {}/projects/demo/notifications/consumption#request-",
                r.app.address
            )),
            "{data}"
        );

        // Nothing new on the next runs.
        assert_eq!(tick(&r, now + MIN).await, AlertRun::default());
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert_eq!(sink.messages(1).await.len(), 1);
        let html = r.admin.get_text(PAGE).await;
        assert!(
            html.contains("<span class=\"badge badge-good\">working</span>"),
            "{html}"
        );

        // The test alert goes out at once and says so.
        let channel = r.app.store.alert_channels(r.project.id).await.unwrap()[0].id;
        let response = r
            .admin
            .post_form(PAGE, &format!("{PAGE}/{channel}/test"), &[])
            .await;
        assert_redirect_to(&response, PAGE);
        assert!(r
            .admin
            .get_text(PAGE)
            .await
            .contains(&format!("A test alert was sent to {RECIPIENT}.")));
        let messages = sink.messages(2).await;
        assert!(unfolded(&messages[1]).contains("Subject: [storedesk] Demo: test alert\r\n"));
        // Support may not send one.
        let support = r.app.session(Role::Support).await;
        let csrf = crate::helpers::csrf_from(&support.get_text("/account").await);
        let refused = support
            .client
            .post(support.url(&format!("{PAGE}/{channel}/test")))
            .form(&[("csrf_token", csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status().as_u16(), 403);
        assert_eq!(sink.messages(2).await.len(), 2);
    }
);

with_sink!(
    a_mail_server_that_refuses_for_now_is_retried_and_its_answer_shown,
    SinkOptions {
        refuse_first: 1,
        ..SinkOptions::default()
    },
    None,
    |r, sink| {
        add_recipient(&r).await;
        request(&r).await;
        let now = storedesk::clock::now_ms();
        let first = tick(&r, now).await;
        assert_eq!((first.sent, first.failed), (0, 1));
        let error = r.app.store.recent_alerts(r.project.id, 1).await.unwrap()[0]
            .last_error
            .clone()
            .unwrap();
        assert!(
            error.starts_with(&format!(
                "The mail server 127.0.0.1:{} did not take the e-mail: transient error (451)",
                sink.port
            )),
            "{error}"
        );
        assert!(error.contains("Try again later"), "{error}");
        assert!(r.admin.get_text(PAGE).await.contains(&esc(&error)));
        assert_eq!(
            tick(&r, now + MIN).await,
            AlertRun {
                sent: 1,
                ..AlertRun::default()
            }
        );
        assert_eq!(sink.messages(1).await.len(), 1);
    }
);

with_sink!(
    a_wrong_password_is_shown_without_the_password,
    SinkOptions {
        user: Some(("alerts", "the-right-one")),
        ..SinkOptions::default()
    },
    Some(("alerts", "not-the-right-one")),
    |r, sink| {
        add_recipient(&r).await;
        request(&r).await;
        assert_eq!(tick(&r, storedesk::clock::now_ms()).await.failed, 1);
        let html = r.admin.get_text(PAGE).await;
        let error = r.app.store.recent_alerts(r.project.id, 1).await.unwrap()[0]
            .last_error
            .clone()
            .unwrap();
        assert!(
            error.starts_with(&format!(
                "The mail server 127.0.0.1:{} did not take the e-mail: permanent error (535)",
                sink.port
            )),
            "{error}"
        );
        assert!(html.contains(&esc(&error)));
        assert!(!html.contains("not-the-right-one") && !error.contains("not-the-right-one"));
        assert!(sink.messages(0).await.is_empty());
    }
);
