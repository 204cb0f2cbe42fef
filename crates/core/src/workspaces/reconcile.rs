//! Keeping the database and the engine in agreement.
//!
//! [`decide`] is the whole policy, as a pure function of a row and what the
//! engine says about its container, so it is tested without an engine.
//! [`WorkspaceManager::reconcile`] gathers the facts, and for every row that
//! needs a fix re-reads both sides under the workspace's lock before acting,
//! so it never undoes an operation that finished a moment ago.

use super::manager::WorkspaceManager;
use super::model::WorkspaceState;
use crate::{now_ms, CoreError};
use aicockpit_runtime::{Present, WorkspaceInfo};
use aicockpit_store::{StoreError, WorkspaceRecord};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tracing::{info, warn};

/// One correction to a workspace's row or engine objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fix {
    SetState(WorkspaceState, Option<String>),
    SetContainer(Option<String>),
    /// Finish an interrupted delete: remove container and network and the
    /// row (the volume is kept: whether to purge it was not recorded).
    FinishDelete,
}

pub const REASON_CONTAINER_REMOVED: &str =
    "the container was removed outside AiCockpit; start re-creates it on the kept /workspace volume";
pub const REASON_CREATE_INTERRUPTED: &str = "creation was interrupted; start finishes it";

/// What should change for a workspace whose row says `state`/`container_id`
/// while the engine shows `container` (None: no such container).
pub fn decide(
    state: WorkspaceState,
    container_id: Option<&str>,
    container: Option<&WorkspaceInfo>,
) -> Vec<Fix> {
    use WorkspaceState as S;
    if state == S::Deleting {
        return vec![Fix::FinishDelete];
    }
    let Some(c) = container else {
        return match state {
            S::Creating => vec![Fix::SetState(
                S::Error,
                Some(REASON_CREATE_INTERRUPTED.into()),
            )],
            _ if container_id.is_some()
                || matches!(state, S::Running | S::Starting | S::Stopping) =>
            {
                vec![
                    Fix::SetContainer(None),
                    Fix::SetState(S::Error, Some(REASON_CONTAINER_REMOVED.into())),
                ]
            }
            _ => Vec::new(),
        };
    };
    let mut fixes = Vec::new();
    if container_id != Some(c.handle.as_str()) {
        // A container made for this workspace whose id never reached the
        // row (a crash between the two): adopt it.
        fixes.push(Fix::SetContainer(Some(c.handle.clone())));
    }
    if c.status.is_running() {
        if state != S::Running {
            fixes.push(Fix::SetState(S::Running, None));
        }
    } else {
        match state {
            S::Running => fixes.push(Fix::SetState(
                S::Stopped,
                Some(match c.exit_code {
                    Some(code) => {
                        format!("the container stopped outside AiCockpit (exit code {code})")
                    }
                    None => "the container stopped outside AiCockpit".into(),
                }),
            )),
            S::Starting | S::Creating | S::Stopping => fixes.push(Fix::SetState(S::Stopped, None)),
            _ => {}
        }
    }
    fixes
}

/// The running part of each listed workspace, by workspace id.
fn running_parts(present: &[Present]) -> HashMap<&str, &WorkspaceInfo> {
    present
        .iter()
        .filter_map(|p| Some((p.workspace.as_str(), p.info.as_ref()?)))
        .collect()
}

/// What one reconciliation pass did.
#[derive(Debug, Default, Clone)]
pub struct ReconcileReport {
    pub fixed: usize,
    /// Workspaces without a record whose objects were removed (their data
    /// is kept).
    pub orphans_removed: usize,
    /// Workspaces skipped because an operation held them.
    pub busy: usize,
}

impl WorkspaceManager {
    /// One pass: correct every row, adopt or remove our leftovers.
    pub async fn reconcile(&self) -> Result<ReconcileReport, CoreError> {
        let mut report = ReconcileReport::default();
        let present = self.runtime.list().await?;
        let rows = self.store.list_workspaces(None).await?;
        let by_ws = running_parts(&present);
        let known: HashSet<&str> = rows.iter().map(|r| r.id.as_str()).collect();

        for row in &rows {
            let state = WorkspaceState::parse(&row.state);
            if decide(
                state,
                row.container_id.as_deref(),
                by_ws.get(row.id.as_str()).copied(),
            )
            .is_empty()
            {
                continue;
            }
            let lock = self.lock_for(&row.id);
            let Ok(_guard) = lock.try_lock() else {
                report.busy += 1;
                continue;
            };
            // Fresh facts under the lock: the list above may be stale.
            let row = match self.store.workspace(&row.id).await {
                Ok(r) => r,
                Err(StoreError::NotFound) => continue,
                Err(e) => return Err(e.into()),
            };
            let now = self.runtime.list().await?;
            let fixes = decide(
                WorkspaceState::parse(&row.state),
                row.container_id.as_deref(),
                running_parts(&now).get(row.id.as_str()).copied(),
            );
            if !fixes.is_empty() {
                info!(workspace = %row.id, name = %row.name, ?fixes, "reconciling workspace");
                self.apply(&row, fixes).await?;
                report.fixed += 1;
            }
        }

        for p in &present {
            let ws = p.workspace.as_str();
            if known.contains(ws) {
                continue;
            }
            let lock = self.lock_for(ws);
            let Ok(_guard) = lock.try_lock() else {
                report.busy += 1;
                continue;
            };
            match self.store.workspace(ws).await {
                Err(StoreError::NotFound) => {
                    info!(workspace = %ws, "removing an orphaned workspace's objects (its data is kept)");
                    match self.runtime.destroy(ws, true).await {
                        Ok(()) => report.orphans_removed += 1,
                        // A network still in use by a container being
                        // removed: the next pass finishes it.
                        Err(e) => warn!(workspace = %ws, error = %e, "orphan not removed yet"),
                    }
                    drop(_guard);
                    self.forget_lock(ws);
                }
                // It has a row now (a claim from the warm pool made it
                // after the listing above): its lock stays.
                Ok(_) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(report)
    }

    async fn apply(&self, row: &WorkspaceRecord, fixes: Vec<Fix>) -> Result<(), CoreError> {
        for fix in fixes {
            match fix {
                Fix::SetState(state, reason) => {
                    self.store
                        .set_workspace_state(&row.id, state.as_str(), reason.as_deref(), now_ms())
                        .await?
                }
                Fix::SetContainer(cid) => {
                    self.store
                        .set_workspace_container(&row.id, cid.as_deref(), now_ms())
                        .await?
                }
                Fix::FinishDelete => {
                    self.keep_facts(row).await?;
                    self.runtime.destroy(&row.id, true).await?;
                    match self.store.delete_workspace(&row.id).await {
                        Ok(()) | Err(StoreError::NotFound) => {}
                        Err(e) => return Err(e.into()),
                    }
                    self.setups.forget(&row.id);
                    self.forget_devcontainer(&row.id).await;
                    self.activity.forget(&row.id);
                }
            }
        }
        Ok(())
    }

    /// Reconciles every `interval` until `shutdown` fires.
    pub fn spawn_reconciler(
        self: Arc<Self>,
        interval: Duration,
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        super::every(interval, shutdown, move || {
            let me = self.clone();
            async move {
                match me.reconcile().await {
                    Ok(r) if r.fixed + r.orphans_removed > 0 => {
                        info!(?r, "reconciled with the engine")
                    }
                    Ok(_) => {}
                    Err(e) => warn!(error = %e, "reconciliation failed; will retry"),
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aicockpit_runtime::ContainerStatus;
    use WorkspaceState as S;

    fn container(id: &str, status: ContainerStatus) -> WorkspaceInfo {
        WorkspaceInfo {
            handle: id.into(),
            workspace: Some("w".into()),
            labels: HashMap::new(),
            status,
            exit_code: Some(137),
            error: None,
            ports: Vec::new(),
        }
    }

    #[test]
    fn agreement_needs_no_fix() {
        let c = container("c1", ContainerStatus::Running);
        assert!(decide(S::Running, Some("c1"), Some(&c)).is_empty());
        let c = container("c1", ContainerStatus::Exited);
        assert!(decide(S::Stopped, Some("c1"), Some(&c)).is_empty());
        assert!(decide(S::Stopped, None, None).is_empty());
    }

    #[test]
    fn container_removed_behind_our_back_is_marked() {
        assert_eq!(
            decide(S::Running, Some("c1"), None),
            vec![
                Fix::SetContainer(None),
                Fix::SetState(S::Error, Some(REASON_CONTAINER_REMOVED.into()))
            ]
        );
        assert_eq!(decide(S::Stopped, Some("c1"), None).len(), 2);
    }

    #[test]
    fn engine_restart_corrects_running_to_stopped() {
        let c = container("c1", ContainerStatus::Exited);
        assert_eq!(
            decide(S::Running, Some("c1"), Some(&c)),
            vec![Fix::SetState(
                S::Stopped,
                Some("the container stopped outside AiCockpit (exit code 137)".into())
            )]
        );
    }

    #[test]
    fn crash_mid_create_adopts_the_container() {
        let c = container("c9", ContainerStatus::Running);
        assert_eq!(
            decide(S::Creating, None, Some(&c)),
            vec![
                Fix::SetContainer(Some("c9".into())),
                Fix::SetState(S::Running, None)
            ]
        );
        let c = container("c9", ContainerStatus::Created);
        assert_eq!(
            decide(S::Creating, None, Some(&c)),
            vec![
                Fix::SetContainer(Some("c9".into())),
                Fix::SetState(S::Stopped, None)
            ]
        );
        assert_eq!(
            decide(S::Creating, None, None),
            vec![Fix::SetState(
                S::Error,
                Some(REASON_CREATE_INTERRUPTED.into())
            )]
        );
    }

    #[test]
    fn interrupted_delete_is_finished_and_transitions_settle() {
        assert_eq!(
            decide(S::Deleting, Some("c1"), None),
            vec![Fix::FinishDelete]
        );
        let c = container("c1", ContainerStatus::Exited);
        assert_eq!(
            decide(S::Stopping, Some("c1"), Some(&c)),
            vec![Fix::SetState(S::Stopped, None)]
        );
        let c = container("c1", ContainerStatus::Running);
        assert_eq!(
            decide(S::Starting, Some("c1"), Some(&c)),
            vec![Fix::SetState(S::Running, None)]
        );
        assert_eq!(
            decide(S::Error, Some("c1"), Some(&c)),
            vec![Fix::SetState(S::Running, None)]
        );
    }
}
