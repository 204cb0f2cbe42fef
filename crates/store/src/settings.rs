//! Small key/value settings kept in the database (for example the instance id).

use crate::{Store, StoreError};

impl Store {
    /// Returns the value stored under `key`, storing `value` first if the key
    /// is absent. Racing callers all get the first value written.
    pub async fn setting_or_insert(&self, key: &str, value: &str) -> Result<String, StoreError> {
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(value)
        .execute(&self.pool)
        .await?;
        let v: (String,) = sqlx::query_as("SELECT value FROM settings WHERE key = $1")
            .bind(key)
            .fetch_one(&self.pool)
            .await?;
        Ok(v.0)
    }
}
