//! Users.

use crate::{Store, StoreError, UserRecord};

impl Store {
    /// Inserts a user; `Conflict` if the username is taken.
    pub async fn insert_user(&self, user: &UserRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO users (id, username, password_hash, role, created_at, disabled, must_change_password) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&user.id)
        .bind(&user.username)
        .bind(&user.password_hash)
        .bind(&user.role)
        .bind(user.created_at)
        .bind(i64::from(user.disabled))
        .bind(i64::from(user.must_change_password))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn user_by_name(&self, username: &str) -> Result<UserRecord, StoreError> {
        Ok(sqlx::query_as("SELECT * FROM users WHERE username = $1")
            .bind(username)
            .fetch_one(&self.pool)
            .await?)
    }

    pub async fn user_by_id(&self, id: &str) -> Result<UserRecord, StoreError> {
        Ok(sqlx::query_as("SELECT * FROM users WHERE id = $1")
            .bind(id)
            .fetch_one(&self.pool)
            .await?)
    }

    pub async fn list_users(&self) -> Result<Vec<UserRecord>, StoreError> {
        Ok(sqlx::query_as("SELECT * FROM users ORDER BY username")
            .fetch_all(&self.pool)
            .await?)
    }

    pub async fn count_users(&self) -> Result<i64, StoreError> {
        let n: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users")
            .fetch_one(&self.pool)
            .await?;
        Ok(n.0)
    }

    /// Sets the password and whether it must be changed at the next login.
    pub async fn set_password_hash(
        &self,
        id: &str,
        hash: &str,
        must_change: bool,
    ) -> Result<(), StoreError> {
        let r = sqlx::query(
            "UPDATE users SET password_hash = $1, must_change_password = $2 WHERE id = $3",
        )
        .bind(hash)
        .bind(i64::from(must_change))
        .bind(id)
        .execute(&self.pool)
        .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Changes a user's role and/or disabled flag, unless that would leave
    /// no enabled admin (then `Conflict`); `NotFound` for an unknown id.
    /// One statement, so the check and the change cannot be split.
    pub async fn update_user(
        &self,
        id: &str,
        role: Option<&str>,
        disabled: Option<bool>,
    ) -> Result<UserRecord, StoreError> {
        let current = self.user_by_id(id).await?;
        let role = role.unwrap_or(&current.role).to_owned();
        let disabled = disabled.unwrap_or(current.disabled);
        let r = sqlx::query(
            "UPDATE users SET role = $1, disabled = $2 WHERE id = $3 AND \
             (($1 = 'admin' AND $2 = 0) OR EXISTS \
               (SELECT 1 FROM users o WHERE o.role = 'admin' AND o.disabled = 0 AND o.id <> $3))",
        )
        .bind(&role)
        .bind(i64::from(disabled))
        .bind(id)
        .execute(&self.pool)
        .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::Conflict);
        }
        self.user_by_id(id).await
    }
}
