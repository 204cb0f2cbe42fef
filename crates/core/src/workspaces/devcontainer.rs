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
pub(super) const BUILD_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// The largest build context (its archive).
pub(super) const MAX_CONTEXT_BYTES: u64 = 512 * 1024 * 1024;
/// The longest one lifecycle command may run.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// Bytes of the container's environment read (for `${containerEnv:…}`).
const MAX_ENV_BYTES: usize = 64 * 1024;

/// The commands run when the container is made: the three that run once,
/// then those of every start ([`ON_START`]).
const ON_CREATION: [&str; 5] = [
    "onCreateCommand",
    "updateContentCommand",
    "postCreateCommand",
    "postStartCommand",
    "postAttachCommand",
];
/// The commands run after every start. The server is the tool that
/// attaches (as `devcontainer up` does), so `postAttachCommand` follows
/// `postStartCommand` each time the workspace comes up.
const ON_START: [&str; 2] = ["postStartCommand", "postAttachCommand"];

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

/// A configuration's refusal (or mistake) as a setup failure, naming the
/// file.
pub(super) fn config_failure(path: &str, e: &devcontainer::ConfigError) -> Failure {
    let code = if e.refused {
        "devcontainer_refused"
    } else {
        "devcontainer_invalid"
    };
    fail(code, format!("{path}: {e}"))
}

pub(super) fn say(log: &Mutex<SetupLog>, line: &str) {
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
            // A new container has a new home: the dotfiles go in again.
            if error.is_none() {
                me.dotfiles_after_setup(&p2, &ws, &log).await;
            }
            lock(&log).finish(error);
        });
        self.setups.running(&rec.id, task.abort_handle());
        self.record(p, &rec.id, "workspace.rebuild", json!({}))
            .await;
        Ok(super::Workspace::from(rec))
    }

    /// Starts the applied configuration's `postStartCommand` and
    /// `postAttachCommand` after a start, in the background; its log (kind
    /// `post_start`) exists on return.
    pub(super) async fn run_post_start(&self, id: &str) {
        let Some(config) = self.applied_devcontainer(id).await else {
            return;
        };
        let Ok(rec) = self.store.workspace(id).await else {
            return;
        };
        let (Some(handle), Some(me)) = (rec.container_id.clone(), self.me.upgrade()) else {
            return;
        };
        // The container may have been made again since (its files with
        // it); in the background, with a deadline: the container answers.
        {
            let (me, handle, rec, config) =
                (me.clone(), handle.clone(), rec.clone(), config.clone());
            tokio::spawn(async move {
                let wrote = me.write_session_env(&handle, &rec, &config);
                if tokio::time::timeout(Duration::from_secs(30), wrote)
                    .await
                    .is_err()
                {
                    warn!(workspace = %rec.id, "remoteEnv was not given to terminals in time");
                }
            });
        }
        let which: Vec<&str> = config.lifecycle.of(&ON_START).map(|(p, _)| p).collect();
        let Some(source) = (!which.is_empty()).then(|| which.join(", ")) else {
            return;
        };
        let Some(log) = self
            .setups
            .begin_unless_running(id, "post_start", source.clone())
        else {
            return;
        };
        lock(&log).phase = "lifecycle";
        let busy = self.activity.hold(id, super::activity::Work::Exec);
        let task = tokio::spawn(async move {
            let _busy = busy;
            let outcome = me
                .run_lifecycle(&handle, &rec, &config, &ON_START, &log)
                .await;
            let detail = json!({"command": source});
            me.audit_step(
                "workspace",
                &rec.id,
                "workspace.lifecycle",
                detail,
                outcome.as_ref().err(),
            )
            .await;
            lock(&log).finish(outcome.err());
        });
        self.setups.running(id, task.abort_handle());
    }

    /// The configuration applied to `id`, if any (one that cannot be read
    /// counts as none, and is logged).
    pub(super) async fn applied_devcontainer(&self, id: &str) -> Option<DevContainer> {
        let text = self.store.setting(&settings_key(id)).await.ok()??;
        serde_json::from_str(&text)
            .map_err(|e| warn!(workspace = %id, error = %e, "unreadable devcontainer setting"))
            .ok()
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
            // Nor do its remoteEnv and workspaceFolder in terminals, if
            // they were given (an empty file gives none; this container
            // is kept).
            let file = aicockpit_workspace_agent_proto::REMOTE_ENV_FILE;
            if !matches!(self.runtime.read_file(&handle, file, 1).await, Ok(None)) {
                if let Err(e) = self.runtime.put_file(&handle, file, b"", 0o644).await {
                    warn!(workspace = %id, error = %e, "could not clear the remoteEnv of terminals");
                }
            }
            return Ok(());
        };
        lock(log).phase = "devcontainer";
        say(log, &format!("aicockpit: applying {path}"));
        let vars = Vars {
            workspace_folder: WORKSPACE_DIR.into(),
            container_workspace_folder: WORKSPACE_DIR.into(),
            devcontainer_id: devcontainer_id(id),
            container_env: None,
        };
        let parsed = devcontainer::parse(&text, path, &vars)
            .and_then(|c| {
                devcontainer::check_cap_add(&c, &self.opts.limits.devcontainer_cap_add).map(|()| c)
            })
            .map_err(|e| config_failure(path, &e));
        let mut detail = json!({ "path": path });
        let outcome = match parsed {
            Err(e) => Err(e),
            Ok(config) => {
                for n in &config.notes {
                    say(log, &format!("aicockpit: note: {n}"));
                }
                for m in &config.mounts {
                    say(
                        log,
                        &format!(
                            "aicockpit: volume {} at {} (this workspace's own; kept across rebuilds)",
                            m.source, m.target
                        ),
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
        self.audit_step(
            &p.actor(),
            id,
            "workspace.devcontainer",
            detail,
            outcome.as_ref().err(),
        )
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
        let (merged, features) = self.read_features(handle, config, log).await?;
        let config = &merged;
        lock(log).phase = "image";
        let mut image = self.image_for(rec, handle, config, log).await?;
        if !features.found.is_empty() {
            let ids: Vec<String> = features.found.iter().map(|(_, m)| m.id.clone()).collect();
            image = self
                .install_features(rec, handle, config, image, features, log)
                .await?;
            detail["features"] = json!(ids);
        }
        detail["image_ref"] = json!(image);
        detail["volumes"] = json!(config
            .mounts
            .iter()
            .map(|m| json!({"source": m.source, "target": m.target}))
            .collect::<Vec<_>>());
        detail["capabilities"] = json!(config.cap_add);
        lock(log).phase = "container";
        let (new_handle, next) = self.remake(p, &rec.id, config, image, log).await?;
        detail["user"] = json!(next.run_as);
        let saved = serde_json::to_string(config).map_err(|e| fail("failed", e.to_string()))?;
        self.store
            .set_setting(&settings_key(&rec.id), &saved)
            .await
            .map_err(|e| fail("failed", e.to_string()))?;
        lock(log).phase = "lifecycle";
        if tokio::time::timeout(
            Duration::from_secs(30),
            self.write_session_env(&new_handle, &next, config),
        )
        .await
        .is_err()
        {
            say(
                log,
                "aicockpit: remoteEnv was not given to terminals in time",
            );
        }
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
                    generated: None,
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
        let mut next = self.shape(&now, config, image, log);
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
        let made = match self.provision_with(&next, None, Some(config)).await {
            Ok(()) => self.pin_user(p, &mut next, config, log).await,
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

    /// Checks the new container's user (as the kernel sees it) and, when
    /// the configuration named it, makes the container again with its
    /// numbers: a name is looked up in the container's `/etc/passwd` at
    /// every start and exec, which the user may be able to change (a
    /// Dockerfile can leave it writable) to become another uid, root
    /// included. Returns the container's handle; `next` has the numbers.
    async fn pin_user(
        &self,
        p: &Principal,
        next: &mut WorkspaceRecord,
        config: &DevContainer,
        log: &Arc<Mutex<SetupLog>>,
    ) -> Result<String, Failure> {
        let (handle, ids) = self.check_made(p, next).await?;
        if ids == next.run_as {
            return Ok(handle);
        }
        say(
            log,
            &format!(
                "aicockpit: the user {} is {ids}; the container is made with the numbers",
                next.run_as
            ),
        );
        next.run_as = ids.clone();
        self.runtime
            .destroy(&next.id, true)
            .await
            .map_err(|e| fail("failed", format!("removing the container: {e}")))?;
        self.provision_with(next, None, Some(config))
            .await
            .map_err(|e| fail("devcontainer_start_failed", e.to_string()))?;
        let (handle, again) = self.check_made(p, next).await?;
        if again != ids {
            return Err(fail(
                "devcontainer_start_failed",
                format!("the container's user changed from {ids} to {again}"),
            ));
        }
        Ok(handle)
    }

    /// The new container's handle, once its user is checked as the kernel
    /// sees it: a name the image maps to uid 0 is root too.
    async fn check_made(
        &self,
        p: &Principal,
        next: &WorkspaceRecord,
    ) -> Result<(String, String), Failure> {
        let fresh = self
            .store
            .workspace(&next.id)
            .await
            .map_err(|e| fail("failed", e.to_string()))?;
        let handle = fresh
            .container_id
            .ok_or_else(|| fail("failed", "the new container was not recorded"))?;
        let id_of = |flag: &str| ExecRequest {
            argv: vec!["id".into(), flag.into()],
            cwd: None,
            env: Vec::new(),
            user: None,
            timeout: Duration::from_secs(10),
            max_output_bytes: 64,
        };
        let mut ids = Vec::new();
        for flag in ["-u", "-g"] {
            let out = self
                .runtime
                .exec(&handle, &id_of(flag))
                .await
                .map_err(|e| fail("devcontainer_start_failed", e.to_string()))?;
            let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            // Whatever the image has instead of `id`, fail closed.
            let n = text.parse::<u64>().map_err(|_| {
                fail(
                    "devcontainer_start_failed",
                    format!("the new container's user could not be read (id {flag} said {text:?})"),
                )
            })?;
            ids.push(n);
        }
        if ids[0] == 0 {
            self.may_run_as_root(p, next)?;
        }
        Ok((handle, format!("{}:{}", ids[0], ids[1])))
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
            container_workspace_folder: config.workspace_folder.clone(),
            devcontainer_id: devcontainer_id(&rec.id),
            container_env: Some(container_env),
        };
        for (k, v) in &config.remote_env {
            match v {
                Some(v) => env.insert(k.clone(), devcontainer::substitute(v, &vars)),
                None => env.remove(k),
            };
        }
        env.into_iter().collect()
    }

    /// Gives terminals and SSH sessions what the spec gives tools: the
    /// configuration's `remoteEnv` (substituted; the names it unsets are
    /// listed for the agent to remove) and its `workspaceFolder` as where terminals open,
    /// in a file the agent reads for every program it starts. Best effort:
    /// commands run without it, logged.
    pub(super) async fn write_session_env(
        &self,
        handle: &str,
        rec: &WorkspaceRecord,
        config: &DevContainer,
    ) {
        let all: BTreeMap<String, String> = self
            .remote_env(handle, rec, config)
            .await
            .into_iter()
            .collect();
        let mut env: BTreeMap<String, String> = config
            .remote_env
            .iter()
            .filter(|(_, v)| v.is_some())
            .filter_map(|(k, _)| all.get(k).map(|v| (k.clone(), v.clone())))
            .collect();
        env.insert(
            aicockpit_workspace_agent_proto::WORKSPACE_FOLDER_VAR.into(),
            config.workspace_folder.clone(),
        );
        let unset: Vec<&str> = config
            .remote_env
            .iter()
            .filter(|(k, v)| v.is_none() && !k.contains(char::is_whitespace))
            .map(|(k, _)| k.as_str())
            .collect();
        if !unset.is_empty() {
            env.insert(
                aicockpit_workspace_agent_proto::UNSET_VARS_VAR.into(),
                unset.join(" "),
            );
        }
        let file = aicockpit_workspace_agent_proto::encode_claimed_env(&env);
        if let Err(e) = self
            .runtime
            .put_file(
                handle,
                aicockpit_workspace_agent_proto::REMOTE_ENV_FILE,
                &file,
                0o644,
            )
            .await
        {
            warn!(workspace = %rec.id, error = %e, "remoteEnv could not be given to terminals");
        }
    }

    /// `argv` run without the variables `remoteEnv` unsets: the engine
    /// only adds variables to an exec, so `env -u` removes the image's.
    fn without_unset(config: &DevContainer, argv: Vec<String>) -> Vec<String> {
        let unset: Vec<&String> = config
            .remote_env
            .iter()
            .filter(|(_, v)| v.is_none())
            .map(|(k, _)| k)
            .collect();
        if unset.is_empty() {
            return argv;
        }
        let mut out = vec!["env".to_owned()];
        for k in unset {
            out.push("-u".into());
            out.push(k.clone());
        }
        out.push("--".into());
        out.extend(argv);
        out
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
                argv: Self::without_unset(config, argv),
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
