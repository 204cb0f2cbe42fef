//! Server configuration: built-in defaults, then a TOML file, then
//! `AICOCKPIT_SECTION__KEY` environment variables (for example
//! `AICOCKPIT_SERVER__LISTEN=0.0.0.0:8400`). Each field says what it is for.

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub engine: EngineConfig,
    pub workspaces: WorkspacesConfig,
    pub auth: AuthConfig,
    pub workspace_agent: WorkspaceAgentConfig,
    pub ai: AiConfig,
    pub previews: PreviewsConfig,
    pub log: LogConfig,
}

/// Web previews of workspace ports.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PreviewsConfig {
    /// Previews are served at `PORT--WORKSPACE--OWNER.<base_domain>` (or
    /// `PORT--WORKSPACE_ID.<base_domain>`), each its own origin. The
    /// default `localhost` needs no DNS: browsers send `*.localhost` to
    /// the loopback. Empty: subdomain previews off.
    pub base_domain: String,
    /// Where browsers log in for a preview (the main app's address); by
    /// default the preview's address without its first label.
    pub app_url: Option<String>,
    /// Whether ports may be shared with anyone, logged in or not.
    pub allow_public: bool,
}

impl Default for PreviewsConfig {
    fn default() -> Self {
        PreviewsConfig {
            base_domain: "localhost".into(),
            app_url: None,
            allow_public: true,
        }
    }
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AiConfig {
    /// Key that seals AI service secrets at rest: base64 of 32 bytes. When
    /// absent, `secret.key` in the data dir is used (created on first run).
    pub secret_key: Option<String>,
    /// Per-user limits on the gateway: requests and tokens per minute (0 = none).
    pub requests_per_minute: u64,
    pub tokens_per_minute: u64,
    /// Retries per service before falling back to its fallback service.
    pub max_retries: u32,
    /// A 429's Retry-After up to this many seconds is waited out.
    pub max_retry_wait_secs: u64,
    /// Largest request body the gateway accepts, in bytes.
    pub max_request_bytes: usize,
    /// Largest file an agent run may change (its prior state is kept for
    /// undo); larger ones are refused.
    pub checkpoint_max_bytes: usize,
    /// How long an agent's "ask" waits for an answer before the run ends.
    pub approval_timeout_secs: u64,
    /// Addresses "detect local servers" probes besides the well-known
    /// ports of Ollama, LM Studio, vLLM and llama.cpp.
    pub detect_urls: Vec<String>,
}

impl Default for AiConfig {
    fn default() -> Self {
        AiConfig {
            secret_key: None,
            requests_per_minute: 600,
            tokens_per_minute: 2_000_000,
            max_retries: 2,
            max_retry_wait_secs: 5,
            max_request_bytes: 16 * 1024 * 1024,
            checkpoint_max_bytes: 8 * 1024 * 1024,
            approval_timeout_secs: 900,
            detect_urls: Vec::new(),
        }
    }
}

impl fmt::Debug for AiConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AiConfig")
            .field("secret_key", &self.secret_key.as_ref().map(|_| "***"))
            .field("requests_per_minute", &self.requests_per_minute)
            .field("tokens_per_minute", &self.tokens_per_minute)
            .field("max_retries", &self.max_retries)
            .field("max_retry_wait_secs", &self.max_retry_wait_secs)
            .field("max_request_bytes", &self.max_request_bytes)
            .field("checkpoint_max_bytes", &self.checkpoint_max_bytes)
            .field("approval_timeout_secs", &self.approval_timeout_secs)
            .finish()
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkspaceAgentConfig {
    /// The static `aicockpit-workspace-agent` binary copied into workspaces. Defaults
    /// to one beside the server's executable or in the build tree.
    pub binary: Option<PathBuf>,
    /// Largest file accepted by a write or upload, in bytes.
    pub max_file_bytes: u64,
    /// Largest total an uploaded archive may unpack to, and its entry count.
    pub max_archive_bytes: u64,
    pub max_archive_entries: u64,
}

impl Default for WorkspaceAgentConfig {
    fn default() -> Self {
        WorkspaceAgentConfig {
            binary: None,
            max_file_bytes: 256 * 1024 * 1024,
            max_archive_bytes: 1024 * 1024 * 1024,
            max_archive_entries: 100_000,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address the HTTP server listens on. Loopback by default: exposing
    /// AiCockpit to a network is a decision to make on purpose (behind TLS).
    pub listen: String,
    /// Where AiCockpit keeps its state (the SQLite database, the first
    /// admin's password). Defaults to `$XDG_DATA_HOME/aicockpit` or
    /// `~/.local/share/aicockpit`.
    pub data_dir: Option<PathBuf>,
    /// Largest request body accepted by JSON endpoints, in bytes.
    pub max_body_bytes: usize,
    /// Serve the web app from this directory (e.g. `web/dist` while
    /// developing) instead of the copy built into the binary.
    pub web_dir: Option<PathBuf>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:8400".into(),
            data_dir: None,
            max_body_bytes: 1024 * 1024,
            web_dir: None,
        }
    }
}

#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://PATH` or `postgres://user:pass@host/db`. Defaults to an
    /// SQLite file in the data dir.
    pub url: Option<String>,
}

impl fmt::Debug for DatabaseConfig {
    // The URL may carry a password: never print it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("url", &self.url.as_deref().map(redact_url))
            .finish()
    }
}

/// Hides the password part of a `scheme://user:password@host` URL.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &url[s + 3..at];
            match userinfo.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &userinfo[..c], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineConfig {
    /// Docker Engine API address (`unix:///run/docker.sock`, `tcp://…`);
    /// Podman's compatible socket works too. Defaults to `DOCKER_HOST`, then
    /// `/var/run/docker.sock`.
    pub host: Option<String>,
    /// Seconds a stopping workspace gets before it is killed.
    pub stop_timeout_secs: i64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            host: None,
            stop_timeout_secs: 5,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkspacesConfig {
    /// A TOML file with `[[template]]` entries replacing the built-in catalog.
    pub templates_file: Option<PathBuf>,
    /// Limits used when neither the request nor the template gives one.
    pub default_cpus: f64,
    pub default_memory_mb: i64,
    pub default_pids_limit: i64,
    /// Upper bounds a request may ask for.
    pub max_cpus: f64,
    pub max_memory_mb: i64,
    pub max_pids_limit: i64,
    /// How often the server compares its database with the engine.
    pub reconcile_interval_secs: u64,
    /// Default and maximum run time of `exec`.
    pub exec_default_timeout_secs: u64,
    pub exec_max_timeout_secs: u64,
    /// Default and maximum bytes kept of each of stdout and stderr of `exec`.
    pub exec_default_output_bytes: usize,
    pub exec_max_output_bytes: usize,
    /// Workspace networks take subnets of `network_prefix` bits from this
    /// IPv4 pool (each workspace has a bridge network of its own).
    pub network_pool: String,
    pub network_prefix: u8,
    /// Reject traffic from workspaces to this host's own addresses (a host
    /// firewall chain; needs root and a local engine).
    pub block_host_access: bool,
    /// Host addresses workspaces may still reach: `IPV4` or `IPV4:PORT`.
    pub host_allow: Vec<String>,
    /// Capabilities a repository's devcontainer.json may add (`capAdd`),
    /// e.g. `["SYS_PTRACE"]`; any other is refused. The other properties
    /// that weaken isolation (`privileged`, `securityOpt`, `runArgs`, host
    /// mounts) are always refused.
    pub devcontainer_cap_add: Vec<String>,
    /// Registries a devcontainer.json's features are fetched from
    /// (`host` or `host:port`; `localhost` over plain http, as the
    /// reference CLI does, the others over https). A feature of any other
    /// registry is refused; the server fetches nothing elsewhere for a
    /// repository. Empty: registry features are refused.
    pub feature_registries: Vec<String>,
    /// Seconds without activity after which a running workspace is stopped
    /// (0: never). Activity is typing in a terminal, file changes, a command
    /// running through exec, an AI agent run in progress or waiting for an
    /// approval, and keep-alives.
    pub idle_timeout_secs: u64,
    /// The longest idle timeout a workspace may ask for.
    pub max_idle_timeout_secs: u64,
    /// Whether a workspace may ask never to be stopped for idleness.
    pub allow_never_idle: bool,
    /// The longest a workspace runs without a restart, active or not (0: no
    /// limit).
    pub max_lifetime_secs: u64,
    /// How often running workspaces are checked for idleness.
    pub idle_check_interval_secs: u64,
    /// Default per-user quotas (0: no limit; admins may set others per
    /// user; admins themselves are not held back): workspaces, running
    /// workspaces, and CPUs and memory of the running ones together.
    pub quota_workspaces: u32,
    pub quota_running: u32,
    pub quota_cpus: f64,
    pub quota_memory_mb: i64,
    /// The largest snapshot archive an import takes (it is spooled to the
    /// data directory's `spool/` before the engine loads it).
    pub max_snapshot_import_bytes: u64,
    /// Scheduled backups: every `backup_interval_secs`, each workspace's
    /// snapshot archive (the same as an export) is written under
    /// `backup_dir/<name>-<id>/`, keeping the newest `backup_keep`. Unset
    /// dir: no backups.
    pub backup_dir: Option<PathBuf>,
    pub backup_interval_secs: u64,
    pub backup_keep: u32,
    /// Images built from devcontainer.json that no workspace uses are
    /// removed once they are this old (the next workspace of the same
    /// configuration skips its build until then); checked every
    /// `built_image_check_secs`.
    pub built_image_keep_hours: u64,
    pub built_image_check_secs: u64,
    /// Warm pool: per template name, how many started, never-used
    /// workspaces (agent in place) wait to be claimed by a create of that
    /// template (`[workspaces.pool]` `base = 2`). Empty: no pool.
    pub pool: std::collections::BTreeMap<String, u32>,
}

impl Default for WorkspacesConfig {
    fn default() -> Self {
        WorkspacesConfig {
            templates_file: None,
            default_cpus: 1.0,
            default_memory_mb: 1024,
            default_pids_limit: 1024,
            max_cpus: 16.0,
            max_memory_mb: 65536,
            max_pids_limit: 32768,
            reconcile_interval_secs: 10,
            exec_default_timeout_secs: 60,
            exec_max_timeout_secs: 3600,
            exec_default_output_bytes: 1024 * 1024,
            exec_max_output_bytes: 16 * 1024 * 1024,
            network_pool: "10.213.0.0/16".into(),
            network_prefix: 28,
            block_host_access: true,
            host_allow: Vec::new(),
            devcontainer_cap_add: Vec::new(),
            feature_registries: vec!["ghcr.io".into(), "mcr.microsoft.com".into()],
            idle_timeout_secs: 2 * 3600,
            max_idle_timeout_secs: 7 * 24 * 3600,
            allow_never_idle: true,
            max_lifetime_secs: 0,
            idle_check_interval_secs: 30,
            quota_workspaces: 20,
            quota_running: 10,
            quota_cpus: 0.0,
            quota_memory_mb: 0,
            max_snapshot_import_bytes: 32 * 1024 * 1024 * 1024,
            backup_dir: None,
            backup_interval_secs: 24 * 3600,
            built_image_keep_hours: 72,
            built_image_check_secs: 3600,
            backup_keep: 7,
            pool: Default::default(),
        }
    }
}

/// The most warm workspaces one template may keep waiting (each is a
/// running container with its memory reserved).
pub const MAX_POOL_PER_TEMPLATE: u32 = 32;

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// How long a login session token stays valid.
    pub session_ttl_hours: i64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            session_ttl_hours: 24 * 7,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// A tracing filter such as `info` or `aicockpit=debug,info`.
    pub level: String,
    /// `text` for people, `json` for log collectors.
    pub format: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
            format: "text".into(),
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("server", &self.server)
            .field("database", &self.database)
            .field("engine", &self.engine)
            .field("workspaces", &self.workspaces)
            .field("auth", &self.auth)
            .field("workspace_agent", &self.workspace_agent)
            .field("ai", &self.ai)
            .field("log", &self.log)
            .finish()
    }
}

/// A configuration that could not be loaded or makes no sense.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

impl Config {
    /// Defaults, then `file` (if given; it must exist), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            fig = fig.merge(Toml::file(path));
        }
        // Only SECTION__KEY variables: the CLI's own AICOCKPIT_URL and
        // AICOCKPIT_TOKEN live in the same namespace and are not config.
        fig = fig.merge(
            Env::prefixed("AICOCKPIT_")
                .filter(|k| k.as_str().contains("__"))
                .split("__"),
        );
        let cfg: Config = fig.extract().map_err(|e| ConfigError(e.to_string()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let w = &self.workspaces;
        if !(w.default_cpus > 0.0 && w.default_cpus <= w.max_cpus) {
            return Err(ConfigError(
                "workspaces.default_cpus must be in (0, max_cpus]".into(),
            ));
        }
        if !(w.default_memory_mb >= 64 && w.default_memory_mb <= w.max_memory_mb) {
            return Err(ConfigError(
                "workspaces.default_memory_mb must be in [64, max_memory_mb]".into(),
            ));
        }
        crate::workspaces::netpool::NetPool::parse(&w.network_pool, w.network_prefix)
            .map_err(|e| ConfigError(format!("workspaces.network_pool: {e}")))?;
        crate::workspaces::hostfw::rules(&w.host_allow).map_err(ConfigError)?;
        if w.reconcile_interval_secs == 0 {
            return Err(ConfigError(
                "workspaces.reconcile_interval_secs must be at least 1".into(),
            ));
        }
        if let Some((t, n)) = w.pool.iter().find(|(_, n)| **n > MAX_POOL_PER_TEMPLATE) {
            return Err(ConfigError(format!(
                "workspaces.pool.{t} = {n}: at most {MAX_POOL_PER_TEMPLATE} per template"
            )));
        }
        if w.idle_check_interval_secs == 0 {
            return Err(ConfigError(
                "workspaces.idle_check_interval_secs must be at least 1".into(),
            ));
        }
        if w.idle_timeout_secs > w.max_idle_timeout_secs {
            return Err(ConfigError(
                "workspaces.idle_timeout_secs must be at most max_idle_timeout_secs".into(),
            ));
        }
        if !matches!(self.log.format.as_str(), "text" | "json") {
            return Err(ConfigError(
                "log.format must be \"text\" or \"json\"".into(),
            ));
        }
        if self.auth.session_ttl_hours <= 0 {
            return Err(ConfigError(
                "auth.session_ttl_hours must be positive".into(),
            ));
        }
        Ok(())
    }

    /// The data directory, resolved.
    pub fn data_dir(&self) -> PathBuf {
        if let Some(d) = &self.server.data_dir {
            return d.clone();
        }
        if let Some(x) = std::env::var_os("XDG_DATA_HOME") {
            return PathBuf::from(x).join("aicockpit");
        }
        match std::env::var_os("HOME") {
            Some(h) => PathBuf::from(h).join(".local/share/aicockpit"),
            None => PathBuf::from("aicockpit-data"),
        }
    }

    /// The database URL, resolved (SQLite in the data dir by default).
    pub fn database_url(&self) -> String {
        match &self.database.url {
            Some(u) => u.clone(),
            None => format!(
                "sqlite://{}",
                self.data_dir().join("aicockpit.db").display()
            ),
        }
    }

    /// The engine address, resolved.
    pub fn engine_host(&self) -> String {
        if let Some(h) = &self.engine.host {
            return h.clone();
        }
        match std::env::var("DOCKER_HOST") {
            Ok(h) if !h.is_empty() => h,
            _ => "unix:///var/run/docker.sock".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords_in_urls() {
        assert_eq!(
            redact_url("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact_url("sqlite:///x.db"), "sqlite:///x.db");
    }

    #[test]
    fn the_example_config_is_valid() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/aicockpit.example.toml");
        let c = Config::load(Some(&path)).expect("the example config loads");
        assert_eq!(c.ai.approval_timeout_secs, 900);
        assert!(c.workspaces.pool.is_empty());
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail API, not ours
    fn file_then_env_override_defaults() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "[server]\nlisten = \"127.0.0.1:9\"\n[workspaces]\ndefault_cpus = 2.0\n",
        )
        .expect("write");
        figment::Jail::expect_with(|jail| {
            jail.set_env("AICOCKPIT_WORKSPACES__DEFAULT_MEMORY_MB", "2048");
            jail.set_env("AICOCKPIT_TOKEN", "not-config");
            jail.set_env("AICOCKPIT_WORKSPACES__POOL__BASE", "2");
            let c = Config::load(Some(&path)).map_err(|e| e.to_string())?;
            assert_eq!(c.workspaces.pool.get("base"), Some(&2));
            assert_eq!(c.server.listen, "127.0.0.1:9");
            assert_eq!(c.workspaces.default_cpus, 2.0);
            assert_eq!(c.workspaces.default_memory_mb, 2048);
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[server]\nlisen = \"x\"\n").expect("write");
        assert!(Config::load(Some(&path)).is_err());
        std::fs::write(&path, "[log]\nformat = \"xml\"\n").expect("write");
        assert!(Config::load(Some(&path)).is_err());
        assert!(Config::load(Some(&dir.path().join("missing.toml"))).is_err());
    }

    #[test]
    fn debug_never_prints_database_password() {
        let mut c = Config::default();
        c.database.url = Some("postgres://u:hunter2@h/db".into());
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
