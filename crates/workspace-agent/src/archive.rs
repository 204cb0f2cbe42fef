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

/// Unpacks a tar (optionally gzipped) or a zip archive arriving on a
/// channel under `rel`, within `max_bytes` unpacked and `max_entries`
/// entries. Entries are placed through the same path checks as every file
/// operation; links and special files are refused.
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
        let mut out = Unpacker {
            root,
            dest_rel,
            max_bytes,
            max_entries,
            stats: ArchiveStats { files: 0, bytes: 0 },
        };
        if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
            unzip(reader, &mut out)?;
        } else {
            untar(reader, &mut out)?;
        }
        Ok(out.stats)
    })
    .await
    .unwrap_or_else(|e| Err(AgentError::new(ErrorCode::Io, e.to_string())))
}

fn bad(m: String) -> AgentError {
    AgentError::new(ErrorCode::Invalid, m)
}

/// Where entries go, and the limits they count against.
struct Unpacker {
    root: Root,
    dest_rel: String,
    max_bytes: u64,
    max_entries: u64,
    stats: ArchiveStats,
}

impl Unpacker {
    fn count_entry(&mut self) -> Result<(), AgentError> {
        self.stats.files += 1;
        if self.stats.files > self.max_entries {
            return Err(AgentError::new(
                ErrorCode::TooLarge,
                format!("the archive has more than {} entries", self.max_entries),
            ));
        }
        Ok(())
    }

    fn too_much(&self) -> AgentError {
        AgentError::new(
            ErrorCode::TooLarge,
            format!("the archive unpacks to more than {} bytes", self.max_bytes),
        )
    }

    /// `name` under the destination (the workspace root itself included:
    /// an empty destination must not make names absolute).
    fn target(&self, name: &str) -> Result<std::path::PathBuf, AgentError> {
        let base = self.dest_rel.trim_end_matches('/');
        let name = name.trim_start_matches("./");
        if base.is_empty() || base == "." {
            self.root.resolve(name)
        } else {
            self.root.resolve(&format!("{base}/{name}"))
        }
    }

    fn dir(&mut self, name: &str) -> Result<(), AgentError> {
        let target = self.target(name)?;
        std::fs::create_dir_all(&target).map_err(|e| io_error(e, name))
    }

    /// Writes one regular file from `data`, never past the byte limit
    /// (whatever the archive declared) and never through a symlink.
    fn file(
        &mut self,
        name: &str,
        data: &mut dyn Read,
        mode: Option<u32>,
    ) -> Result<(), AgentError> {
        let target = self.target(name)?;
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io_error(e, name))?;
        }
        if target
            .symlink_metadata()
            .is_ok_and(|m| m.file_type().is_symlink())
        {
            std::fs::remove_file(&target).map_err(|e| io_error(e, name))?;
        }
        let room = self.max_bytes.saturating_sub(self.stats.bytes);
        let mut f = std::fs::File::create(&target).map_err(|e| io_error(e, name))?;
        let copied = std::io::copy(&mut data.take(room.saturating_add(1)), &mut f)
            .map_err(|e| io_error(e, name))?;
        if copied > room {
            drop(f);
            let _ = std::fs::remove_file(&target);
            return Err(self.too_much());
        }
        self.stats.bytes += copied;
        if let Some(mode) = mode {
            use std::os::unix::fs::PermissionsExt;
            let _ =
                std::fs::set_permissions(&target, std::fs::Permissions::from_mode(mode & 0o777));
        }
        Ok(())
    }
}

fn special(name: &str) -> AgentError {
    // Symlinks, hard links, devices and FIFOs are refused: each could point
    // outside the workspace or at something odd.
    bad(format!("{name}: links and special files are not accepted"))
}

fn untar(mut reader: BufReader<ChannelReader>, out: &mut Unpacker) -> Result<(), AgentError> {
    let head = reader.fill_buf().map_err(|e| io_error(e, "archive"))?;
    let input: Box<dyn Read> = if head.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::GzDecoder::new(reader))
    } else {
        Box::new(reader)
    };
    // The decompressed stream is capped too: the sum of header sizes could
    // lie, the bytes read cannot.
    let mut archive = tar::Archive::new(input.take(out.max_bytes.saturating_add(1024 * 1024)));
    let entries = archive
        .entries()
        .map_err(|e| bad(format!("not a tar archive: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| bad(format!("corrupt archive: {e}")))?;
        out.count_entry()?;
        let name = entry
            .path()
            .map_err(|e| bad(format!("bad entry name: {e}")))?
            .to_string_lossy()
            .into_owned();
        let kind = entry.header().entry_type();
        if kind.is_dir() {
            out.dir(&name)?;
        } else if kind.is_file() {
            if entry.header().size().unwrap_or(0) > out.max_bytes.saturating_sub(out.stats.bytes) {
                return Err(out.too_much());
            }
            let mode = entry.header().mode().ok();
            out.file(&name, &mut entry, mode)?;
        } else {
            return Err(special(&name));
        }
    }
    Ok(())
}

/// A zip's directory is at its end, so the archive is spooled to a private
/// temporary file first (within the byte limit: a zip is never larger than
/// what it holds by much), then read entry by entry.
fn unzip(mut reader: BufReader<ChannelReader>, out: &mut Unpacker) -> Result<(), AgentError> {
    let mut spool = tempfile_in_tmp().map_err(|e| io_error(e, "archive"))?;
    let cap = out.max_bytes.saturating_add(1024 * 1024);
    let n = std::io::copy(&mut (&mut reader).take(cap.saturating_add(1)), &mut spool)
        .map_err(|e| io_error(e, "archive"))?;
    if n > cap {
        return Err(out.too_much());
    }
    let mut zip =
        zip::ZipArchive::new(spool).map_err(|e| bad(format!("not a zip archive: {e}")))?;
    for i in 0..zip.len() {
        out.count_entry()?;
        let mut entry = zip
            .by_index(i)
            .map_err(|e| bad(format!("corrupt archive: {e}")))?;
        let raw: String = entry
            .name()
            .map(|n| n.chars().filter(|c| !c.is_control()).take(200).collect())
            .unwrap_or_else(|_| "an entry".into());
        // `enclosed_name` refuses absolute names and `..` that climbs out.
        let Some(name) = entry.enclosed_name() else {
            return Err(bad(format!("{raw}: the name leads outside the archive")));
        };
        let name = name.to_string_lossy().into_owned();
        if entry.is_symlink() {
            return Err(special(&name));
        }
        if entry.is_dir() {
            out.dir(&name)?;
        } else {
            if entry.size() > out.max_bytes.saturating_sub(out.stats.bytes) {
                return Err(out.too_much());
            }
            let mode = entry.unix_mode();
            out.file(&name, &mut entry, mode)?;
        }
    }
    Ok(())
}

/// A private temporary file, unlinked at once (gone when closed).
fn tempfile_in_tmp() -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let path =
        std::env::temp_dir().join(format!(".aicockpit-unzip-{}-{nanos}", std::process::id()));
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)?;
    std::fs::remove_file(&path)?;
    Ok(f)
}
