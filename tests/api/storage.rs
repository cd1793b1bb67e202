//! How PostgreSQL stores signed data: out of line and never compressed (migration 0017). pglz cannot shrink base64
//! and spent most of the database's CPU trying under webhook load (docs/benchmarks.md).
use sqlx::Connection as _;

use crate::helpers::{spawn_app, Backend};

#[tokio::test]
async fn postgres_never_tries_to_compress_signed_data() {
    let Some(app) = spawn_app(Backend::Postgres).await else {
        return;
    };
    let mut conn = sqlx::PgConnection::connect(app.settings.database_url.as_str())
        .await
        .expect("connect");
    let storage: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT c.relname::text, a.attname::text, a.attstorage::text FROM pg_attribute a \
         JOIN pg_class c ON c.oid = a.attrelid \
         WHERE (c.relname, a.attname) IN (('notifications', 'signed_payload'), ('notifications', 'raw_body'), \
         ('transactions', 'jws'), ('notifications', 'payload'), ('transactions', 'decoded')) \
         ORDER BY 1, 2",
    )
    .fetch_all(&mut conn)
    .await
    .expect("read the columns' storage");
    let storage: Vec<(&str, &str, &str)> = storage
        .iter()
        .map(|(t, c, s)| (t.as_str(), c.as_str(), s.as_str()))
        .collect();
    // `e`xternal: out of line, never compressed; `x` (extended, the default): compressed when that helps.
    assert_eq!(
        storage,
        [
            ("notifications", "payload", "x"),
            ("notifications", "raw_body", "e"),
            ("notifications", "signed_payload", "e"),
            ("transactions", "decoded", "x"),
            ("transactions", "jws", "e"),
        ]
    );
}
