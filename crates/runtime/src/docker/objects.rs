//! The engine objects a Docker workspace is made of — a bridge network, a
//! named volume and a container, named `aicockpit-{net,vol,ws}-{id}` and
//! labelled with the installation and the workspace — and the engine calls
//! on them. Nothing outside this backend sees these names or labels.

use super::DockerRuntime;
use crate::spec::{ContainerStatus, PortMapping, WorkspaceInfo, WorkspaceSpec};
use crate::RuntimeError;
use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, ContainerStateStatusEnum,
    ContainerSummaryStateEnum, HostConfig, Ipam, IpamConfig, Mount, MountType,
    NetworkCreateRequest, PortBinding, VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder, ListNetworksOptionsBuilder,
    ListVolumesOptionsBuilder, RemoveContainerOptionsBuilder, RemoveVolumeOptionsBuilder,
    StopContainerOptionsBuilder, WaitContainerOptionsBuilder,
};
use futures_util::StreamExt;
use std::collections::HashMap;

/// Label put on everything AiCockpit creates, so our objects can be told
/// apart from the user's own containers on a shared engine.
const LABEL_MANAGED: &str = "io.aicockpit.managed";
/// Label naming the AiCockpit installation that owns an object. Two servers
/// (or two test runs) on one engine never touch each other's objects.
const LABEL_INSTANCE: &str = "io.aicockpit.instance";
/// Label marking a copy's holder container ("true"); workspace containers
/// say "false", so that an image cannot make one pass for a holder.
pub(super) const LABEL_HOLDER: &str = "io.aicockpit.holder";
/// Label carrying the workspace id a container, network or volume belongs to.
const LABEL_WORKSPACE: &str = "io.aicockpit.workspace";

/// Capabilities a workspace keeps after dropping all: enough for a root exec
/// to fix file ownership and manage its own processes, nothing that reaches
/// outside the container (no NET_RAW, SYS_ADMIN, MKNOD, …).
const CAPABILITIES: &[&str] = &[
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "NET_BIND_SERVICE",
];

pub(super) fn container_name(workspace: &str) -> String {
    format!("aicockpit-ws-{workspace}")
}

pub(super) fn volume_name(workspace: &str) -> String {
    format!("aicockpit-vol-{workspace}")
}

/// A named volume of the workspace besides its data (`--` cannot occur in
/// an id, so it is never another workspace's data volume).
pub(super) fn extra_volume_name(workspace: &str, name: &str) -> String {
    format!("aicockpit-vol-{workspace}--{name}")
}

pub(super) fn network_name(workspace: &str) -> String {
    format!("aicockpit-net-{workspace}")
}

/// Docker says "Pool overlaps with other one on this address space" (and
/// "could not find an available, non-overlapping IPv4 address pool" when
/// its defaults are used up); Podman says the subnet "is already used".
fn is_address_clash(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("overlap") || m.contains("already used") || m.contains("address pool")
}

/// Whether `labels` has every one of `want` (engines' filters are not
/// trusted to AND them).
pub(super) fn carries(labels: &HashMap<String, String>, want: &HashMap<String, String>) -> bool {
    want.iter().all(|(k, v)| labels.get(k) == Some(v))
}

pub(super) fn label_filters(labels: &HashMap<String, String>) -> HashMap<String, Vec<String>> {
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

fn info_from_inspect(c: ContainerInspectResponse) -> WorkspaceInfo {
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
    let labels = c.config.and_then(|c| c.labels).unwrap_or_default();
    WorkspaceInfo {
        handle: c.id.unwrap_or_default(),
        workspace: labels.get(LABEL_WORKSPACE).cloned(),
        labels,
        status: status_from_inspect(state.status),
        exit_code: state.exit_code,
        error: state.error.filter(|e| !e.is_empty()),
        ports,
    }
}

impl DockerRuntime {
    /// The labels of every object of `workspace`.
    pub(super) fn labels(
        &self,
        workspace: &str,
        annotations: &[(String, String)],
    ) -> HashMap<String, String> {
        let mut labels: HashMap<String, String> = annotations
            .iter()
            .map(|(k, v)| (format!("io.aicockpit.{k}"), v.clone()))
            .collect();
        labels.insert(LABEL_MANAGED.to_owned(), "true".to_owned());
        labels.insert(LABEL_INSTANCE.to_owned(), self.instance.clone());
        labels.insert(LABEL_WORKSPACE.to_owned(), workspace.to_owned());
        labels.insert(LABEL_HOLDER.to_owned(), "false".to_owned());
        labels
    }

    /// The labels of an object of this installation that belongs to no
    /// workspace (`io.aicockpit.{key}` for each of `facts`): a snapshot's,
    /// a copy's holder container.
    pub(super) fn own_labels(&self, facts: &[(&str, &str)]) -> HashMap<String, String> {
        let mut labels: HashMap<String, String> = facts
            .iter()
            .map(|(k, v)| (format!("io.aicockpit.{k}"), (*v).to_owned()))
            .collect();
        labels.insert(LABEL_MANAGED.to_owned(), "true".to_owned());
        labels.insert(LABEL_INSTANCE.to_owned(), self.instance.clone());
        labels
    }

    /// Whether an object carries this installation's label.
    pub(super) fn is_mine(&self, info: &WorkspaceInfo) -> bool {
        info.labels.get(LABEL_INSTANCE) == Some(&self.instance)
    }

    /// The label filter selecting this installation's objects (of one
    /// workspace, or all).
    pub(super) fn mine(&self, workspace: Option<&str>) -> HashMap<String, String> {
        let mut f = HashMap::from([(LABEL_INSTANCE.to_owned(), self.instance.clone())]);
        if let Some(ws) = workspace {
            f.insert(LABEL_WORKSPACE.to_owned(), ws.to_owned());
        }
        f
    }

    pub(super) async fn ensure_network(
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

    pub(super) async fn remove_network(&self, name: &str) -> Result<(), RuntimeError> {
        match self.client().await?.remove_network(name).await {
            Ok(()) => Ok(()),
            Err(e) => match RuntimeError::from(e) {
                RuntimeError::NotFound(_) => Ok(()),
                other => Err(other),
            },
        }
    }

    pub(super) async fn ensure_volume(
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

    pub(super) async fn remove_volume(&self, name: &str) -> Result<(), RuntimeError> {
        let opts = RemoveVolumeOptionsBuilder::default().force(true).build();
        match self.client().await?.remove_volume(name, Some(opts)).await {
            Ok(()) => Ok(()),
            Err(e) => match RuntimeError::from(e) {
                RuntimeError::NotFound(_) => Ok(()),
                other => Err(other),
            },
        }
    }

    /// This installation's networks (of one workspace, or all), as
    /// (name, workspace).
    pub(super) async fn networks(
        &self,
        workspace: Option<&str>,
    ) -> Result<Vec<(String, String)>, RuntimeError> {
        let opts = ListNetworksOptionsBuilder::default()
            .filters(&label_filters(&self.mine(workspace)))
            .build();
        let nets = self.client().await?.list_networks(Some(opts)).await?;
        let want = self.mine(workspace);
        Ok(nets
            .into_iter()
            .filter_map(|n| {
                let labels = n.labels?;
                carries(&labels, &want).then_some(())?;
                Some((n.name?, labels.get(LABEL_WORKSPACE)?.clone()))
            })
            .collect())
    }

    /// The names of one workspace's volumes.
    pub(super) async fn volumes(&self, workspace: &str) -> Result<Vec<String>, RuntimeError> {
        let opts = ListVolumesOptionsBuilder::default()
            .filters(&label_filters(&self.mine(Some(workspace))))
            .build();
        let list = self.client().await?.list_volumes(Some(opts)).await?;
        // Checked again here: Podman's volume filter matches any one label.
        let want = self.mine(Some(workspace));
        Ok(list
            .volumes
            .unwrap_or_default()
            .into_iter()
            .filter(|v| carries(&v.labels, &want))
            .map(|v| v.name)
            .collect())
    }

    /// Creates (does not start) the workspace's container on its network
    /// and volume; returns its id.
    pub(super) async fn create_container(
        &self,
        spec: &WorkspaceSpec,
    ) -> Result<String, RuntimeError> {
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
            memory: Some(spec.limits.memory_bytes),
            // Equal to `memory`: the container gets no swap on top.
            memory_swap: Some(spec.limits.memory_bytes),
            nano_cpus: Some(spec.limits.cpu_millis * 1_000_000),
            pids_limit: Some(spec.limits.pids),
            security_opt: Some(vec!["no-new-privileges".into()]),
            cap_drop: Some(vec!["ALL".into()]),
            cap_add: Some(
                CAPABILITIES
                    .iter()
                    .map(|c| (*c).to_owned())
                    .chain(
                        spec.extra_capabilities
                            .iter()
                            .filter(|c| !CAPABILITIES.contains(&c.as_str()))
                            .cloned(),
                    )
                    .collect(),
            ),
            // A real init as PID 1 reaps zombies and makes `stop` prompt:
            // `sleep` alone ignores SIGTERM and every stop would wait out
            // its full timeout.
            init: Some(true),
            network_mode: Some(network_name(&spec.id)),
            mounts: Some(
                std::iter::once(Mount {
                    target: Some(spec.data_dir.clone()),
                    source: Some(volume_name(&spec.id)),
                    typ: Some(MountType::VOLUME),
                    ..Default::default()
                })
                .chain(spec.volumes.iter().map(|v| Mount {
                    target: Some(v.target.clone()),
                    source: Some(extra_volume_name(&spec.id, &v.name)),
                    typ: Some(MountType::VOLUME),
                    ..Default::default()
                }))
                .collect(),
            ),
            port_bindings: (!port_bindings.is_empty()).then_some(port_bindings),
            ..Default::default()
        };
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            hostname: Some(spec.hostname.clone()),
            user: Some(spec.user.clone()),
            env: Some(spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
            labels: Some(self.labels(&spec.id, &spec.annotations)),
            working_dir: Some(spec.data_dir.clone()),
            cmd: Some(vec!["sleep".into(), "infinity".into()]),
            entrypoint: Some(vec![]),
            exposed_ports: (!exposed.is_empty()).then_some(exposed),
            host_config: Some(host_config),
            ..Default::default()
        };
        let opts = CreateContainerOptionsBuilder::default()
            .name(&container_name(&spec.id))
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

    /// Changes a container's CPU, memory (no swap on top) and process
    /// limits in place.
    pub(super) async fn update_limits(
        &self,
        id: &str,
        limits: &crate::Limits,
    ) -> Result<(), RuntimeError> {
        let body = bollard::models::ContainerUpdateBody {
            memory: Some(limits.memory_bytes),
            memory_swap: Some(limits.memory_bytes),
            nano_cpus: Some(limits.cpu_millis * 1_000_000),
            pids_limit: Some(limits.pids),
            ..Default::default()
        };
        self.client().await?.update_container(id, body).await?;
        Ok(())
    }

    pub(super) async fn start_container(&self, id: &str) -> Result<(), RuntimeError> {
        match self.client().await?.start_container(id, None).await {
            Ok(()) => Ok(()),
            Err(e) => match RuntimeError::from(e) {
                // 304: already running.
                RuntimeError::Conflict(m) if m.is_empty() || m.contains("already") => Ok(()),
                other => Err(other),
            },
        }
    }

    pub(super) async fn stop_container(
        &self,
        id: &str,
        grace: std::time::Duration,
    ) -> Result<(), RuntimeError> {
        let opts = StopContainerOptionsBuilder::default()
            .t(i32::try_from(grace.as_secs()).unwrap_or(i32::MAX))
            .build();
        match self.client().await?.stop_container(id, Some(opts)).await {
            Ok(()) => Ok(()),
            Err(e) => match RuntimeError::from(e) {
                // 304: already stopped.
                RuntimeError::Conflict(_) | RuntimeError::NotFound(_) => Ok(()),
                other => Err(other),
            },
        }
    }

    pub(super) async fn remove_container(&self, id: &str) -> Result<(), RuntimeError> {
        self.remove_container_with(id, false).await
    }

    /// Removes a container, and its anonymous volumes when asked (a
    /// holder's, made by an image's `VOLUME`; named volumes stay).
    pub(super) async fn remove_container_with(
        &self,
        id: &str,
        anonymous_volumes: bool,
    ) -> Result<(), RuntimeError> {
        let opts = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(anonymous_volumes)
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

    pub(super) async fn inspect_container(
        &self,
        id: &str,
    ) -> Result<Option<WorkspaceInfo>, RuntimeError> {
        match self.client().await?.inspect_container(id, None).await {
            Ok(c) => Ok(Some(info_from_inspect(c))),
            Err(e) => match RuntimeError::from(e) {
                RuntimeError::NotFound(_) => Ok(None),
                other => Err(other),
            },
        }
    }

    /// This installation's containers (of one workspace, or all), running
    /// or not.
    pub(super) async fn list_containers(
        &self,
        workspace: Option<&str>,
    ) -> Result<Vec<WorkspaceInfo>, RuntimeError> {
        let labels = &self.mine(workspace);
        let opts = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&label_filters(labels))
            .build();
        let list = self.client().await?.list_containers(Some(opts)).await?;
        Ok(list
            .into_iter()
            .filter(|c| c.labels.as_ref().is_some_and(|l| carries(l, labels)))
            // A copy's holder may carry a workspace label it inherited from
            // a snapshot image; it is no workspace's container.
            .filter(|c| {
                c.labels
                    .as_ref()
                    .and_then(|l| l.get(LABEL_HOLDER))
                    .map(String::as_str)
                    != Some("true")
            })
            .map(|c| {
                let labels = c.labels.unwrap_or_default();
                WorkspaceInfo {
                    handle: c.id.unwrap_or_default(),
                    workspace: labels.get(LABEL_WORKSPACE).cloned(),
                    labels,
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
                }
            })
            .collect())
    }

    pub(super) async fn wait_exited(
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
}
