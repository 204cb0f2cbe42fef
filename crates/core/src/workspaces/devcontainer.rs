//! Applying a repository's devcontainer.json to the workspace it was
//! cloned into: read it (through the engine, bounded), check it, get its
//! image (pull, or build with the Dockerfile's bases checked), make the
//! workspace's container again from it on the same `/workspace`, then run
//! its lifecycle commands as its user. Every step writes to the setup log;
//! the outcome goes on the audit record. Until the new container runs, the
//! old one stays: a configuration that is refused or fails to build leaves
//! the workspace as it was.

use super::manager::{names_root, WorkspaceManager, WORKSPACE_DIR};
use super::model::WorkspaceState;
use super::plan;
use super::quota::Ask;
use super::setup::{lock, SetupLog};
use crate::access::{can, Action, Resource};
use crate::audit::Entry;
use crate::auth::Principal;
use crate::devcontainer::{self, Command, DevContainer, ImageSource, Vars};
use crate::now_ms;
use aicockpit_runtime::{BuildRequest, ExecRequest};
use aicockpit_store::WorkspaceRecord;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing::warn;

/// The longest an image build may take.
const BUILD_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// The largest build context (its archive).
const MAX_CONTEXT_BYTES: u64 = 512 * 1024 * 1024;
/// The longest one lifecycle command may run.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// Bytes of the container's environment read (for `${containerEnv:…}`).
const MAX_ENV_BYTES: usize = 64 * 1024;

/// The commands run once, when the container is made (then the start one).
const ON_CREATION: [&str; 4] = [
    "onCreateCommand",
    "updateContentCommand",
    "postCreateCommand",
    "postStartCommand",
];

/// A setup step's failure: its code and what to tell the user.
pub(super) type Failure = (String, String);

fn fail(code: &str, message: impl Into<String>) -> Failure {
    (code.to_owned(), message.into())
}

/// The settings key the applied configuration is kept under.
pub(super) fn settings_key(workspace: &str) -> String {
    format!("workspace:{workspace}:devcontainer")
}

/// `${devcontainerId}`: stable for the workspace, different between them.
fn devcontainer_id(workspace: &str) -> String {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(format!("aicockpit-devcontainer\0{workspace}").as_bytes());
    h.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

fn say(log: &Mutex<SetupLog>, line: &str) {
    lock(log).feed(format!("{line}\n").as_bytes());
}

impl WorkspaceManager {
    /// Re-reads the running workspace's devcontainer.json and makes its
    /// container again from it, keeping `/workspace`, in the background
    /// (followed through its setup log, kind `rebuild`).
    pub async fn rebuild(
        &self,
        p: &Principal,
        id: &str,
    ) -> Result<super::Workspace, crate::CoreError> {
        let rec = self
            .authorized(p, id, crate::access::Action::Change)
            .await?;
        if WorkspaceState::parse(&rec.state) != WorkspaceState::Running {
            return Err(crate::CoreError::conflict(
                "not_running",
                "start the workspace before rebuilding it",
            ));
        }
        let me = self
            .me
            .upgrade()
            .ok_or_else(|| crate::CoreError::Internal("the manager is gone".into()))?;
        let log = self
            .setups
            .begin_unless_running(&rec.id, "rebuild", "devcontainer.json".into())
            .ok_or_else(|| {
                crate::CoreError::conflict(
                    "setup_running",
                    "the workspace's setup is still running",
                )
            })?;
        lock(&log).phase = "devcontainer";
        let busy = self.activity.hold(&rec.id, super::activity::Work::Exec);
        let (ws, p2) = (rec.id.clone(), p.clone());
        let task = tokio::spawn(async move {
            let _busy = busy;
            let error = me.apply_devcontainer(&p2, &ws, &log).await.err();
            lock(&log).finish(error);
        });
        self.setups.running(&rec.id, task.abort_handle());
        self.record(p, &rec.id, "workspace.rebuild", json!({}))
            .await;
        Ok(super::Workspace::from(rec))
    }

    /// Starts the applied configuration's `postStartCommand` after a start,
    /// in the background; its log (kind `post_start`) exists on return.
    pub(super) async fn run_post_start(&self, id: &str) {
        const POST_START: [&str; 1] = ["postStartCommand"];
        let config = match self.store.setting(&settings_key(id)).await {
            Ok(Some(v)) => match serde_json::from_str::<DevContainer>(&v) {
                Ok(c) => c,
                Err(e) => {
                    warn!(workspace = %id, error = %e, "unreadable devcontainer setting");
                    return;
                }
            },
            _ => return,
        };
        if config.lifecycle.of(&POST_START).next().is_none() {
            return;
        }
        let Ok(rec) = self.store.workspace(id).await else {
            return;
        };
        let (Some(handle), Some(me)) = (rec.container_id.clone(), self.me.upgrade()) else {
            return;
        };
        let Some(log) =
            self.setups
                .begin_unless_running(id, "post_start", "postStartCommand".into())
        else {
            return;
        };
        lock(&log).phase = "lifecycle";
        let busy = self.activity.hold(id, super::activity::Work::Exec);
        let task = tokio::spawn(async move {
            let _busy = busy;
            let outcome = me
                .run_lifecycle(&handle, &rec, &config, &POST_START, &log)
                .await;
            let mut detail = json!({"command": "postStartCommand"});
            if let Err((code, message)) = &outcome {
                detail["error"] = json!({"code": code, "message": message});
            }
            let e = Entry::done("workspace", Some(&rec.id), "workspace.lifecycle", detail);
            me.audit
                .note(if outcome.is_err() {
                    e.with_result("failed")
                } else {
                    e
                })
                .await;
            lock(&log).finish(outcome.err());
        });
        self.setups.running(id, task.abort_handle());
    }

    /// Forgets the configuration applied to a deleted workspace.
    pub(super) async fn forget_devcontainer(&self, id: &str) {
        if let Err(e) = self.store.delete_setting(&settings_key(id)).await {
            warn!(workspace = %id, error = %e, "could not forget the devcontainer setting");
        }
    }

    /// The devcontainer configuration applied to workspace `id`, if any.
    pub async fn devcontainer(
        &self,
        p: &Principal,
        id: &str,
    ) -> Result<Option<DevContainer>, crate::CoreError> {
        let rec = self.authorized(p, id, crate::access::Action::View).await?;
        match self.store.setting(&settings_key(&rec.id)).await? {
            None => Ok(None),
            Some(v) => serde_json::from_str(&v)
                .map(Some)
                .map_err(|e| crate::CoreError::Internal(format!("devcontainer of {id}: {e}"))),
        }
    }

    /// Finds and applies the repository's configuration (nothing when it
    /// has none). Runs in the setup task, after the clone.
    pub(super) async fn apply_devcontainer(
        &self,
        p: &Principal,
        id: &str,
        log: &Arc<Mutex<SetupLog>>,
    ) -> Result<(), Failure> {
        let rec = self
            .store
            .workspace(id)
            .await
            .map_err(|e| fail("failed", e.to_string()))?;
        let handle = rec
            .container_id
            .clone()
            .ok_or_else(|| fail("interrupted", "the workspace has no container"))?;
        let Some((path, text)) = self.read_config(&handle).await? else {
            say(
                log,
                "aicockpit: no devcontainer.json in the repository; the workspace keeps its image",
            );
            // Nothing applies any more (a rebuild after it was removed).
            if let Err(e) = self.store.delete_setting(&settings_key(id)).await {
                warn!(workspace = %id, error = %e, "could not forget the devcontainer setting");
            }
            return Ok(());
        };
        lock(log).phase = "devcontainer";
        say(log, &format!("aicockpit: applying {path}"));
        let vars = Vars {
            workspace_folder: WORKSPACE_DIR.into(),
            devcontainer_id: devcontainer_id(id),
            container_env: None,
        };
        let parsed = devcontainer::parse(&text, path, &vars).map_err(|e| {
            let code = if e.refused {
                "devcontainer_refused"
            } else {
                "devcontainer_invalid"
            };
            fail(code, format!("{path}: {e}"))
        });
        let mut detail = json!({ "path": path });
        let outcome = match parsed {
            Err(e) => Err(e),
            Ok(config) => {
                for n in &config.notes {
                    say(log, &format!("aicockpit: note: {n}"));
                }
                if !config.mounts.is_empty() {
                    say(
                        log,
                        "aicockpit: note: mounts are not made: named volumes are not supported yet",
                    );
                }
                detail["image"] = match &config.image {
                    ImageSource::Image(i) => json!({"pull": i}),
                    ImageSource::Build {
                        dockerfile,
                        context_dir,
                        ..
                    } => {
                        json!({"build": dockerfile, "context": context_dir})
                    }
                };
                detail["remote_user"] = json!(config.remote_user);
                detail["forward_ports"] = json!(config.forward_ports);
                self.apply_config(p, &rec, &handle, &config, log, &mut detail)
                    .await
            }
        };
        if let Err((code, message)) = &outcome {
            detail["error"] = json!({"code": code, "message": message});
        }
        let e = Entry::done(&p.actor(), Some(id), "workspace.devcontainer", detail);
        self.audit
            .note(if outcome.is_err() {
                e.with_result("failed")
            } else {
                e
            })
            .await;
        outcome
    }

    /// The first configuration file found, as text.
    async fn read_config(&self, handle: &str) -> Result<Option<(&'static str, String)>, Failure> {
        for path in devcontainer::CONFIG_PATHS {
            let full = format!("{WORKSPACE_DIR}/{path}");
            let bytes = self
                .runtime
                .read_file(handle, &full, devcontainer::MAX_CONFIG_BYTES)
                .await
                .map_err(|e| fail("failed", format!("reading {path}: {e}")))?;
            if let Some(b) = bytes {
                let text = String::from_utf8(b)
                    .map_err(|_| fail("devcontainer_invalid", format!("{path} is not UTF-8")))?;
                return Ok(Some((path, text)));
            }
        }
        Ok(None)
    }

    async fn apply_config(
        &self,
        p: &Principal,
        rec: &WorkspaceRecord,
        handle: &str,
        config: &DevContainer,
        log: &Arc<Mutex<SetupLog>>,
        detail: &mut serde_json::Value,
    ) -> Result<(), Failure> {
        if let Some(u) = config
            .remote_user
            .as_deref()
            .or(config.container_user.as_deref())
        {
            if names_root(u) {
                self.may_run_as_root(p, rec)?;
            }
        }
        lock(log).phase = "image";
        let image = self.image_for(rec, handle, config, log).await?;
        detail["image_ref"] = json!(image);
        lock(log).phase = "container";
        let (new_handle, next) = self.remake(p, &rec.id, config, image, log).await?;
        let saved = serde_json::to_string(config).map_err(|e| fail("failed", e.to_string()))?;
        self.store
            .set_setting(&settings_key(&rec.id), &saved)
            .await
            .map_err(|e| fail("failed", e.to_string()))?;
        lock(log).phase = "lifecycle";
        // git in the commands asks the server for stored credentials.
        if let Err(e) = self.workspace_agents().connect(&new_handle).await {
            say(
                log,
                &format!("aicockpit: stored git credentials are unavailable ({e})"),
            );
        }
        detail["commands"] = json!(config
            .lifecycle
            .of(&ON_CREATION)
            .map(|(prop, c)| json!({"on": prop, "run": c.argvs().into_iter().map(|(_, a)| a).collect::<Vec<_>>()}))
            .collect::<Vec<_>>());
        self.run_lifecycle(&new_handle, &next, config, &ON_CREATION, log)
            .await
    }

    /// Running the workspace as root is running commands as root.
    fn may_run_as_root(&self, p: &Principal, rec: &WorkspaceRecord) -> Result<(), Failure> {
        let ws = Resource::Workspace {
            id: &rec.id,
            owner_id: &rec.owner_id,
        };
        can(p, Action::ExecAsRoot, ws).map_err(|_| {
            fail(
                "devcontainer_refused",
                "remoteUser/containerUser: the workspace would run as root, which needs the right to run commands as root",
            )
        })
    }

    /// The configuration's image: pulled, or built from the repository.
    async fn image_for(
        &self,
        rec: &WorkspaceRecord,
        handle: &str,
        config: &DevContainer,
        log: &Arc<Mutex<SetupLog>>,
    ) -> Result<String, Failure> {
        let progress_log = log.clone();
        let progress = move |line: String| say(&progress_log, &line);
        match &config.image {
            ImageSource::Image(i) => {
                plan::check_bare_image(i)
                    .map_err(|e| fail("devcontainer_invalid", format!("image: {e}")))?;
                say(log, &format!("aicockpit: using the image {i}"));
                self.runtime
                    .ensure_image(i, &progress)
                    .await
                    .map_err(|e| fail("image_unavailable", e.to_string()))?;
                Ok(i.clone())
            }
            ImageSource::Build {
                context_dir,
                dockerfile,
                args,
                target,
            } => {
                let req = BuildRequest {
                    context_dir: context_dir.clone(),
                    dockerfile: dockerfile.clone(),
                    args: args.clone(),
                    target: target.clone(),
                    memory_bytes: rec.memory_mb * 1024 * 1024,
                    cpu_millis: rec.cpu_millis,
                    network: Some(rec.network.clone()),
                    max_context_bytes: MAX_CONTEXT_BYTES,
                    spool_dir: self.opts.spool_dir.clone(),
                    timeout: BUILD_TIMEOUT,
                };
                let args = args.clone();
                let check = move |bytes: &[u8]| -> Result<Vec<String>, String> {
                    let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8".to_owned())?;
                    devcontainer::check_bases(text, &args, &|i| {
                        plan::check_bare_image(i).map_err(|e| e.to_string())
                    })
                };
                self.runtime
                    .build_image(handle, &req, &check, &progress)
                    .await
                    .map_err(|e| fail("image_build_failed", e.to_string()))
            }
        }
    }

    /// The workspace's record as the configuration makes it: image,
    /// environment, user, and limits raised to its host requirements
    /// within the server's limits (the caller checks the owner's quota).
    fn shape(
        &self,
        now: &WorkspaceRecord,
        config: &DevContainer,
        image: String,
        log: &Arc<Mutex<SetupLog>>,
    ) -> WorkspaceRecord {
        let lim = &self.opts.limits;
        let mut next = now.clone();
        next.image = image;
        next.env.extend(config.container_env.clone());
        if let Some(u) = config.remote_user.clone().or(config.container_user.clone()) {
            next.run_as = u;
        }
        if let Some(c) = config.cpus {
            let want = (c * 1000.0).round() as i64;
            let max = (lim.max_cpus * 1000.0) as i64;
            if want > max {
                say(log, &format!("aicockpit: note: hostRequirements.cpus {c} is more than this server allows; the workspace gets {}", lim.max_cpus));
            }
            next.cpu_millis = next.cpu_millis.max(want.min(max));
        }
        if let Some(m) = config.memory_mb {
            if m > lim.max_memory_mb {
                say(log, &format!("aicockpit: note: hostRequirements.memory {m} MiB is more than this server allows; the workspace gets {} MiB", lim.max_memory_mb));
            }
            next.memory_mb = next.memory_mb.max(m.min(lim.max_memory_mb));
        }
        next
    }

    /// Replaces the workspace's container by one made as `config` says
    /// from `image`, on the same data, under the workspace's lock (and, when
    /// its limits grow, the owner's quota gate until they are recorded); on
    /// failure the old one is made again. Returns the new handle and record.
    async fn remake(
        &self,
        p: &Principal,
        id: &str,
        config: &DevContainer,
        image: String,
        log: &Arc<Mutex<SetupLog>>,
    ) -> Result<(String, WorkspaceRecord), Failure> {
        let lock_ = self.lock_for(id);
        let _guard = lock_.lock().await;
        let now = self
            .store
            .workspace(id)
            .await
            .map_err(|_| fail("interrupted", "the workspace was deleted during its setup"))?;
        if WorkspaceState::parse(&now.state) != WorkspaceState::Running {
            return Err(fail(
                "interrupted",
                format!("the workspace is {} now; its setup stopped", now.state),
            ));
        }
        let next = self.shape(&now, config, image, log);
        let gate = self.quota_gate(&now.owner_id);
        let _quota = if next.cpu_millis > now.cpu_millis || next.memory_mb > now.memory_mb {
            let held = gate.lock().await;
            let grow = Ask::Grow {
                cpus: (next.cpu_millis - now.cpu_millis) as f64 / 1000.0,
                memory_mb: next.memory_mb - now.memory_mb,
            };
            self.check_quota(p, &now.owner_id, grow)
                .await
                .map_err(|e| fail("quota_exceeded", format!("hostRequirements: {e}")))?;
            Some(held)
        } else {
            None
        };
        say(
            log,
            &format!(
                "aicockpit: making the workspace's container from {}",
                next.image
            ),
        );
        if let Some(h) = &now.container_id {
            self.workspace_agents().forget(h);
        }
        // Nothing answers in it until the new container runs.
        self.set_state(id, WorkspaceState::Starting, None)
            .await
            .map_err(|e| fail("failed", e.to_string()))?;
        if let Err(e) = self.runtime.destroy(id, true).await {
            // Whatever is left is for the reconciler to compare.
            let _ = self.set_state(id, WorkspaceState::Running, None).await;
            return Err(fail("failed", format!("removing the old container: {e}")));
        }
        let made = match self.provision(&next, None).await {
            Ok(()) => self.check_made(p, &next).await,
            Err(e) => Err(fail("devcontainer_start_failed", e.to_string())),
        };
        let handle = match made {
            Ok(handle) => handle,
            Err(f) => {
                say(
                    log,
                    &format!("aicockpit: {}; making the old container again", f.1),
                );
                let _ = self.runtime.destroy(id, true).await;
                let state = match self.provision(&now, None).await {
                    Ok(()) => self.set_state(id, WorkspaceState::Running, None).await,
                    Err(e2) => {
                        warn!(workspace = %id, error = %e2, "could not make the workspace's old container again");
                        self.set_state(id, WorkspaceState::Error, Some(&e2.to_string()))
                            .await
                    }
                };
                if let Err(e3) = state {
                    warn!(workspace = %id, error = %e3, "could not record the workspace's state");
                }
                return Err(f);
            }
        };
        self.store
            .set_workspace_shape(&next, now_ms())
            .await
            .map_err(|e| fail("failed", e.to_string()))?;
        self.set_state(id, WorkspaceState::Running, None)
            .await
            .map_err(|e| fail("failed", e.to_string()))?;
        self.warm_agent(Some(handle.clone()));
        Ok((handle, next))
    }

    /// The new container's handle, once its user is checked as the kernel
    /// sees it: a name the image maps to uid 0 is root too.
    async fn check_made(&self, p: &Principal, next: &WorkspaceRecord) -> Result<String, Failure> {
        let fresh = self
            .store
            .workspace(&next.id)
            .await
            .map_err(|e| fail("failed", e.to_string()))?;
        let handle = fresh
            .container_id
            .ok_or_else(|| fail("failed", "the new container was not recorded"))?;
        let req = ExecRequest {
            argv: vec!["id".into(), "-u".into()],
            cwd: None,
            env: Vec::new(),
            user: None,
            timeout: Duration::from_secs(10),
            max_output_bytes: 64,
        };
        let out = self
            .runtime
            .exec(&handle, &req)
            .await
            .map_err(|e| fail("devcontainer_start_failed", e.to_string()))?;
        let uid = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        match uid.parse::<u64>() {
            Ok(0) => self.may_run_as_root(p, next).map(|()| handle),
            Ok(_) => Ok(handle),
            // Whatever the image has instead of `id`, fail closed.
            Err(_) => Err(fail(
                "devcontainer_start_failed",
                format!("the new container's user could not be read (id -u said {uid:?})"),
            )),
        }
    }

    /// Runs the configuration's commands among `which`, in order, as its
    /// user in its folder; the first to fail stops the rest.
    pub(super) async fn run_lifecycle(
        &self,
        handle: &str,
        rec: &WorkspaceRecord,
        config: &DevContainer,
        which: &[&str],
        log: &Arc<Mutex<SetupLog>>,
    ) -> Result<(), Failure> {
        let mut commands = config.lifecycle.of(which).peekable();
        if commands.peek().is_none() {
            return Ok(());
        }
        let env = self.remote_env(handle, rec, config).await;
        for (prop, command) in commands {
            say(log, &format!("aicockpit: running {prop}"));
            self.run_command(handle, config, &env, prop, command, log)
                .await?;
        }
        Ok(())
    }

    /// The workspace's environment for commands: its own plus `remoteEnv`,
    /// whose `${containerEnv:…}` are read from the container.
    async fn remote_env(
        &self,
        handle: &str,
        rec: &WorkspaceRecord,
        config: &DevContainer,
    ) -> Vec<(String, String)> {
        let mut env: BTreeMap<String, String> = rec.env.clone();
        if config.remote_env.is_empty() {
            return env.into_iter().collect();
        }
        let req = ExecRequest {
            argv: vec!["env".into()],
            cwd: None,
            env: Vec::new(),
            user: None,
            timeout: Duration::from_secs(10),
            max_output_bytes: MAX_ENV_BYTES,
        };
        let mut container_env = BTreeMap::new();
        if let Ok(out) = self.runtime.exec(handle, &req).await {
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                if let Some((k, v)) = line.split_once('=') {
                    container_env.insert(k.to_owned(), v.to_owned());
                }
            }
        }
        let vars = Vars {
            workspace_folder: WORKSPACE_DIR.into(),
            devcontainer_id: devcontainer_id(&rec.id),
            container_env: Some(container_env),
        };
        for (k, v) in &config.remote_env {
            env.insert(k.clone(), devcontainer::substitute(v, &vars));
        }
        env.into_iter().collect()
    }

    async fn run_command(
        &self,
        handle: &str,
        config: &DevContainer,
        env: &[(String, String)],
        prop: &str,
        command: &Command,
        log: &Arc<Mutex<SetupLog>>,
    ) -> Result<(), Failure> {
        let runs = command.argvs().into_iter().map(|(name, argv)| {
            let req = ExecRequest {
                argv,
                cwd: Some(config.workspace_folder.clone()),
                env: env.to_vec(),
                user: None,
                timeout: COMMAND_TIMEOUT,
                max_output_bytes: 64 * 1024,
            };
            let sink_log = log.clone();
            async move {
                let sink = move |bytes: &[u8]| lock(&sink_log).feed(bytes);
                let out = self.runtime.exec_observed(handle, &req, &sink).await;
                (name, out)
            }
        });
        for (name, out) in futures_util::future::join_all(runs).await {
            let what = match &name {
                Some(n) => format!("{prop} ({n})"),
                None => prop.to_owned(),
            };
            match out {
                Ok(o) if o.exit_code == Some(0) => {}
                Ok(o) if o.timed_out => {
                    return Err(fail(
                        "lifecycle_failed",
                        format!(
                            "{what} ran longer than {} minutes",
                            COMMAND_TIMEOUT.as_secs() / 60
                        ),
                    ))
                }
                Ok(o) => {
                    return Err(fail(
                        "lifecycle_failed",
                        format!("{what} failed with exit code {}", o.exit_code.unwrap_or(-1)),
                    ))
                }
                Err(e) => {
                    return Err(fail(
                        "lifecycle_failed",
                        format!("{what} could not run: {e}"),
                    ))
                }
            }
        }
        Ok(())
    }
}
