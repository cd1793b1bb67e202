//! The local transaction index's upsert: newer content wins at once; the same transaction seen again (Apple signs
//! every copy anew) moves its "as of" time only once that is a minute old; an older copy changes nothing.
use crate::both_backends;
use crate::helpers::store_project;

use serde_json::json;
use storedesk::apple::Environment;
use storedesk::store::Store;
use storedesk::support::index::index_row;

fn row(
    project_id: i64,
    signed_date: i64,
    jws: &str,
    seen_at: i64,
) -> storedesk::store::transactions::IndexRow {
    let mut decoded = json!({
        "transactionId": "2000000000000001", "originalTransactionId": "2000000000000001",
        "productId": "com.example.index.coins", "type": "Consumable", "purchaseDate": 1_700_000_000_000i64,
        "signedDate": signed_date, "environment": "Production", "inAppOwnershipType": "PURCHASED",
    });
    if jws.contains("refunded") {
        decoded["revocationDate"] = json!(1_700_000_500_000i64);
        decoded["revocationReason"] = json!(0);
    }
    index_row(
        project_id,
        Environment::Production,
        "lookup",
        jws,
        &decoded,
        seen_at,
    )
}

async fn stored(store: &Store, project_id: i64) -> (i64, i64) {
    let rows = store
        .indexed_by_transaction_id(project_id, "2000000000000001")
        .await
        .expect("read");
    assert_eq!(rows.len(), 1);
    (rows[0].signed_date, rows[0].seen_at)
}

both_backends!(
    the_same_transaction_seen_again_refreshes_as_of_once_a_minute,
    |app| {
        let store = &app.store;
        let p = store_project(store, "index").await;
        let t0 = 1_800_000_000_000i64;
        store
            .index_transactions(&[row(p, 100, "h.p1.s", t0)], &[], None)
            .await
            .expect("index");
        assert_eq!(stored(store, p).await, (100, t0));
        // Seen again 30 s later, unchanged: the row is left as it is.
        store
            .index_transactions(&[row(p, 100, "h.p1.s", t0 + 30_000)], &[], None)
            .await
            .expect("index");
        assert_eq!(stored(store, p).await, (100, t0));
        // A minute after the stored time: "as of" moves.
        store
            .index_transactions(&[row(p, 100, "h.p1.s", t0 + 60_000)], &[], None)
            .await
            .expect("index");
        assert_eq!(stored(store, p).await, (100, t0 + 60_000));
        // Apple signed the same content again: the row, its JWS and its "as of" time stay as they are.
        store
            .index_transactions(&[row(p, 200, "h.p2.s", t0 + 61_000)], &[], None)
            .await
            .expect("index");
        assert_eq!(stored(store, p).await, (100, t0 + 60_000));
        // New content (a refund) replaces the row at once.
        store
            .index_transactions(&[row(p, 300, "h.refunded.s", t0 + 62_000)], &[], None)
            .await
            .expect("index");
        assert_eq!(stored(store, p).await, (300, t0 + 62_000));
        // An older signature changes nothing, however late it arrives.
        store
            .index_transactions(&[row(p, 150, "h.p3.s", t0 + 600_000)], &[], None)
            .await
            .expect("index");
        assert_eq!(stored(store, p).await, (300, t0 + 62_000));
    }
);
