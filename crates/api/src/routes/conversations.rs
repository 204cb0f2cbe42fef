//! AI chat conversations over HTTP, kept per user and workspace on the
//! server so they follow the user across browsers.

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, Auth};
use crate::AppState;
use aicockpit_core::access::Action;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;

fn conversations_key(user: &str, ws: &str) -> String {
    format!("conversations.{user}.{ws}")
}

/// One chat, as stored and as served. Messages are the client's own
/// (OpenAI-style `{role, content}` objects), kept as they came.
#[derive(Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub(crate) struct Conversation {
    id: String,
    title: String,
    updated_at: String,
    messages: Vec<Value>,
}

/// A chat in a listing, without its messages.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ConversationSummary {
    id: String,
    title: String,
    updated_at: String,
}

async fn load_conversations(s: &AppState, user: &str, ws: &str) -> ApiResult<Vec<Conversation>> {
    Ok(s.store
        .setting(&conversations_key(user, ws))
        .await
        .map_err(aicockpit_core::CoreError::from)?
        .and_then(|t| serde_json::from_str::<Vec<Conversation>>(&t).ok())
        .unwrap_or_default())
}

async fn save_conversations(
    s: &AppState,
    user: &str,
    ws: &str,
    all: Vec<Conversation>,
) -> ApiResult<()> {
    let text = serde_json::to_string(&all)
        .map_err(|e| aicockpit_core::CoreError::Internal(e.to_string()))?;
    s.store
        .set_setting(&conversations_key(user, ws), &text)
        .await
        .map_err(aicockpit_core::CoreError::from)?;
    Ok(())
}

#[utoipa::path(
    get,
    path = "/workspaces/{id}/conversations",
    tag = "conversations",
    summary = "The caller's chats in the workspace, newest first, without messages",
    params(("id" = String, Path, description = "Workspace id, or the name of one of the caller's workspaces")),
    responses((status = 200, description = "OK", body = Vec<ConversationSummary>))
)]
/// The caller's conversations in a workspace, newest first, without their
/// messages (kept on the server, so they follow the user across browsers).
pub(crate) async fn list_conversations(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Vec<ConversationSummary>>> {
    let ws_id = s.workspaces.id_of(&p, &id, Action::View).await?;
    let all = load_conversations(&s, &p.user_id, &ws_id).await?;
    Ok(Json(
        all.into_iter()
            .map(|c| ConversationSummary {
                id: c.id,
                title: c.title,
                updated_at: c.updated_at,
            })
            .collect(),
    ))
}

#[utoipa::path(
    get,
    path = "/workspaces/{id}/conversations/{cid}",
    tag = "conversations",
    summary = "One chat with its messages",
    params(("id" = String, Path, description = "Workspace id, or the name of one of the caller's workspaces"), ("cid" = String, Path, description = "Conversation id (chosen by the client, 1-64 characters)")),
    responses((status = 200, description = "OK", body = Conversation))
)]
pub(crate) async fn get_conversation(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiPath((id, cid)): ApiPath<(String, String)>,
) -> ApiResult<Json<Conversation>> {
    let ws_id = s.workspaces.id_of(&p, &id, Action::View).await?;
    load_conversations(&s, &p.user_id, &ws_id)
        .await?
        .into_iter()
        .find(|c| c.id == cid)
        .map(Json)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such conversation"))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConversationBody {
    title: Option<String>,
    messages: Vec<Value>,
}

#[utoipa::path(
    put,
    path = "/workspaces/{id}/conversations/{cid}",
    tag = "conversations",
    summary = "Create or replace a chat",
    params(("id" = String, Path, description = "Workspace id, or the name of one of the caller's workspaces"), ("cid" = String, Path, description = "Conversation id (chosen by the client, 1-64 characters)")),
    request_body = ConversationBody,
    responses((status = 204, description = "Done"))
)]
/// Creates or replaces a conversation (`cid` chosen by the client).
pub(crate) async fn put_conversation(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiPath((id, cid)): ApiPath<(String, String)>,
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
    all.retain(|c| c.id != cid);
    let title = b.title.unwrap_or_else(|| {
        b.messages
            .first()
            .and_then(|m| m["content"].as_str())
            .map(|t| t.chars().take(60).collect())
            .unwrap_or_else(|| "New chat".into())
    });
    let updated_at = aicockpit_core::format_ms(aicockpit_core::now_ms());
    all.insert(
        0,
        Conversation {
            id: cid,
            title,
            updated_at,
            messages: b.messages,
        },
    );
    all.truncate(50);
    save_conversations(&s, &p.user_id, &ws_id, all).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    delete,
    path = "/workspaces/{id}/conversations/{cid}",
    tag = "conversations",
    summary = "Delete a chat",
    params(("id" = String, Path, description = "Workspace id, or the name of one of the caller's workspaces"), ("cid" = String, Path, description = "Conversation id (chosen by the client, 1-64 characters)")),
    responses((status = 204, description = "Done"))
)]
pub(crate) async fn delete_conversation(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiPath((id, cid)): ApiPath<(String, String)>,
) -> ApiResult<StatusCode> {
    let ws_id = s.workspaces.id_of(&p, &id, Action::View).await?;
    let mut all = load_conversations(&s, &p.user_id, &ws_id).await?;
    let before = all.len();
    all.retain(|c| c.id != cid);
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
