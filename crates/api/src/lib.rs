//! AiCockpit's HTTP API.
//!
//! [`router`] builds the axum router over an [`AppState`] (tests use it
//! in-process); [`server::App`] assembles the state from configuration and
//! serves it on a listener until a shutdown future fires.
//!
//! *Invariant:* this is the only crate that knows HTTP; every error reaches
//! the client through [`error::ApiError`], in one JSON shape.

mod body;
mod dto;
pub mod error;
mod extract;
mod metrics;
mod openapi;
mod proxy;
mod routes;
pub mod server;
mod sse;
mod tickets;

pub use tickets::Tickets;

pub use metrics::Metrics;

use aicockpit_core::auth::AuthService;
use aicockpit_core::workspaces::WorkspaceManager;
use aicockpit_store::Store;
use axum::extract::DefaultBodyLimit;
use axum::routing::{any, get};
use axum::Router;
use std::sync::Arc;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Everything handlers need, cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub auth: AuthService,
    pub workspaces: Arc<WorkspaceManager>,
    pub metrics: Arc<Metrics>,
    pub max_body_bytes: usize,
    /// Files and terminals in workspaces (access, limits, audit).
    pub files: Arc<aicockpit_core::files::WorkspaceFiles>,
    pub terminals: Arc<aicockpit_core::terminals::WorkspaceTerminals>,
    pub ports: Arc<aicockpit_core::ports::WorkspacePorts>,
    /// SSH into workspaces (host keys, connections to the agent's server).
    pub ssh: Arc<aicockpit_core::ssh::WorkspaceSsh>,
    /// Web previews of workspace ports (who may open them, sessions).
    pub previews: Arc<aicockpit_core::previews::Previews>,
    pub audit: Arc<aicockpit_core::audit::Audit>,
    /// Users' git credentials, served to git inside their workspaces.
    pub git_credentials: Arc<aicockpit_core::git_credentials::GitCredentials>,
    /// Users' SSH keys, signing for their workspaces' SSH agents.
    pub ssh_keys: Arc<aicockpit_core::ssh_keys::SshKeys>,
    /// Users' dotfiles repositories, installed into their new workspaces.
    pub dotfiles: Arc<aicockpit_core::dotfiles::Dotfiles>,
    /// Serve the web app from this directory instead of the embedded copy.
    pub web_dir: Option<std::path::PathBuf>,
    pub tickets: Arc<Tickets>,
    pub ai: Arc<aicockpit_ai::gateway::Gateway>,
    pub runs: Arc<aicockpit_assistant::run::Runs>,
    pub ai_max_request_bytes: usize,
    /// Extra addresses "detect local servers" probes (`ai.detect_urls`).
    pub ai_detect_urls: Arc<Vec<String>>,
    /// Whether workspaces are kept off this host's addresses.
    pub host_isolation: Arc<aicockpit_core::workspaces::hostfw::HostIsolation>,
}

/// Every documented route with its OpenAPI description: the router and
/// the document come from the same list, so they cannot drift apart.
fn documented_routes(limits: BodyLimits) -> OpenApiRouter<AppState> {
    use routes::{
        ai, ai_features, audit, auth, conversations, dotfiles, files, gateway, git_credentials,
        health, kept, policies, ports, previews, quotas, runs, snapshots, ssh, ssh_keys, system,
        terminals, users, workspaces,
    };
    let api = OpenApiRouter::new()
        .routes(routes!(auth::login))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::change_password))
        .routes(routes!(auth::me))
        .routes(routes!(auth::list_tokens, auth::create_token))
        .routes(routes!(auth::revoke_token))
        .routes(routes!(git_credentials::list, git_credentials::create))
        .routes(routes!(git_credentials::delete))
        .routes(routes!(ssh_keys::get, ssh_keys::generate, ssh_keys::delete))
        .routes(routes!(dotfiles::get, dotfiles::put, dotfiles::delete))
        .routes(routes!(auth::ticket))
        .routes(routes!(users::list, users::create))
        .routes(routes!(users::update))
        .routes(routes!(users::reset_password))
        .routes(routes!(quotas::mine))
        .routes(routes!(quotas::get, quotas::set))
        .routes(routes!(workspaces::templates))
        .routes(routes!(workspaces::list, workspaces::create))
        .routes(routes!(
            workspaces::get,
            workspaces::update,
            workspaces::delete
        ))
        .routes(routes!(kept::list))
        .routes(routes!(kept::purge))
        .routes(routes!(snapshots::create))
        .routes(routes!(snapshots::list))
        .routes(routes!(snapshots::delete))
        .routes(routes!(snapshots::fork))
        .routes(routes!(snapshots::restore))
        .routes(routes!(snapshots::export))
        .routes(routes!(snapshots::import))
        .routes(routes!(workspaces::keep_alive))
        .routes(routes!(workspaces::activity))
        .routes(routes!(workspaces::start))
        .routes(routes!(workspaces::stop))
        .routes(routes!(workspaces::restart))
        .routes(routes!(workspaces::rebuild))
        .routes(routes!(workspaces::exec))
        .routes(routes!(workspaces::usage))
        .routes(routes!(workspaces::setup))
        .routes(routes!(workspaces::setups))
        .routes(routes!(workspaces::devcontainer))
        .routes(routes!(terminals::list, terminals::create))
        .routes(routes!(terminals::kill))
        .routes(routes!(terminals::ws))
        .routes(routes!(ports::list))
        .routes(routes!(ports::watch))
        .routes(routes!(ports::tcp))
        .routes(routes!(ssh::connect))
        .routes(routes!(ssh::host_key))
        .routes(routes!(previews::authorize))
        .routes(routes!(previews::set_share))
        .routes(routes!(previews::shares))
        .routes(routes!(files::list, files::delete))
        .routes(routes!(files::stat))
        .routes(routes!(files::read, files::write))
        .routes(routes!(files::mkdir))
        .routes(routes!(files::rename))
        .routes(routes!(files::upload))
        .routes(routes!(files::archive))
        .routes(routes!(files::watch))
        .routes(routes!(files::search))
        .routes(routes!(files::find_files))
        .routes(routes!(ai::list, ai::create))
        .routes(routes!(ai::update, ai::delete))
        .routes(routes!(ai::test))
        .routes(routes!(ai::activate))
        .routes(routes!(ai::aliases))
        .routes(routes!(ai::set_alias, ai::delete_alias))
        .routes(routes!(ai::usage))
        .routes(routes!(ai::usage_series))
        .routes(routes!(ai_features::presets))
        .routes(routes!(ai_features::detect))
        .routes(routes!(ai_features::features))
        .routes(routes!(ai_features::set_defaults))
        .routes(routes!(ai_features::set_mine))
        .routes(routes!(policies::check))
        .routes(routes!(
            policies::get_default_policy,
            policies::put_default_policy
        ))
        .routes(routes!(policies::get_policy, policies::put_policy))
        .routes(routes!(runs::start))
        .routes(routes!(runs::events))
        .routes(routes!(runs::approve))
        .routes(routes!(runs::stop))
        .routes(routes!(runs::undo))
        .routes(routes!(conversations::list_conversations))
        .routes(routes!(
            conversations::get_conversation,
            conversations::put_conversation,
            conversations::delete_conversation
        ))
        .routes(routes!(audit::audit))
        .routes(routes!(audit::audit_export))
        .routes(routes!(audit::audit_verify))
        .routes(routes!(system::system))
        .route("/openapi.json", get(openapi::serve));
    // The gateway takes larger bodies (long contexts) and answers in
    // OpenAI's error format, so it is a router of its own.
    let v1 = OpenApiRouter::new()
        .routes(routes!(gateway::chat))
        .routes(routes!(gateway::completions))
        .routes(routes!(gateway::embeddings))
        .routes(routes!(gateway::models))
        .fallback(gateway::not_found)
        .layer(DefaultBodyLimit::max(limits.ai_request_bytes));
    OpenApiRouter::with_openapi(openapi::base())
        .routes(routes!(health::health))
        .routes(routes!(health::ready))
        .routes(routes!(health::metrics))
        .nest(
            "/api/v1",
            api.layer(DefaultBodyLimit::max(limits.body_bytes)),
        )
        .nest("/v1", v1)
}

/// Request body limits of the two API surfaces.
#[derive(Clone, Copy)]
struct BodyLimits {
    body_bytes: usize,
    ai_request_bytes: usize,
}

/// The OpenAPI document of the whole HTTP surface (served at
/// `/api/v1/openapi.json`, checked in as `docs/openapi.json`).
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    let limits = BodyLimits {
        body_bytes: 0,
        ai_request_bytes: 0,
    };
    openapi::finish(documented_routes(limits).into_openapi())
}

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    routes::system::mark_start();
    let limits = BodyLimits {
        body_bytes: state.max_body_bytes,
        ai_request_bytes: state.ai_max_request_bytes,
    };
    let (routes, _) = documented_routes(limits).split_for_parts();
    routes
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        // Path-mode previews (each method goes to the port).
        .route("/w/{ws}/ports/{port}", any(routes::previews::path_mode))
        .route("/w/{ws}/ports/{port}/", any(routes::previews::path_mode))
        .route(
            "/w/{ws}/ports/{port}/{*rest}",
            any(routes::previews::path_mode),
        )
        .fallback(routes::spa::serve)
        .method_not_allowed_fallback(routes::method_not_allowed)
        // Requests whose Host names a subdomain preview never reach the
        // app's routes.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            routes::previews::dispatch,
        ))
        // Refusals reach clients that are still sending (see `body`).
        .layer(axum::middleware::from_fn(body::drain_refused))
        .layer(TraceLayer::new_for_http())
        .layer(CatchPanicLayer::custom(error::panic_response))
        .with_state(state)
}
