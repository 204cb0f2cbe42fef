//! Kept data: what deleted workspaces left behind (their data, unless the
//! delete purged it). It can be listed, attached to a new workspace (which
//! starts with a copy; the kept data is then removed), or purged. Owners
//! see and touch their own; admins all. The backend's labels say whose it
//! is: the workspace container cannot change them.

use super::manager::{CreateWorkspace, Origin, WorkspaceManager};
use super::model::Workspace;
use crate::access::{can, Action, Resource};
use crate::auth::Principal;
use crate::CoreError;
use aicockpit_runtime::DataVolume;
use aicockpit_store::StoreError;
use serde_json::json;
use tracing::warn;

/// One deleted workspace's kept data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptData {
    /// The id the deleted workspace had (what attach and purge take).
    pub workspace: String,
    pub owner_id: String,
    /// The deleted workspace's name.
    pub name: String,
    /// When the data was first made (RFC 3339, as the engine reports it).
    pub created_at: Option<String>,
}

impl From<DataVolume> for KeptData {
    fn from(v: DataVolume) -> KeptData {
        KeptData {
            workspace: v.workspace,
            // Data without an owner label (made by hand) is admins' only:
            // no user has the empty id.
            owner_id: v.owner.unwrap_or_default(),
            name: v.name.unwrap_or_default(),
            created_at: v.created_at,
        }
    }
}

/// Data made ahead for the warm pool that nobody claimed: nobody's kept
/// data (the pool holds it, or removes it).
fn is_pool_entry(v: &DataVolume) -> bool {
    v.pooled && v.owner.is_none()
}

impl WorkspaceManager {
    /// The kept data the caller may see, oldest first.
    pub async fn kept_data(&self, p: &Principal) -> Result<Vec<KeptData>, CoreError> {
        let mut out = Vec::new();
        for v in self.runtime.data_volumes().await? {
            if is_pool_entry(&v) {
                continue;
            }
            let kept = KeptData::from(v);
            if self.may(p, Action::View, &kept) && !self.has_record(&kept.workspace).await? {
                out.push(kept);
            }
        }
        out.sort_by(|a, b| (&a.created_at, &a.workspace).cmp(&(&b.created_at, &b.workspace)));
        Ok(out)
    }

    /// Removes a deleted workspace's kept data for good.
    pub async fn purge_kept(&self, p: &Principal, workspace: &str) -> Result<KeptData, CoreError> {
        let lock = self.lock_for(workspace);
        let _guard = lock.lock().await;
        let kept = self.kept_one(p, workspace).await?;
        self.runtime.destroy(&kept.workspace, false).await?;
        self.forget_lock(workspace);
        let detail = json!({"name": kept.name, "owner": kept.owner_id});
        self.record(p, &kept.workspace, "workspace.kept.purge", detail)
            .await;
        Ok(kept)
    }

    /// Creates a workspace whose data starts as a copy of `kept`'s, then
    /// removes the kept data (a failure there leaves it listed, not lost).
    pub(super) async fn create_from_kept(
        &self,
        p: &Principal,
        req: CreateWorkspace,
        kept: &str,
    ) -> Result<Workspace, CoreError> {
        // Held throughout: a purge or a second attach waits for this one.
        let lock = self.lock_for(kept);
        let _guard = lock.lock().await;
        let source = self.kept_one(p, kept).await?;
        let ws = self
            .create_unrecorded(p, req, Origin::Kept(&source.workspace))
            .await?;
        if let Err(e) = self.runtime.destroy(&source.workspace, false).await {
            warn!(kept = %source.workspace, error = %e, "the kept data was copied but could not be removed");
        }
        self.forget_lock(kept);
        Ok(ws)
    }

    /// `workspace`'s kept data if the caller may change it; anything else
    /// (someone else's, a live workspace's, none) is not found.
    async fn kept_one(&self, p: &Principal, workspace: &str) -> Result<KeptData, CoreError> {
        let not_found = || CoreError::NotFound(format!("no kept data of workspace {workspace:?}"));
        let kept = self
            .runtime
            .data_volumes()
            .await?
            .into_iter()
            .filter(|v| !is_pool_entry(v))
            .map(KeptData::from)
            .find(|k| k.workspace == workspace)
            .ok_or_else(not_found)?;
        if !self.may(p, Action::View, &kept) || self.has_record(&kept.workspace).await? {
            return Err(not_found());
        }
        // Viewers may see their kept data but not change it.
        self.check(p, Action::Change, &kept)?;
        Ok(kept)
    }

    fn check(&self, p: &Principal, action: Action, k: &KeptData) -> Result<(), CoreError> {
        let resource = Resource::Workspace {
            id: &k.workspace,
            owner_id: &k.owner_id,
        };
        can(p, action, resource)
    }

    fn may(&self, p: &Principal, action: Action, k: &KeptData) -> bool {
        self.check(p, action, k).is_ok()
    }

    /// Whether `id` is a workspace that still exists (its data is then not
    /// kept but in use).
    async fn has_record(&self, id: &str) -> Result<bool, CoreError> {
        match self.store.workspace(id).await {
            Ok(_) => Ok(true),
            Err(StoreError::NotFound) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}
