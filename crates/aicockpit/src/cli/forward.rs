//! `aicockpit port-forward WS [LOCAL:]REMOTE`: a local TCP listener whose
//! every connection is tunnelled over an authenticated WebSocket to a port
//! inside the workspace, several at once, until interrupted.

use super::{exit, Client, Connection, Failure, Output};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

/// `REMOTE` or `LOCAL:REMOTE` (LOCAL 0: any free port).
pub(crate) fn parse_ports(s: &str) -> Result<(u16, u16), String> {
    let port = |p: &str| {
        p.parse::<u16>()
            .map_err(|_| format!("{p:?} is not a port (0-65535)"))
    };
    let (local, remote) = match s.split_once(':') {
        Some((l, r)) => (port(l)?, port(r)?),
        None => {
            let r = port(s)?;
            (r, r)
        }
    };
    if remote == 0 {
        return Err("the remote port must be 1-65535".into());
    }
    Ok((local, remote))
}

pub(crate) async fn run(
    conn: Connection,
    workspace: String,
    (local, remote): (u16, u16),
    address: String,
    out: Output,
) -> u8 {
    match forward(conn, &workspace, local, remote, &address, out).await {
        Ok(code) => code,
        Err(f) => f.report(),
    }
}

async fn forward(
    conn: Connection,
    workspace: &str,
    local: u16,
    remote: u16,
    address: &str,
    out: Output,
) -> Result<u8, Failure> {
    let c = Client::from_connection(&conn)?;
    // Fails early, with the usual exit codes, on a bad token or workspace;
    // a stopped workspace is started.
    let w = super::ws::running(&c, workspace).await?;
    let id = w["id"].as_str().unwrap_or(workspace).to_owned();
    let url = ws_url(&c, &format!("/api/v1/workspaces/{id}/ports/{remote}/tcp"))?;
    let token = c.token().map(str::to_owned);
    let listener = TcpListener::bind((address, local))
        .await
        .map_err(|e| Failure {
            message: format!("cannot listen on {address}:{local}: {e}"),
            code: exit::FAILURE,
        })?;
    let bound = listener.local_addr().map_err(|e| Failure {
        message: e.to_string(),
        code: exit::FAILURE,
    })?;
    // One line (JSON with --json) that scripts can read before connecting;
    // a reader that goes away must not end the forwarding.
    let line = if out.json {
        json!({"listening": bound.to_string(), "workspace": id, "port": remote}).to_string()
    } else {
        format!("forwarding {bound} -> {workspace}:{remote} (Ctrl+C ends)")
    };
    {
        use std::io::Write;
        let mut so = std::io::stdout().lock();
        let _ = writeln!(so, "{line}");
        let _ = so.flush();
    }
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    let (url, token) = (url.clone(), token.clone());
                    tokio::spawn(async move {
                        if let Err(e) = tunnel(tcp, &url, token.as_deref()).await {
                            eprintln!("port-forward: connection from {peer}: {e}");
                        }
                    });
                }
                Err(e) => eprintln!("port-forward: accept: {e}"),
            },
            _ = tokio::signal::ctrl_c() => return Ok(exit::OK),
        }
    }
}

/// The WebSocket URL of an API path on the client's server.
pub(crate) fn ws_url(c: &Client, path: &str) -> Result<String, Failure> {
    match c.base().strip_prefix("http://") {
        Some(rest) => Ok(format!("ws://{rest}{path}")),
        None => Err(Failure {
            message: format!("tunnels need an http:// server, not {}", c.base()),
            code: exit::USAGE,
        }),
    }
}

/// One local connection carried to the workspace's port and back.
async fn tunnel(mut tcp: TcpStream, url: &str, token: Option<&str>) -> Result<(), String> {
    let _ = tcp.set_nodelay(true);
    let (rd, wr) = tcp.split();
    carry(rd, wr, url, token).await
}

/// Carries bytes between a local reader/writer pair and the WebSocket at
/// `url` until both directions end.
pub(crate) async fn carry<R, W>(
    mut rd: R,
    mut wr: W,
    url: &str,
    token: Option<&str>,
) -> Result<(), String>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut req = url.into_client_request().map_err(|e| e.to_string())?;
    if let Some(t) = token {
        let v = HeaderValue::from_str(&format!("Bearer {t}")).map_err(|e| e.to_string())?;
        req.headers_mut().insert("authorization", v);
    }
    let (ws, _) = tokio_tungstenite::connect_async(req)
        .await
        .map_err(|e| match e {
            tokio_tungstenite::tungstenite::Error::Http(resp) => {
                let body = resp
                    .body()
                    .as_deref()
                    .and_then(|b| serde_json::from_slice::<Value>(b).ok())
                    .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
                    .unwrap_or_default();
                format!("the server refused ({}): {body}", resp.status())
            }
            other => other.to_string(),
        })?;
    let (mut ws_tx, mut ws_rx) = ws.split();
    let up = async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let data = Message::Binary(buf[..n].to_vec().into());
                    if ws_tx.send(data).await.is_err() {
                        return;
                    }
                }
            }
        }
        // Our side is done sending: the workspace's port sees end-of-data
        // (a text frame: a WebSocket Close would end both directions).
        let eof = Message::Text(r#"{"type":"eof"}"#.into());
        let _ = ws_tx.send(eof).await;
    };
    let down = async {
        while let Some(m) = ws_rx.next().await {
            match m {
                Ok(Message::Binary(b)) => {
                    // Flushed each time: standard output (ssh --stdio)
                    // would otherwise hold an interactive protocol's bytes.
                    if wr.write_all(&b).await.is_err() || wr.flush().await.is_err() {
                        return;
                    }
                }
                Ok(Message::Close(_)) | Err(_) => break,
                Ok(_) => {}
            }
        }
        let _ = wr.shutdown().await;
    };
    tokio::join!(up, down);
    Ok(())
}
