//! Workspaces.

use crate::{NewWorkspace, Store, StoreError, WorkspaceRecord};
use sqlx::any::AnyRow;
use sqlx::Row;

const COLUMNS: &str =
    "id, owner_id, name, template, image, state, state_reason, cpu_millis, memory_mb, \
     pids_limit, env, ports, run_as, container_id, volume, network, created_at, updated_at, \
     idle_timeout_secs";

fn decode(row: &AnyRow) -> Result<WorkspaceRecord, StoreError> {
    let env: String = row.try_get("env")?;
    let ports: String = row.try_get("ports")?;
    Ok(WorkspaceRecord {
        id: row.try_get("id")?,
        owner_id: row.try_get("owner_id")?,
        name: row.try_get("name")?,
        template: row.try_get("template")?,
        image: row.try_get("image")?,
        state: row.try_get("state")?,
        state_reason: row.try_get("state_reason")?,
        cpu_millis: row.try_get("cpu_millis")?,
        memory_mb: row.try_get("memory_mb")?,
        pids_limit: row.try_get("pids_limit")?,
        env: serde_json::from_str(&env).map_err(|e| StoreError::Corrupt {
            column: "env",
            message: e.to_string(),
        })?,
        ports: serde_json::from_str(&ports).map_err(|e| StoreError::Corrupt {
            column: "ports",
            message: e.to_string(),
        })?,
        run_as: row.try_get("run_as")?,
        container_id: row.try_get("container_id")?,
        volume: row.try_get("volume")?,
        network: row.try_get("network")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        idle_timeout_secs: row.try_get("idle_timeout_secs")?,
    })
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    // Maps of strings and lists of integers always serialize.
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

impl Store {
    /// Inserts a workspace; `Conflict` if its owner already has one of that name.
    pub async fn insert_workspace(&self, w: &NewWorkspace) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "INSERT INTO workspaces ({COLUMNS}) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)"
        ))
        .bind(&w.id)
        .bind(&w.owner_id)
        .bind(&w.name)
        .bind(&w.template)
        .bind(&w.image)
        .bind(&w.state)
        .bind(&w.state_reason)
        .bind(w.cpu_millis)
        .bind(w.memory_mb)
        .bind(w.pids_limit)
        .bind(to_json(&w.env))
        .bind(to_json(&w.ports))
        .bind(&w.run_as)
        .bind(&w.container_id)
        .bind(&w.volume)
        .bind(&w.network)
        .bind(w.created_at)
        .bind(w.updated_at)
        .bind(w.idle_timeout_secs)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn workspace(&self, id: &str) -> Result<WorkspaceRecord, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM workspaces WHERE id = $1"))
            .bind(id)
            .fetch_one(&self.pool)
            .await?;
        decode(&row)
    }

    pub async fn workspace_by_name(
        &self,
        owner_id: &str,
        name: &str,
    ) -> Result<WorkspaceRecord, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM workspaces WHERE owner_id = $1 AND name = $2"
        ))
        .bind(owner_id)
        .bind(name)
        .fetch_one(&self.pool)
        .await?;
        decode(&row)
    }

    /// Every workspace, or only `owner_id`'s, ordered by creation.
    pub async fn list_workspaces(
        &self,
        owner_id: Option<&str>,
    ) -> Result<Vec<WorkspaceRecord>, StoreError> {
        let rows = match owner_id {
            Some(owner) => {
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM workspaces WHERE owner_id = $1 ORDER BY created_at, id"
                ))
                .bind(owner)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM workspaces ORDER BY created_at, id"
                ))
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.iter().map(decode).collect()
    }

    /// Records a new state (and why, for `error` and the like).
    pub async fn set_workspace_state(
        &self,
        id: &str,
        state: &str,
        reason: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        let r = sqlx::query(
            "UPDATE workspaces SET state = $1, state_reason = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(state)
        .bind(reason)
        .bind(now)
        .bind(id)
        .execute(&self.pool)
        .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Sets the workspace's own idle timeout (None: the server default).
    pub async fn set_workspace_idle_timeout(
        &self,
        id: &str,
        secs: Option<i64>,
        now: i64,
    ) -> Result<(), StoreError> {
        let r = sqlx::query(
            "UPDATE workspaces SET idle_timeout_secs = $1, updated_at = $2 WHERE id = $3",
        )
        .bind(secs)
        .bind(now)
        .bind(id)
        .execute(&self.pool)
        .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Records which container backs the workspace (None once it is gone).
    pub async fn set_workspace_container(
        &self,
        id: &str,
        container_id: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        let r =
            sqlx::query("UPDATE workspaces SET container_id = $1, updated_at = $2 WHERE id = $3")
                .bind(container_id)
                .bind(now)
                .bind(id)
                .execute(&self.pool)
                .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Changes the image a workspace is made from (a restored snapshot's).
    pub async fn set_workspace_image(
        &self,
        id: &str,
        image: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let r = sqlx::query("UPDATE workspaces SET image = $1, updated_at = $2 WHERE id = $3")
            .bind(image)
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Changes what a workspace is made of (its devcontainer's image,
    /// environment, user and limits), for its next container.
    pub async fn set_workspace_shape(
        &self,
        w: &WorkspaceRecord,
        now: i64,
    ) -> Result<(), StoreError> {
        let r = sqlx::query(
            "UPDATE workspaces SET image = $1, env = $2, run_as = $3, cpu_millis = $4, \
             memory_mb = $5, updated_at = $6 WHERE id = $7",
        )
        .bind(&w.image)
        .bind(to_json(&w.env))
        .bind(&w.run_as)
        .bind(w.cpu_millis)
        .bind(w.memory_mb)
        .bind(now)
        .bind(&w.id)
        .execute(&self.pool)
        .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    pub async fn delete_workspace(&self, id: &str) -> Result<(), StoreError> {
        let r = sqlx::query("DELETE FROM workspaces WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// How many workspaces are in each state (for metrics).
    pub async fn count_workspaces_by_state(&self) -> Result<Vec<(String, i64)>, StoreError> {
        Ok(
            sqlx::query_as("SELECT state, COUNT(*) FROM workspaces GROUP BY state ORDER BY state")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// The workspace whose container is `container_id` and its owner, if
    /// any and the owner is not disabled (a disabled owner's workspaces
    /// are given nothing).
    pub async fn workspace_id_by_container(
        &self,
        container_id: &str,
    ) -> Result<Option<(String, String)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT w.id, w.owner_id FROM workspaces w JOIN users u ON u.id = w.owner_id \
             WHERE w.container_id = $1 AND u.disabled = 0",
        )
        .bind(container_id)
        .fetch_optional(&self.pool)
        .await?)
    }
}
