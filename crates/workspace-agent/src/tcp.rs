//! Connections to ports inside the workspace (port forwarding): the agent
//! dials the workspace's own loopback, so nothing needs to be published on
//! the host, and carries the bytes on a data channel both ways.

use crate::conn::Outbox;
use aicockpit_workspace_agent_proto::{AgentError, ErrorCode};
use bytes::Bytes;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Dials `port` on 127.0.0.1 (then ::1).
pub(crate) async fn connect(port: u16) -> Result<TcpStream, AgentError> {
    if port == 0 {
        return Err(AgentError::new(ErrorCode::Invalid, "port 0 is not a port"));
    }
    let mut last = None;
    for addr in [format!("127.0.0.1:{port}"), format!("[::1]:{port}")] {
        match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&addr)).await {
            Ok(Ok(s)) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Ok(Err(e)) => last = Some(e.to_string()),
            Err(_) => last = Some("timed out".into()),
        }
    }
    Err(AgentError::new(
        ErrorCode::NotFound,
        format!(
            "nothing accepts connections on port {port} in the workspace ({})",
            last.unwrap_or_default()
        ),
    ))
}

/// Moves bytes between `stream` (a connection to a port, or the agent's
/// own SSH server) and `channel` until both directions end: the server's
/// data (`Err` = it gave up) goes to the stream; the stream's data goes
/// back within the channel's window.
pub(crate) async fn pump<S>(
    stream: S,
    channel: u32,
    out: Outbox,
    mut from_server: mpsc::Receiver<Result<Bytes, ()>>,
) where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (mut rd, mut wr) = tokio::io::split(stream);
    // The server giving up (its client went away) ends both directions at
    // once: a port that stays quiet must not keep the connection open.
    let gave_up = std::sync::Arc::new(tokio::sync::Notify::new());
    let gave_up2 = gave_up.clone();
    let to_port = async move {
        while let Some(item) = from_server.recv().await {
            match item {
                Ok(b) => {
                    if wr.write_all(&b).await.is_err() {
                        gave_up2.notify_one();
                        return;
                    }
                }
                Err(()) => {
                    gave_up2.notify_one();
                    return;
                }
            }
        }
        // The server's end-of-data: half-close, as TCP does.
        let _ = wr.shutdown().await;
    };
    let out2 = out.clone();
    let to_server = async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = tokio::select! {
                r = rd.read(&mut buf) => match r {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                },
                _ = gave_up.notified() => return,
            };
            if !out2
                .send_paced(channel, Bytes::copy_from_slice(&buf[..n]))
                .await
            {
                return;
            }
        }
        out2.finish(channel).await;
    };
    tokio::join!(to_port, to_server);
}
