//! API and session tokens (stored as hashes).

use crate::{Store, StoreError, TokenRecord, TokenWithUser, UserRecord};
use sqlx::Row;

impl Store {
    pub async fn insert_token(&self, t: &TokenRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO api_tokens (id, user_id, name, kind, token_hash, created_at, expires_at, last_used_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&t.id)
        .bind(&t.user_id)
        .bind(&t.name)
        .bind(&t.kind)
        .bind(&t.token_hash)
        .bind(t.created_at)
        .bind(t.expires_at)
        .bind(t.last_used_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Looks a token up by the hash of its secret, with its user.
    pub async fn token_by_hash(&self, hash: &str) -> Result<TokenWithUser, StoreError> {
        let row = sqlx::query(
            "SELECT t.id, t.user_id, t.name, t.kind, t.token_hash, t.created_at, t.expires_at, \
                    t.last_used_at, u.username, u.password_hash, u.role, u.created_at AS user_created_at, \
                    u.disabled, u.must_change_password \
             FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1",
        )
        .bind(hash)
        .fetch_one(&self.pool)
        .await?;
        let token = TokenRecord {
            id: row.try_get("id")?,
            user_id: row.try_get("user_id")?,
            name: row.try_get("name")?,
            kind: row.try_get("kind")?,
            token_hash: row.try_get("token_hash")?,
            created_at: row.try_get("created_at")?,
            expires_at: row.try_get("expires_at")?,
            last_used_at: row.try_get("last_used_at")?,
        };
        let user = UserRecord {
            id: token.user_id.clone(),
            username: row.try_get("username")?,
            password_hash: row.try_get("password_hash")?,
            role: row.try_get("role")?,
            created_at: row.try_get("user_created_at")?,
            disabled: row.try_get::<i64, _>("disabled")? != 0,
            must_change_password: row.try_get::<i64, _>("must_change_password")? != 0,
        };
        Ok(TokenWithUser { token, user })
    }

    pub async fn touch_token(&self, id: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn list_tokens(&self, user_id: &str) -> Result<Vec<TokenRecord>, StoreError> {
        Ok(
            sqlx::query_as("SELECT * FROM api_tokens WHERE user_id = $1 ORDER BY created_at")
                .bind(user_id)
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// Deletes one of `user_id`'s tokens; `NotFound` if it is not theirs.
    pub async fn delete_token(&self, user_id: &str, id: &str) -> Result<(), StoreError> {
        let r = sqlx::query("DELETE FROM api_tokens WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Deletes `user_id`'s tokens, all of them or those of one `kind`,
    /// except `keep`; returns how many.
    pub async fn delete_tokens_of(
        &self,
        user_id: &str,
        kind: Option<&str>,
        keep: Option<&str>,
    ) -> Result<u64, StoreError> {
        let r = sqlx::query(
            "DELETE FROM api_tokens WHERE user_id = $1 AND ($2 = '' OR kind = $2) AND id <> $3",
        )
        .bind(user_id)
        .bind(kind.unwrap_or(""))
        .bind(keep.unwrap_or(""))
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected())
    }

    /// Removes expired tokens; returns how many.
    pub async fn delete_expired_tokens(&self, now: i64) -> Result<u64, StoreError> {
        let r =
            sqlx::query("DELETE FROM api_tokens WHERE expires_at IS NOT NULL AND expires_at < $1")
                .bind(now)
                .execute(&self.pool)
                .await?;
        Ok(r.rows_affected())
    }
}
