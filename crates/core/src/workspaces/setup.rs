//! Setting a new workspace up once it runs: cloning a git repository into
//! `/workspace`, as the workspace user, through the engine. Its output is
//! kept in memory (bounded: lines cut at [`MAX_LINE`], the last
//! [`MAX_LINES`] kept) for whoever follows it — the create dialog, the
//! CLI —, and its outcome goes on the audit record. A running clone counts
//! as work for idle stop. The log lives as long as the server process.

use super::activity::Work;
use super::git::{classify_failure, clone_args, clone_script, GitSource};
use super::manager::{WorkspaceManager, WORKSPACE_DIR};
use crate::access::Action;
use crate::audit::Entry;
use crate::auth::Principal;
use crate::{now_ms, CoreError};
use aicockpit_runtime::ExecRequest;
use serde_json::json;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing::{info, warn};

/// Bytes kept of one output line.
pub(super) const MAX_LINE: usize = 1024;
/// Lines kept of one setup's output.
pub(super) const MAX_LINES: usize = 1000;
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
    pub kind: &'static str,
    /// The step under way (or where it ended): `clone`, `devcontainer`,
    /// `image`, `container`, `lifecycle`.
    pub phase: &'static str,
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
    /// `lifecycle` (and the last one reached once it ended).
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
            kind: self.kind,
            phase: self.phase,
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

    fn tail(&self, n: usize) -> Vec<String> {
        let skip = self.lines.len().saturating_sub(n);
        self.lines.iter().skip(skip).cloned().collect()
    }
}

/// One workspace's setup: its log, and the task running it.
struct Running {
    log: Arc<Mutex<SetupLog>>,
    task: Option<tokio::task::AbortHandle>,
}

/// Every workspace's setup log.
#[derive(Default)]
pub(super) struct Setups {
    logs: Mutex<HashMap<String, Running>>,
}

impl Setups {
    pub(super) fn begin(
        &self,
        workspace: &str,
        kind: &'static str,
        source: String,
    ) -> Arc<Mutex<SetupLog>> {
        let mut m = self.logs.lock().unwrap_or_else(|p| p.into_inner());
        replace(&mut m, workspace, kind, source)
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
        Some(replace(&mut m, workspace, kind, source))
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
    /// The workspace's setup output from line `from` on.
    pub async fn setup(&self, p: &Principal, id: &str, from: u64) -> Result<SetupView, CoreError> {
        let rec = self.authorized(p, id, Action::View).await?;
        let log = self.setups.get(&rec.id).ok_or_else(|| {
            CoreError::NotFound(format!("workspace {id:?} has no setup on this server"))
        })?;
        let view = lock(&log).view(from);
        Ok(view)
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
        let mut detail = json!({
            "url": src.url, "ref": src.reference, "depth": src.depth,
            "submodules": src.submodules,
        });
        match &error {
            None => info!(workspace = %id, "git clone done"),
            Some((code, message)) => {
                warn!(workspace = %id, code, %message, "git clone failed");
                detail["error"] = json!({"code": code, "message": message});
            }
        }
        let e = Entry::done(&p.actor(), Some(id), "workspace.git_clone", detail);
        let e = if error.is_some() {
            e.with_result("failed")
        } else {
            e
        };
        self.audit.note(e).await;
        error
    }
}

/// An authentication failure over http(s) says where to fix it.
fn with_credential_hint(code: &str, message: String, url: &str) -> String {
    let origin = crate::git_credentials::origin_of_repository(url);
    match origin {
        Some(o) if code == "authentication" => format!(
            "{message}; add or replace your git credential for {o} (Settings → Git credentials, or `aicockpit git-credential add {o}`)"
        ),
        _ => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
