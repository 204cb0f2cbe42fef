//! The container engine behind workspaces.
//!
//! [`WorkspaceRuntime`] is the one interface the rest of AiCockpit uses to
//! run workspaces; [`DockerRuntime`] implements it over the Docker Engine API
//! (Docker and Podman's compatible service). *Invariant:* this is the only
//! crate that talks to a container engine.

mod docker;
mod error;
mod exec;
mod spec;

pub use docker::DockerRuntime;
pub use error::RuntimeError;
pub use spec::{
    Attached, ContainerInfo, ContainerSpec, ContainerStatus, ExecOutput, ExecRequest, PortMapping,
    ResourceSample,
};

use async_trait::async_trait;
use std::collections::HashMap;

/// Label put on everything AiCockpit creates, so our objects can be told
/// apart from the user's own containers on a shared engine.
pub const LABEL_MANAGED: &str = "io.aicockpit.managed";
/// Label naming the AiCockpit installation that owns an object. Two servers
/// (or two test runs) on one engine never touch each other's objects.
pub const LABEL_INSTANCE: &str = "io.aicockpit.instance";
/// Label carrying the workspace id a container, network or volume belongs to.
pub const LABEL_WORKSPACE: &str = "io.aicockpit.workspace";

/// Operations on a container engine that workspaces need.
///
/// Every method is idempotent where that makes sense (removing something that
/// is already gone succeeds), because callers retry after crashes.
#[async_trait]
pub trait WorkspaceRuntime: Send + Sync {
    /// A short name for logs and `/ready` (`docker` or `podman`).
    fn engine_name(&self) -> String;
    /// Cheap liveness check of the engine.
    async fn ping(&self) -> Result<(), RuntimeError>;
    /// Whether `image` is present locally.
    async fn image_exists(&self, image: &str) -> Result<bool, RuntimeError>;
    /// Pulls `image`, reporting progress lines through `progress`.
    async fn pull_image(
        &self,
        image: &str,
        progress: &(dyn Fn(String) + Send + Sync),
    ) -> Result<(), RuntimeError>;
    /// Creates the network if absent, with `subnet` when given; a subnet
    /// already in use is [`RuntimeError::AddressInUse`].
    async fn ensure_network(
        &self,
        name: &str,
        labels: &HashMap<String, String>,
        subnet: Option<&str>,
    ) -> Result<(), RuntimeError>;
    async fn remove_network(&self, name: &str) -> Result<(), RuntimeError>;
    /// Creates the volume if absent; returns true if it was created now.
    async fn ensure_volume(
        &self,
        name: &str,
        labels: &HashMap<String, String>,
    ) -> Result<bool, RuntimeError>;
    async fn remove_volume(&self, name: &str) -> Result<(), RuntimeError>;
    /// Names of networks carrying all of `labels`.
    async fn list_networks(
        &self,
        labels: &HashMap<String, String>,
    ) -> Result<Vec<(String, HashMap<String, String>)>, RuntimeError>;
    /// Creates (does not start) a container; returns its id.
    async fn create_container(&self, spec: &ContainerSpec) -> Result<String, RuntimeError>;
    async fn start_container(&self, id: &str) -> Result<(), RuntimeError>;
    /// Stops gracefully, killing after `timeout_secs`.
    async fn stop_container(&self, id: &str, timeout_secs: i64) -> Result<(), RuntimeError>;
    /// Force-removes a container; succeeds if it is already gone.
    async fn remove_container(&self, id: &str) -> Result<(), RuntimeError>;
    /// The container's state, or `None` if it does not exist.
    async fn inspect_container(&self, id: &str) -> Result<Option<ContainerInfo>, RuntimeError>;
    /// Containers (running or not) carrying all of `labels`.
    async fn list_containers(
        &self,
        labels: &HashMap<String, String>,
    ) -> Result<Vec<ContainerInfo>, RuntimeError>;
    /// Waits up to `within` for the container to exit; returns its exit code
    /// if it did. Used to catch containers that die right after starting.
    async fn wait_exited(
        &self,
        id: &str,
        within: std::time::Duration,
    ) -> Result<Option<i64>, RuntimeError>;
    /// The last `max_bytes` of the container's output (for error reports).
    async fn logs(&self, id: &str, max_bytes: usize) -> Result<String, RuntimeError>;
    /// Current resource use of a running container (None if not running).
    async fn sample(&self, id: &str) -> Result<Option<ResourceSample>, RuntimeError>;
    /// The content of the regular file at `path` in the container's
    /// filesystem, read by the engine; `None` when there is none, or when
    /// it is larger than `max` bytes (nothing past `max` is buffered).
    async fn read_file(
        &self,
        id: &str,
        path: &str,
        max: u64,
    ) -> Result<Option<Vec<u8>>, RuntimeError>;
    /// Writes one file (and its missing parent directories) into the
    /// container's filesystem; the engine does it, so the container needs
    /// no privileges for it.
    async fn put_file(
        &self,
        id: &str,
        path: &str,
        content: &[u8],
        mode: u32,
    ) -> Result<(), RuntimeError>;
    /// Starts `argv` with its stdin and stdout attached: a byte stream both
    /// ways (stderr goes to the server log).
    async fn attach(&self, id: &str, argv: &[String]) -> Result<Attached, RuntimeError>;
    /// Runs a command to completion inside a running container.
    async fn exec(&self, id: &str, req: &ExecRequest) -> Result<ExecOutput, RuntimeError>;
}
