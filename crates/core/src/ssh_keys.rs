//! Users' SSH key pairs, made by the server: an Ed25519 key per user, the
//! public half shown (to paste into a git host), the private half sealed at
//! rest and never handed out. Inside the user's workspaces, the workspace's
//! SSH agent passes OpenSSH's requests here ([`SshKeys::answer`]): the
//! owner's public key, and signatures by it — each one audited.

use crate::ask_budget::AskBudget;
use crate::audit::{Audit, Entry};
use crate::auth::Principal;
use crate::secrets::SecretBox;
use crate::{now_ms, CoreError};
use aicockpit_store::{SshKeyRecord, Store, StoreError};
use aicockpit_workspace_agent_proto::{SshAgentAsk, SshAgentReply, SshIdentity};
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use tracing::warn;

/// Agent requests a workspace may make per minute.
const MAX_ASKS_PER_MINUTE: u32 = 120;
const ALGORITHM: &str = "ssh-ed25519";

/// A user's key as they may see it.
#[derive(Debug, Clone)]
pub struct SshKeyInfo {
    /// OpenSSH's one-line form (`ssh-ed25519 AAAA… comment`).
    pub public_key: String,
    /// `SHA256:…`, as `ssh-keygen -l` shows it.
    pub fingerprint: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

impl From<SshKeyRecord> for SshKeyInfo {
    fn from(r: SshKeyRecord) -> Self {
        SshKeyInfo {
            public_key: r.public_key,
            fingerprint: r.fingerprint,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
        }
    }
}

/// SSH wire encoding of a byte string: its length, then it.
fn put_string(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// The public key's wire blob (RFC 8709).
fn public_blob(key: &SigningKey) -> Vec<u8> {
    let mut b = Vec::new();
    put_string(&mut b, ALGORITHM.as_bytes());
    put_string(&mut b, key.verifying_key().as_bytes());
    b
}

fn fingerprint(blob: &[u8]) -> String {
    let digest = Sha256::digest(blob);
    format!(
        "SHA256:{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest)
    )
}

/// The comment a user's key carries (where it came from).
fn comment(username: &str) -> String {
    let clean: String = username
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .take(64)
        .collect();
    format!("aicockpit:{clean}")
}

pub struct SshKeys {
    store: Store,
    secrets: SecretBox,
    audit: Arc<Audit>,
    asks: AskBudget,
}

impl SshKeys {
    pub fn new(store: Store, secrets: SecretBox, audit: Arc<Audit>) -> SshKeys {
        SshKeys {
            store,
            secrets,
            audit,
            asks: AskBudget::new(MAX_ASKS_PER_MINUTE),
        }
    }

    /// The caller's key, if they have one.
    pub async fn get(&self, p: &Principal) -> Result<Option<SshKeyInfo>, CoreError> {
        Ok(self.store.ssh_key(&p.user_id).await?.map(Into::into))
    }

    /// Makes a new key pair for the caller, replacing the one they had.
    pub async fn generate(&self, p: &Principal) -> Result<SshKeyInfo, CoreError> {
        crate::access::can(
            p,
            crate::access::Action::Change,
            crate::access::Resource::NewWorkspace,
        )?;
        let seed: [u8; 32] = rand::random();
        let key = SigningKey::from_bytes(&seed);
        let blob = public_blob(&key);
        let public_key = format!(
            "{ALGORITHM} {} {}",
            base64::engine::general_purpose::STANDARD.encode(&blob),
            comment(&p.username)
        );
        let hex: String = seed.iter().map(|b| format!("{b:02x}")).collect();
        let secret = self
            .secrets
            .seal(&hex)
            .map_err(|e| CoreError::Internal(e.to_string()))?;
        let rec = SshKeyRecord {
            user_id: p.user_id.clone(),
            public_key,
            fingerprint: fingerprint(&blob),
            secret,
            created_at: now_ms(),
            last_used_at: None,
        };
        self.store.put_ssh_key(&rec).await?;
        self.audit
            .note(Entry::done(
                &p.actor(),
                None,
                "ssh_key.create",
                json!({"fingerprint": rec.fingerprint}),
            ))
            .await;
        Ok(rec.into())
    }

    /// Deletes the caller's key.
    pub async fn remove(&self, p: &Principal) -> Result<(), CoreError> {
        let fingerprint = match self.store.delete_ssh_key(&p.user_id).await {
            Err(StoreError::NotFound) => {
                return Err(CoreError::NotFound("you have no SSH key".into()))
            }
            r => r?,
        };
        let detail = json!({"fingerprint": fingerprint});
        self.audit
            .note(Entry::done(&p.actor(), None, "ssh_key.delete", detail))
            .await;
        Ok(())
    }

    /// Answers the SSH agent of the container `container`: its owner's
    /// public key, or a signature by it of exactly what was asked; nothing
    /// for anyone else's key, a disabled owner, or past the budget.
    pub async fn answer(&self, container: &str, ask: &SshAgentAsk) -> Option<SshAgentReply> {
        if !ask.is_bounded() {
            return None;
        }
        let (ws, owner) = self
            .asks
            .admit(
                &self.store,
                &self.audit,
                container,
                "ssh_key.throttled",
                json!({}),
            )
            .await?;
        let rec = match self.store.ssh_key(&owner).await {
            Ok(Some(r)) => r,
            Ok(None) => {
                return match ask {
                    SshAgentAsk::Identities => Some(SshAgentReply::Identities { keys: vec![] }),
                    SshAgentAsk::Sign { .. } => None,
                }
            }
            Err(e) => {
                warn!(error = %e, "ssh key lookup failed");
                return None;
            }
        };
        let key = match self.open(&rec) {
            Some(k) => k,
            None => {
                warn!(user = %owner, "an SSH key does not open");
                return None;
            }
        };
        let blob = public_blob(&key);
        match ask {
            SshAgentAsk::Identities => Some(SshAgentReply::Identities {
                keys: vec![SshIdentity {
                    blob,
                    comment: rec.public_key.rsplit(' ').next().unwrap_or("").to_owned(),
                }],
            }),
            SshAgentAsk::Sign { key_blob, data, .. } => {
                if *key_blob != blob {
                    return None;
                }
                let signature = key.sign(data);
                let mut out = Vec::new();
                put_string(&mut out, ALGORITHM.as_bytes());
                put_string(&mut out, &signature.to_bytes());
                let _ = self.store.touch_ssh_key(&owner, now_ms()).await;
                let detail = json!({
                    "fingerprint": rec.fingerprint,
                    "data_sha256": Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect::<String>(),
                });
                self.audit
                    .note(Entry::done("system", Some(&ws), "ssh_key.use", detail))
                    .await;
                Some(SshAgentReply::Signature { blob: out })
            }
        }
    }

    fn open(&self, rec: &SshKeyRecord) -> Option<SigningKey> {
        let hex = self.secrets.open(&rec.secret).ok()?;
        if hex.len() != 64 {
            return None;
        }
        let mut seed = [0u8; 32];
        for (i, b) in seed.iter_mut().enumerate() {
            *b = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(SigningKey::from_bytes(&seed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signature, Verifier};

    #[test]
    fn the_wire_forms_are_openssh_s() {
        let key = SigningKey::from_bytes(&[7u8; 32]);
        let blob = public_blob(&key);
        // string "ssh-ed25519", string key(32)
        assert_eq!(&blob[..4], &[0, 0, 0, 11]);
        assert_eq!(&blob[4..15], b"ssh-ed25519");
        assert_eq!(&blob[15..19], &[0, 0, 0, 32]);
        assert_eq!(&blob[19..], key.verifying_key().as_bytes());
        assert!(fingerprint(&blob).starts_with("SHA256:"));
        assert!(!fingerprint(&blob).ends_with('='));
        let sig = key.sign(b"data");
        assert!(key
            .verifying_key()
            .verify(b"data", &Signature::from_bytes(&sig.to_bytes()))
            .is_ok());
        assert_eq!(comment("alice"), "aicockpit:alice");
        assert_eq!(comment("a b\nc"), "aicockpit:abc");
    }
}
