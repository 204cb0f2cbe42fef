//! Removing images built from devcontainer.json once no workspace uses
//! them: each configuration's image is kept by content so that the next
//! workspace of it starts without a build, but not for ever — those no
//! workspace record names are removed when older than
//! `workspaces.built_image_keep_hours`.

use super::WorkspaceManager;
use std::sync::Arc;
use std::time::Duration;
use tracing::{info, warn};

impl WorkspaceManager {
    /// One pass: the built images no workspace uses and older than
    /// `keep` are removed; returns them.
    pub async fn prune_built_images(
        &self,
        keep: Duration,
    ) -> Result<Vec<String>, crate::CoreError> {
        // A setup may have found its image built before and be about to
        // make the container from it: the pass waits for a quiet moment.
        if self.setups.any_running() {
            return Ok(Vec::new());
        }
        // Every workspace's image, running, stopped or being deleted.
        let in_use: Vec<String> = self
            .store
            .list_workspaces(None)
            .await?
            .into_iter()
            .map(|w| w.image)
            .collect();
        let removed = self
            .runtime
            .prune_built_images(&in_use, keep)
            .await
            .map_err(|e| crate::CoreError::Internal(e.to_string()))?;
        if !removed.is_empty() {
            let detail = serde_json::json!({"images": removed, "keep_secs": keep.as_secs()});
            self.audit
                .note(crate::audit::Entry::done(
                    "system",
                    None,
                    "image.prune",
                    detail,
                ))
                .await;
        }
        Ok(removed)
    }

    /// Prunes every `interval` until `shutdown` fires.
    pub fn spawn_image_pruner(
        self: Arc<Self>,
        keep: Duration,
        interval: Duration,
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        super::every(interval, shutdown, move || {
            let me = self.clone();
            async move {
                match me.prune_built_images(keep).await {
                    Ok(r) if !r.is_empty() => {
                        info!(images = ?r, "removed built images no workspace uses")
                    }
                    Ok(_) => {}
                    Err(e) => warn!(error = %e, "removing unused built images failed; will retry"),
                }
            }
        })
    }
}
