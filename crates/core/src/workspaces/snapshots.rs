//! Snapshots of whole workspaces and forks of them. A snapshot holds the
//! container's own filesystem (packages installed with apt survive), a copy
//! of its `/workspace` data and its settings; it belongs to the
//! workspace's owner and outlives the workspace. Forking makes a new
//! workspace of it (the caller's, within their quota). Snapshot images are
//! reachable through a snapshot only: a create naming one is refused
//! (`plan::resolve`), so the access check here is the only way in.

use super::manager::{CreateWorkspace, Origin, WorkspaceManager};
use super::model::{Workspace, WorkspaceState};
use super::quota::Ask;
use super::validate;
use crate::access::{can, sees_all_workspaces, Action, Resource};
use crate::auth::{new_id, Principal};
use crate::{now_ms, CoreError};
use aicockpit_runtime::{DataSeed, RuntimeError, SnapshotRequest};
use aicockpit_store::{SnapshotRecord, StoreError, WorkspaceRecord};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use tracing::warn;

/// An export under way (see [`WorkspaceManager::exporting`]).
pub(super) struct ExportGuard {
    map: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>,
    id: String,
}

impl Drop for ExportGuard {
    fn drop(&mut self) {
        let mut m = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = m.get_mut(&self.id) {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.id);
            }
        }
    }
}

/// A snapshot as callers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub id: String,
    pub owner_id: String,
    pub workspace_id: String,
    pub workspace_name: String,
    pub name: String,
    pub created_at: i64,
}

impl From<SnapshotRecord> for Snapshot {
    fn from(r: SnapshotRecord) -> Snapshot {
        Snapshot {
            id: r.id,
            owner_id: r.owner_id,
            workspace_id: r.workspace_id,
            workspace_name: r.workspace_name,
            name: r.name,
            created_at: r.created_at,
        }
    }
}

/// The workspace's settings a fork is made with (kept as JSON).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Settings {
    /// The user its processes ran as.
    #[serde(default = "default_user")]
    pub(super) user: String,
    template: Option<String>,
    image: String,
    cpu_millis: i64,
    memory_mb: i64,
    pids_limit: i64,
    env: BTreeMap<String, String>,
    ports: Vec<u16>,
    idle_timeout_secs: Option<i64>,
}

impl Settings {
    pub(super) fn of(rec: &WorkspaceRecord) -> Settings {
        Settings {
            user: rec.run_as.clone(),
            template: rec.template.clone(),
            image: rec.image.clone(),
            cpu_millis: rec.cpu_millis,
            memory_mb: rec.memory_mb,
            pids_limit: rec.pids_limit,
            env: rec.env.clone().into_iter().collect(),
            ports: rec.ports.clone(),
            idle_timeout_secs: rec.idle_timeout_secs,
        }
    }

    /// A create request for a workspace named `name` with these settings
    /// (checked against today's limits like any other request).
    fn request(self, name: String) -> CreateWorkspace {
        let bare = self.template.is_none();
        CreateWorkspace {
            name,
            template: self.template,
            image: bare.then_some(self.image),
            cpus: Some(self.cpu_millis as f64 / 1000.0),
            memory_mb: Some(self.memory_mb),
            pids_limit: Some(self.pids_limit),
            env: self.env,
            ports: Some(self.ports),
            idle_timeout_secs: self.idle_timeout_secs,
            from_kept: None,
            git: None,
        }
    }
}

impl WorkspaceManager {
    /// Takes a snapshot of a workspace, running (not paused: files being
    /// written meanwhile may be caught half-written) or stopped. `name` defaults to the
    /// workspace's name and the time.
    pub async fn take_snapshot(
        &self,
        p: &Principal,
        workspace: &str,
        name: Option<String>,
    ) -> Result<Snapshot, CoreError> {
        let found = self.authorized(p, workspace, Action::Change).await?;
        let lock = self.lock_for(&found.id);
        let _guard = lock.lock().await;
        let rec = self.store.workspace(&found.id).await?;
        let Some(handle) = rec.container_id.clone() else {
            return Err(CoreError::conflict(
                "not_provisioned",
                "the workspace has no container to snapshot; start it first",
            ));
        };
        let id = new_id();
        let name = name.unwrap_or_else(|| format!("{}-{}", rec.name, &id[..8]));
        validate::name(&name).map_err(|m| CoreError::invalid("invalid_name", m))?;
        if self
            .store
            .snapshot_by_name(&rec.owner_id, &name)
            .await
            .is_ok()
        {
            return Err(name_taken(&name));
        }
        let image = self
            .runtime
            .snapshot(&SnapshotRequest {
                workspace: rec.id.clone(),
                handle,
                snapshot: id.clone(),
                user: rec.run_as.clone(),
            })
            .await?;
        let row = SnapshotRecord {
            id: id.clone(),
            owner_id: rec.owner_id.clone(),
            workspace_id: rec.id.clone(),
            workspace_name: rec.name.clone(),
            name: name.clone(),
            image,
            config: serde_json::to_string(&Settings::of(&rec))
                .map_err(|e| CoreError::Internal(e.to_string()))?,
            created_at: now_ms(),
        };
        if let Err(e) = self.store.insert_snapshot(&row).await {
            if let Err(e) = self.runtime.delete_snapshot(&id).await {
                warn!(snapshot = %id, error = %e, "could not remove an unrecorded snapshot");
            }
            return Err(match e {
                StoreError::Conflict => name_taken(&name),
                other => other.into(),
            });
        }
        let detail = json!({"snapshot": id, "name": name});
        self.record(p, &rec.id, "workspace.snapshot", detail).await;
        Ok(row.into())
    }

    /// The caller's snapshots (admins: all), newest first.
    pub async fn snapshots(&self, p: &Principal) -> Result<Vec<Snapshot>, CoreError> {
        let owner = (!sees_all_workspaces(p)).then_some(p.user_id.as_str());
        let rows = self.store.list_snapshots(owner).await?;
        Ok(rows.into_iter().map(Snapshot::from).collect())
    }

    /// Removes a snapshot (refused while a workspace runs on its image).
    pub async fn delete_snapshot(
        &self,
        p: &Principal,
        snapshot: &str,
    ) -> Result<Snapshot, CoreError> {
        let rec = self.snapshot_for(p, snapshot, Action::Change).await?;
        if self.exports_of(&rec.id) > 0 {
            return Err(CoreError::conflict(
                "snapshot_busy",
                "the snapshot is being exported; delete it once that is done",
            ));
        }
        match self.runtime.delete_snapshot(&rec.id).await {
            Ok(()) => {}
            Err(RuntimeError::Conflict(_)) => {
                return Err(CoreError::conflict(
                    "snapshot_in_use",
                    "a workspace forked from this snapshot still exists; delete it first",
                ))
            }
            Err(e) => return Err(e.into()),
        }
        self.store.delete_snapshot(&rec.id).await?;
        let detail = json!({"snapshot": rec.id, "name": rec.name});
        self.record(p, &rec.workspace_id, "workspace.snapshot.delete", detail)
            .await;
        Ok(rec.into())
    }

    /// Makes a new workspace of the caller's, named `name`, from a
    /// snapshot: its image, a copy of its data, its settings.
    pub async fn fork(
        &self,
        p: &Principal,
        snapshot: &str,
        name: String,
    ) -> Result<Workspace, CoreError> {
        let rec = self.snapshot_for(p, snapshot, Action::Change).await?;
        let settings: Settings = serde_json::from_str(&rec.config).map_err(|e| {
            CoreError::Internal(format!("snapshot {} has unreadable settings: {e}", rec.id))
        })?;
        let ws = self
            .create_unrecorded(p, settings.request(name), Origin::Snapshot(&rec))
            .await?;
        let detail = json!({"name": ws.name, "image": ws.image, "from_snapshot": rec.id});
        self.record(p, &ws.id, "workspace.create", detail).await;
        Ok(ws)
    }

    /// Puts a workspace back as its snapshot was: its filesystem, its data
    /// (what is there now is discarded). The workspace runs afterwards. On
    /// a failure after the old data is gone the workspace is in `error`
    /// and the snapshot is intact, so restoring again can finish it.
    pub async fn restore(
        &self,
        p: &Principal,
        workspace: &str,
        snapshot: &str,
    ) -> Result<Workspace, CoreError> {
        let found = self.authorized(p, workspace, Action::Change).await?;
        let snap = self.snapshot_for(p, snapshot, Action::Change).await?;
        // Its own snapshot, of its own owner: an imported archive names
        // whatever workspace it likes.
        if snap.workspace_id != found.id || snap.owner_id != found.owner_id {
            return Err(CoreError::invalid(
                "wrong_workspace",
                format!(
                    "snapshot {:?} is of workspace {:?}; fork it instead",
                    snap.name, snap.workspace_name
                ),
            ));
        }
        let gate = self.quota_gate(&found.owner_id);
        let _quota = gate.lock().await;
        let lock = self.lock_for(&found.id);
        let _guard = lock.lock().await;
        let rec = self.store.workspace(&found.id).await?;
        if WorkspaceState::parse(&rec.state) != WorkspaceState::Running {
            let ask = Ask::Start {
                cpus: rec.cpu_millis as f64 / 1000.0,
                memory_mb: rec.memory_mb,
            };
            self.check_quota(p, &rec.owner_id, ask).await?;
        }
        self.stop_locked(&rec.id).await?;
        self.runtime.destroy(&rec.id, false).await?;
        let now = now_ms();
        self.store
            .set_workspace_container(&rec.id, None, now)
            .await?;
        self.store
            .set_workspace_image(&rec.id, &snap.image, now)
            .await?;
        self.set_state(&rec.id, WorkspaceState::Starting, None)
            .await?;
        let rec = self.store.workspace(&rec.id).await?;
        let seed = Some(DataSeed::Snapshot(snap.id.clone()));
        if let Err(e) = self.provision(&rec, seed).await {
            let reason = format!("restoring snapshot {:?} failed: {e}", snap.name);
            self.set_state(&rec.id, WorkspaceState::Error, Some(&reason))
                .await?;
            return Err(e);
        }
        self.set_state(&rec.id, WorkspaceState::Running, None)
            .await?;
        self.activity.started(&rec.id);
        let ws = Workspace::from(self.store.workspace(&rec.id).await?);
        self.warm_agent(ws.container_id.clone());
        let detail = json!({"snapshot": snap.id, "name": snap.name});
        self.record(p, &rec.id, "workspace.restore", detail).await;
        Ok(ws)
    }

    /// A snapshot by id or by the caller's own snapshot name, if the caller
    /// may do `action` on it; another user's is not found.
    /// How many exports of snapshot `id` are under way.
    fn exports_of(&self, id: &str) -> usize {
        let m = self.exporting.lock().unwrap_or_else(|p| p.into_inner());
        m.get(id).copied().unwrap_or(0)
    }

    /// Counts an export of `id` until the returned guard is dropped.
    pub(super) fn exporting(&self, id: &str) -> ExportGuard {
        let mut m = self.exporting.lock().unwrap_or_else(|p| p.into_inner());
        *m.entry(id.to_owned()).or_insert(0) += 1;
        ExportGuard {
            map: self.exporting.clone(),
            id: id.to_owned(),
        }
    }

    pub(super) async fn snapshot_for(
        &self,
        p: &Principal,
        id_or_name: &str,
        action: Action,
    ) -> Result<SnapshotRecord, CoreError> {
        let not_found = || CoreError::NotFound(format!("no snapshot {id_or_name:?}"));
        let rec = match self.store.snapshot(id_or_name).await {
            Ok(r) => r,
            Err(StoreError::NotFound) => {
                match self.store.snapshot_by_name(&p.user_id, id_or_name).await {
                    Ok(r) => r,
                    Err(StoreError::NotFound) => return Err(not_found()),
                    Err(e) => return Err(e.into()),
                }
            }
            Err(e) => return Err(e.into()),
        };
        // A snapshot is its workspace's, as far as access goes.
        let resource = Resource::Workspace {
            id: &rec.workspace_id,
            owner_id: &rec.owner_id,
        };
        match can(p, action, resource) {
            Ok(()) => Ok(rec),
            Err(CoreError::NotFound(_)) => Err(not_found()),
            Err(e) => Err(e),
        }
    }
}

fn default_user() -> String {
    super::manager::DEFAULT_USER.into()
}

pub(super) fn name_taken(name: &str) -> CoreError {
    CoreError::conflict(
        "name_taken",
        format!("you already have a snapshot named {name:?}"),
    )
}
