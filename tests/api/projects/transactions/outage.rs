//! When Apple fails: each category of error is shown as the client's sentence (never a trace), and the local index
//! answers a repeat search with its "as of" time, never as fresh data.
use storedesk::apple::{ApiErrorKind, AppleError, Environment};
use storedesk::apple_sim::Fault;

use crate::projects::transactions::common::{assert_no_trace, html, lookups, search};
use crate::support_test;

fn api(code: i64, env: Environment, retries: u32) -> AppleError {
    AppleError::Api {
        status: (code / 10_000) as u16,
        code,
        kind: ApiErrorKind::from_code(code),
        environment: env,
        retries,
    }
}

/// The page of a search for the active subscription's transaction while Apple answers with `fault`, checked to show
/// no stack trace.
async fn searched_after(r: &crate::helpers::Ready, fault: Fault) -> String {
    r.sim.inject_fault(fault);
    let id = r.sim.seed().active_monthly.transaction_id;
    let page = r.admin.get_text(&search(&id)).await;
    assert_no_trace(&page);
    page
}

/// Looks the id up once while Apple answers, so the index holds it.
async fn warm(r: &crate::helpers::Ready, id: &str) {
    let page = r.admin.get_text(&search(id)).await;
    assert!(page.contains("Fresh from Apple"), "{page}");
}

support_test!(
    a_repeat_search_is_answered_from_the_index_when_the_simulator_is_gone,
    |r| {
        let seed = r.sim.seed();
        let id = seed.active_monthly.transaction_id.clone();
        warm(&r, &id).await;
        let crate::helpers::Ready {
            app,
            sim,
            admin,
            project,
        } = r;
        sim.stop().await;

        let response = admin.get(&search(&id)).await;
        assert_eq!(response.status().as_u16(), 200);
        let page = response.text().await.unwrap();
        assert_no_trace(&page);
        let sentence = AppleError::Network {
            detail: String::new(),
            retries: 2,
        }
        .sentence();
        assert!(page.contains(&html(&sentence)), "{page}");
        assert!(
            page.contains(&html("Showing storedesk's index as of")),
            "{page}"
        );
        assert!(page.contains("not fresh from Apple"));
        assert!(!page.contains("Fresh from Apple"), "never shown as fresh");
        assert!(page.contains("from storedesk's index</span>"));
        // The story is still told, from the index.
        assert!(page.contains("com.storedesk.demo.pro.monthly"));
        assert!(page.contains("9.99 EUR"));
        let audit = lookups(&app).await;
        assert!(
            audit.iter().any(|(a, t, d)| a == "lookup.transaction"
                && *t == id
                && d.contains("Apple: unreachable; answered from the index")),
            "{audit:?}"
        );
        // The subscription page falls back too.
        let sub = admin
            .get_text(&format!(
                "/projects/demo/subscriptions/{}",
                seed.active_monthly.original_transaction_id
            ))
            .await;
        assert_no_trace(&sub);
        assert!(
            sub.contains("What storedesk's index holds of this subscription"),
            "{sub}"
        );
        assert!(sub.contains(&html(&sentence)));
        let _ = project;
    }
);

support_test!(
    a_repeat_search_is_answered_from_the_index_during_an_apple_outage,
    |r| {
        let seed = r.sim.seed();
        let id = seed.long_history_original_id.clone();
        warm(&r, &id).await;
        let as_of = r
            .app
            .store
            .indexed_by_transaction_id(r.project.id, &id)
            .await
            .unwrap()[0]
            .seen_at;
        // Three 5xx answers: the first attempt and the client's two retries.
        r.sim.inject_fault(Fault::ApiError {
            code: 5_000_000,
            count: 3,
        });
        let page = r.admin.get_text(&search(&id)).await;
        assert_no_trace(&page);
        assert!(
            page.contains(&html(
                &api(5_000_000, Environment::Production, 2).sentence()
            )),
            "{page}"
        );
        assert!(page.contains(&format!(
            "Showing storedesk&#39;s index as of {}",
            storedesk::present::time::utc(as_of)
        )));
        assert!(!page.contains("Fresh from Apple"));
        // The history and the timeline still come from the index.
        assert!(page.contains("id=\"history\""));
        assert!(page.contains("<svg class=\"timeline-svg\""));
    }
);

support_test!(
    an_unauthorized_key_is_explained_and_the_page_stays_usable,
    |r| {
        let seed = r.sim.seed();
        let key = r.app.store.key_in_use(r.project.id).await.unwrap().unwrap();
        r.sim.revoke_key(&key.key_id);
        let response = r
            .admin
            .get(&search(&seed.active_monthly.transaction_id))
            .await;
        assert_eq!(response.status().as_u16(), 200);
        let page = response.text().await.unwrap();
        assert_no_trace(&page);
        let sentence = AppleError::Unauthorized {
            environment: Environment::Production,
        }
        .sentence();
        // One sentence, once, with the link to what fixes it.
        assert_eq!(page.matches(&html(&sentence)).count(), 1, "{page}");
        assert_eq!(
            page.matches(&html("storedesk's own index has nothing for it either."))
                .count(),
            1
        );
        assert!(
            page.contains("<a href=\"/projects/demo/keys#troubleshooting\">"),
            "{page}"
        );
        // The 401 is recorded on the key, as every Apple call's outcome is.
        let key = r.app.store.key_in_use(r.project.id).await.unwrap().unwrap();
        assert!(key.last_failure.unwrap_or_default().contains("401"));
    }
);

support_test!(
    a_failure_with_an_index_answer_is_one_sentence_with_its_fix,
    |r| {
        let seed = r.sim.seed();
        let id = seed.active_monthly.transaction_id.clone();
        warm(&r, &id).await;
        let key = r.app.store.key_in_use(r.project.id).await.unwrap().unwrap();
        r.sim.revoke_key(&key.key_id);
        let page = r.admin.get_text(&search(&id)).await;
        let sentence = html(
            &AppleError::Unauthorized {
                environment: Environment::Production,
            }
            .sentence(),
        );
        assert!(
            page.contains(&html("Showing storedesk's index as of")),
            "{page}"
        );
        assert_eq!(page.matches(&sentence).count(), 1, "{page}");
        assert!(page.contains("<a href=\"/projects/demo/keys#troubleshooting\">"));
    }
);

support_test!(a_rate_limit_is_explained, |r| {
    let page = searched_after(
        &r,
        Fault::RateLimited {
            retry_after_ms: 3_600_000,
            count: 1,
        },
    )
    .await;
    assert!(
        page.contains(&html(
            "Apple's rate limit for this endpoint was reached; try again after"
        )),
        "{page}"
    );
});

support_test!(an_apple_server_error_is_explained, |r| {
    let page = searched_after(
        &r,
        Fault::ApiError {
            code: 5_000_001,
            count: 3,
        },
    )
    .await;
    let sentence = html(&api(5_000_001, Environment::Production, 2).sentence());
    assert_eq!(page.matches(&sentence).count(), 1, "{page}");
    // Apple's outage is not the key's fault: no link to the Keys page's guide.
    assert!(!page.contains("/projects/demo/keys#"), "{page}");
});

support_test!(an_answer_too_large_to_be_apples_is_refused_unread, |r| {
    // An answer of 9 MiB (Apple's largest are a few hundred KiB) is not kept in memory, and the page says so.
    let page = searched_after(&r, Fault::Oversized { count: 1 }).await;

    assert!(
        page.contains(&html(
            &AppleError::MalformedResponse(String::new()).sentence()
        )),
        "{page}"
    );
});

support_test!(a_timeout_is_explained, |r| {
    let page = searched_after(
        &r,
        Fault::Hang {
            seconds: crate::projects::transactions::common::APPLE_TIMEOUT.as_secs() + 3,
            count: 3,
        },
    )
    .await;
    assert!(
        page.contains(&html(&AppleError::Timeout { retries: 2 }.sentence())),
        "{page}"
    );
});

support_test!(a_not_found_is_explained, |r| {
    let seed = r.sim.seed();
    let page = r
        .admin
        .get_text(&search(&seed.unknown_transaction_id))
        .await;
    assert_no_trace(&page);
    assert!(page.contains("Apple has no transaction with this id, in Production or in Sandbox."));
    let sub = r
        .admin
        .get_text(&format!(
            "/projects/demo/subscriptions/{}",
            seed.unknown_transaction_id
        ))
        .await;
    assert!(
        sub.contains("Apple has no subscription with this id, in Production or in Sandbox."),
        "{sub}"
    );
});

support_test!(a_signature_that_does_not_verify_is_never_shown, |r| {
    let page = searched_after(&r, Fault::BadSignature { count: 1 }).await;
    assert!(
        page.contains(&html(
            "Apple's answer did not pass verification, so none of it is shown"
        )),
        "{page}"
    );
    assert!(!page.contains("9.99 EUR"));
    assert_eq!(r.app.store.indexed_count(r.project.id).await.unwrap(), 0);
});

support_test!(
    a_copy_signed_again_is_taken_from_the_index_but_an_unknown_one_must_verify,
    |r| {
        let seed = r.sim.seed();
        let id = seed.active_monthly.transaction_id.clone();
        let original = seed.active_monthly.original_transaction_id.clone();
        let store = &r.app.store;
        // Get Transaction Info answers normally; the history, the refunds and the subscription statuses, asked
        // side by side, are signed badly.
        let badly_signed_sections = || {
            r.sim.inject_fault(Fault::Normal { count: 1 });
            r.sim.inject_fault(Fault::BadSignature { count: 3 });
        };

        // Nothing of the customer's is in the index yet: the history's copies must verify, and none does.
        badly_signed_sections();
        let page = r.admin.get_text(&search(&id)).await;
        assert_no_trace(&page);
        assert!(
            page.contains("Some transactions on this page were left out:"),
            "{page}"
        );
        let only_the_one = store
            .indexed_by_original_id(r.project.id, &original)
            .await
            .unwrap();
        assert_eq!(
            only_the_one
                .iter()
                .map(|t| t.transaction_id.as_str())
                .collect::<Vec<_>>(),
            vec![id.as_str()]
        );

        // A good lookup stores the whole history.
        warm(&r, &id).await;
        let stored = store
            .indexed_by_original_id(r.project.id, &original)
            .await
            .unwrap();
        assert!(stored.len() > 2, "{stored:?}");
        let others: Vec<&str> = stored
            .iter()
            .map(|t| t.transaction_id.as_str())
            // The one looked up names its original in its own words.
            .filter(|t| *t != id && *t != original)
            .collect();
        assert!(!others.is_empty());
        for t in &others {
            assert!(!page.contains(*t), "{t} was shown unverified");
        }

        // The same copies signed again, badly: each says only what was verified, so the page shows them as
        // stored, and the index keeps the copies it verified (not the new signatures, nor their signedDate).
        badly_signed_sections();
        let page = r.admin.get_text(&search(&id)).await;
        assert!(page.contains("Fresh from Apple"), "{page}");
        assert!(!page.contains("left out"), "{page}");
        for t in &others {
            assert!(page.contains(*t), "{t} is missing");
        }
        let after = store
            .indexed_by_original_id(r.project.id, &original)
            .await
            .unwrap();
        let dates = |rows: &[storedesk::store::transactions::IndexedTransaction]| {
            rows.iter()
                .map(|t| (t.transaction_id.clone(), t.signed_date, t.decoded.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(dates(&after), dates(&stored));
    }
);
