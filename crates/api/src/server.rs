//! Assembling a running server from configuration: database, engine,
//! managers, the reconciler, and the HTTP listener with graceful shutdown.

use crate::{router, AppState, Metrics};
use aicockpit_core::auth::{new_id, AuthService, Role};
use aicockpit_core::config::Config;
use aicockpit_core::templates::Catalog;
use aicockpit_core::workspace_agent::{AgentBinary, AgentHub};
use aicockpit_core::workspaces::{ManagerOptions, WorkspaceManager, WORKSPACE_DIR};
use aicockpit_runtime::{DockerRuntime, WorkspaceRuntime};
use aicockpit_store::Store;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tracing::{info, warn};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Store(#[from] aicockpit_store::StoreError),
    #[error("{0}")]
    Io(String),
}

/// A server ready to serve.
pub struct App {
    pub state: AppState,
    pub config: Config,
}

/// The file the first admin's generated password is written to.
pub const INITIAL_PASSWORD_FILE: &str = "initial-admin-password";

impl App {
    /// Opens the database (migrating it), connects the engine lazily, loads
    /// the catalog, and creates the first admin if there is no user yet.
    pub async fn build(config: Config) -> Result<App, StartError> {
        let data_dir = config.data_dir();
        std::fs::create_dir_all(&data_dir).map_err(|e| {
            StartError::Io(format!(
                "cannot create data dir {}: {e}",
                data_dir.display()
            ))
        })?;
        let store = Store::connect(&config.database_url()).await?;
        let instance = store
            .setting_or_insert("instance_id", &new_id()[..12])
            .await?;
        let catalog = match &config.workspaces.templates_file {
            Some(path) => Catalog::from_file(path),
            None => Catalog::builtin(),
        }
        .map_err(StartError::Config)?;
        let runtime: Arc<dyn WorkspaceRuntime> =
            Arc::new(DockerRuntime::new(config.engine_host(), instance.clone()));
        let head_file = aicockpit_core::audit::HeadFile::open(&data_dir)
            .map_err(|e| StartError::Io(format!("the audit key in {}: {e}", data_dir.display())))?;
        let audit =
            Arc::new(aicockpit_core::audit::Audit::new(store.clone()).with_head_file(head_file));
        audit.load_head().await?;
        let auth = AuthService::new(store.clone(), config.auth.session_ttl_hours, audit.clone());
        bootstrap_admin(&store, &auth, &data_dir).await?;
        let agent_binary = match &config.workspace_agent.binary {
            Some(path) => Some(AgentBinary::load(path).map_err(StartError::Config)?),
            None => AgentBinary::default_locations()
                .iter()
                .find(|p| p.is_file())
                .and_then(|p| AgentBinary::load(p).ok()),
        };
        match &agent_binary {
            Some(b) => info!(version = %b.hash, "workspace agent available"),
            None => warn!(
                "no workspace agent binary found: terminals, files and search are unavailable"
            ),
        }
        let secrets = match &config.ai.secret_key {
            Some(k) => aicockpit_ai::crypto::SecretBox::from_key_b64(k),
            None => aicockpit_ai::crypto::SecretBox::load_or_create(&data_dir.join("secret.key")),
        }
        .map_err(|e| StartError::Config(e.to_string()))?;
        let git_credentials = Arc::new(aicockpit_core::git_credentials::GitCredentials::new(
            store.clone(),
            secrets.clone(),
            audit.clone(),
        ));
        let workspace_agents =
            Arc::new(AgentHub::new(runtime.clone(), agent_binary, WORKSPACE_DIR));
        workspace_agents.serve_git_credentials(git_credentials.clone());
        let user_ssh_keys = Arc::new(aicockpit_core::ssh_keys::SshKeys::new(
            store.clone(),
            secrets.clone(),
            audit.clone(),
        ));
        workspace_agents.serve_ssh_keys(user_ssh_keys.clone());
        let workspaces = WorkspaceManager::new(
            store.clone(),
            runtime,
            catalog,
            ManagerOptions {
                instance,
                limits: config.workspaces.clone(),
                stop_timeout_secs: config.engine.stop_timeout_secs,
                spool_dir: data_dir.join("spool"),
                setup_log_dir: Some(data_dir.join("setup-logs")),
            },
            workspace_agents,
            audit.clone(),
        );
        let files = Arc::new(aicockpit_core::files::WorkspaceFiles::new(
            workspaces.clone(),
            audit.clone(),
            config.workspace_agent.clone(),
        ));
        let terminals = Arc::new(aicockpit_core::terminals::WorkspaceTerminals::new(
            workspaces.clone(),
            audit.clone(),
        ));
        let ports = Arc::new(aicockpit_core::ports::WorkspacePorts::new(
            workspaces.clone(),
            audit.clone(),
        ));
        let ssh_keys = aicockpit_core::ssh::HostKeys::open(&data_dir).map_err(|e| {
            StartError::Io(format!(
                "the SSH host key secret in {}: {e}",
                data_dir.display()
            ))
        })?;
        let ssh = Arc::new(aicockpit_core::ssh::WorkspaceSsh::new(
            workspaces.clone(),
            audit.clone(),
            ssh_keys,
        ));
        let metrics = Arc::new(Metrics::new());
        let observer_metrics = metrics.clone();
        let ai = Arc::new(aicockpit_ai::gateway::Gateway::new(
            Arc::new(aicockpit_ai::registry::Registry::new(
                store.clone(),
                secrets,
                audit.clone(),
            )),
            store.clone(),
            aicockpit_ai::gateway::GatewayConfig {
                rpm: config.ai.requests_per_minute,
                tpm: config.ai.tokens_per_minute,
                max_retries: config.ai.max_retries,
                max_retry_wait: std::time::Duration::from_secs(config.ai.max_retry_wait_secs),
                ..Default::default()
            },
            Arc::new(move |o: &aicockpit_ai::gateway::Outcome| observer_metrics.record_ai(o)),
        ));
        let runs = Arc::new(
            aicockpit_assistant::run::Runs::new(
                ai.clone(),
                workspaces.clone(),
                files.clone(),
                audit.clone(),
                store.clone(),
            )
            .with_limits(aicockpit_assistant::run::RunLimits {
                checkpoint_max_bytes: config.ai.checkpoint_max_bytes,
                approval_timeout: std::time::Duration::from_secs(
                    config.ai.approval_timeout_secs.max(1),
                ),
                ..Default::default()
            }),
        );
        let host_isolation = Arc::new(host_isolation(&config).await);
        warn_if_previews_point_home(&config);
        let previews = Arc::new(aicockpit_core::previews::Previews::new(
            store.clone(),
            workspaces.clone(),
            ports.clone(),
            auth.clone(),
            audit.clone(),
            config.previews.clone(),
        ));
        let state = AppState {
            dotfiles: Arc::new(aicockpit_core::dotfiles::Dotfiles::new(
                store.clone(),
                audit.clone(),
            )),
            git_credentials,
            ssh_keys: user_ssh_keys,
            previews,
            host_isolation,
            ai_detect_urls: Arc::new(config.ai.detect_urls.clone()),
            store,
            auth,
            workspaces,
            metrics,
            ai,
            runs,
            ai_max_request_bytes: config.ai.max_request_bytes,
            max_body_bytes: config.server.max_body_bytes,
            files,
            terminals,
            ports,
            ssh,
            audit,
            web_dir: config.server.web_dir.clone(),
            tickets: Arc::new(crate::Tickets::default()),
        };
        Ok(App { state, config })
    }

    /// Reconciles once, then serves on `listener` until `shutdown` resolves;
    /// in-flight requests are allowed to finish.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let manager = self.state.workspaces.clone();
        match manager.reconcile().await {
            Ok(r) => info!(?r, "initial reconciliation done"),
            Err(e) => {
                warn!(error = %e, "initial reconciliation failed; will retry in the background")
            }
        }
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let reconciler = manager.clone().spawn_reconciler(
            Duration::from_secs(self.config.workspaces.reconcile_interval_secs),
            stop_rx.clone(),
        );
        let backups = self.config.workspaces.backup_dir.is_some().then(|| {
            manager.clone().spawn_backups(
                Duration::from_secs(self.config.workspaces.backup_interval_secs.max(60)),
                stop_rx.clone(),
            )
        });
        let pool = manager.clone().spawn_pool(stop_rx.clone());
        let pruner = manager.clone().spawn_image_pruner(
            Duration::from_secs(
                self.config
                    .workspaces
                    .built_image_keep_hours
                    .saturating_mul(3600),
            ),
            Duration::from_secs(self.config.workspaces.built_image_check_secs.max(1)),
            stop_rx.clone(),
        );
        let idle_stopper = manager.spawn_idle_stopper(
            Duration::from_secs(self.config.workspaces.idle_check_interval_secs),
            stop_rx,
        );
        let store = self.state.store.clone();
        let ai = self.state.ai.clone();
        info!(addr = %listener.local_addr()?, engine = %self.config.engine_host(), "serving");
        // No Nagle: a response's headers and its first body chunk go out as
        // separate writes, and Nagle would hold the second back until the
        // client's delayed ACK (40 ms) for every streamed file read.
        let listener =
            axum::serve::ListenerExt::tap_io(listener, |tcp: &mut tokio::net::TcpStream| {
                let _ = tcp.set_nodelay(true);
            });
        let result = axum::serve(
            listener,
            router(self.state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await;
        let _ = stop_tx.send(true);
        let _ = reconciler.await;
        let _ = pruner.await;
        let _ = idle_stopper.await;
        // Unclaimed pool workspaces are removed before the server stops.
        let _ = pool.await;
        if let Some(b) = backups {
            let _ = b.await;
        }
        // Usage rows of requests that just finished are not lost.
        ai.drain().await;
        store.close().await;
        info!("server stopped");
        result
    }
}

/// Keeps workspaces off this host's own addresses where the engine runs on
/// this host and the firewall can be changed; says why not otherwise.
/// `*.localhost` previews reach the server only from its own machine: on
/// a server others use, links would point at each visitor's own computer.
fn warn_if_previews_point_home(config: &Config) {
    let loopback = config
        .server
        .listen
        .parse::<std::net::SocketAddr>()
        .is_ok_and(|a| a.ip().is_loopback());
    if config.previews.base_domain == "localhost" && !loopback {
        warn!(
            listen = %config.server.listen,
            "previews.base_domain is `localhost`, which only works for a browser on this machine; set a wildcard domain for previews"
        );
    }
}

async fn host_isolation(config: &Config) -> aicockpit_core::workspaces::hostfw::HostIsolation {
    use aicockpit_core::workspaces::hostfw::{enforce, isolate_pool, HostIsolation};
    let w = &config.workspaces;
    if !config.engine_host().starts_with("unix://") {
        return HostIsolation::Off(
            "the engine is remote: its host's firewall must keep workspaces off it".into(),
        );
    }
    // Workspaces off each other, whatever the host access setting.
    let pool = w.network_pool.clone();
    match tokio::task::spawn_blocking(move || isolate_pool(&pool)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            warn!(reason = %e, "workspaces rely on the engine alone to keep them off each other")
        }
        Err(e) => {
            warn!(reason = %e, "workspaces rely on the engine alone to keep them off each other")
        }
    }
    if !w.block_host_access {
        return HostIsolation::Off("workspaces.block_host_access is off".into());
    }
    let (pool, allow) = (w.network_pool.clone(), w.host_allow.clone());
    let r = tokio::task::spawn_blocking(move || enforce(&pool, &allow))
        .await
        .unwrap_or_else(|e| HostIsolation::Off(e.to_string()));
    if let HostIsolation::Off(why) = &r {
        warn!(reason = %why, "workspaces can reach this host's own addresses");
    }
    r
}

/// With no users at all, make `admin` with a random password written (0600)
/// to the data dir, so a fresh install can be logged into and nothing secret
/// goes to the log.
async fn bootstrap_admin(
    store: &Store,
    auth: &AuthService,
    data_dir: &Path,
) -> Result<(), StartError> {
    if store.count_users().await? > 0 {
        return Ok(());
    }
    let password = aicockpit_core::auth::random_password();
    match auth
        .create_user("system", "admin", &password, Role::Admin, true)
        .await
    {
        Ok(_) => {}
        // Another process won the race: fine.
        Err(aicockpit_core::CoreError::Conflict { .. }) => return Ok(()),
        Err(e) => {
            return Err(StartError::Config(format!(
                "cannot create the first admin: {e}"
            )))
        }
    }
    let path = data_dir.join(INITIAL_PASSWORD_FILE);
    write_private(&path, &format!("{password}\n"))
        .map_err(|e| StartError::Io(format!("{}: {e}", path.display())))?;
    info!(
        path = %path.display(),
        "created the first user `admin`; its password is in this file (change it, then delete the file)"
    );
    Ok(())
}

fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(content.as_bytes())
}
