//! Terminals: create, list, end, and the WebSocket that carries them.
//!
//! On the WebSocket, binary frames are raw terminal bytes both ways; text
//! frames are JSON control: the client sends `{"type":"resize","cols","rows"}`
//! (or `{"type":"input","data"}`); the server sends `{"type":"attached",…}`
//! first and `{"type":"exit","code":N}` when the shell ends.

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, Auth, WsAuth};
use crate::AppState;
use aicockpit_core::terminals::Attached;
use aicockpit_core::workspace_agent::{AgentConn, ChannelMsg};
use aicockpit_workspace_agent_proto::{Request, TermInfo};
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

const CALL: Duration = Duration::from_secs(30);

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct OpenTerminal {
    shell: Option<String>,
    #[serde(default = "default_cols")]
    cols: u16,
    #[serde(default = "default_rows")]
    rows: u16,
    cwd: Option<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
}

fn default_cols() -> u16 {
    80
}

fn default_rows() -> u16 {
    24
}

#[utoipa::path(
    post,
    path = "/workspaces/{id}/terminals",
    tag = "terminals",
    summary = "Open a terminal (a shell on a PTY)",
    params(("id" = String, Path, description = "Workspace id, or the name of one of the caller's workspaces")),
    request_body = OpenTerminal,
    responses((status = 201, description = "Created", body = TermInfo))
)]
pub(crate) async fn create(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<String>,
    ApiJson(b): ApiJson<OpenTerminal>,
) -> ApiResult<(StatusCode, Json<TermInfo>)> {
    let open = aicockpit_core::terminals::OpenTerminal {
        shell: b.shell,
        cols: b.cols,
        rows: b.rows,
        cwd: b.cwd,
        env: b.env,
    };
    let info = s.terminals.open(&p, &id, open).await?;
    Ok((StatusCode::CREATED, Json(info)))
}

#[utoipa::path(
    get,
    path = "/workspaces/{id}/terminals",
    tag = "terminals",
    summary = "The workspace's terminals",
    params(("id" = String, Path, description = "Workspace id, or the name of one of the caller's workspaces")),
    responses((status = 200, description = "OK", body = Vec<TermInfo>))
)]
pub(crate) async fn list(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Vec<TermInfo>>> {
    Ok(Json(s.terminals.list(&p, &id).await?))
}

#[utoipa::path(
    delete,
    path = "/workspaces/{id}/terminals/{tid}",
    tag = "terminals",
    summary = "End a terminal",
    params(("id" = String, Path, description = "Workspace id, or the name of one of the caller's workspaces"), ("tid" = String, Path, description = "Terminal id")),
    responses((status = 204, description = "Done"))
)]
pub(crate) async fn kill(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiPath((id, tid)): ApiPath<(String, String)>,
) -> ApiResult<StatusCode> {
    s.terminals.kill(&p, &id, &tid).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/workspaces/{id}/terminals/{tid}/ws",
    tag = "terminals",
    summary = "Attach to a terminal over a WebSocket (binary frames: bytes; text frames: JSON resize)",
    params(("id" = String, Path, description = "Workspace id, or the name of one of the caller's workspaces"), ("tid" = String, Path, description = "Terminal id"), ("ticket" = Option<String>, Query, description = "A ticket from POST /auth/ticket, for browsers that cannot send headers")),
    responses((status = 101, description = "Switching to the WebSocket protocol"), (status = 400, description = "Not a WebSocket upgrade request", body = crate::openapi::ErrorBody))
)]
pub(crate) async fn ws(
    State(s): State<AppState>,
    WsAuth(p): WsAuth,
    ApiPath((id, tid)): ApiPath<(String, String)>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> ApiResult<Response> {
    let upgrade =
        upgrade.map_err(|e| ApiError::new(e.status(), "websocket_required", e.body_text()))?;
    // Attach before upgrading, so an unknown terminal is a plain 404.
    let a = s.terminals.attach(&p, &id, &tid).await?;
    Ok(upgrade
        .max_message_size(1024 * 1024)
        .on_upgrade(move |socket| pump(socket, a)))
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Control {
    Resize { cols: u16, rows: u16 },
    Input { data: String },
}

async fn pump(socket: WebSocket, a: Attached) {
    let Attached {
        conn,
        channel: ch,
        output: mut rx,
        info,
        typing,
    } = a;
    let (mut sink, mut stream) = socket.split();
    let tid = info.id.clone();
    let hello = json!({"type": "attached", "terminal": info}).to_string();
    if sink.send(WsMessage::Text(hello.into())).await.is_err() {
        return detach(&conn, ch).await;
    }
    loop {
        tokio::select! {
            out = rx.recv() => match out {
                Some(ChannelMsg::Data(b)) => {
                    if sink.send(WsMessage::Binary(b)).await.is_err() {
                        break;
                    }
                }
                Some(ChannelMsg::Event(_)) => {}
                None => {
                    // The terminal ended (or the agent went away).
                    let code = exit_code(&conn, &tid).await;
                    let _ = sink.send(WsMessage::Text(json!({"type": "exit", "code": code}).to_string().into())).await;
                    let _ = sink.close().await;
                    return;
                }
            },
            incoming = stream.next() => match incoming {
                Some(Ok(WsMessage::Binary(b))) => {
                    typing.typed();
                    if conn.send_data(ch, b).await.is_err() {
                        break;
                    }
                }
                Some(Ok(WsMessage::Text(t))) => match serde_json::from_str::<Control>(&t) {
                    Ok(Control::Resize { cols, rows }) if cols > 0 && rows > 0 && cols <= 1000 && rows <= 1000 => {
                        let _ = conn.call(Request::TermResize { id: tid.clone(), cols, rows }, CALL).await;
                    }
                    Ok(Control::Input { data }) => {
                        typing.typed();
                        if conn.send_data(ch, data.into_bytes().into()).await.is_err() {
                            break;
                        }
                    }
                    _ => {
                        let err = json!({"type": "error", "message": "unknown control message"}).to_string();
                        let _ = sink.send(WsMessage::Text(err.into())).await;
                    }
                },
                Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            }
        }
    }
    detach(&conn, ch).await;
}

async fn detach(conn: &Arc<AgentConn>, ch: u32) {
    conn.close_channel(ch);
    let _ = conn.call(Request::TermDetach { channel: ch }, CALL).await;
}

async fn exit_code(conn: &Arc<AgentConn>, tid: &str) -> Option<i32> {
    let list: Vec<TermInfo> = conn.call_as(Request::TermList, CALL).await.ok()?;
    list.into_iter()
        .find(|t| t.id == tid)
        .and_then(|t| t.exit_code)
}
