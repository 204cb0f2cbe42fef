//! The agent daemon: one per workspace (per agent build), listening on a
//! private Unix socket. Terminals live here, so they survive the server's
//! connection going away (a browser closing, a server restart).

use crate::paths::Root;
use crate::sock::Addr;
use crate::term::{self, Terminal};
use aicockpit_workspace_agent_proto::{
    AgentError, ErrorCode, Event, GitCredential, SshAgentReply, TermInfo,
};
use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{broadcast, oneshot};

/// Terminals per workspace, at most.
const MAX_TERMINALS: usize = 64;

pub(crate) struct State {
    pub(crate) root: Root,
    /// The latest keep-alive asked for inside the workspace: until when,
    /// and why.
    pub(crate) keep_alive: Mutex<Option<(std::time::Instant, String)>>,
    pub(crate) events: broadcast::Sender<Event>,
    /// git credential asks waiting for the server's answer, by ask number.
    git_asks: Mutex<HashMap<u64, oneshot::Sender<Option<GitCredential>>>>,
    /// SSH agent asks waiting for the server's reply, by ask number.
    ssh_asks: Mutex<HashMap<u64, oneshot::Sender<Option<SshAgentReply>>>>,
    terminals: Mutex<HashMap<String, Arc<Terminal>>>,
    counter: AtomicU64,
}

impl State {
    pub(crate) fn new(root: Root) -> Arc<State> {
        let (events, _) = broadcast::channel(1024);
        Arc::new(State {
            root,
            keep_alive: Mutex::new(None),
            events,
            git_asks: Mutex::new(HashMap::new()),
            ssh_asks: Mutex::new(HashMap::new()),
            terminals: Mutex::new(HashMap::new()),
            counter: AtomicU64::new(1),
        })
    }

    pub(crate) fn next_conn(&self) -> u64 {
        self.counter.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn git_asks(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<u64, oneshot::Sender<Option<GitCredential>>>> {
        self.git_asks.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn ssh_asks(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<u64, oneshot::Sender<Option<SshAgentReply>>>> {
        self.ssh_asks.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn terms(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Terminal>>> {
        self.terminals.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn terminals(&self) -> Vec<Arc<Terminal>> {
        self.terms().values().cloned().collect()
    }

    pub(crate) fn terminal(&self, id: &str) -> Option<Arc<Terminal>> {
        self.terms().get(id).cloned()
    }

    pub(crate) fn terminal_infos(&self) -> Vec<TermInfo> {
        let mut v: Vec<TermInfo> = self.terms().values().map(|t| t.info()).collect();
        v.sort_by_key(|t| t.created_ms);
        v
    }

    pub(crate) fn open_terminal(
        &self,
        shell: Option<String>,
        cols: u16,
        rows: u16,
        cwd: Option<String>,
        env: BTreeMap<String, String>,
    ) -> Result<TermInfo, AgentError> {
        if cols == 0 || rows == 0 || cols > 1000 || rows > 1000 {
            return Err(AgentError::new(
                ErrorCode::Invalid,
                "cols and rows must be 1-1000",
            ));
        }
        {
            // Exited terminals stay listed (with their code) until the
            // count limit needs their room.
            let mut terms = self.terms();
            if terms.len() >= MAX_TERMINALS {
                terms.retain(|_, t| t.info().exit_code.is_none());
            }
            if terms.len() >= MAX_TERMINALS {
                return Err(AgentError::new(ErrorCode::TooLarge, "too many terminals"));
            }
        }
        let rel = cwd.unwrap_or_else(|| crate::term::start_folder(&self.root));
        let dir = self.root.resolve(&rel)?;
        if !dir.is_dir() {
            return Err(AgentError::new(
                ErrorCode::NotADirectory,
                format!("{rel}: not a directory"),
            ));
        }
        let id = format!("t{}", self.counter.fetch_add(1, Ordering::Relaxed));
        let display = dir.to_string_lossy().into_owned();
        let t = term::open(
            id.clone(),
            shell,
            cols,
            rows,
            dir,
            display,
            env,
            self.events.clone(),
        )?;
        let info = t.info();
        self.terms().insert(id, t);
        Ok(info)
    }

    /// A killed terminal disappears from the list once its exit is reported.
    pub(crate) fn forget_terminal_later(self: &Arc<Self>, id: &str) {
        let me = self.clone();
        let id = id.to_owned();
        tokio::spawn(async move {
            for _ in 0..50 {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                if me
                    .terminal(&id)
                    .is_some_and(|t| t.info().exit_code.is_some())
                {
                    break;
                }
            }
            me.terms().remove(&id);
        });
    }
}

/// Serves connections on `socket` forever.
pub(crate) async fn run(root: &Path, socket: &Addr) -> std::io::Result<()> {
    let root = Root::new(root)?;
    // A daemon that answers owns the socket.
    if socket.connect().is_ok() {
        return Ok(());
    }
    if let Addr::Path(p) = socket {
        // A stale file is replaced.
        let _ = std::fs::remove_file(p);
    }
    let listener = socket.bind()?;
    if let Addr::Path(p) = socket {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o600))?;
    }
    let state = State::new(root);
    crate::sshagent::serve(state.clone());
    let me = crate::sock::uid();
    loop {
        let (stream, _) = listener.accept().await?;
        // Abstract sockets have no file permissions: only our own uid
        // (the server's exec as the workspace user) is served.
        if stream.peer_cred().map(|c| c.uid()).ok() != Some(me) {
            continue;
        }
        let st = state.clone();
        tokio::spawn(async move {
            let (rd, wr) = stream.into_split();
            crate::conn::serve(rd, wr, st).await;
        });
    }
}
