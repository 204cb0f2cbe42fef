//! The workspace as the rest of the system sees it.

use super::activity::KeepAlive;
use aicockpit_runtime::PortMapping;
use aicockpit_store::WorkspaceRecord;
use std::collections::BTreeMap;

/// Where a workspace is in its life. Transitional states (`creating`,
/// `starting`, `stopping`, `deleting`) are written before the engine is
/// asked, so that after a crash the reconciler knows what was under way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkspaceState {
    Creating,
    Starting,
    Running,
    Stopping,
    Stopped,
    Deleting,
    Error,
}

impl WorkspaceState {
    pub const ALL: [WorkspaceState; 7] = [
        WorkspaceState::Creating,
        WorkspaceState::Starting,
        WorkspaceState::Running,
        WorkspaceState::Stopping,
        WorkspaceState::Stopped,
        WorkspaceState::Deleting,
        WorkspaceState::Error,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WorkspaceState::Creating => "creating",
            WorkspaceState::Starting => "starting",
            WorkspaceState::Running => "running",
            WorkspaceState::Stopping => "stopping",
            WorkspaceState::Stopped => "stopped",
            WorkspaceState::Deleting => "deleting",
            WorkspaceState::Error => "error",
        }
    }

    /// Parses a stored state; an unknown value (a newer schema) reads as error.
    pub fn parse(s: &str) -> WorkspaceState {
        WorkspaceState::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .unwrap_or(WorkspaceState::Error)
    }
}

/// A workspace with typed fields, plus live details when they were asked for.
#[derive(Debug, Clone)]
pub struct Workspace {
    pub id: String,
    pub owner_id: String,
    pub name: String,
    pub template: Option<String>,
    pub image: String,
    pub state: WorkspaceState,
    pub state_reason: Option<String>,
    pub cpus: f64,
    pub memory_mb: i64,
    pub pids_limit: i64,
    pub env: BTreeMap<String, String>,
    pub ports: Vec<u16>,
    pub user: String,
    pub container_id: Option<String>,
    pub volume: String,
    pub network: String,
    pub created_at: i64,
    pub updated_at: i64,
    /// Published ports (only filled in by `get`, from the engine).
    pub published_ports: Vec<PortMapping>,
    /// Its own idle timeout (None: the server's default; 0: never).
    pub idle_timeout_secs: Option<i64>,
    /// Where it stands with idle stop (running workspaces only).
    pub idle: Option<IdleStatus>,
}

/// A running workspace's standing with idle stop.
#[derive(Debug, Clone, PartialEq)]
pub struct IdleStatus {
    /// The timeout in force (0: never).
    pub timeout_secs: u64,
    /// When it will be stopped unless there is activity (None: not while
    /// work is in progress, or never).
    pub stop_at_ms: Option<i64>,
    pub last_activity_ms: Option<i64>,
    /// Work in progress (`exec`, `agent_run`).
    pub busy: Vec<&'static str>,
    pub keep_alive: Option<KeepAlive>,
}

impl From<WorkspaceRecord> for Workspace {
    fn from(r: WorkspaceRecord) -> Self {
        Workspace {
            id: r.id,
            owner_id: r.owner_id,
            name: r.name,
            template: r.template,
            image: r.image,
            state: WorkspaceState::parse(&r.state),
            state_reason: r.state_reason,
            cpus: r.cpu_millis as f64 / 1000.0,
            memory_mb: r.memory_mb,
            pids_limit: r.pids_limit,
            env: r.env,
            ports: r.ports,
            user: r.run_as,
            container_id: r.container_id,
            volume: r.volume,
            network: r.network,
            created_at: r.created_at,
            updated_at: r.updated_at,
            published_ports: Vec::new(),
            idle_timeout_secs: r.idle_timeout_secs,
            idle: None,
        }
    }
}
