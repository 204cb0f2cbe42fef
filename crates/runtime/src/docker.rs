//! [`WorkspaceRuntime`] over the Docker Engine API (Docker or Podman).

use crate::spec::{ContainerInfo, ContainerSpec, ContainerStatus, PortMapping};
use crate::{ExecOutput, ExecRequest, RuntimeError, WorkspaceRuntime};
use async_trait::async_trait;
use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, ContainerStateStatusEnum,
    ContainerSummaryStateEnum, HostConfig, Ipam, IpamConfig, Mount, MountType,
    NetworkCreateRequest, PortBinding, VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, DownloadFromContainerOptionsBuilder,
    ListContainersOptionsBuilder, ListNetworksOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder, RemoveVolumeOptionsBuilder, StatsOptionsBuilder,
    StopContainerOptionsBuilder, UploadToContainerOptionsBuilder, WaitContainerOptionsBuilder,
};
use bollard::Docker;
use futures_util::StreamExt;
use std::collections::HashMap;
use std::sync::RwLock;

/// Docker says "Pool overlaps with other one on this address space" (and
/// "could not find an available, non-overlapping IPv4 address pool" when
/// its defaults are used up); Podman says the subnet "is already used".
fn is_address_clash(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("overlap") || m.contains("already used") || m.contains("address pool")
}

/// Seconds the engine may take to answer one API request (not a stream).
const REQUEST_TIMEOUT_SECS: u64 = 60;

/// A connection to a Docker-API engine, made on first use and kept.
///
/// Connecting lazily lets the server start (and report "not ready") while
/// the engine is down, and pick the engine up once it appears.
pub struct DockerRuntime {
    host: String,
    client: RwLock<Option<(Docker, String)>>,
}

impl DockerRuntime {
    /// `host` is a `DOCKER_HOST`-style address: `unix:///path` or `tcp://host:port`.
    pub fn new(host: impl Into<String>) -> DockerRuntime {
        DockerRuntime {
            host: host.into(),
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

fn poisoned() -> RuntimeError {
    RuntimeError::Engine("engine client lock poisoned".into())
}

fn label_filters(labels: &HashMap<String, String>) -> HashMap<String, Vec<String>> {
    let mut f = HashMap::new();
    f.insert(
        "label".to_owned(),
        labels.iter().map(|(k, v)| format!("{k}={v}")).collect(),
    );
    f
}

fn status_from_inspect(s: Option<ContainerStateStatusEnum>) -> ContainerStatus {
    match s {
        Some(ContainerStateStatusEnum::CREATED) => ContainerStatus::Created,
        Some(ContainerStateStatusEnum::RUNNING) => ContainerStatus::Running,
        Some(ContainerStateStatusEnum::PAUSED) => ContainerStatus::Paused,
        Some(ContainerStateStatusEnum::RESTARTING) => ContainerStatus::Restarting,
        Some(ContainerStateStatusEnum::EXITED) => ContainerStatus::Exited,
        Some(ContainerStateStatusEnum::DEAD) => ContainerStatus::Dead,
        _ => ContainerStatus::Other,
    }
}

fn info_from_inspect(c: ContainerInspectResponse) -> ContainerInfo {
    let state = c.state.unwrap_or_default();
    let mut ports = Vec::new();
    if let Some(map) = c.network_settings.and_then(|n| n.ports) {
        for (key, bindings) in map {
            let Some(container) = key.split('/').next().and_then(|p| p.parse::<u16>().ok()) else {
                continue;
            };
            for b in bindings.unwrap_or_default() {
                if let Some(host_port) = b.host_port.and_then(|p| p.parse::<u16>().ok()) {
                    ports.push(PortMapping {
                        container,
                        host_ip: b.host_ip.unwrap_or_default(),
                        host_port,
                    });
                }
            }
        }
    }
    ports.sort_by_key(|p| (p.container, p.host_port));
    ContainerInfo {
        id: c.id.unwrap_or_default(),
        name: c
            .name
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_owned(),
        labels: c.config.and_then(|c| c.labels).unwrap_or_default(),
        status: status_from_inspect(state.status),
        exit_code: state.exit_code,
        error: state.error.filter(|e| !e.is_empty()),
        ports,
    }
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

    async fn ensure_network(
        &self,
        name: &str,
        labels: &HashMap<String, String>,
        subnet: Option<&str>,
    ) -> Result<(), RuntimeError> {
        let d = self.client().await?;
        if d.inspect_network(name, None).await.is_ok() {
            return Ok(());
        }
        let req = NetworkCreateRequest {
            name: name.to_owned(),
            driver: Some("bridge".into()),
            labels: Some(labels.clone()),
            ipam: subnet.map(|s| Ipam {
                driver: Some("default".into()),
                config: Some(vec![IpamConfig {
                    subnet: Some(s.to_owned()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        };
        match d.create_network(req).await {
            Ok(_) => Ok(()),
            Err(e) => match RuntimeError::from(e) {
                // Created concurrently by a retry: fine.
                RuntimeError::Conflict(m) if !is_address_clash(&m) => Ok(()),
                RuntimeError::Conflict(m) | RuntimeError::Engine(m) | RuntimeError::Invalid(m)
                    if is_address_clash(&m) =>
                {
                    Err(RuntimeError::AddressInUse(m))
                }
                other => Err(other),
            },
        }
    }

    async fn remove_network(&self, name: &str) -> Result<(), RuntimeError> {
        match self.client().await?.remove_network(name).await {
            Ok(()) => Ok(()),
            Err(e) => match RuntimeError::from(e) {
                RuntimeError::NotFound(_) => Ok(()),
                other => Err(other),
            },
        }
    }

    async fn ensure_volume(
        &self,
        name: &str,
        labels: &HashMap<String, String>,
    ) -> Result<bool, RuntimeError> {
        let d = self.client().await?;
        if d.inspect_volume(name).await.is_ok() {
            return Ok(false);
        }
        let req = VolumeCreateRequest {
            name: Some(name.to_owned()),
            labels: Some(labels.clone()),
            ..Default::default()
        };
        d.create_volume(req).await?;
        Ok(true)
    }

    async fn remove_volume(&self, name: &str) -> Result<(), RuntimeError> {
        let opts = RemoveVolumeOptionsBuilder::default().force(true).build();
        match self.client().await?.remove_volume(name, Some(opts)).await {
            Ok(()) => Ok(()),
            Err(e) => match RuntimeError::from(e) {
                RuntimeError::NotFound(_) => Ok(()),
                other => Err(other),
            },
        }
    }

    async fn list_networks(
        &self,
        labels: &HashMap<String, String>,
    ) -> Result<Vec<(String, HashMap<String, String>)>, RuntimeError> {
        let opts = ListNetworksOptionsBuilder::default()
            .filters(&label_filters(labels))
            .build();
        let nets = self.client().await?.list_networks(Some(opts)).await?;
        Ok(nets
            .into_iter()
            .filter_map(|n| Some((n.name?, n.labels.unwrap_or_default())))
            .collect())
    }

    async fn create_container(&self, spec: &ContainerSpec) -> Result<String, RuntimeError> {
        let d = self.client().await?;
        let mut port_bindings = HashMap::new();
        let mut exposed = Vec::new();
        for p in &spec.ports {
            let key = format!("{p}/tcp");
            exposed.push(key.clone());
            // Published on loopback with an engine-chosen port: reachable by
            // the server's port preview, never by the outside world.
            port_bindings.insert(
                key,
                Some(vec![PortBinding {
                    host_ip: Some("127.0.0.1".into()),
                    host_port: Some(String::new()),
                }]),
            );
        }
        let host_config = HostConfig {
            memory: Some(spec.memory_bytes),
            // Equal to `memory`: the container gets no swap on top.
            memory_swap: Some(spec.memory_bytes),
            nano_cpus: Some(spec.cpu_millis * 1_000_000),
            pids_limit: Some(spec.pids_limit),
            security_opt: Some(vec!["no-new-privileges".into()]),
            cap_drop: Some(vec!["ALL".into()]),
            cap_add: Some(spec.cap_add.clone()),
            // A real init as PID 1 reaps zombies and makes `stop` prompt:
            // `sleep` alone ignores SIGTERM and every stop would wait out
            // its full timeout.
            init: Some(true),
            network_mode: Some(spec.network.clone()),
            mounts: Some(vec![Mount {
                target: Some(spec.volume_target.clone()),
                source: Some(spec.volume.clone()),
                typ: Some(MountType::VOLUME),
                ..Default::default()
            }]),
            port_bindings: (!port_bindings.is_empty()).then_some(port_bindings),
            ..Default::default()
        };
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            hostname: Some(spec.hostname.clone()),
            user: Some(spec.user.clone()),
            env: Some(spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
            labels: Some(spec.labels.clone()),
            working_dir: Some(spec.volume_target.clone()),
            cmd: Some(vec!["sleep".into(), "infinity".into()]),
            entrypoint: Some(vec![]),
            exposed_ports: (!exposed.is_empty()).then_some(exposed),
            host_config: Some(host_config),
            ..Default::default()
        };
        let opts = CreateContainerOptionsBuilder::default()
            .name(&spec.name)
            .build();
        let created = d.create_container(Some(opts), body).await.map_err(|e| {
            match RuntimeError::from(e) {
                RuntimeError::NotFound(m) => RuntimeError::ImageUnavailable {
                    image: spec.image.clone(),
                    message: m,
                },
                other => other,
            }
        })?;
        Ok(created.id)
    }

    async fn start_container(&self, id: &str) -> Result<(), RuntimeError> {
        match self.client().await?.start_container(id, None).await {
            Ok(()) => Ok(()),
            Err(e) => match RuntimeError::from(e) {
                // 304: already running.
                RuntimeError::Conflict(m) if m.is_empty() || m.contains("already") => Ok(()),
                other => Err(other),
            },
        }
    }

    async fn stop_container(&self, id: &str, timeout_secs: i64) -> Result<(), RuntimeError> {
        let opts = StopContainerOptionsBuilder::default()
            .t(timeout_secs as i32)
            .build();
        match self.client().await?.stop_container(id, Some(opts)).await {
            Ok(()) => Ok(()),
            Err(e) => match RuntimeError::from(e) {
                // 304: already stopped.
                RuntimeError::Conflict(_) => Ok(()),
                other => Err(other),
            },
        }
    }

    async fn remove_container(&self, id: &str) -> Result<(), RuntimeError> {
        let opts = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(false)
            .build();
        match self.client().await?.remove_container(id, Some(opts)).await {
            Ok(()) => Ok(()),
            Err(e) => match RuntimeError::from(e) {
                RuntimeError::NotFound(_) => Ok(()),
                // "removal already in progress"
                RuntimeError::Conflict(m) if m.contains("in progress") => Ok(()),
                other => Err(other),
            },
        }
    }

    async fn inspect_container(&self, id: &str) -> Result<Option<ContainerInfo>, RuntimeError> {
        match self.client().await?.inspect_container(id, None).await {
            Ok(c) => Ok(Some(info_from_inspect(c))),
            Err(e) => match RuntimeError::from(e) {
                RuntimeError::NotFound(_) => Ok(None),
                other => Err(other),
            },
        }
    }

    async fn list_containers(
        &self,
        labels: &HashMap<String, String>,
    ) -> Result<Vec<ContainerInfo>, RuntimeError> {
        let opts = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&label_filters(labels))
            .build();
        let list = self.client().await?.list_containers(Some(opts)).await?;
        Ok(list
            .into_iter()
            .map(|c| ContainerInfo {
                id: c.id.unwrap_or_default(),
                name: c
                    .names
                    .and_then(|n| n.into_iter().next())
                    .unwrap_or_default()
                    .trim_start_matches('/')
                    .to_owned(),
                labels: c.labels.unwrap_or_default(),
                status: match c.state {
                    Some(ContainerSummaryStateEnum::CREATED) => ContainerStatus::Created,
                    Some(ContainerSummaryStateEnum::RUNNING) => ContainerStatus::Running,
                    Some(ContainerSummaryStateEnum::PAUSED) => ContainerStatus::Paused,
                    Some(ContainerSummaryStateEnum::RESTARTING) => ContainerStatus::Restarting,
                    Some(ContainerSummaryStateEnum::EXITED) => ContainerStatus::Exited,
                    Some(ContainerSummaryStateEnum::DEAD) => ContainerStatus::Dead,
                    _ => ContainerStatus::Other,
                },
                exit_code: None,
                error: None,
                ports: Vec::new(),
            })
            .collect())
    }

    async fn wait_exited(
        &self,
        id: &str,
        within: std::time::Duration,
    ) -> Result<Option<i64>, RuntimeError> {
        let d = self.client().await?;
        let opts = WaitContainerOptionsBuilder::default()
            .condition("not-running")
            .build();
        let mut wait = d.wait_container(id, Some(opts));
        match tokio::time::timeout(within, wait.next()).await {
            Err(_) => Ok(None),
            Ok(Some(Ok(r))) => Ok(Some(r.status_code)),
            // bollard reports a non-zero exit as an error carrying the code.
            Ok(Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. }))) => {
                Ok(Some(code))
            }
            Ok(Some(Err(e))) => Err(e.into()),
            Ok(None) => Ok(None),
        }
    }

    async fn logs(&self, id: &str, max_bytes: usize) -> Result<String, RuntimeError> {
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

    async fn sample(&self, id: &str) -> Result<Option<crate::ResourceSample>, RuntimeError> {
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
