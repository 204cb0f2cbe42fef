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
    /// Stores the user's key pair, replacing the one they had.
    pub async fn put_ssh_key(&self, k: &SshKeyRecord) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM ssh_keys WHERE user_id = $1")
            .bind(&k.user_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(&format!(
            "INSERT INTO ssh_keys ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
        ))
        .bind(&k.user_id)
        .bind(&k.public_key)
        .bind(&k.fingerprint)
        .bind(&k.secret)
        .bind(k.created_at)
        .bind(k.last_used_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
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

    /// Deletes the user's key pair; `NotFound` if they have none.
    pub async fn delete_ssh_key(&self, user_id: &str) -> Result<(), StoreError> {
        let r = sqlx::query("DELETE FROM ssh_keys WHERE user_id = $1")
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
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
