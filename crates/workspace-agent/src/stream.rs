//! Streaming file contents: reads as data frames, writes from data frames.

use crate::conn::Outbox;
use crate::files::{self, io_error, AtomicWrite};
use crate::paths::Root;
use aicockpit_workspace_agent_proto::{AgentError, ErrorCode, FileMeta, Frame, Message};
use bytes::Bytes;
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;

const CHUNK: usize = 64 * 1024;

pub(crate) async fn read_file(root: Root, rel: String, id: u64, channel: u32, out: Outbox) {
    let opened = async {
        let path = root.resolve(&rel)?;
        let file = tokio::fs::File::open(&path)
            .await
            .map_err(|e| io_error(e, &rel))?;
        let m = file.metadata().await.map_err(|e| io_error(e, &rel))?;
        if m.is_dir() {
            return Err(AgentError::new(
                ErrorCode::IsADirectory,
                format!("{rel}: is a directory"),
            ));
        }
        Ok::<_, AgentError>((file, files::meta(&root, &path, &m)))
    }
    .await;
    let (mut file, meta) = match opened {
        Ok(x) => x,
        Err(e) => {
            out.cancel(channel);
            out.send_wait(Frame::json(&Message::Response { id, result: Err(e) }))
                .await;
            return;
        }
    };
    let result = Ok(serde_json::to_value(&meta).unwrap_or_default());
    out.send_wait(Frame::json(&Message::Response { id, result }))
        .await;
    let mut buf = vec![0u8; CHUNK];
    loop {
        match file.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if !out
                    .send_paced(channel, Bytes::copy_from_slice(&buf[..n]))
                    .await
                {
                    return;
                }
            }
        }
    }
    out.finish(channel).await;
}

pub(crate) async fn write_file(
    root: Root,
    rel: String,
    if_match: Option<String>,
    create_only: bool,
    max_bytes: u64,
    mut rx: mpsc::Receiver<Result<Bytes, ()>>,
) -> Result<FileMeta, AgentError> {
    let target = root.resolve(&rel)?;
    if target == root.path() {
        return Err(AgentError::new(
            ErrorCode::IsADirectory,
            "the workspace root is a directory",
        ));
    }
    files::check_precondition(&target, &rel, if_match.as_deref(), create_only)?;
    let mut w = AtomicWrite::begin(&target, &rel)?;
    while let Some(item) = rx.recv().await {
        match item {
            Ok(chunk) => w.write(&chunk, max_bytes, &rel)?,
            // Dropping `w` removes the temporary file: nothing changes.
            Err(()) => {
                return Err(AgentError::new(
                    ErrorCode::Io,
                    format!("{rel}: the upload was aborted"),
                ))
            }
        }
    }
    // Checked again just before the switch: a write that raced ours since
    // the first check must not be silently overwritten.
    files::check_precondition(&target, &rel, if_match.as_deref(), create_only)?;
    w.commit(&rel)?;
    let m = std::fs::metadata(&target).map_err(|e| io_error(e, &rel))?;
    Ok(files::meta(&root, &target, &m))
}
