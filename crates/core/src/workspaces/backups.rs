//! Scheduled backups: each workspace's whole environment (the same archive
//! an export streams) written to `workspaces.backup_dir/<name>-<id>/`,
//! keeping the newest `backup_keep` per workspace. A backup snapshot lives
//! on the engine only while its archive is written. Every backup is on the
//! audit record (by `system`), failures too.

use super::manager::WorkspaceManager;
use super::model::WorkspaceState;
use super::snapshot_archive::{write_archive, Meta, Spool, DATA, FORMAT, IMAGE};
use super::snapshots::Settings;
use crate::audit::Entry;
use crate::auth::new_id;
use crate::{now_ms, CoreError};
use aicockpit_runtime::SnapshotRequest;
use aicockpit_store::WorkspaceRecord;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tracing::{info, warn};

const SUFFIX: &str = ".aicockpit-snapshot.tar";

impl WorkspaceManager {
    /// Backs up every workspace that has a container; returns how many
    /// backups were written. Nothing happens without a backup directory.
    pub async fn back_up_all(&self) -> Result<usize, CoreError> {
        let Some(dir) = self.opts.limits.backup_dir.clone() else {
            return Ok(0);
        };
        let mut written = 0;
        for rec in self.store.list_workspaces(None).await? {
            let state = WorkspaceState::parse(&rec.state);
            if rec.container_id.is_none()
                || matches!(state, WorkspaceState::Creating | WorkspaceState::Deleting)
            {
                continue;
            }
            let outcome = self.back_up(&rec, &dir).await;
            let (detail, result) = match &outcome {
                Ok((file, bytes)) => (
                    json!({"file": file.display().to_string(), "bytes": bytes}),
                    "ok",
                ),
                Err(e) => (json!({"error": e.to_string()}), "error"),
            };
            let mut entry = Entry::done("system", Some(&rec.id), "workspace.backup", detail);
            entry.result = Some(result.into());
            self.audit.note(entry).await;
            match outcome {
                Ok((file, bytes)) => {
                    info!(workspace = %rec.id, file = %file.display(), bytes, "backed up");
                    written += 1;
                }
                Err(e) => warn!(workspace = %rec.id, error = %e, "backup failed"),
            }
        }
        Ok(written)
    }

    /// One workspace's backup: snapshot (under its lock), archive, remove
    /// the snapshot, prune old archives.
    async fn back_up(
        &self,
        rec: &WorkspaceRecord,
        root: &Path,
    ) -> Result<(PathBuf, u64), CoreError> {
        let dir = root.join(format!("{}-{}", rec.name, rec.id));
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| CoreError::Internal(format!("{}: {e}", dir.display())))?;
        let id = new_id();
        let taken = {
            let lock = self.lock_for(&rec.id);
            let _guard = lock.lock().await;
            let fresh = self.store.workspace(&rec.id).await?;
            let Some(handle) = fresh.container_id.clone() else {
                return Err(CoreError::conflict(
                    "not_provisioned",
                    "no container any more",
                ));
            };
            let req = SnapshotRequest {
                workspace: rec.id.clone(),
                handle,
                snapshot: id.clone(),
                user: fresh.run_as.clone(),
            };
            self.runtime.snapshot(&req).await.map(|_| fresh)
        };
        let fresh = taken?;
        let written = self.write_backup(&id, &fresh, &dir).await;
        if let Err(e) = self.runtime.delete_snapshot(&id).await {
            warn!(snapshot = %id, error = %e, "could not remove a backup's snapshot");
        }
        let written = written?;
        prune(&dir, self.opts.limits.backup_keep.max(1) as usize).await;
        Ok(written)
    }

    async fn write_backup(
        &self,
        snapshot: &str,
        rec: &WorkspaceRecord,
        dir: &Path,
    ) -> Result<(PathBuf, u64), CoreError> {
        let spool = Spool::new(&self.opts.spool_dir, "backup").await?;
        let settings = Settings::of(rec);
        self.runtime
            .write_snapshot(
                snapshot,
                &settings.user,
                &spool.path(IMAGE),
                &spool.path(DATA),
            )
            .await?;
        let stamp = time::OffsetDateTime::now_utc();
        let name = format!(
            "backup-{:04}{:02}{:02}-{:02}{:02}{:02}-{:03}",
            stamp.year(),
            u8::from(stamp.month()),
            stamp.day(),
            stamp.hour(),
            stamp.minute(),
            stamp.second(),
            stamp.millisecond()
        );
        let meta = Meta {
            format: FORMAT.into(),
            name: name.clone(),
            workspace_id: rec.id.clone(),
            workspace_name: rec.name.clone(),
            created_at: now_ms(),
            settings,
        };
        let meta =
            serde_json::to_vec_pretty(&meta).map_err(|e| CoreError::Internal(e.to_string()))?;
        // Written under a temporary name and renamed: a half-written
        // archive is never taken for a backup.
        let file = dir.join(format!("{name}{SUFFIX}"));
        let partial = dir.join(format!(".{name}.partial"));
        let (to, spool_dir) = (partial.clone(), spool);
        let written = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            let out = std::fs::File::create(&to)?;
            write_archive(
                std::io::BufWriter::with_capacity(1 << 20, &out),
                &meta,
                &spool_dir,
            )?;
            out.sync_all()
        })
        .await
        .map_err(|e| CoreError::Internal(format!("writing the backup stopped: {e}")))
        .and_then(|r| {
            r.map_err(|e| CoreError::Internal(format!("writing {}: {e}", partial.display())))
        });
        if let Err(e) = written {
            let _ = tokio::fs::remove_file(&partial).await;
            return Err(e);
        }
        tokio::fs::rename(&partial, &file)
            .await
            .map_err(|e| CoreError::Internal(format!("{}: {e}", file.display())))?;
        let bytes = tokio::fs::metadata(&file)
            .await
            .map(|m| m.len())
            .unwrap_or(0);
        Ok((file, bytes))
    }

    /// Backs up every `interval` until `shutdown` fires (when a backup
    /// directory is set).
    pub fn spawn_backups(
        self: Arc<Self>,
        interval: Duration,
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        super::every(interval, shutdown, move || {
            let me = self.clone();
            async move {
                if let Err(e) = me.back_up_all().await {
                    warn!(error = %e, "the backup pass failed; will retry");
                }
            }
        })
    }
}

/// Removes all but the newest `keep` archives in `dir` (names sort by time).
async fn prune(dir: &Path, keep: usize) {
    let Ok(mut entries) = tokio::fs::read_dir(dir).await else {
        return;
    };
    let mut archives = Vec::new();
    while let Ok(Some(e)) = entries.next_entry().await {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with("backup-") && name.ends_with(SUFFIX) {
            archives.push(e.path());
        }
    }
    archives.sort();
    let excess = archives.len().saturating_sub(keep);
    for old in archives.into_iter().take(excess) {
        if let Err(e) = tokio::fs::remove_file(&old).await {
            warn!(file = %old.display(), error = %e, "could not remove an old backup");
        }
    }
}
