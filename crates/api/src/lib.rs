//! AiCockpit's HTTP API.
//!
//! [`router`] builds the axum router over an [`AppState`] (tests use it
//! in-process); [`server::App`] assembles the state from configuration and
//! serves it on a listener until a shutdown future fires.
//!
//! *Invariant:* this is the only crate that knows HTTP; every error reaches
//! the client through [`error::ApiError`], in one JSON shape.

mod dto;
pub mod error;
mod extract;
mod metrics;
mod routes;
pub mod server;
mod tickets;

pub use tickets::Tickets;

pub use metrics::Metrics;

use aicockpit_core::auth::AuthService;
use aicockpit_core::workspaces::WorkspaceManager;
use aicockpit_store::Store;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post};
use axum::Router;
use std::sync::Arc;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

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
    pub audit: Arc<aicockpit_core::audit::Audit>,
    /// Serve the web app from this directory instead of the embedded copy.
    pub web_dir: Option<std::path::PathBuf>,
    pub tickets: Arc<Tickets>,
    pub ai: Arc<aicockpit_ai::gateway::Gateway>,
    pub runs: Arc<aicockpit_assistant::run::Runs>,
    pub ai_max_request_bytes: usize,
    /// Whether workspaces are kept off this host's addresses.
    pub host_isolation: Arc<aicockpit_core::workspaces::hostfw::HostIsolation>,
}

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    use routes::{
        ai, audit, auth, conversations, files, gateway, health, policies, runs, terminals, users,
        workspaces,
    };
    let api = Router::new()
        .route("/auth/login", post(auth::login))
        .route("/auth/logout", post(auth::logout))
        .route("/auth/me", get(auth::me))
        .route(
            "/auth/tokens",
            get(auth::list_tokens).post(auth::create_token),
        )
        .route("/auth/tokens/{id}", delete(auth::revoke_token))
        .route("/users", get(users::list).post(users::create))
        .route("/templates", get(workspaces::templates))
        .route(
            "/workspaces",
            get(workspaces::list).post(workspaces::create),
        )
        .route(
            "/workspaces/{id}",
            get(workspaces::get).delete(workspaces::delete),
        )
        .route("/workspaces/{id}/start", post(workspaces::start))
        .route("/workspaces/{id}/stop", post(workspaces::stop))
        .route("/workspaces/{id}/restart", post(workspaces::restart))
        .route("/workspaces/{id}/exec", post(workspaces::exec))
        .route("/workspaces/{id}/usage", get(workspaces::usage))
        .route("/auth/ticket", post(auth::ticket))
        .route(
            "/workspaces/{id}/terminals",
            get(terminals::list).post(terminals::create),
        )
        .route("/workspaces/{id}/terminals/{tid}", delete(terminals::kill))
        .route("/workspaces/{id}/terminals/{tid}/ws", get(terminals::ws))
        .route(
            "/workspaces/{id}/files",
            get(files::list).delete(files::delete),
        )
        .route("/workspaces/{id}/files/stat", get(files::stat))
        .route(
            "/workspaces/{id}/files/content",
            get(files::read).put(files::write),
        )
        .route("/workspaces/{id}/files/mkdir", post(files::mkdir))
        .route("/workspaces/{id}/files/rename", post(files::rename))
        .route("/workspaces/{id}/files/upload", post(files::upload))
        .route("/workspaces/{id}/files/archive", get(files::archive))
        .route("/workspaces/{id}/files/watch", get(files::watch))
        .route("/workspaces/{id}/search", get(files::search))
        .route("/workspaces/{id}/search/files", get(files::find_files))
        .route("/ai/services", get(ai::list).post(ai::create))
        .route(
            "/ai/services/{id}",
            axum::routing::patch(ai::update).delete(ai::delete),
        )
        .route("/ai/services/{id}/test", post(ai::test))
        .route("/ai/services/{id}/activate", post(ai::activate))
        .route("/ai/aliases", get(ai::aliases))
        .route(
            "/ai/aliases/{model}",
            axum::routing::put(ai::set_alias).delete(ai::delete_alias),
        )
        .route("/ai/usage", get(ai::usage))
        .route(
            "/workspaces/{id}/policy",
            get(policies::get_policy).put(policies::put_policy),
        )
        .route("/workspaces/{id}/runs", post(runs::start))
        .route(
            "/workspaces/{id}/conversations",
            get(conversations::list_conversations),
        )
        .route(
            "/workspaces/{id}/conversations/{cid}",
            get(conversations::get_conversation)
                .put(conversations::put_conversation)
                .delete(conversations::delete_conversation),
        )
        .route(
            "/ai/default-policy",
            get(policies::get_default_policy).put(policies::put_default_policy),
        )
        .route("/runs/{run}/events", get(runs::events))
        .route("/runs/{run}/approvals/{call}", post(runs::approve))
        .route("/runs/{run}/stop", post(runs::stop))
        .route("/runs/{run}/undo", post(runs::undo))
        .route("/audit", get(audit::audit))
        .route("/audit/export", get(audit::audit_export));
    // The gateway takes larger bodies (long contexts) and answers in
    // OpenAI's error format, so it is a router of its own.
    let v1 = Router::new()
        .route("/chat/completions", post(gateway::chat))
        .route("/completions", post(gateway::completions))
        .route("/embeddings", post(gateway::embeddings))
        .route("/models", get(gateway::models))
        .fallback(gateway::not_found)
        .layer(DefaultBodyLimit::max(state.ai_max_request_bytes));
    Router::new()
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .route("/metrics", get(health::metrics))
        .nest(
            "/api/v1",
            api.layer(DefaultBodyLimit::max(state.max_body_bytes)),
        )
        .nest("/v1", v1)
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .fallback(routes::spa::serve)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .layer(TraceLayer::new_for_http())
        .layer(CatchPanicLayer::custom(error::panic_response))
        .with_state(state)
}
