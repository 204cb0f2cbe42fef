//! The sftp subsystem (SFTP version 3, as OpenSSH's `sftp` and `scp`
//! speak it), in process, as the workspace user. Paths are the user's own
//! view of the container (relative ones from the home directory), as with
//! any SSH server: a shell on the same connection could reach them anyway.

use russh_sftp::protocol::{
    Attrs, Data, File, FileAttributes, Handle, Name, OpenFlags, Status, StatusCode, Version,
};
use russh_sftp::server::StatusReply;
use std::collections::HashMap;
use std::io::SeekFrom;
use std::path::{Path, PathBuf};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeekExt, AsyncWrite, AsyncWriteExt};

/// Open handles per subsystem session, at most.
const MAX_HANDLES: usize = 256;
/// Most bytes one read answers (OpenSSH asks for 32-256 KiB).
const MAX_READ: u32 = 256 * 1024;
/// Directory entries per readdir answer.
const DIR_BATCH: usize = 128;

pub(super) async fn serve<S>(stream: S, home: PathBuf)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let handler = Sftp {
        home,
        handles: HashMap::new(),
        next: 1,
    };
    // run() spawns the protocol loop and returns; the loop ends at the
    // stream's end of input, dropping the stream.
    russh_sftp::server::run(stream, handler).await;
}

enum Open {
    File(tokio::fs::File),
    Dir {
        path: PathBuf,
        /// None once every entry was sent.
        entries: Option<std::fs::ReadDir>,
    },
}

struct Sftp {
    home: PathBuf,
    handles: HashMap<String, Open>,
    next: u64,
}

pub(super) struct Error(StatusReply);

impl From<Error> for StatusReply {
    fn from(e: Error) -> StatusReply {
        e.0
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        use std::io::ErrorKind::*;
        let code = match e.kind() {
            NotFound => StatusCode::NoSuchFile,
            PermissionDenied => StatusCode::PermissionDenied,
            _ => StatusCode::Failure,
        };
        Error(code.with_message(e.to_string()))
    }
}

fn status(id: u32) -> Status {
    Status {
        id,
        status_code: StatusCode::Ok,
        error_message: "Ok".into(),
        language_tag: "en-US".into(),
    }
}

fn code(c: StatusCode, msg: &str) -> Error {
    Error(c.with_message(msg))
}

impl Sftp {
    fn path(&self, p: &str) -> Result<PathBuf, Error> {
        if p.contains('\0') || p.len() > 4096 {
            return Err(code(StatusCode::BadMessage, "bad path"));
        }
        Ok(if p.is_empty() {
            self.home.clone()
        } else {
            self.home.join(p)
        })
    }

    fn add(&mut self, open: Open) -> Result<String, Error> {
        if self.handles.len() >= MAX_HANDLES {
            return Err(code(StatusCode::Failure, "too many open handles"));
        }
        let h = self.next.to_string();
        self.next += 1;
        self.handles.insert(h.clone(), open);
        Ok(h)
    }

    fn file(&mut self, handle: &str) -> Result<&mut tokio::fs::File, Error> {
        match self.handles.get_mut(handle) {
            Some(Open::File(f)) => Ok(f),
            _ => Err(code(StatusCode::Failure, "no such handle")),
        }
    }
}

/// Applies permissions, size and times, in sftp-server's order.
async fn set_attrs(path: &Path, attrs: &FileAttributes) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(size) = attrs.size {
        let f = tokio::fs::OpenOptions::new().write(true).open(path).await?;
        f.set_len(size).await?;
    }
    if let Some(mode) = attrs.permissions {
        tokio::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o7777)).await?;
    }
    if let (Some(atime), Some(mtime)) = (attrs.atime, attrs.mtime) {
        let path = path.to_owned();
        tokio::task::spawn_blocking(move || {
            let t = |s: u32| rustix::fs::Timespec {
                tv_sec: i64::from(s),
                tv_nsec: 0,
            };
            rustix::fs::utimensat(
                rustix::fs::CWD,
                &path,
                &rustix::fs::Timestamps {
                    last_access: t(atime),
                    last_modification: t(mtime),
                },
                rustix::fs::AtFlags::empty(),
            )
            .map_err(std::io::Error::from)
        })
        .await
        .map_err(|e| code(StatusCode::Failure, &e.to_string()))??;
    }
    Ok(())
}

impl russh_sftp::server::Handler for Sftp {
    type Error = Error;

    fn unimplemented(&self) -> Error {
        code(StatusCode::OpUnsupported, "not supported")
    }

    async fn init(
        &mut self,
        _version: u32,
        _extensions: HashMap<String, String>,
    ) -> Result<Version, Error> {
        Ok(Version::new())
    }

    async fn open(
        &mut self,
        id: u32,
        filename: String,
        pflags: OpenFlags,
        attrs: FileAttributes,
    ) -> Result<Handle, Error> {
        use std::os::unix::fs::OpenOptionsExt;
        let path = self.path(&filename)?;
        let mut opts: std::fs::OpenOptions = pflags.into();
        if pflags.contains(OpenFlags::CREATE) {
            opts.mode(attrs.permissions.unwrap_or(0o666) & 0o7777);
        }
        let f = tokio::fs::OpenOptions::from(opts).open(&path).await?;
        let handle = self.add(Open::File(f))?;
        Ok(Handle { id, handle })
    }

    async fn close(&mut self, id: u32, handle: String) -> Result<Status, Error> {
        match self.handles.remove(&handle) {
            Some(Open::File(mut f)) => {
                f.flush().await?;
                Ok(status(id))
            }
            Some(Open::Dir { .. }) => Ok(status(id)),
            None => Err(code(StatusCode::Failure, "no such handle")),
        }
    }

    async fn read(
        &mut self,
        id: u32,
        handle: String,
        offset: u64,
        len: u32,
    ) -> Result<Data, Error> {
        let f = self.file(&handle)?;
        f.seek(SeekFrom::Start(offset)).await?;
        let mut buf = vec![0u8; len.min(MAX_READ) as usize];
        let mut n = 0;
        while n < buf.len() {
            let r = f.read(&mut buf[n..]).await?;
            if r == 0 {
                break;
            }
            n += r;
        }
        if n == 0 && !buf.is_empty() {
            return Err(code(StatusCode::Eof, "end of file"));
        }
        buf.truncate(n);
        Ok(Data { id, data: buf })
    }

    async fn write(
        &mut self,
        id: u32,
        handle: String,
        offset: u64,
        data: Vec<u8>,
    ) -> Result<Status, Error> {
        let f = self.file(&handle)?;
        f.seek(SeekFrom::Start(offset)).await?;
        f.write_all(&data).await?;
        Ok(status(id))
    }

    async fn lstat(&mut self, id: u32, path: String) -> Result<Attrs, Error> {
        let meta = tokio::fs::symlink_metadata(self.path(&path)?).await?;
        Ok(Attrs {
            id,
            attrs: FileAttributes::from(&meta),
        })
    }

    async fn stat(&mut self, id: u32, path: String) -> Result<Attrs, Error> {
        let meta = tokio::fs::metadata(self.path(&path)?).await?;
        Ok(Attrs {
            id,
            attrs: FileAttributes::from(&meta),
        })
    }

    async fn fstat(&mut self, id: u32, handle: String) -> Result<Attrs, Error> {
        let meta = self.file(&handle)?.metadata().await?;
        Ok(Attrs {
            id,
            attrs: FileAttributes::from(&meta),
        })
    }

    async fn setstat(
        &mut self,
        id: u32,
        path: String,
        attrs: FileAttributes,
    ) -> Result<Status, Error> {
        set_attrs(&self.path(&path)?, &attrs).await?;
        Ok(status(id))
    }

    async fn fsetstat(
        &mut self,
        id: u32,
        handle: String,
        attrs: FileAttributes,
    ) -> Result<Status, Error> {
        use std::os::unix::fs::PermissionsExt;
        let f = self.file(&handle)?;
        if let Some(size) = attrs.size {
            f.set_len(size).await?;
        }
        if let Some(mode) = attrs.permissions {
            f.set_permissions(std::fs::Permissions::from_mode(mode & 0o7777))
                .await?;
        }
        if let (Some(atime), Some(mtime)) = (attrs.atime, attrs.mtime) {
            let std_file = f.try_clone().await?.into_std().await;
            let t = |s: u32| std::time::UNIX_EPOCH + std::time::Duration::from_secs(u64::from(s));
            tokio::task::spawn_blocking(move || {
                std_file.set_times(
                    std::fs::FileTimes::new()
                        .set_accessed(t(atime))
                        .set_modified(t(mtime)),
                )
            })
            .await
            .map_err(|e| code(StatusCode::Failure, &e.to_string()))??;
        }
        Ok(status(id))
    }

    async fn opendir(&mut self, id: u32, path: String) -> Result<Handle, Error> {
        let path = self.path(&path)?;
        let p = path.clone();
        let entries = tokio::task::spawn_blocking(move || std::fs::read_dir(p))
            .await
            .map_err(|e| code(StatusCode::Failure, &e.to_string()))??;
        let handle = self.add(Open::Dir {
            path,
            entries: Some(entries),
        })?;
        Ok(Handle { id, handle })
    }

    async fn readdir(&mut self, id: u32, handle: String) -> Result<Name, Error> {
        let Some(Open::Dir { path, entries }) = self.handles.get_mut(&handle) else {
            return Err(code(StatusCode::Failure, "no such handle"));
        };
        let Some(mut it) = entries.take() else {
            return Err(code(StatusCode::Eof, "no more entries"));
        };
        let dir = path.clone();
        // A batch per answer, read off the async threads; the iterator
        // goes back for the next call.
        let (it, files) = tokio::task::spawn_blocking(move || {
            let mut files = Vec::new();
            let mut done = false;
            while files.len() < DIR_BATCH {
                match it.next() {
                    Some(Ok(e)) => {
                        let name = e.file_name().to_string_lossy().into_owned();
                        let attrs = std::fs::symlink_metadata(dir.join(&name))
                            .map(|m| FileAttributes::from(&m))
                            .unwrap_or_default();
                        files.push(File::new(name, attrs));
                    }
                    Some(Err(_)) => {}
                    None => {
                        done = true;
                        break;
                    }
                }
            }
            ((!done).then_some(it), files)
        })
        .await
        .map_err(|e| code(StatusCode::Failure, &e.to_string()))?;
        *entries = it;
        if files.is_empty() {
            return Err(code(StatusCode::Eof, "no more entries"));
        }
        Ok(Name { id, files })
    }

    async fn remove(&mut self, id: u32, filename: String) -> Result<Status, Error> {
        tokio::fs::remove_file(self.path(&filename)?).await?;
        Ok(status(id))
    }

    async fn mkdir(
        &mut self,
        id: u32,
        path: String,
        attrs: FileAttributes,
    ) -> Result<Status, Error> {
        use std::os::unix::fs::DirBuilderExt;
        let path = self.path(&path)?;
        let mode = attrs.permissions.unwrap_or(0o777) & 0o7777;
        tokio::task::spawn_blocking(move || std::fs::DirBuilder::new().mode(mode).create(path))
            .await
            .map_err(|e| code(StatusCode::Failure, &e.to_string()))??;
        Ok(status(id))
    }

    async fn rmdir(&mut self, id: u32, path: String) -> Result<Status, Error> {
        tokio::fs::remove_dir(self.path(&path)?).await?;
        Ok(status(id))
    }

    async fn realpath(&mut self, id: u32, path: String) -> Result<Name, Error> {
        let p = self.path(if path == "." { "" } else { &path })?;
        let real = match tokio::fs::canonicalize(&p).await {
            Ok(r) => r,
            // A path that does not exist yet is normalised by hand, as
            // sftp-server does (`..` taken lexically).
            Err(_) => normalise(&p),
        };
        Ok(Name {
            id,
            files: vec![File::dummy(real.to_string_lossy())],
        })
    }

    async fn rename(&mut self, id: u32, oldpath: String, newpath: String) -> Result<Status, Error> {
        let (from, to) = (self.path(&oldpath)?, self.path(&newpath)?);
        // SFTP v3: renaming onto an existing name fails.
        if tokio::fs::symlink_metadata(&to).await.is_ok() {
            return Err(code(StatusCode::Failure, "the destination exists"));
        }
        tokio::fs::rename(from, to).await?;
        Ok(status(id))
    }

    async fn readlink(&mut self, id: u32, path: String) -> Result<Name, Error> {
        let target = tokio::fs::read_link(self.path(&path)?).await?;
        Ok(Name {
            id,
            files: vec![File::dummy(target.to_string_lossy())],
        })
    }

    /// OpenSSH sends the two paths the other way round from the draft
    /// (target first), and every server follows OpenSSH.
    async fn symlink(
        &mut self,
        id: u32,
        linkpath: String,
        targetpath: String,
    ) -> Result<Status, Error> {
        let (target, link) = (linkpath, self.path(&targetpath)?);
        if target.contains('\0') {
            return Err(code(StatusCode::BadMessage, "bad path"));
        }
        tokio::fs::symlink(target, link).await?;
        Ok(status(id))
    }
}

fn normalise(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::from("/");
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(n) => out.push(n),
            _ => {}
        }
    }
    out
}
