//! Feeding the local index. Lookups index what Apple answered; other areas (notifications) call
//! [`index_transaction`] with a transaction they verified themselves.
use serde_json::Value;
use sqlx::{Any, Transaction};

use super::SignedTransaction;
use crate::apple::models::jws_transaction_decoded_payload::JWSTransactionDecodedPayload;
use crate::apple::{Environment, Verified};
use crate::store::transactions::{index_row, IndexRow, IndexedTransaction};
use crate::store::{Store, StoreResult};

pub(crate) fn rows_of(
    project_id: i64,
    source: &str,
    items: &[SignedTransaction],
    seen_at: i64,
) -> Vec<IndexRow> {
    // A recognised copy is already in the index as verified; its new JWS was not checked, so it is not stored.
    items
        .iter()
        .filter(|t| t.signature_checked)
        .map(|t| {
            index_row(
                project_id,
                t.environment,
                source,
                &t.jws,
                &t.verified.raw,
                seen_at,
            )
        })
        .collect()
}

/// Adds (or refreshes) one transaction in the index. The caller must have verified `verified` from `jws` against
/// the project's identity in `environment` (e.g. with `state.verifier.verify_transaction`). `source` says where it
/// came from, e.g. `notification`. A copy Apple signed earlier than the stored one changes nothing.
pub async fn index_transaction(
    store: &Store,
    project_id: i64,
    environment: Environment,
    source: &str,
    jws: &str,
    verified: &Verified<JWSTransactionDecodedPayload>,
) -> StoreResult<()> {
    let row = index_row(
        project_id,
        environment,
        source,
        jws,
        &verified.raw,
        crate::clock::now_ms(),
    );
    store.index_transactions(&[row], &[], None).await
}

/// The same as [`index_transaction`], inside the caller's database transaction (so a notification and the index
/// row it brings commit together).
pub async fn index_transaction_in(
    tx: &mut Transaction<'_, Any>,
    project_id: i64,
    environment: Environment,
    source: &str,
    jws: &str,
    verified: &Verified<JWSTransactionDecodedPayload>,
) -> StoreResult<()> {
    let row = index_row(
        project_id,
        environment,
        source,
        jws,
        &verified.raw,
        crate::clock::now_ms(),
    );
    crate::store::transactions::upsert(tx, &[row]).await
}

/// The decoded JSON of an index row; a row that no longer parses is skipped rather than shown half.
pub(crate) fn decoded_of(row: &IndexedTransaction) -> Option<Value> {
    match serde_json::from_str(&row.decoded) {
        Ok(v) => Some(v),
        Err(e) => {
            tracing::warn!(error = %e, transaction_id = %row.transaction_id, "an index row does not parse");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_row_carries_every_searchable_id() {
        let v = json!({
            "transactionId": "22", "originalTransactionId": "11", "webOrderLineItemId": "33",
            "productId": "pro", "type": "Auto-Renewable Subscription", "subscriptionGroupIdentifier": "g",
            "appAccountToken": "F3B1C2D4-5E6F-4A7B-8C9D-0E1F2A3B4C5D", "purchaseDate": 5, "expiresDate": 9.7,
            "inAppOwnershipType": "FAMILY_SHARED", "signedDate": 7, "appTransactionId": "704316198100007919",
        });
        let r = index_row(3, Environment::Sandbox, "lookup", "a.b.c", &v, 100);
        assert_eq!(r.transaction_id, "22");
        assert_eq!(r.original_transaction_id, "11");
        assert_eq!(r.web_order_line_item_id.as_deref(), Some("33"));
        assert_eq!(
            r.app_account_token.as_deref(),
            Some("f3b1c2d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d")
        );
        assert_eq!(r.app_transaction_id.as_deref(), Some("704316198100007919"));
        assert_eq!(r.expires_date, Some(9));
        assert_eq!(r.signed_date, 7);
        assert_eq!(r.environment, "Sandbox");
        assert_eq!(r.seen_at, 100);
    }
}
