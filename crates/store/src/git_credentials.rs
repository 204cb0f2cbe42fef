//! Users' git credentials (the secret column is sealed by core; the store
//! never sees a token in the clear).

use crate::{Store, StoreError};

/// One stored credential; `secret` is sealed.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct GitCredentialRecord {
    pub id: String,
    pub user_id: String,
    pub origin: String,
    pub username: String,
    pub secret: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub rejected_at: Option<i64>,
}

const COLUMNS: &str =
    "id, user_id, origin, username, secret, created_at, last_used_at, rejected_at";

impl Store {
    /// Adds a credential; `Conflict` if the user has one for that origin.
    pub async fn insert_git_credential(&self, c: &GitCredentialRecord) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "INSERT INTO git_credentials ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ))
        .bind(&c.id)
        .bind(&c.user_id)
        .bind(&c.origin)
        .bind(&c.username)
        .bind(&c.secret)
        .bind(c.created_at)
        .bind(c.last_used_at)
        .bind(c.rejected_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A user's credentials, by origin.
    pub async fn git_credentials(
        &self,
        user_id: &str,
    ) -> Result<Vec<GitCredentialRecord>, StoreError> {
        Ok(sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM git_credentials WHERE user_id = $1 ORDER BY origin"
        ))
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// How many credentials a user has.
    pub async fn git_credential_count(&self, user_id: &str) -> Result<i64, StoreError> {
        let (n,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM git_credentials WHERE user_id = $1")
                .bind(user_id)
                .fetch_one(&self.pool)
                .await?;
        Ok(n)
    }

    /// A user's credential for exactly `origin`.
    pub async fn git_credential_for(
        &self,
        user_id: &str,
        origin: &str,
    ) -> Result<Option<GitCredentialRecord>, StoreError> {
        Ok(sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM git_credentials WHERE user_id = $1 AND origin = $2"
        ))
        .bind(user_id)
        .bind(origin)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Deletes one of the user's credentials; `NotFound` if it is not theirs.
    pub async fn delete_git_credential(&self, user_id: &str, id: &str) -> Result<(), StoreError> {
        let r = sqlx::query("DELETE FROM git_credentials WHERE user_id = $1 AND id = $2")
            .bind(user_id)
            .bind(id)
            .execute(&self.pool)
            .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Notes a use (`rejected` = the git server refused it).
    pub async fn touch_git_credential(
        &self,
        id: &str,
        now: i64,
        rejected: bool,
    ) -> Result<(), StoreError> {
        let sql = if rejected {
            "UPDATE git_credentials SET rejected_at = $1 WHERE id = $2"
        } else {
            "UPDATE git_credentials SET last_used_at = $1 WHERE id = $2"
        };
        sqlx::query(sql)
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
