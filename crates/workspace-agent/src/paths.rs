//! Keeping every path inside the workspace root.
//!
//! Paths from the API are relative to the root, or absolute under the root's
//! own prefix (stripped); other absolute paths are refused. `..` components, NUL bytes
//! and anything that resolves outside the root through a symlink are refused.
//! Checks are made on the real filesystem (`canonicalize`), so a symlink
//! planted by a terminal or the AI cannot lead an API call out.

use aicockpit_workspace_agent_proto::{AgentError, ErrorCode};
use std::path::{Component, Path, PathBuf};

/// The workspace root, canonical.
#[derive(Debug, Clone)]
pub(crate) struct Root {
    root: PathBuf,
}

fn outside(p: &str) -> AgentError {
    AgentError::new(
        ErrorCode::OutsideWorkspace,
        format!("{p:?} is outside the workspace"),
    )
}

impl Root {
    pub(crate) fn new(root: &Path) -> std::io::Result<Root> {
        Ok(Root {
            root: root.canonicalize()?,
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.root
    }

    /// The lexical join of `rel` onto the root, refusing `..`, NUL and
    /// anything but plain components. Does not touch the filesystem.
    pub(crate) fn join(&self, rel: &str) -> Result<PathBuf, AgentError> {
        if rel.contains('\0') || rel.len() > 4096 {
            return Err(outside(rel));
        }
        let root_str = self.root.to_string_lossy();
        let trimmed = match rel
            .strip_prefix(root_str.as_ref())
            .filter(|r| r.is_empty() || r.starts_with('/'))
        {
            Some(r) => r,
            // `/etc/passwd` means the host's file to whoever typed it, not
            // `/workspace/etc/passwd`: refused, never reinterpreted.
            None if rel.starts_with('/') => return Err(outside(rel)),
            None => rel,
        };
        let mut out = self.root.clone();
        for c in Path::new(trimmed).components() {
            match c {
                Component::Normal(part) => out.push(part),
                Component::RootDir | Component::CurDir => {}
                Component::ParentDir | Component::Prefix(_) => return Err(outside(rel)),
            }
        }
        Ok(out)
    }

    /// Path relative to the root, for answers.
    pub(crate) fn relative(&self, p: &Path) -> String {
        p.strip_prefix(&self.root)
            .map(|r| r.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    fn check_inside(&self, real: &Path, rel: &str) -> Result<(), AgentError> {
        if real.starts_with(&self.root) {
            Ok(())
        } else {
            Err(outside(rel))
        }
    }

    /// For reading or writing through the path: the parent must resolve
    /// inside the root, and so must the path itself if it exists (following
    /// symlinks). Returns the path with the parent resolved.
    pub(crate) fn resolve(&self, rel: &str) -> Result<PathBuf, AgentError> {
        let joined = self.join(rel)?;
        if joined == self.root {
            return Ok(joined);
        }
        let target = self.resolve_parent(rel, &joined)?;
        match target.canonicalize() {
            Ok(real) => {
                self.check_inside(&real, rel)?;
                Ok(real)
            }
            // Does not exist yet (or a dangling link): where it would be
            // created must be inside, and a dangling link is never followed.
            Err(_) => {
                if target.symlink_metadata().is_ok() {
                    return Err(outside(rel));
                }
                Ok(target)
            }
        }
    }

    /// For operating on the entry itself (delete, rename, lstat): only the
    /// parent is resolved; a final symlink is the link, not its target.
    pub(crate) fn resolve_entry(&self, rel: &str) -> Result<PathBuf, AgentError> {
        let joined = self.join(rel)?;
        if joined == self.root {
            return Ok(joined);
        }
        self.resolve_parent(rel, &joined)
    }

    fn resolve_parent(&self, rel: &str, joined: &Path) -> Result<PathBuf, AgentError> {
        let (Some(parent), Some(name)) = (joined.parent(), joined.file_name()) else {
            return Err(outside(rel));
        };
        let real_parent = match parent.canonicalize() {
            Ok(p) => p,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // A missing parent: check the deepest existing ancestor.
                let mut anc = parent;
                loop {
                    match anc.parent() {
                        Some(a) => {
                            anc = a;
                            if let Ok(real) = anc.canonicalize() {
                                self.check_inside(&real, rel)?;
                                break;
                            }
                        }
                        None => return Err(outside(rel)),
                    }
                }
                return Ok(joined.to_path_buf());
            }
            Err(e) => return Err(crate::files::io_error(e, rel)),
        };
        self.check_inside(&real_parent, rel)?;
        Ok(real_parent.join(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (tempfile::TempDir, Root, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("tempdir");
        let outside_dir = tempfile::tempdir().expect("outside");
        std::fs::create_dir(dir.path().join("src")).expect("mkdir");
        std::fs::write(dir.path().join("src/a.txt"), "a").expect("write");
        std::fs::write(outside_dir.path().join("secret"), "s").expect("write");
        std::os::unix::fs::symlink(outside_dir.path(), dir.path().join("out")).expect("link");
        std::os::unix::fs::symlink(outside_dir.path().join("secret"), dir.path().join("s"))
            .expect("link");
        std::os::unix::fs::symlink("src/a.txt", dir.path().join("inside-link")).expect("link");
        let root = Root::new(dir.path()).expect("root");
        (dir, root, outside_dir)
    }

    #[test]
    fn plain_paths_resolve_inside() {
        let (_d, root, _o) = setup();
        assert!(root
            .resolve("src/a.txt")
            .expect("ok")
            .ends_with("src/a.txt"));
        assert!(root
            .resolve("./src//a.txt")
            .expect("ok")
            .ends_with("src/a.txt"));
        let abs = format!("{}/src/a.txt", root.path().display());
        assert!(root.resolve(&abs).expect("ok").ends_with("src/a.txt"));
        assert!(
            root.resolve("new/deeper/file").is_ok(),
            "not-yet-existing paths inside are fine"
        );
        assert_eq!(root.resolve("").expect("root"), root.path());
        assert!(root
            .resolve("inside-link")
            .expect("ok")
            .ends_with("src/a.txt"));
    }

    #[test]
    fn escapes_are_refused() {
        let (_d, root, _o) = setup();
        for bad in [
            "..",
            "../etc/passwd",
            "src/../../x",
            "a\0b",
            "out/secret",
            "s",
            "out",
            "out/new-file",
            "out/new/dir",
            "/src/a.txt",
            "/etc/passwd",
        ] {
            let e = root.resolve(bad).expect_err(bad);
            assert_eq!(e.code, ErrorCode::OutsideWorkspace, "{bad}");
        }
        // The link itself may be removed; what it points at is never touched.
        assert!(root.resolve_entry("s").expect("entry").ends_with("s"));
        assert!(root.resolve_entry("out/secret").is_err());
    }
}
