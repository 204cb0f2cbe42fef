//! Setting a new workspace up once it runs: cloning a git repository into
//! `/workspace`, as the workspace user, through the engine. Its output is
//! kept in memory (bounded: lines cut at [`MAX_LINE`], the last
//! [`MAX_LINES`] kept) for whoever follows it — the create dialog, the
//! CLI —, and its outcome goes on the audit record. A running clone counts
//! as work for idle stop. A finished setup's log is saved in the data
//! directory (the last [`KEEP_SAVED`] of each workspace, gone with it), so
//! a later setup (a restart's postStartCommand) or a server restart does
//! not lose the clone's, the build's and the commands' output.

use super::activity::Work;
use super::git::{classify_failure, clone_args, clone_script, GitSource};
use super::manager::{WorkspaceManager, WORKSPACE_DIR};
use crate::access::Action;
use crate::audit::Entry;
use crate::auth::Principal;
use crate::{now_ms, CoreError};
use aicockpit_runtime::ExecRequest;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing::{info, warn};

/// Bytes kept of one output line.
pub(super) const MAX_LINE: usize = 1024;
/// Lines kept of one setup's output.
pub(super) const MAX_LINES: usize = 1000;
/// Finished setups kept per workspace.
pub(super) const KEEP_SAVED: usize = 5;
/// The largest saved log read back (its lines are bounded when made).
const MAX_SAVED_BYTES: u64 = 8 * 1024 * 1024;
/// The longest a clone may run.
const CLONE_TIMEOUT: Duration = Duration::from_secs(30 * 60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetupState {
    Running,
    Succeeded,
    Failed,
}

impl SetupState {
    pub fn as_str(self) -> &'static str {
        match self {
            SetupState::Running => "running",
            SetupState::Succeeded => "succeeded",
            SetupState::Failed => "failed",
        }
    }
}

/// A setup's output from some line on, and how it ended.
#[derive(Debug, Clone)]
pub struct SetupView {
    /// What is being done (`git_clone`) and from where.
    pub kind: String,
    /// The step under way (or where it ended): `clone`, `devcontainer`,
    /// `image`, `container`, `lifecycle`, `dotfiles`.
    pub phase: String,
    pub source: String,
    pub state: SetupState,
    /// The index of `lines[0]`; a follower asks again from `next`.
    pub from: u64,
    pub lines: Vec<String>,
    /// Where to continue: the last line again while it is a progress line
    /// that is still being rewritten.
    pub next: u64,
    pub error_code: Option<String>,
    pub error: Option<String>,
    pub started_ms: i64,
    pub finished_ms: Option<i64>,
}

/// One setup's output as it grows.
pub(super) struct SetupLog {
    kind: &'static str,
    /// The step under way: `clone`, `devcontainer`, `image`, `container`,
    /// `lifecycle`, `dotfiles` (and the last one reached once it ended).
    pub(super) phase: &'static str,
    source: String,
    state: SetupState,
    lines: VecDeque<String>,
    /// The index of `lines[0]` (earlier ones were dropped).
    first: u64,
    /// The last line ended with `\r` (git rewrites progress in place).
    rewriting: bool,
    partial: Vec<u8>,
    error: Option<(String, String)>,
    started_ms: i64,
    finished_ms: Option<i64>,
    /// Where it is saved when it ends.
    save_to: Option<std::path::PathBuf>,
}

/// A finished setup as saved in the data directory.
#[derive(Debug, Serialize, Deserialize)]
struct SavedSetup {
    kind: String,
    phase: String,
    source: String,
    state: String,
    first: u64,
    lines: Vec<String>,
    error_code: Option<String>,
    error: Option<String>,
    started_ms: i64,
    finished_ms: Option<i64>,
}

impl SavedSetup {
    fn view(self, from: u64) -> SetupView {
        let from = from.clamp(self.first, self.first + self.lines.len() as u64);
        let skip = usize::try_from(from - self.first).unwrap_or(usize::MAX);
        let next = self.first + self.lines.len() as u64;
        SetupView {
            state: match self.state.as_str() {
                "succeeded" => SetupState::Succeeded,
                _ => SetupState::Failed,
            },
            kind: self.kind,
            phase: self.phase,
            source: self.source,
            from,
            lines: self.lines.into_iter().skip(skip).collect(),
            next,
            error_code: self.error_code,
            error: self.error,
            started_ms: self.started_ms,
            finished_ms: self.finished_ms,
        }
    }
}

/// One setup of a workspace, without its output.
#[derive(Debug, Clone)]
pub struct SetupSummary {
    pub kind: String,
    pub source: String,
    pub state: SetupState,
    pub error_code: Option<String>,
    pub started_ms: i64,
    pub finished_ms: Option<i64>,
}

impl From<SetupView> for SetupSummary {
    fn from(v: SetupView) -> Self {
        SetupSummary {
            kind: v.kind,
            source: v.source,
            state: v.state,
            error_code: v.error_code,
            started_ms: v.started_ms,
            finished_ms: v.finished_ms,
        }
    }
}

impl SetupLog {
    fn new(kind: &'static str, source: String) -> SetupLog {
        SetupLog {
            kind,
            phase: "clone",
            source,
            state: SetupState::Running,
            lines: VecDeque::new(),
            first: 0,
            rewriting: false,
            partial: Vec::new(),
            error: None,
            started_ms: now_ms(),
            finished_ms: None,
            save_to: None,
        }
    }

    /// Writes the finished log where it is kept (replacing a file of the
    /// same name whole), and drops the oldest beyond [`KEEP_SAVED`].
    /// Best effort: the log stays in memory either way.
    fn save(&self) {
        let Some(path) = &self.save_to else { return };
        let saved = SavedSetup {
            kind: self.kind.to_owned(),
            phase: self.phase.to_owned(),
            source: self.source.clone(),
            state: self.state.as_str().to_owned(),
            first: self.first,
            lines: self.lines.iter().cloned().collect(),
            error_code: self.error.as_ref().map(|e| e.0.clone()),
            error: self.error.as_ref().map(|e| e.1.clone()),
            started_ms: self.started_ms,
            finished_ms: self.finished_ms,
        };
        let written = (|| -> std::io::Result<()> {
            let dir = path.parent().ok_or(std::io::ErrorKind::NotFound)?;
            std::fs::create_dir_all(dir)?;
            let tmp = path.with_extension("tmp");
            std::fs::write(&tmp, serde_json::to_vec(&saved)?)?;
            std::fs::rename(&tmp, path)?;
            let mut names = saved_names(dir);
            while names.len() > KEEP_SAVED {
                std::fs::remove_file(dir.join(names.remove(0)))?;
            }
            Ok(())
        })();
        if let Err(e) = written {
            warn!(path = %path.display(), error = %e, "the setup log could not be saved");
        }
    }

    /// Takes output bytes: lines end at `\n`; a line ended by `\r` is
    /// replaced by the next one.
    pub(super) fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            match b {
                b'\n' | b'\r' => self.end_line(b == b'\r'),
                // Escape sequences from the git server (its `remote:` lines)
                // would reach the terminal of whoever follows the log.
                b'\t' => self.push(b' '),
                0..=0x1f | 0x7f => {}
                _ => self.push(b),
            }
        }
    }

    fn push(&mut self, b: u8) {
        if self.partial.len() < MAX_LINE {
            self.partial.push(b);
        }
    }

    fn end_line(&mut self, by_cr: bool) {
        let line = String::from_utf8_lossy(&self.partial).into_owned();
        self.partial.clear();
        if line.is_empty() && !by_cr && self.rewriting {
            // "…done.\r\n": the rewritten line is final now.
            self.rewriting = false;
            return;
        }
        if self.rewriting {
            if let Some(last) = self.lines.back_mut() {
                *last = line;
            }
        } else {
            self.lines.push_back(line);
            if self.lines.len() > MAX_LINES {
                self.lines.pop_front();
                self.first += 1;
            }
        }
        self.rewriting = by_cr;
    }

    pub(super) fn finish(&mut self, error: Option<(String, String)>) {
        if !self.partial.is_empty() {
            self.end_line(false);
        }
        self.rewriting = false;
        self.state = if error.is_some() {
            SetupState::Failed
        } else {
            SetupState::Succeeded
        };
        self.error = error;
        self.finished_ms = Some(now_ms());
        self.save();
    }

    fn view(&self, from: u64) -> SetupView {
        let from = from.clamp(self.first, self.first + self.lines.len() as u64);
        let skip = usize::try_from(from - self.first).unwrap_or(usize::MAX);
        let lines: Vec<String> = self.lines.iter().skip(skip).cloned().collect();
        let end = self.first + self.lines.len() as u64;
        let next = if self.rewriting && end > from {
            end - 1
        } else {
            end
        };
        SetupView {
            kind: self.kind.to_owned(),
            phase: self.phase.to_owned(),
            source: self.source.clone(),
            state: self.state,
            from,
            lines,
            next,
            error_code: self.error.as_ref().map(|e| e.0.clone()),
            error: self.error.as_ref().map(|e| e.1.clone()),
            started_ms: self.started_ms,
            finished_ms: self.finished_ms,
        }
    }

    /// The index the next line will have.
    pub(super) fn next_line(&self) -> u64 {
        self.first + self.lines.len() as u64
    }

    /// The lines from index `from` on (the unfinished one too), at most
    /// the last `n`: what one step of a setup printed.
    pub(super) fn since(&self, from: u64, n: usize) -> Vec<String> {
        let skip = usize::try_from(from.saturating_sub(self.first)).unwrap_or(usize::MAX);
        let mut v: Vec<String> = self.lines.iter().skip(skip).cloned().collect();
        if !self.partial.is_empty() {
            v.push(String::from_utf8_lossy(&self.partial).into_owned());
        }
        let cut = v.len().saturating_sub(n);
        v.split_off(cut)
    }

    pub(super) fn tail(&self, n: usize) -> Vec<String> {
        let skip = self.lines.len().saturating_sub(n);
        self.lines.iter().skip(skip).cloned().collect()
    }
}

/// One workspace's setup: its log, and the task running it.
struct Running {
    log: Arc<Mutex<SetupLog>>,
    task: Option<tokio::task::AbortHandle>,
}

/// The saved logs in `dir`, oldest first (their names start with the
/// time they started, zero-padded).
fn saved_names(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.ends_with(".json"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn read_saved(path: &std::path::Path) -> Option<SavedSetup> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .ok()?
        .take(MAX_SAVED_BYTES)
        .read_to_end(&mut bytes)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Every workspace's setup log.
#[derive(Default)]
pub(super) struct Setups {
    logs: Mutex<HashMap<String, Running>>,
    /// Where finished logs are saved, a folder per workspace (None: kept
    /// in memory only).
    dir: Option<std::path::PathBuf>,
}

impl Setups {
    pub(super) fn new(dir: Option<std::path::PathBuf>) -> Setups {
        Setups {
            logs: Mutex::new(HashMap::new()),
            dir,
        }
    }

    /// The folder of `workspace`'s saved logs (ids are the server's own,
    /// checked anyway before they name a folder).
    fn dir_of(&self, workspace: &str) -> Option<std::path::PathBuf> {
        let safe = !workspace.is_empty()
            && workspace.len() <= 64
            && workspace
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        self.dir
            .as_ref()
            .filter(|_| safe)
            .map(|d| d.join(workspace))
    }

    /// The saved setups of `workspace`, oldest first.
    fn saved(&self, workspace: &str) -> Vec<SavedSetup> {
        let Some(dir) = self.dir_of(workspace) else {
            return Vec::new();
        };
        saved_names(&dir)
            .iter()
            .filter_map(|n| read_saved(&dir.join(n)))
            .collect()
    }

    pub(super) fn begin(
        &self,
        workspace: &str,
        kind: &'static str,
        source: String,
    ) -> Arc<Mutex<SetupLog>> {
        let mut m = self.logs.lock().unwrap_or_else(|p| p.into_inner());
        let log = replace(&mut m, workspace, kind, source);
        self.place(workspace, &log);
        log
    }

    /// Names the file `log` is saved in when it ends.
    fn place(&self, workspace: &str, log: &Mutex<SetupLog>) {
        let mut l = lock(log);
        l.save_to = self
            .dir_of(workspace)
            .map(|d| d.join(format!("{:015}-{}.json", l.started_ms.max(0), l.kind)));
    }

    pub(super) fn running(&self, workspace: &str, task: tokio::task::AbortHandle) {
        let mut m = self.logs.lock().unwrap_or_else(|p| p.into_inner());
        match m.get_mut(workspace) {
            Some(r) => r.task = Some(task),
            // Forgotten (deleted) before the task was noted: stop it.
            None => task.abort(),
        }
    }

    /// A new log for `workspace`, unless a setup of it is under way.
    pub(super) fn begin_unless_running(
        &self,
        workspace: &str,
        kind: &'static str,
        source: String,
    ) -> Option<Arc<Mutex<SetupLog>>> {
        let mut m = self.logs.lock().unwrap_or_else(|p| p.into_inner());
        if m.get(workspace)
            .is_some_and(|r| lock(&r.log).state == SetupState::Running)
        {
            return None;
        }
        let log = replace(&mut m, workspace, kind, source);
        self.place(workspace, &log);
        Some(log)
    }

    /// Whether any setup is under way (one may be about to use an image).
    pub(super) fn any_running(&self) -> bool {
        let m = self.logs.lock().unwrap_or_else(|p| p.into_inner());
        m.values()
            .any(|r| lock(&r.log).state == SetupState::Running)
    }

    fn get(&self, workspace: &str) -> Option<Arc<Mutex<SetupLog>>> {
        let m = self.logs.lock().unwrap_or_else(|p| p.into_inner());
        m.get(workspace).map(|r| r.log.clone())
    }

    /// Forgets a deleted workspace's setup, stopping it if it still runs
    /// (the engine ends the command with the container).
    pub(super) fn forget(&self, workspace: &str) {
        let mut m = self.logs.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(Running { task: Some(t), .. }) = m.remove(workspace) {
            t.abort();
        }
        if let Some(dir) = self.dir_of(workspace) {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Puts a new log for `workspace` in the map, stopping the setup it
/// replaces if that still runs.
fn replace(
    m: &mut HashMap<String, Running>,
    workspace: &str,
    kind: &'static str,
    source: String,
) -> Arc<Mutex<SetupLog>> {
    let log = Arc::new(Mutex::new(SetupLog::new(kind, source)));
    let run = Running {
        log: log.clone(),
        task: None,
    };
    if let Some(Running { task: Some(t), .. }) = m.insert(workspace.to_owned(), run) {
        t.abort();
    }
    log
}

pub(super) fn lock(log: &Mutex<SetupLog>) -> std::sync::MutexGuard<'_, SetupLog> {
    log.lock().unwrap_or_else(|p| p.into_inner())
}

impl WorkspaceManager {
    /// The workspace's setup output from line `from` on: the one under way
    /// or last run, or (`at`) the saved one that started then.
    pub async fn setup(
        &self,
        p: &Principal,
        id: &str,
        from: u64,
        at: Option<i64>,
    ) -> Result<SetupView, CoreError> {
        let rec = self.authorized(p, id, Action::View).await?;
        let current = self.setups.get(&rec.id).map(|log| lock(&log).view(from));
        let (current, at) = match (current, at) {
            (Some(v), Some(t)) if v.started_ms == t => return Ok(v),
            (Some(v), None) => return Ok(v),
            (_, at) => (None::<SetupView>, at),
        };
        drop(current);
        let setups = self.setups.clone();
        let rid = rec.id.clone();
        let saved = tokio::task::spawn_blocking(move || setups.saved(&rid))
            .await
            .unwrap_or_default();
        let found = match at {
            Some(t) => saved.into_iter().find(|s| s.started_ms == t),
            None => saved.into_iter().last(),
        };
        found.map(|s| s.view(from)).ok_or_else(|| {
            CoreError::NotFound(match at {
                Some(t) => format!("workspace {id:?} has no setup that started at {t}"),
                None => format!("workspace {id:?} has had no setup"),
            })
        })
    }

    /// The workspace's setups kept (the last few, and the one under way),
    /// oldest first.
    pub async fn setups(&self, p: &Principal, id: &str) -> Result<Vec<SetupSummary>, CoreError> {
        let rec = self.authorized(p, id, Action::View).await?;
        let setups = self.setups.clone();
        let rid = rec.id.clone();
        let saved = tokio::task::spawn_blocking(move || setups.saved(&rid))
            .await
            .unwrap_or_default();
        let mut out: Vec<SetupSummary> =
            saved.into_iter().map(|s| s.view(u64::MAX).into()).collect();
        if let Some(log) = self.setups.get(&rec.id) {
            let v = lock(&log).view(u64::MAX);
            if !out.iter().any(|s| s.started_ms == v.started_ms) {
                out.push(v.into());
            }
        }
        Ok(out)
    }

    /// Starts cloning `src` into the new workspace `id` (running in
    /// `handle`, with its own environment `env`) in the background, for
    /// `p`. The log exists when this returns.
    pub(super) fn start_clone(
        &self,
        p: &Principal,
        id: &str,
        handle: &str,
        env: Vec<(String, String)>,
        src: GitSource,
    ) {
        let log = self.setups.begin(id, "git_clone", src.describe());
        let Some(me) = self.me.upgrade() else {
            warn!(workspace = %id, "the manager is gone: the clone did not start");
            return;
        };
        let busy = self.activity.hold(id, Work::Exec);
        let (id, handle, p) = (id.to_owned(), handle.to_owned(), p.clone());
        let id_for_task = id.clone();
        let task = tokio::spawn(async move {
            let _busy = busy;
            let mut error = me.clone_repository(&p, &id, &handle, env, &src, &log).await;
            if error.is_none() {
                error = me.apply_devcontainer(&p, &id, &log).await.err();
            }
            if error.is_none() {
                me.dotfiles_after_setup(&p, &id, &log).await;
            }
            lock(&log).finish(error);
        });
        self.setups.running(&id_for_task, task.abort_handle());
    }

    /// Clones `src` into the workspace (running in `handle`) as its user,
    /// writing git's output to `log`; the outcome is audited.
    async fn clone_repository(
        &self,
        p: &Principal,
        id: &str,
        handle: &str,
        env: Vec<(String, String)>,
        src: &GitSource,
        log: &Arc<Mutex<SetupLog>>,
    ) -> Option<(String, String)> {
        // git inside asks the server for stored credentials through the
        // agent: its link must be up before git asks.
        if let Err(e) = self.workspace_agents().connect(handle).await {
            lock(log).feed(
                format!("aicockpit: stored git credentials are unavailable ({e})\n").as_bytes(),
            );
        }
        let mut argv = vec![
            "sh".to_owned(),
            "-c".to_owned(),
            clone_script(CLONE_TIMEOUT.as_secs()),
            "aicockpit-clone".to_owned(),
        ];
        argv.extend(clone_args(src));
        let req = ExecRequest {
            argv,
            cwd: Some(WORKSPACE_DIR.into()),
            // A workspace claimed from the pool has its own environment
            // only where the agent and exec read it.
            env,
            user: None,
            // The script's own `timeout` stops git first, with its code.
            timeout: CLONE_TIMEOUT + Duration::from_secs(30),
            max_output_bytes: 64 * 1024,
        };
        let sink_log = log.clone();
        let sink = move |bytes: &[u8]| lock(&sink_log).feed(bytes);
        let outcome = self.runtime.exec_observed(handle, &req, &sink).await;
        let error = match &outcome {
            Ok(out) if out.exit_code == Some(0) => None,
            Ok(out) => {
                let code = if out.timed_out {
                    Some(124)
                } else {
                    out.exit_code
                };
                let (c, m) = classify_failure(code, &lock(log).tail(40));
                Some((c.to_owned(), with_credential_hint(c, m, &src.url)))
            }
            Err(e) => Some(("failed".to_owned(), format!("the clone could not run: {e}"))),
        };
        let detail = json!({
            "url": src.url, "ref": src.reference, "depth": src.depth,
            "submodules": src.submodules,
        });
        match &error {
            None => info!(workspace = %id, "git clone done"),
            Some((code, message)) => {
                warn!(workspace = %id, code, %message, "git clone failed")
            }
        }
        self.audit_step(
            &p.actor(),
            id,
            "workspace.git_clone",
            detail,
            error.as_ref(),
        )
        .await;
        error
    }

    /// A setup step's outcome on the audit record: `detail` with the
    /// failure's code and message, and the result `failed`, if it failed.
    pub(super) async fn audit_step(
        &self,
        actor: &str,
        id: &str,
        action: &str,
        mut detail: serde_json::Value,
        failure: Option<&(String, String)>,
    ) {
        let mut e = Entry::done(actor, Some(id), action, json!(null));
        if let Some((code, message)) = failure {
            detail["error"] = json!({"code": code, "message": message});
            e = e.with_result("failed");
        }
        e.detail = detail;
        self.audit.note(e).await;
    }
}

/// An authentication failure over http(s) says where to fix it.
pub(super) fn with_credential_hint(code: &str, message: String, url: &str) -> String {
    let origin = crate::git_credentials::origin_of_repository(url);
    match origin {
        Some(o) if code == "authentication" => format!(
            "{message}; add or replace your git credential for {o} (Settings → Git credentials, or `aicockpit git-credential add --replace {o}`)"
        ),
        _ => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Finished logs are saved per workspace, the last [`KEEP_SAVED`]
    /// kept, read back as they were, and gone when the workspace is; a
    /// name that is not an id never names a folder.
    #[test]
    fn finished_setups_are_kept_on_disk_a_few_per_workspace() {
        let dir = std::env::temp_dir().join(format!("aicockpit-setups-{}", now_ms()));
        let setups = Setups::new(Some(dir.clone()));
        for n in 0..(KEEP_SAVED + 2) {
            let log = setups.begin("ws1", "post_start", format!("run {n}"));
            let mut l = lock(&log);
            // Distinct start times, as distinct runs have.
            l.started_ms = 1_000 + n as i64;
            drop(l);
            setups.place("ws1", &log);
            let mut l = lock(&log);
            l.feed(format!("line of run {n}\n").as_bytes());
            l.finish((n == 0).then(|| ("failed".to_owned(), "no".to_owned())));
        }
        let saved = setups.saved("ws1");
        assert_eq!(saved.len(), KEEP_SAVED);
        let first = saved.into_iter().next().expect("kept");
        assert_eq!(first.started_ms, 1_002, "the oldest went first");
        let v = first.view(0);
        assert_eq!(v.lines, ["line of run 2"]);
        assert_eq!(
            (v.state, v.kind.as_str()),
            (SetupState::Succeeded, "post_start")
        );
        assert!(setups.saved("../ws1").is_empty());
        assert!(setups.dir_of("../x").is_none() && setups.dir_of("").is_none());
        setups.forget("ws1");
        assert!(setups.saved("ws1").is_empty());
        assert!(!dir.join("ws1").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn log_of(chunks: &[&[u8]]) -> SetupLog {
        let mut l = SetupLog::new("git_clone", "x".into());
        for c in chunks {
            l.feed(c);
        }
        l
    }

    #[test]
    fn progress_lines_are_rewritten_in_place_and_followers_see_the_rewrite() {
        let l = log_of(&[
            b"Cloning into '.'...\n",
            b"Receiving objects:  10% (1/10)\r",
            b"Receiving objects:  50% (5/10)\r",
        ]);
        let v = l.view(0);
        assert_eq!(
            v.lines,
            vec!["Cloning into '.'...", "Receiving objects:  50% (5/10)"]
        );
        // The progress line is still being rewritten: read it again.
        assert_eq!(v.next, 1);
        let mut l = l;
        l.feed(b"Receiving objects: 100% (10/10), done.\r\nResolving deltas: 100%\n");
        let v = l.view(1);
        assert_eq!(
            v.lines,
            vec![
                "Receiving objects: 100% (10/10), done.",
                "Resolving deltas: 100%"
            ]
        );
        assert_eq!(v.next, 3);
    }

    #[test]
    fn git_progress_as_git_writes_it_and_hostile_bytes() {
        // git rewrites with \r and ends the line with ", done.\n".
        let l = log_of(&[
            b"remote: Counting objects:  33% (1/3)\r",
            b"remote: Counting objects: 100% (3/3)\r",
            b"remote: Counting objects: 100% (3/3), done.\n",
            b"Receiving objects:  50% (1/2)\rReceiving objects: 100% (2/2), done.\n",
            b"evil \x1b]0;pwned\x07title\ttab\n",
        ]);
        let v = l.view(0);
        assert_eq!(
            v.lines,
            vec![
                "remote: Counting objects: 100% (3/3), done.",
                "Receiving objects: 100% (2/2), done.",
                "evil ]0;pwnedtitle tab",
            ]
        );
        assert_eq!(v.next, 3);
    }

    #[test]
    fn output_is_bounded() {
        let mut l = log_of(&[]);
        l.feed(&vec![b'a'; MAX_LINE * 3]);
        l.feed(b"\n");
        assert_eq!(l.lines[0].len(), MAX_LINE);
        for i in 0..MAX_LINES + 50 {
            l.feed(format!("line {i}\n").as_bytes());
        }
        assert_eq!(l.lines.len(), MAX_LINES);
        let v = l.view(0);
        assert_eq!(v.from, l.first);
        assert_eq!(v.lines.last().map(String::as_str), Some("line 1049"));
        // Asking past the end gives nothing, not a panic.
        assert!(l.view(u64::MAX).lines.is_empty());
        l.finish(Some(("failed".into(), "x".into())));
        assert_eq!(l.state, SetupState::Failed);
    }
}
