//! What goes over the wire. Only these types derive `Serialize`; the
//! domain's records stay internal.

use aicockpit_core::format_ms;
use aicockpit_core::templates::Template;
use aicockpit_core::workspaces::{IdleStatus, Workspace};
use aicockpit_runtime::ExecOutput;
use aicockpit_store::{TokenRecord, UserRecord};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct UserDto {
    pub id: String,
    pub username: String,
    pub role: String,
    pub created_at: String,
    /// Cannot log in; holds no tokens.
    pub disabled: bool,
    /// Must choose a new password before anything else works.
    pub must_change_password: bool,
}

impl From<UserRecord> for UserDto {
    fn from(u: UserRecord) -> Self {
        UserDto {
            id: u.id,
            username: u.username,
            role: u.role,
            created_at: format_ms(u.created_at),
            disabled: u.disabled,
            must_change_password: u.must_change_password,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct LoginResponse {
    pub token: String,
    pub expires_at: Option<String>,
    pub user: UserDto,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateUserRequest {
    #[schema(pattern = "^[a-z0-9][a-z0-9._-]{0,31}$")]
    pub username: String,
    #[schema(min_length = 8, max_length = 1024)]
    pub password: String,
    /// `admin`, `member` (default) or `viewer`.
    #[serde(default = "default_role")]
    #[schema(pattern = "^(admin|member|viewer)$")]
    pub role: String,
    /// Ask the user for a new password at their first login.
    #[serde(default)]
    pub must_change_password: bool,
}

/// Changes to a user (admins); only what is given changes.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateUserRequest {
    #[schema(pattern = "^(admin|member|viewer)$")]
    pub role: Option<String>,
    /// Disabling ends the user's sessions and revokes their API tokens.
    pub disabled: Option<bool>,
}

/// A new password chosen by an admin.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResetPasswordRequest {
    #[schema(min_length = 8, max_length = 1024)]
    pub password: String,
    /// The user chooses their own at the next login (default true).
    #[serde(default = "yes")]
    pub must_change_password: bool,
}

fn yes() -> bool {
    true
}

/// The caller's own password change.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChangePasswordRequest {
    pub current_password: String,
    #[schema(min_length = 8, max_length = 1024)]
    pub new_password: String,
}

fn default_role() -> String {
    "member".into()
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateTokenRequest {
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    pub name: String,
    #[schema(minimum = 1, maximum = 3650)]
    pub expires_in_days: Option<i64>,
}

/// A token's metadata; the secret appears only in [`CreatedToken`].
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct TokenDto {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
}

impl From<TokenRecord> for TokenDto {
    fn from(t: TokenRecord) -> Self {
        TokenDto {
            id: t.id,
            name: t.name,
            kind: t.kind,
            created_at: format_ms(t.created_at),
            expires_at: t.expires_at.map(format_ms),
            last_used_at: t.last_used_at.map(format_ms),
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct CreatedToken {
    /// Shown once: store it now.
    pub token: String,
    #[serde(flatten)]
    pub meta: TokenDto,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct TemplateDto {
    pub name: String,
    pub image: String,
    pub description: String,
    pub cpus: Option<f64>,
    pub memory_mb: Option<i64>,
    pub ports: Vec<u16>,
    pub env: BTreeMap<String, String>,
}

impl From<&Template> for TemplateDto {
    fn from(t: &Template) -> Self {
        TemplateDto {
            name: t.name.clone(),
            image: t.image.clone(),
            description: t.description.clone(),
            cpus: t.cpus,
            memory_mb: t.memory_mb,
            ports: t.ports.clone(),
            env: t.env.clone(),
        }
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateWorkspaceRequest {
    /// 1-63 lowercase letters, digits and '-', starting and ending with a
    /// letter or digit; unique among the caller's workspaces.
    #[schema(pattern = "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")]
    pub name: String,
    /// A template's name (default `base`); or give `image` instead.
    pub template: Option<String>,
    #[schema(pattern = "^[A-Za-z0-9][A-Za-z0-9._/:@-]{0,254}$")]
    pub image: Option<String>,
    #[schema(minimum = 0.1)]
    pub cpus: Option<f64>,
    #[schema(minimum = 64)]
    pub memory_mb: Option<i64>,
    #[schema(minimum = 32)]
    pub pids_limit: Option<i64>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    pub ports: Option<Vec<u16>>,
    /// Seconds without activity before it is stopped: absent for the
    /// server's default, 0 for never (where admins allow it), else 60 up to
    /// the server's maximum.
    #[schema(minimum = 0)]
    pub idle_timeout_secs: Option<i64>,
    /// The id of a deleted workspace whose kept data (see `/kept-data`)
    /// the new workspace starts with; the kept data is then gone.
    pub from_kept: Option<String>,
    /// A repository to clone into `/workspace` once the workspace runs, as
    /// its user; follow it at `GET /workspaces/{id}/setup`.
    pub git: Option<GitSourceDto>,
}

/// A git repository to start a workspace from.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct GitSourceDto {
    /// `https://`, `http://`, `ssh://`, `git://` or `user@host:path`; no
    /// password or token in it.
    #[schema(max_length = 2048)]
    pub url: String,
    /// A branch, tag or commit (default: the repository's default branch).
    #[serde(rename = "ref")]
    pub reference: Option<String>,
    /// A shallow clone of this many commits (branches and tags).
    #[schema(minimum = 1)]
    pub depth: Option<u32>,
    /// Clone the submodules too, recursively.
    #[serde(default)]
    pub submodules: bool,
}

impl From<GitSourceDto> for aicockpit_core::workspaces::git::GitSource {
    fn from(g: GitSourceDto) -> Self {
        aicockpit_core::workspaces::git::GitSource {
            url: g.url,
            reference: g.reference,
            depth: g.depth,
            submodules: g.submodules,
        }
    }
}

/// How a new workspace's setup (a git clone) goes: its output from line
/// `from` on.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct SetupDto {
    /// `git_clone`, `rebuild`, `post_start` (the commands run at each
    /// start), `dotfiles`.
    pub kind: String,
    /// The step under way, or where it ended: `clone`, `devcontainer`
    /// (reading the configuration), `image` (pulling or building),
    /// `container` (making it again from the image), `lifecycle` (its
    /// commands), `dotfiles`.
    pub phase: String,
    /// Where from (the repository's URL).
    pub source: String,
    /// `running`, `succeeded` or `failed`.
    pub state: &'static str,
    /// The index of the first line here.
    pub from: u64,
    pub lines: Vec<String>,
    /// Ask again from here (the last line again while git rewrites it).
    pub next: u64,
    /// Why it failed: `authentication`, `not_found`, `unknown_ref`,
    /// `network`, `not_empty`, `git_missing`, `timeout` (the clone);
    /// `devcontainer_invalid`, `devcontainer_refused` (a property that
    /// would weaken isolation), `feature_unavailable` (a registry's
    /// feature not fetched), `image_unavailable`, `image_build_failed`,
    /// `quota_exceeded`, `devcontainer_start_failed`, `lifecycle_failed`,
    /// `interrupted` (the devcontainer); or `failed`.
    pub error_code: Option<String>,
    pub error: Option<String>,
    pub started_ms: i64,
    pub finished_ms: Option<i64>,
}

impl From<aicockpit_core::workspaces::SetupView> for SetupDto {
    fn from(v: aicockpit_core::workspaces::SetupView) -> Self {
        SetupDto {
            kind: v.kind,
            phase: v.phase,
            source: v.source,
            state: v.state.as_str(),
            from: v.from,
            lines: v.lines,
            next: v.next,
            error_code: v.error_code,
            error: v.error,
            started_ms: v.started_ms,
            finished_ms: v.finished_ms,
        }
    }
}

/// One setup of a workspace (its output is at GET
/// /workspaces/{id}/setup?at=started_ms).
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct SetupSummaryDto {
    pub kind: String,
    pub source: String,
    /// `running`, `succeeded` or `failed`.
    pub state: &'static str,
    pub error_code: Option<String>,
    pub started_ms: i64,
    pub finished_ms: Option<i64>,
}

impl From<aicockpit_core::workspaces::SetupSummary> for SetupSummaryDto {
    fn from(v: aicockpit_core::workspaces::SetupSummary) -> Self {
        SetupSummaryDto {
            kind: v.kind,
            source: v.source,
            state: v.state.as_str(),
            error_code: v.error_code,
            started_ms: v.started_ms,
            finished_ms: v.finished_ms,
        }
    }
}

/// The devcontainer.json applied to a workspace, as the server read it.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct DevcontainerDto {
    /// Where it was found in the repository.
    pub path: String,
    pub name: Option<String>,
    /// The image it names, or None when it was built.
    pub image: Option<String>,
    /// The Dockerfile it was built from (relative to `build_context`).
    pub dockerfile: Option<String>,
    pub build_context: Option<String>,
    pub container_env: std::collections::BTreeMap<String, String>,
    /// Names only: values may hold what the project keeps there.
    pub remote_env: Vec<String>,
    pub remote_user: Option<String>,
    pub container_user: Option<String>,
    pub workspace_folder: String,
    pub forward_ports: Vec<DevcontainerPortDto>,
    /// Every port with attributes (`portsAttributes`), forwarded or not.
    pub ports_attributes: Vec<DevcontainerPortDto>,
    /// The lifecycle commands it has, in the order they run.
    pub lifecycle: Vec<String>,
    pub cpus: Option<f64>,
    pub memory_mb: Option<i64>,
    /// What was read but not acted on, and why.
    pub notes: Vec<String>,
}

/// A port the configuration forwards, with its attributes.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct DevcontainerPortDto {
    pub port: u16,
    pub label: Option<String>,
    /// `notify`, `openBrowser`, `openBrowserOnce`, `openPreview`, `silent`
    /// or `ignore`.
    pub on_auto_forward: Option<String>,
}

impl From<aicockpit_core::devcontainer::DevContainer> for DevcontainerDto {
    fn from(c: aicockpit_core::devcontainer::DevContainer) -> Self {
        use aicockpit_core::devcontainer::ImageSource;
        let (image, dockerfile, build_context) = match c.image {
            ImageSource::Image(i) => (Some(i), None, None),
            ImageSource::Build {
                context_dir,
                dockerfile,
                ..
            } => (None, Some(dockerfile), Some(context_dir)),
        };
        DevcontainerDto {
            path: c.path,
            name: c.name,
            image,
            dockerfile,
            build_context,
            container_env: c.container_env,
            remote_env: c.remote_env.into_keys().collect(),
            remote_user: c.remote_user,
            container_user: c.container_user,
            workspace_folder: c.workspace_folder,
            forward_ports: c
                .forward_ports
                .iter()
                .map(|&port| {
                    let a = c.ports_attributes.get(&port).cloned().unwrap_or_default();
                    DevcontainerPortDto {
                        port,
                        label: a.label,
                        on_auto_forward: a.on_auto_forward,
                    }
                })
                .collect(),
            ports_attributes: c
                .ports_attributes
                .iter()
                .map(|(&port, a)| DevcontainerPortDto {
                    port,
                    label: a.label.clone(),
                    on_auto_forward: a.on_auto_forward.clone(),
                })
                .collect(),
            lifecycle: c.lifecycle.commands.into_iter().map(|(p, _)| p).collect(),
            cpus: c.cpus,
            memory_mb: c.memory_mb,
            notes: c.notes,
        }
    }
}

/// A deleted workspace's kept data.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct KeptDataDto {
    /// The id the deleted workspace had: what `from_kept` and purging take.
    pub workspace: String,
    pub owner_id: String,
    /// The deleted workspace's name.
    pub name: String,
    /// When the data was first made (RFC 3339).
    pub created_at: Option<String>,
}

impl From<aicockpit_core::workspaces::KeptData> for KeptDataDto {
    fn from(k: aicockpit_core::workspaces::KeptData) -> KeptDataDto {
        KeptDataDto {
            workspace: k.workspace,
            owner_id: k.owner_id,
            name: k.name,
            created_at: k.created_at,
        }
    }
}

/// Changes to a workspace's settings.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateWorkspaceRequest {
    /// Its own idle timeout: null for the server's default, 0 for never,
    /// else 60 up to the server's maximum; absent leaves it as it is.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, minimum = 0)]
    pub idle_timeout_secs: Option<Option<i64>>,
}

/// A field that is there, null or not (absent is the outer None).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Keep a running workspace from idle stop for a while.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct KeepAliveRequest {
    /// How long, 1 second to 7 days.
    #[schema(minimum = 1, maximum = 604800)]
    pub for_secs: u64,
    /// Why, for whoever looks (one line, at most 200 bytes).
    #[schema(min_length = 1, max_length = 200)]
    pub reason: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct KeepAliveDto {
    pub until: String,
    pub reason: String,
    /// Who asked (`user:…`, or `agent:<run>`).
    pub by: String,
}

/// A running workspace's standing with idle stop.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct IdleDto {
    /// The timeout in force, in seconds (0: never).
    pub timeout_secs: u64,
    /// When it will be stopped unless there is activity (absent while work
    /// is in progress, or never).
    pub stop_at: Option<String>,
    pub last_activity: Option<String>,
    /// Work in progress that keeps it running: `exec`, `agent_run`.
    pub busy: Vec<&'static str>,
    pub keep_alive: Option<KeepAliveDto>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct LimitsDto {
    pub cpus: f64,
    pub memory_mb: i64,
    pub pids_limit: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct PublishedPortDto {
    pub container_port: u16,
    pub host_ip: String,
    pub host_port: u16,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct WorkspaceDto {
    pub id: String,
    pub name: String,
    pub owner_id: String,
    pub template: Option<String>,
    pub image: String,
    pub state: &'static str,
    pub state_reason: Option<String>,
    pub limits: LimitsDto,
    pub env: BTreeMap<String, String>,
    pub ports: Vec<u16>,
    pub published_ports: Vec<PublishedPortDto>,
    pub user: String,
    pub container_id: Option<String>,
    pub volume: String,
    pub network: String,
    pub created_at: String,
    pub updated_at: String,
    /// Its own idle timeout (absent: the server's default; 0: never).
    pub idle_timeout_secs: Option<i64>,
    /// Where it stands with idle stop (running workspaces only).
    pub idle: Option<IdleDto>,
}

impl From<IdleStatus> for IdleDto {
    fn from(i: IdleStatus) -> Self {
        IdleDto {
            timeout_secs: i.timeout_secs,
            stop_at: i.stop_at_ms.map(format_ms),
            last_activity: i.last_activity_ms.map(format_ms),
            busy: i.busy,
            keep_alive: i.keep_alive.map(|k| KeepAliveDto {
                until: format_ms(k.until_ms),
                reason: k.reason,
                by: k.by,
            }),
        }
    }
}

impl From<Workspace> for WorkspaceDto {
    fn from(w: Workspace) -> Self {
        WorkspaceDto {
            id: w.id,
            name: w.name,
            owner_id: w.owner_id,
            template: w.template,
            image: w.image,
            state: w.state.as_str(),
            state_reason: w.state_reason,
            limits: LimitsDto {
                cpus: w.cpus,
                memory_mb: w.memory_mb,
                pids_limit: w.pids_limit,
            },
            env: w.env,
            ports: w.ports,
            published_ports: w
                .published_ports
                .into_iter()
                .map(|p| PublishedPortDto {
                    container_port: p.container,
                    host_ip: p.host_ip,
                    host_port: p.host_port,
                })
                .collect(),
            user: w.user,
            container_id: w.container_id,
            volume: w.volume,
            network: w.network,
            created_at: format_ms(w.created_at),
            updated_at: format_ms(w.updated_at),
            idle_timeout_secs: w.idle_timeout_secs,
            idle: w.idle.map(IdleDto::from),
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct DeletedDto {
    pub deleted: bool,
    /// The data volume left in place (absent with `?purge=true`).
    pub kept_volume: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExecRequestDto {
    pub argv: Vec<String>,
    pub cwd: Option<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    pub user: Option<String>,
    pub timeout_secs: Option<u64>,
    pub max_output_bytes: Option<usize>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ExecResponseDto {
    /// Absent when the command was killed for its timeout.
    pub exit_code: Option<i64>,
    pub stdout: String,
    pub stderr: String,
    /// `utf-8`, or `base64` when the output is not valid UTF-8.
    pub stdout_encoding: &'static str,
    pub stderr_encoding: &'static str,
    pub stdout_truncated: bool,
    pub stderr_truncated: bool,
    pub timed_out: bool,
    pub duration_ms: f64,
}

fn encode_output(bytes: Vec<u8>) -> (String, &'static str) {
    match String::from_utf8(bytes) {
        Ok(s) => (s, "utf-8"),
        Err(e) => (
            base64::engine::general_purpose::STANDARD.encode(e.into_bytes()),
            "base64",
        ),
    }
}

impl From<ExecOutput> for ExecResponseDto {
    fn from(o: ExecOutput) -> Self {
        let (stdout, stdout_encoding) = encode_output(o.stdout);
        let (stderr, stderr_encoding) = encode_output(o.stderr);
        ExecResponseDto {
            exit_code: o.exit_code,
            stdout,
            stderr,
            stdout_encoding,
            stderr_encoding,
            stdout_truncated: o.stdout_truncated,
            stderr_truncated: o.stderr_truncated,
            timed_out: o.timed_out,
            duration_ms: o.duration.as_secs_f64() * 1000.0,
        }
    }
}

/// A snapshot of a workspace: its filesystem, its data and its settings.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct SnapshotDto {
    pub id: String,
    pub owner_id: String,
    /// The workspace it was taken of (it may be gone since).
    pub workspace_id: String,
    pub workspace_name: String,
    pub name: String,
    pub created_at: String,
}

impl From<aicockpit_core::workspaces::Snapshot> for SnapshotDto {
    fn from(s: aicockpit_core::workspaces::Snapshot) -> SnapshotDto {
        SnapshotDto {
            id: s.id,
            owner_id: s.owner_id,
            workspace_id: s.workspace_id,
            workspace_name: s.workspace_name,
            name: s.name,
            created_at: format_ms(s.created_at),
        }
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateSnapshotRequest {
    /// Unique among the owner's snapshots, as workspace names are
    /// (default: the workspace's name and a suffix).
    #[schema(pattern = "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")]
    pub name: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ForkRequest {
    /// The new workspace's name.
    #[schema(pattern = "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")]
    pub name: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RestoreRequest {
    /// A snapshot of this workspace (id or name).
    pub snapshot: String,
}
