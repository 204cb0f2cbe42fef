//! AI services, aliases and usage.

use crate::{Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::Row;

/// An AI service as stored (secrets encrypted by the caller).
#[derive(Debug, Clone)]
pub struct AiServiceRecord {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub base_url: String,
    pub api_key_enc: Option<String>,
    pub headers_enc: Option<String>,
    /// Names of the extra headers, for display (their values are secret).
    pub header_names: Vec<String>,
    pub default_model: Option<String>,
    pub azure_deployment: Option<String>,
    pub azure_api_version: Option<String>,
    pub timeout_connect_ms: i64,
    pub timeout_first_byte_ms: i64,
    pub timeout_idle_ms: i64,
    pub fallback_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone)]
pub struct AiAliasRecord {
    pub model: String,
    pub service_id: String,
    pub target_model: Option<String>,
}

#[derive(Debug, Clone)]
pub struct AiUsageRecord {
    pub id: String,
    pub user_id: String,
    pub service_id: String,
    pub model: String,
    pub endpoint: String,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub created_at: i64,
}

/// Usage summed per user, service and model.
#[derive(Debug, Clone)]
pub struct AiUsageTotal {
    /// Start of the time bucket (ms since the epoch); 0 for totals.
    pub bucket: i64,
    pub user_id: String,
    pub service_id: String,
    pub model: String,
    pub requests: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
}

const COLS: &str = "id, name, kind, base_url, api_key_enc, headers_enc, header_names, default_model, \
    azure_deployment, azure_api_version, timeout_connect_ms, timeout_first_byte_ms, timeout_idle_ms, \
    fallback_id, created_at, updated_at";

fn decode(r: &AnyRow) -> Result<AiServiceRecord, StoreError> {
    let names: String = r.try_get("header_names")?;
    Ok(AiServiceRecord {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        kind: r.try_get("kind")?,
        base_url: r.try_get("base_url")?,
        api_key_enc: r.try_get("api_key_enc")?,
        headers_enc: r.try_get("headers_enc")?,
        header_names: serde_json::from_str(&names).map_err(|e| StoreError::Corrupt {
            column: "header_names",
            message: e.to_string(),
        })?,
        default_model: r.try_get("default_model")?,
        azure_deployment: r.try_get("azure_deployment")?,
        azure_api_version: r.try_get("azure_api_version")?,
        timeout_connect_ms: r.try_get("timeout_connect_ms")?,
        timeout_first_byte_ms: r.try_get("timeout_first_byte_ms")?,
        timeout_idle_ms: r.try_get("timeout_idle_ms")?,
        fallback_id: r.try_get("fallback_id")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

impl Store {
    /// Inserts or replaces (by id) a service; `Conflict` if the name is taken.
    pub async fn upsert_ai_service(&self, s: &AiServiceRecord) -> Result<(), StoreError> {
        let names = serde_json::to_string(&s.header_names).unwrap_or_else(|_| "[]".into());
        sqlx::query(&format!(
            "INSERT INTO ai_services ({COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
             ON CONFLICT (id) DO UPDATE SET name = $2, kind = $3, base_url = $4, api_key_enc = $5, headers_enc = $6, \
             header_names = $7, default_model = $8, azure_deployment = $9, azure_api_version = $10, \
             timeout_connect_ms = $11, timeout_first_byte_ms = $12, timeout_idle_ms = $13, fallback_id = $14, \
             updated_at = $16"
        ))
        .bind(&s.id)
        .bind(&s.name)
        .bind(&s.kind)
        .bind(&s.base_url)
        .bind(&s.api_key_enc)
        .bind(&s.headers_enc)
        .bind(names)
        .bind(&s.default_model)
        .bind(&s.azure_deployment)
        .bind(&s.azure_api_version)
        .bind(s.timeout_connect_ms)
        .bind(s.timeout_first_byte_ms)
        .bind(s.timeout_idle_ms)
        .bind(&s.fallback_id)
        .bind(s.created_at)
        .bind(s.updated_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn ai_services(&self) -> Result<Vec<AiServiceRecord>, StoreError> {
        let rows = sqlx::query(&format!("SELECT {COLS} FROM ai_services ORDER BY name"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(decode).collect()
    }

    pub async fn delete_ai_service(&self, id: &str) -> Result<(), StoreError> {
        let r = sqlx::query("DELETE FROM ai_services WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        sqlx::query("DELETE FROM ai_aliases WHERE service_id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn ai_aliases(&self) -> Result<Vec<AiAliasRecord>, StoreError> {
        let rows =
            sqlx::query("SELECT model, service_id, target_model FROM ai_aliases ORDER BY model")
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| {
                Ok(AiAliasRecord {
                    model: r.try_get("model")?,
                    service_id: r.try_get("service_id")?,
                    target_model: r.try_get("target_model")?,
                })
            })
            .collect()
    }

    pub async fn set_ai_alias(&self, a: &AiAliasRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO ai_aliases (model, service_id, target_model) VALUES ($1, $2, $3) \
             ON CONFLICT (model) DO UPDATE SET service_id = $2, target_model = $3",
        )
        .bind(&a.model)
        .bind(&a.service_id)
        .bind(&a.target_model)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn delete_ai_alias(&self, model: &str) -> Result<(), StoreError> {
        let r = sqlx::query("DELETE FROM ai_aliases WHERE model = $1")
            .bind(model)
            .execute(&self.pool)
            .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    pub async fn insert_ai_usage(&self, u: &AiUsageRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO ai_usage (id, user_id, service_id, model, endpoint, prompt_tokens, completion_tokens, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&u.id)
        .bind(&u.user_id)
        .bind(&u.service_id)
        .bind(&u.model)
        .bind(&u.endpoint)
        .bind(u.prompt_tokens)
        .bind(u.completion_tokens)
        .bind(u.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Totals since `since` (ms), for one user or everyone.
    pub async fn ai_usage_totals(
        &self,
        user_id: Option<&str>,
        since: i64,
    ) -> Result<Vec<AiUsageTotal>, StoreError> {
        self.ai_usage_grouped(user_id, since, None).await
    }

    /// Usage summed per time bucket (`bucket_ms` wide, aligned to the
    /// epoch), user, service and model: the points of a usage chart.
    pub async fn ai_usage_series(
        &self,
        user_id: Option<&str>,
        since: i64,
        bucket_ms: i64,
    ) -> Result<Vec<AiUsageTotal>, StoreError> {
        self.ai_usage_grouped(user_id, since, Some(bucket_ms.max(1)))
            .await
    }

    async fn ai_usage_grouped(
        &self,
        user_id: Option<&str>,
        since: i64,
        bucket_ms: Option<i64>,
    ) -> Result<Vec<AiUsageTotal>, StoreError> {
        // Integer division truncates alike in SQLite and PostgreSQL; with
        // no bucket every row falls into bucket 0.
        let sql = "SELECT (created_at / $3) * $3 * $4 AS bucket, user_id, service_id, model, \
                   COUNT(*) AS requests, \
                   CAST(SUM(prompt_tokens) AS BIGINT) AS prompt_tokens, \
                   CAST(SUM(completion_tokens) AS BIGINT) AS completion_tokens \
                   FROM ai_usage WHERE created_at >= $1 AND ($2 = '' OR user_id = $2) \
                   GROUP BY bucket, user_id, service_id, model \
                   ORDER BY bucket, user_id, service_id, model";
        let rows = sqlx::query(sql)
            .bind(since)
            .bind(user_id.unwrap_or(""))
            .bind(bucket_ms.unwrap_or(1))
            .bind(i64::from(bucket_ms.is_some()))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(AiUsageTotal {
                    bucket: r.try_get("bucket")?,
                    user_id: r.try_get("user_id")?,
                    service_id: r.try_get("service_id")?,
                    model: r.try_get("model")?,
                    requests: r.try_get("requests")?,
                    prompt_tokens: r.try_get::<Option<i64>, _>("prompt_tokens")?.unwrap_or(0),
                    completion_tokens: r
                        .try_get::<Option<i64>, _>("completion_tokens")?
                        .unwrap_or(0),
                })
            })
            .collect()
    }

    pub async fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        let v: Option<(String,)> = sqlx::query_as("SELECT value FROM settings WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(v.map(|v| v.0))
    }

    /// Removes a setting (nothing if there is none).
    pub async fn delete_setting(&self, key: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM settings WHERE key = $1")
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn set_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = $2")
            .bind(key)
            .bind(value)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
