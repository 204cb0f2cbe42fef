//! Engine-neutral descriptions of containers and commands.

use std::collections::HashMap;
use std::time::Duration;

/// Everything needed to create a workspace container.
#[derive(Debug, Clone)]
pub struct ContainerSpec {
    pub name: String,
    pub image: String,
    pub hostname: String,
    /// `uid:gid` or a user name known to the image.
    pub user: String,
    pub env: Vec<(String, String)>,
    pub labels: HashMap<String, String>,
    /// CPU quota in thousandths of a CPU.
    pub cpu_millis: i64,
    pub memory_bytes: i64,
    pub pids_limit: i64,
    /// Named volume mounted at `volume_target`.
    pub volume: String,
    pub volume_target: String,
    pub network: String,
    /// Container ports to publish on the engine host's loopback.
    pub ports: Vec<u16>,
    /// Capabilities kept after dropping all of them.
    pub cap_add: Vec<String>,
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

/// What we read back about a container.
#[derive(Debug, Clone)]
pub struct ContainerInfo {
    pub id: String,
    pub name: String,
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
