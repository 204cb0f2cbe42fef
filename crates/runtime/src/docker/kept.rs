//! Kept data: the volumes deleted workspaces left behind, listed from the
//! engine by label, and copied into a new workspace's fresh volume by the
//! engine's own archive copy (no tool inside any image is needed, nothing
//! runs, and the bytes stream through without being held). Docker cannot
//! rename or relabel a volume, so attaching is a copy; the caller removes
//! the kept data once the new workspace stands.

use super::objects::volume_name;
use super::DockerRuntime;
use crate::spec::{DataVolume, WorkspaceSpec};
use crate::RuntimeError;
use bollard::models::{ContainerCreateBody, HostConfig, Mount, MountType};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, DownloadFromContainerOptionsBuilder, ListVolumesOptionsBuilder,
    UploadToContainerOptionsBuilder,
};
use futures_util::StreamExt;
use std::collections::HashMap;

const FROM: &str = "/aicockpit-from";

impl DockerRuntime {
    /// Every data volume of this installation, with what its labels say.
    pub(super) async fn list_data_volumes(&self) -> Result<Vec<DataVolume>, RuntimeError> {
        let want = self.mine(None);
        let opts = ListVolumesOptionsBuilder::default()
            .filters(&super::objects::label_filters(&want))
            .build();
        let list = self.client().await?.list_volumes(Some(opts)).await?;
        let label =
            |l: &HashMap<String, String>, k: &str| l.get(&format!("io.aicockpit.{k}")).cloned();
        Ok(list
            .volumes
            .unwrap_or_default()
            .into_iter()
            // Checked again: Podman's filter matches any one label.
            .filter(|v| super::objects::carries(&v.labels, &want))
            .filter_map(|v| {
                let workspace = label(&v.labels, "workspace")?;
                // Only the workspace's own data volume (not a helper's).
                (v.name == volume_name(&workspace)).then(|| DataVolume {
                    owner: label(&v.labels, "owner"),
                    name: label(&v.labels, "name"),
                    created_at: v.created_at.clone(),
                    workspace,
                })
            })
            .collect())
    }

    /// Copies workspace `from`'s kept data into `spec`'s new (empty) data
    /// volume, from one never-started container holding the kept data to
    /// another holding the new (two, because the engine locks a container
    /// while an archive of it streams out). Owners, modes and links come
    /// along in the archive; the kept data is only read.
    pub(super) async fn copy_data(
        &self,
        from: &str,
        spec: &WorkspaceSpec,
    ) -> Result<(), RuntimeError> {
        let old = volume_name(from);
        if !self.volumes(from).await?.contains(&old) {
            return Err(RuntimeError::NotFound(format!(
                "no kept data of workspace {from}"
            )));
        }
        let source = self.holder(spec, old, FROM).await?;
        // The new data at its own place: the engine fills a fresh volume
        // from the image there (the directory's owner and mode, the
        // template's files), as for any new workspace.
        let target = match self
            .holder(spec, volume_name(&spec.id), &spec.data_dir)
            .await
        {
            Ok(t) => t,
            Err(e) => {
                self.remove_container(&source).await?;
                return Err(e);
            }
        };
        let copied = self
            .stream_archive(&source, FROM, &target, &spec.data_dir)
            .await;
        self.remove_container(&source).await?;
        self.remove_container(&target).await?;
        copied
    }

    /// A container of the workspace's image, never started, with no
    /// network, holding `volume` at `at`; labelled as the workspace's so
    /// that destroying the workspace removes a leftover. It has the
    /// workspace's user because Podman gives everything it copies out of
    /// a container to that container's user (Docker keeps the owners).
    async fn holder(
        &self,
        spec: &WorkspaceSpec,
        volume: String,
        at: &str,
    ) -> Result<String, RuntimeError> {
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            user: Some(spec.user.clone()),
            labels: Some(self.labels(&spec.id, &spec.annotations)),
            cmd: Some(vec!["true".into()]),
            entrypoint: Some(vec![]),
            network_disabled: Some(true),
            host_config: Some(HostConfig {
                network_mode: Some("none".into()),
                mounts: Some(vec![Mount {
                    target: Some(at.to_owned()),
                    source: Some(volume),
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
        let to_opts = UploadToContainerOptionsBuilder::default()
            .path(to_dir)
            .build();
        d.upload_to_container(to, Some(to_opts), bollard::body_try_stream(tar))
            .await?;
        Ok(())
    }
}
