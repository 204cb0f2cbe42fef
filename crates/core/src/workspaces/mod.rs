//! Workspaces: their model, input validation, the lifecycle manager and the
//! reconciler that keeps the database and the engine in agreement.

pub mod activity;
pub mod hostfw;
mod idle;
mod manager;
mod model;
pub mod netpool;
pub mod plan;
pub mod quota;
pub mod reconcile;
pub mod validate;

pub use manager::{
    CreateWorkspace, DeleteOutcome, ExecParams, ManagerOptions, Usage, WorkspaceManager,
    DEFAULT_USER, WORKSPACE_DIR,
};
pub use model::{IdleStatus, Workspace, WorkspaceState};
