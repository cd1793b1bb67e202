//! The local transaction index: every verified transaction storedesk has seen, searchable by each of its ids,
//! plus the order ids Apple resolved. Rows are only ever replaced by a copy Apple signed at the same time or later,
//! so a late or replayed copy never overwrites newer data.
use std::collections::HashMap;

use sqlx::{Any, Transaction};

use serde_json::Value;

use super::{Store, StoreResult};
use crate::apple::fields::{int, owned};
use crate::apple::Environment;

/// One transaction as it goes into the index (the columns of `transactions`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexRow {
    pub project_id: i64,
    pub environment: String,
    pub transaction_id: String,
    pub original_transaction_id: String,
    pub web_order_line_item_id: Option<String>,
    pub product_id: String,
    /// Apple's `type`, e.g. `Auto-Renewable Subscription`; unknown values are kept as sent.
    pub product_type: Option<String>,
    pub subscription_group: Option<String>,
    /// Lowercase UUID.
    pub app_account_token: Option<String>,
    /// Apple's id of the customer (one per Apple Account and app); searched, never read back.
    pub app_transaction_id: Option<String>,
    pub purchase_date: Option<i64>,
    pub expires_date: Option<i64>,
    pub revocation_date: Option<i64>,
    /// `PURCHASED` or `FAMILY_SHARED` (or whatever Apple sent).
    pub ownership: Option<String>,
    pub signed_date: i64,
    /// The payload as Apple signed it (JSON text).
    pub decoded: String,
    /// The JWS itself, so the row can be verified again later.
    pub jws: String,
    /// Where storedesk saw it: `lookup`, `history`, `refunds`, `order`, `subscription`, `notification`, ...
    pub source: String,
    /// When storedesk received it (ms): the "as of" time.
    pub seen_at: i64,
}

/// A row read back from the index, without the JWS (searches never need it).
#[derive(Clone, Debug, sqlx::FromRow, PartialEq, Eq)]
pub struct IndexedTransaction {
    pub project_id: i64,
    pub environment: String,
    pub transaction_id: String,
    pub original_transaction_id: String,
    pub web_order_line_item_id: Option<String>,
    pub product_id: String,
    pub product_type: Option<String>,
    pub subscription_group: Option<String>,
    pub app_account_token: Option<String>,
    pub purchase_date: Option<i64>,
    pub expires_date: Option<i64>,
    pub revocation_date: Option<i64>,
    pub ownership: Option<String>,
    pub signed_date: i64,
    pub decoded: String,
    pub source: String,
    pub seen_at: i64,
}

/// An order id and one transaction it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderRow {
    pub project_id: i64,
    pub order_id: String,
    pub environment: String,
    pub transaction_id: String,
    pub seen_at: i64,
}

/// An audit row written in the same database transaction as the index rows it explains.
#[derive(Clone, Debug)]
pub struct AuditNote<'a> {
    pub actor: &'a super::Actor,
    pub action: &'a str,
    pub project_id: Option<i64>,
    pub target: &'a str,
    pub detail: &'a str,
}

const SELECT_COLUMNS: &str = "project_id, environment, transaction_id, original_transaction_id, \
     web_order_line_item_id, product_id, product_type, subscription_group, app_account_token, purchase_date, \
     expires_date, revocation_date, ownership, signed_date, decoded, source, seen_at";

const INSERT_COLUMNS: &str = "INSERT INTO transactions (project_id, environment, transaction_id, \
     original_transaction_id, web_order_line_item_id, product_id, product_type, subscription_group, \
     app_account_token, purchase_date, expires_date, revocation_date, ownership, signed_date, decoded, jws, \
     source, seen_at, app_transaction_id) ";

/// Newer copies replace older ones; a copy signed earlier than the stored one changes nothing. The same signed
/// transaction seen again refreshes `seen_at` (the "as of" time pages show) only once that is a minute old, so a
/// repeated lookup rewrites none of its rows (each carries a JWS of about 5 KB).
const UPSERT_TAIL: &str = " ON CONFLICT (project_id, transaction_id, environment) DO UPDATE SET \
     original_transaction_id = excluded.original_transaction_id, \
     web_order_line_item_id = excluded.web_order_line_item_id, product_id = excluded.product_id, \
     product_type = excluded.product_type, subscription_group = excluded.subscription_group, \
     app_account_token = excluded.app_account_token, purchase_date = excluded.purchase_date, \
     expires_date = excluded.expires_date, revocation_date = excluded.revocation_date, \
     ownership = excluded.ownership, signed_date = excluded.signed_date, decoded = excluded.decoded, \
     jws = excluded.jws, source = excluded.source, seen_at = excluded.seen_at, \
     app_transaction_id = excluded.app_transaction_id \
     WHERE excluded.signed_date >= transactions.signed_date \
     AND (excluded.jws <> transactions.jws OR excluded.source <> transactions.source \
          OR excluded.seen_at >= transactions.seen_at + 60000)";

/// 19 parameters a row; SQLite allows 32766 per statement, PostgreSQL 65535.
const ROWS_PER_STATEMENT: usize = 200;

/// Copies read ahead for a lookup: a page shows at most 20 history transactions and 60 more for its timeline.
const COPIES_AHEAD: i64 = 100;

/// Most rows any one search returns; a customer with more is shown the newest.
pub const SEARCH_LIMIT: i64 = 500;

const COLUMNS_PER_ROW: usize = 19;

/// `($1, …, $19), ($20, …)`: the `Any` driver's query builder writes `?`, which PostgreSQL refuses.
fn values_clause(rows: usize) -> String {
    (0..rows)
        .map(|r| {
            let params = (1..=COLUMNS_PER_ROW)
                .map(|c| format!("${}", r * COLUMNS_PER_ROW + c))
                .collect::<Vec<_>>()
                .join(", ");
            format!("({params})")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// PostgreSQL refuses an upsert that touches one row twice; keep the copy signed last of each key. The rows come
/// out in key order: an upsert locks rows in the order it lists them, and two writers listing the same rows in
/// different orders (a history page newest first, a notification batch as it came) would deadlock on PostgreSQL.
fn dedupe(rows: &[IndexRow]) -> Vec<&IndexRow> {
    let mut position: std::collections::HashMap<(i64, &str, &str), usize> =
        std::collections::HashMap::with_capacity(rows.len());
    let mut out: Vec<&IndexRow> = Vec::with_capacity(rows.len());
    for r in rows {
        let key = (
            r.project_id,
            r.transaction_id.as_str(),
            r.environment.as_str(),
        );
        match position.get(&key) {
            Some(&i) => {
                if out[i].signed_date <= r.signed_date {
                    out[i] = r;
                }
            }
            None => {
                position.insert(key, out.len());
                out.push(r);
            }
        }
    }
    out.sort_unstable_by(|a, b| {
        (a.project_id, &a.transaction_id, &a.environment).cmp(&(
            b.project_id,
            &b.transaction_id,
            &b.environment,
        ))
    });
    out
}

/// Upserts `rows` in the caller's transaction (for callers that store other things atomically with them).
pub async fn upsert(tx: &mut Transaction<'_, Any>, rows: &[IndexRow]) -> StoreResult<()> {
    upsert_unique(tx, &dedupe(rows)).await
}

/// The rows a lookup needs to write. Apple signs every copy it sends anew (`signedDate` is the time of the
/// answer), so the same transaction looked up twice arrives with a new signature each time; rewriting its row
/// (about 5 KB with the JWS) on every lookup cost a 30-transaction page 1.4 ms. A copy that says what the stored
/// one says, apart from `signedDate`, and that was seen less than a minute ago leaves the row as it is (the
/// stored JWS is Apple's signature of the same content). A copy signed earlier than the stored one changes
/// nothing, as in `UPSERT_TAIL`. The small columns are read first; the JWS, stored last, is never read.
///
/// The read runs outside the write transaction, so that a repeat lookup, which writes nothing but its audit row,
/// costs two statements instead of four. A row another writer replaces between this read and the write keeps
/// that writer's copy when ours was judged unchanged; the next lookup after the minute compares again.
///
/// Copies read ahead (`known`, from [`Store::stored_copies`]) are compared without reading them again; only the
/// rest are read here.
async fn changed<'r>(
    pool: &sqlx::AnyPool,
    rows: Vec<&'r IndexRow>,
    known: Option<&StoredCopies>,
) -> StoreResult<Vec<&'r IndexRow>> {
    let Some(project_id) = rows.first().map(|r| r.project_id) else {
        return Ok(rows);
    };
    if rows.iter().any(|r| r.project_id != project_id)
        || known.is_some_and(|k| k.project_id != project_id)
    {
        return Ok(rows);
    }
    let empty = StoredCopies::default();
    let known = known.unwrap_or(&empty);
    // A row of a subscription whose every copy was read ahead is new to the index (or was written since, which
    // the upsert's own guard settles): reading it again would find nothing.
    let unknown: Vec<&str> = rows
        .iter()
        .filter(|r| known.get(r).is_none() && !known.holds_all_of(&r.original_transaction_id))
        .map(|r| r.transaction_id.as_str())
        .collect();
    let mut stored = StoredCopies {
        project_id,
        copies: HashMap::with_capacity(unknown.len()),
        whole: None,
    };
    read_copies(pool, &mut stored, &unknown).await?;
    Ok(rows
        .into_iter()
        .filter(|r| match known.get(r).or_else(|| stored.get(r)) {
            None => true,
            Some((signed_date, source, seen_at, decoded)) => {
                let unchanged = r.source == *source
                    && r.seen_at < seen_at + 60_000
                    && same_apart_from_signed_date(&r.decoded, decoded);
                r.signed_date >= *signed_date && !unchanged
            }
        })
        .collect())
}

/// Adds the stored copies of the transactions `ids` (in every environment) to `into`.
async fn read_copies(
    pool: &sqlx::AnyPool,
    into: &mut StoredCopies,
    ids: &[&str],
) -> StoreResult<()> {
    for chunk in ids.chunks(ROWS_PER_STATEMENT) {
        let params: Vec<String> = (2..chunk.len() + 2).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT {COPY_COLUMNS} FROM transactions WHERE project_id = $1 AND transaction_id IN ({})",
            params.join(", ")
        );
        let mut query = sqlx::query_as::<_, CopyRow>(&sql).bind(into.project_id);
        for id in chunk {
            query = query.bind(*id);
        }
        into.extend(query.fetch_all(pool).await?);
    }
    Ok(())
}

/// What a stored copy says, as far as [`changed`] compares it: signed date, source, seen at, decoded payload.
type Stored = (i64, String, i64, String);

/// The columns [`changed`] compares, behind the key (transaction id, environment), as read into a [`CopyRow`].
const COPY_COLUMNS: &str = "transaction_id, environment, signed_date, source, seen_at, decoded";
type CopyRow = (String, String, i64, String, i64, String);

/// Stored copies of some of a project's transactions, by transaction id and environment.
#[derive(Debug, Default)]
pub struct StoredCopies {
    project_id: i64,
    copies: HashMap<(String, String), Stored>,
    /// The original transaction id whose copies were all read (fewer than [`COPIES_AHEAD`] existed).
    whole: Option<String>,
}

impl StoredCopies {
    /// Whether the index held none of them.
    pub fn is_empty(&self) -> bool {
        self.copies.is_empty()
    }

    fn holds_all_of(&self, original_transaction_id: &str) -> bool {
        self.whole.as_deref() == Some(original_transaction_id)
    }

    fn extend(&mut self, found: Vec<CopyRow>) {
        self.copies.extend(found.into_iter().map(
            |(id, env, signed_date, source, seen_at, decoded)| {
                ((id, env), (signed_date, source, seen_at, decoded))
            },
        ));
    }

    /// The payload stored for a transaction (serde_json's text of a payload whose signature was checked: every
    /// row of the index came from a verified copy).
    pub fn verified_payload(&self, transaction_id: &str, environment: &str) -> Option<&str> {
        self.copy(transaction_id, environment)
            .map(|(_, _, _, decoded)| decoded.as_str())
    }

    fn get(&self, row: &IndexRow) -> Option<&Stored> {
        self.copy(&row.transaction_id, &row.environment)
    }

    fn copy(&self, transaction_id: &str, environment: &str) -> Option<&Stored> {
        // Borrowed lookups need the key's own types; the copies are few, the clones cheap beside a statement.
        self.copies
            .get(&(transaction_id.to_owned(), environment.to_owned()))
    }
}

/// Whether two decoded payloads, as we store them (serde_json's compact text), differ at most in `signedDate`.
/// Text that is laid out differently counts as different, which only costs a rewrite.
fn same_apart_from_signed_date(a: &str, b: &str) -> bool {
    fn without(s: &str) -> (&str, &str) {
        const KEY: &str = "\"signedDate\":";
        match s.find(KEY) {
            Some(at) => {
                let rest = &s[at + KEY.len()..];
                let digits = rest
                    .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
                    .unwrap_or(rest.len());
                (&s[..at], &rest[digits..])
            }
            None => (s, ""),
        }
    }
    without(a) == without(b)
}

async fn upsert_unique(tx: &mut Transaction<'_, Any>, unique: &[&IndexRow]) -> StoreResult<()> {
    for chunk in unique.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "{INSERT_COLUMNS}VALUES {}{UPSERT_TAIL}",
            values_clause(chunk.len())
        );
        let mut query = sqlx::query(&sql);
        // `&str`, which sqlx's `Any` borrows; a `&String` would be copied (the JWS is about 5 KB a row).
        for r in chunk {
            query = query
                .bind(r.project_id)
                .bind(r.environment.as_str())
                .bind(r.transaction_id.as_str())
                .bind(r.original_transaction_id.as_str())
                .bind(r.web_order_line_item_id.as_deref())
                .bind(r.product_id.as_str())
                .bind(r.product_type.as_deref())
                .bind(r.subscription_group.as_deref())
                .bind(r.app_account_token.as_deref())
                .bind(r.purchase_date)
                .bind(r.expires_date)
                .bind(r.revocation_date)
                .bind(r.ownership.as_deref())
                .bind(r.signed_date)
                .bind(r.decoded.as_str())
                .bind(r.jws.as_str())
                .bind(r.source.as_str())
                .bind(r.seen_at)
                .bind(r.app_transaction_id.as_deref());
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Records which transactions an order holds, in the caller's transaction.
pub async fn upsert_orders(tx: &mut Transaction<'_, Any>, orders: &[OrderRow]) -> StoreResult<()> {
    // In key order, for the same reason as `dedupe`'s.
    let mut orders: Vec<&OrderRow> = orders.iter().collect();
    orders.sort_unstable_by(|a, b| {
        (a.project_id, &a.order_id, &a.environment, &a.transaction_id).cmp(&(
            b.project_id,
            &b.order_id,
            &b.environment,
            &b.transaction_id,
        ))
    });
    for o in orders {
        sqlx::query(
            "INSERT INTO transaction_orders (project_id, order_id, environment, transaction_id, seen_at) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (project_id, order_id, environment, transaction_id) DO UPDATE SET seen_at = excluded.seen_at",
        )
        .bind(o.project_id)
        .bind(&o.order_id)
        .bind(&o.environment)
        .bind(&o.transaction_id)
        .bind(o.seen_at)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

impl Store {
    /// Stores rows and order links, and the audit row of the lookup that produced them, in one transaction.
    #[tracing::instrument(skip_all, fields(rows = rows.len()))]
    pub async fn index_transactions(
        &self,
        rows: &[IndexRow],
        orders: &[OrderRow],
        audit: Option<AuditNote<'_>>,
    ) -> StoreResult<()> {
        self.index_transactions_with(rows, orders, audit, None)
            .await
    }

    /// [`Store::index_transactions`], comparing with copies read ahead where they hold a row.
    pub async fn index_transactions_with(
        &self,
        rows: &[IndexRow],
        orders: &[OrderRow],
        audit: Option<AuditNote<'_>>,
        known: Option<&StoredCopies>,
    ) -> StoreResult<()> {
        let rows = changed(self.pool(), dedupe(rows), known).await?;
        if rows.is_empty() && orders.is_empty() {
            if let Some(a) = audit {
                let mut conn = self.pool().acquire().await?;
                super::audit::record(
                    &mut conn,
                    a.actor,
                    a.action,
                    a.project_id,
                    a.target,
                    a.detail,
                )
                .await?;
            }
            return Ok(());
        }
        let mut tx = self.pool().begin().await?;
        upsert_unique(&mut tx, &rows).await?;
        upsert_orders(&mut tx, orders).await?;
        if let Some(a) = audit {
            super::audit::record(&mut tx, a.actor, a.action, a.project_id, a.target, a.detail)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The stored copies of one subscription's (or purchase's) transactions, the newest [`COPIES_AHEAD`], read
    /// while Apple's answers are awaited so that the write after them need not read first.
    pub async fn stored_copies(
        &self,
        project_id: i64,
        original_transaction_id: &str,
    ) -> StoreResult<StoredCopies> {
        let found = sqlx::query_as::<_, CopyRow>(&format!(
            "SELECT {COPY_COLUMNS} FROM transactions WHERE project_id = $1 AND original_transaction_id = $2 \
             ORDER BY purchase_date DESC, transaction_id DESC LIMIT $3"
        ))
        .bind(project_id)
        .bind(original_transaction_id)
        .bind(COPIES_AHEAD)
        .fetch_all(self.pool())
        .await?;
        let whole =
            (found.len() < COPIES_AHEAD as usize).then(|| original_transaction_id.to_owned());
        let mut copies = StoredCopies {
            project_id,
            copies: HashMap::with_capacity(found.len()),
            whole,
        };
        copies.extend(found);
        Ok(copies)
    }

    /// Adds to `copies` those of the transactions `ids` it does not hold yet (one statement, when any is missing).
    pub async fn add_stored_copies(
        &self,
        copies: &mut StoredCopies,
        ids: &[&str],
    ) -> StoreResult<()> {
        let held: std::collections::HashSet<&str> =
            copies.copies.keys().map(|(t, _)| t.as_str()).collect();
        let missing: Vec<&str> = ids
            .iter()
            .copied()
            .filter(|id| !held.contains(id))
            .collect();
        read_copies(self.pool(), copies, &missing).await
    }

    /// Loads many rows at once (a backfill, a benchmark's seed): multi-row statements, one transaction.
    /// Returns how many rows were offered.
    pub async fn index_transactions_bulk(
        &self,
        rows: impl Iterator<Item = IndexRow>,
    ) -> StoreResult<u64> {
        let mut tx = self.pool().begin().await?;
        let mut batch = Vec::with_capacity(ROWS_PER_STATEMENT);
        let mut count = 0u64;
        for row in rows {
            batch.push(row);
            count += 1;
            if batch.len() == ROWS_PER_STATEMENT {
                upsert(&mut tx, &batch).await?;
                batch.clear();
            }
        }
        upsert(&mut tx, &batch).await?;
        tx.commit().await?;
        Ok(count)
    }

    async fn indexed_where(
        &self,
        condition: &str,
        project_id: i64,
        value: &str,
    ) -> StoreResult<Vec<IndexedTransaction>> {
        Ok(sqlx::query_as::<_, IndexedTransaction>(&format!(
            "SELECT {SELECT_COLUMNS} FROM transactions WHERE project_id = $1 AND {condition} = $2 \
             ORDER BY purchase_date DESC, transaction_id DESC LIMIT $3"
        ))
        .bind(project_id)
        .bind(value)
        .bind(SEARCH_LIMIT)
        .fetch_all(self.pool())
        .await?)
    }

    /// The transaction with this id (one row per environment it was seen in).
    #[tracing::instrument(skip_all)]
    pub async fn indexed_by_transaction_id(
        &self,
        project_id: i64,
        transaction_id: &str,
    ) -> StoreResult<Vec<IndexedTransaction>> {
        self.indexed_where("transaction_id", project_id, transaction_id)
            .await
    }

    /// Every transaction of one subscription (or one-time purchase), newest purchase first.
    #[tracing::instrument(skip_all)]
    pub async fn indexed_by_original_id(
        &self,
        project_id: i64,
        original_transaction_id: &str,
    ) -> StoreResult<Vec<IndexedTransaction>> {
        self.indexed_where(
            "original_transaction_id",
            project_id,
            original_transaction_id,
        )
        .await
    }

    #[tracing::instrument(skip_all)]
    pub async fn indexed_by_web_order_line_item_id(
        &self,
        project_id: i64,
        web_order_line_item_id: &str,
    ) -> StoreResult<Vec<IndexedTransaction>> {
        self.indexed_where("web_order_line_item_id", project_id, web_order_line_item_id)
            .await
    }

    /// Every transaction carrying this app account token (give it lowercase), newest purchase first.
    #[tracing::instrument(skip_all)]
    pub async fn indexed_by_app_account_token(
        &self,
        project_id: i64,
        token: &str,
    ) -> StoreResult<Vec<IndexedTransaction>> {
        self.indexed_where("app_account_token", project_id, token)
            .await
    }

    /// Every transaction of one customer (Apple's appTransactionId), newest purchase first.
    #[tracing::instrument(skip_all)]
    pub async fn indexed_by_app_transaction_id(
        &self,
        project_id: i64,
        app_transaction_id: &str,
    ) -> StoreResult<Vec<IndexedTransaction>> {
        self.indexed_where("app_transaction_id", project_id, app_transaction_id)
            .await
    }

    /// The transactions of an order id Apple resolved before (give it uppercase).
    #[tracing::instrument(skip_all)]
    pub async fn indexed_by_order_id(
        &self,
        project_id: i64,
        order_id: &str,
    ) -> StoreResult<Vec<IndexedTransaction>> {
        let columns = SELECT_COLUMNS
            .split(", ")
            .map(|c| format!("t.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ");
        Ok(sqlx::query_as::<_, IndexedTransaction>(&format!(
            "SELECT {columns} FROM transaction_orders o JOIN transactions t \
               ON t.project_id = o.project_id AND t.transaction_id = o.transaction_id AND t.environment = o.environment \
             WHERE o.project_id = $1 AND o.order_id = $2 \
             ORDER BY t.purchase_date DESC, t.transaction_id DESC LIMIT $3"
        ))
        .bind(project_id)
        .bind(order_id)
        .bind(SEARCH_LIMIT)
        .fetch_all(self.pool())
        .await?)
    }

    /// The stored JWS of one row, to verify it again.
    pub async fn indexed_jws(
        &self,
        project_id: i64,
        transaction_id: &str,
        environment: &str,
    ) -> StoreResult<Option<String>> {
        let row: Option<(String,)> = sqlx::query_as(
            "SELECT jws FROM transactions WHERE project_id = $1 AND transaction_id = $2 AND environment = $3",
        )
        .bind(project_id)
        .bind(transaction_id)
        .bind(environment)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|r| r.0))
    }

    pub async fn indexed_count(&self, project_id: i64) -> StoreResult<i64> {
        let row: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM transactions WHERE project_id = $1")
            .bind(project_id)
            .fetch_one(self.pool())
            .await?;
        Ok(row.0)
    }
}

/// The index row of one verified transaction. `decoded` is the payload as Apple signed it (unknown fields kept).
pub fn index_row(
    project_id: i64,
    environment: Environment,
    source: &str,
    jws: &str,
    decoded: &Value,
    seen_at: i64,
) -> IndexRow {
    let transaction_id = owned(decoded, "transactionId").unwrap_or_default();
    IndexRow {
        project_id,
        environment: environment.as_str().to_owned(),
        original_transaction_id: owned(decoded, "originalTransactionId")
            .unwrap_or_else(|| transaction_id.clone()),
        transaction_id,
        web_order_line_item_id: owned(decoded, "webOrderLineItemId"),
        product_id: owned(decoded, "productId").unwrap_or_default(),
        product_type: owned(decoded, "type"),
        subscription_group: owned(decoded, "subscriptionGroupIdentifier"),
        app_account_token: owned(decoded, "appAccountToken").map(|t| t.to_ascii_lowercase()),
        app_transaction_id: owned(decoded, "appTransactionId"),
        purchase_date: int(decoded, "purchaseDate"),
        expires_date: int(decoded, "expiresDate"),
        revocation_date: int(decoded, "revocationDate"),
        ownership: owned(decoded, "inAppOwnershipType"),
        signed_date: int(decoded, "signedDate").unwrap_or(seen_at),
        decoded: decoded.to_string(),
        jws: jws.to_owned(),
        source: source.to_owned(),
        seen_at,
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn copies_that_differ_only_in_signed_date_are_the_same() {
        let a = r#"{"transactionId":"1","signedDate":1700000000000,"price":990}"#;
        let b = r#"{"transactionId":"1","signedDate":1700000099999,"price":990}"#;
        let refunded =
            r#"{"transactionId":"1","signedDate":1700000099999,"price":990,"revocationDate":1}"#;
        assert!(super::same_apart_from_signed_date(a, b));
        assert!(!super::same_apart_from_signed_date(a, refunded));
        assert!(!super::same_apart_from_signed_date(
            a,
            r#"{"transactionId":"2","signedDate":1,"price":990}"#
        ));
        assert!(super::same_apart_from_signed_date(
            r#"{"x":1}"#,
            r#"{"x":1}"#
        ));
        assert!(!super::same_apart_from_signed_date(
            r#"{"x":1}"#,
            r#"{"x":2}"#
        ));
    }

    use super::*;

    fn row(id: &str, signed: i64) -> IndexRow {
        IndexRow {
            project_id: 1,
            environment: "Sandbox".into(),
            transaction_id: id.into(),
            original_transaction_id: id.into(),
            web_order_line_item_id: None,
            product_id: "p".into(),
            product_type: None,
            subscription_group: None,
            app_account_token: None,
            app_transaction_id: None,
            purchase_date: None,
            expires_date: None,
            revocation_date: None,
            ownership: None,
            signed_date: signed,
            decoded: "{}".into(),
            jws: String::new(),
            source: "test".into(),
            seen_at: signed,
        }
    }

    #[test]
    fn duplicates_in_one_batch_keep_the_copy_signed_last() {
        let rows = [row("1", 5), row("2", 1), row("1", 9), row("1", 7)];
        let kept = dedupe(&rows);
        assert_eq!(kept.len(), 2);
        assert_eq!(kept[0].signed_date, 9);
        assert_eq!(kept[1].transaction_id, "2");
    }
}
