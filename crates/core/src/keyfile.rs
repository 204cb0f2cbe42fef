//! Server keys kept as files in the data dir: 32 random bytes, mode 0600,
//! made on first use (the audit head's MAC key, the SSH host key secret).

use std::path::Path;

/// The 32-byte key at `path`, created if missing; a file of another size
/// is an error (never silently replaced: what it protects would change).
pub fn load_or_create(path: &Path) -> std::io::Result<Vec<u8>> {
    match std::fs::read(path) {
        Ok(k) if k.len() == 32 => Ok(k),
        Ok(_) => Err(std::io::Error::other(format!(
            "{} is not a 32-byte key",
            path.display()
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            use rand::RngCore as _;
            use std::io::Write as _;
            use std::os::unix::fs::OpenOptionsExt as _;
            let mut k = vec![0u8; 32];
            rand::thread_rng().fill_bytes(&mut k);
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)?;
            f.write_all(&k)?;
            Ok(k)
        }
        Err(e) => Err(e),
    }
}
