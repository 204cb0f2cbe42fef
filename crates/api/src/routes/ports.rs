//! Port forwarding: a TCP connection to a port inside a workspace, carried
//! over an authenticated WebSocket (binary frames both ways).

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiPath, Auth, WsAuth};
use crate::AppState;
use aicockpit_core::ports::Tunnel;
use aicockpit_core::workspace_agent::ChannelMsg;
use aicockpit_workspace_agent_proto::{Event, ListeningPort};
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::sse::Event as SseEvent;
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::{SinkExt, StreamExt};

#[utoipa::path(
    get,
    path = "/workspaces/{id}/ports",
    tag = "workspaces",
    summary = "The TCP ports something in the workspace listens on",
    params(("id" = String, Path, description = "Workspace id, or the name of one of the caller's workspaces")),
    responses((status = 200, description = "OK", body = Vec<ListeningPort>))
)]
pub(crate) async fn list(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Vec<ListeningPort>>> {
    Ok(Json(s.ports.listening(&p, &id).await?))
}

#[utoipa::path(
    get,
    path = "/workspaces/{id}/ports/watch",
    tag = "workspaces",
    summary = "The listening TCP ports as server-sent events (event: ports), at once and whenever they change",
    params(("id" = String, Path, description = "Workspace id, or the name of one of the caller's workspaces")),
    responses((status = 200, description = "Server-sent events; each `ports` event's data is the JSON array of ListeningPort, whole", content_type = "text/event-stream", body = crate::sse::StreamEvent))
)]
/// Server-sent events: `event: ports` with the whole list, first at once,
/// then on every change (the agent reads the kernel's tables 4 times a
/// second and sends only changes), so the IDE shows a new server within a
/// fraction of a second without asking.
pub(crate) async fn watch(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<impl IntoResponse> {
    let watching = s.ports.watch(&p, &id).await?;
    Ok(crate::sse::of_watch(watching, |ev| match ev {
        Event::Ports { ports, .. } => SseEvent::default().event("ports").json_data(ports).ok(),
        _ => None,
    }))
}

#[utoipa::path(
    get,
    path = "/workspaces/{id}/ports/{port}/tcp",
    tag = "workspaces",
    summary = "Connect to a TCP port inside the workspace over a WebSocket (binary frames: the connection's bytes; the text frame {\"type\":\"eof\"}: the client has no more to send)",
    params(("id" = String, Path, description = "Workspace id, or the name of one of the caller's workspaces"), ("port" = u16, Path, description = "Port inside the workspace, 1-65535"), ("ticket" = Option<String>, Query, description = "A ticket from POST /auth/ticket, for browsers that cannot send headers")),
    responses((status = 101, description = "Switching to the WebSocket protocol"), (status = 400, description = "Not a WebSocket upgrade request", body = crate::openapi::ErrorBody))
)]
pub(crate) async fn tcp(
    State(s): State<AppState>,
    WsAuth(p): WsAuth,
    ApiPath((id, port)): ApiPath<(String, u16)>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> ApiResult<Response> {
    let upgrade =
        upgrade.map_err(|e| ApiError::new(e.status(), "websocket_required", e.body_text()))?;
    // Connect before upgrading, so that a closed port is a plain error.
    let tunnel = s.ports.connect(&p, &id, port).await?;
    Ok(upgrade
        .max_message_size(1024 * 1024)
        .on_upgrade(move |socket| pump(socket, tunnel)))
}

/// The text frame by which a client says it has nothing more to send.
pub(crate) const EOF: &str = r#"{"type":"eof"}"#;

/// Bytes both ways until either side ends: the client's [`EOF`]
/// half-closes the connection to the port, its Close ends both ways, and
/// the port's end closes the WebSocket.
pub(crate) async fn pump(socket: WebSocket, mut t: Tunnel) {
    let (mut sink, mut stream) = socket.split();
    let mut client_done = false;
    loop {
        tokio::select! {
            out = t.incoming.recv() => match out {
                Some(ChannelMsg::Data(b)) => {
                    if sink.send(WsMessage::Binary(b)).await.is_err() {
                        break;
                    }
                }
                Some(ChannelMsg::Event(_)) => {}
                None => {
                    let _ = sink.close().await;
                    break;
                }
            },
            incoming = stream.next(), if !client_done => match incoming {
                Some(Ok(WsMessage::Binary(b))) => {
                    if t.send(b).await.is_err() {
                        break;
                    }
                }
                // WebSockets cannot half-close (after a Close nothing more
                // may be sent back), so the client's end-of-data is a text
                // frame of its own.
                Some(Ok(WsMessage::Text(m))) if m.as_str() == EOF => {
                    t.finish_sending().await;
                    client_done = true;
                }
                Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            }
        }
    }
    t.close();
}
