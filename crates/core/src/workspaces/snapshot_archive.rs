//! Snapshot archives: one tar holding `aicockpit-snapshot.json` (name,
//! origin, settings), `image.tar` (the engine's image archive) and
//! `data.tar` (the data), to carry a snapshot to another server. Both ways
//! go through files in the spool directory, never memory; the way in is
//! bounded (`max_snapshot_import_bytes`, 64 KiB of settings) before
//! anything is parsed, and the image archive is rewritten by the runtime
//! so that it cannot name any image but the new snapshot's.

use super::manager::WorkspaceManager;
use super::snapshots::{name_taken, Settings, Snapshot};
use super::validate;
use crate::access::{can, Action, Resource};
use crate::auth::{new_id, Principal};
use crate::{now_ms, CoreError};
use aicockpit_store::{SnapshotRecord, StoreError};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use tokio::sync::mpsc;
use tracing::warn;

const META: &str = "aicockpit-snapshot.json";
pub(super) const IMAGE: &str = "image.tar";
pub(super) const DATA: &str = "data.tar";
pub(super) const FORMAT: &str = "aicockpit-snapshot/1";
const MAX_META: u64 = 64 * 1024;

/// What travels with a snapshot besides its image and data.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Meta {
    pub(super) format: String,
    pub(super) name: String,
    pub(super) workspace_id: String,
    pub(super) workspace_name: String,
    pub(super) created_at: i64,
    pub(super) settings: Settings,
}

/// An archive as it streams out.
pub type ArchiveStream = futures_util::stream::BoxStream<'static, Result<Bytes, std::io::Error>>;

impl WorkspaceManager {
    /// The snapshot as one archive: a file name and the bytes, streamed
    /// from spooled files that are removed once it is sent (or abandoned).
    pub async fn export_snapshot(
        &self,
        p: &Principal,
        snapshot: &str,
    ) -> Result<(String, ArchiveStream), CoreError> {
        let rec = self.snapshot_for(p, snapshot, Action::View).await?;
        // A delete is refused until the image and data are spooled (one
        // that came first has removed the record: not found).
        let held = self.exporting(&rec.id);
        let rec = self.snapshot_for(p, &rec.id, Action::View).await?;
        let settings: Settings = serde_json::from_str(&rec.config)
            .map_err(|e| CoreError::Internal(format!("snapshot {}: {e}", rec.id)))?;
        let spool = Spool::new(&self.opts.spool_dir, "export").await?;
        self.runtime
            .write_snapshot(
                &rec.id,
                &settings.user,
                &spool.path(IMAGE),
                &spool.path(DATA),
            )
            .await
            .map_err(|e| match e {
                aicockpit_runtime::RuntimeError::NotFound(m) => CoreError::conflict(
                    "snapshot_unavailable",
                    format!(
                        "snapshot {}: its image or data is no longer in the container engine ({m})",
                        rec.id
                    ),
                ),
                e => e.into(),
            })?;
        drop(held);
        let meta = Meta {
            format: FORMAT.into(),
            name: rec.name.clone(),
            workspace_id: rec.workspace_id.clone(),
            workspace_name: rec.workspace_name.clone(),
            created_at: rec.created_at,
            settings,
        };
        let meta =
            serde_json::to_vec_pretty(&meta).map_err(|e| CoreError::Internal(e.to_string()))?;
        let detail = json!({"snapshot": rec.id, "name": rec.name});
        self.record(p, &rec.workspace_id, "workspace.snapshot.export", detail)
            .await;
        let (tx, rx) = mpsc::channel(8);
        tokio::task::spawn_blocking(move || {
            let sink = ChannelWriter(tx.clone());
            if let Err(e) = write_archive(
                std::io::BufWriter::with_capacity(64 * 1024, sink),
                &meta,
                &spool,
            ) {
                // The reader learns of it (unless it is the one that left).
                let _ = tx.blocking_send(Err(e));
            }
            drop(spool);
        });
        let stream = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        });
        Ok((
            format!("{}.aicockpit-snapshot.tar", rec.name),
            stream.boxed(),
        ))
    }

    /// Makes a snapshot of the caller's from an archive
    /// [`export_snapshot`](Self::export_snapshot) wrote (here or on another
    /// server). Its name is kept unless the caller has one of that name.
    pub async fn import_snapshot<S>(&self, p: &Principal, body: S) -> Result<Snapshot, CoreError>
    where
        S: Stream<Item = Result<Bytes, CoreError>> + Send + Unpin + 'static,
    {
        can(p, Action::Change, Resource::NewWorkspace)?;
        let spool = Spool::new(&self.opts.spool_dir, "import").await?;
        let max = self.opts.limits.max_snapshot_import_bytes;
        let reader =
            tokio_util::io::StreamReader::new(body.map(|r| r.map_err(std::io::Error::other)));
        let reader = tokio_util::io::SyncIoBridge::new(reader);
        let dir = spool.dir.clone();
        let meta = tokio::task::spawn_blocking(move || read_archive(reader, &dir, max))
            .await
            .map_err(|e| CoreError::Internal(format!("reading the archive stopped: {e}")))??;
        let id = new_id();
        let image = self
            .runtime
            .read_snapshot(
                &id,
                &meta.settings.user,
                &spool.path(IMAGE),
                &spool.path(DATA),
            )
            .await
            .map_err(|e| match e {
                // The archive's fault, in the archive's words.
                aicockpit_runtime::RuntimeError::Invalid(m) => {
                    CoreError::invalid("invalid_snapshot_archive", m)
                }
                other => other.into(),
            })?;
        let name = match self.store.snapshot_by_name(&p.user_id, &meta.name).await {
            Err(StoreError::NotFound) => meta.name.clone(),
            _ => format!(
                "{}-{}",
                &meta.name[..meta.name.len().min(54)].trim_end_matches('-'),
                &id[..8]
            ),
        };
        let row = SnapshotRecord {
            id: id.clone(),
            owner_id: p.user_id.clone(),
            workspace_id: meta.workspace_id.clone(),
            workspace_name: meta.workspace_name.clone(),
            name: name.clone(),
            image,
            config: serde_json::to_string(&meta.settings)
                .map_err(|e| CoreError::Internal(e.to_string()))?,
            created_at: now_ms(),
        };
        if let Err(e) = self.store.insert_snapshot(&row).await {
            if let Err(e) = self.runtime.delete_snapshot(&id).await {
                warn!(snapshot = %id, error = %e, "could not remove an unrecorded snapshot");
            }
            return Err(match e {
                StoreError::Conflict => name_taken(&name),
                other => other.into(),
            });
        }
        let detail = json!({"snapshot": id, "name": name, "taken_at": meta.created_at});
        self.record(p, &meta.workspace_id, "workspace.snapshot.import", detail)
            .await;
        Ok(row.into())
    }
}

/// A directory of its own in the spool, removed when dropped.
pub(super) struct Spool {
    dir: PathBuf,
}

impl Spool {
    pub(super) async fn new(root: &Path, kind: &str) -> Result<Spool, CoreError> {
        let dir = root.join(format!("{kind}-{}", new_id()));
        tokio::fs::create_dir_all(&dir).await.map_err(|e| {
            CoreError::Internal(format!("the spool directory {}: {e}", dir.display()))
        })?;
        Ok(Spool { dir })
    }

    pub(super) fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.dir) {
            warn!(dir = %self.dir.display(), error = %e, "could not remove a spool directory");
        }
    }
}

/// Bytes written here go to the receiving end of the channel; a receiver
/// that went away (the client left) stops the writer.
struct ChannelWriter(mpsc::Sender<Result<Bytes, std::io::Error>>);

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .blocking_send(Ok(Bytes::copy_from_slice(buf)))
            .map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the receiver left")
            })?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub(super) fn write_archive(out: impl Write, meta: &[u8], spool: &Spool) -> std::io::Result<()> {
    let mut tar = tar::Builder::new(out);
    let mut header = tar::Header::new_gnu();
    header.set_size(meta.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(0);
    tar.append_data(&mut header, META, meta)?;
    tar.append_path_with_name(spool.path(IMAGE), IMAGE)?;
    tar.append_path_with_name(spool.path(DATA), DATA)?;
    tar.into_inner()?.flush()
}

/// Reads an archive into `dir` (its image and data archives) and returns
/// its settings; anything else, or more than `max` bytes, is refused.
fn read_archive(input: impl Read, dir: &Path, max: u64) -> Result<Meta, CoreError> {
    let invalid = |m: String| CoreError::invalid("invalid_snapshot_archive", m);
    let mut capped = Capped {
        inner: input,
        left: max,
    };
    let mut archive = tar::Archive::new(&mut capped);
    let mut meta = None;
    // Raw: extension records (long names, PAX) come as entries of their own
    // and are refused below, so tar-rs never buffers one.
    let entries = archive
        .entries()
        .map_err(|e| invalid(e.to_string()))?
        .raw(true);
    for entry in entries {
        let mut entry = entry.map_err(|e| too_large_or(e, max, &invalid))?;
        let name = entry
            .path()
            .map_err(|e| invalid(e.to_string()))?
            .to_string_lossy()
            .into_owned();
        if !entry.header().entry_type().is_file() {
            return Err(invalid(format!("{name:?} is not a regular file")));
        }
        match name.as_str() {
            META if entry.size() <= MAX_META => {
                let mut text = Vec::new();
                entry
                    .read_to_end(&mut text)
                    .map_err(|e| too_large_or(e, max, &invalid))?;
                meta = Some(
                    serde_json::from_slice::<Meta>(&text)
                        .map_err(|e| invalid(format!("{META}: {e}")))?,
                );
            }
            IMAGE | DATA => {
                let mut file = std::fs::File::create(dir.join(&name))
                    .map_err(|e| CoreError::Internal(format!("spooling {name}: {e}")))?;
                std::io::copy(&mut entry, &mut file).map_err(|e| too_large_or(e, max, &invalid))?;
            }
            other => return Err(invalid(format!("unexpected entry {other:?}"))),
        }
    }
    let meta = meta.ok_or_else(|| invalid(format!("no {META}")))?;
    for part in [IMAGE, DATA] {
        if !dir.join(part).is_file() {
            return Err(invalid(format!("no {part}")));
        }
    }
    check_meta(&meta).map_err(invalid)?;
    Ok(meta)
}

/// What an archive says about itself, checked before it is believed.
fn check_meta(meta: &Meta) -> Result<(), String> {
    if meta.format != FORMAT {
        return Err(format!("format {:?}, expected {FORMAT:?}", meta.format));
    }
    validate::name(&meta.name)?;
    validate::name(&meta.workspace_name)?;
    let id_ok = !meta.workspace_id.is_empty()
        && meta.workspace_id.len() <= 64
        && meta
            .workspace_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !id_ok {
        return Err("workspace_id must be 1-64 letters, digits or '-'".into());
    }
    let user = &meta.settings.user;
    let user_ok = !user.is_empty()
        && user.len() <= 64
        && !user.starts_with('-')
        && user
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.:-".contains(&b));
    if !user_ok {
        return Err("settings.user must be a user name or uid:gid".into());
    }
    Ok(())
}

fn too_large_or(e: std::io::Error, max: u64, invalid: &dyn Fn(String) -> CoreError) -> CoreError {
    if e.to_string().contains(TOO_LARGE) {
        CoreError::TooLarge(format!(
            "the archive is larger than {max} bytes (workspaces.max_snapshot_import_bytes)"
        ))
    } else {
        invalid(e.to_string())
    }
}

const TOO_LARGE: &str = "archive over the import limit";

/// A reader that fails once more than `left` bytes were asked of it.
struct Capped<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.left = self
            .left
            .checked_sub(n as u64)
            .ok_or_else(|| std::io::Error::other(TOO_LARGE))?;
        Ok(n)
    }
}
