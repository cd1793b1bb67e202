//! Rows of the catalog tables (migration 0023): the catalog of the last complete sync, every sync's record, and
//! what each complete sync found changed. A complete sync replaces the project's catalog in one transaction.
use std::collections::HashMap;

use sqlx::{Any, Transaction};

use super::{Store, StoreResult};
use crate::domain::catalog::{
    Catalog, Change, GracePeriod, Group, Price, Product, ProductKind, PromoOffer,
};

/// The sync is running (or its process died while it ran).
pub const RUNNING: &str = "running";
pub const COMPLETE: &str = "complete";
pub const FAILED: &str = "failed";
/// Apple's rate limit stopped it; the catalog is the previous one.
pub const RATE_LIMITED: &str = "rate_limited";

/// Rows per multi-row INSERT: well under SQLite's bind limit (7 columns × 100).
const ROWS_PER_INSERT: usize = 100;

/// The app the catalog belongs to and when it was last synced in full.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct CatalogState {
    pub app_id: String,
    pub app_name: String,
    pub synced_at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct CatalogSyncRow {
    pub id: i64,
    pub project_id: i64,
    pub started_by: String,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub outcome: String,
    pub sentence: String,
    pub requests: i64,
    pub change_count: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct CatalogChangeRow {
    pub sync_id: i64,
    pub product_id: Option<String>,
    pub sentence: String,
}

/// Names to show beside ids: product id → reference name, subscription group id → reference name. Empty for a
/// project without a synced catalog, so every page can ask without checking first.
#[derive(Clone, Debug, Default)]
pub struct CatalogNames {
    products: HashMap<String, String>,
    groups: HashMap<String, String>,
}

impl CatalogNames {
    pub fn product(&self, product_id: &str) -> Option<&str> {
        self.products.get(product_id).map(String::as_str)
    }

    pub fn group(&self, group_id: &str) -> Option<&str> {
        self.groups.get(group_id).map(String::as_str)
    }

    /// For tests and the demo: names without a database.
    pub fn from_pairs(
        products: impl IntoIterator<Item = (String, String)>,
        groups: impl IntoIterator<Item = (String, String)>,
    ) -> Self {
        Self {
            products: products.into_iter().collect(),
            groups: groups.into_iter().collect(),
        }
    }
}

#[derive(sqlx::FromRow)]
struct ProductRow {
    product_id: String,
    connect_id: String,
    name: String,
    kind: String,
    state: String,
    group_id: Option<String>,
    group_level: Option<i64>,
    period: Option<String>,
}

#[derive(sqlx::FromRow)]
struct PriceRow {
    product_id: String,
    territory: String,
    currency: String,
    customer_price: String,
    proceeds: String,
}

#[derive(sqlx::FromRow)]
struct OfferRow {
    product_id: String,
    code: String,
    name: String,
    mode: String,
    duration: String,
    periods: i64,
}

#[derive(sqlx::FromRow)]
struct GraceRow {
    grace_opt_in: Option<i64>,
    grace_sandbox_opt_in: Option<i64>,
    grace_duration: Option<String>,
    grace_renewal_type: Option<String>,
}

const SYNC_COLUMNS: &str =
    "id, project_id, started_by, started_at, finished_at, outcome, sentence, requests, change_count";

impl Store {
    /// Records a sync as started, before its first call to Apple.
    pub async fn start_catalog_sync(&self, project_id: i64, started_by: &str) -> StoreResult<i64> {
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO catalog_syncs (project_id, started_by, started_at, outcome, sentence) \
             VALUES ($1, $2, $3, $4, '') RETURNING id",
        )
        .bind(project_id)
        .bind(started_by)
        .bind(crate::clock::now_ms())
        .bind(RUNNING)
        .fetch_one(self.pool())
        .await?;
        Ok(id)
    }

    /// Ends a sync that did not complete (failed, rate-limited): the catalog is left as it was.
    pub async fn end_catalog_sync(
        &self,
        sync_id: i64,
        outcome: &str,
        sentence: &str,
        requests: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE catalog_syncs SET finished_at = $1, outcome = $2, sentence = $3, requests = $4 WHERE id = $5",
        )
        .bind(crate::clock::now_ms())
        .bind(outcome)
        .bind(sentence)
        .bind(requests)
        .bind(sync_id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Replaces the project's catalog with `catalog`, records `changes` and completes the sync, in one transaction.
    #[allow(clippy::too_many_arguments)]
    pub async fn complete_catalog_sync(
        &self,
        project_id: i64,
        sync_id: i64,
        app_id: &str,
        app_name: &str,
        catalog: &Catalog,
        changes: &[Change],
        sentence: &str,
        requests: i64,
    ) -> StoreResult<()> {
        let now = crate::clock::now_ms();
        let mut tx = self.pool().begin().await?;
        for table in [
            "catalog_prices",
            "catalog_offers",
            "catalog_products",
            "catalog_groups",
            "catalog_state",
        ] {
            sqlx::query(&format!("DELETE FROM {table} WHERE project_id = $1"))
                .bind(project_id)
                .execute(&mut *tx)
                .await?;
        }
        let grace = catalog.grace_period.as_ref();
        sqlx::query(
            "INSERT INTO catalog_state (project_id, app_id, app_name, grace_opt_in, grace_sandbox_opt_in, \
             grace_duration, grace_renewal_type, synced_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(project_id)
        .bind(app_id)
        .bind(app_name)
        .bind(grace.map(|g| i64::from(g.opt_in)))
        .bind(grace.map(|g| i64::from(g.sandbox_opt_in)))
        .bind(grace.map(|g| g.duration.clone()))
        .bind(grace.map(|g| g.renewal_type.clone()))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        insert_rows(
            &mut tx,
            "catalog_groups (project_id, group_id, reference_name)",
            3,
            &catalog.groups,
            |q, g| q.bind(project_id).bind(&g.group_id).bind(&g.reference_name),
        )
        .await?;
        insert_rows(
            &mut tx,
            "catalog_products (project_id, product_id, connect_id, name, kind, state, group_id, group_level, period)",
            9,
            &catalog.products,
            |q, p| {
                q.bind(project_id)
                    .bind(&p.product_id)
                    .bind(&p.connect_id)
                    .bind(&p.name)
                    .bind(p.kind.as_str())
                    .bind(&p.state)
                    .bind(p.group_id.clone())
                    .bind(p.group_level)
                    .bind(p.period.clone())
            },
        )
        .await?;
        let prices: Vec<(&str, &Price)> = catalog
            .products
            .iter()
            .flat_map(|p| {
                p.prices
                    .iter()
                    .map(move |price| (p.product_id.as_str(), price))
            })
            .collect();
        insert_rows(
            &mut tx,
            "catalog_prices (project_id, product_id, territory, currency, customer_price, proceeds)",
            6,
            &prices,
            |q, (product_id, p)| {
                q.bind(project_id)
                    .bind(*product_id)
                    .bind(&p.territory)
                    .bind(&p.currency)
                    .bind(&p.customer_price)
                    .bind(&p.proceeds)
            },
        )
        .await?;
        let offers: Vec<(&str, &PromoOffer)> = catalog
            .products
            .iter()
            .flat_map(|p| p.offers.iter().map(move |o| (p.product_id.as_str(), o)))
            .collect();
        insert_rows(
            &mut tx,
            "catalog_offers (project_id, product_id, code, name, mode, duration, periods)",
            7,
            &offers,
            |q, (product_id, o)| {
                q.bind(project_id)
                    .bind(*product_id)
                    .bind(&o.code)
                    .bind(&o.name)
                    .bind(&o.mode)
                    .bind(&o.duration)
                    .bind(o.periods)
            },
        )
        .await?;
        insert_rows(
            &mut tx,
            "catalog_changes (sync_id, project_id, product_id, sentence)",
            4,
            changes,
            |q, c| {
                q.bind(sync_id)
                    .bind(project_id)
                    .bind(c.product_id.clone())
                    .bind(&c.sentence)
            },
        )
        .await?;
        finish(&mut tx, sync_id, sentence, requests, changes.len(), now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The app and time of the last complete sync; `None` before the first.
    pub async fn catalog_state(&self, project_id: i64) -> StoreResult<Option<CatalogState>> {
        Ok(sqlx::query_as::<_, CatalogState>(
            "SELECT app_id, app_name, synced_at FROM catalog_state WHERE project_id = $1",
        )
        .bind(project_id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// The whole stored catalog, normalized (empty before the first complete sync).
    pub async fn catalog(&self, project_id: i64) -> StoreResult<Catalog> {
        let groups = sqlx::query_as::<_, (String, String)>(
            "SELECT group_id, reference_name FROM catalog_groups WHERE project_id = $1",
        )
        .bind(project_id)
        .fetch_all(self.pool())
        .await?
        .into_iter()
        .map(|(group_id, reference_name)| Group {
            group_id,
            reference_name,
        })
        .collect();
        let mut products: Vec<Product> = sqlx::query_as::<_, ProductRow>(
            "SELECT product_id, connect_id, name, kind, state, group_id, group_level, period \
             FROM catalog_products WHERE project_id = $1",
        )
        .bind(project_id)
        .fetch_all(self.pool())
        .await?
        .into_iter()
        .map(|r| Product {
            kind: ProductKind::parse(&r.kind).unwrap_or(ProductKind::NonConsumable),
            product_id: r.product_id,
            connect_id: r.connect_id,
            name: r.name,
            state: r.state,
            group_id: r.group_id,
            group_level: r.group_level,
            period: r.period,
            prices: Vec::new(),
            offers: Vec::new(),
        })
        .collect();
        let index: HashMap<String, usize> = products
            .iter()
            .enumerate()
            .map(|(i, p)| (p.product_id.clone(), i))
            .collect();
        let prices = sqlx::query_as::<_, PriceRow>(
            "SELECT product_id, territory, currency, customer_price, proceeds FROM catalog_prices \
             WHERE project_id = $1",
        )
        .bind(project_id)
        .fetch_all(self.pool())
        .await?;
        for r in prices {
            if let Some(&i) = index.get(&r.product_id) {
                products[i].prices.push(Price {
                    territory: r.territory,
                    currency: r.currency,
                    customer_price: r.customer_price,
                    proceeds: r.proceeds,
                });
            }
        }
        let offers = sqlx::query_as::<_, OfferRow>(
            "SELECT product_id, code, name, mode, duration, periods FROM catalog_offers WHERE project_id = $1",
        )
        .bind(project_id)
        .fetch_all(self.pool())
        .await?;
        for r in offers {
            if let Some(&i) = index.get(&r.product_id) {
                products[i].offers.push(PromoOffer {
                    code: r.code,
                    name: r.name,
                    mode: r.mode,
                    duration: r.duration,
                    periods: r.periods,
                });
            }
        }
        let grace = sqlx::query_as::<_, GraceRow>(
            "SELECT grace_opt_in, grace_sandbox_opt_in, grace_duration, grace_renewal_type FROM catalog_state \
             WHERE project_id = $1",
        )
        .bind(project_id)
        .fetch_optional(self.pool())
        .await?;
        let grace_period = grace.and_then(|g| {
            Some(GracePeriod {
                opt_in: g.grace_opt_in? != 0,
                sandbox_opt_in: g.grace_sandbox_opt_in.unwrap_or(0) != 0,
                duration: g.grace_duration.unwrap_or_default(),
                renewal_type: g.grace_renewal_type.unwrap_or_default(),
            })
        });
        let mut catalog = Catalog {
            groups,
            products,
            grace_period,
        };
        catalog.normalize();
        Ok(catalog)
    }

    /// Product and group names for pages that show ids (one query each, no prices).
    pub async fn catalog_names(&self, project_id: i64) -> StoreResult<CatalogNames> {
        let products = sqlx::query_as::<_, (String, String)>(
            "SELECT product_id, name FROM catalog_products WHERE project_id = $1",
        )
        .bind(project_id)
        .fetch_all(self.pool())
        .await?;
        let groups = sqlx::query_as::<_, (String, String)>(
            "SELECT group_id, reference_name FROM catalog_groups WHERE project_id = $1",
        )
        .bind(project_id)
        .fetch_all(self.pool())
        .await?;
        Ok(CatalogNames::from_pairs(products, groups))
    }

    /// The project's latest syncs, newest first.
    pub async fn catalog_syncs(
        &self,
        project_id: i64,
        limit: i64,
    ) -> StoreResult<Vec<CatalogSyncRow>> {
        Ok(sqlx::query_as::<_, CatalogSyncRow>(&format!(
            "SELECT {SYNC_COLUMNS} FROM catalog_syncs WHERE project_id = $1 ORDER BY id DESC LIMIT $2"
        ))
        .bind(project_id)
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }

    /// What the given syncs found changed, in the order found.
    pub async fn catalog_changes(&self, sync_id: i64) -> StoreResult<Vec<CatalogChangeRow>> {
        Ok(sqlx::query_as::<_, CatalogChangeRow>(
            "SELECT sync_id, product_id, sentence FROM catalog_changes WHERE sync_id = $1 ORDER BY id",
        )
        .bind(sync_id)
        .fetch_all(self.pool())
        .await?)
    }

    /// Projects with an App Store Connect API key in use whose last sync started before `before_ms` (or never):
    /// the scheduled job's work.
    pub async fn projects_due_for_catalog_sync(&self, before_ms: i64) -> StoreResult<Vec<i64>> {
        let rows: Vec<(i64,)> = sqlx::query_as(&format!(
            "SELECT k.project_id FROM connect_keys k WHERE k.status {} \
             AND COALESCE((SELECT MAX(s.started_at) FROM catalog_syncs s WHERE s.project_id = k.project_id), 0) < $1 \
             ORDER BY k.project_id",
            super::keys::KEY_IN_USE
        ))
        .bind(before_ms)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }
}

type AnyQuery<'a> = sqlx::query::Query<'a, Any, sqlx::any::AnyArguments<'a>>;

/// Inserts `rows` with multi-row INSERTs of at most [`ROWS_PER_INSERT`] rows; `bind` binds one row's `columns`
/// values in order.
async fn insert_rows<T>(
    tx: &mut Transaction<'static, Any>,
    table_and_columns: &str,
    columns: usize,
    rows: &[T],
    bind: impl for<'a> Fn(AnyQuery<'a>, &'a T) -> AnyQuery<'a>,
) -> StoreResult<()> {
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let sql = insert_sql(table_and_columns, columns, chunk.len());
        let mut q = sqlx::query::<Any>(&sql);
        for row in chunk {
            q = bind(q, row);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

fn insert_sql(table_and_columns: &str, columns: usize, rows: usize) -> String {
    let mut sql = format!("INSERT INTO {table_and_columns} VALUES ");
    let mut n = 1;
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for c in 0..columns {
            if c > 0 {
                sql.push_str(", ");
            }
            sql.push('$');
            sql.push_str(&n.to_string());
            n += 1;
        }
        sql.push(')');
    }
    sql
}

async fn finish(
    tx: &mut Transaction<'static, Any>,
    sync_id: i64,
    sentence: &str,
    requests: i64,
    change_count: usize,
    now: i64,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE catalog_syncs SET finished_at = $1, outcome = $2, sentence = $3, requests = $4, change_count = $5 \
         WHERE id = $6",
    )
    .bind(now)
    .bind(COMPLETE)
    .bind(sentence)
    .bind(requests)
    .bind(i64::try_from(change_count).unwrap_or(i64::MAX))
    .bind(sync_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
