//! The environment a workspace was given after its container was made (a
//! warm-pool workspace claimed by a create with variables of its own): the
//! engine writes it as root to [`CLAIMED_ENV_FILE`], and the agent adds it
//! to every terminal and SSH session it starts. The format is the kernel's
//! own for `/proc/PID/environ`: `NAME=value` pairs each ended by a NUL.

use std::collections::BTreeMap;

/// Where the claimed environment is kept in the workspace's filesystem.
pub const CLAIMED_ENV_FILE: &str = "/etc/aicockpit/env";
/// Where the applied devcontainer.json's `remoteEnv` is kept (same
/// format, read after [`CLAIMED_ENV_FILE`], so it wins), with
/// [`WORKSPACE_FOLDER_VAR`]: what the spec gives "tools" — terminals, SSH.
pub const REMOTE_ENV_FILE: &str = "/etc/aicockpit/remote-env";
/// The configuration's `workspaceFolder`, where terminals open.
pub const WORKSPACE_FOLDER_VAR: &str = "AICOCKPIT_WORKSPACE_FOLDER";
/// In [`REMOTE_ENV_FILE`]: the names `remoteEnv` unsets (a `null` value),
/// separated by spaces; they are removed from what terminals and SSH
/// sessions inherit (the image's `ENV`, `containerEnv`, the claimed
/// environment). A name with whitespace in it cannot be listed.
pub const UNSET_VARS_VAR: &str = "AICOCKPIT_REMOTE_ENV_UNSET";
/// The most of the file that is read (the server's own limit on a
/// workspace's environment is below it).
pub const MAX_CLAIMED_ENV: usize = 256 * 1024;

/// The file's content for `env`; a pair that could not be read back as
/// itself (a NUL anywhere, `=` or nothing in the name) is left out, and
/// so is whatever would not fit in [`MAX_CLAIMED_ENV`].
pub fn encode_claimed_env(env: &BTreeMap<String, String>) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in env {
        if k.is_empty() || k.contains(['=', '\0']) || v.contains('\0') {
            continue;
        }
        if out.len() + k.len() + v.len() + 2 > MAX_CLAIMED_ENV {
            break;
        }
        out.extend_from_slice(k.as_bytes());
        out.push(b'=');
        out.extend_from_slice(v.as_bytes());
        out.push(0);
    }
    out
}

/// The pairs of a file's content: at most [`MAX_CLAIMED_ENV`] bytes are
/// looked at; pairs that are not UTF-8, have no `=` or an empty name are
/// skipped.
pub fn decode_claimed_env(bytes: &[u8]) -> Vec<(String, String)> {
    let bytes = &bytes[..bytes.len().min(MAX_CLAIMED_ENV)];
    bytes
        .split(|b| *b == 0)
        .filter_map(|pair| {
            let text = std::str::from_utf8(pair).ok()?;
            let (k, v) = text.split_once('=')?;
            (!k.is_empty()).then(|| (k.to_owned(), v.to_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_hostile_content() {
        let env = BTreeMap::from([
            ("A".to_owned(), "1".to_owned()),
            ("B".to_owned(), "x=y z".to_owned()),
            ("EMPTY".to_owned(), String::new()),
        ]);
        let back = decode_claimed_env(&encode_claimed_env(&env));
        assert_eq!(back.into_iter().collect::<BTreeMap<_, _>>(), env);
        // (content, pairs taken)
        let table: &[(&[u8], usize)] = &[
            (b"", 0),
            (b"\0\0\0", 0),
            (b"=novalue\0", 0),
            (b"NOEQUALS\0", 0),
            (b"\xff\xfe=1\0OK=1\0", 1),
            (b"A=1\0B=2", 2),
        ];
        for (content, want) in table {
            assert_eq!(decode_claimed_env(content).len(), *want, "{content:?}");
        }
        let huge = vec![b'A'; MAX_CLAIMED_ENV * 2];
        assert!(decode_claimed_env(&huge).is_empty());
    }
}
