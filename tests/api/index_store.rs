//! The local transaction index's upsert: newer content wins at once; the same transaction seen again (Apple signs
//! every copy anew) moves its "as of" time only once that is a minute old; an older copy changes nothing.
use crate::both_backends;
use crate::helpers::store_project;

use serde_json::json;
use storedesk::apple::Environment;
use storedesk::store::transactions::index_row;
use storedesk::store::Store;

fn row(
    project_id: i64,
    signed_date: i64,
    jws: &str,
    seen_at: i64,
) -> storedesk::store::transactions::IndexRow {
    row_of("2000000000000001", project_id, signed_date, jws, seen_at)
}

/// A purchase of the subscription (original id 2000000000000001) with its own transaction id.
fn row_of(
    transaction_id: &str,
    project_id: i64,
    signed_date: i64,
    jws: &str,
    seen_at: i64,
) -> storedesk::store::transactions::IndexRow {
    let mut decoded = json!({
        "transactionId": transaction_id, "originalTransactionId": "2000000000000001",
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
    stored_of(store, project_id, "2000000000000001").await
}

async fn stored_of(store: &Store, project_id: i64, transaction_id: &str) -> (i64, i64) {
    let rows = store
        .indexed_by_transaction_id(project_id, transaction_id)
        .await
        .expect("read");
    assert_eq!(rows.len(), 1, "{transaction_id}");
    (rows[0].signed_date, rows[0].seen_at)
}

/// A project whose index holds one copy of the subscription, and that copy read ahead as a lookup reads it.
async fn one_copy_read_ahead(
    store: &Store,
    slug: &str,
) -> (i64, i64, storedesk::store::transactions::StoredCopies) {
    let p = store_project(store, slug).await;
    let t0 = 1_800_000_000_000i64;
    store
        .index_transactions(&[row(p, 100, "h.p1.s", t0)], &[], None)
        .await
        .expect("index");
    let ahead = store
        .stored_copies(p, "2000000000000001")
        .await
        .expect("read ahead");
    (p, t0, ahead)
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

both_backends!(
    copies_read_ahead_of_a_write_decide_as_a_fresh_read_would,
    |app| {
        let store = &app.store;
        let (p, t0, ahead) = one_copy_read_ahead(store, "ahead").await;

        // While Apple answers, a notification stores a refund of the same transaction.
        store
            .index_transactions(&[row(p, 300, "h.refunded.s", t0 + 1_000)], &[], None)
            .await
            .expect("notification");
        // The lookup's copy says what the copy read ahead said: it is not written, and the refund stays.
        // A transaction the read ahead did not hold is stored.
        store
            .index_transactions_with(
                &[
                    row(p, 200, "h.p2.s", t0 + 2_000),
                    row_of("2000000000000002", p, 200, "h.other.s", t0 + 2_000),
                ],
                &[],
                None,
                Some(&ahead),
            )
            .await
            .expect("index");
        assert_eq!(stored(store, p).await, (300, t0 + 1_000));
        assert_eq!(
            stored_of(store, p, "2000000000000002").await,
            (200, t0 + 2_000)
        );

        // New content beside a copy read ahead is written at once; an older signature still changes nothing.
        let ahead = store
            .stored_copies(p, "2000000000000001")
            .await
            .expect("read ahead");
        let mut newer = row(p, 400, "h.refunded-again.s", t0 + 3_000);
        newer.decoded = newer
            .decoded
            .replace("\"revocationReason\":0", "\"revocationReason\":1");
        store
            .index_transactions_with(
                &[
                    newer,
                    row_of("2000000000000002", p, 100, "h.old.s", t0 + 3_000),
                ],
                &[],
                None,
                Some(&ahead),
            )
            .await
            .expect("index");
        assert_eq!(stored(store, p).await, (400, t0 + 3_000));
        assert_eq!(
            stored_of(store, p, "2000000000000002").await,
            (200, t0 + 2_000)
        );
    }
);

both_backends!(
    a_row_new_to_a_subscription_read_whole_is_stored_without_a_second_read_and_still_guarded,
    |app| {
        let store = &app.store;
        // Every copy of the subscription is read ahead (one exists): a transaction it lacks is new to the index.
        let (p, t0, ahead) = one_copy_read_ahead(store, "whole").await;
        // Meanwhile a notification stores a refund of that new transaction, signed later than Apple's answer.
        store
            .index_transactions(
                &[row_of(
                    "2000000000000003",
                    p,
                    300,
                    "h.refunded.s",
                    t0 + 1_000,
                )],
                &[],
                None,
            )
            .await
            .expect("notification");
        // Offered unread, each with what it must leave in the index: the lookup's older copy of the refunded
        // transaction, without the refund (the upsert's guard keeps the refund), and a transaction neither read
        // ahead nor written meanwhile (stored).
        let cases = [
            ("2000000000000003", "h.p2.s", t0 + 2_000, (300, t0 + 1_000)),
            ("2000000000000004", "h.p4.s", t0 + 3_000, (200, t0 + 3_000)),
        ];
        for (id, jws, seen_at, left) in cases {
            store
                .index_transactions_with(
                    &[row_of(id, p, 200, jws, seen_at)],
                    &[],
                    None,
                    Some(&ahead),
                )
                .await
                .expect("index");
            assert_eq!(stored_of(store, p, id).await, left, "{id}");
        }
        let rows = store
            .indexed_by_transaction_id(p, "2000000000000003")
            .await
            .expect("read");
        assert!(rows[0].revocation_date.is_some());
    }
);

both_backends!(
    writers_of_the_same_rows_in_opposite_orders_both_land,
    |app| {
        // Arrange: a customer's 60 transactions in the index; two writers then store newer copies of all of them at
        // the same moment, one listing them newest first and the other oldest first (as a history page and a
        // notification batch might). Row locks taken in opposite orders would deadlock on PostgreSQL.
        let store = &app.store;
        let pid = store_project(store, "orders").await;
        let ids: Vec<String> = (0..60).map(|i| format!("30000000000{i:05}")).collect();
        let rows = |signed: i64, tag: &str| {
            ids.iter()
                // Seen minutes apart, so each round rewrites every row (a copy seen again within the minute
                // would leave it alone).
                .map(|id| row_of(id, pid, signed, &format!("{tag}-{id}"), signed * 100_000))
                .collect::<Vec<_>>()
        };
        store
            .index_transactions(&rows(1_000, "first"), &[], None)
            .await
            .unwrap();
        let mut last = 0;
        for round in 0..20 {
            let signed = 2_000 + round * 10;
            let forward = rows(signed, "forward");
            let mut backward = rows(signed + 1, "backward");
            backward.reverse();

            // Act
            let (a, b) = tokio::join!(
                store.index_transactions(&forward, &[], None),
                store.index_transactions(&backward, &[], None)
            );

            // Assert: both writes land, whichever commits first.
            a.unwrap();
            b.unwrap();
            last = signed + 1;
        }
        for id in [&ids[0], &ids[59]] {
            assert_eq!(
                stored_of(store, pid, id).await.0,
                last,
                "the copy signed last wins"
            );
        }
    }
);
