//! Data copies: the volumes deleted workspaces left behind (kept data),
//! listed from the engine by label, and copying one volume's content into
//! another by the engine's own archive copy between two never-started
//! holder containers (no tool inside any image is needed, nothing runs,
//! and the bytes stream through without being held). Docker cannot rename
//! or relabel a volume, so attaching kept data is a copy; the caller
//! removes the kept data once the new workspace stands.

use super::objects::volume_name;
use super::snapshots::snapshot_volume;
use super::DockerRuntime;
use crate::spec::{DataSeed, DataVolume, WorkspaceSpec};
use crate::RuntimeError;
use bollard::models::{ContainerCreateBody, HostConfig, Mount, MountType};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, DownloadFromContainerOptionsBuilder, ListVolumesOptionsBuilder,
    UploadToContainerOptionsBuilder,
};
use futures_util::StreamExt;
use std::collections::HashMap;

/// Where the source volume is mounted in its holder.
const FROM: &str = "/aicockpit-from";

/// The empty volume carrying the facts of a workspace made ahead for a
/// pool.
fn facts_volume(workspace: &str) -> String {
    format!("aicockpit-facts-{workspace}")
}

/// One side of a copy: a volume, held by a container of `image` running as
/// `user`, mounted at `at`.
pub(super) struct Side<'a> {
    pub volume: String,
    pub image: &'a str,
    pub user: &'a str,
    pub at: &'a str,
}

impl DockerRuntime {
    /// Every data volume of this installation, with what its labels (or,
    /// for one made ahead for a pool, its facts volume's) say.
    pub(super) async fn list_data_volumes(&self) -> Result<Vec<DataVolume>, RuntimeError> {
        let want = self.mine(None);
        let opts = ListVolumesOptionsBuilder::default()
            .filters(&super::objects::label_filters(&want))
            .build();
        let list = self.client().await?.list_volumes(Some(opts)).await?;
        let label =
            |l: &HashMap<String, String>, k: &str| l.get(&format!("io.aicockpit.{k}")).cloned();
        // Checked again: Podman's filter matches any one label.
        let volumes: Vec<_> = list
            .volumes
            .unwrap_or_default()
            .into_iter()
            .filter(|v| super::objects::carries(&v.labels, &want))
            .collect();
        let facts: HashMap<String, &HashMap<String, String>> = volumes
            .iter()
            .filter_map(|v| {
                let workspace = label(&v.labels, "workspace")?;
                (v.name == facts_volume(&workspace)).then_some((workspace, &v.labels))
            })
            .collect();
        Ok(volumes
            .iter()
            .filter_map(|v| {
                let workspace = label(&v.labels, "workspace")?;
                // Only the workspace's own data volume.
                if v.name != volume_name(&workspace) {
                    return None;
                }
                let pooled = v.labels.contains_key("io.aicockpit.pool");
                let said = match facts.get(&workspace) {
                    Some(f) if pooled => f,
                    _ => &v.labels,
                };
                Some(DataVolume {
                    owner: label(said, "owner"),
                    name: label(said, "name"),
                    created_at: v.created_at.clone(),
                    pooled,
                    workspace,
                })
            })
            .collect())
    }

    /// Records `annotations` for `workspace` on an empty volume of its own
    /// (the engine cannot relabel the data volume made ahead for a pool).
    /// It goes with the data: kept with it, removed with it.
    pub(super) async fn write_facts(
        &self,
        workspace: &str,
        annotations: &[(String, String)],
    ) -> Result<(), RuntimeError> {
        let name = facts_volume(workspace);
        let labels = self.labels(workspace, annotations);
        // Facts written before (a second delete try) are replaced.
        if self.has_volume(&name, &self.mine(Some(workspace))).await? {
            self.remove_volume(&name).await?;
        }
        self.ensure_volume(&name, &labels).await?;
        Ok(())
    }

    /// Fills `spec`'s new (empty) data with a copy of `seed`'s. The new
    /// data is held at its own place, so the engine first fills it from
    /// the image there (the directory's owner and mode), as for any new
    /// workspace.
    pub(super) async fn seed_data(
        &self,
        seed: &DataSeed,
        spec: &WorkspaceSpec,
    ) -> Result<(), RuntimeError> {
        let (volume, labels) = match seed {
            DataSeed::Kept(ws) => (volume_name(ws), self.mine(Some(ws))),
            DataSeed::Snapshot(snap) => (
                snapshot_volume(snap),
                self.own_labels(&[("snapshot", snap)]),
            ),
        };
        if !self.has_volume(&volume, &labels).await? {
            return Err(RuntimeError::NotFound(format!("no data to copy: {seed:?}")));
        }
        let from = Side {
            volume,
            image: &spec.image,
            user: &spec.user,
            at: FROM,
        };
        let to = Side {
            volume: volume_name(&spec.id),
            image: &spec.image,
            user: &spec.user,
            at: &spec.data_dir,
        };
        self.copy_volume(&from, &to).await
    }

    /// Whether a volume of that name exists with every one of `labels`
    /// (so that a name alone never reaches another installation's data).
    pub(super) async fn has_volume(
        &self,
        name: &str,
        labels: &HashMap<String, String>,
    ) -> Result<bool, RuntimeError> {
        match self.client().await?.inspect_volume(name).await {
            Ok(v) => Ok(super::objects::carries(&v.labels, labels)),
            Err(e) => match RuntimeError::from(e) {
                RuntimeError::NotFound(_) => Ok(false),
                other => Err(other),
            },
        }
    }

    /// Copies the content of one volume into another, from one holder
    /// container to another (two, because the engine locks a container
    /// while an archive of it streams out). Owners, modes and links come
    /// along on Docker; Podman gives every file to the holder's user. The
    /// source is only read.
    pub(super) async fn copy_volume(
        &self,
        from: &Side<'_>,
        to: &Side<'_>,
    ) -> Result<(), RuntimeError> {
        let source = self.holder(from).await?;
        let target = match self.holder(to).await {
            Ok(t) => t,
            Err(e) => {
                self.remove_holder(&source).await?;
                return Err(e);
            }
        };
        let copied = self.stream_archive(&source, from.at, &target, to.at).await;
        self.remove_holder(&source).await?;
        self.remove_holder(&target).await?;
        copied
    }

    /// A container that is never started, with no network, holding one
    /// volume. It belongs to no workspace (the reconciler must not take it
    /// for one).
    pub(super) async fn holder(&self, side: &Side<'_>) -> Result<String, RuntimeError> {
        let body = ContainerCreateBody {
            image: Some(side.image.to_owned()),
            user: Some(side.user.to_owned()),
            labels: Some(self.own_labels(&[("holder", "true")])),
            cmd: Some(vec!["true".into()]),
            entrypoint: Some(vec![]),
            network_disabled: Some(true),
            host_config: Some(HostConfig {
                network_mode: Some("none".into()),
                mounts: Some(vec![Mount {
                    target: Some(side.at.to_owned()),
                    source: Some(side.volume.clone()),
                    typ: Some(MountType::VOLUME),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let opts = CreateContainerOptionsBuilder::default().build();
        Ok(self
            .client()
            .await?
            .create_container(Some(opts), body)
            .await?
            .id)
    }

    pub(super) async fn remove_holder(&self, id: &str) -> Result<(), RuntimeError> {
        self.remove_container_with(id, true).await
    }

    /// Streams the content of `from_dir` in container `from` into `to_dir`
    /// in container `to`, through the engine's archive calls.
    async fn stream_archive(
        &self,
        from: &str,
        from_dir: &str,
        to: &str,
        to_dir: &str,
    ) -> Result<(), RuntimeError> {
        let d = self.client().await?;
        let from_opts = DownloadFromContainerOptionsBuilder::default()
            .path(&format!("{from_dir}/."))
            .build();
        let tar = d
            .download_from_container(from, Some(from_opts))
            .map(|r| r.map_err(std::io::Error::other));
        // Owners as in the archive (Podman would otherwise give everything
        // to the container's user).
        let to_opts = UploadToContainerOptionsBuilder::default()
            .path(to_dir)
            .copy_uidgid("false")
            .build();
        d.upload_to_container(to, Some(to_opts), bollard::body_try_stream(tar))
            .await?;
        Ok(())
    }
}
