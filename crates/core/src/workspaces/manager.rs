//! The workspace lifecycle: create, start, stop, restart, delete, exec.
//!
//! Every operation writes its intent to the database before it asks the
//! engine (`creating`, `starting`, …) and its outcome after, and holds a
//! per-workspace lock meanwhile. A crash at any point therefore leaves a row
//! that says what was under way, which the reconciler finishes or corrects;
//! and nothing is ever created on the engine without a row that owns it.

use super::activity::{Activity, Work};
use super::model::{Workspace, WorkspaceState};
use super::netpool::NetPool;
use super::plan;
use super::quota::Ask;
use super::validate;
use crate::access::{can, sees_all_workspaces, Action, Resource};
use crate::audit::{Audit, Entry};
use crate::auth::{new_id, Principal};
use crate::config::WorkspacesConfig;
use crate::devcontainer::DevContainer;
use crate::templates::Catalog;
use crate::workspace_agent::{AgentConn, AgentHub};
use crate::{now_ms, CoreError};
use aicockpit_runtime::{
    ContainerStatus, DataSeed, ExecOutput, ExecRequest, Limits, NamedVolume, RuntimeError,
    WorkspaceRuntime, WorkspaceSpec,
};
use aicockpit_store::{Store, StoreError, WorkspaceRecord};
use aicockpit_workspace_agent_proto::sandbox::{SandboxSpec, MIN_SANDBOX_ABI};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing::{info, warn};

/// Where the persistent volume is mounted in every workspace.
pub const WORKSPACE_DIR: &str = "/workspace";
/// The user workspaces run as unless a template says otherwise: uid 1000,
/// which is `dev` in our images and a non-root user in any image.
pub const DEFAULT_USER: &str = "1000:1000";

/// Fixed settings of a manager.
#[derive(Debug, Clone)]
pub struct ManagerOptions {
    /// This installation's id, put on every engine object as a label.
    pub instance: String,
    pub limits: WorkspacesConfig,
    pub stop_timeout_secs: i64,
    /// Where snapshot archives are spooled on their way out and in.
    pub spool_dir: std::path::PathBuf,
    /// Where finished setups' logs are kept (None: in memory only).
    pub setup_log_dir: Option<std::path::PathBuf>,
}

/// A request to create a workspace. Unset fields come from the template,
/// then from the configured defaults.
#[derive(Debug, Clone, Default)]
pub struct CreateWorkspace {
    pub name: String,
    pub template: Option<String>,
    pub image: Option<String>,
    pub cpus: Option<f64>,
    pub memory_mb: Option<i64>,
    pub pids_limit: Option<i64>,
    pub env: BTreeMap<String, String>,
    pub ports: Option<Vec<u16>>,
    /// Seconds without activity before it stops (None: the server's
    /// default; 0: never, where allowed).
    pub idle_timeout_secs: Option<i64>,
    /// A deleted workspace whose kept data the new one starts with (the
    /// kept data is gone afterwards: it now belongs to the new workspace).
    pub from_kept: Option<String>,
    /// A repository cloned into `/workspace` once the workspace runs.
    pub git: Option<super::git::GitSource>,
}

/// Where a new workspace comes from.
#[derive(Clone, Copy)]
pub(super) enum Origin<'a> {
    Fresh,
    /// A deleted workspace's kept data (by its id).
    Kept(&'a str),
    /// A snapshot: its image and a copy of its data.
    Snapshot(&'a aicockpit_store::SnapshotRecord),
}

impl Origin<'_> {
    fn seed(self) -> Option<DataSeed> {
        match self {
            Origin::Fresh => None,
            Origin::Kept(ws) => Some(DataSeed::Kept(ws.to_owned())),
            Origin::Snapshot(s) => Some(DataSeed::Snapshot(s.id.clone())),
        }
    }
}

/// A command to run in a workspace.
#[derive(Debug, Clone, Default)]
pub struct ExecParams {
    pub argv: Vec<String>,
    pub cwd: Option<String>,
    pub env: BTreeMap<String, String>,
    pub user: Option<String>,
    pub timeout_secs: Option<u64>,
    pub max_output_bytes: Option<usize>,
    /// Run under the agent's Landlock sandbox with this spec (the AI's
    /// unapproved commands); refused when the kernel cannot enforce it.
    pub sandbox: Option<SandboxSpec>,
}

/// What deleting left behind.
#[derive(Debug, Clone)]
pub struct DeleteOutcome {
    /// The data volume, if it was kept.
    pub kept_volume: Option<String>,
}

pub struct WorkspaceManager {
    pub(super) store: Store,
    pub(super) runtime: Arc<dyn WorkspaceRuntime>,
    catalog: Catalog,
    pub(super) opts: ManagerOptions,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    workspace_agents: Arc<AgentHub>,
    /// Lifecycle and exec are recorded here, by the methods that do them.
    pub(super) audit: Arc<Audit>,
    /// Last CPU reading per container, to turn cumulative time into a rate.
    cpu_samples: Mutex<HashMap<String, (u64, std::time::Instant)>>,
    /// The last disk measurement per container.
    disk_samples: Mutex<HashMap<String, (Option<u64>, std::time::Instant)>>,
    /// What counts as work in each workspace, for idle stop.
    pub(super) activity: Arc<Activity>,
    /// Workspaces made ahead, per template.
    pub(super) pool: super::pool::WarmPool,
    /// What new workspaces are being set up with (a git clone), and how
    /// it went.
    pub(super) setups: Arc<super::setup::Setups>,
    /// Snapshots being exported, with how many exports each: a delete of
    /// one is refused meanwhile (an export never finds its image gone).
    pub(super) exporting: Arc<Mutex<HashMap<String, usize>>>,
    /// This manager, for the background work it starts (a setup).
    pub(super) me: std::sync::Weak<WorkspaceManager>,
}

/// A workspace's resource use now.
#[derive(Debug, Clone)]
pub struct Usage {
    /// Percent of one CPU since the previous reading (None on the first).
    pub cpu_percent: Option<f64>,
    pub memory_bytes: u64,
    pub memory_limit_bytes: u64,
    pub pids: u64,
    /// Bytes used under /workspace (measured at most once a minute; None
    /// when the measurement failed or took too long).
    pub disk_bytes: Option<u64>,
}

/// How long a disk measurement is reused.
const DISK_FRESH: std::time::Duration = std::time::Duration::from_secs(60);

/// `du -sk` output as bytes; None for anything else. Pure.
pub(crate) fn parse_du_kib(out: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(out).ok()?;
    let kib: u64 = text.split_whitespace().next()?.parse().ok()?;
    kib.checked_mul(1024)
}

impl WorkspaceManager {
    pub fn new(
        store: Store,
        runtime: Arc<dyn WorkspaceRuntime>,
        catalog: Catalog,
        opts: ManagerOptions,
        workspace_agents: Arc<AgentHub>,
        audit: Arc<Audit>,
    ) -> Arc<Self> {
        let setups = Arc::new(super::setup::Setups::new(opts.setup_log_dir.clone()));
        Arc::new_cyclic(|me| WorkspaceManager {
            store,
            runtime,
            catalog,
            opts,
            locks: Mutex::new(HashMap::new()),
            workspace_agents,
            audit,
            cpu_samples: Mutex::new(HashMap::new()),
            disk_samples: Mutex::new(HashMap::new()),
            activity: Arc::new(Activity::default()),
            pool: Default::default(),
            setups,
            exporting: Default::default(),
            me: me.clone(),
        })
    }

    /// Resource use of a running workspace; None when it is not running.
    pub async fn usage(&self, p: &Principal, id: &str) -> Result<Option<Usage>, CoreError> {
        let rec = self.authorized(p, id, Action::View).await?;
        let Some(cid) = rec.container_id else {
            return Ok(None);
        };
        if WorkspaceState::parse(&rec.state) != WorkspaceState::Running {
            return Ok(None);
        }
        let Some(s) = self.runtime.usage(&cid).await? else {
            return Ok(None);
        };
        let now = std::time::Instant::now();
        let prev = {
            let mut m = self.cpu_samples.lock().unwrap_or_else(|e| e.into_inner());
            m.insert(cid.clone(), (s.cpu_total_ns, now))
        };
        let cpu_percent = prev.and_then(|(ns, at)| {
            let wall = now.duration_since(at).as_nanos() as f64;
            (wall > 0.0 && s.cpu_total_ns >= ns)
                .then(|| (s.cpu_total_ns - ns) as f64 / wall * 100.0)
        });
        let disk_bytes = self.disk_use(&cid).await;
        Ok(Some(Usage {
            cpu_percent,
            memory_bytes: s.memory_bytes,
            memory_limit_bytes: s.memory_limit_bytes,
            pids: s.pids,
            disk_bytes,
        }))
    }

    /// Bytes under /workspace, by `du` as the workspace's user (its output
    /// is bounded and only a number is taken from it), at most once a
    /// minute per container and for at most 10 s.
    async fn disk_use(&self, cid: &str) -> Option<u64> {
        let cached = {
            let m = self.disk_samples.lock().unwrap_or_else(|e| e.into_inner());
            m.get(cid)
                .filter(|(_, at)| at.elapsed() < DISK_FRESH)
                .map(|(v, _)| *v)
        };
        if let Some(v) = cached {
            return v;
        }
        let req = aicockpit_runtime::ExecRequest {
            argv: ["du", "-sxk", "/workspace"].map(str::to_owned).to_vec(),
            cwd: None,
            env: Vec::new(),
            user: None,
            timeout: Duration::from_secs(10),
            max_output_bytes: 256,
        };
        let v = match self.runtime.exec(cid, &req).await {
            // du says 1 when some files cannot be read: what it counted
            // still stands.
            Ok(out) if !out.timed_out => parse_du_kib(&out.stdout),
            _ => None,
        };
        let mut m = self.disk_samples.lock().unwrap_or_else(|e| e.into_inner());
        m.retain(|_, (_, at)| at.elapsed() < DISK_FRESH);
        m.insert(cid.to_owned(), (v, std::time::Instant::now()));
        v
    }

    pub fn workspace_agents(&self) -> &Arc<AgentHub> {
        &self.workspace_agents
    }

    /// The agent of a running workspace the caller may use.
    pub async fn agent(
        &self,
        p: &Principal,
        id: &str,
        action: Action,
    ) -> Result<Arc<AgentConn>, CoreError> {
        Ok(self.agent_of(p, id, action).await?.1)
    }

    /// The same with the workspace's id (the caller may have named it).
    pub async fn agent_of(
        &self,
        p: &Principal,
        id: &str,
        action: Action,
    ) -> Result<(String, Arc<AgentConn>), CoreError> {
        let rec = self.authorized(p, id, action).await?;
        self.agent_of_record(rec).await
    }

    /// The agent of workspace `id` for a preview, whose access was decided
    /// by the port's share level (a public port has no principal).
    pub(crate) async fn agent_for_preview(
        &self,
        id: &str,
    ) -> Result<(String, Arc<AgentConn>), CoreError> {
        let rec = match self.store.workspace(id).await {
            Ok(r) => r,
            Err(StoreError::NotFound) => {
                return Err(CoreError::NotFound(format!("no workspace {id:?}")))
            }
            Err(e) => return Err(e.into()),
        };
        self.agent_of_record(rec).await
    }

    async fn agent_of_record(
        &self,
        rec: WorkspaceRecord,
    ) -> Result<(String, Arc<AgentConn>), CoreError> {
        let not_running = || {
            CoreError::conflict(
                "workspace_not_running",
                "the workspace is not running; start it first",
            )
        };
        if WorkspaceState::parse(&rec.state) != WorkspaceState::Running {
            return Err(not_running());
        }
        let cid = rec.container_id.ok_or_else(not_running)?;
        match self.workspace_agents.connect(&cid).await {
            Err(CoreError::Conflict { .. }) | Err(CoreError::Engine(_)) => Err(not_running()),
            // The container may have stopped between the record's check and
            // the exec (a stop racing this request): that is the user's
            // state, not a server failure.
            Err(e @ CoreError::AgentUnavailable(_)) => {
                if self.container_running(&cid).await {
                    Err(e)
                } else {
                    Err(not_running())
                }
            }
            Err(e) => Err(e),
            Ok(conn) => Ok((rec.id, conn)),
        }
    }

    /// Whether the engine says the container runs (an engine that cannot
    /// answer counts as running, so its own error is the one reported).
    async fn container_running(&self, cid: &str) -> bool {
        match self.runtime.inspect(cid).await {
            Ok(Some(info)) => info.status == ContainerStatus::Running,
            Ok(None) => false,
            Err(_) => true,
        }
    }

    /// Starts the agent in the background, so the first terminal or file
    /// request does not pay for placing it.
    pub(super) fn warm_agent(&self, container: Option<String>) {
        if let (Some(cid), Some(_)) = (container, self.workspace_agents.binary()) {
            let hub = self.workspace_agents.clone();
            tokio::spawn(async move {
                if let Err(e) = hub.connect(&cid).await {
                    warn!(container = %cid, error = %e, "could not start the workspace agent");
                }
            });
        }
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    pub fn runtime(&self) -> &Arc<dyn WorkspaceRuntime> {
        &self.runtime
    }

    pub fn instance(&self) -> &str {
        &self.opts.instance
    }

    pub(super) fn lock_for(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(id.to_owned()).or_default().clone()
    }

    pub(super) fn forget_lock(&self, id: &str) {
        let mut map = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(id);
    }

    /// Puts the owner and name with data about to be kept (a workspace
    /// made ahead for the pool has none on its own): without them, kept
    /// data would be nobody's, and a pool's unclaimed data is removed.
    pub(super) async fn keep_facts(&self, rec: &WorkspaceRecord) -> Result<(), CoreError> {
        self.runtime
            .annotate(&rec.id, &Self::annotations(rec))
            .await
            .map_err(CoreError::from)
    }

    /// What the backend keeps with the workspace's objects for operators.
    fn annotations(rec: &WorkspaceRecord) -> Vec<(String, String)> {
        vec![
            ("owner".to_owned(), rec.owner_id.clone()),
            ("name".to_owned(), rec.name.clone()),
        ]
    }

    /// Finds a workspace by id or by the caller's own workspace name, and
    /// asks [`can`] whether the caller may do `action` on it (others'
    /// workspaces are reported as not found, so ids cannot be probed).
    pub(super) async fn authorized(
        &self,
        p: &Principal,
        id_or_name: &str,
        action: Action,
    ) -> Result<WorkspaceRecord, CoreError> {
        let not_found = || CoreError::NotFound(format!("no workspace {id_or_name:?}"));
        let rec = match self.store.workspace(id_or_name).await {
            Ok(r) => r,
            Err(StoreError::NotFound) => {
                match self.store.workspace_by_name(&p.user_id, id_or_name).await {
                    Ok(r) => r,
                    Err(StoreError::NotFound) => return Err(not_found()),
                    Err(e) => return Err(e.into()),
                }
            }
            Err(e) => return Err(e.into()),
        };
        can(
            p,
            action,
            Resource::Workspace {
                id: id_or_name,
                owner_id: &rec.owner_id,
            },
        )?;
        Ok(rec)
    }

    pub(super) async fn set_state(
        &self,
        id: &str,
        state: WorkspaceState,
        reason: Option<&str>,
    ) -> Result<(), CoreError> {
        self.store
            .set_workspace_state(id, state.as_str(), reason, now_ms())
            .await?;
        Ok(())
    }

    pub async fn list(&self, p: &Principal) -> Result<Vec<Workspace>, CoreError> {
        let owner = (!sees_all_workspaces(p)).then_some(p.user_id.as_str());
        Ok(self
            .store
            .list_workspaces(owner)
            .await?
            .into_iter()
            .map(|r| self.with_idle(Workspace::from(r)))
            .collect())
    }

    /// The id of a workspace the caller may do `action` on (by id or own
    /// name), from the database alone: for callers that need no live details.
    pub async fn id_of(
        &self,
        p: &Principal,
        id_or_name: &str,
        action: Action,
    ) -> Result<String, CoreError> {
        Ok(self.authorized(p, id_or_name, action).await?.id)
    }

    /// One workspace, with its published ports read from the engine.
    pub async fn get(&self, p: &Principal, id: &str) -> Result<Workspace, CoreError> {
        let rec = self.authorized(p, id, Action::View).await?;
        let mut ws = Workspace::from(rec);
        if ws.state == WorkspaceState::Running {
            if let Some(cid) = &ws.container_id {
                // Live details are a bonus: the record stands on its own if
                // the engine is slow or down.
                if let Ok(Some(info)) = self.runtime.inspect(cid).await {
                    ws.published_ports = info.ports;
                }
            }
        }
        Ok(self.with_idle(ws))
    }

    pub async fn create(
        &self,
        p: &Principal,
        req: CreateWorkspace,
    ) -> Result<Workspace, CoreError> {
        let from_kept = req.from_kept.clone();
        let git = req.git.clone();
        if let Some(src) = &git {
            src.validate()?;
            if from_kept.is_some() {
                return Err(CoreError::invalid(
                    "invalid_request",
                    "a workspace starts from a git repository or from kept data, not both",
                ));
            }
        }
        // Looked up first: once the workspace exists, its setup starts
        // before anything else is awaited.
        let dotfiles = git.is_none() && self.has_dotfiles(&p.user_id).await;
        let ws = match &from_kept {
            None => self.create_unrecorded(p, req, Origin::Fresh).await?,
            Some(kept) => self.create_from_kept(p, req, kept).await?,
        };
        let mut detail = json!({"name": ws.name, "image": ws.image});
        if let Some(kept) = from_kept {
            detail["from_kept"] = json!(kept);
        }
        if let Some(src) = &git {
            detail["git"] = json!({"url": src.describe(), "ref": src.reference});
        }
        // Started before anything else is awaited: a request cut off now
        // still gets its clone (and its log).
        if let Some(src) = git {
            let env = ws.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            match ws.container_id.as_deref() {
                Some(handle) => self.start_clone(p, &ws.id, handle, env, src),
                None => {
                    warn!(workspace = %ws.id, "a new workspace without a container: its clone did not start")
                }
            }
        } else if dotfiles {
            self.start_dotfiles(p, &ws.id);
        }
        self.record(p, &ws.id, "workspace.create", detail).await;
        Ok(ws)
    }

    /// Puts a finished lifecycle change on the audit record.
    pub(super) async fn record(&self, p: &Principal, id: &str, action: &str, detail: Value) {
        let e = Entry::done(&p.actor(), Some(id), action, detail);
        self.audit.note(e).await;
    }

    /// Creates the workspace, new or from what `origin` says.
    pub(super) async fn create_unrecorded(
        &self,
        p: &Principal,
        req: CreateWorkspace,
        origin: Origin<'_>,
    ) -> Result<Workspace, CoreError> {
        can(p, Action::Change, Resource::NewWorkspace)?;
        let mut plan = plan::resolve(&req, &self.catalog, &self.opts.limits)?;
        if let Origin::Snapshot(snap) = origin {
            plan.image = snap.image.clone();
        }
        // Held until the row exists (it counts from then on).
        let gate = self.quota_gate(&p.user_id);
        let _quota = gate.lock().await;
        let ask = Ask::Create {
            cpus: plan.cpu_millis as f64 / 1000.0,
            memory_mb: plan.memory_mb,
        };
        self.check_quota(p, &p.user_id, ask).await?;
        if matches!(origin, Origin::Fresh) {
            if let Some(ws) = self.claim_from_pool(p, &req, &plan).await? {
                return Ok(ws);
            }
        }
        let image = plan.image.clone();
        // The image must be there before anything is recorded, so that a bad
        // image leaves nothing behind.
        let img = image.clone();
        self.runtime
            .ensure_image(&image, &move |line| info!(image = %img, "pull: {line}"))
            .await?;

        let id = new_id();
        let rec = plan.record(&id, &p.user_id, &req.name, None);
        // Taken before the row exists, so the reconciler never sees this
        // workspace half-made while we are still making it.
        let lock = self.lock_for(&id);
        let _guard = lock.lock().await;
        match self.store.insert_workspace(&rec).await {
            Ok(()) => {}
            Err(StoreError::Conflict) => {
                self.forget_lock(&id);
                return Err(CoreError::conflict(
                    "name_taken",
                    format!("you already have a workspace named {:?}", rec.name),
                ));
            }
            Err(e) => {
                self.forget_lock(&id);
                return Err(e.into());
            }
        }
        match self.provision(&rec, origin.seed()).await {
            Ok(()) => {
                self.set_state(&id, WorkspaceState::Running, None).await?;
                self.activity.started(&id);
                info!(workspace = %id, name = %rec.name, "workspace created");
                let ws = Workspace::from(self.store.workspace(&id).await?);
                self.warm_agent(ws.container_id.clone());
                Ok(ws)
            }
            Err(err) => {
                warn!(workspace = %id, error = %err, "creating workspace failed; cleaning up");
                if let Err(e) = self.store.delete_workspace(&id).await {
                    warn!(workspace = %id, error = %e, "could not delete the failed workspace's row");
                }
                self.forget_lock(&id);
                Err(err)
            }
        }
    }

    /// What the backend is asked to make for `rec`.
    pub(super) fn spec(
        &self,
        rec: &WorkspaceRecord,
        seed: Option<DataSeed>,
        config: Option<&DevContainer>,
    ) -> Result<WorkspaceSpec, CoreError> {
        let lim = &self.opts.limits;
        let pool = NetPool::parse(&lim.network_pool, lim.network_prefix)
            .map_err(|e| CoreError::Internal(format!("workspaces.network_pool: {e}")))?;
        // Arbitrary images: their init may not run, and a fresh /workspace
        // would be root's. Our own template images (and snapshots of them)
        // are known to be right; a devcontainer's image is not.
        let arbitrary = match rec.template.as_deref().and_then(|t| self.catalog.get(t)) {
            None => true,
            Some(t) => t.image != rec.image && !aicockpit_runtime::is_snapshot_image(&rec.image),
        };
        Ok(WorkspaceSpec {
            id: rec.id.clone(),
            image: rec.image.clone(),
            hostname: rec.name.clone(),
            user: rec.run_as.clone(),
            env: with_ssh_agent(&rec.env),
            limits: Limits {
                cpu_millis: rec.cpu_millis,
                memory_bytes: rec.memory_mb * 1024 * 1024,
                pids: rec.pids_limit,
            },
            data_dir: WORKSPACE_DIR.into(),
            own_new_data: arbitrary,
            verify_start: arbitrary,
            ports: rec.ports.clone(),
            subnets: pool.candidates(&rec.id).collect(),
            annotations: Self::annotations(rec),
            seed,
            volumes: config
                .map(|c| {
                    c.mounts
                        .iter()
                        .map(|m| NamedVolume {
                            name: m.source.clone(),
                            target: m.target.clone(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            // As allowed now: a capability an admin no longer lists is
            // not given when the container is made again.
            extra_capabilities: config
                .map(|c| self.capabilities_allowed_now(&rec.id, &c.cap_add))
                .unwrap_or_default(),
        })
    }

    /// `caps` as the admins' list (`workspaces.devcontainer_cap_add`)
    /// allows them now: one no longer listed is not given, and logged.
    fn capabilities_allowed_now(&self, id: &str, caps: &[String]) -> Vec<String> {
        let list = &self.opts.limits.devcontainer_cap_add;
        let (ok, dropped): (Vec<String>, Vec<String>) = caps
            .iter()
            .cloned()
            .partition(|cap| crate::devcontainer::cap_allowed(cap, list));
        for cap in dropped {
            warn!(workspace = %id, capability = %cap, "no longer allowed (workspaces.devcontainer_cap_add): not given");
        }
        ok
    }

    /// Has the backend make and start the workspace, and records what runs
    /// it. On error nothing new is left behind.
    pub(super) async fn provision(
        &self,
        rec: &WorkspaceRecord,
        seed: Option<DataSeed>,
    ) -> Result<(), CoreError> {
        let applied = self.applied_devcontainer(&rec.id).await;
        self.provision_with(rec, seed, applied.as_ref()).await
    }

    /// [`Self::provision`] as devcontainer.json `config` says (its volumes
    /// and capabilities; it may be one about to be applied).
    pub(super) async fn provision_with(
        &self,
        rec: &WorkspaceRecord,
        seed: Option<DataSeed>,
        config: Option<&DevContainer>,
    ) -> Result<(), CoreError> {
        let spec = self.spec(rec, seed, config)?;
        let made = self
            .runtime
            .provision(&spec)
            .await
            .map_err(|e| self.provision_error(e))?;
        if let Err(e) = self
            .store
            .set_workspace_container(&rec.id, Some(&made.handle), now_ms())
            .await
        {
            if let Err(e) = self.runtime.destroy(&rec.id, !made.data_created).await {
                warn!(workspace = %rec.id, error = %e, "could not remove an unrecorded workspace");
            }
            return Err(e.into());
        }
        Ok(())
    }

    /// The backend's refusal in the words of this server's settings.
    pub(super) fn provision_error(&self, e: RuntimeError) -> CoreError {
        match e {
            RuntimeError::NoFreeAddressRange(_) => {
                let lim = &self.opts.limits;
                let pool = NetPool::parse(&lim.network_pool, lim.network_prefix)
                    .map(|p| p.describe())
                    .unwrap_or_else(|_| lim.network_pool.clone());
                CoreError::conflict(
                    "network_pool_exhausted",
                    format!(
                        "no free subnet left in the workspace network pool {pool} (/{} each): delete workspaces or widen workspaces.network_pool",
                        lim.network_prefix
                    ),
                )
            }
            other => other.into(),
        }
    }

    pub async fn start(&self, p: &Principal, id: &str) -> Result<Workspace, CoreError> {
        let rec = self.authorized(p, id, Action::Change).await?;
        let gate = self.quota_gate(&rec.owner_id);
        let _quota = gate.lock().await;
        let lock = self.lock_for(&rec.id);
        let _guard = lock.lock().await;
        let now = self.store.workspace(&rec.id).await?;
        if WorkspaceState::parse(&now.state) != WorkspaceState::Running {
            let ask = Ask::Start {
                cpus: now.cpu_millis as f64 / 1000.0,
                memory_mb: now.memory_mb,
            };
            self.check_quota(p, &now.owner_id, ask).await?;
        }
        let ws = self.start_locked(&rec.id).await?;
        self.record(p, &ws.id, "workspace.start", Value::Null).await;
        Ok(ws)
    }

    async fn start_locked(&self, id: &str) -> Result<Workspace, CoreError> {
        let rec = self.store.workspace(id).await?;
        match WorkspaceState::parse(&rec.state) {
            WorkspaceState::Deleting => {
                return Err(CoreError::conflict(
                    "workspace_deleting",
                    "the workspace is being deleted",
                ))
            }
            WorkspaceState::Running => {
                // Trust but verify: a stale "running" is corrected below.
                if let Some(cid) = &rec.container_id {
                    if let Some(info) = self.runtime.inspect(cid).await? {
                        if info.status.is_running() {
                            return Ok(Workspace::from(rec));
                        }
                    }
                }
            }
            _ => {}
        }
        self.set_state(id, WorkspaceState::Starting, None).await?;
        let existing = match &rec.container_id {
            Some(cid) => self.runtime.inspect(cid).await?,
            None => None,
        };
        let result = match existing {
            Some(info) => self
                .runtime
                .start(&info.handle)
                .await
                .map_err(CoreError::from),
            // Nothing runs it (removed behind our back, or never made): make
            // it again on the kept data.
            None => self.provision(&rec, None).await,
        };
        match result {
            Ok(()) => {
                self.set_state(id, WorkspaceState::Running, None).await?;
                self.activity.started(id);
                let ws = Workspace::from(self.store.workspace(id).await?);
                self.warm_agent(ws.container_id.clone());
                self.run_post_start(id).await;
                Ok(ws)
            }
            Err(CoreError::EngineUnavailable(m)) => {
                // Unknown outcome: leave `starting` for the reconciler.
                Err(CoreError::EngineUnavailable(m))
            }
            Err(e) => {
                self.set_state(id, WorkspaceState::Error, Some(&e.to_string()))
                    .await?;
                Err(e)
            }
        }
    }

    pub async fn stop(&self, p: &Principal, id: &str) -> Result<Workspace, CoreError> {
        let rec = self.authorized(p, id, Action::Change).await?;
        let lock = self.lock_for(&rec.id);
        let _guard = lock.lock().await;
        let ws = self.stop_locked(&rec.id).await?;
        self.record(p, &ws.id, "workspace.stop", Value::Null).await;
        Ok(ws)
    }

    pub(super) async fn stop_locked(&self, id: &str) -> Result<Workspace, CoreError> {
        let rec = self.store.workspace(id).await?;
        match WorkspaceState::parse(&rec.state) {
            WorkspaceState::Deleting => {
                return Err(CoreError::conflict(
                    "workspace_deleting",
                    "the workspace is being deleted",
                ))
            }
            WorkspaceState::Stopped => return Ok(Workspace::from(rec)),
            _ => {}
        }
        if let Some(cid) = &rec.container_id {
            self.workspace_agents.forget(cid);
            self.set_state(id, WorkspaceState::Stopping, None).await?;
            let grace = Duration::from_secs(self.opts.stop_timeout_secs.max(0) as u64);
            self.runtime.stop(cid, grace).await?;
        }
        self.set_state(id, WorkspaceState::Stopped, None).await?;
        Ok(Workspace::from(self.store.workspace(id).await?))
    }

    pub async fn restart(&self, p: &Principal, id: &str) -> Result<Workspace, CoreError> {
        let rec = self.authorized(p, id, Action::Change).await?;
        let lock = self.lock_for(&rec.id);
        let _guard = lock.lock().await;
        self.stop_locked(&rec.id).await?;
        let ws = self.start_locked(&rec.id).await?;
        self.record(p, &ws.id, "workspace.restart", Value::Null)
            .await;
        Ok(ws)
    }

    /// Deletes the workspace; its volume survives unless `purge`.
    pub async fn delete(
        &self,
        p: &Principal,
        id: &str,
        purge: bool,
    ) -> Result<DeleteOutcome, CoreError> {
        let rec = self.authorized(p, id, Action::Change).await?;
        let lock = self.lock_for(&rec.id);
        let _guard = lock.lock().await;
        self.set_state(&rec.id, WorkspaceState::Deleting, None)
            .await?;
        // Any engine failure here leaves the row in `deleting`, which the
        // reconciler finishes once the engine answers again.
        if !purge {
            self.keep_facts(&rec).await?;
        }
        self.runtime.destroy(&rec.id, !purge).await?;
        self.store.delete_workspace(&rec.id).await?;
        self.forget_lock(&rec.id);
        self.activity.forget(&rec.id);
        self.setups.forget(&rec.id);
        self.forget_devcontainer(&rec.id).await;
        info!(workspace = %rec.id, purge, "workspace deleted");
        let detail = json!({"name": rec.name, "purge": purge});
        self.record(p, &rec.id, "workspace.delete", detail).await;
        Ok(DeleteOutcome {
            kept_volume: (!purge).then_some(rec.volume),
        })
    }

    pub async fn exec(
        &self,
        p: &Principal,
        id: &str,
        params: ExecParams,
    ) -> Result<ExecOutput, CoreError> {
        let rec = self.authorized(p, id, Action::Change).await?;
        let (timeout, max_output) = checked_exec_params(&params, &self.opts.limits)?;
        if params.user.as_deref().is_some_and(names_root) {
            let ws = Resource::Workspace {
                id,
                owner_id: &rec.owner_id,
            };
            can(p, Action::ExecAsRoot, ws)?;
        }
        let not_running = || {
            CoreError::conflict(
                "workspace_not_running",
                "the workspace is not running; start it first",
            )
        };
        if WorkspaceState::parse(&rec.state) != WorkspaceState::Running {
            return Err(not_running());
        }
        let cid = rec.container_id.clone().ok_or_else(not_running)?;
        // On the record before it runs (a cancelled request still leaves
        // its row), or not run at all. Variable names only: values may be
        // secrets.
        let detail = json!({
            "argv": params.argv, "cwd": params.cwd, "user": params.user,
            "env": params.env.keys().collect::<Vec<_>>(),
            "sandboxed": params.sandbox.is_some(),
        });
        let e = Entry::done(&p.actor(), Some(&rec.id), "workspace.exec", detail);
        self.audit.before(e.with_result("started")).await?;
        let argv = match &params.sandbox {
            None => params.argv,
            Some(spec) => self.sandboxed(&cid, spec, params.argv).await?,
        };
        // The workspace's own environment first: a workspace claimed from
        // the pool has it only where the agent reads it, not in its
        // container's.
        let mut env: Vec<(String, String)> = rec
            .env
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        env.extend(params.env);
        let req = ExecRequest {
            argv,
            cwd: params.cwd,
            env,
            user: params.user,
            timeout: Duration::from_secs(timeout),
            max_output_bytes: max_output,
        };
        // A command running is work: the workspace is not idle meanwhile.
        let _busy = self.activity.hold(&rec.id, Work::Exec);
        match self.runtime.exec(&cid, &req).await {
            Ok(out) => Ok(out),
            Err(RuntimeError::Conflict(_)) | Err(RuntimeError::NotFound(_)) => Err(not_running()),
            Err(e) => Err(e.into()),
        }
    }
}

impl WorkspaceManager {
    /// `argv` wrapped in the agent's sandbox mode, once the agent is in
    /// the container and its kernel offers a Landlock ABI that can enforce
    /// the whole spec.
    async fn sandboxed(
        &self,
        cid: &str,
        spec: &SandboxSpec,
        argv: Vec<String>,
    ) -> Result<Vec<String>, CoreError> {
        let conn = self.workspace_agents.connect(cid).await?;
        if conn.landlock_abi < MIN_SANDBOX_ABI {
            return Err(CoreError::conflict(
                "sandbox_unavailable",
                format!(
                    "the workspace's kernel offers Landlock ABI {}, the sandbox needs {MIN_SANDBOX_ABI}",
                    conn.landlock_abi
                ),
            ));
        }
        // Checked before every sandboxed command: a replaced binary would
        // run the command without the sandbox.
        let bin = self.workspace_agents.place(cid).await?;
        let spec = serde_json::to_string(spec)
            .map_err(|e| CoreError::Internal(format!("sandbox spec: {e}")))?;
        let mut v = vec![bin, "sandbox".into(), spec, "--".into()];
        v.extend(argv);
        Ok(v)
    }
}

/// Checks an exec request's own fields against the limits; returns its
/// timeout and output cap.
fn checked_exec_params(
    params: &ExecParams,
    lim: &WorkspacesConfig,
) -> Result<(u64, usize), CoreError> {
    validate::argv(&params.argv).map_err(|m| CoreError::invalid("invalid_argv", m))?;
    validate::env(&params.env).map_err(|m| CoreError::invalid("invalid_env", m))?;
    if let Some(cwd) = &params.cwd {
        if !cwd.starts_with('/') || cwd.contains('\0') || cwd.len() > 4096 {
            return Err(CoreError::invalid(
                "invalid_cwd",
                "cwd must be an absolute path",
            ));
        }
    }
    if let Some(u) = &params.user {
        if u.is_empty()
            || u.len() > 64
            || !u
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-:.".contains(&b))
        {
            return Err(CoreError::invalid(
                "invalid_user",
                "user must be a name or uid[:gid]",
            ));
        }
    }
    let timeout = params.timeout_secs.unwrap_or(lim.exec_default_timeout_secs);
    if timeout == 0 || timeout > lim.exec_max_timeout_secs {
        return Err(CoreError::invalid(
            "invalid_timeout",
            format!(
                "timeout_secs must be between 1 and {}",
                lim.exec_max_timeout_secs
            ),
        ));
    }
    let max_output = params
        .max_output_bytes
        .unwrap_or(lim.exec_default_output_bytes);
    if max_output > lim.exec_max_output_bytes {
        return Err(CoreError::invalid(
            "invalid_output_limit",
            format!(
                "max_output_bytes must be at most {}",
                lim.exec_max_output_bytes
            ),
        ));
    }
    Ok((timeout, max_output))
}

/// Whether an exec `user` (name or uid[:gid]) is root: an admin's tool,
/// members run as the image's user.
/// The workspace's environment, with its SSH agent's socket (unless the
/// workspace names another).
fn with_ssh_agent(env: &BTreeMap<String, String>) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = env.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    if !env.contains_key("SSH_AUTH_SOCK") {
        v.push((
            "SSH_AUTH_SOCK".into(),
            crate::workspace_agent::SSH_AGENT_SOCKET.into(),
        ));
    }
    v
}

/// Whether a `user[:group]` names root: by name, or uid 0 however it is
/// written (`0`, `00`, `+0`).
pub(super) fn names_root(user: &str) -> bool {
    let u = user.split(':').next().unwrap_or(user).trim();
    u == "root"
        || u.trim_start_matches('+')
            .parse::<u64>()
            .is_ok_and(|n| n == 0)
}

#[cfg(test)]
mod disk_tests {
    use super::{names_root, parse_du_kib};

    #[test]
    fn root_however_it_is_written() {
        for u in ["root", "0", "00", "+0", "0:0", "root:1000", " 0"] {
            assert!(names_root(u), "{u}");
        }
        for u in ["1000", "1000:0", "rooter", "dev", "10", ""] {
            assert!(!names_root(u), "{u}");
        }
    }

    #[test]
    fn du_output_is_a_number_or_nothing() {
        let cases: [(&[u8], Option<u64>); 7] = [
            (b"12\t/workspace\n", Some(12 * 1024)),
            (b"0\t/workspace\n", Some(0)),
            (b"", None),
            (b"-5\t/workspace", None),
            (b"lots\t/workspace", None),
            (b"99999999999999999999\t/workspace", None),
            (b"\xff\xfe", None),
        ];
        for (out, want) in cases {
            assert_eq!(parse_du_kib(out), want, "{out:?}");
        }
    }
}
