//! Talking to the in-workspace agent.
//!
//! [`AgentHub`] keeps one [`AgentConn`] per workspace container: on first
//! use it copies the agent binary into the container (at a path named by the
//! binary's hash, so a newer server brings its newer agent), starts the
//! bridge through the engine's exec, and checks the agent's hello.
//! *Invariant:* the agent runs as the workspace's default user; the server
//! never starts it as root.

mod client;
mod watching;

pub use client::{AgentConn, ChannelMsg, Waiting};
pub use watching::Watching;

use crate::git_credentials::GitCredentials;
use crate::CoreError;
use aicockpit_runtime::WorkspaceRuntime;
use aicockpit_workspace_agent_proto::{Event, Request, PROTOCOL_VERSION};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use tracing::{info, warn};

/// Where the in-workspace keep-alive command is placed (on the default
/// PATH of nearly every image).
pub const KEEPALIVE_COMMAND: &str = "/usr/local/bin/aicockpit-keepalive";
/// git's credential helper in every workspace (the agent's
/// `git-credential` mode), named in the system git configuration.
pub const GIT_CREDENTIAL_COMMAND: &str = "/usr/local/bin/aicockpit-git-credential";
/// The workspace's SSH agent (served by the agent daemon), named by
/// `SSH_AUTH_SOCK` in every workspace.
pub const SSH_AGENT_SOCKET: &str = "/tmp/aicockpit-ssh-agent.sock";
/// The system git configuration, where the helper is named.
const SYSTEM_GITCONFIG: &str = "/etc/gitconfig";
/// How much of an existing system git configuration is read back.
/// (Larger ones, and ones that are not regular files, read as absent
/// and are replaced by the helper's section alone.)
const MAX_GITCONFIG: u64 = 1024 * 1024;

/// The agent binary the server hands out.
#[derive(Clone)]
pub struct AgentBinary {
    pub bytes: Arc<Vec<u8>>,
    /// First 16 hex digits of its SHA-256: its identity in containers.
    pub hash: String,
    /// Its whole SHA-256, which the copy in a container must match.
    sha256: [u8; 32],
}

impl AgentBinary {
    pub fn load(path: &Path) -> Result<AgentBinary, String> {
        let bytes = std::fs::read(path)
            .map_err(|e| format!("cannot read the agent binary {}: {e}", path.display()))?;
        let digest = Sha256::digest(&bytes);
        let hash: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
        Ok(AgentBinary {
            bytes: Arc::new(bytes),
            hash,
            sha256: digest.into(),
        })
    }

    /// Where the agent binary is looked for when not configured: beside the
    /// server's executable, then in the build tree's musl output.
    pub fn default_locations() -> Vec<PathBuf> {
        let mut v = Vec::new();
        if let Ok(exe) = std::env::current_exe() {
            if let Some(dir) = exe.parent() {
                v.push(dir.join("aicockpit-workspace-agent"));
                for up in [dir.parent(), dir.parent().and_then(Path::parent)]
                    .into_iter()
                    .flatten()
                {
                    for profile in ["release", "debug"] {
                        v.push(
                            up.join("x86_64-unknown-linux-musl")
                                .join(profile)
                                .join("aicockpit-workspace-agent"),
                        );
                    }
                }
            }
        }
        v
    }

    /// Where the agent binary is placed in every container.
    pub fn container_path(&self) -> String {
        format!("/.aicockpit/workspace-agent-{}", self.hash)
    }

    /// An abstract socket (see the agent's `sock`): out of a sandboxed
    /// command's reach.
    fn socket_path(&self) -> String {
        format!("@aicockpit-workspace-agent-{}", self.hash)
    }
}

/// Agent connections by container id.
pub struct AgentHub {
    runtime: Arc<dyn WorkspaceRuntime>,
    binary: Option<AgentBinary>,
    root: String,
    conns: Mutex<HashMap<String, Arc<AgentConn>>>,
    /// Serialises connecting per container, so concurrent first requests
    /// start one bridge, not several.
    connecting: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Who answers git inside workspaces (set once at start).
    git_credentials: OnceLock<Arc<GitCredentials>>,
    /// Who answers the workspaces' SSH agents (set once at start).
    ssh_keys: OnceLock<Arc<crate::ssh_keys::SshKeys>>,
}

impl AgentHub {
    pub fn new(
        runtime: Arc<dyn WorkspaceRuntime>,
        binary: Option<AgentBinary>,
        root: &str,
    ) -> AgentHub {
        AgentHub {
            runtime,
            binary,
            root: root.to_owned(),
            conns: Mutex::new(HashMap::new()),
            connecting: Mutex::new(HashMap::new()),
            git_credentials: OnceLock::new(),
            ssh_keys: OnceLock::new(),
        }
    }

    /// Lets git inside workspaces ask `creds` through every link made
    /// from now on.
    pub fn serve_git_credentials(&self, creds: Arc<GitCredentials>) {
        let _ = self.git_credentials.set(creds);
    }

    /// Lets SSH clients inside workspaces ask `keys` (through the
    /// workspace's SSH agent) through every link made from now on.
    pub fn serve_ssh_keys(&self, keys: Arc<crate::ssh_keys::SshKeys>) {
        let _ = self.ssh_keys.set(keys);
    }

    pub fn binary(&self) -> Option<&AgentBinary> {
        self.binary.as_ref()
    }

    fn live(&self, container: &str) -> Option<Arc<AgentConn>> {
        let mut conns = self.conns.lock().unwrap_or_else(|p| p.into_inner());
        match conns.get(container) {
            Some(c) if c.is_alive() => Some(c.clone()),
            Some(_) => {
                conns.remove(container);
                None
            }
            None => None,
        }
    }

    /// Whether the agent in `container` is connected now (its link ends
    /// when the container stops).
    pub fn is_connected(&self, container: &str) -> bool {
        self.live(container).is_some()
    }

    /// The connection to the agent in `container`, made if needed.
    pub async fn connect(&self, container: &str) -> Result<Arc<AgentConn>, CoreError> {
        if let Some(c) = self.live(container) {
            return Ok(c);
        }
        let gate = {
            let mut m = self.connecting.lock().unwrap_or_else(|p| p.into_inner());
            m.entry(container.to_owned()).or_default().clone()
        };
        let _g = gate.lock().await;
        if let Some(c) = self.live(container) {
            return Ok(c);
        }
        let bin = self.binary.as_ref().ok_or_else(|| {
            CoreError::AgentUnavailable(
                "no agent binary is configured (workspace_agent.binary, or build it with scripts/workspace-agent.sh)"
                    .into(),
            )
        })?;
        let path = self.place(container).await?;
        let argv = vec![
            path,
            "bridge".to_owned(),
            "--root".to_owned(),
            self.root.clone(),
            "--socket".to_owned(),
            bin.socket_path(),
        ];
        let attached = self.runtime.attach(container, &argv).await?;
        let conn = AgentConn::start(attached).await?;
        if conn.protocol != PROTOCOL_VERSION {
            warn!(
                container,
                theirs = conn.protocol,
                ours = PROTOCOL_VERSION,
                "agent speaks another protocol"
            );
            return Err(CoreError::AgentUnavailable(format!(
                "the workspace agent speaks protocol {} and the server {PROTOCOL_VERSION}",
                conn.protocol
            )));
        }
        answer_asks(
            &conn,
            container,
            self.git_credentials.get().cloned(),
            self.ssh_keys.get().cloned(),
        );
        self.conns
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(container.to_owned(), conn.clone());
        Ok(conn)
    }

    /// Makes sure the agent binary in `container` is byte for byte the one
    /// this server brings (read back through the engine and compared by
    /// SHA-256), placing it again when it is missing or differs: a workspace
    /// whose user is root could have replaced it, and what the server runs
    /// there (the bridge, the AI's sandbox) must be what it means to run.
    /// Returns the path to run.
    pub async fn place(&self, container: &str) -> Result<String, CoreError> {
        let bin = self.binary.as_ref().ok_or_else(|| {
            CoreError::AgentUnavailable(
                "no agent binary is configured (workspace_agent.binary, or build it with scripts/workspace-agent.sh)"
                    .into(),
            )
        })?;
        let path = bin.container_path();
        let found = self
            .runtime
            .read_file(container, &path, bin.bytes.len() as u64)
            .await?;
        let intact = found
            .as_deref()
            .is_some_and(|b| Sha256::digest(b).as_slice() == bin.sha256);
        if !intact {
            info!(container, version = %bin.hash, "placing the agent in the workspace");
            self.runtime
                .put_file(container, &path, &bin.bytes, 0o755)
                .await?;
            // The command people and scripts inside run to keep the
            // workspace from idle stop (the agent's `keepalive` mode).
            let wrapper = format!("#!/bin/sh\nexec {path} keepalive \"$@\"\n");
            if let Err(e) = self
                .runtime
                .put_file(container, KEEPALIVE_COMMAND, wrapper.as_bytes(), 0o755)
                .await
            {
                warn!(container, error = %e, "could not place {KEEPALIVE_COMMAND}");
            }
            if let Err(e) = self.place_git_helper(container, &path).await {
                warn!(container, error = %e, "could not place {GIT_CREDENTIAL_COMMAND}");
            }
        }
        Ok(path)
    }

    /// Places git's credential helper and names it in the system git
    /// configuration (kept as it was, the helper added once), so every git
    /// in the workspace — the create-time clone, terminals, SSH sessions,
    /// the AI's commands — asks the server instead of storing tokens.
    async fn place_git_helper(&self, container: &str, agent: &str) -> Result<(), CoreError> {
        let wrapper = format!("#!/bin/sh\nexec {agent} git-credential \"$@\"\n");
        self.runtime
            .put_file(container, GIT_CREDENTIAL_COMMAND, wrapper.as_bytes(), 0o755)
            .await?;
        let found = self
            .runtime
            .read_file(container, SYSTEM_GITCONFIG, MAX_GITCONFIG)
            .await?
            .unwrap_or_default();
        // Bytes, not text: a configuration in another encoding is kept as
        // it is.
        let named = found
            .windows(GIT_CREDENTIAL_COMMAND.len())
            .any(|w| w == GIT_CREDENTIAL_COMMAND.as_bytes());
        if named {
            return Ok(());
        }
        let mut config = found;
        if config.last().is_some_and(|b| *b != b'\n') {
            config.push(b'\n');
        }
        config.extend_from_slice(format!(
            "# Added by AiCockpit: git asks the server for your stored credentials.\n[credential]\n\thelper = {GIT_CREDENTIAL_COMMAND}\n"
        ).as_bytes());
        self.runtime
            .put_file(container, SYSTEM_GITCONFIG, &config, 0o644)
            .await?;
        Ok(())
    }

    /// Forgets connections to containers that are gone.
    pub fn forget(&self, container: &str) {
        self.conns
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(container);
        self.connecting
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(container);
    }
}

/// Answers what `container` asks of the server for its owner — git's
/// credential asks, its SSH agent's requests — one at a time (a flood waits
/// its turn), for as long as the link lives.
fn answer_asks(
    conn: &Arc<AgentConn>,
    container: &str,
    creds: Option<Arc<GitCredentials>>,
    keys: Option<Arc<crate::ssh_keys::SshKeys>>,
) {
    let mut events = conn.subscribe_events();
    let link = Arc::downgrade(conn);
    let container = container.to_owned();
    tokio::spawn(async move {
        loop {
            let answer = match events.recv().await {
                Ok(Event::GitCredentialWanted { ask, query }) => {
                    let credential = match &creds {
                        Some(c) => c.answer(&container, &query).await,
                        None => None,
                    };
                    Request::GitCredentialAnswer { ask, credential }
                }
                Ok(Event::SshAgentWanted { ask, query }) => {
                    let reply = match &keys {
                        Some(k) => k.answer(&container, &query).await,
                        None => None,
                    };
                    Request::SshAgentAnswer { ask, reply }
                }
                Ok(_) | Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => break,
            };
            let Some(conn) = link.upgrade().filter(|c| c.is_alive()) else {
                break;
            };
            // Short: an agent that does not take answers must not hold
            // the asks queued behind this one.
            if let Err(e) = conn.call(answer, Duration::from_secs(2)).await {
                warn!(container = %container, error = %e, "could not answer an ask from a workspace");
            }
        }
    });
}
