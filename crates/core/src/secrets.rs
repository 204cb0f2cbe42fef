//! Sealing secrets at rest (AI services' keys, git credentials) with ChaCha20-Poly1305 (authenticated: a stored
//! value that was tampered with does not decrypt).
//!
//! The key comes from configuration (`ai.secret_key`, base64 of 32 bytes)
//! or, when absent, from `secret.key` in the data dir, created on first run
//! with mode 0600. Sealed values look like `v1:<base64(nonce ‖ ciphertext)>`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use std::path::Path;

/// Why a secret could not be sealed or opened (never the secret itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretError(pub String);

impl std::fmt::Display for SecretError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SecretError {}

/// Cheap to clone: the AI registry and git credentials share one key.
#[derive(Clone)]
pub struct SecretBox {
    cipher: ChaCha20Poly1305,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(..)")
    }
}

impl SecretBox {
    pub fn from_key_b64(b64: &str) -> Result<SecretBox, SecretError> {
        let key = STANDARD
            .decode(b64.trim())
            .map_err(|e| SecretError(format!("the secret key is not base64: {e}")))?;
        if key.len() != 32 {
            return Err(SecretError(
                "the secret key must be 32 bytes (base64)".into(),
            ));
        }
        Ok(SecretBox {
            cipher: ChaCha20Poly1305::new(Key::from_slice(&key)),
        })
    }

    /// The key in `path`, created (0600) if the file does not exist.
    pub fn load_or_create(path: &Path) -> Result<SecretBox, SecretError> {
        match std::fs::read_to_string(path) {
            Ok(s) => SecretBox::from_key_b64(&s),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                use std::io::Write;
                use std::os::unix::fs::OpenOptionsExt;
                let key = ChaCha20Poly1305::generate_key(&mut OsRng);
                let b64 = STANDARD.encode(key);
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(path)
                    .map_err(|e| SecretError(format!("cannot create {}: {e}", path.display())))?;
                f.write_all(format!("{b64}\n").as_bytes())
                    .map_err(|e| SecretError(format!("cannot write {}: {e}", path.display())))?;
                SecretBox::from_key_b64(&b64)
            }
            Err(e) => Err(SecretError(format!("cannot read {}: {e}", path.display()))),
        }
    }

    pub fn seal(&self, plaintext: &str) -> Result<String, SecretError> {
        let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
        let ct = self
            .cipher
            .encrypt(&nonce, plaintext.as_bytes())
            .map_err(|_| SecretError("encryption failed".into()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        Ok(format!("v1:{}", STANDARD.encode(out)))
    }

    pub fn open(&self, sealed: &str) -> Result<String, SecretError> {
        let raw = sealed
            .strip_prefix("v1:")
            .and_then(|b| STANDARD.decode(b).ok())
            .filter(|r| r.len() > 12)
            .ok_or_else(|| SecretError("a stored secret is malformed".into()))?;
        let (nonce, ct) = raw.split_at(12);
        let pt = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), ct)
            .map_err(|_| {
                SecretError("a stored secret does not decrypt (wrong ai.secret_key?)".into())
            })?;
        String::from_utf8(pt).map_err(|_| SecretError("a stored secret is not text".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_tamper_detection() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("secret.key");
        let b = SecretBox::load_or_create(&path).expect("create");
        let sealed = b.seal("sk-secret").expect("seal");
        assert!(!sealed.contains("sk-secret"));
        assert_ne!(sealed, b.seal("sk-secret").expect("seal"), "nonces differ");
        assert_eq!(b.open(&sealed).expect("open"), "sk-secret");
        // The same key file is found again.
        let again = SecretBox::load_or_create(&path).expect("load");
        assert_eq!(again.open(&sealed).expect("open"), "sk-secret");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777,
            0o600
        );
        // Tampering is detected; another key cannot open it.
        let mut bytes = sealed.clone().into_bytes();
        let last = bytes.len() - 2;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        assert!(b.open(&String::from_utf8(bytes).expect("utf8")).is_err());
        let other = SecretBox::from_key_b64(&STANDARD.encode([7u8; 32])).expect("key");
        assert!(other.open(&sealed).is_err());
    }
}
