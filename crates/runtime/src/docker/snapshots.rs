//! Snapshots on Docker: the container committed to an image
//! (`localhost/aicockpit/snapshot:{id}`, not paused: see `take_snapshot`) and
//! its data copied into a volume of its own (`aicockpit-snap-{id}`), both
//! labelled with the installation and the snapshot. A workspace made of a
//! snapshot runs that image on a fresh volume seeded from that copy.

use super::kept::Side;
use super::objects::volume_name;
use super::DockerRuntime;
use crate::spec::SnapshotRequest;
use crate::RuntimeError;
use bollard::models::ContainerConfig;
use bollard::query_parameters::{
    CommitContainerOptionsBuilder, ListContainersOptionsBuilder, RemoveImageOptionsBuilder,
};
use std::collections::HashMap;
use tracing::warn;

const REPO: &str = "localhost/aicockpit/snapshot";

/// Where a snapshot's data is held during a copy: a path no image has, so
/// the engine fills nothing in first.
pub(super) const HELD_AT: &str = "/aicockpit-snapshot";

/// Whether `image` names a snapshot image in any spelling (with or
/// without `localhost/`, a digest, another case): such images are made
/// from snapshots only, never from a user's request.
pub fn is_snapshot_image(image: &str) -> bool {
    image.to_ascii_lowercase().contains("aicockpit/snapshot")
}

pub(super) fn snapshot_volume(snapshot: &str) -> String {
    format!("aicockpit-snap-{snapshot}")
}

pub(super) fn snapshot_image(snapshot: &str) -> String {
    format!("{REPO}:{snapshot}")
}

impl DockerRuntime {
    pub(super) async fn take_snapshot(
        &self,
        req: &SnapshotRequest,
    ) -> Result<String, RuntimeError> {
        let labels = self.own_labels(&[("snapshot", &req.snapshot)]);
        // Not paused: on cgroup v1 the freezer can hang on a process caught
        // mid-exec (the agent starting, or anything the workspace runs),
        // and a container stuck "pausing" holds locks that stall every
        // listing on the engine, for all workspaces. A file being written
        // while the snapshot is taken may be caught half-written instead.
        let opts = CommitContainerOptionsBuilder::default()
            .container(&req.handle)
            .repo(REPO)
            .tag(&req.snapshot)
            .pause(false)
            .comment("AiCockpit snapshot")
            .build();
        let config = ContainerConfig {
            labels: Some(labels.clone()),
            ..Default::default()
        };
        self.client().await?.commit_container(opts, config).await?;
        let image = snapshot_image(&req.snapshot);
        let volume = snapshot_volume(&req.snapshot);
        let copied = async {
            self.ensure_volume(&volume, &labels).await?;
            let from = Side {
                volume: volume_name(&req.workspace),
                image: &image,
                user: &req.user,
                at: "/aicockpit-from",
            };
            let to = Side {
                volume: volume.clone(),
                image: &image,
                user: &req.user,
                at: HELD_AT,
            };
            self.copy_volume(&from, &to).await
        }
        .await;
        if let Err(e) = copied {
            if let Err(e) = self.remove_snapshot(&req.snapshot).await {
                warn!(snapshot = %req.snapshot, error = %e, "could not remove a failed snapshot");
            }
            return Err(e);
        }
        Ok(image)
    }

    pub(super) async fn remove_snapshot(&self, snapshot: &str) -> Result<(), RuntimeError> {
        let image = snapshot_image(snapshot);
        let d = self.client().await?;
        // Only ours: the image must carry this installation's labels.
        match d.inspect_image(&image).await {
            Ok(info) => {
                let labels = info.config.and_then(|c| c.labels).unwrap_or_default();
                // Podman ignores the labels given to commit; the image
                // keeps the container's, this installation's among them.
                // An imported image has its origin's labels: then the
                // snapshot's data, made here with ours, vouches for it.
                let ours = super::objects::carries(&labels, &self.mine(None))
                    || self
                        .has_volume(
                            &snapshot_volume(snapshot),
                            &self.own_labels(&[("snapshot", snapshot)]),
                        )
                        .await?;
                if ours {
                    // Docker refuses (409) while a container is made from
                    // it, but Podman only untags it: asked first, for both.
                    if self.image_in_use(&image).await? {
                        return Err(RuntimeError::Conflict(format!(
                            "a container is made from {image}"
                        )));
                    }
                    let opts = RemoveImageOptionsBuilder::default().build();
                    d.remove_image(&image, Some(opts), None).await?;
                }
            }
            Err(e) => match RuntimeError::from(e) {
                RuntimeError::NotFound(_) => {}
                other => return Err(other),
            },
        }
        self.remove_volume(&snapshot_volume(snapshot)).await
    }

    /// Whether any container (running or not) is made from `image`.
    async fn image_in_use(&self, image: &str) -> Result<bool, RuntimeError> {
        let filters = HashMap::from([("ancestor".to_owned(), vec![image.to_owned()])]);
        let opts = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filters)
            .build();
        let found = self.client().await?.list_containers(Some(opts)).await?;
        Ok(!found.is_empty())
    }
}
