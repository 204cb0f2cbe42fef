//! File operations under the workspace root.

use crate::paths::Root;
use aicockpit_workspace_agent_proto::{
    AgentError, DirEntry, EntryKind, ErrorCode, FileMeta, ListPage, MAX_PAGE_ENTRIES, REPLY_BUDGET,
};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

pub(crate) fn io_error(e: std::io::Error, path: &str) -> AgentError {
    use std::io::ErrorKind as K;
    let code = match e.kind() {
        K::NotFound => ErrorCode::NotFound,
        K::AlreadyExists => ErrorCode::Exists,
        K::PermissionDenied => ErrorCode::PermissionDenied,
        K::NotADirectory => ErrorCode::NotADirectory,
        K::IsADirectory => ErrorCode::IsADirectory,
        K::DirectoryNotEmpty => ErrorCode::DirectoryNotEmpty,
        _ => ErrorCode::Io,
    };
    let what = match code {
        ErrorCode::NotFound => "no such file or directory".to_owned(),
        ErrorCode::Exists => "already exists".to_owned(),
        ErrorCode::PermissionDenied => "permission denied".to_owned(),
        ErrorCode::NotADirectory => "not a directory".to_owned(),
        ErrorCode::IsADirectory => "is a directory".to_owned(),
        ErrorCode::DirectoryNotEmpty => "directory not empty (delete recursively)".to_owned(),
        _ => e.to_string(),
    };
    AgentError::new(code, format!("{path}: {what}"))
}

pub(crate) fn kind_of(ft: std::fs::FileType) -> EntryKind {
    if ft.is_symlink() {
        EntryKind::Symlink
    } else if ft.is_dir() {
        EntryKind::Dir
    } else if ft.is_file() {
        EntryKind::File
    } else {
        EntryKind::Other
    }
}

fn mtime_ms(m: &std::fs::Metadata) -> i64 {
    m.mtime() * 1000 + m.mtime_nsec() / 1_000_000
}

/// A validator that changes whenever the content may have: size, the
/// modification time to the nanosecond, and the inode (atomic replacement
/// makes a new one).
pub(crate) fn etag(m: &std::fs::Metadata) -> String {
    format!(
        "\"{:x}-{:x}.{:x}-{:x}\"",
        m.size(),
        m.mtime(),
        m.mtime_nsec(),
        m.ino()
    )
}

pub(crate) fn meta(root: &Root, path: &Path, m: &std::fs::Metadata) -> FileMeta {
    FileMeta {
        path: root.relative(path),
        kind: kind_of(m.file_type()),
        size: m.size(),
        mtime_ms: mtime_ms(m),
        mode: m.permissions().mode() & 0o7777,
        etag: etag(m),
    }
}

/// One page of a directory: from `offset`, at most `limit` entries (and
/// [`MAX_PAGE_ENTRIES`]), as many as fit [`REPLY_BUDGET`] bytes of JSON.
pub(crate) fn list_page(
    root: &Root,
    rel: &str,
    offset: usize,
    limit: Option<usize>,
) -> Result<ListPage, AgentError> {
    let all = list(root, rel)?;
    let total = all.len();
    let limit = limit.unwrap_or(MAX_PAGE_ENTRIES).clamp(1, MAX_PAGE_ENTRIES);
    let mut entries = Vec::new();
    let mut bytes = 0;
    for e in all.into_iter().skip(offset).take(limit) {
        bytes += serde_json::to_vec(&e).map(|v| v.len() + 1).unwrap_or(0);
        if bytes > REPLY_BUDGET && !entries.is_empty() {
            break;
        }
        entries.push(e);
    }
    let end = offset.saturating_add(entries.len());
    Ok(ListPage {
        entries,
        total,
        next_offset: (end < total).then_some(end),
    })
}

fn list(root: &Root, rel: &str) -> Result<Vec<DirEntry>, AgentError> {
    let dir = root.resolve(rel)?;
    let rd = std::fs::read_dir(&dir).map_err(|e| io_error(e, rel))?;
    let mut out = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|e| io_error(e, rel))?;
        let Ok(m) = entry.path().symlink_metadata() else {
            continue;
        };
        out.push(DirEntry {
            name: entry.file_name().to_string_lossy().into_owned(),
            kind: kind_of(m.file_type()),
            size: m.size(),
            mtime_ms: mtime_ms(&m),
            mode: m.permissions().mode() & 0o7777,
        });
    }
    // Directories first, then by name: what a file tree shows.
    out.sort_by(|a, b| {
        (a.kind != EntryKind::Dir, &a.name).cmp(&(b.kind != EntryKind::Dir, &b.name))
    });
    Ok(out)
}

pub(crate) fn stat(root: &Root, rel: &str) -> Result<FileMeta, AgentError> {
    let p = root.resolve(rel)?;
    let m = std::fs::metadata(&p).map_err(|e| io_error(e, rel))?;
    Ok(meta(root, &p, &m))
}

pub(crate) fn mkdir(root: &Root, rel: &str, parents: bool) -> Result<FileMeta, AgentError> {
    let p = root.resolve(rel)?;
    let r = if parents {
        std::fs::create_dir_all(&p)
    } else {
        std::fs::create_dir(&p)
    };
    r.map_err(|e| io_error(e, rel))?;
    stat(root, rel)
}

pub(crate) fn rename(
    root: &Root,
    from: &str,
    to: &str,
    overwrite: bool,
) -> Result<FileMeta, AgentError> {
    let src = root.resolve_entry(from)?;
    let dst = root.resolve_entry(to)?;
    if src == root.path() || dst == root.path() {
        return Err(AgentError::new(
            ErrorCode::Invalid,
            "the workspace root cannot be moved",
        ));
    }
    src.symlink_metadata().map_err(|e| io_error(e, from))?;
    if !overwrite && dst.symlink_metadata().is_ok() {
        return Err(AgentError::new(
            ErrorCode::Exists,
            format!("{to}: already exists"),
        ));
    }
    if dst.starts_with(&src) && dst != src {
        return Err(AgentError::new(
            ErrorCode::Invalid,
            "cannot move a directory into itself",
        ));
    }
    if let Some(parent) = dst.parent() {
        std::fs::create_dir_all(parent).map_err(|e| io_error(e, to))?;
    }
    std::fs::rename(&src, &dst).map_err(|e| io_error(e, to))?;
    let m = dst.symlink_metadata().map_err(|e| io_error(e, to))?;
    Ok(meta(root, &dst, &m))
}

pub(crate) fn delete(root: &Root, rel: &str, recursive: bool) -> Result<(), AgentError> {
    let p = root.resolve_entry(rel)?;
    if p == root.path() {
        return Err(AgentError::new(
            ErrorCode::Invalid,
            "the workspace root cannot be deleted",
        ));
    }
    let m = p.symlink_metadata().map_err(|e| io_error(e, rel))?;
    let r = if m.is_dir() {
        if recursive {
            std::fs::remove_dir_all(&p)
        } else {
            std::fs::remove_dir(&p)
        }
    } else {
        std::fs::remove_file(&p)
    };
    r.map_err(|e| io_error(e, rel))
}

/// Checks a writer's precondition against what is on disk now.
pub(crate) fn check_precondition(
    target: &Path,
    rel: &str,
    if_match: Option<&str>,
    create_only: bool,
) -> Result<(), AgentError> {
    let current = std::fs::metadata(target).ok();
    if let Some(m) = &current {
        if m.is_dir() {
            return Err(AgentError::new(
                ErrorCode::IsADirectory,
                format!("{rel}: is a directory"),
            ));
        }
    }
    if create_only && current.is_some() {
        return Err(AgentError::new(
            ErrorCode::Exists,
            format!("{rel}: already exists"),
        ));
    }
    match (if_match, &current) {
        (None, _) => Ok(()),
        (Some("*"), Some(_)) => Ok(()),
        (Some(tag), Some(m)) if tag == etag(m) => Ok(()),
        (Some(_), _) => Err(AgentError::new(
            ErrorCode::PreconditionFailed,
            format!("{rel} changed since it was read"),
        )),
    }
}

/// A temporary file beside `target`, renamed over it once complete so that
/// readers see the old or the new content, never half of it.
pub(crate) struct AtomicWrite {
    tmp: std::path::PathBuf,
    target: std::path::PathBuf,
    file: Option<std::fs::File>,
    written: u64,
}

impl AtomicWrite {
    pub(crate) fn begin(target: &Path, rel: &str) -> Result<AtomicWrite, AgentError> {
        let parent = target
            .parent()
            .ok_or_else(|| AgentError::new(ErrorCode::Invalid, "no parent"))?;
        std::fs::create_dir_all(parent).map_err(|e| io_error(e, rel))?;
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = parent.join(format!(
            ".{name}.aicockpit-{}",
            std::process::id() as u64 ^ nanos()
        ));
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| io_error(e, rel))?;
        // Keep the mode of the file being replaced (scripts stay executable).
        if let Ok(old) = std::fs::metadata(target) {
            let _ = std::fs::set_permissions(&tmp, old.permissions());
        }
        Ok(AtomicWrite {
            tmp,
            target: target.to_path_buf(),
            file: Some(file),
            written: 0,
        })
    }

    pub(crate) fn write(&mut self, data: &[u8], max: u64, rel: &str) -> Result<(), AgentError> {
        use std::io::Write;
        self.written += data.len() as u64;
        if self.written > max {
            return Err(AgentError::new(
                ErrorCode::TooLarge,
                format!("{rel}: larger than {max} bytes"),
            ));
        }
        match &mut self.file {
            Some(f) => f.write_all(data).map_err(|e| io_error(e, rel)),
            None => Ok(()),
        }
    }

    pub(crate) fn commit(mut self, rel: &str) -> Result<(), AgentError> {
        if let Some(f) = self.file.take() {
            f.sync_data().map_err(|e| io_error(e, rel))?;
        }
        std::fs::rename(&self.tmp, &self.target).map_err(|e| io_error(e, rel))
    }
}

impl Drop for AtomicWrite {
    fn drop(&mut self) {
        // Not committed: leave no temporary file behind.
        if self.file.is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

fn nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// Where each absolute path really leads: the longest existing prefix with
/// its symlinks followed, then the rest as written (`..` in the rest is
/// refused: it would climb from a place not yet known).
pub(crate) fn resolve(paths: &[String]) -> Result<Vec<Option<String>>, AgentError> {
    if paths.len() > aicockpit_workspace_agent_proto::MAX_RESOLVE {
        return Err(AgentError::new(
            ErrorCode::TooLarge,
            "too many paths to resolve",
        ));
    }
    Ok(paths.iter().map(|p| resolve_one(p)).collect())
}

fn resolve_one(path: &str) -> Option<String> {
    if !path.starts_with('/') || path.len() > 4096 || path.contains('\0') {
        return None;
    }
    let mut existing = std::path::PathBuf::from(path);
    let mut tail: Vec<std::ffi::OsString> = Vec::new();
    loop {
        match std::fs::canonicalize(&existing) {
            Ok(real) => {
                let mut out = real;
                for t in tail.iter().rev() {
                    if t == ".." {
                        return None;
                    }
                    out.push(t);
                }
                return out.to_str().map(str::to_owned);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // A dangling symlink leads somewhere not yet there.
                if std::fs::symlink_metadata(&existing).is_ok_and(|m| m.file_type().is_symlink()) {
                    return None;
                }
                tail.push(existing.file_name()?.to_owned());
                if !existing.pop() {
                    return None;
                }
            }
            Err(_) => return None,
        }
    }
}

#[cfg(test)]
mod resolve_tests {
    use super::*;

    #[test]
    fn symlinks_are_followed_and_missing_tails_kept() {
        let d = tempfile::tempdir().expect("tempdir");
        let base = std::fs::canonicalize(d.path()).expect("canonical");
        std::fs::create_dir(base.join("real")).expect("mkdir");
        std::os::unix::fs::symlink(base.join("real"), base.join("link")).expect("symlink");
        std::os::unix::fs::symlink("/nowhere/x", base.join("dangling")).expect("symlink");
        let s = |p: std::path::PathBuf| p.to_string_lossy().into_owned();
        let got = resolve(&[
            s(base.join("link/new/file")),
            s(base.join("real")),
            s(base.join("dangling")),
            "relative".into(),
        ])
        .expect("resolve");
        assert_eq!(
            got[0].as_deref(),
            Some(s(base.join("real/new/file")).as_str())
        );
        assert_eq!(got[1].as_deref(), Some(s(base.join("real")).as_str()));
        assert_eq!(got[2], None);
        assert_eq!(got[3], None);
    }
}
