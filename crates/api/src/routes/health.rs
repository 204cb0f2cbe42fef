//! `/health`, `/ready` and `/metrics`.

use crate::error::{ApiError, ApiResult};
use crate::extract::Auth;
use crate::AppState;
use aicockpit_core::access::{can, Action, Resource};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde_json::{json, Value};
use std::time::Duration;

#[utoipa::path(
    get,
    path = "/health",
    tag = "system",
    summary = "Liveness",
    responses((status = 200, description = "OK", body = Object)),
    security(())
)]
/// The process is up. Open, like `/ready`: probes carry no token.
pub(crate) async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

#[utoipa::path(
    get,
    path = "/ready",
    tag = "system",
    summary = "Readiness with reasons (database, engine, agent)",
    responses((status = 200, description = "OK", body = Object), (status = 503, description = "Not ready", body = Object)),
    security(())
)]
/// The database and the engine both answer. Open to probes (Kubernetes
/// sends no token), so it says only which part is down; the details go to
/// the log.
pub(crate) async fn ready(State(s): State<AppState>) -> ApiResult<Json<Value>> {
    let (problems, details) = readiness(&s).await;
    if !problems.is_empty() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            problems.join("; "),
        ));
    }
    let mut body = json!({"status": "ready"});
    if let (Some(b), Value::Object(d)) = (body.as_object_mut(), details) {
        b.extend(d);
    }
    Ok(Json(body))
}

/// What keeps the server from serving (empty when ready), and what it runs
/// on: database, engine, the AI sandbox and host isolation.
pub(crate) async fn readiness(s: &AppState) -> (Vec<String>, Value) {
    let limit = Duration::from_secs(3);
    let db = match tokio::time::timeout(limit, s.store.ping()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: the database does not answer");
            Err("database: unavailable".to_owned())
        }
        Err(_) => Err("database: no answer within 3 s".to_owned()),
    };
    let runtime = s.workspaces.runtime().clone();
    let engine = match tokio::time::timeout(limit, runtime.ping()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: the container engine does not answer");
            Err("engine: unavailable".to_owned())
        }
        Err(_) => Err("engine: no answer within 3 s".to_owned()),
    };
    let problems: Vec<String> = [db.err(), engine.err()].into_iter().flatten().collect();
    let details = json!({
        "database": format!("{:?}", s.store.backend()).to_lowercase(),
        "engine": runtime.engine_name(),
        "agent_sandbox": agent_sandbox(),
        "host_isolation": match &*s.host_isolation {
            aicockpit_core::workspaces::hostfw::HostIsolation::Enforced => json!({"enforced": true}),
            aicockpit_core::workspaces::hostfw::HostIsolation::Off(why) => json!({"enforced": false, "detail": why}),
        },
    });
    (problems, details)
}

/// Whether the AI's commands can run in the kernel sandbox. Containers
/// share the host's kernel (Docker, Podman), so the server's own probe
/// tells; it is not a reason to be unready: without it every command asks.
fn agent_sandbox() -> Value {
    use aicockpit_workspace_agent_proto::sandbox::{landlock_abi, MIN_SANDBOX_ABI};
    static ABI: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    let abi = *ABI.get_or_init(landlock_abi);
    let available = abi >= MIN_SANDBOX_ABI;
    json!({
        "available": available,
        "landlock_abi": abi,
        "detail": if available {
            "commands the AI runs without approval are confined by Landlock".to_owned()
        } else {
            format!("the kernel offers Landlock ABI {abi}, {MIN_SANDBOX_ABI} is needed: every command the AI runs asks first")
        },
    })
}

#[utoipa::path(
    get,
    path = "/metrics",
    tag = "system",
    summary = "Prometheus metrics (admins)",
    responses((status = 200, description = "Prometheus metrics (OpenMetrics text format)", content_type = "application/openmetrics-text", body = String))
)]
/// Prometheus text format; admins only (it describes the whole installation).
pub(crate) async fn metrics(
    State(s): State<AppState>,
    Auth(p): Auth,
) -> ApiResult<impl IntoResponse> {
    can(&p, Action::Administer, Resource::Instance)?;
    let counts = s
        .store
        .count_workspaces_by_state()
        .await
        .map_err(aicockpit_core::CoreError::from)?;
    s.metrics.set_audit_head(s.audit.published_head());
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.metrics.render(&counts, &s.workspaces.pool_stats()),
    ))
}
