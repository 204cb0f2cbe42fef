//! Directories in and out as archives: downloads are `.tar.gz`, uploads may
//! be `.tar` or `.tar.gz`. Unpacking checks every entry's path like any API
//! path, refuses links and devices, and stops at byte and entry limits (so a
//! tar or gzip bomb cannot fill the disk).

use crate::conn::Outbox;
use crate::files::io_error;
use crate::paths::Root;
use aicockpit_workspace_agent_proto::{AgentError, ArchiveStats, ErrorCode, Frame, Message};
use bytes::Bytes;
use std::io::{BufRead, BufReader, Read, Write};
use tokio::sync::mpsc;

/// `Write` for a blocking thread, feeding an async channel in chunks.
struct ChannelWriter {
    tx: mpsc::Sender<Bytes>,
    buf: Vec<u8>,
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= 64 * 1024 {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if !self.buf.is_empty() {
            let chunk = Bytes::from(std::mem::take(&mut self.buf));
            self.tx.blocking_send(chunk).map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::BrokenPipe, "receiver gone")
            })?;
        }
        Ok(())
    }
}

/// `Read` for a blocking thread, drawing from an async channel.
struct ChannelReader {
    rx: mpsc::Receiver<Result<Bytes, ()>>,
    cur: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.cur = b,
                Some(Err(())) => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::Interrupted,
                        "upload aborted",
                    ))
                }
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.cur.len());
        out[..n].copy_from_slice(&self.cur.split_to(n));
        Ok(n)
    }
}

pub(crate) async fn send(root: Root, rel: String, id: u64, channel: u32, out: Outbox) {
    let resolved = root.resolve(&rel);
    if !matches!(&resolved, Ok(d) if d.exists()) {
        out.cancel(channel);
    }
    let dir = match resolved {
        Ok(d) if d.exists() => d,
        Ok(_) => {
            let e = AgentError::new(
                ErrorCode::NotFound,
                format!("{rel}: no such file or directory"),
            );
            out.send_wait(Frame::json(&Message::Response { id, result: Err(e) }))
                .await;
            return;
        }
        Err(e) => {
            out.send_wait(Frame::json(&Message::Response { id, result: Err(e) }))
                .await;
            return;
        }
    };
    out.send_wait(Frame::json(&Message::Response {
        id,
        result: Ok(serde_json::Value::Null),
    }))
    .await;
    let (tx, mut rx) = mpsc::channel::<Bytes>(16);
    let name = if dir == root.path() {
        "workspace".to_owned()
    } else {
        dir.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let producer = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        let w = ChannelWriter {
            tx,
            buf: Vec::new(),
        };
        let gz = flate2::write::GzEncoder::new(w, flate2::Compression::fast());
        let mut tar = tar::Builder::new(gz);
        // Links are stored as links: following them could pack files from
        // outside the workspace.
        tar.follow_symlinks(false);
        if dir.is_dir() {
            tar.append_dir_all(&name, &dir)?;
        } else {
            tar.append_path_with_name(&dir, &name)?;
        }
        let mut w = tar.into_inner()?.finish()?;
        w.flush()
    });
    while let Some(chunk) = rx.recv().await {
        if !out.send_paced(channel, chunk).await {
            break;
        }
    }
    // Dropping the receiver stops the packing thread.
    drop(rx);
    let _ = producer.await;
    out.finish(channel).await;
}

pub(crate) async fn receive(
    root: Root,
    rel: String,
    max_bytes: u64,
    max_entries: u64,
    rx: mpsc::Receiver<Result<Bytes, ()>>,
) -> Result<ArchiveStats, AgentError> {
    let dest = root.resolve(&rel)?;
    std::fs::create_dir_all(&dest).map_err(|e| io_error(e, &rel))?;
    let dest_rel = root.relative(&dest);
    tokio::task::spawn_blocking(move || {
        let mut reader = BufReader::new(ChannelReader {
            rx,
            cur: Bytes::new(),
        });
        let head = reader.fill_buf().map_err(|e| io_error(e, &rel))?;
        let gz = head.starts_with(&[0x1f, 0x8b]);
        let input: Box<dyn Read> = if gz {
            Box::new(flate2::read::GzDecoder::new(reader))
        } else {
            Box::new(reader)
        };
        // The decompressed stream is capped too: the sum of header sizes
        // could lie, the bytes read cannot.
        let mut archive = tar::Archive::new(input.take(max_bytes.saturating_add(1024 * 1024)));
        let mut stats = ArchiveStats { files: 0, bytes: 0 };
        let bad = |m: String| AgentError::new(ErrorCode::Invalid, m);
        let entries = archive
            .entries()
            .map_err(|e| bad(format!("not a tar archive: {e}")))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| bad(format!("corrupt archive: {e}")))?;
            stats.files += 1;
            if stats.files > max_entries {
                return Err(AgentError::new(
                    ErrorCode::TooLarge,
                    format!("the archive has more than {max_entries} entries"),
                ));
            }
            let path = entry
                .path()
                .map_err(|e| bad(format!("bad entry name: {e}")))?
                .into_owned();
            let name = path.to_string_lossy().into_owned();
            let target_rel = format!("{dest_rel}/{name}");
            let target = root.resolve(&target_rel)?;
            let kind = entry.header().entry_type();
            if kind.is_dir() {
                std::fs::create_dir_all(&target).map_err(|e| io_error(e, &name))?;
            } else if kind.is_file() {
                let size = entry.header().size().unwrap_or(0);
                if stats.bytes + size > max_bytes {
                    return Err(AgentError::new(
                        ErrorCode::TooLarge,
                        format!("the archive unpacks to more than {max_bytes} bytes"),
                    ));
                }
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| io_error(e, &name))?;
                }
                // Never write through an existing symlink.
                if target
                    .symlink_metadata()
                    .is_ok_and(|m| m.file_type().is_symlink())
                {
                    std::fs::remove_file(&target).map_err(|e| io_error(e, &name))?;
                }
                let mut f = std::fs::File::create(&target).map_err(|e| io_error(e, &name))?;
                let copied = std::io::copy(&mut (&mut entry).take(size), &mut f)
                    .map_err(|e| io_error(e, &name))?;
                stats.bytes += copied;
                if let Ok(mode) = entry.header().mode() {
                    use std::os::unix::fs::PermissionsExt;
                    let _ = std::fs::set_permissions(
                        &target,
                        std::fs::Permissions::from_mode(mode & 0o777),
                    );
                }
            } else {
                // Symlinks, hard links, devices and FIFOs are refused: each
                // could point outside the workspace or at something odd.
                return Err(bad(format!(
                    "{name}: links and special files are not accepted"
                )));
            }
        }
        Ok(stats)
    })
    .await
    .unwrap_or_else(|e| Err(AgentError::new(ErrorCode::Io, e.to_string())))
}
