//! Idle stop: the manager's side of [`super::activity`] — each workspace's
//! timeout, keep-alives, the status the API shows, and the loop that stops
//! what [`activity::decide`] says to, on the audit record with its reason.

use super::activity::{self, Activity, Facts, KeepAlive, Verdict};
use super::manager::WorkspaceManager;
use super::model::{IdleStatus, Workspace, WorkspaceState};
use super::plan;
use crate::access::Action;
use crate::audit::Entry;
use crate::auth::Principal;
use crate::{now_ms, CoreError};
use aicockpit_store::WorkspaceRecord;
use aicockpit_workspace_agent_proto::{KeepAliveAsk, Request, MAX_INSIDE_KEEP_ALIVE_SECS};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tracing::{info, warn};

/// The longest a keep-alive may last.
const MAX_KEEP_ALIVE_SECS: u64 = 7 * 24 * 3600;
/// The longest reason kept with a keep-alive (the agent holds asks from
/// inside to the same bound).
const MAX_REASON: usize = aicockpit_workspace_agent_proto::MAX_KEEP_ALIVE_REASON;

/// A keep-alive's reason, trimmed, if it is 1 to `MAX_REASON` bytes on one
/// line.
fn reason_of(reason: &str) -> Option<&str> {
    let r = reason.trim();
    (!r.is_empty() && r.len() <= MAX_REASON && !r.chars().any(char::is_control)).then_some(r)
}

impl WorkspaceManager {
    /// Where activity is recorded (terminals, files, agent runs use it).
    pub fn activity(&self) -> &Arc<Activity> {
        &self.activity
    }

    /// The timeout in force for `idle_timeout_secs` (0: never).
    fn timeout_of(&self, own: Option<i64>) -> u64 {
        own.map_or(self.opts.limits.idle_timeout_secs, |s| s.max(0) as u64)
    }

    /// Fills in the idle standing of a running workspace.
    pub(super) fn with_idle(&self, mut ws: Workspace) -> Workspace {
        if ws.state != WorkspaceState::Running {
            return ws;
        }
        let snap = self.activity.snapshot(&ws.id);
        let timeout_secs = self.timeout_of(ws.idle_timeout_secs);
        let verdict = activity::decide(&Facts {
            now_ms: now_ms(),
            running_since_ms: snap.started_ms.unwrap_or_else(now_ms),
            activity: &snap,
            idle_timeout_secs: timeout_secs,
            max_lifetime_secs: self.opts.limits.max_lifetime_secs,
        });
        ws.idle = Some(IdleStatus {
            timeout_secs,
            stop_at_ms: match verdict {
                Verdict::Keep { stop_at_ms } => stop_at_ms,
                Verdict::Stop(_) => Some(now_ms()),
            },
            last_activity_ms: snap.last_ms,
            busy: snap.busy.iter().map(|w| w.as_str()).collect(),
            keep_alive: snap.keep_alive,
        });
        ws
    }

    /// Sets a workspace's own idle timeout (None: the server's default).
    pub async fn set_idle_timeout(
        &self,
        p: &Principal,
        id: &str,
        secs: Option<i64>,
    ) -> Result<Workspace, CoreError> {
        let rec = self.authorized(p, id, Action::Change).await?;
        let secs = plan::idle_timeout(secs, &self.opts.limits)?;
        self.store
            .set_workspace_idle_timeout(&rec.id, secs, now_ms())
            .await?;
        let e = Entry::done(
            &p.actor(),
            Some(&rec.id),
            "workspace.idle_timeout",
            json!({ "idle_timeout_secs": secs }),
        );
        self.audit.note(e).await;
        self.get(p, &rec.id).await
    }

    /// Keeps a running workspace from idle stop for `for_secs`, with a
    /// reason people see.
    pub async fn keep_alive(
        &self,
        p: &Principal,
        id: &str,
        for_secs: u64,
        reason: &str,
    ) -> Result<Workspace, CoreError> {
        let rec = self.authorized(p, id, Action::Change).await?;
        if !(1..=MAX_KEEP_ALIVE_SECS).contains(&for_secs) {
            return Err(CoreError::invalid(
                "invalid_keep_alive",
                format!("a keep-alive lasts 1 to {MAX_KEEP_ALIVE_SECS} seconds"),
            ));
        }
        let Some(reason) = reason_of(reason) else {
            return Err(CoreError::invalid(
                "invalid_keep_alive",
                format!("give a reason of 1 to {MAX_REASON} bytes on one line"),
            ));
        };
        if WorkspaceState::parse(&rec.state) != WorkspaceState::Running {
            return Err(CoreError::conflict(
                "workspace_not_running",
                "the workspace is not running; start it first",
            ));
        }
        let until_ms = now_ms() + (for_secs as i64) * 1000;
        self.activity.keep_alive(
            &rec.id,
            KeepAlive {
                until_ms,
                reason: reason.to_owned(),
                by: p.actor(),
            },
        );
        self.activity.touch(&rec.id);
        let e = Entry::done(
            &p.actor(),
            Some(&rec.id),
            "workspace.keep_alive",
            json!({ "until_ms": until_ms, "reason": reason }),
        );
        self.audit.note(e).await;
        self.get(p, &rec.id).await
    }

    /// Someone works in the workspace where the server cannot see it (typing
    /// in the editor before a save): activity, not a change, so not audited.
    pub async fn note_activity(&self, p: &Principal, id: &str) -> Result<(), CoreError> {
        let rec = self.authorized(p, id, Action::Change).await?;
        self.activity.touch(&rec.id);
        Ok(())
    }

    /// One pass: stops every running workspace the policy says to.
    pub async fn stop_idle(&self) -> Result<usize, CoreError> {
        let mut stopped = 0;
        for rec in self.store.list_workspaces(None).await? {
            if WorkspaceState::parse(&rec.state) != WorkspaceState::Running {
                continue;
            }
            let snap = self.activity.snapshot(&rec.id);
            let Some(started) = snap.started_ms else {
                // Running since before this server started: count from now.
                self.activity.started(&rec.id);
                continue;
            };
            let verdict = activity::decide(&Facts {
                now_ms: now_ms(),
                running_since_ms: started,
                activity: &snap,
                idle_timeout_secs: self.timeout_of(rec.idle_timeout_secs),
                max_lifetime_secs: self.opts.limits.max_lifetime_secs,
            });
            if let Verdict::Stop(reason) = verdict {
                // The maximum lifetime holds whatever anyone asks.
                let ask_inside = matches!(reason, activity::StopReason::Idle { .. });
                if self.stop_for(&rec, &reason.describe(), ask_inside).await? {
                    stopped += 1;
                }
            }
        }
        Ok(stopped)
    }

    /// Stops `rec` for `reason` unless something changed meanwhile.
    async fn stop_for(
        &self,
        rec: &WorkspaceRecord,
        reason: &str,
        ask_inside: bool,
    ) -> Result<bool, CoreError> {
        let lock = self.lock_for(&rec.id);
        let Ok(_guard) = lock.try_lock() else {
            return Ok(false);
        };
        let fresh = self.store.workspace(&rec.id).await?;
        if WorkspaceState::parse(&fresh.state) != WorkspaceState::Running {
            return Ok(false);
        }
        if ask_inside && self.kept_alive_inside(&fresh).await {
            return Ok(false);
        }
        info!(workspace = %rec.id, name = %rec.name, reason, "stopping an idle workspace");
        self.stop_locked(&rec.id).await?;
        self.set_state(&rec.id, WorkspaceState::Stopped, Some(reason))
            .await?;
        let e = Entry::done(
            "system",
            Some(&rec.id),
            "workspace.idle_stop",
            json!({ "reason": reason }),
        );
        self.audit.note(e).await;
        Ok(true)
    }

    /// Whether a command inside the workspace asked to keep it running
    /// (`aicockpit-keepalive`, held by its agent): if so it is recorded as
    /// a keep-alive by `workspace` and on the audit record. What the agent
    /// says is checked again here (the container is not trusted); an agent
    /// that cannot be asked has asked for nothing.
    async fn kept_alive_inside(&self, rec: &WorkspaceRecord) -> bool {
        let Some(cid) = rec.container_id.as_deref() else {
            return false;
        };
        let asked = async {
            let agent = self.workspace_agents().connect(cid).await.ok()?;
            agent
                .call_as::<Option<KeepAliveAsk>>(Request::KeptAlive, Duration::from_secs(5))
                .await
                .ok()
                .flatten()
        };
        let Some(ask) = asked.await else {
            return false;
        };
        let Some(reason) = reason_of(&ask.reason) else {
            return false;
        };
        if ask.remaining_secs == 0 {
            return false;
        }
        let secs = ask.remaining_secs.min(MAX_INSIDE_KEEP_ALIVE_SECS);
        let until_ms = now_ms() + (secs as i64) * 1000;
        self.activity.keep_alive(
            &rec.id,
            KeepAlive {
                until_ms,
                reason: reason.to_owned(),
                by: "workspace".into(),
            },
        );
        let e = Entry::done(
            "workspace",
            Some(&rec.id),
            "workspace.keep_alive",
            json!({ "until_ms": until_ms, "reason": reason, "from": "inside" }),
        );
        self.audit.note(e).await;
        info!(workspace = %rec.id, secs, reason, "kept running: asked for inside the workspace");
        true
    }

    /// Checks for idle workspaces every `interval` until `shutdown` fires.
    pub fn spawn_idle_stopper(
        self: Arc<Self>,
        interval: Duration,
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        super::every(interval, shutdown, move || {
            let me = self.clone();
            async move {
                if let Err(e) = me.stop_idle().await {
                    warn!(error = %e, "idle check failed; will retry");
                }
            }
        })
    }
}
