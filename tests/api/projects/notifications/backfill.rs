//! Backfill from Apple's notification history, the gap job that recovers what never arrived, and the lease that
//! keeps the gap job to one instance.
use std::time::Duration;

use storedesk::apple::Environment;
use storedesk::apple_sim::SimEnvironment::Production;
use storedesk::domain::Role;
use storedesk::notifications::gap::{self, GapRun, GapSettings};
use storedesk::store::notification_work::Backfill;
use storedesk::store::AuditFilter;

use crate::helpers::TestApp;
use crate::projects::notifications::signed::{
    arrive, day, esc, history, produce, spec, state, DAY_MS,
};
use crate::with_ready;

/// Form fields, the id of the error paragraph, the sentence.
type Fields<'a> = [(&'a str, &'a str); 3];

const LOG: &str = "/projects/demo/notifications";
const BACKFILL: &str = "/projects/demo/notifications/backfill";

/// Waits for the newest backfill of the project to stop running.
pub async fn finished(app: &TestApp, project_id: i64) -> Backfill {
    for _ in 0..400 {
        let jobs = app.store.recent_backfills(project_id, 1).await.unwrap();
        if let Some(job) = jobs
            .into_iter()
            .next()
            .filter(|j| j.status.as_str() != "running")
        {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the backfill did not finish");
}

with_ready!(
    a_backfill_fetches_every_page_and_counts_what_was_already_here,
    |r| {
        let now = storedesk::clock::now_ms();
        let (today, ten_days_ago, month_ago) =
            (day(now), day(now - 10 * DAY_MS), day(now - 29 * DAY_MS));
        let response = r
            .admin
            .post_form(
                LOG,
                BACKFILL,
                &[
                    ("start", &ten_days_ago),
                    ("end", &today),
                    ("environment", "Production"),
                ],
            )
            .await;
        crate::helpers::assert_redirect_to(&response, &format!("{LOG}#backfill"));
        let first = finished(&r.app, r.project.id).await;
        assert_eq!(first.status.as_str(), "done", "{:?}", first.error);
        let in_first_range = history(
            &r.sim,
            Environment::Production,
            first.start_ms,
            first.end_ms.min(storedesk::clock::now_ms()),
        )
        .await
        .len() as i64;
        assert!(in_first_range > 0);
        assert_eq!(
            (
                first.fetched,
                first.new_count,
                first.already_present,
                first.rejected
            ),
            (in_first_range, in_first_range, 0, 0)
        );

        // A notification that arrived through the webhook since, then a wider range that overlaps both.
        let seed = r.sim.seed();
        arrive(
            &r.app,
            &r.sim,
            &r.project,
            Production,
            spec("DID_RENEW", &seed.active_monthly.transaction_id),
        )
        .await;
        let response = r
            .admin
            .post_form(
                LOG,
                BACKFILL,
                &[
                    ("start", &month_ago),
                    ("end", &today),
                    ("environment", "Production"),
                ],
            )
            .await;
        assert_eq!(response.status().as_u16(), 303);
        let second = finished(&r.app, r.project.id).await;
        assert_eq!(second.status.as_str(), "done", "{:?}", second.error);
        let in_second_range = history(
            &r.sim,
            Environment::Production,
            second.start_ms,
            storedesk::clock::now_ms(),
        )
        .await
        .len() as i64;
        assert!(
            in_second_range > 20,
            "needs more than one page of Apple's history"
        );
        assert_eq!(second.pages_done, (in_second_range + 19) / 20);
        assert_eq!(second.fetched, in_second_range);
        assert_eq!(second.already_present, in_first_range + 1);
        assert_eq!(second.new_count, in_second_range - in_first_range - 1);
        assert_eq!(
            r.app.store.count_notifications(r.project.id).await.unwrap(),
            in_second_range
        );

        let html = r.admin.get_text(LOG).await;
        assert!(html.contains(&format!(
            "{} pages read, {} notifications fetched: {} new, {} already here, 0 did not verify",
            second.pages_done, second.fetched, second.new_count, second.already_present
        )));
        assert!(html.contains(&format!(
            "<strong>Production, {month_ago} to {today}</strong>"
        )));
        assert!(html.contains("<span class=\"badge badge-good\">done</span>"));
        let fetched = r.admin.get_text(&format!("{LOG}?source=backfill")).await;
        assert_eq!(
            crate::projects::notifications::signed::detail_ids(&fetched, "demo").len() as i64,
            in_second_range - 1
        );
        let audit = r
            .app
            .store
            .list_audit(&AuditFilter {
                action: Some("notifications.backfill".into()),
                limit: 10,
                ..AuditFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(audit.len(), 2);
        assert_eq!(audit[0].user_email, "admin@example.com");
    }
);

with_ready!(
    the_backfill_form_explains_each_refusal_and_starts_nothing,
    |r| {
        let now = storedesk::clock::now_ms();
        let today = day(now);
        let old = day(now - 200 * DAY_MS);
        let sandbox_old = day(now - 40 * DAY_MS);
        let tomorrow = day(now + DAY_MS);
        let earliest_production = day(now - 180 * DAY_MS + 10 * 60_000);
        let earliest_sandbox = day(now - 30 * DAY_MS + 10 * 60_000);
        let production_sentence = format!("Apple keeps Production notification history for 180 days: the start date can be {earliest_production} at the earliest.");
        let sandbox_sentence = format!("Apple keeps Sandbox notification history for 30 days: the start date can be {earliest_sandbox} at the earliest.");
        let cases: Vec<(Fields, &str, String)> = vec![
            (
                [
                    ("start", ""),
                    ("end", &today),
                    ("environment", "Production"),
                ],
                "b-start-error",
                "Choose the first day to fetch.".into(),
            ),
            (
                [
                    ("start", "01/11/2026"),
                    ("end", &today),
                    ("environment", "Production"),
                ],
                "b-start-error",
                "Write the start date as YYYY-MM-DD, for example 2026-11-01.".into(),
            ),
            (
                [
                    ("start", &old),
                    ("end", &today),
                    ("environment", "Production"),
                ],
                "b-start-error",
                production_sentence,
            ),
            (
                [
                    ("start", &sandbox_old),
                    ("end", &today),
                    ("environment", "Sandbox"),
                ],
                "b-start-error",
                sandbox_sentence,
            ),
            (
                [
                    ("start", &tomorrow),
                    ("end", &tomorrow),
                    ("environment", "Production"),
                ],
                "b-start-error",
                "The start date is in the future; choose today or an earlier day.".into(),
            ),
            (
                [
                    ("start", &today),
                    ("end", ""),
                    ("environment", "Production"),
                ],
                "b-end-error",
                "Choose the last day to fetch.".into(),
            ),
            (
                [
                    ("start", &today),
                    ("end", "tomorrow"),
                    ("environment", "Production"),
                ],
                "b-end-error",
                "Write the end date as YYYY-MM-DD, for example 2026-11-27.".into(),
            ),
            (
                [
                    ("start", &today),
                    ("end", &sandbox_old),
                    ("environment", "Production"),
                ],
                "b-end-error",
                "The end date must be on or after the start date.".into(),
            ),
            (
                [("start", &today), ("end", &today), ("environment", "Xcode")],
                "b-environment-error",
                "Choose Production or Sandbox.".into(),
            ),
        ];
        for (fields, id, sentence) in cases {
            let response = r.admin.post_form(LOG, BACKFILL, &fields).await;
            assert_eq!(response.status().as_u16(), 422, "{sentence}");
            let html = response.text().await.unwrap();
            assert!(
                html.contains(&format!(
                    "<p class=\"field-error\" id=\"{id}\">{}</p>",
                    esc(&sentence)
                )),
                "{sentence}"
            );
            assert!(
                html.contains(&format!("aria-describedby=\"{id}\"")),
                "{sentence}"
            );
        }
        assert!(r
            .app
            .store
            .recent_backfills(r.project.id, 5)
            .await
            .unwrap()
            .is_empty());
        let support = r.app.session(Role::Support).await;
        let response = support
            .post_form(
                LOG,
                BACKFILL,
                &[
                    ("start", &today),
                    ("end", &today),
                    ("environment", "Production"),
                ],
            )
            .await;
        assert_eq!(response.status().as_u16(), 403);
        assert!(!support.get_text(LOG).await.contains("Start backfill"));
        assert!(r
            .app
            .store
            .recent_backfills(r.project.id, 5)
            .await
            .unwrap()
            .is_empty());
    }
);

/// Starts a backfill of today in Production through the form and waits for it to end. It is expected to fail, with
/// its sentence shown on the notifications page.
async fn failed_backfill_of_today(r: &crate::helpers::Ready) -> Backfill {
    let today = day(storedesk::clock::now_ms());
    let response = r
        .admin
        .post_form(
            LOG,
            BACKFILL,
            &[
                ("start", &today),
                ("end", &today),
                ("environment", "Production"),
            ],
        )
        .await;
    assert_eq!(response.status().as_u16(), 303);
    let job = finished(&r.app, r.project.id).await;
    assert_eq!(job.status.as_str(), "failed");
    let html = r.admin.get_text(LOG).await;
    assert!(html.contains("<span class=\"badge badge-bad\">failed</span>"));
    let sentence = job.error.clone().unwrap_or_default();
    assert!(html.contains(&format!("<p class=\"form-error\">{}</p>", esc(&sentence))));
    job
}

with_ready!(a_backfill_apple_refuses_ends_with_a_sentence, |r| {
    r.sim.inject_fault(storedesk::apple_sim::Fault::ApiError {
        code: 4_000_012,
        count: 1,
    });

    let job = failed_backfill_of_today(&r).await;

    let sentence = "Apple refused the request: the start date is further back than Apple allows (180 days in Production, 30 in Sandbox).";
    assert_eq!(job.error.as_deref(), Some(sentence));
});

with_ready!(
    a_history_that_never_moves_on_stops_the_backfill_with_a_sentence,
    |r| {
        // Arrange: Apple's notification history answers every page with "more follow" and the same page token.
        r.sim
            .inject_fault(storedesk::apple_sim::Fault::Stuck { count: 50 });

        // Act
        let job = failed_backfill_of_today(&r).await;

        // Assert: the job ends (instead of paging forever and blocking every later backfill), says why, and counts
        // the two pages it read.
        let sentence = "Apple's notification history sent a page token it had sent before, so storedesk stopped after 2 \
                        pages; what it fetched until then is stored. Start again with a shorter range if notifications \
                        are missing.";
        assert_eq!(job.error.as_deref(), Some(sentence));
        assert_eq!(job.pages_done, 2);
    }
);

fn settle_now() -> GapSettings {
    GapSettings {
        settle: Duration::ZERO,
        ..GapSettings::default()
    }
}

with_ready!(the_gap_check_recovers_what_never_arrived_and_says_so, |r| {
    let seed = r.sim.seed();
    let coins = &seed.consumable_transaction_id;
    arrive(
        &r.app,
        &r.sim,
        &r.project,
        Production,
        spec("CONSUMPTION_REQUEST", coins),
    )
    .await;
    for _ in 0..3 {
        produce(&r.sim, Production, spec("CONSUMPTION_REQUEST", coins)).await;
    }
    produce(
        &r.sim,
        Production,
        spec("DID_RENEW", &seed.active_monthly.transaction_id),
    )
    .await;
    let before = r.app.store.count_notifications(r.project.id).await.unwrap();
    let state = state(&r.app);
    let GapRun::Ran(reports) = gap::run_scheduled(&state, "test-instance", &settle_now())
        .await
        .unwrap()
    else {
        panic!("the only runner was skipped");
    };
    assert_eq!(reports.len(), 1);
    let report = &reports[0];
    assert_eq!(report.error, None);
    assert_eq!(report.environment, "Production");
    let by_type = |t: &str| {
        report
            .types
            .iter()
            .find(|c| c.notification_type == t)
            .cloned()
            .unwrap()
    };
    let requests = by_type("CONSUMPTION_REQUEST");
    assert_eq!(
        (
            requests.sent,
            requests.arrived,
            requests.recovered,
            requests.missed
        ),
        (4, 1, 3, 3)
    );
    let renewals = by_type("DID_RENEW");
    assert_eq!(
        (renewals.sent, renewals.recovered, renewals.missed),
        (1, 1, 1)
    );
    // Apple's older history (from before the project existed) is stored too, but is not counted as missed.
    assert_eq!(report.missed, 4);
    assert!(report.recovered > 4);
    assert_eq!(
        r.app.store.count_notifications(r.project.id).await.unwrap(),
        before + report.recovered
    );

    let support = r.app.session(Role::Support).await;
    let html = support.get_text(LOG).await;
    assert!(html.contains(&esc("Apple sent 3 CONSUMPTION_REQUEST notifications and 1 DID_RENEW notification in Production in the last 3 days that never arrived here; storedesk recovered them.")), "{html}");
    assert!(html.contains("Check the notification URL in App Store Connect"));
    assert!(!html.contains("Mark as seen"));
    let recovered = support.get_text(&format!("{LOG}?source=recovered")).await;
    assert_eq!(
        crate::projects::notifications::signed::detail_ids(&recovered, "demo").len() as i64,
        report.recovered
    );
    assert!(recovered.contains("recovered (never arrived)"));

    // A second run finds nothing new and records no new gap.
    let GapRun::Ran(again) = gap::run_scheduled(&state, "test-instance", &settle_now())
        .await
        .unwrap()
    else {
        panic!("the lease holder was skipped");
    };
    assert_eq!((again[0].recovered, again[0].gap_id), (0, None));

    // Support can't dismiss the banner; a lead can.
    let csrf = crate::helpers::csrf_from(&html);
    let response = support
        .client
        .post(support.url("/projects/demo/notifications/gaps/acknowledge"))
        .form(&[("csrf_token", csrf.as_str()), ("up_to", "1000")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 403);
    let lead = r.app.session(Role::Lead).await;
    let page = lead.get_text(LOG).await;
    assert!(page.contains("Mark as seen"));
    let up_to = report.gap_id.unwrap().to_string();
    let response = lead
        .post_form(
            LOG,
            "/projects/demo/notifications/gaps/acknowledge",
            &[("up_to", &up_to)],
        )
        .await;
    crate::helpers::assert_redirect_to(&response, LOG);
    let page = lead.get_text(LOG).await;
    assert!(!page.contains("never arrived here"));
    assert!(page.contains("Marked 1 gap record as seen."));
});

with_ready!(only_one_of_two_instances_runs_the_gap_check, |r| {
    let seed = r.sim.seed();
    produce(
        &r.sim,
        Production,
        spec("DID_RENEW", &seed.active_monthly.transaction_id),
    )
    .await;
    let (a, b) = (state(&r.app), state(&r.app));
    let settings = settle_now();
    let (first, second) = tokio::join!(
        gap::run_scheduled(&a, "instance-a", &settings),
        gap::run_scheduled(&b, "instance-b", &settings)
    );
    let ran: Vec<bool> = [first.unwrap(), second.unwrap()]
        .iter()
        .map(|run| matches!(run, GapRun::Ran(_)))
        .collect();
    assert_eq!(ran.iter().filter(|r| **r).count(), 1, "{ran:?}");
    let winner = if ran[0] { "instance-a" } else { "instance-b" };
    let loser = if ran[0] { "instance-b" } else { "instance-a" };
    assert_eq!(
        r.app
            .store
            .lease(gap::LEASE_NAME)
            .await
            .unwrap()
            .unwrap()
            .holder,
        winner
    );
    // The work was done once: one gap recorded.
    let gaps = r
        .app
        .store
        .gaps_since(r.project.id, 0, false)
        .await
        .unwrap();
    assert_eq!(gaps.len(), 1);
    // Until the lease expires, the other instance keeps out; the holder may run again.
    assert!(matches!(
        gap::run_scheduled(&b, loser, &settings).await.unwrap(),
        GapRun::Skipped
    ));
    assert!(matches!(
        gap::run_scheduled(&a, winner, &settings).await.unwrap(),
        GapRun::Ran(_)
    ));

    // Many racers on one expired lease: exactly one wins each round.
    for round in 0..5 {
        let name = format!("race-{round}");
        let store = &r.app.store;
        let now = storedesk::clock::now_ms();
        let racers = (0..8).map(|i| {
            let name = name.clone();
            async move {
                store
                    .try_acquire_lease(&name, &format!("racer-{i}"), now, 60_000)
                    .await
                    .unwrap()
            }
        });
        let won = futures_util::future::join_all(racers).await;
        assert_eq!(
            won.iter().filter(|w| **w).count(),
            1,
            "round {round}: {won:?}"
        );
        // An expired lease goes to the next taker.
        assert!(store
            .try_acquire_lease(&name, "late", now + 61_000, 60_000)
            .await
            .unwrap());
        assert!(!store
            .try_acquire_lease(&name, "later", now + 62_000, 60_000)
            .await
            .unwrap());
    }
});

with_ready!(
    a_rate_limited_page_is_retried_after_apples_retry_after,
    |r| {
        // Further away than the client waits on its own, close enough for the backfill to wait it out.
        r.sim
            .inject_fault(storedesk::apple_sim::Fault::RateLimited {
                retry_after_ms: 2_500,
                count: 1,
            });
        let today = day(storedesk::clock::now_ms());
        let week_ago = day(storedesk::clock::now_ms() - 7 * DAY_MS);
        let response = r
            .admin
            .post_form(
                LOG,
                BACKFILL,
                &[
                    ("start", &week_ago),
                    ("end", &today),
                    ("environment", "Production"),
                ],
            )
            .await;
        assert_eq!(response.status().as_u16(), 303);
        let job = finished(&r.app, r.project.id).await;
        assert_eq!(job.status.as_str(), "done", "{:?}", job.error);
        assert!(job.new_count > 0);
    }
);

with_ready!(one_backfill_at_a_time_and_only_with_a_key, |r| {
    // The first page hangs a while, so the first job is still running when the second is asked for.
    r.sim.inject_fault(storedesk::apple_sim::Fault::Hang {
        seconds: 2,
        count: 1,
    });
    let today = day(storedesk::clock::now_ms());
    let fields = [
        ("start", today.as_str()),
        ("end", today.as_str()),
        ("environment", "Production"),
    ];
    let first = r.admin.post_form(LOG, BACKFILL, &fields).await;
    assert_eq!(first.status().as_u16(), 303);
    let second = r.admin.post_form(LOG, BACKFILL, &fields).await;
    assert_eq!(second.status().as_u16(), 422);
    let html = second.text().await.unwrap();
    assert!(html.contains("<p class=\"form-error\" role=\"alert\">A backfill is already running for this project; wait for it to finish (its progress is below).</p>"));
    assert!(html.contains("<span class=\"badge badge-warn\">running</span>"));
    assert_eq!(
        r.app
            .store
            .recent_backfills(r.project.id, 5)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(finished(&r.app, r.project.id).await.status.as_str(), "done");

    assert_eq!(
        crate::helpers::create_project(&r.admin, "nokey")
            .await
            .status()
            .as_u16(),
        303
    );
    let response = r
        .admin
        .post_form(
            "/projects/nokey/notifications",
            "/projects/nokey/notifications/backfill",
            &fields,
        )
        .await;
    assert_eq!(response.status().as_u16(), 422);
    let html = response.text().await.unwrap();
    assert!(html.contains("This project has no key in use, so storedesk can&#39;t ask Apple. Add one under App Store settings."));
});

with_ready!(backfill_forms_sent_at_once_start_one_job, |r| {
    // Arrange: the form sent several times at once (a double click, two admins); the first page hangs a while, so
    // the job that starts is still running when the others arrive.
    const AT_ONCE: usize = 12;
    r.sim.inject_fault(storedesk::apple_sim::Fault::Hang {
        seconds: 2,
        count: 1,
    });
    let today = day(storedesk::clock::now_ms());
    let csrf = crate::helpers::csrf_from(&r.admin.get_text(LOG).await);
    let send = || {
        r.admin
            .client
            .post(r.admin.url(BACKFILL))
            .form(&[
                ("start", today.as_str()),
                ("end", today.as_str()),
                ("environment", "Production"),
                ("csrf_token", csrf.as_str()),
            ])
            .send()
    };

    // Act
    let answers = futures_util::future::join_all((0..AT_ONCE).map(|_| send())).await;

    // Assert: one job started, every other form was told one is running.
    let statuses: Vec<u16> = answers
        .iter()
        .map(|a| a.as_ref().unwrap().status().as_u16())
        .collect();
    assert_eq!(
        (
            statuses.iter().filter(|&&s| s == 303).count(),
            statuses.iter().filter(|&&s| s == 422).count()
        ),
        (1, AT_ONCE - 1),
        "{statuses:?}"
    );
    let jobs = r
        .app
        .store
        .recent_backfills(r.project.id, 10)
        .await
        .unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(finished(&r.app, r.project.id).await.status.as_str(), "done");
});

with_ready!(
    a_backfill_forwards_what_it_fetches_only_when_its_box_is_ticked,
    |r| {
        // A destination nobody answers at: what is queued for it stays pending, so the queue counts it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        crate::forwarding::add_destination(
            &r.app.store,
            &r.app.settings.keyring(),
            r.project.id,
            &format!("http://127.0.0.1:{port}/apple"),
            true,
        )
        .await;
        let page = r.admin.get_text(LOG).await;
        assert!(
            page.contains("<input type=\"checkbox\" name=\"forward\" value=\"on\" checked>"),
            "a fresh form forwards"
        );
        let now = storedesk::clock::now_ms();
        let range = |from: i64, to: i64| {
            [
                ("start", day(now - from * DAY_MS)),
                ("end", day(now - to * DAY_MS)),
            ]
        };

        // Unticked: fetched and stored, nothing queued.
        let [start, end] = range(10, 0);
        let fields = [start, end, ("environment", "Production".to_owned())];
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let response = r.admin.post_form(LOG, BACKFILL, &fields).await;
        crate::helpers::assert_redirect_to(&response, &format!("{LOG}#backfill"));
        let first = finished(&r.app, r.project.id).await;
        assert!(first.new_count > 0, "{first:?}");
        assert_eq!(r.app.store.forward_queue_stats().await.unwrap().depth, 0);

        // Ticked: each notification it newly stores is queued for the destination.
        let [start, end] = range(29, 11);
        let fields = [
            start,
            end,
            ("environment", "Production".to_owned()),
            ("forward", "on".to_owned()),
        ];
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        r.admin.post_form(LOG, BACKFILL, &fields).await;
        let second = finished(&r.app, r.project.id).await;
        assert!(second.new_count > 0, "{second:?}");
        assert_eq!(
            r.app.store.forward_queue_stats().await.unwrap().depth,
            second.new_count
        );
    }
);

with_ready!(
    a_backfill_taken_over_counts_what_its_stopped_run_stored_unrecorded_as_new,
    |r| {
        // Arrange: a job whose run stored the first page of Apple's history and stopped before recording it (its
        // lease ran out at once), so the page will be fetched again and found already here.
        let now = storedesk::clock::now_ms();
        let start_ms = (now - 29 * DAY_MS).div_euclid(DAY_MS) * DAY_MS;
        let end_ms = now.div_euclid(DAY_MS) * DAY_MS + DAY_MS;
        let all = history(&r.sim, Environment::Production, start_ms, end_ms).await;
        assert!(
            all.len() > 20,
            "needs more than one page of Apple's history"
        );
        let store = &r.app.store;
        let id = store
            .start_backfill(
                r.project.id,
                "Production",
                start_ms,
                end_ms,
                false,
                "a-run-that-stopped",
                1,
                &storedesk::store::Actor::system("test"),
            )
            .await
            .unwrap()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        let verifier = crate::projects::notifications::signed::verifier(&r.sim);
        for payload in &all[..20] {
            storedesk::notifications::ingest::ingest(
                store,
                &verifier,
                &r.project,
                payload,
                storedesk::notifications::ingest::Source::Backfill,
            )
            .await
            .unwrap();
        }

        // Act: another instance's schedule takes it over.
        let taken =
            storedesk::notifications::backfill::take_over(&std::sync::Arc::new(state(&r.app)))
                .await
                .unwrap();

        // Assert: finished, each notification once, and the stopped run's page counted as new, not "already here".
        assert_eq!(taken, vec![id]);
        let job = finished(&r.app, r.project.id).await;
        assert_eq!(job.status.as_str(), "done", "{:?}", job.error);
        assert_eq!(job.takeovers, 1);
        let n = all.len() as i64;
        assert_eq!(
            (
                job.pages_done,
                job.fetched,
                job.new_count,
                job.already_present,
                job.rejected
            ),
            ((n + 19) / 20, n, n, 0, 0)
        );
        assert_eq!(store.count_notifications(r.project.id).await.unwrap(), n);
        // Nobody holds a running job any more: a second look takes nothing.
        assert!(
            storedesk::notifications::backfill::take_over(&std::sync::Arc::new(state(&r.app)))
                .await
                .unwrap()
                .is_empty()
        );
        let html = r.admin.get_text(LOG).await;
        assert!(
            html.contains("Resumed on another instance after its instance stopped, "),
            "{html}"
        );
    }
);

with_ready!(
    a_stalled_backfill_says_it_will_be_resumed_and_blocks_a_second_one,
    |r| {
        // A job whose lease ran out and that nobody has taken over yet (the test app does not take over).
        let now = storedesk::clock::now_ms();
        let today = day(now);
        r.app
            .store
            .start_backfill(
                r.project.id,
                "Production",
                now.div_euclid(DAY_MS) * DAY_MS,
                now.div_euclid(DAY_MS) * DAY_MS + DAY_MS,
                false,
                "a-run-that-stopped",
                1,
                &storedesk::store::Actor::system("test"),
            )
            .await
            .unwrap()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;

        let html = r.admin.get_text(LOG).await;
        assert!(
            html.contains("<span class=\"badge badge-bad\">stalled</span>"),
            "{html}"
        );
        assert!(html.contains("The instance running this backfill stopped. Another storedesk instance resumes it where it stopped within a minute; nothing needs to be started again."));
        let second = r
            .admin
            .post_form(
                LOG,
                BACKFILL,
                &[
                    ("start", &today),
                    ("end", &today),
                    ("environment", "Production"),
                ],
            )
            .await;
        assert_eq!(second.status().as_u16(), 422);
        assert_eq!(
            r.app
                .store
                .recent_backfills(r.project.id, 5)
                .await
                .unwrap()
                .len(),
            1
        );
    }
);
