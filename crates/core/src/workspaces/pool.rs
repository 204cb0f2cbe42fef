//! The warm pool: per template, a configured number of workspaces made
//! ahead — network, data, container started, agent in place — that a
//! create of that template claims instead of making its own.
//!
//! An entry is made like any workspace, with an id of its own from the
//! start (the engine cannot rename or relabel what it made), but with no
//! owner and no name: its objects carry the annotation `pool` instead.
//! What the engine can change in place is applied at claim time (limits;
//! the workspace's own environment goes where the agent and exec read it);
//! what it cannot (ports, user, image) must match, or the create is a
//! miss and makes its own workspace as before.
//!
//! *Invariants:* the pool holds each entry's workspace lock from the moment
//! its id exists until it is claimed or removed, so the reconciler (which
//! skips held workspaces) never sweeps it; an entry is either in the pool
//! or has a record, never both; data made for the pool and never claimed
//! is removed with everything else of it (it has no facts, see
//! [`WorkspaceRuntime::annotate`](aicockpit_runtime::WorkspaceRuntime::annotate)).

use super::manager::{CreateWorkspace, WorkspaceManager};
use super::model::{Workspace, WorkspaceState};
use super::plan::{self, Plan};
use crate::auth::{new_id, Principal};
use crate::CoreError;
use aicockpit_runtime::{Limits, RuntimeError, WorkspaceRuntime};
use aicockpit_store::StoreError;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::OwnedMutexGuard;
use tracing::{info, warn};

/// How long the filler waits after failing to make an entry.
const RETRY_AFTER: Duration = Duration::from_secs(30);
/// How often ready entries are checked without a claim waking the filler.
const CHECK_EVERY: Duration = Duration::from_secs(30);

/// A started, never-used workspace waiting in the pool.
pub(super) struct Entry {
    id: String,
    handle: String,
    /// What the container is now (limits and environment as last applied).
    plan: Plan,
    /// The workspace's lock, held while the entry is pooled.
    guard: Option<OwnedMutexGuard<()>>,
    /// Removed from the engine when dropped, unless a row took it over: a
    /// create cut off halfway (its client went away) leaves nothing.
    armed: bool,
    runtime: Arc<dyn WorkspaceRuntime>,
}

impl Drop for Entry {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let (runtime, id, guard) = (self.runtime.clone(), self.id.clone(), self.guard.take());
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                if let Err(e) = runtime.destroy(&id, false).await {
                    warn!(workspace = %id, error = %e, "could not remove a pooled workspace");
                }
                drop(guard);
            });
        }
    }
}

/// One template's pool as the metrics and the admin API show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolStats {
    pub template: String,
    /// How many entries are configured.
    pub wanted: u32,
    /// How many are ready to be claimed now.
    pub ready: u32,
    /// Creates of this template served from the pool, and those that were
    /// not (none ready, or the request needed what an entry cannot change).
    pub hits: u64,
    pub misses: u64,
}

#[derive(Default)]
struct Counts {
    hits: AtomicU64,
    misses: AtomicU64,
}

/// The entries and their counters (owned by the manager).
#[derive(Default)]
pub(super) struct WarmPool {
    ready: Mutex<Vec<Entry>>,
    counts: Mutex<BTreeMap<String, Arc<Counts>>>,
    wake: tokio::sync::Notify,
}

impl WarmPool {
    fn entries(&self) -> std::sync::MutexGuard<'_, Vec<Entry>> {
        self.ready.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn counts(&self, template: &str) -> Arc<Counts> {
        let mut m = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        m.entry(template.to_owned()).or_default().clone()
    }

    fn ready_of(&self, template: &str) -> u32 {
        let n = self
            .entries()
            .iter()
            .filter(|e| e.plan.template.as_deref() == Some(template))
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    fn holds(&self, workspace: &str) -> bool {
        self.entries().iter().any(|e| e.id == workspace)
    }

    /// An entry `plan` can be made of: same template, image, user and
    /// ports (fixed when the container was made). Limits and environment
    /// are applied by the claim.
    fn take(&self, plan: &Plan) -> Option<Entry> {
        let mut entries = self.entries();
        let sorted = |p: &[u16]| {
            let mut v = p.to_vec();
            v.sort_unstable();
            v
        };
        let ports = sorted(&plan.ports);
        let at = entries.iter().position(|e| {
            e.plan.template == plan.template
                && e.plan.image == plan.image
                && e.plan.user == plan.user
                && sorted(&e.plan.ports) == ports
        })?;
        Some(entries.swap_remove(at))
    }

    fn put_back(&self, e: Entry) {
        self.entries().push(e);
    }
}

/// Why an entry could not take a request's settings.
enum NotApplied {
    /// The engine would not change it (Podman 4.3 cannot update limits):
    /// it is as it was, and goes back to the pool.
    Declined(CoreError),
    /// Perhaps changed halfway: the entry has to go.
    Broken(CoreError),
}

impl WorkspaceManager {
    /// Each configured template's pool now.
    pub fn pool_stats(&self) -> Vec<PoolStats> {
        self.opts
            .limits
            .pool
            .iter()
            .map(|(t, wanted)| {
                let c = self.pool.counts(t);
                PoolStats {
                    template: t.clone(),
                    wanted: *wanted,
                    ready: self.pool.ready_of(t),
                    hits: c.hits.load(Ordering::Relaxed),
                    misses: c.misses.load(Ordering::Relaxed),
                }
            })
            .collect()
    }

    /// A workspace for `req` made of a pool entry, if one fits; None when
    /// the create must make its own (counted as a miss where the template
    /// has a pool).
    pub(super) async fn claim_from_pool(
        &self,
        p: &Principal,
        req: &CreateWorkspace,
        plan: &Plan,
    ) -> Result<Option<Workspace>, CoreError> {
        let Some(template) = plan.template.as_deref() else {
            return Ok(None);
        };
        if !self.opts.limits.pool.contains_key(template) {
            return Ok(None);
        }
        let counts = self.pool.counts(template);
        while let Some(mut entry) = self.pool.take(plan) {
            // The agent's link ends when its container stops: a dead entry
            // is removed, the next one tried.
            if !self.workspace_agents().is_connected(&entry.handle) {
                self.discard(entry);
                continue;
            }
            // Changed before any row names it, so nobody can reach an
            // entry that goes back to the pool.
            match self.apply_claim(&mut entry, plan).await {
                Ok(()) => {}
                Err(NotApplied::Declined(e)) => {
                    info!(workspace = %entry.id, error = %e, "the engine cannot give a pooled workspace the request's settings; making a new one");
                    self.pool.put_back(entry);
                    break;
                }
                Err(NotApplied::Broken(e)) => {
                    warn!(workspace = %entry.id, error = %e, "a pooled workspace could not take the request's settings; removing it");
                    self.discard(entry);
                    continue;
                }
            }
            let ws = self.claim(p, req, plan, entry).await?;
            counts.hits.fetch_add(1, Ordering::Relaxed);
            self.pool.wake.notify_one();
            return Ok(Some(ws));
        }
        counts.misses.fetch_add(1, Ordering::Relaxed);
        Ok(None)
    }

    /// Makes `entry` (already changed to `plan`) the caller's workspace:
    /// its record with the name, owner and settings. A refusal (a taken
    /// name) puts the entry back.
    async fn claim(
        &self,
        p: &Principal,
        req: &CreateWorkspace,
        plan: &Plan,
        mut entry: Entry,
    ) -> Result<Workspace, CoreError> {
        let rec = plan.record(&entry.id, &p.user_id, &req.name, Some(entry.handle.clone()));
        match self.store.insert_workspace(&rec).await {
            Ok(()) => {}
            Err(StoreError::Conflict) => {
                self.pool.put_back(entry);
                return Err(CoreError::conflict(
                    "name_taken",
                    format!("you already have a workspace named {:?}", rec.name),
                ));
            }
            Err(e) => {
                self.pool.put_back(entry);
                return Err(e.into());
            }
        }
        // The row owns it now: from here a crash or a cut-off request
        // leaves a `creating` row the reconciler finishes.
        entry.armed = false;
        self.set_state(&entry.id, WorkspaceState::Running, None)
            .await?;
        self.activity.started(&entry.id);
        let ws = Workspace::from(self.store.workspace(&entry.id).await?);
        info!(workspace = %ws.id, name = %ws.name, template = ?plan.template, "workspace claimed from the warm pool");
        let detail = json!({"name": ws.name, "template": plan.template});
        self.record(p, &ws.id, "workspace.pool.claim", detail).await;
        Ok(ws)
    }

    /// What the engine changes in place: limits, and the request's own
    /// environment where the agent and exec read it. The entry's plan
    /// says what was applied.
    async fn apply_claim(&self, entry: &mut Entry, plan: &Plan) -> Result<(), NotApplied> {
        let had = &entry.plan;
        if (had.cpu_millis, had.memory_mb, had.pids_limit)
            != (plan.cpu_millis, plan.memory_mb, plan.pids_limit)
        {
            let limits = Limits {
                cpu_millis: plan.cpu_millis,
                memory_bytes: plan.memory_mb * 1024 * 1024,
                pids: plan.pids_limit,
            };
            match self.runtime.set_limits(&entry.handle, &limits).await {
                Ok(()) => {}
                // No such call on this engine: nothing changed.
                Err(e @ RuntimeError::NotFound(_)) => return Err(NotApplied::Declined(e.into())),
                Err(e) => return Err(NotApplied::Broken(e.into())),
            }
            entry.plan.cpu_millis = plan.cpu_millis;
            entry.plan.memory_mb = plan.memory_mb;
            entry.plan.pids_limit = plan.pids_limit;
        }
        if entry.plan.env != plan.env {
            let file = aicockpit_workspace_agent_proto::encode_claimed_env(&plan.env);
            self.runtime
                .put_file(
                    &entry.handle,
                    aicockpit_workspace_agent_proto::CLAIMED_ENV_FILE,
                    &file,
                    0o644,
                )
                .await
                .map_err(|e| NotApplied::Broken(e.into()))?;
            entry.plan.env = plan.env.clone();
        }
        Ok(())
    }

    /// Removes an entry for good (in the background, by its `Drop`: its
    /// lock is held until it is gone).
    fn discard(&self, entry: Entry) {
        drop(entry);
        self.pool.wake.notify_one();
    }

    /// Makes one entry for `template`: a workspace of the template's own
    /// settings, started, with its agent connected.
    async fn make_entry(&self, template: &str) -> Result<Entry, CoreError> {
        let req = CreateWorkspace {
            name: "pool".into(),
            template: Some(template.to_owned()),
            ..Default::default()
        };
        let plan = plan::resolve(&req, self.catalog(), &self.opts.limits)?;
        let img = plan.image.clone();
        self.runtime
            .ensure_image(
                &plan.image,
                &move |line| info!(image = %img, "pull: {line}"),
            )
            .await?;
        let id = new_id();
        let guard = self.lock_for(&id).lock_owned().await;
        // The record it would have: never stored; its objects are named
        // and labelled after the id and the pool, not an owner.
        let rec = plan.record(&id, "", template, None);
        let mut spec = self.spec(&rec, None, None)?;
        spec.annotations = vec![("pool".to_owned(), template.to_owned())];
        let made = self
            .runtime
            .provision(&spec)
            .await
            .map_err(|e| self.provision_error(e))?;
        if let Err(e) = self.workspace_agents().connect(&made.handle).await {
            if let Err(e) = self.runtime.destroy(&id, false).await {
                warn!(workspace = %id, error = %e, "could not remove a failed pool entry");
            }
            return Err(e);
        }
        Ok(Entry {
            id,
            handle: made.handle,
            plan,
            guard: Some(guard),
            armed: true,
            runtime: self.runtime.clone(),
        })
    }

    /// Tops every template's pool up to its size, one entry at a time; a
    /// template that fails does not hold the others back.
    async fn fill(&self) -> Result<(), CoreError> {
        let mut failed = None;
        for (template, wanted) in &self.opts.limits.pool {
            while self.pool.ready_of(template) < *wanted {
                match self.make_entry(template).await {
                    Ok(entry) => {
                        info!(workspace = %entry.id, template, "warm pool entry ready");
                        self.pool.put_back(entry);
                    }
                    Err(e) => {
                        warn!(template, error = %e, "could not make a warm pool entry");
                        failed = Some(e);
                        break;
                    }
                }
            }
        }
        failed.map_or(Ok(()), Err)
    }

    /// Drops entries whose container stopped (an engine restart).
    fn drop_dead(&self) {
        let dead: Vec<Entry> = {
            let mut entries = self.pool.entries();
            let (dead, live) = entries
                .drain(..)
                .partition(|e| !self.workspace_agents().is_connected(&e.handle));
            *entries = live;
            dead
        };
        for e in dead {
            warn!(workspace = %e.id, "a pooled workspace stopped; replacing it");
            self.discard(e);
        }
    }

    /// Removes what an earlier run made for the pool and nobody claimed
    /// (its data has no facts and no record).
    async fn sweep_unclaimed(&self) -> Result<(), CoreError> {
        for v in self.runtime.data_volumes().await? {
            if !v.pooled || v.owner.is_some() || self.pool.holds(&v.workspace) {
                continue;
            }
            match self.store.workspace(&v.workspace).await {
                Err(StoreError::NotFound) => {}
                Ok(_) => continue,
                Err(e) => return Err(e.into()),
            }
            let lock = self.lock_for(&v.workspace);
            let Ok(_held) = lock.try_lock() else { continue };
            // Again under the lock, row first: a delete of a claimed one
            // writes its facts before it removes its row, so once the row
            // is gone the facts are there to see.
            match self.store.workspace(&v.workspace).await {
                Err(StoreError::NotFound) => {}
                Ok(_) => continue,
                Err(e) => return Err(e.into()),
            }
            let unowned = self
                .runtime
                .data_volumes()
                .await?
                .into_iter()
                .any(|now| now.workspace == v.workspace && now.pooled && now.owner.is_none());
            if !unowned {
                continue;
            }
            info!(workspace = %v.workspace, "removing an unclaimed pool workspace of an earlier run");
            self.runtime.destroy(&v.workspace, false).await?;
        }
        Ok(())
    }

    /// Keeps the pools full until `shutdown` fires, then removes the
    /// entries nobody claimed.
    pub fn spawn_pool(
        self: Arc<Self>,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            if self.opts.limits.pool.values().all(|n| *n == 0) {
                return;
            }
            if let Err(e) = self.sweep_unclaimed().await {
                warn!(error = %e, "could not sweep an earlier run's pool");
            }
            loop {
                self.drop_dead();
                let filled = tokio::select! {
                    r = self.fill() => r,
                    _ = shutdown.changed() => break,
                };
                let wait = if filled.is_ok() {
                    CHECK_EVERY
                } else {
                    RETRY_AFTER
                };
                tokio::select! {
                    _ = self.pool.wake.notified() => {}
                    _ = tokio::time::sleep(wait) => {}
                    _ = shutdown.changed() => break,
                }
            }
            let left: Vec<Entry> = self.pool.entries().drain(..).collect();
            for mut e in left {
                e.armed = false;
                if let Err(err) = self.runtime.destroy(&e.id, false).await {
                    warn!(workspace = %e.id, error = %err, "could not remove a pooled workspace");
                }
                self.forget_lock(&e.id);
            }
        })
    }
}
