//! AI chat conversations over HTTP, kept per user and workspace on the
//! server so they follow the user across browsers.

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, Auth};
use crate::AppState;
use aicockpit_core::access::Action;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

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
    let ws_id = s.workspaces.id_of(&p, &id, Action::View).await?;
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
    let ws_id = s.workspaces.id_of(&p, &id, Action::View).await?;
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
    let ws_id = s.workspaces.id_of(&p, &id, Action::View).await?;
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
    let ws_id = s.workspaces.id_of(&p, &id, Action::View).await?;
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
