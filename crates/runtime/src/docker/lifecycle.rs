//! A workspace's life on Docker in the trait's terms: provisioning makes
//! its network, volume and container and starts it (cleaning up after
//! itself when that fails), destroying removes them, listing finds them by
//! label.

use super::objects::{container_name, extra_volume_name, network_name, volume_name};
use super::DockerRuntime;
use crate::spec::{ExecRequest, Present, Provisioned, WorkspaceSpec};
use crate::RuntimeError;
use std::collections::HashSet;
use std::time::Duration;
use tracing::warn;

/// How long a fresh container of an arbitrary image is watched for an init
/// that exits right after a successful start.
const START_CHECK: Duration = Duration::from_millis(250);

/// A start the engine refused is the workspace's problem (bad image,
/// command…) unless the engine itself is gone.
pub(super) fn start_failure(e: RuntimeError) -> RuntimeError {
    match e {
        RuntimeError::Unavailable(m) => RuntimeError::Unavailable(m),
        RuntimeError::StartFailed(m) => RuntimeError::StartFailed(m),
        other => {
            RuntimeError::StartFailed(format!("the workspace container could not start: {other}"))
        }
    }
}

impl DockerRuntime {
    pub(super) async fn provision_workspace(
        &self,
        spec: &WorkspaceSpec,
    ) -> Result<Provisioned, RuntimeError> {
        self.make_network(spec).await?;
        let labels = self.labels(&spec.id, &spec.annotations);
        let data_created = match self.ensure_volume(&volume_name(&spec.id), &labels).await {
            Ok(created) => created,
            Err(e) => {
                self.undo(&spec.id, false).await;
                return Err(e);
            }
        };
        let mut new_volumes = Vec::new();
        for v in &spec.volumes {
            match self
                .ensure_volume(&extra_volume_name(&spec.id, &v.name), &labels)
                .await
            {
                Ok(true) => new_volumes.push(v.target.clone()),
                Ok(false) => {}
                Err(e) => {
                    self.undo(&spec.id, data_created).await;
                    return Err(e);
                }
            }
        }
        if let (true, Some(seed)) = (data_created, &spec.seed) {
            if let Err(e) = self.seed_data(seed, spec).await {
                self.undo(&spec.id, true).await;
                return Err(e);
            }
        }
        match self.make_and_start(spec, data_created, &new_volumes).await {
            Ok(handle) => Ok(Provisioned {
                handle,
                data_created,
            }),
            Err(e) => {
                self.undo(&spec.id, data_created).await;
                Err(e)
            }
        }
    }

    /// The workspace's own bridge network, on the first free range offered.
    async fn make_network(&self, spec: &WorkspaceSpec) -> Result<(), RuntimeError> {
        let name = network_name(&spec.id);
        let labels = self.labels(&spec.id, &spec.annotations);
        if spec.subnets.is_empty() {
            return self.ensure_network(&name, &labels, None).await;
        }
        for subnet in &spec.subnets {
            match self.ensure_network(&name, &labels, Some(subnet)).await {
                Ok(()) => return Ok(()),
                Err(RuntimeError::AddressInUse(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(RuntimeError::NoFreeAddressRange(format!(
            "all {} ranges offered are taken",
            spec.subnets.len()
        )))
    }

    async fn make_and_start(
        &self,
        spec: &WorkspaceSpec,
        data_created: bool,
        new_volumes: &[String],
    ) -> Result<String, RuntimeError> {
        let handle = match self.create_container(spec).await {
            Ok(id) => id,
            // A container of that name of ours is a leftover of an
            // interrupted attempt: it belongs to this workspace, so replace
            // it. Anyone else's is left alone.
            Err(RuntimeError::Conflict(m)) => {
                let leftover = self.inspect_container(&container_name(&spec.id)).await?;
                if !leftover.as_ref().is_some_and(|c| self.is_mine(c)) {
                    return Err(RuntimeError::Conflict(m));
                }
                self.remove_container(&container_name(&spec.id)).await?;
                self.create_container(spec).await?
            }
            Err(e) => return Err(e),
        };
        self.start_container(&handle).await.map_err(start_failure)?;
        if spec.verify_start {
            if let Some(code) = self.wait_exited(&handle, START_CHECK).await? {
                let logs = self.container_logs(&handle, 2048).await.unwrap_or_default();
                return Err(RuntimeError::StartFailed(format!(
                    "the workspace container exited right after starting (exit code {code}): {logs}"
                )));
            }
        }
        if spec.own_new_data && data_created {
            self.own_dir(&handle, spec, &spec.data_dir).await;
        }
        // A new volume's root is root's unless the image had the directory.
        for target in new_volumes {
            self.own_dir(&handle, spec, target).await;
        }
        Ok(handle)
    }

    /// Removes what a failed provision made (the volume only if it made it).
    async fn undo(&self, workspace: &str, remove_data: bool) {
        if let Err(e) = self.destroy_workspace(workspace, !remove_data).await {
            warn!(workspace, error = %e, "could not clean up after a failed provision");
        }
    }

    /// A fresh volume for an arbitrary image (one without a data directory
    /// of its own), or a new named volume, has a root-owned root; make it
    /// the workspace user's. A
    /// root exec in a container whose user is not root has no capabilities
    /// on Docker, so `chown` may be refused; the owner (uid 0) can still
    /// open the directory up with `chmod`. A volume the engine filled from
    /// the image's own directory is already the user's: left as it is.
    /// Best effort: failure is logged.
    async fn own_dir(&self, handle: &str, spec: &WorkspaceSpec, dir: &str) {
        let req = ExecRequest {
            argv: vec![
                "sh".into(),
                "-c".into(),
                concat!(
                    "u=\"${1%%:*}\"; case \"$u\" in *[!0-9]*) u=\"$(id -u \"$u\")\" ;; esac; ",
                    "[ \"$(stat -c %u \"$2\")\" = \"$u\" ] || chown \"$1\" \"$2\" 2>/dev/null || chmod 0777 \"$2\""
                )
                .into(),
                "sh".into(),
                spec.user.clone(),
                dir.to_owned(),
            ],
            cwd: None,
            env: Vec::new(),
            user: Some("0".into()),
            timeout: Duration::from_secs(10),
            max_output_bytes: 4096,
        };
        let outcome = match self.client().await {
            Ok(d) => crate::exec::run(&d, handle, &req).await,
            Err(e) => Err(e),
        };
        match outcome {
            Ok(out) if out.exit_code == Some(0) => {}
            Ok(out) => {
                warn!(workspace = %spec.id, stderr = %String::from_utf8_lossy(&out.stderr), "giving the data directory to the workspace user failed")
            }
            Err(e) => {
                warn!(workspace = %spec.id, error = %e, "giving the data directory to the workspace user failed")
            }
        }
    }

    pub(super) async fn destroy_workspace(
        &self,
        workspace: &str,
        keep_data: bool,
    ) -> Result<(), RuntimeError> {
        // By label, never by name alone: another installation on the same
        // engine uses the same names, and its objects are not ours.
        for c in self.list_containers(Some(workspace)).await? {
            self.remove_container(&c.handle).await?;
        }
        for (name, _) in self.networks(Some(workspace)).await? {
            self.remove_network(&name).await?;
        }
        if !keep_data {
            for name in self.volumes(workspace).await? {
                self.remove_volume(&name).await?;
            }
        }
        Ok(())
    }

    /// This installation's workspaces with a container, and those with only
    /// a network left.
    pub(super) async fn present(&self) -> Result<Vec<Present>, RuntimeError> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for info in self.list_containers(None).await? {
            if let Some(ws) = info.workspace.clone() {
                seen.insert(ws.clone());
                out.push(Present {
                    workspace: ws,
                    info: Some(info),
                });
            }
        }
        for (_, ws) in self.networks(None).await? {
            if seen.insert(ws.clone()) {
                out.push(Present {
                    workspace: ws,
                    info: None,
                });
            }
        }
        Ok(out)
    }
}
