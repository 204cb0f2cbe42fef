//! Building an image from a directory of a running workspace (a
//! devcontainer's Dockerfile): the engine archives the directory (it reads
//! the container's files itself, so nothing in the workspace can fake the
//! context), the archive is spooled with a size cap and re-rooted at the
//! directory, and the engine builds it. The image is tagged by a hash of
//! what went in (file names, modes and contents, the Dockerfile's path,
//! the arguments and target), so a second workspace of the same
//! configuration reuses it without building.

use super::DockerRuntime;
use crate::spec::BuildRequest;
use crate::RuntimeError;
use bollard::query_parameters::{BuildImageOptionsBuilder, DownloadFromContainerOptionsBuilder};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;
use tokio_util::io::ReaderStream;

/// The repository built devcontainer images are tagged in.
pub const BUILT_IMAGE_REPOSITORY: &str = "localhost/aicockpit/devcontainer";

/// The largest Dockerfile read for checking.
const MAX_DOCKERFILE: usize = 256 * 1024;
/// The name the checked Dockerfile is sent under: the engine reads exactly
/// what was checked, whatever the configuration called it (Podman reads
/// its `dockerfile` parameter as a list, a URL or a template by its name).
const SENT_DOCKERFILE: &str = ".aicockpit-checked.Dockerfile";
/// Builds this server runs at once (each spools a context and holds the
/// engine busy).
const MAX_BUILDS: usize = 2;

fn build_slots() -> &'static tokio::sync::Semaphore {
    static SLOTS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    SLOTS.get_or_init(|| tokio::sync::Semaphore::new(MAX_BUILDS))
}
/// Bytes of one progress line passed on.
const MAX_PROGRESS_LINE: usize = 2048;

/// Removes a spool file when dropped.
struct Spooled(PathBuf);

impl Drop for Spooled {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl DockerRuntime {
    pub(super) async fn build_workspace_image(
        &self,
        handle: &str,
        req: &BuildRequest,
        check: &crate::DockerfileCheck,
        progress: &(dyn Fn(String) + Send + Sync),
    ) -> Result<String, RuntimeError> {
        if build_slots().available_permits() == 0 {
            progress("waiting for another image build to finish".into());
        }
        let _slot = build_slots()
            .acquire()
            .await
            .map_err(|e| RuntimeError::Engine(format!("build slots: {e}")))?;
        let name = format!("build-{}", uuid_like());
        let raw = Spooled(req.spool_dir.join(format!("{name}.raw.tar")));
        let ctx = Spooled(req.spool_dir.join(format!("{name}.tar")));
        tokio::fs::create_dir_all(&req.spool_dir).await?;
        progress(format!("reading the build context {}", req.context_dir));
        // The caller's files count against the same bound as the folder's.
        let added: u64 = req
            .generated
            .iter()
            .flat_map(|g| &g.files)
            .map(|f| f.content.len() as u64)
            .sum();
        let budget = req.max_context_bytes.checked_sub(added).ok_or_else(|| {
            RuntimeError::Invalid(format!(
                "the build context would be larger than {} bytes",
                req.max_context_bytes
            ))
        })?;
        self.spool_dir_archive(handle, &req.context_dir, &raw.0, budget)
            .await?;
        let (raw_path, ctx_path) = (raw.0.clone(), ctx.0.clone());
        let seed = cache_seed(&self.instance, req);
        let dockerfile = PathBuf::from(&req.dockerfile);
        let generated = req.generated.clone();
        let (hash, found) = tokio::task::spawn_blocking(move || {
            reroot(&raw_path, &ctx_path, &seed, &dockerfile, generated.as_ref())
        })
        .await
        .map_err(|e| RuntimeError::Engine(format!("re-rooting the build context: {e}")))?
        .map_err(|m| RuntimeError::Invalid(format!("the build context: {m}")))?;
        drop(raw);
        // Checked as the engine will read it: the context is what is sent,
        // whatever the workspace changes meanwhile.
        let Some(text) = found else {
            return Err(RuntimeError::Invalid(format!(
                "{} is not a regular file of at most {} KiB in the build context",
                req.dockerfile,
                MAX_DOCKERFILE / 1024
            )));
        };
        let bases =
            check(&text).map_err(|m| RuntimeError::Invalid(format!("{}: {m}", req.dockerfile)))?;
        let tag = format!("{BUILT_IMAGE_REPOSITORY}:{}", &hash[..32]);
        if self.image_exists(&tag).await? {
            progress(format!(
                "the image of this configuration was built before: {tag}"
            ));
            return Ok(tag);
        }
        for base in &bases {
            self.check_base(base, progress).await?;
        }
        progress(format!("building {tag}"));
        match tokio::time::timeout(req.timeout, self.run_build(&ctx.0, &tag, req, progress)).await {
            Ok(r) => r?,
            Err(_) => {
                return Err(RuntimeError::Invalid(format!(
                    "the image build took longer than {} s",
                    req.timeout.as_secs()
                )))
            }
        }
        Ok(tag)
    }

    /// Removes built images of this installation nobody uses (see the
    /// trait). Tags are compared whole; an image the engine says is in use
    /// by a container stays.
    pub(super) async fn prune_built(
        &self,
        in_use: &[String],
        min_age: std::time::Duration,
    ) -> Result<Vec<String>, RuntimeError> {
        use bollard::query_parameters::{ListImagesOptionsBuilder, RemoveImageOptionsBuilder};
        let label = format!("aicockpit.instance={}", self.instance);
        let filters: HashMap<String, Vec<String>> =
            HashMap::from([("label".to_owned(), vec![label])]);
        let d = self.client().await?;
        let list = d
            .list_images(Some(
                ListImagesOptionsBuilder::default()
                    .filters(&filters)
                    .build(),
            ))
            .await?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let prefix = format!("{BUILT_IMAGE_REPOSITORY}:");
        let mut removed = Vec::new();
        for image in list {
            // Checked here too: filters are the engine's to honour.
            if image.labels.get("aicockpit.instance") != Some(&self.instance)
                || now - image.created < i64::try_from(min_age.as_secs()).unwrap_or(i64::MAX)
            {
                continue;
            }
            for tag in image.repo_tags.iter().filter(|t| t.starts_with(&prefix)) {
                if in_use.iter().any(|u| u == tag) {
                    continue;
                }
                let opts = RemoveImageOptionsBuilder::default().build();
                match d.remove_image(tag, Some(opts), None).await {
                    Ok(_) => removed.push(tag.clone()),
                    Err(e) => match RuntimeError::from(e) {
                        // Used by a container, or gone meanwhile.
                        RuntimeError::Conflict(_) | RuntimeError::NotFound(_) => {}
                        other => return Err(other),
                    },
                }
            }
        }
        Ok(removed)
    }

    /// Pulls a base image if it is missing and refuses one with `ONBUILD`
    /// triggers: they run in the build and may name any image.
    async fn check_base(
        &self,
        base: &str,
        progress: &(dyn Fn(String) + Send + Sync),
    ) -> Result<(), RuntimeError> {
        if !self.image_exists(base).await? {
            self.pull_image(base, progress).await?;
        }
        let info = self.client().await?.inspect_image(base).await?;
        let triggers = info.config.and_then(|c| c.on_build).unwrap_or_default();
        if !triggers.is_empty() {
            return Err(RuntimeError::Invalid(format!(
                "the base image {base} has ONBUILD triggers, which are not allowed"
            )));
        }
        Ok(())
    }

    /// The engine's archive of `dir` (entries under the directory's own
    /// name) written to `out`, refused past `max` bytes.
    async fn spool_dir_archive(
        &self,
        handle: &str,
        dir: &str,
        out: &Path,
        max: u64,
    ) -> Result<(), RuntimeError> {
        let opts = DownloadFromContainerOptionsBuilder::default()
            .path(dir)
            .build();
        let d = self.client().await?;
        let mut stream = d.download_from_container(handle, Some(opts));
        let mut file = tokio::fs::File::create(out).await?;
        let mut written = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| match RuntimeError::from(e) {
                RuntimeError::NotFound(_) => {
                    RuntimeError::Invalid(format!("the build context {dir} does not exist"))
                }
                other => other,
            })?;
            written += chunk.len() as u64;
            if written > max {
                return Err(RuntimeError::Invalid(format!(
                    "the build context {dir} is larger than {} MiB",
                    max / (1024 * 1024)
                )));
            }
            file.write_all(&chunk).await?;
        }
        file.flush().await?;
        Ok(())
    }

    async fn run_build(
        &self,
        context: &Path,
        tag: &str,
        req: &BuildRequest,
        progress: &(dyn Fn(String) + Send + Sync),
    ) -> Result<(), RuntimeError> {
        let args: HashMap<String, String> = req.args.clone().into_iter().collect();
        let labels: HashMap<String, String> =
            HashMap::from([("aicockpit.instance".to_owned(), self.instance.clone())]);
        let memory = i32::try_from(req.memory_bytes).unwrap_or(i32::MAX);
        let cpu_quota = i32::try_from(req.cpu_millis.max(100) * 100).unwrap_or(i32::MAX);
        let mut opts = BuildImageOptionsBuilder::default()
            .dockerfile(SENT_DOCKERFILE)
            .t(tag)
            .buildargs(&args)
            .labels(&labels)
            .rm(true)
            .forcerm(true)
            .memory(memory)
            .memswap(memory)
            .cpuperiod(100_000)
            .cpuquota(cpu_quota);
        if let Some(t) = &req.target {
            opts = opts.target(t);
        }
        if let Some(n) = &req.network {
            opts = opts.networkmode(n);
        }
        let file = tokio::fs::File::open(context).await?;
        let body = bollard::body_try_stream(ReaderStream::new(file));
        let d = self.client().await?;
        let mut stream = d.build_image(opts.build(), None, Some(body));
        let mut partial = String::new();
        while let Some(item) = stream.next().await {
            let info = item.map_err(|e| match RuntimeError::from(e) {
                RuntimeError::Invalid(m) | RuntimeError::Engine(m) => {
                    RuntimeError::Invalid(format!("the image build failed: {m}"))
                }
                other => other,
            })?;
            if let Some(e) = info.error_detail.and_then(|e| e.message) {
                return Err(RuntimeError::Invalid(format!(
                    "the image build failed: {e}"
                )));
            }
            if let Some(s) = info.stream.or(info.status) {
                partial.push_str(&s);
                while let Some(i) = partial.find('\n') {
                    let line: String = partial.drain(..=i).collect();
                    progress(bounded(line.trim_end()));
                }
                if partial.len() > MAX_PROGRESS_LINE {
                    progress(bounded(&std::mem::take(&mut partial)));
                }
            }
        }
        if !partial.trim().is_empty() {
            progress(bounded(partial.trim_end()));
        }
        if !self.image_exists(tag).await? {
            return Err(RuntimeError::Invalid(
                "the image build ended without an image".into(),
            ));
        }
        Ok(())
    }
}

fn bounded(s: &str) -> String {
    let mut end = s.len().min(MAX_PROGRESS_LINE);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

/// A name for spool files that no two builds share.
fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{}-{n}", std::process::id())
}

/// Feeds one field to the hash, length first, so that no two different
/// sequences of fields hash alike.
fn field(hash: &mut Sha256, bytes: &[u8]) {
    hash.update((bytes.len() as u64).to_be_bytes());
    hash.update(bytes);
}

/// What goes into the image's tag besides the files: the installation
/// too, so that one never uses (and its pruning never removes) an image
/// another made.
fn cache_seed(instance: &str, req: &BuildRequest) -> Sha256 {
    let mut h = Sha256::new();
    field(&mut h, b"aicockpit-build-3");
    field(&mut h, instance.as_bytes());
    field(&mut h, req.dockerfile.as_bytes());
    field(&mut h, req.target.as_deref().unwrap_or("").as_bytes());
    field(&mut h, &(req.args.len() as u64).to_be_bytes());
    for (k, v) in &req.args {
        field(&mut h, k.as_bytes());
        field(&mut h, v.as_bytes());
    }
    h
}

/// A reader that hashes what passes through it.
struct Hashing<'a, R> {
    inner: R,
    hash: &'a mut Sha256,
}

impl<R: Read> Read for Hashing<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
}

/// Copies the archive `from` (every entry under one top directory) to
/// `to` with that directory stripped, so the archive's root is the
/// directory itself, as the engine wants a build context. Only
/// directories, regular files and links are carried, each streamed (never
/// held whole). Returns the hex SHA-256 of `seed` and each entry's name,
/// type, mode, link and content (not its times: a fresh clone of the same
/// commit hashes the same), and the content of `dockerfile` when it is a
/// regular file of at most [`MAX_DOCKERFILE`] bytes — which is also added
/// as [`SENT_DOCKERFILE`], the name the engine is told to build.
fn reroot(
    from: &Path,
    to: &Path,
    seed: &Sha256,
    dockerfile: &Path,
    generated: Option<&crate::GeneratedDockerfile>,
) -> Result<(String, Option<Vec<u8>>), String> {
    use std::os::unix::ffi::OsStrExt;
    let mut found = None;
    let mut hash = seed.clone();
    let added: Vec<&str> = generated
        .map(|g| g.files.iter().map(|f| f.name.as_str()).collect())
        .unwrap_or_default();
    // A folder the caller's files go in is the caller's alone: the
    // folder's own entry there (a symlink to `/`, say) or under it is
    // dropped, so nothing of the folder decides where those files land.
    let reserved: Vec<&str> = added
        .iter()
        .filter_map(|a| a.split_once('/').map(|(top, _)| top))
        .collect();
    let input = std::fs::File::open(from).map_err(|e| e.to_string())?;
    let mut archive = tar::Archive::new(input);
    let out = std::fs::File::create(to).map_err(|e| e.to_string())?;
    let mut builder = tar::Builder::new(std::io::BufWriter::new(out));
    for entry in archive.entries().map_err(|e| e.to_string())? {
        let mut entry = entry.map_err(|e| e.to_string())?;
        let path = entry.path().map_err(|e| e.to_string())?.into_owned();
        let Some(rel) = strip_top(&path)? else {
            continue;
        };
        let top = rel.components().next().map(|c| c.as_os_str());
        if rel.as_os_str() == SENT_DOCKERFILE
            || added
                .iter()
                .any(|a| rel.as_os_str() == std::ffi::OsStr::new(a))
            || reserved
                .iter()
                .any(|r| top == Some(std::ffi::OsStr::new(r)))
        {
            continue;
        }
        let kind = entry.header().entry_type();
        let mode = entry.header().mode().unwrap_or(0o644) & 0o7777;
        let mut h = tar::Header::new_gnu();
        h.set_mode(mode);
        h.set_mtime(0);
        h.set_entry_type(kind);
        field(&mut hash, rel.as_os_str().as_bytes());
        field(&mut hash, &[kind.as_byte()]);
        field(&mut hash, &mode.to_be_bytes());
        match kind {
            tar::EntryType::Directory => {
                h.set_size(0);
                builder
                    .append_data(&mut h, &rel, std::io::empty())
                    .map_err(|e| e.to_string())?;
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                h.set_entry_type(tar::EntryType::Regular);
                let size = entry.header().size().map_err(|e| e.to_string())?;
                h.set_size(size);
                field(&mut hash, &size.to_be_bytes());
                if generated.is_none() && rel == dockerfile && size <= MAX_DOCKERFILE as u64 {
                    let mut buf = Vec::new();
                    entry.read_to_end(&mut buf).map_err(|e| e.to_string())?;
                    hash.update(&buf);
                    builder
                        .append_data(&mut h, &rel, buf.as_slice())
                        .map_err(|e| e.to_string())?;
                    found = Some(buf);
                } else {
                    let reader = Hashing {
                        inner: &mut entry,
                        hash: &mut hash,
                    };
                    builder
                        .append_data(&mut h, &rel, reader)
                        .map_err(|e| e.to_string())?;
                }
            }
            tar::EntryType::Symlink | tar::EntryType::Link => {
                let target = entry
                    .link_name()
                    .map_err(|e| e.to_string())?
                    .map(|t| t.into_owned())
                    .unwrap_or_default();
                let target = if kind == tar::EntryType::Link {
                    match strip_top(&target)? {
                        Some(t) => t,
                        None => continue,
                    }
                } else {
                    target
                };
                field(&mut hash, target.as_os_str().as_bytes());
                h.set_size(0);
                builder
                    .append_link(&mut h, &rel, &target)
                    .map_err(|e| e.to_string())?;
            }
            // Devices, fifos and the like have no place in a context.
            _ => continue,
        }
    }
    if let Some(g) = generated {
        for f in &g.files {
            let (name, content) = (&f.name, &f.content);
            let mode: u32 = if f.executable { 0o755 } else { 0o644 };
            field(&mut hash, name.as_bytes());
            field(&mut hash, content);
            field(&mut hash, &mode.to_be_bytes());
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Regular);
            h.set_mode(mode);
            h.set_mtime(0);
            h.set_size(content.len() as u64);
            builder
                .append_data(&mut h, name, content.as_slice())
                .map_err(|e| e.to_string())?;
        }
        field(&mut hash, &g.text);
        found = Some(g.text.clone());
    }
    if let Some(text) = &found {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_size(text.len() as u64);
        builder
            .append_data(&mut h, SENT_DOCKERFILE, text.as_slice())
            .map_err(|e| e.to_string())?;
    }
    builder
        .into_inner()
        .and_then(|mut w| std::io::Write::flush(&mut w))
        .map_err(|e| e.to_string())?;
    let hex = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Ok((hex, found))
}

/// `top/rest` → `rest` (None for `top` itself); a path that leaves its
/// top directory is refused.
fn strip_top(path: &Path) -> Result<Option<PathBuf>, String> {
    use std::path::Component;
    let mut parts = path.components();
    match parts.next() {
        Some(Component::Normal(_)) => {}
        Some(Component::CurDir) => return strip_top(parts.as_path()),
        _ => return Err(format!("unexpected entry {}", path.display())),
    }
    let rest: PathBuf = parts.as_path().to_path_buf();
    if rest
        .components()
        .any(|c| !matches!(c, Component::Normal(_)))
    {
        return Err(format!("unexpected entry {}", path.display()));
    }
    Ok((!rest.as_os_str().is_empty()).then_some(rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archive(entries: &[(&str, Option<&[u8]>)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, content) in entries {
            let mut h = tar::Header::new_gnu();
            match content {
                Some(c) => {
                    h.set_entry_type(tar::EntryType::Regular);
                    h.set_size(c.len() as u64);
                    h.set_mode(0o644);
                    h.set_mtime(12345);
                    b.append_data(&mut h, name, *c).expect("test value");
                }
                None => {
                    h.set_entry_type(tar::EntryType::Directory);
                    h.set_size(0);
                    h.set_mode(0o755);
                    b.append_data(&mut h, name, std::io::empty())
                        .expect("test value");
                }
            }
        }
        b.into_inner().expect("test value")
    }

    fn names(tar_bytes: &[u8]) -> Vec<String> {
        let mut a = tar::Archive::new(tar_bytes);
        a.entries()
            .expect("test value")
            .map(|e| {
                e.expect("test value")
                    .path()
                    .expect("test value")
                    .to_string_lossy()
                    .into_owned()
            })
            .collect()
    }

    #[test]
    fn the_context_is_rooted_at_its_directory_and_hashed_without_times() {
        let dir = tempfile_dir();
        let raw = dir.join("raw.tar");
        let out = dir.join("out.tar");
        std::fs::write(
            &raw,
            archive(&[
                (".devcontainer", None),
                (".devcontainer/Dockerfile", Some(b"FROM x\n")),
                (".devcontainer/sub", None),
                (".devcontainer/sub/a", Some(b"a")),
            ]),
        )
        .expect("test value");
        let df = Path::new("Dockerfile");
        let seed = |s: &[u8]| {
            let mut h = Sha256::new();
            field(&mut h, s);
            h
        };
        let (h1, found) = reroot(&raw, &out, &seed(b"seed"), df, None).expect("test value");
        assert_eq!(found.as_deref(), Some(&b"FROM x\n"[..]));
        assert_eq!(
            names(&std::fs::read(&out).expect("test value")),
            vec!["Dockerfile", "sub", "sub/a", SENT_DOCKERFILE]
        );
        assert_eq!(
            h1,
            reroot(&raw, &out, &seed(b"seed"), df, None)
                .expect("test value")
                .0
        );
        assert_ne!(
            h1,
            reroot(&raw, &out, &seed(b"other"), df, None)
                .expect("test value")
                .0
        );
        assert_eq!(
            reroot(&raw, &out, &seed(b"seed"), Path::new("sub"), None)
                .expect("test value")
                .1,
            None
        );
        std::fs::write(
            &raw,
            archive(&[
                (".devcontainer", None),
                (".devcontainer/Dockerfile", Some(b"FROM y\n")),
            ]),
        )
        .expect("test value");
        assert_ne!(
            h1,
            reroot(&raw, &out, &seed(b"seed"), df, None)
                .expect("test value")
                .0
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The caller's files own their folder: the folder's entry of that
    /// name (here a symlink to `/`, which would carry them out of the
    /// context) and anything under it are dropped; the rest is kept.
    #[test]
    fn the_callers_folders_are_its_own() {
        let dir = tempfile_dir();
        let raw = dir.join("raw.tar");
        let out = dir.join("out.tar");
        let mut b = tar::Builder::new(Vec::new());
        for (name, content) in [
            (".devcontainer/keep", &b"k"[..]),
            (".devcontainer/.f0/planted", &b"p"[..]),
        ] {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(content.len() as u64);
            h.set_mode(0o644);
            b.append_data(&mut h, name, content).expect("test value");
        }
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        b.append_link(&mut h, ".devcontainer/.f0", "/")
            .expect("test value");
        std::fs::write(&raw, b.into_inner().expect("test value")).expect("test value");
        let generated = crate::GeneratedDockerfile {
            text: b"FROM x\n".to_vec(),
            files: vec![crate::ContextFile {
                name: ".f0/root/.ssh/authorized_keys".into(),
                content: b"key".to_vec(),
                executable: false,
            }],
        };
        reroot(
            &raw,
            &out,
            &Sha256::new(),
            Path::new("Dockerfile"),
            Some(&generated),
        )
        .expect("test value");
        assert_eq!(
            names(&std::fs::read(&out).expect("test value")),
            vec!["keep", ".f0/root/.ssh/authorized_keys", SENT_DOCKERFILE]
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn entries_leaving_the_directory_are_refused() {
        for bad in ["/etc/passwd", "a/../../x", "../x"] {
            assert!(strip_top(Path::new(bad)).is_err(), "{bad}");
        }
        assert_eq!(strip_top(Path::new("top")).expect("test value"), None);
        assert_eq!(
            strip_top(Path::new("./top/a/b")).expect("test value"),
            Some(PathBuf::from("a/b"))
        );
    }

    fn tempfile_dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!("aicockpit-reroot-{}", uuid_like()));
        std::fs::create_dir_all(&d).expect("test value");
        d
    }
}
