//! Terminals: shells on real PTYs that outlive any one viewer.
//!
//! Each terminal keeps the last [`SCROLLBACK`] bytes of its output. A viewer
//! attaching (or re-attaching after its browser went away) first gets that
//! kept output, then the live stream; several viewers may watch and type at
//! once. The output pump appends to the scrollback and fans out under one
//! lock, so a new viewer sees no gap and no duplicate.

use crate::conn::Outbox;
use aicockpit_workspace_agent_proto::{AgentError, ErrorCode, Event, Frame, TermInfo};
use bytes::Bytes;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{broadcast, mpsc};

/// Output kept per terminal for replay.
pub(crate) const SCROLLBACK: usize = 256 * 1024;

struct Shared {
    info: TermInfo,
    scrollback: VecDeque<u8>,
    /// (connection id, channel) → where that viewer's frames go.
    viewers: HashMap<(u64, u32), Outbox>,
}

pub(crate) struct Terminal {
    shared: Mutex<Shared>,
    input: mpsc::Sender<Input>,
    pgid: Option<rustix::process::Pid>,
}

enum Input {
    Bytes(Bytes),
    Resize(u16, u16),
}

fn lock(m: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The environment the workspace was given after its container was made
/// (see [`aicockpit_workspace_agent_proto::CLAIMED_ENV_FILE`]), then the
/// applied devcontainer.json's `remoteEnv`
/// ([`aicockpit_workspace_agent_proto::REMOTE_ENV_FILE`], later so it
/// wins), read anew for every program started: they may appear while the
/// agent runs.
pub(crate) fn claimed_env() -> Vec<(String, String)> {
    let mut v = read_env_file(aicockpit_workspace_agent_proto::CLAIMED_ENV_FILE);
    v.extend(read_env_file(
        aicockpit_workspace_agent_proto::REMOTE_ENV_FILE,
    ));
    v
}

const MAX_UNSET: usize = 256;

/// The variables the applied devcontainer.json's `remoteEnv` unsets (see
/// [`aicockpit_workspace_agent_proto::UNSET_VARS_VAR`]).
pub(crate) fn unset_vars() -> Vec<String> {
    unset_names(read_env_file(
        aicockpit_workspace_agent_proto::REMOTE_ENV_FILE,
    ))
}

/// The names listed in the file's pairs.
fn unset_names(pairs: Vec<(String, String)>) -> Vec<String> {
    pairs
        .into_iter()
        .filter(|(k, _)| k == aicockpit_workspace_agent_proto::UNSET_VARS_VAR)
        .flat_map(|(_, v)| v.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
        // The server writes no more than a workspace's environment holds;
        // anything inside may write more.
        .take(MAX_UNSET)
        .collect()
}

/// What a terminal or SSH session inherits of [`claimed_env`]: all but our
/// own notes to the agent (the folder to open in, the names to unset).
pub(crate) fn session_env() -> Vec<(String, String)> {
    let ours = [
        aicockpit_workspace_agent_proto::WORKSPACE_FOLDER_VAR,
        aicockpit_workspace_agent_proto::UNSET_VARS_VAR,
    ];
    let mut v = claimed_env();
    v.retain(|(k, _)| !ours.contains(&k.as_str()));
    v
}

fn read_env_file(path: &str) -> Vec<(String, String)> {
    use std::io::Read as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    // Anything inside may replace these files: a FIFO (or a device) put
    // there must not block the agent, so the open does not wait and only a
    // regular file is read.
    let Ok(f) = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
        .open(path)
    else {
        return Vec::new();
    };
    if !f.metadata().is_ok_and(|m| m.is_file()) {
        return Vec::new();
    }
    let mut bytes = Vec::new();
    let cap = aicockpit_workspace_agent_proto::MAX_CLAIMED_ENV as u64;
    if f.take(cap).read_to_end(&mut bytes).is_err() {
        return Vec::new();
    }
    aicockpit_workspace_agent_proto::decode_claimed_env(&bytes)
}

/// The devcontainer's `workspaceFolder`, where a terminal opens when it is
/// not told where, if the configuration named one.
pub(crate) fn workspace_folder() -> Option<String> {
    claimed_env()
        .into_iter()
        .rev()
        .find(|(k, _)| k == aicockpit_workspace_agent_proto::WORKSPACE_FOLDER_VAR)
        .map(|(_, v)| v)
}

/// Where a terminal or SSH session starts when not told where (relative
/// to `root`): the devcontainer's workspaceFolder when it is a folder
/// inside the root, else the root itself ("").
pub(crate) fn start_folder(root: &crate::paths::Root) -> String {
    workspace_folder()
        .filter(|f| root.resolve(f).is_ok_and(|d| d.is_dir()))
        .unwrap_or_default()
}

pub(crate) fn default_shell() -> String {
    if let Ok(s) = std::env::var("SHELL") {
        if !s.is_empty() && std::path::Path::new(&s).exists() {
            return s;
        }
    }
    for s in ["/bin/bash", "/bin/sh"] {
        if std::path::Path::new(s).exists() {
            return s.to_owned();
        }
    }
    "/bin/sh".to_owned()
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn open(
    id: String,
    shell: Option<String>,
    cols: u16,
    rows: u16,
    cwd: std::path::PathBuf,
    cwd_display: String,
    env: BTreeMap<String, String>,
    events: broadcast::Sender<Event>,
) -> Result<Arc<Terminal>, AgentError> {
    let shell = shell.unwrap_or_else(default_shell);
    if shell.contains('\0') || !shell.starts_with('/') {
        return Err(AgentError::new(
            ErrorCode::Invalid,
            "shell must be an absolute path",
        ));
    }
    let fail = |e: pty_process::Error| {
        AgentError::new(ErrorCode::Io, format!("cannot open a terminal: {e}"))
    };
    let (pty, pts) = pty_process::open().map_err(fail)?;
    pty.resize(pty_process::Size::new(rows.max(1), cols.max(1)))
        .map_err(fail)?;
    let mut cmd = pty_process::Command::new(&shell)
        .current_dir(&cwd)
        .env("TERM", "xterm-256color")
        .env("COLORTERM", "truecolor");
    for (k, v) in session_env() {
        cmd = cmd.env(k, v);
    }
    for k in unset_vars() {
        cmd = cmd.env_remove(k);
    }
    for (k, v) in &env {
        cmd = cmd.env(k, v);
    }
    let mut child = cmd.spawn(pts).map_err(|e| match e {
        pty_process::Error::Io(io) if io.kind() == std::io::ErrorKind::NotFound => {
            AgentError::new(ErrorCode::Invalid, format!("no shell at {shell}"))
        }
        other => fail(other),
    })?;
    let pgid = child
        .id()
        .and_then(|p| rustix::process::Pid::from_raw(p as i32));
    let (mut reader, mut writer) = pty.into_split();
    let (input_tx, mut input_rx) = mpsc::channel::<Input>(256);
    let term = Arc::new(Terminal {
        shared: Mutex::new(Shared {
            info: TermInfo {
                id: id.clone(),
                shell,
                cols,
                rows,
                cwd: cwd_display,
                created_ms: now_ms(),
                exit_code: None,
                viewers: 0,
            },
            scrollback: VecDeque::with_capacity(4096),
            viewers: HashMap::new(),
        }),
        input: input_tx,
        pgid,
    });

    // Input: keystrokes and resizes, in order.
    tokio::spawn(async move {
        while let Some(msg) = input_rx.recv().await {
            match msg {
                Input::Bytes(b) => {
                    if writer.write_all(&b).await.is_err() {
                        break;
                    }
                }
                Input::Resize(cols, rows) => {
                    let _ = writer.resize(pty_process::Size::new(rows.max(1), cols.max(1)));
                }
            }
        }
    });

    // Output: read the PTY until the shell is gone, then report its exit.
    let pump = term.clone();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => pump.output(Bytes::copy_from_slice(&buf[..n])),
            }
        }
        let code = match child.wait().await {
            Ok(st) => st.code().unwrap_or_else(|| {
                128 + std::os::unix::process::ExitStatusExt::signal(&st).unwrap_or(0)
            }),
            Err(_) => -1,
        };
        let viewers = {
            let mut s = lock(&pump.shared);
            s.info.exit_code = Some(code);
            std::mem::take(&mut s.viewers)
        };
        for ((_, channel), out) in viewers {
            out.send(Frame::eof(channel));
        }
        let _ = events.send(Event::TermExit {
            id,
            exit_code: code,
        });
    });
    Ok(term)
}

impl Terminal {
    fn output(&self, data: Bytes) {
        let mut s = lock(&self.shared);
        s.scrollback.extend(data.iter());
        let excess = s.scrollback.len().saturating_sub(SCROLLBACK);
        s.scrollback.drain(..excess);
        // A viewer whose connection cannot keep up is dropped; it re-attaches
        // and gets the scrollback, which is better than stalling the shell.
        s.viewers
            .retain(|(_, channel), out| out.try_send(Frame::data(*channel, data.clone())));
        s.info.viewers = s.viewers.len();
    }

    pub(crate) fn info(&self) -> TermInfo {
        lock(&self.shared).info.clone()
    }

    /// Replays the scrollback to a new viewer and subscribes it.
    pub(crate) fn attach(&self, conn: u64, channel: u32, out: Outbox) -> TermInfo {
        let mut s = lock(&self.shared);
        let (a, b) = s.scrollback.as_slices();
        let mut kept = Vec::with_capacity(a.len() + b.len());
        kept.extend_from_slice(a);
        kept.extend_from_slice(b);
        for chunk in kept.chunks(64 * 1024) {
            out.send(Frame::data(channel, Bytes::copy_from_slice(chunk)));
        }
        if s.info.exit_code.is_some() {
            out.send(Frame::eof(channel));
        } else {
            s.viewers.insert((conn, channel), out);
        }
        s.info.viewers = s.viewers.len();
        s.info.clone()
    }

    pub(crate) fn detach(&self, conn: u64, channel: u32) {
        let mut s = lock(&self.shared);
        s.viewers.remove(&(conn, channel));
        s.info.viewers = s.viewers.len();
    }

    /// Drops every subscription of a connection that went away.
    pub(crate) fn detach_conn(&self, conn: u64) {
        let mut s = lock(&self.shared);
        s.viewers.retain(|(c, _), _| *c != conn);
        s.info.viewers = s.viewers.len();
    }

    pub(crate) async fn type_bytes(&self, data: Bytes) {
        let _ = self.input.send(Input::Bytes(data)).await;
    }

    pub(crate) async fn resize(&self, cols: u16, rows: u16) {
        {
            let mut s = lock(&self.shared);
            s.info.cols = cols;
            s.info.rows = rows;
        }
        let _ = self.input.send(Input::Resize(cols, rows)).await;
    }

    /// Hangs up the shell's session; kills it if it lingers.
    pub(crate) fn kill(self: &Arc<Self>) {
        let Some(pgid) = self.pgid else { return };
        let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::HUP);
        let me = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            if me.info().exit_code.is_none() {
                let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn unset_names_are_bounded_whatever_the_file_says() {
        let var = aicockpit_workspace_agent_proto::UNSET_VARS_VAR.to_owned();
        let pair = |v: &str| vec![(var.clone(), v.to_owned())];
        let huge = vec!["X"; 100_000].join(" ");
        // (the file's pairs, how many names are taken, the first)
        type Pairs = Vec<(String, String)>;
        let table: Vec<(Pairs, usize, Option<&str>)> = vec![
            (Vec::new(), 0, None),
            (pair(""), 0, None),
            (pair("  \t\n "), 0, None),
            (pair("A B\tC\nD"), 4, Some("A")),
            (vec![("OTHER".into(), "A B".into())], 0, None),
            (pair(&huge), super::MAX_UNSET, Some("X")),
            (
                [pair(&huge), pair("LATE")].concat(),
                super::MAX_UNSET,
                Some("X"),
            ),
            (pair("A=B PATH"), 2, Some("A=B")),
        ];
        for (pairs, n, first) in table {
            let got = super::unset_names(pairs.clone());
            assert_eq!(
                got.len(),
                n,
                "{:?}",
                pairs.first().map(|p| &p.1[..p.1.len().min(20)])
            );
            assert_eq!(got.first().map(String::as_str), first);
        }
    }

    use super::*;

    /// (what is at the path, the pairs read): only a regular file counts,
    /// and nothing there may block the read.
    #[test]
    fn env_files_are_read_only_when_regular() {
        let dir = tempfile::tempdir().expect("dir");
        let at = |n: &str| dir.path().join(n).to_string_lossy().into_owned();
        let env = BTreeMap::from([("A".to_owned(), "1".to_owned())]);
        let good = aicockpit_workspace_agent_proto::encode_claimed_env(&env);
        std::fs::write(at("file"), &good).expect("write");
        std::os::unix::fs::symlink(at("file"), at("link")).expect("symlink");
        let made = std::process::Command::new("mkfifo")
            .arg(at("fifo"))
            .status()
            .expect("mkfifo");
        assert!(made.success());
        std::fs::create_dir(at("dir")).expect("mkdir");
        let want_a = vec![("A".to_owned(), "1".to_owned())];
        let cases: [(&str, Vec<(String, String)>); 5] = [
            ("file", want_a),
            ("link", vec![]),
            ("fifo", vec![]),
            ("dir", vec![]),
            ("missing", vec![]),
        ];
        for (name, want) in cases {
            assert_eq!(read_env_file(&at(name)), want, "{name}");
        }
    }
}
