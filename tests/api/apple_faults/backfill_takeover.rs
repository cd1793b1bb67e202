//! A backfill whose instance is killed (SIGKILL) mid-way is taken over and finished by another instance: two
//! `storedesk serve` processes on one database (PostgreSQL, and SQLite, whose WAL lets two processes share one
//! file), the simulator's history several pages long with every page slowed to a second. The job ends `done`,
//! every notification is stored once, and the counts are the history's, none counted twice.
use std::time::Duration;

use storedesk::apple::Environment;
use storedesk::apple_sim::{Fault, SimConfig, SimEnvironment};
use storedesk::store::notification_work::Backfill;

use super::Instance;
use crate::helpers::Ready;
use crate::projects::notifications::signed::{day, history, produce, spec, DAY_MS};

const LOG: &str = "/projects/demo/notifications";
const BACKFILL: &str = "/projects/demo/notifications/backfill";

/// The newest backfill of the project once `done` says so, waiting at most `within`.
async fn newest_when(r: &Ready, within: Duration, done: impl Fn(&Backfill) -> bool) -> Backfill {
    let started = std::time::Instant::now();
    loop {
        let job = r.app.store.recent_backfills(r.project.id, 1).await.unwrap();
        if let Some(job) = job.into_iter().next().filter(|j| done(j)) {
            return job;
        }
        assert!(
            started.elapsed() < within,
            "the backfill did not get there in {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

crate::on_both_backends!(
    a_backfill_whose_instance_is_killed_is_finished_by_another,
    |backend| crate::helpers::ready(backend, SimConfig::default()),
    r => {
        // Arrange: Apple's history of today and yesterday, several pages long.
        let seed = r.sim.seed();
        for _ in 0..110 {
            produce(
                &r.sim,
                SimEnvironment::Production,
                spec("DID_RENEW", &seed.active_monthly.transaction_id),
            )
            .await;
        }
        let now = storedesk::clock::now_ms();
        let start_ms = now.div_euclid(DAY_MS) * DAY_MS - DAY_MS;
        // As the backfill asks: until the midnight after today, which Apple reads as "until now".
        let expected = history(&r.sim, Environment::Production, start_ms, start_ms + 2 * DAY_MS)
            .await
            .len() as i64;
        let pages = (expected + 19) / 20;
        assert!(pages >= 6, "the history needs several pages: {expected} notifications");
        // Each call of Apple's then takes a second: the kill comes mid-way.
        r.sim.inject_fault(Fault::Hang {
            seconds: 1,
            count: 10_000,
        });
        let lease = [("STOREDESK_BACKFILL_LEASE", "1500ms")];
        let mut a = Instance::start(&r, &lease).await;
        let b = Instance::start(&r, &lease).await;

        // Act: the backfill starts on A, which is killed once it has recorded two pages.
        let started = a
            .admin(&r)
            .post_form(
                LOG,
                BACKFILL,
                &[
                    ("start", &day(start_ms)),
                    ("end", &day(now)),
                    ("environment", "Production"),
                ],
            )
            .await;
        crate::helpers::assert_redirect_to(&started, &format!("{LOG}#backfill"));
        let before = newest_when(&r, Duration::from_secs(60), |j| j.pages_done >= 2).await;
        a.kill();
        assert_eq!(before.status.as_str(), "running");
        assert_eq!(before.takeovers, 0);

        // Assert: B takes it over once A's lease ran out, and finishes it.
        let job = newest_when(&r, Duration::from_secs(120), |j| j.status.as_str() != "running").await;
        assert_eq!(job.status.as_str(), "done", "{:?}", job.error);
        assert!(job.pages_done > before.pages_done, "nothing was left after the kill");
        assert_eq!(job.takeovers, 1);
        assert!(job.taken_over_at.is_some());
        assert_eq!(job.pages_done, pages);
        assert_eq!(
            (job.fetched, job.new_count, job.already_present, job.rejected),
            (expected, expected, 0, 0)
        );
        assert_eq!(
            r.app.store.count_notifications(r.project.id).await.unwrap(),
            expected,
            "a notification is missing or stored twice"
        );
        let page = b.admin(&r).get_text(LOG).await;
        assert!(page.contains("<span class=\"badge badge-good\">done</span>"), "{page}");
        assert!(
            page.contains("Resumed on another instance after its instance stopped, "),
            "{page}"
        );
        assert!(page.contains(&format!(
            "{pages} pages read, {expected} notifications fetched: {expected} new, 0 already here, 0 did not verify"
        )));
    }
);
