//! Snapshots of workspaces (what is on the engine is the runtime's; this is
//! who owns it and how to make a workspace of it again).

use crate::{Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::Row;

/// One snapshot row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotRecord {
    pub id: String,
    pub owner_id: String,
    /// The workspace it was taken of (which may be gone since).
    pub workspace_id: String,
    pub workspace_name: String,
    /// Unique among the owner's snapshots.
    pub name: String,
    /// The committed image.
    pub image: String,
    /// The workspace's settings at the time, as JSON (the core's to read).
    pub config: String,
    pub created_at: i64,
}

const COLUMNS: &str = "id, owner_id, workspace_id, workspace_name, name, image, config, created_at";

fn decode(row: &AnyRow) -> Result<SnapshotRecord, StoreError> {
    Ok(SnapshotRecord {
        id: row.try_get("id")?,
        owner_id: row.try_get("owner_id")?,
        workspace_id: row.try_get("workspace_id")?,
        workspace_name: row.try_get("workspace_name")?,
        name: row.try_get("name")?,
        image: row.try_get("image")?,
        config: row.try_get("config")?,
        created_at: row.try_get("created_at")?,
    })
}

impl Store {
    /// Records a snapshot; `Conflict` if its owner has one of that name.
    pub async fn insert_snapshot(&self, s: &SnapshotRecord) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "INSERT INTO snapshots ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ))
        .bind(&s.id)
        .bind(&s.owner_id)
        .bind(&s.workspace_id)
        .bind(&s.workspace_name)
        .bind(&s.name)
        .bind(&s.image)
        .bind(&s.config)
        .bind(s.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A snapshot by id.
    pub async fn snapshot(&self, id: &str) -> Result<SnapshotRecord, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM snapshots WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        decode(&row)
    }

    /// An owner's snapshot by name.
    pub async fn snapshot_by_name(
        &self,
        owner_id: &str,
        name: &str,
    ) -> Result<SnapshotRecord, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM snapshots WHERE owner_id = $1 AND name = $2"
        ))
        .bind(owner_id)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        decode(&row)
    }

    /// Snapshots, newest first: one owner's, or everyone's.
    pub async fn list_snapshots(
        &self,
        owner_id: Option<&str>,
    ) -> Result<Vec<SnapshotRecord>, StoreError> {
        let rows = match owner_id {
            Some(o) => {
                sqlx::query(&format!(
                "SELECT {COLUMNS} FROM snapshots WHERE owner_id = $1 ORDER BY created_at DESC, id"
            ))
                .bind(o)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM snapshots ORDER BY created_at DESC, id"
                ))
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.iter().map(decode).collect()
    }

    /// Forgets a snapshot (NotFound if there was none).
    pub async fn delete_snapshot(&self, id: &str) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM snapshots WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}
