//! The JSON messages. Requests name their operation in `op`; every request
//! gets exactly one response with the same id.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Everything sent as a JSON frame.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Message {
    /// First message from the agent on every connection.
    Hello {
        protocol: u32,
        version: String,
        /// The Landlock ABI the workspace's kernel offers (0: none), for
        /// the command sandbox.
        #[serde(default)]
        landlock_abi: u32,
    },
    Request {
        id: u64,
        req: Request,
    },
    Response {
        id: u64,
        result: Result<serde_json::Value, AgentError>,
    },
    Event {
        event: Event,
    },
    /// Server → agent: the reader of `channel` took `bytes` more, so the
    /// agent may send that much more on it (see [`CHANNEL_WINDOW`]).
    Credit {
        channel: u32,
        bytes: u64,
    },
    /// Server → agent: nobody reads `channel` any more; stop sending on it.
    Cancel {
        channel: u32,
    },
}

/// What a bulk stream (a file read, an archive) may send on its channel
/// before the server has passed it on to the reader: each channel's own
/// window, so a slow reader slows only its own stream, and neither side
/// buffers more than this for it.
pub const CHANNEL_WINDOW: usize = 1024 * 1024;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    // --- terminals -------------------------------------------------------
    /// Starts a shell on a new PTY. Answer: [`TermInfo`].
    TermOpen {
        shell: Option<String>,
        cols: u16,
        rows: u16,
        cwd: Option<String>,
        #[serde(default)]
        env: BTreeMap<String, String>,
    },
    /// Answer: `Vec<TermInfo>`.
    TermList,
    /// Subscribes `channel` to the terminal: the kept output is replayed,
    /// then live output follows as data frames; data frames the server
    /// sends on `channel` are typed into the terminal. Answer: [`TermInfo`].
    TermAttach {
        id: String,
        channel: u32,
    },
    TermDetach {
        channel: u32,
    },
    TermResize {
        id: String,
        cols: u16,
        rows: u16,
    },
    /// Ends the terminal (SIGHUP, then SIGKILL).
    TermKill {
        id: String,
    },

    // --- files (paths relative to the workspace root) ---------------------
    /// Answer: [`ListPage`]: entries from `offset`, at most `limit` (and
    /// at most [`MAX_PAGE_ENTRIES`], within [`REPLY_BUDGET`] bytes).
    List {
        path: String,
        #[serde(default)]
        offset: usize,
        #[serde(default)]
        limit: Option<usize>,
    },
    /// Answer: [`FileMeta`].
    Stat {
        path: String,
    },
    /// Where absolute paths really lead, symlinks followed (a missing tail
    /// is kept as written). Answer: `Vec<Option<String>>`, None where it
    /// cannot be known. At most [`MAX_RESOLVE`] paths.
    Resolve {
        paths: Vec<String>,
    },
    /// Answer: [`FileMeta`], then the contents as data on `channel`, then EOF.
    Read {
        path: String,
        channel: u32,
    },
    /// The contents arrive as data on `channel` until EOF; the file is
    /// replaced atomically. Answer (after EOF): [`FileMeta`] of the new file.
    /// `if_match`: the ETag the writer last saw; `"*"` = must exist,
    /// `create_only` = must not exist.
    Write {
        path: String,
        channel: u32,
        if_match: Option<String>,
        #[serde(default)]
        create_only: bool,
        max_bytes: u64,
    },
    /// Answer: [`FileMeta`].
    Mkdir {
        path: String,
        parents: bool,
    },
    /// Answer: [`FileMeta`] of the destination.
    Rename {
        from: String,
        to: String,
        overwrite: bool,
    },
    /// Answer: null.
    Delete {
        path: String,
        recursive: bool,
    },
    /// Answer: null, then a `.tar.gz` of the path as data on `channel`, then EOF.
    ArchiveOut {
        path: String,
        channel: u32,
    },
    /// A `.tar` or `.tar.gz` arrives on `channel` until EOF and is unpacked
    /// under `path`. Answer (after EOF): [`ArchiveStats`].
    ArchiveIn {
        path: String,
        channel: u32,
        max_bytes: u64,
        max_entries: u64,
    },

    // --- search and watch -------------------------------------------------
    /// Answer: [`SearchResult`].
    Search(SearchQuery),
    /// File names containing all of `query`'s characters in order (the
    /// quick-open box). Answer: `Vec<String>`, best first.
    FindFiles {
        query: String,
        max_results: usize,
    },
    /// Changes under `path` arrive as [`Event::Fs`] with this channel.
    Watch {
        path: String,
        channel: u32,
    },
    Unwatch {
        channel: u32,
    },

    // --- idle stop ----------------------------------------------------------
    /// From a command inside the workspace (`aicockpit-keepalive`): keep
    /// it from idle stop for `for_secs`, because `reason`. The agent keeps
    /// the latest ask; the server reads it with [`Request::KeptAlive`]
    /// before an idle stop and checks it again (the container is not
    /// trusted).
    KeepAlive {
        for_secs: u64,
        reason: String,
    },
    /// Server → agent: the keep-alive asked for inside, if one is still on
    /// (answer: `Option<KeepAliveAsk>`).
    KeptAlive,

    // --- ports ------------------------------------------------------------
    /// Connects to `port` on the workspace's own loopback and carries the
    /// connection on `channel` both ways: data the server sends goes to the
    /// port (its end-of-data closes the sending side), what the port sends
    /// comes back paced by credits. Answer: `()` once connected.
    TcpConnect {
        port: u16,
        channel: u32,
    },
    /// Ports something in the workspace listens on (TCP, from the kernel's
    /// socket tables). Answer: `Vec<ListeningPort>`, by port.
    ListeningPorts,
    /// The listening ports as they change: at once, then whenever the set
    /// (or a port's loopback-only flag) changes, as [`Event::Ports`] with
    /// this channel, until [`Request::Unwatch`] of it. Answer: `()`.
    WatchPorts {
        channel: u32,
    },

    // --- ssh --------------------------------------------------------------
    /// An SSH connection whose bytes are carried on `channel` both ways
    /// (as with [`Request::TcpConnect`]), served by the agent's own SSH
    /// server. The server has authenticated and authorised the caller;
    /// `host_key_seed` (64 hex digits) is this workspace's Ed25519 host key.
    /// Answer: `()` once the SSH server is running.
    SshOpen {
        channel: u32,
        host_key_seed: String,
    },

    // --- git credentials ----------------------------------------------------
    /// From git's credential helper inside the workspace (the agent's
    /// `git-credential` mode): the agent passes the ask on to the server
    /// as [`Event::GitCredentialWanted`] and answers with what the server
    /// sends back in [`Request::GitCredentialAnswer`] (nothing if it does
    /// not answer in time). Answer: `Option<GitCredential>`.
    GitCredential {
        ask: GitCredentialAsk,
    },
    /// Server → agent: the answer to ask number `ask`. Answer: `()`.
    GitCredentialAnswer {
        ask: u64,
        credential: Option<GitCredential>,
    },

    // --- the SSH agent ----------------------------------------------------
    /// Server → agent: the answer to SSH agent ask number `ask` (None:
    /// refused). Answer: `()`.
    SshAgentAnswer {
        ask: u64,
        reply: Option<SshAgentReply>,
    },
}

/// What an SSH client asked the workspace's SSH agent
/// (`$SSH_AUTH_SOCK`), passed on to the server, which holds the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum SshAgentAsk {
    /// The public keys on offer.
    Identities,
    /// A signature of `data` by the key whose public blob is `key_blob`.
    Sign {
        key_blob: Vec<u8>,
        data: Vec<u8>,
        flags: u32,
    },
}

/// The most an SSH agent ask may carry (a public key blob, or the data of
/// a user-authentication request or a git commit to sign).
pub const MAX_SSH_AGENT_DATA: usize = 64 * 1024;

impl SshAgentAsk {
    /// Whether it is within bounds (checked by the agent and again by the
    /// server: the workspace is not trusted).
    pub fn is_bounded(&self) -> bool {
        match self {
            SshAgentAsk::Identities => true,
            SshAgentAsk::Sign { key_blob, data, .. } => {
                key_blob.len() <= 1024 && data.len() <= MAX_SSH_AGENT_DATA
            }
        }
    }
}

/// The server's answer to an [`SshAgentAsk`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SshAgentReply {
    Identities {
        keys: Vec<SshIdentity>,
    },
    /// An SSH signature blob (algorithm name and signature).
    Signature {
        blob: Vec<u8>,
    },
}

/// A public key the agent offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SshIdentity {
    /// The SSH wire encoding of the public key.
    pub blob: Vec<u8>,
    pub comment: String,
}

/// What git asked its credential helper (the fields of git's credential
/// protocol the server decides on).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitCredentialAsk {
    pub op: GitCredentialOp,
    /// `https`, `http` (ssh keys are not served this way).
    pub protocol: String,
    /// `host` or `host:port`, as git sends it.
    pub host: String,
    #[serde(default)]
    pub path: Option<String>,
    /// The user name git already has (from the URL), if any.
    #[serde(default)]
    pub username: Option<String>,
}

/// git's credential helper operations: `get` a credential, `store` one
/// that worked, `erase` one the git server refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GitCredentialOp {
    Get,
    Store,
    Erase,
}

impl GitCredentialAsk {
    /// Whether every field is within the protocol's bounds (checked by the
    /// helper and again by the server: the workspace is not trusted).
    pub fn is_bounded(&self) -> bool {
        let ok = |s: &str, max: usize| s.len() <= max && !s.chars().any(char::is_control);
        ok(&self.protocol, 16)
            && !self.protocol.is_empty()
            && ok(&self.host, 262)
            && !self.host.is_empty()
            && self.path.as_deref().is_none_or(|p| ok(p, 4096))
            && self.username.as_deref().is_none_or(|u| ok(u, 256))
    }
}

/// A credential for git. Its `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitCredential {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for GitCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitCredential")
            .field("username", &self.username)
            .field("password", &"…")
            .finish()
    }
}

/// Asks a workspace may have waiting for the server at once.
pub const MAX_GIT_CREDENTIAL_ASKS: usize = 8;

/// A TCP port something in the workspace listens on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ListeningPort {
    pub port: u16,
    /// Only on the workspace's loopback (reachable by port forwarding, not
    /// by other containers).
    pub loopback_only: bool,
    /// The listening program's name, when the agent may see it.
    pub process: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SearchQuery {
    pub query: String,
    /// Treat `query` as a regular expression (else a literal).
    #[serde(default)]
    pub regex: bool,
    /// None: smart case (insensitive unless the query has capitals).
    pub case_sensitive: Option<bool>,
    /// Include (`*.rs`) or exclude (`!target/**`) globs.
    #[serde(default)]
    pub globs: Vec<String>,
    /// Search under this path (default: the whole workspace).
    #[serde(default)]
    pub path: String,
    pub max_results: usize,
    /// Also search hidden and git-ignored files.
    #[serde(default)]
    pub include_ignored: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum EntryKind {
    File,
    Dir,
    Symlink,
    Other,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DirEntry {
    pub name: String,
    pub kind: EntryKind,
    pub size: u64,
    pub mtime_ms: i64,
    pub mode: u32,
}

/// The most entries one listing page holds.
pub const MAX_PAGE_ENTRIES: usize = 1000;
/// What the entries of one answer (a listing page, search matches) may
/// take as JSON: well under one frame, so a big directory or a search that
/// matches everywhere is paged or cut, never too large for the link.
pub const REPLY_BUDGET: usize = 768 * 1024;

/// One page of a directory listing, directories first, then by name.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ListPage {
    pub entries: Vec<DirEntry>,
    /// Entries in the whole directory.
    pub total: usize,
    /// Where the next page starts; `None` on the last page.
    pub next_offset: Option<usize>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FileMeta {
    /// Relative to the workspace root.
    pub path: String,
    pub kind: EntryKind,
    pub size: u64,
    pub mtime_ms: i64,
    pub mode: u32,
    /// Changes whenever the content may have changed.
    pub etag: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TermInfo {
    pub id: String,
    pub shell: String,
    pub cols: u16,
    pub rows: u16,
    pub cwd: String,
    pub created_ms: i64,
    /// Set once the shell has exited.
    pub exit_code: Option<i32>,
    pub viewers: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SearchMatch {
    pub path: String,
    pub line: u64,
    pub text: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SearchResult {
    pub matches: Vec<SearchMatch>,
    pub truncated: bool,
    pub files_searched: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ArchiveStats {
    pub files: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ChangeKind {
    Created,
    Modified,
    Removed,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FsChange {
    pub kind: ChangeKind,
    pub path: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A terminal's shell ended.
    TermExit { id: String, exit_code: i32 },
    /// Changes seen by a watch.
    Fs {
        channel: u32,
        changes: Vec<FsChange>,
    },
    /// The listening ports, whole, from a [`Request::WatchPorts`].
    Ports {
        channel: u32,
        ports: Vec<ListeningPort>,
    },
    /// git inside the workspace asks for a credential; the server answers
    /// with [`Request::GitCredentialAnswer`] and the same `ask`.
    GitCredentialWanted { ask: u64, query: GitCredentialAsk },
    /// An SSH client inside asks the workspace's SSH agent; the server
    /// answers with [`Request::SshAgentAnswer`] and the same `ask`.
    SshAgentWanted { ask: u64, query: SshAgentAsk },
}

/// Why the agent refused or failed a request. `code` is stable.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AgentError {
    pub code: ErrorCode,
    pub message: String,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The path does not exist.
    NotFound,
    /// Something is already there.
    Exists,
    /// The path leaves the workspace (`..`, absolute, symlink out, NUL).
    OutsideWorkspace,
    NotADirectory,
    IsADirectory,
    DirectoryNotEmpty,
    /// `if_match` did not match: someone changed the file meanwhile.
    PreconditionFailed,
    /// A size or count limit was exceeded.
    TooLarge,
    /// Malformed request (bad regex, unknown terminal…).
    Invalid,
    PermissionDenied,
    /// Anything else.
    Io,
}

impl AgentError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> AgentError {
        AgentError {
            code,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for AgentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for AgentError {}

/// A keep-alive asked for inside the workspace, as the agent holds it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct KeepAliveAsk {
    /// Seconds it still lasts.
    pub remaining_secs: u64,
    pub reason: String,
}

/// The longest keep-alive a command inside the workspace may ask for.
pub const MAX_INSIDE_KEEP_ALIVE_SECS: u64 = 24 * 3600;
/// The longest reason it may give, in bytes.
pub const MAX_KEEP_ALIVE_REASON: usize = 200;

/// Paths per `Resolve` request, at most.
pub const MAX_RESOLVE: usize = 256;
