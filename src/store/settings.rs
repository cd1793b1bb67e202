//! Small named values the instances share (for example which master key encrypted the stored keys).
use super::{Store, StoreResult};

impl Store {
    pub async fn setting(&self, name: &str) -> StoreResult<Option<String>> {
        let row: Option<(String,)> = sqlx::query_as("SELECT value FROM settings WHERE name = $1")
            .bind(name)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|r| r.0))
    }

    pub async fn set_setting(&self, name: &str, value: &str) -> StoreResult<()> {
        sqlx::query("INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = $2")
            .bind(name)
            .bind(value)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
