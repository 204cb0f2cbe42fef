//! Commands run inside the workspace (`aicockpit-keepalive`,
//! `aicockpit-git-credential`) ask this workspace's agent daemon one
//! request on its socket and wait for the answer.

use crate::sock::Addr;
use aicockpit_workspace_agent_proto::{AgentError, Frame, FrameDecoder, Message, Request};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends `req` to the daemon and returns its answer; `Err` when the
/// daemon cannot be reached or does not answer within `wait`.
pub(crate) async fn ask_daemon(
    socket: Option<Addr>,
    req: Request,
    wait: Duration,
) -> Result<Result<serde_json::Value, AgentError>, String> {
    let socket = match socket {
        Some(s) => s,
        None => own_socket()?,
    };
    let mut conn = socket
        .connect()
        .map_err(|e| format!("the workspace agent is not running here ({e})"))?;
    let msg = Message::Request { id: 1, req };
    conn.write_all(&Frame::json(&msg).to_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut frames = FrameDecoder::default();
    let mut buf = vec![0u8; 64 * 1024];
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        while let Some(frame) = frames.next_frame().map_err(|e| e.0)? {
            if let Ok(Message::Response { id: 1, result }) = serde_json::from_slice(&frame.payload)
            {
                return Ok(result);
            }
        }
        let n = tokio::time::timeout_at(deadline, conn.read(&mut buf))
            .await
            .map_err(|_| "the workspace agent did not answer".to_owned())?
            .map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("the workspace agent closed the connection".into());
        }
        frames.push(&buf[..n]);
    }
}

/// The daemon's address, from this binary's own name
/// (`workspace-agent-<build>`), which is how the server names it too.
fn own_socket() -> Result<Addr, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let name = exe
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or("the agent binary has no name")?;
    let build = name
        .strip_prefix("workspace-agent-")
        .ok_or_else(|| format!("run the agent the server placed (not {name})"))?;
    Ok(Addr::parse(&format!("@aicockpit-workspace-agent-{build}")))
}
