//! The audit log table. Rows are only ever inserted (triggers refuse
//! updates and deletes); the hash chain is computed by the caller.

use crate::{Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::Row;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub seq: i64,
    pub at: i64,
    pub actor: String,
    pub workspace_id: Option<String>,
    pub action: String,
    pub detail: String,
    pub decision: Option<String>,
    pub approved_by: Option<String>,
    pub result: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

const COLS: &str =
    "seq, at, actor, workspace_id, action, detail, decision, approved_by, result, prev_hash, hash";

fn decode(r: &AnyRow) -> Result<AuditRecord, StoreError> {
    Ok(AuditRecord {
        seq: r.try_get("seq")?,
        at: r.try_get("at")?,
        actor: r.try_get("actor")?,
        workspace_id: r.try_get("workspace_id")?,
        action: r.try_get("action")?,
        detail: r.try_get("detail")?,
        decision: r.try_get("decision")?,
        approved_by: r.try_get("approved_by")?,
        result: r.try_get("result")?,
        prev_hash: r.try_get("prev_hash")?,
        hash: r.try_get("hash")?,
    })
}

/// What to look for in the audit log; empty fields match everything.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub workspace_id: Option<String>,
    pub actor: Option<String>,
    /// Actions starting with this (`workspace.` finds them all).
    pub action_prefix: Option<String>,
    /// Times in ms since the epoch, both inclusive.
    pub since: Option<i64>,
    pub until: Option<i64>,
    /// Rows older than this sequence number, newest first; without it,
    /// rows after `after`, oldest first.
    pub before: Option<i64>,
    pub after: i64,
    pub limit: i64,
}

impl Store {
    /// The rows matching `f`, in the order it asks for.
    pub async fn audit_search(&self, f: &AuditFilter) -> Result<Vec<AuditRecord>, StoreError> {
        let (cursor, order) = match f.before {
            Some(_) => ("seq < $1", "DESC"),
            None => ("seq > $1", "ASC"),
        };
        let sql = format!(
            "SELECT {COLS} FROM audit_log WHERE {cursor} \
             AND ($2 = '' OR workspace_id = $2) AND ($3 = '' OR actor = $3) \
             AND (CAST($4 AS TEXT) = '' OR substr(action, 1, length(CAST($4 AS TEXT))) = CAST($4 AS TEXT)) \
             AND at >= $5 AND at <= $6 ORDER BY seq {order} LIMIT $7"
        );
        let rows = sqlx::query(&sql)
            .bind(f.before.unwrap_or(f.after))
            .bind(f.workspace_id.as_deref().unwrap_or(""))
            .bind(f.actor.as_deref().unwrap_or(""))
            .bind(f.action_prefix.as_deref().unwrap_or(""))
            .bind(f.since.unwrap_or(i64::MIN))
            .bind(f.until.unwrap_or(i64::MAX))
            .bind(f.limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(decode).collect()
    }

    /// The newest row's sequence number and hash.
    pub async fn audit_head(&self) -> Result<Option<(i64, String)>, StoreError> {
        let r: Option<(i64, String)> =
            sqlx::query_as("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
                .fetch_optional(&self.pool)
                .await?;
        Ok(r)
    }

    /// Appends a row; `Conflict` if its sequence number was taken meanwhile.
    pub async fn insert_audit(&self, a: &AuditRecord) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "INSERT INTO audit_log ({COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ))
        .bind(a.seq)
        .bind(a.at)
        .bind(&a.actor)
        .bind(&a.workspace_id)
        .bind(&a.action)
        .bind(&a.detail)
        .bind(&a.decision)
        .bind(&a.approved_by)
        .bind(&a.result)
        .bind(&a.prev_hash)
        .bind(&a.hash)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Rows after `after_seq`, oldest first, optionally for one workspace.
    pub async fn audit_rows(
        &self,
        workspace_id: Option<&str>,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLS} FROM audit_log WHERE seq > $1 AND ($2 = '' OR workspace_id = $2) ORDER BY seq LIMIT $3"
        ))
        .bind(after_seq)
        .bind(workspace_id.unwrap_or(""))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(decode).collect()
    }

    /// For tests of tamper detection only: writes around the triggers is
    /// impossible through this API, so tests use raw SQL via this hook.
    pub async fn execute_raw(&self, sql: &str) -> Result<u64, StoreError> {
        Ok(sqlx::query(sql).execute(&self.pool).await?.rows_affected())
    }
}

impl Store {
    /// Records a file's state before an agent run first changes it; a later
    /// call for the same run and path keeps the first state.
    pub async fn insert_checkpoint(
        &self,
        run_id: &str,
        path: &str,
        content: Option<&str>,
        at: i64,
    ) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "INSERT INTO agent_checkpoints (run_id, path, content, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (run_id, path) DO NOTHING",
        )
        .bind(run_id)
        .bind(path)
        .bind(content)
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// A run's checkpoints, newest first (the order to undo in).
    pub async fn checkpoints(
        &self,
        run_id: &str,
    ) -> Result<Vec<(String, Option<String>)>, StoreError> {
        let rows: Vec<(String, Option<String>)> =
            sqlx::query_as("SELECT path, content FROM agent_checkpoints WHERE run_id = $1 ORDER BY created_at DESC, path")
                .bind(run_id)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows)
    }
}
