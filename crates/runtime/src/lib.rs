//! The backends that run workspaces.
//!
//! [`WorkspaceRuntime`] is the one interface the rest of AiCockpit uses to
//! run workspaces, in the workspace's own terms: provision, start, stop,
//! destroy (with or without its data), exec, attach, copy a file in,
//! inspect, list, usage. How a backend makes a workspace out of engine
//! objects (Docker: a network, a volume and a container, with labels,
//! capabilities and names) stays inside it. [`DockerRuntime`] implements it
//! over the Docker Engine API (Docker and Podman's compatible service);
//! `tests/conformance.rs` is the suite every backend passes.
//! *Invariant:* this is the only crate that talks to a container engine.

mod docker;
mod error;
mod exec;
mod spec;

pub use docker::{is_snapshot_image, DockerRuntime, BUILT_IMAGE_REPOSITORY};
pub use error::RuntimeError;
pub use exec::OutputSink;
pub use spec::{
    Attached, BuildRequest, ContainerStatus, ContextFile, DataSeed, DataVolume, ExecOutput,
    ExecRequest, GeneratedDockerfile, Limits, NamedVolume, PortMapping, Present, Provisioned,
    ResourceSample, SnapshotRequest, WorkspaceInfo, WorkspaceSpec,
};

use async_trait::async_trait;

/// A look at a Dockerfile before it is built: the base images it names
/// (to be inspected once pulled), or why it may not be built.
pub type DockerfileCheck = dyn for<'a> Fn(&'a [u8]) -> Result<Vec<String>, String> + Send + Sync;

/// What a backend does with workspaces.
///
/// Per-workspace calls take the handle [`WorkspaceRuntime::provision`]
/// returned, except [`WorkspaceRuntime::destroy`], which takes the
/// workspace id so that it can clean up after a crash that lost the handle.
/// Every call is idempotent where that makes sense (destroying what is
/// already gone succeeds), because callers retry after crashes.
#[async_trait]
pub trait WorkspaceRuntime: Send + Sync {
    /// A short name for logs and `/ready` (`docker` or `podman`).
    fn engine_name(&self) -> String;
    /// Cheap liveness check of the backend.
    async fn ping(&self) -> Result<(), RuntimeError>;
    /// Makes `image` available, pulling it if needed and reporting progress
    /// lines through `progress`.
    async fn ensure_image(
        &self,
        image: &str,
        progress: &(dyn Fn(String) + Send + Sync),
    ) -> Result<(), RuntimeError>;
    /// Makes the workspace and starts it for the first time: its private
    /// network (on the first free range of `spec.subnets`, else
    /// [`RuntimeError::NoFreeAddressRange`]), its data (kept data of the
    /// same id is reused; new data is a copy of `spec.seed` when set), and what runs it. A leftover of an interrupted
    /// attempt is replaced. A start that fails is [`RuntimeError::StartFailed`].
    /// On error nothing made by this call is left behind (kept data stays).
    async fn provision(&self, spec: &WorkspaceSpec) -> Result<Provisioned, RuntimeError>;
    /// Builds an image from a directory of the running workspace (its files
    /// read by the backend, at most `req.max_context_bytes`), reporting the
    /// build's output through `progress`; returns the image reference. An
    /// image built before from the same content is reused. `check` sees the
    /// Dockerfile as the engine will (it is sent under a name of the
    /// backend's choosing, with the context), and its refusal stops the
    /// build; base images with `ONBUILD` triggers are refused.
    async fn build_image(
        &self,
        handle: &str,
        req: &BuildRequest,
        check: &crate::DockerfileCheck,
        progress: &(dyn Fn(String) + Send + Sync),
    ) -> Result<String, RuntimeError>;
    /// Removes this installation's built images that none of `in_use`
    /// names and that were made at least `min_age` ago (an image a
    /// container still runs is left alone); returns what it removed.
    async fn prune_built_images(
        &self,
        in_use: &[String],
        min_age: std::time::Duration,
    ) -> Result<Vec<String>, RuntimeError>;
    /// Starts a stopped workspace ([`RuntimeError::StartFailed`] if it cannot).
    async fn start(&self, handle: &str) -> Result<(), RuntimeError>;
    /// Stops gracefully, killing after `grace`; a stopped or missing
    /// workspace is fine.
    async fn stop(&self, handle: &str, grace: std::time::Duration) -> Result<(), RuntimeError>;
    /// Removes the workspace's objects, and its data unless `keep_data`.
    async fn destroy(&self, workspace: &str, keep_data: bool) -> Result<(), RuntimeError>;
    /// The workspace's state, or `None` if nothing runs it.
    async fn inspect(&self, handle: &str) -> Result<Option<WorkspaceInfo>, RuntimeError>;
    /// Every workspace of this installation that has objects on the
    /// backend, whether or not it has a record.
    async fn list(&self) -> Result<Vec<Present>, RuntimeError>;
    /// The data of every workspace of this installation (including the
    /// kept data of deleted ones).
    async fn data_volumes(&self) -> Result<Vec<DataVolume>, RuntimeError>;
    /// Takes a snapshot: the container's own filesystem as an image (paused
    /// meanwhile), and a copy of its data. Returns the image reference a
    /// workspace of the snapshot is made from. On error nothing is left.
    async fn snapshot(&self, req: &SnapshotRequest) -> Result<String, RuntimeError>;
    /// Removes a snapshot's image and data ([`RuntimeError::Conflict`]
    /// while a workspace's container is made from its image).
    async fn delete_snapshot(&self, snapshot: &str) -> Result<(), RuntimeError>;
    /// Writes a snapshot's image to `image_out` and its data to `data_out`
    /// (archives a server of the same backend reads back).
    async fn write_snapshot(
        &self,
        snapshot: &str,
        user: &str,
        image_out: &std::path::Path,
        data_out: &std::path::Path,
    ) -> Result<(), RuntimeError>;
    /// Makes snapshot `snapshot` of archives written by
    /// [`WorkspaceRuntime::write_snapshot`] (on any server); returns its
    /// image. The image archive cannot name or replace any other image.
    async fn read_snapshot(
        &self,
        snapshot: &str,
        user: &str,
        image_tar: &std::path::Path,
        data_tar: &std::path::Path,
    ) -> Result<String, RuntimeError>;
    /// Changes a running workspace's limits in place (a claimed warm-pool
    /// workspace gets the limits its creator asked for).
    async fn set_limits(&self, handle: &str, limits: &Limits) -> Result<(), RuntimeError>;
    /// Records facts (owner, name) about a workspace that was made without
    /// them (ahead, for a warm pool), kept with its data: a deleted
    /// workspace's kept data then says whose it is.
    async fn annotate(
        &self,
        workspace: &str,
        annotations: &[(String, String)],
    ) -> Result<(), RuntimeError>;
    /// The last `max_bytes` of the workspace's own output (for error reports).
    async fn logs(&self, handle: &str, max_bytes: usize) -> Result<String, RuntimeError>;
    /// Current resource use (None if not running).
    async fn usage(&self, handle: &str) -> Result<Option<ResourceSample>, RuntimeError>;
    /// The content of the regular file at `path` in the workspace's
    /// filesystem, read by the backend; `None` when there is none, or when
    /// it is larger than `max` bytes (nothing past `max` is buffered).
    async fn read_file(
        &self,
        handle: &str,
        path: &str,
        max: u64,
    ) -> Result<Option<Vec<u8>>, RuntimeError>;
    /// Copies one file (and its missing parent directories) in; the backend
    /// does it, so the workspace needs no privileges for it.
    async fn put_file(
        &self,
        handle: &str,
        path: &str,
        content: &[u8],
        mode: u32,
    ) -> Result<(), RuntimeError>;
    /// Starts `argv` with its stdin and stdout attached: a byte stream both
    /// ways (stderr goes to the server log).
    async fn attach(&self, handle: &str, argv: &[String]) -> Result<Attached, RuntimeError>;
    /// Runs a command to completion inside a running workspace.
    async fn exec(&self, handle: &str, req: &ExecRequest) -> Result<ExecOutput, RuntimeError>;
    /// [`WorkspaceRuntime::exec`], with the output also given to `sink` as
    /// it arrives (a clone's progress).
    async fn exec_observed(
        &self,
        handle: &str,
        req: &ExecRequest,
        sink: exec::OutputSink<'_>,
    ) -> Result<ExecOutput, RuntimeError>;
}
