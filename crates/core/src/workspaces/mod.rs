//! Workspaces: their model, input validation, the lifecycle manager and the
//! reconciler that keeps the database and the engine in agreement.

pub mod activity;
mod backups;
mod devcontainer;
mod dotfiles;
mod feature_registry;
mod features;
pub mod git;
pub mod hostfw;
mod idle;
mod images;
mod kept;
mod manager;
mod model;
pub mod netpool;
pub mod plan;
mod pool;
pub mod quota;
pub mod reconcile;
mod setup;
mod snapshot_archive;
mod snapshots;
pub mod validate;

pub use kept::KeptData;
pub use manager::{
    CreateWorkspace, DeleteOutcome, ExecParams, ManagerOptions, Usage, WorkspaceManager,
    DEFAULT_USER, WORKSPACE_DIR,
};
pub use model::{IdleStatus, Workspace, WorkspaceState};
pub use pool::PoolStats;
pub use setup::{SetupState, SetupSummary, SetupView};
pub use snapshot_archive::ArchiveStream;
pub use snapshots::Snapshot;

/// Runs `pass` every `interval` (the first after one interval) until
/// `shutdown` fires: the reconciler's and the idle stopper's loop.
pub(crate) fn every<F, Fut>(
    interval: std::time::Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
    mut pass: F,
) -> tokio::task::JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.changed() => return,
            }
            pass().await;
        }
    })
}
