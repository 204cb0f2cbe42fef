//! SSH into workspaces: each workspace's host key, and connections to the
//! SSH server its agent runs.
//!
//! The host key of a workspace is an Ed25519 key whose seed is
//! HMAC-SHA256(server secret, workspace id): stable across restarts and
//! rebuilds of the container, different for every workspace (whoever is
//! inside one workspace — and so can read its key — cannot pose as
//! another), and nothing to store. Clients pin the public half
//! (`aicockpit config-ssh` writes it to a known-hosts file under the alias
//! `aicockpit-<workspace id>`).
//!
//! Who may connect is who may open a terminal; each connection is on the
//! audit record and its traffic is activity.

use crate::access::Action;
use crate::audit::{Audit, Entry};
use crate::auth::Principal;
use crate::ports::Tunnel;
use crate::workspaces::WorkspaceManager;
use crate::CoreError;
use aicockpit_workspace_agent_proto::Request;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use std::path::Path;
use std::sync::Arc;

/// The secret every workspace's host key is derived from.
pub struct HostKeys {
    secret: Vec<u8>,
}

impl HostKeys {
    /// `ssh-host.key` in the data dir (made on first use).
    pub fn open(data_dir: &Path) -> std::io::Result<HostKeys> {
        Ok(HostKeys {
            secret: crate::keyfile::load_or_create(&data_dir.join("ssh-host.key"))?,
        })
    }

    pub fn from_secret(secret: Vec<u8>) -> HostKeys {
        HostKeys { secret }
    }

    fn seed(&self, workspace_id: &str) -> [u8; 32] {
        let mut seed = [0u8; 32];
        // HMAC takes keys of any length, so this cannot fail.
        if let Ok(mut m) = Hmac::<Sha256>::new_from_slice(&self.secret) {
            m.update(b"aicockpit-ssh-host-key-v1:");
            m.update(workspace_id.as_bytes());
            seed.copy_from_slice(&m.finalize().into_bytes());
        }
        seed
    }

    /// The OpenSSH public key line (`ssh-ed25519 AAAA…`) of a workspace.
    pub fn public_key(&self, workspace_id: &str) -> String {
        let pk = ed25519_dalek::SigningKey::from_bytes(&self.seed(workspace_id))
            .verifying_key()
            .to_bytes();
        format!("ssh-ed25519 {}", wire_public_key(&pk))
    }
}

/// RFC 8709's public key blob: string "ssh-ed25519", string key; base64.
fn wire_public_key(pk: &[u8; 32]) -> String {
    let mut blob = Vec::with_capacity(4 + 11 + 4 + 32);
    for part in [&b"ssh-ed25519"[..], &pk[..]] {
        blob.extend_from_slice(&(part.len() as u32).to_be_bytes());
        blob.extend_from_slice(part);
    }
    base64::engine::general_purpose::STANDARD.encode(blob)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A workspace's host key as clients pin it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HostKey {
    pub workspace_id: String,
    /// The name `known_hosts` lists the key under (`HostKeyAlias`).
    pub alias: String,
    /// `ssh-ed25519 AAAA…`.
    pub public_key: String,
}

pub fn host_alias(workspace_id: &str) -> String {
    format!("aicockpit-{workspace_id}")
}

pub struct WorkspaceSsh {
    workspaces: Arc<WorkspaceManager>,
    audit: Arc<Audit>,
    keys: HostKeys,
}

impl WorkspaceSsh {
    pub fn new(
        workspaces: Arc<WorkspaceManager>,
        audit: Arc<Audit>,
        keys: HostKeys,
    ) -> WorkspaceSsh {
        WorkspaceSsh {
            workspaces,
            audit,
            keys,
        }
    }

    /// The host key of workspace `ws` (anyone who may see it may pin it).
    pub async fn host_key(&self, p: &Principal, ws: &str) -> Result<HostKey, CoreError> {
        let id = self.workspaces.id_of(p, ws, Action::View).await?;
        Ok(HostKey {
            alias: host_alias(&id),
            public_key: self.keys.public_key(&id),
            workspace_id: id,
        })
    }

    /// An SSH connection to workspace `ws`'s agent, carried by the
    /// returned tunnel (audited as `ssh.connect`).
    pub async fn connect(&self, p: &Principal, ws: &str) -> Result<Tunnel, CoreError> {
        let (id, conn) = self.workspaces.agent_of(p, ws, Action::Change).await?;
        let seed = hex(&self.keys.seed(&id));
        let tunnel =
            crate::ports::open_tunnel(&self.workspaces, id, conn, |channel| Request::SshOpen {
                channel,
                host_key_seed: seed,
            })
            .await?;
        let e = Entry::done(
            &p.actor(),
            Some(tunnel.workspace()),
            "ssh.connect",
            json!({}),
        );
        self.audit.note(e).await;
        Ok(tunnel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_keys_are_per_workspace_and_stable() {
        let k = HostKeys::from_secret(vec![7u8; 32]);
        let a = k.public_key("ws-a");
        assert_eq!(a, k.public_key("ws-a"));
        assert_ne!(a, k.public_key("ws-b"));
        assert_ne!(a, HostKeys::from_secret(vec![8u8; 32]).public_key("ws-a"));
        assert!(
            a.starts_with("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI"),
            "{a}"
        );
    }

    /// RFC 8032's first test vector: the derived public key is the one the
    /// seed names, in OpenSSH's encoding.
    #[test]
    fn public_key_encoding_matches_rfc_8032() {
        let seed: [u8; 32] = [
            0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec,
            0x2c, 0xc4, 0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19, 0x70, 0x3b, 0xac, 0x03,
            0x1c, 0xae, 0x7f, 0x60,
        ];
        let pk = ed25519_dalek::SigningKey::from_bytes(&seed)
            .verifying_key()
            .to_bytes();
        assert_eq!(
            hex(&pk),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        );
        let wire = base64::engine::general_purpose::STANDARD
            .decode(wire_public_key(&pk))
            .unwrap_or_default();
        assert_eq!(&wire[..4], &[0, 0, 0, 11]);
        assert_eq!(&wire[4..15], b"ssh-ed25519");
        assert_eq!(&wire[15..19], &[0, 0, 0, 32]);
        assert_eq!(&wire[19..], &pk[..]);
    }
}
