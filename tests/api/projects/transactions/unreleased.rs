//! An app not yet released to Production: Apple's Production API refuses every key of it (HTTP 401), while its
//! purchases live in Sandbox. Lookups fall back to Sandbox, the page says why, and the key is not marked failing.
use storedesk::apple_sim::SimConfig;
use storedesk::domain::{KeyHealth, Role};
use storedesk::support::lookup::NOT_RELEASED;

use crate::helpers::{project_for, store_key};
use crate::projects::notifications::signed::esc;
use crate::with_sim;

with_sim!(
    an_app_not_released_yet_is_looked_up_in_sandbox_and_its_key_stays_well,
    SimConfig {
        production_released: false,
        ..SimConfig::default()
    },
    |app, sim| {
        let admin = app.session(Role::Admin).await;
        let project = project_for(&app, &sim, &admin).await;
        let row = store_key(&app, &project, &sim.issue_key()).await;
        let support = app.session(Role::Support).await;
        let id = sim.seed().active_monthly.transaction_id;
        // Three lookups: two Production 401s counted against the key would have marked it failing.
        for _ in 0..3 {
            let r = support
                .get(&format!("/projects/demo/transactions?q={id}"))
                .await;
            assert_eq!(r.status().as_u16(), 200);
            let html = r.text().await.unwrap();
            assert!(html.contains("Fresh from Apple (Sandbox)"), "{html}");
            assert!(html.contains(&esc(NOT_RELEASED.trim())), "{html}");
            assert!(html.contains(&id));
        }
        let key = app.store.key_in_use(project.id).await.unwrap().unwrap();
        assert_eq!(key.id, row);
        assert_eq!(key.auth_failures, 0);
        assert_eq!(key.status.as_str(), "active");
        assert!(!key.health().is_refused(), "{:?}", key.health());
        assert_eq!(key.health(), KeyHealth::Working);
        let keys = admin.get_text("/projects/demo/keys").await;
        assert!(!keys.contains("badge-bad"), "no refusal shown: {keys}");
    }
);
