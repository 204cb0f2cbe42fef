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
            AgentError::ApprovalExpired => ApiError::new(
                StatusCode::CONFLICT,
                "approval_expired",
                "nobody answered the approval request in time",
            ),
        }
    }
}

pub(crate) async fn get_default_policy(
    State(s): State<AppState>,
    Auth(_p): Auth,
) -> ApiResult<Json<Policy>> {
    Ok(Json(s.agents.default_policy().await?))
}

pub(crate) async fn put_default_policy(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiJson(policy): ApiJson<Policy>,
) -> ApiResult<Json<Policy>> {
    Ok(Json(s.agents.set_default_policy(&p, &policy).await?))
}

pub(crate) async fn get_policy(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Policy>> {
    let ws_id = s.workspaces.id_of(&p, &id).await?;
    Ok(Json(s.agents.policy(&ws_id).await?))
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
        Some(w) => Some(s.workspaces.id_of(&p, w).await?),
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

#[derive(Debug, serde::Deserialize)]
pub(crate) struct ExportQuery {
    #[serde(default)]
    after: i64,
    limit: Option<i64>,
}

/// The audit log as stored, every field that enters the hash exactly as
/// hashed, with the recipe: anyone can recompute the chain from this alone.
/// Pages by `after` (a row's seq); admins only.
pub(crate) async fn audit_export(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiQuery(q): ApiQuery<ExportQuery>,
) -> ApiResult<Json<Value>> {
    p.require_admin()?;
    let limit = q.limit.unwrap_or(10_000).clamp(1, 10_000);
    let rows = s
        .store
        .audit_rows(None, q.after, limit)
        .await
        .map_err(aicockpit_core::CoreError::from)?;
    // The database's head: rows appended by another process (the CLI)
    // count too.
    let head = s
        .store
        .audit_head()
        .await
        .map_err(aicockpit_core::CoreError::from)?;
    Ok(Json(aicockpit_core::audit::export_json(&rows, head)))
}

fn conversations_key(user: &str, ws: &str) -> String {
    format!("conversations.{user}.{ws}")
}

async fn load_conversations(s: &AppState, user: &str, ws: &str) -> ApiResult<Vec<Value>> {
    Ok(s.store
        .setting(&conversations_key(user, ws))
        .await
        .map_err(aicockpit_core::CoreError::from)?
        .and_then(|t| serde_json::from_str::<Vec<Value>>(&t).ok())
        .unwrap_or_default())
}

async fn save_conversations(s: &AppState, user: &str, ws: &str, all: Vec<Value>) -> ApiResult<()> {
    s.store
        .set_setting(&conversations_key(user, ws), &Value::Array(all).to_string())
        .await
        .map_err(aicockpit_core::CoreError::from)?;
    Ok(())
}

/// The caller's conversations in a workspace, newest first, without their
/// messages (kept on the server, so they follow the user across browsers).
pub(crate) async fn list_conversations(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<Value>>> {
    let ws_id = s.workspaces.id_of(&p, &id).await?;
    let all = load_conversations(&s, &p.user_id, &ws_id).await?;
    Ok(Json(
        all.iter()
            .map(|c| json!({"id": c["id"], "title": c["title"], "updated_at": c["updated_at"]}))
            .collect(),
    ))
}

pub(crate) async fn get_conversation(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((id, cid)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let ws_id = s.workspaces.id_of(&p, &id).await?;
    load_conversations(&s, &p.user_id, &ws_id)
        .await?
        .into_iter()
        .find(|c| c["id"] == cid.as_str())
        .map(Json)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such conversation"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConversationBody {
    title: Option<String>,
    messages: Vec<Value>,
}

/// Creates or replaces a conversation (`cid` chosen by the client).
pub(crate) async fn put_conversation(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((id, cid)): Path<(String, String)>,
    ApiJson(b): ApiJson<ConversationBody>,
) -> ApiResult<StatusCode> {
    let ws_id = s.workspaces.id_of(&p, &id).await?;
    if b.messages.len() > 500 || cid.is_empty() || cid.len() > 64 {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "at most 500 messages; ids are 1-64 characters",
        ));
    }
    let mut all = load_conversations(&s, &p.user_id, &ws_id).await?;
    all.retain(|c| c["id"] != cid.as_str());
    let title = b.title.unwrap_or_else(|| {
        b.messages
            .first()
            .and_then(|m| m["content"].as_str())
            .map(|t| t.chars().take(60).collect())
            .unwrap_or_else(|| "New chat".into())
    });
    all.insert(0, json!({"id": cid, "title": title, "updated_at": aicockpit_core::format_ms(aicockpit_core::now_ms()), "messages": b.messages}));
    all.truncate(50);
    save_conversations(&s, &p.user_id, &ws_id, all).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn delete_conversation(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((id, cid)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let ws_id = s.workspaces.id_of(&p, &id).await?;
    let mut all = load_conversations(&s, &p.user_id, &ws_id).await?;
    let before = all.len();
    all.retain(|c| c["id"] != cid.as_str());
    if all.len() == before {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such conversation",
        ));
    }
    save_conversations(&s, &p.user_id, &ws_id, all).await?;
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
