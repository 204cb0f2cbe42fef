//! The agent, its workspace policy, and the audit log, over HTTP.

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery, Auth};
use crate::AppState;
use aicockpit_assistant::agent::{AgentError, Approval};
use aicockpit_assistant::policy::Policy;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::IntoResponse;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::convert::Infallible;
use std::time::Duration;

impl From<AgentError> for ApiError {
    fn from(e: AgentError) -> Self {
        match e {
            AgentError::NotFound(m) => ApiError::new(StatusCode::NOT_FOUND, "not_found", m),
            AgentError::Invalid(m) => ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", m),
            AgentError::Core(c) => c.into(),
            AgentError::Store(s) => aicockpit_core::CoreError::from(s).into(),
        }
    }
}

pub(crate) async fn get_policy(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Policy>> {
    let w = s.workspaces.get(&p, &id).await?;
    Ok(Json(s.agents.policy(&w.id).await?))
}

pub(crate) async fn put_policy(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(policy): ApiJson<Policy>,
) -> ApiResult<Json<Policy>> {
    Ok(Json(s.agents.set_policy(&p, &id, &policy).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StartBody {
    task: String,
    model: Option<String>,
    max_steps: Option<u32>,
}

pub(crate) async fn start(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<StartBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let run = s
        .agents
        .start(&p, &id, b.task, b.model, b.max_steps)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"run_id": run.id, "workspace_id": run.workspace_id})),
    ))
}

/// Server-sent events of a run: everything so far, then live, ending with
/// an `end` event.
pub(crate) async fn events(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(run): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let run = s.agents.run(&run, &p)?;
    let (past, live, finished) = run.subscribe();
    let past = futures_util::stream::iter(
        past.into_iter()
            .map(|v| Ok::<_, Infallible>(Event::default().data(v.to_string()))),
    );
    let live = futures_util::stream::unfold((live, finished), |(mut rx, done)| async move {
        if done {
            return None;
        }
        loop {
            match rx.recv().await {
                Ok(v) => {
                    let end = v["type"] == "end";
                    return Some((Ok(Event::default().data(v.to_string())), (rx, end)));
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(_) => return None,
            }
        }
    });
    use futures_util::StreamExt;
    Ok((
        [("x-accel-buffering", "no"), ("cache-control", "no-cache")],
        Sse::new(past.chain(live)).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))),
    ))
}

pub(crate) async fn approve(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((run, call)): Path<(String, String)>,
    ApiJson(a): ApiJson<Approval>,
) -> ApiResult<StatusCode> {
    p.require_write()?;
    let run = s.agents.run(&run, &p)?;
    s.agents.approve(&run, &call, a, &p)?;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn stop(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(run): Path<String>,
) -> ApiResult<StatusCode> {
    let run = s.agents.run(&run, &p)?;
    s.agents.stop(&run);
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuditQuery {
    workspace: Option<String>,
    #[serde(default)]
    after: i64,
    limit: Option<i64>,
}

#[derive(Serialize)]
pub(crate) struct AuditDto {
    seq: i64,
    at: String,
    actor: String,
    workspace_id: Option<String>,
    action: String,
    detail: Value,
    decision: Option<String>,
    approved_by: Option<String>,
    result: Option<String>,
    hash: String,
}

/// The audit log, read-only (there is no route that changes it). Admins see
/// everything; others the entries of workspaces they can see.
pub(crate) async fn audit(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<Json<Vec<AuditDto>>> {
    let ws_id = match &q.workspace {
        Some(w) => Some(s.workspaces.get(&p, w).await?.id),
        None if p.is_admin() => None,
        None => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                "give ?workspace= (only admins read the whole log)",
            ))
        }
    };
    let limit = q.limit.unwrap_or(200).clamp(1, 1000);
    let rows = s
        .store
        .audit_rows(ws_id.as_deref(), q.after, limit)
        .await
        .map_err(aicockpit_core::CoreError::from)?;
    Ok(Json(
        rows.into_iter()
            .map(|r| AuditDto {
                seq: r.seq,
                at: aicockpit_core::format_ms(r.at),
                actor: r.actor,
                workspace_id: r.workspace_id,
                action: r.action,
                detail: serde_json::from_str(&r.detail).unwrap_or(Value::Null),
                decision: r.decision,
                approved_by: r.approved_by,
                result: r.result,
                hash: r.hash,
            })
            .collect(),
    ))
}

fn conversation_key(user: &str, ws: &str) -> String {
    format!("conversation.{user}.{ws}")
}

/// The caller's chat in a workspace (kept on the server, so it follows the
/// user across browsers).
pub(crate) async fn get_conversation(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let w = s.workspaces.get(&p, &id).await?;
    let v = s
        .store
        .setting(&conversation_key(&p.user_id, &w.id))
        .await
        .map_err(aicockpit_core::CoreError::from)?
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_else(|| json!({"messages": []}));
    Ok(Json(v))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConversationBody {
    messages: Vec<Value>,
}

pub(crate) async fn put_conversation(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ConversationBody>,
) -> ApiResult<StatusCode> {
    let w = s.workspaces.get(&p, &id).await?;
    if b.messages.len() > 500 {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "at most 500 messages",
        ));
    }
    let text = json!({"messages": b.messages}).to_string();
    s.store
        .set_setting(&conversation_key(&p.user_id, &w.id), &text)
        .await
        .map_err(aicockpit_core::CoreError::from)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Restores every file the run changed to what it was before the run.
pub(crate) async fn undo(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(run): Path<String>,
) -> ApiResult<Json<Value>> {
    let run = s.agents.run(&run, &p)?;
    let files = s.agents.undo(&run, &p).await?;
    Ok(Json(
        json!({"restored": files, "note": "commands the agent ran are not undone"}),
    ))
}
