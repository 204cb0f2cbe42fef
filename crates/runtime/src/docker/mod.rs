//! [`WorkspaceRuntime`] over the Docker Engine API (Docker or Podman).

mod build;
mod kept;
mod lifecycle;
mod objects;
mod snapshots;
mod transfer;

pub use build::BUILT_IMAGE_REPOSITORY;
pub use snapshots::is_snapshot_image;

use crate::spec::{Present, Provisioned, WorkspaceInfo, WorkspaceSpec};
use crate::{ExecOutput, ExecRequest, RuntimeError, WorkspaceRuntime};
use async_trait::async_trait;
use bollard::query_parameters::{
    CreateImageOptionsBuilder, DownloadFromContainerOptionsBuilder, LogsOptionsBuilder,
    StatsOptionsBuilder, UploadToContainerOptionsBuilder,
};
use bollard::Docker;
use futures_util::StreamExt;
use std::sync::RwLock;

/// Seconds the engine may take to answer one API request (not a stream).
const REQUEST_TIMEOUT_SECS: u64 = 60;

/// A connection to a Docker-API engine, made on first use and kept.
///
/// Connecting lazily lets the server start (and report "not ready") while
/// the engine is down, and pick the engine up once it appears.
pub struct DockerRuntime {
    host: String,
    /// The installation whose workspaces these are: every object carries it
    /// as a label, and only objects carrying it are listed or swept, so two
    /// servers (or test runs) on one engine never touch each other's.
    instance: String,
    client: RwLock<Option<(Docker, String)>>,
}

impl DockerRuntime {
    /// `host` is a `DOCKER_HOST`-style address: `unix:///path` or
    /// `tcp://host:port`; `instance` is this installation's id.
    pub fn new(host: impl Into<String>, instance: impl Into<String>) -> DockerRuntime {
        DockerRuntime {
            host: host.into(),
            instance: instance.into(),
            client: RwLock::new(None),
        }
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    async fn client(&self) -> Result<Docker, RuntimeError> {
        if let Some((d, _)) = self.client.read().map_err(|_| poisoned())?.as_ref() {
            return Ok(d.clone());
        }
        let docker = if let Some(path) = self.host.strip_prefix("unix://") {
            Docker::connect_with_unix(path, REQUEST_TIMEOUT_SECS, bollard::API_DEFAULT_VERSION)?
        } else if self.host.starts_with("tcp://") || self.host.starts_with("http://") {
            Docker::connect_with_http(
                &self.host,
                REQUEST_TIMEOUT_SECS,
                bollard::API_DEFAULT_VERSION,
            )?
        } else {
            return Err(RuntimeError::Unavailable(format!(
                "unsupported engine address {:?} (use unix:// or tcp://)",
                self.host
            )));
        };
        // Docker 20.10 speaks API 1.41 and refuses newer clients, so agree on
        // a version once. Podman answers /version slowly (up to 0.7 s), which
        // is why this happens once per connection and not per request.
        let docker = docker.negotiate_version().await?;
        let version = docker.version().await?;
        let is_podman = version
            .components
            .unwrap_or_default()
            .iter()
            .any(|c| c.name.to_lowercase().contains("podman"));
        let name = if is_podman { "podman" } else { "docker" }.to_owned();
        *self.client.write().map_err(|_| poisoned())? = Some((docker.clone(), name));
        Ok(docker)
    }
}

impl DockerRuntime {
    async fn container_logs(&self, id: &str, max_bytes: usize) -> Result<String, RuntimeError> {
        let d = self.client().await?;
        let opts = LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .tail("50")
            .build();
        let mut stream = d.logs(id, Some(opts));
        let mut out = Vec::new();
        while let Some(item) = stream.next().await {
            match item {
                Ok(chunk) => out.extend_from_slice(&chunk.into_bytes()),
                Err(_) => break,
            }
        }
        let start = out.len().saturating_sub(max_bytes);
        Ok(String::from_utf8_lossy(&out[start..]).trim().to_owned())
    }

    async fn image_exists(&self, image: &str) -> Result<bool, RuntimeError> {
        match self.client().await?.inspect_image(image).await {
            Ok(_) => Ok(true),
            Err(e) => match RuntimeError::from(e) {
                RuntimeError::NotFound(_) => Ok(false),
                other => Err(other),
            },
        }
    }

    async fn pull_image(
        &self,
        image: &str,
        progress: &(dyn Fn(String) + Send + Sync),
    ) -> Result<(), RuntimeError> {
        let d = self.client().await?;
        let opts = CreateImageOptionsBuilder::default()
            .from_image(image)
            .build();
        let mut stream = d.create_image(Some(opts), None, None);
        while let Some(item) = stream.next().await {
            match item {
                Ok(info) => {
                    if let Some(detail) = info.error_detail.and_then(|d| d.message) {
                        return Err(RuntimeError::ImageUnavailable {
                            image: image.into(),
                            message: detail,
                        });
                    }
                    let done = info
                        .progress_detail
                        .as_ref()
                        .and_then(|p| p.current.zip(p.total));
                    let line = match (info.id, info.status, done) {
                        (Some(id), Some(s), Some((cur, total))) => {
                            format!("{id}: {s} {cur}/{total} bytes")
                        }
                        (Some(id), Some(s), None) => format!("{id}: {s}"),
                        (None, Some(s), _) => s,
                        _ => continue,
                    };
                    progress(line);
                }
                // The engine answered, with the registry's failure (which
                // may well read "connection refused").
                Err(bollard::errors::Error::DockerStreamError { error }) => {
                    return Err(RuntimeError::ImageUnavailable {
                        image: image.into(),
                        message: error,
                    })
                }
                Err(e) => {
                    return Err(match RuntimeError::from(e) {
                        RuntimeError::Unavailable(m) => RuntimeError::Unavailable(m),
                        other => RuntimeError::ImageUnavailable {
                            image: image.into(),
                            message: other.to_string(),
                        },
                    })
                }
            }
        }
        Ok(())
    }
}

fn poisoned() -> RuntimeError {
    RuntimeError::Engine("engine client lock poisoned".into())
}

#[async_trait]
impl WorkspaceRuntime for DockerRuntime {
    fn engine_name(&self) -> String {
        match self.client.read() {
            Ok(g) => g
                .as_ref()
                .map(|(_, n)| n.clone())
                .unwrap_or_else(|| "docker".into()),
            Err(_) => "docker".into(),
        }
    }

    async fn ping(&self) -> Result<(), RuntimeError> {
        let d = self.client().await?;
        d.ping()
            .await
            .map_err(|e| RuntimeError::Unavailable(e.to_string()))?;
        Ok(())
    }

    async fn ensure_image(
        &self,
        image: &str,
        progress: &(dyn Fn(String) + Send + Sync),
    ) -> Result<(), RuntimeError> {
        if !self.image_exists(image).await? {
            self.pull_image(image, progress).await?;
        }
        Ok(())
    }

    async fn provision(&self, spec: &WorkspaceSpec) -> Result<Provisioned, RuntimeError> {
        self.provision_workspace(spec).await
    }

    async fn prune_built_images(
        &self,
        in_use: &[String],
        min_age: std::time::Duration,
    ) -> Result<Vec<String>, RuntimeError> {
        self.prune_built(in_use, min_age).await
    }

    async fn build_image(
        &self,
        handle: &str,
        req: &crate::BuildRequest,
        check: &crate::DockerfileCheck,
        progress: &(dyn Fn(String) + Send + Sync),
    ) -> Result<String, RuntimeError> {
        self.build_workspace_image(handle, req, check, progress)
            .await
    }

    async fn start(&self, handle: &str) -> Result<(), RuntimeError> {
        self.start_container(handle)
            .await
            .map_err(lifecycle::start_failure)
    }

    async fn stop(&self, handle: &str, grace: std::time::Duration) -> Result<(), RuntimeError> {
        self.stop_container(handle, grace).await
    }

    async fn destroy(&self, workspace: &str, keep_data: bool) -> Result<(), RuntimeError> {
        self.destroy_workspace(workspace, keep_data).await
    }

    async fn inspect(&self, handle: &str) -> Result<Option<WorkspaceInfo>, RuntimeError> {
        self.inspect_container(handle).await
    }

    async fn list(&self) -> Result<Vec<Present>, RuntimeError> {
        self.present().await
    }

    async fn data_volumes(&self) -> Result<Vec<crate::DataVolume>, RuntimeError> {
        self.list_data_volumes().await
    }

    async fn snapshot(&self, req: &crate::SnapshotRequest) -> Result<String, RuntimeError> {
        self.take_snapshot(req).await
    }

    async fn delete_snapshot(&self, snapshot: &str) -> Result<(), RuntimeError> {
        self.remove_snapshot(snapshot).await
    }

    async fn write_snapshot(
        &self,
        snapshot: &str,
        user: &str,
        image_out: &std::path::Path,
        data_out: &std::path::Path,
    ) -> Result<(), RuntimeError> {
        DockerRuntime::write_snapshot(self, snapshot, user, image_out, data_out).await
    }

    async fn read_snapshot(
        &self,
        snapshot: &str,
        user: &str,
        image_tar: &std::path::Path,
        data_tar: &std::path::Path,
    ) -> Result<String, RuntimeError> {
        DockerRuntime::read_snapshot(self, snapshot, user, image_tar, data_tar).await
    }

    async fn set_limits(&self, handle: &str, limits: &crate::Limits) -> Result<(), RuntimeError> {
        self.update_limits(handle, limits).await
    }

    async fn annotate(
        &self,
        workspace: &str,
        annotations: &[(String, String)],
    ) -> Result<(), RuntimeError> {
        self.write_facts(workspace, annotations).await
    }

    async fn logs(&self, handle: &str, max_bytes: usize) -> Result<String, RuntimeError> {
        self.container_logs(handle, max_bytes).await
    }

    async fn usage(&self, id: &str) -> Result<Option<crate::ResourceSample>, RuntimeError> {
        let d = self.client().await?;
        // one-shot: no second reading a second later; rates are computed by
        // the caller from consecutive samples.
        let opts = StatsOptionsBuilder::default()
            .stream(false)
            .one_shot(true)
            .build();
        let mut stream = d.stats(id, Some(opts));
        let Some(item) = stream.next().await else {
            return Ok(None);
        };
        let st = match item {
            Ok(st) => st,
            Err(e) => {
                return match RuntimeError::from(e) {
                    RuntimeError::NotFound(_) | RuntimeError::Conflict(_) => Ok(None),
                    other => Err(other),
                }
            }
        };
        let mem = st.memory_stats.unwrap_or_default();
        let pids = st.pids_stats.and_then(|p| p.current);
        // A container that is not running has a stats record without
        // readings: that is "no usage", not a usage of zero.
        if mem.usage.is_none() && pids.is_none() {
            return Ok(None);
        }
        let cache = mem
            .stats
            .as_ref()
            .and_then(|s| {
                s.get("total_inactive_file")
                    .or_else(|| s.get("inactive_file"))
                    .copied()
            })
            .unwrap_or(0);
        Ok(Some(crate::ResourceSample {
            cpu_total_ns: st
                .cpu_stats
                .and_then(|c| c.cpu_usage)
                .and_then(|u| u.total_usage)
                .unwrap_or(0),
            memory_bytes: mem.usage.unwrap_or(0).saturating_sub(cache),
            memory_limit_bytes: mem.limit.unwrap_or(0),
            pids: pids.unwrap_or(0),
        }))
    }

    async fn read_file(
        &self,
        id: &str,
        path: &str,
        max: u64,
    ) -> Result<Option<Vec<u8>>, RuntimeError> {
        let opts = DownloadFromContainerOptionsBuilder::default()
            .path(path)
            .build();
        let mut stream = self.client().await?.download_from_container(id, Some(opts));
        // The archive holds one tar header (512 bytes, plus long-name
        // records) before the file: read at most that much more than `max`.
        let cap = max.saturating_add(64 * 1024);
        let mut tar = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) => match RuntimeError::from(e) {
                    RuntimeError::NotFound(m)
                        if !m.to_lowercase().contains("no such container") =>
                    {
                        return Ok(None)
                    }
                    other => return Err(other),
                },
            };
            tar.extend_from_slice(&chunk);
            if tar.len() as u64 > cap {
                break;
            }
        }
        Ok(first_regular_file(&tar, max))
    }

    async fn put_file(
        &self,
        id: &str,
        path: &str,
        content: &[u8],
        mode: u32,
    ) -> Result<(), RuntimeError> {
        let rel = path.trim_start_matches('/');
        let mut builder = tar::Builder::new(Vec::new());
        // Parent directories first, so the engine creates them world-readable.
        let parts: Vec<&str> = rel.split('/').collect();
        for i in 1..parts.len() {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Directory);
            h.set_mode(0o755);
            h.set_size(0);
            builder
                .append_data(
                    &mut h,
                    format!("{}/", parts[..i].join("/")),
                    std::io::empty(),
                )
                .map_err(|e| RuntimeError::Engine(e.to_string()))?;
        }
        let mut h = tar::Header::new_gnu();
        h.set_mode(mode);
        h.set_size(content.len() as u64);
        builder
            .append_data(&mut h, rel, content)
            .map_err(|e| RuntimeError::Engine(e.to_string()))?;
        let tar = builder
            .into_inner()
            .map_err(|e| RuntimeError::Engine(e.to_string()))?;
        let opts = UploadToContainerOptionsBuilder::default().path("/").build();
        self.client()
            .await?
            .upload_to_container(id, Some(opts), bollard::body_full(bytes::Bytes::from(tar)))
            .await?;
        Ok(())
    }

    async fn attach(&self, id: &str, argv: &[String]) -> Result<crate::Attached, RuntimeError> {
        let d = self.client().await?;
        let exec = d
            .create_exec(
                id,
                bollard::exec::CreateExecOptions::<String> {
                    attach_stdin: Some(true),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    cmd: Some(argv.to_vec()),
                    ..Default::default()
                },
            )
            .await?;
        let bollard::exec::StartExecResults::Attached { output, input } =
            d.start_exec(&exec.id, None).await?
        else {
            return Err(RuntimeError::Engine("exec started detached".into()));
        };
        let output = output.filter_map(|item| async move {
            match item {
                Ok(bollard::container::LogOutput::StdOut { message }) => Some(Ok(message)),
                Ok(bollard::container::LogOutput::StdErr { message }) => {
                    tracing::debug!(stderr = %String::from_utf8_lossy(&message), "attached process");
                    None
                }
                Ok(_) => None,
                Err(e) => Some(Err(RuntimeError::from(e))),
            }
        });
        Ok(crate::Attached {
            output: Box::pin(output),
            input,
        })
    }

    async fn exec(&self, id: &str, req: &ExecRequest) -> Result<ExecOutput, RuntimeError> {
        let d = self.client().await?;
        crate::exec::run(&d, id, req).await
    }

    async fn exec_observed(
        &self,
        id: &str,
        req: &ExecRequest,
        sink: crate::OutputSink<'_>,
    ) -> Result<ExecOutput, RuntimeError> {
        let d = self.client().await?;
        crate::exec::run_observed(&d, id, req, Some(sink)).await
    }
}

/// The first entry of a tar archive if it is a regular file of at most
/// `max` bytes (a truncated archive yields `None`).
fn first_regular_file(tar: &[u8], max: u64) -> Option<Vec<u8>> {
    use std::io::Read as _;
    let mut archive = tar::Archive::new(tar);
    let mut entry = archive.entries().ok()?.next()?.ok()?;
    if entry.header().entry_type() != tar::EntryType::Regular || entry.size() > max {
        return None;
    }
    let mut out = Vec::with_capacity(entry.size() as usize);
    entry.read_to_end(&mut out).ok()?;
    (out.len() as u64 == entry.size()).then_some(out)
}
