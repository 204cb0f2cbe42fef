//! Users' SSH key pairs (the secret column is sealed by core; the store
//! never sees a private key in the clear). One per user.

use crate::{Store, StoreError};

/// A user's key pair; `secret` is sealed.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SshKeyRecord {
    pub user_id: String,
    /// OpenSSH's one-line form.
    pub public_key: String,
    pub fingerprint: String,
    pub secret: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

const COLUMNS: &str = "user_id, public_key, fingerprint, secret, created_at, last_used_at";

impl Store {
    /// Stores the user's key pair, replacing the one they had (in one
    /// statement: two at once leave one of them, never an error).
    pub async fn put_ssh_key(&self, k: &SshKeyRecord) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "INSERT INTO ssh_keys ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (user_id) DO UPDATE SET public_key = $2, fingerprint = $3, \
             secret = $4, created_at = $5, last_used_at = $6"
        ))
        .bind(&k.user_id)
        .bind(&k.public_key)
        .bind(&k.fingerprint)
        .bind(&k.secret)
        .bind(k.created_at)
        .bind(k.last_used_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The user's key pair, if they have one.
    pub async fn ssh_key(&self, user_id: &str) -> Result<Option<SshKeyRecord>, StoreError> {
        Ok(sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM ssh_keys WHERE user_id = $1"
        ))
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Deletes the user's key pair and says which it was (its
    /// fingerprint); `NotFound` if they have none.
    pub async fn delete_ssh_key(&self, user_id: &str) -> Result<String, StoreError> {
        let gone: Option<(String,)> =
            sqlx::query_as("DELETE FROM ssh_keys WHERE user_id = $1 RETURNING fingerprint")
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await?;
        gone.map(|g| g.0).ok_or(StoreError::NotFound)
    }

    /// Notes that the key signed something.
    pub async fn touch_ssh_key(&self, user_id: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE ssh_keys SET last_used_at = $1 WHERE user_id = $2")
            .bind(now)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
