//! Apple's hourly rate limits kept on our side, in the database, so every instance draws from one budget.
use std::sync::Arc;

use storedesk::apple::budget::HOUR_MS;
use storedesk::apple::{CallBudget, Endpoint, Environment};
use storedesk::apple_sim::SimConfig;
use storedesk::call_budget::StoreBudget;
use storedesk::domain::Role;

use crate::both_backends;
use crate::helpers::{assert_redirect_to, project_for, store_key, Backend};

both_backends!(
    an_instance_reserves_units_in_blocks_up_to_the_exact_limit,
    |app| {
        let a = StoreBudget::new(app.store.clone(), Some(2_800));
        let b = StoreBudget::new(app.store.clone(), Some(2_800));
        let (env, endpoint, bundle) = (
            Environment::Production,
            Endpoint::TransactionHistory,
            "com.example.app",
        );
        assert_eq!(a.limit(env, endpoint), 2_520);
        let hour = storedesk::clock::now_ms().div_euclid(HOUR_MS);
        let used = || async {
            app.store
                .call_budget_used(bundle, "Production", "Get Transaction History", hour)
                .await
                .unwrap()
        };
        assert!(a.take(bundle, env, endpoint).await.is_ok());
        assert_eq!(
            used().await,
            25,
            "the first call reserves 1 % of the hour's budget"
        );
        for _ in 0..24 {
            assert!(a.take(bundle, env, endpoint).await.is_ok());
        }
        assert_eq!(used().await, 25, "the next 24 calls spend the reservation");
        assert!(b.take(bundle, env, endpoint).await.is_ok());
        assert_eq!(used().await, 50, "another instance reserves its own block");
        let mut taken = 26;
        while a.take(bundle, env, endpoint).await.is_ok() {
            taken += 1;
            assert!(taken <= 2_520, "more than the budget was handed out");
        }
        // b still holds 24 of its block: the last whole blocks and single units went to a.
        assert_eq!(taken, 2_520 - 24);
        assert_eq!(
            used().await,
            2_520,
            "the last units are taken one by one, up to the limit"
        );
        for _ in 0..24 {
            assert!(b.take(bundle, env, endpoint).await.is_ok());
        }
        assert!(b.take(bundle, env, endpoint).await.is_err());
    }
);

both_backends!(two_instances_draw_from_one_budget, |app| {
    // Two budgets on one database stand for two storedesk instances.
    let a = Arc::new(StoreBudget::new(app.store.clone(), Some(100)));
    let b = Arc::new(StoreBudget::new(app.store.clone(), Some(100)));
    let limit = a.limit(Environment::Production, Endpoint::LookUpOrderId);
    assert_eq!(limit, 90);
    let mut tasks = Vec::new();
    for i in 0..120 {
        let budget = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            budget
                .take(
                    "com.example.app",
                    Environment::Production,
                    Endpoint::LookUpOrderId,
                )
                .await
        }));
    }
    let mut taken = 0;
    let mut refused = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => taken += 1,
            Err(retry_at) => refused.push(retry_at),
        }
    }
    assert_eq!(
        taken, 90,
        "exactly the budget is handed out across instances"
    );
    assert_eq!(refused.len(), 30);
    let next_hour = (storedesk::clock::now_ms().div_euclid(HOUR_MS) + 1) * HOUR_MS;
    assert!(refused
        .iter()
        .all(|at| *at == next_hour || *at == next_hour + HOUR_MS));
    // Sandbox and other endpoints and apps have budgets of their own.
    assert!(a
        .take(
            "com.example.app",
            Environment::Sandbox,
            Endpoint::LookUpOrderId
        )
        .await
        .is_ok());
    assert!(b
        .take(
            "com.example.app",
            Environment::Production,
            Endpoint::TransactionInfo
        )
        .await
        .is_ok());
    assert!(b
        .take(
            "com.example.other",
            Environment::Production,
            Endpoint::LookUpOrderId
        )
        .await
        .is_ok());
    assert_eq!(
        a.limit(Environment::Sandbox, Endpoint::LookUpOrderId),
        9,
        "Sandbox gets a tenth"
    );
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_budget_holds_the_call_back_sqlite() {
    spent_budget(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_budget_holds_the_call_back_postgres() {
    spent_budget(Backend::Postgres).await;
}

async fn spent_budget(backend: Backend) {
    // 10 an hour in Production means 1 in Sandbox after our margin: the second Verify now can't reach Sandbox.
    let sim = storedesk::apple_sim::spawn(SimConfig::default())
        .await
        .unwrap();
    let (production, sandbox, root) = (sim.production_url(), sim.sandbox_url(), sim.root_ca_der());
    let Some(app) = crate::helpers::spawn_app_with(backend, move |s| {
        s.apple.production_url = production;
        s.apple.sandbox_url = sandbox;
        s.apple.extra_roots = vec![root];
        s.apple.hourly_limit = Some(10);
    })
    .await
    else {
        return;
    };
    let admin = app.session(Role::Admin).await;
    let project = project_for(&app, &sim, &admin).await;
    store_key(&app, &project, &sim.issue_key()).await;
    let verify = || async {
        let r = admin
            .post_form(
                "/projects/demo/keys",
                "/projects/demo/keys/verify",
                &[("return_to", "keys")],
            )
            .await;
        assert_redirect_to(&r, "/projects/demo/keys");
        admin.get_text("/projects/demo/keys").await
    };
    let first = verify().await;
    assert!(
        first.contains("Apple accepted the key in Sandbox and in Production."),
        "{first}"
    );
    let before = sim.request_count();
    let second = verify().await;
    assert!(
        second.contains("storedesk held this call back: this hour&#39;s share of Apple&#39;s rate limit for Get Transaction Info in Sandbox is used up (all storedesk instances share it), and going over would get the key throttled by Apple. Try again after "),
        "{second}"
    );
    assert_eq!(
        sim.request_count() - before,
        1,
        "only the Production call reached Apple"
    );
    let hour = storedesk::clock::now_ms().div_euclid(HOUR_MS);
    let used = app
        .store
        .call_budget_used(&project.bundle_id, "Sandbox", "Get Transaction Info", hour)
        .await
        .unwrap();
    assert_eq!(used, 1);
    // Nothing reached Apple, so nothing is said about the key.
    let key = app.store.key_in_use(project.id).await.unwrap().unwrap();
    assert_eq!(key.auth_failures, 0);
}
