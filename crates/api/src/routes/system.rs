//! The installation at a glance (admins): version, what it runs on,
//! workspaces by state, readiness with reasons.

use super::health::readiness;
use crate::error::ApiResult;
use crate::extract::Auth;
use crate::AppState;
use aicockpit_core::access::{can, Action, Resource};
use axum::extract::State;
use axum::Json;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::Instant;

static STARTED: OnceLock<Instant> = OnceLock::new();

/// Marks when the server started (for its uptime).
pub(crate) fn mark_start() {
    STARTED.get_or_init(Instant::now);
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct SystemDto {
    version: &'static str,
    /// `sqlite` or `postgres`.
    database: String,
    /// `docker` or `podman`.
    engine: String,
    workspaces_by_state: BTreeMap<String, i64>,
    ready: bool,
    /// Why not, when not ready.
    problems: Vec<String>,
    /// Whether the AI's commands run in the kernel sandbox, and why not.
    agent_sandbox: Value,
    /// Whether workspaces are kept off this host's own addresses.
    host_isolation: Value,
    uptime_secs: u64,
    /// The warm pool per configured template.
    warm_pool: Vec<PoolDto>,
}

/// One template's warm pool.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct PoolDto {
    template: String,
    /// Workspaces configured to wait, and ready now.
    wanted: u32,
    ready: u32,
    /// Creates served from the pool, and those that made their own.
    hits: u64,
    misses: u64,
}

#[utoipa::path(
    get,
    path = "/system",
    tag = "system",
    summary = "Version, database, engine, workspaces by state, readiness (admins)",
    responses((status = 200, description = "OK", body = SystemDto))
)]
pub(crate) async fn system(State(s): State<AppState>, Auth(p): Auth) -> ApiResult<Json<SystemDto>> {
    can(&p, Action::Administer, Resource::Instance)?;
    let (problems, details) = readiness(&s).await;
    // The database may be the problem; the counts then stay empty.
    let by_state = s
        .store
        .count_workspaces_by_state()
        .await
        .unwrap_or_default();
    let text = |k: &str| details[k].as_str().unwrap_or_default().to_owned();
    Ok(Json(SystemDto {
        version: env!("CARGO_PKG_VERSION"),
        database: text("database"),
        engine: text("engine"),
        workspaces_by_state: by_state.into_iter().collect(),
        ready: problems.is_empty(),
        problems,
        agent_sandbox: details["agent_sandbox"].clone(),
        host_isolation: details["host_isolation"].clone(),
        uptime_secs: STARTED.get().map_or(0, |t| t.elapsed().as_secs()),
        warm_pool: s
            .workspaces
            .pool_stats()
            .into_iter()
            .map(|p| PoolDto {
                template: p.template,
                wanted: p.wanted,
                ready: p.ready,
                hits: p.hits,
                misses: p.misses,
            })
            .collect(),
    }))
}
