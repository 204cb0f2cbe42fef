//! Engine-neutral descriptions of workspaces and commands.

use std::collections::HashMap;
use std::time::Duration;

/// What a workspace is, as a backend needs it to make one. The backend
/// names and labels its objects after `id` (and its own installation), so
/// that finding and removing them needs nothing but the id.
#[derive(Debug, Clone)]
pub struct WorkspaceSpec {
    pub id: String,
    pub image: String,
    pub hostname: String,
    /// `uid:gid` or a user name known to the image.
    pub user: String,
    pub env: Vec<(String, String)>,
    pub limits: Limits,
    /// Where the workspace's persistent data is mounted; also the working
    /// directory.
    pub data_dir: String,
    /// Give newly made data to `user` (for images without a `data_dir` of
    /// their own, where it would belong to root).
    pub own_new_data: bool,
    /// Check that the first start keeps running: an arbitrary image may lack
    /// what the init needs and exit a moment after a successful start.
    pub verify_start: bool,
    /// Ports inside the workspace the server must be able to reach.
    pub ports: Vec<u16>,
    /// Address ranges for the workspace's private network, tried in order
    /// (empty: the backend's own choice).
    pub subnets: Vec<String>,
    /// Facts kept with the objects for operators (owner, name).
    pub annotations: Vec<(String, String)>,
    /// What new data starts as a copy of (only when the data is made now;
    /// the source is only read).
    pub seed: Option<DataSeed>,
    /// Named volumes of this workspace besides its data (a devcontainer's
    /// `mounts`): made with it and given to `user` when new, kept while its
    /// data is kept (across a container made again), removed with it.
    pub volumes: Vec<NamedVolume>,
    /// Capabilities on top of the backend's own few (names without
    /// `CAP_`), which the caller has checked against what it allows.
    pub extra_capabilities: Vec<String>,
}

/// A Dockerfile written by the caller, and the files it adds to the
/// context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedDockerfile {
    pub text: Vec<u8>,
    pub files: Vec<ContextFile>,
}

/// A file the caller adds to a build context (a relative path of plain
/// components), replacing any of the same name from the folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextFile {
    pub name: String,
    pub content: Vec<u8>,
    /// 0755 rather than 0644.
    pub executable: bool,
}

/// A named volume of one workspace, mounted at `target`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedVolume {
    /// Letters, digits, `-`, `_`, `.`; the backend's object name is made
    /// from it and the workspace id, so it names nothing of anyone else's.
    pub name: String,
    /// An absolute path, not the data directory or above it.
    pub target: String,
}

/// Data a new workspace's data can start from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataSeed {
    /// A deleted workspace's kept data (by the workspace id).
    Kept(String),
    /// A snapshot's data (by the snapshot id).
    Snapshot(String),
}

/// A snapshot to take of a workspace.
#[derive(Debug, Clone)]
pub struct SnapshotRequest {
    pub workspace: String,
    /// The handle of what runs it (running or stopped).
    pub handle: String,
    /// The new snapshot's id (names its objects).
    pub snapshot: String,
    /// The workspace's user (files copied on Podman belong to it).
    pub user: String,
}

/// The data a workspace keeps, as the backend finds it: a deleted
/// workspace's kept data has no record left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataVolume {
    /// The workspace it belongs (or belonged) to.
    pub workspace: String,
    /// The owner and name it was made with.
    pub owner: Option<String>,
    pub name: Option<String>,
    /// When the engine made it (RFC 3339, as the engine says it).
    pub created_at: Option<String>,
    /// Made ahead for a warm pool (annotation `pool`): its owner and name
    /// are known only once a workspace claimed it and
    /// [`crate::WorkspaceRuntime::annotate`] recorded them.
    pub pooled: bool,
}

/// Resource limits of one workspace.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// CPU quota in thousandths of a CPU.
    pub cpu_millis: i64,
    pub memory_bytes: i64,
    pub pids: i64,
}

/// What [`crate::WorkspaceRuntime::provision`] made.
#[derive(Debug, Clone)]
pub struct Provisioned {
    /// The backend's handle for the running workspace (a container id),
    /// which the per-workspace calls take.
    pub handle: String,
    /// Whether the data was made now (false: kept data was reused).
    pub data_created: bool,
}

/// A workspace as the backend holds it: its objects may outlive its
/// record (a crash mid-create, a kept network).
#[derive(Debug, Clone)]
pub struct Present {
    pub workspace: String,
    /// None when only other objects are left (its network).
    pub info: Option<WorkspaceInfo>,
}

/// The coarse state of a container, as workspaces care about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerStatus {
    Created,
    Running,
    Paused,
    Restarting,
    Exited,
    Dead,
    Other,
}

impl ContainerStatus {
    pub fn is_running(self) -> bool {
        matches!(self, ContainerStatus::Running | ContainerStatus::Restarting)
    }
}

/// A published port: `container` inside reachable at `host_ip:host_port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortMapping {
    pub container: u16,
    pub host_ip: String,
    pub host_port: u16,
}

/// What a backend reports about a workspace's running part.
#[derive(Debug, Clone)]
pub struct WorkspaceInfo {
    /// The handle per-workspace calls take.
    pub handle: String,
    /// The workspace this belongs to (from the backend's own labels).
    pub workspace: Option<String>,
    /// Labels as the backend keeps them (for operators and tests).
    pub labels: HashMap<String, String>,
    pub status: ContainerStatus,
    pub exit_code: Option<i64>,
    /// The engine's own error text when it failed to start the container.
    pub error: Option<String>,
    pub ports: Vec<PortMapping>,
}

/// A command to run to completion.
#[derive(Debug, Clone)]
pub struct ExecRequest {
    pub argv: Vec<String>,
    pub cwd: Option<String>,
    pub env: Vec<(String, String)>,
    pub user: Option<String>,
    pub timeout: Duration,
    /// Bytes kept of each of stdout and stderr; the rest is counted and dropped.
    pub max_output_bytes: usize,
}

/// The outcome of a command.
#[derive(Debug, Clone)]
pub struct ExecOutput {
    /// None when the command was killed for its timeout.
    pub exit_code: Option<i64>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub stdout_truncated: bool,
    pub stderr_truncated: bool,
    pub timed_out: bool,
    pub duration: Duration,
}

/// A process inside a container with its stdio attached.
pub struct Attached {
    /// What the process writes on stdout, chunk by chunk.
    pub output: futures_util::stream::BoxStream<'static, Result<bytes::Bytes, crate::RuntimeError>>,
    /// The process's stdin.
    pub input: std::pin::Pin<Box<dyn tokio::io::AsyncWrite + Send>>,
}

/// A point-in-time reading of a container's resource use.
#[derive(Debug, Clone, Default)]
pub struct ResourceSample {
    /// Cumulative CPU time used, in nanoseconds (rates come from two samples).
    pub cpu_total_ns: u64,
    /// Memory in use, excluding the page cache the kernel can drop.
    pub memory_bytes: u64,
    pub memory_limit_bytes: u64,
    pub pids: u64,
}

/// An image to build from a directory of a running workspace (a
/// devcontainer's `build`).
#[derive(Debug, Clone)]
pub struct BuildRequest {
    /// The build context: an absolute directory in the workspace.
    pub context_dir: String,
    /// The Dockerfile, relative to the context (`/`-separated, no `..`).
    pub dockerfile: String,
    /// A Dockerfile the caller wrote, used instead of `dockerfile`'s, with
    /// files it copies that are not in the context (name at the context's
    /// root, content); a context entry of the same name is dropped.
    pub generated: Option<GeneratedDockerfile>,
    pub args: std::collections::BTreeMap<String, String>,
    pub target: Option<String>,
    /// Memory the build's steps may use.
    pub memory_bytes: i64,
    /// CPU the build's steps may use, in thousandths of a CPU.
    pub cpu_millis: i64,
    /// The network the build's steps run on (the workspace's own, so the
    /// build is fenced like the workspace).
    pub network: Option<String>,
    /// The largest context accepted (bytes of its archive).
    pub max_context_bytes: u64,
    /// Where the context is spooled on its way to the engine.
    pub spool_dir: std::path::PathBuf,
    /// The longest the build may take.
    pub timeout: Duration,
}
