//! SSH into a workspace: the connection's bytes over an authenticated
//! WebSocket (what `aicockpit ssh --stdio` carries for OpenSSH's
//! ProxyCommand), and the workspace's host key for clients to pin.

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiPath, Auth, WsAuth};
use crate::AppState;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::State;
use axum::response::Response;
use axum::Json;
use serde::Serialize;

/// A workspace's SSH host key, as `known_hosts` lists it.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct SshHostKey {
    workspace_id: String,
    /// The name the key is listed under (OpenSSH's `HostKeyAlias`).
    alias: String,
    /// `ssh-ed25519 AAAA…`
    public_key: String,
}

#[utoipa::path(
    get,
    path = "/workspaces/{id}/ssh/host-key",
    tag = "workspaces",
    summary = "The workspace's SSH host key (stable for the workspace's life), to pin in known_hosts",
    params(("id" = String, Path, description = "Workspace id, or the name of one of the caller's workspaces")),
    responses((status = 200, description = "OK", body = SshHostKey))
)]
pub(crate) async fn host_key(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<SshHostKey>> {
    let k = s.ssh.host_key(&p, &id).await?;
    Ok(Json(SshHostKey {
        workspace_id: k.workspace_id,
        alias: k.alias,
        public_key: k.public_key,
    }))
}

#[utoipa::path(
    get,
    path = "/workspaces/{id}/ssh",
    tag = "workspaces",
    summary = "An SSH connection to the workspace over a WebSocket (binary frames: the SSH stream; the text frame {\"type\":\"eof\"}: the client has no more to send). The SSH layer accepts the \"none\" method: this request is the login",
    params(("id" = String, Path, description = "Workspace id, or the name of one of the caller's workspaces")),
    responses((status = 101, description = "Switching to the WebSocket protocol"), (status = 400, description = "Not a WebSocket upgrade request", body = crate::openapi::ErrorBody))
)]
pub(crate) async fn connect(
    State(s): State<AppState>,
    WsAuth(p): WsAuth,
    ApiPath(id): ApiPath<String>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> ApiResult<Response> {
    let upgrade =
        upgrade.map_err(|e| ApiError::new(e.status(), "websocket_required", e.body_text()))?;
    // Connect before upgrading, so that a refusal is a plain HTTP error.
    let tunnel = s.ssh.connect(&p, &id).await?;
    Ok(upgrade
        .max_message_size(1024 * 1024)
        .on_upgrade(move |socket| super::ports::pump(socket, tunnel)))
}
