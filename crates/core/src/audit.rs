//! The audit log: every AI action and every workspace action by users,
//! appended with a hash chain (each row's hash covers its content and the
//! previous row's hash), so that editing, deleting or reordering stored rows
//! is detected by [`Audit::verify`] (`aicockpit audit verify`).
//!
//! Rows removed at the end leave a valid but shorter chain, so the head
//! (last row and its hash) is also published after every append: in a file
//! beside the data (`audit-head.json`, MACed with a key only the server
//! holds), in the log and in `/metrics`. `verify` compares the chain with
//! the published head.

use aicockpit_store::{AuditRecord, Store, StoreError};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What happened, before it is numbered and chained.
#[derive(Debug, Clone, Default)]
pub struct Entry {
    /// A user id, or `agent:<run id>` for the AI.
    pub actor: String,
    pub workspace_id: Option<String>,
    /// `workspace.create`, `agent.tool.run_command`, …
    pub action: String,
    pub detail: Value,
    /// `allow`, `ask`, `deny`, `approved`, `rejected`.
    pub decision: Option<String>,
    pub approved_by: Option<String>,
    /// A short summary of the outcome.
    pub result: Option<String>,
}

impl Entry {
    /// A plain row: `actor` did `action` (in `workspace`), and it worked.
    pub fn done(actor: &str, workspace: Option<&str>, action: &str, detail: Value) -> Entry {
        Entry {
            actor: actor.to_owned(),
            workspace_id: workspace.map(str::to_owned),
            action: action.to_owned(),
            detail,
            result: Some("ok".into()),
            ..Default::default()
        }
    }

    /// The same with another outcome (`failed`, `started`, …).
    pub fn with_result(mut self, result: &str) -> Entry {
        self.result = Some(result.to_owned());
        self
    }
}

/// What stands for content in a row: its SHA-256 and size, never the bytes.
pub fn digest(content: &[u8]) -> Value {
    json!({"sha256": hex(&Sha256::digest(content)), "bytes": content.len()})
}

/// The hash of a row: SHA-256 over a canonical JSON array of its fields and
/// the previous hash.
pub fn row_hash(r: &AuditRecord) -> String {
    let canonical = serde_json::json!([
        r.prev_hash,
        r.seq,
        r.at,
        r.actor,
        r.workspace_id,
        r.action,
        r.detail,
        r.decision,
        r.approved_by,
        r.result
    ]);
    hex(&Sha256::digest(canonical.to_string().as_bytes()))
}

/// The export document: every field that enters each row's hash exactly as
/// hashed, the recipe, and the chain head.
pub fn export_json(rows: &[AuditRecord], head: Option<(i64, String)>) -> Value {
    let rows: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "seq": r.seq, "at": r.at, "actor": r.actor, "workspace_id": r.workspace_id,
                "action": r.action, "detail": r.detail, "decision": r.decision,
                "approved_by": r.approved_by, "result": r.result,
                "prev_hash": r.prev_hash, "hash": r.hash,
            })
        })
        .collect();
    json!({
        "format": "aicockpit-audit/1",
        "hash": HASH_RECIPE,
        "genesis": GENESIS,
        "head": head.map(|(seq, hash)| json!({"seq": seq, "hash": hash})),
        "rows": rows,
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub rows: u64,
    /// The first row that does not fit the chain, and why.
    pub broken: Option<(i64, String)>,
}

/// What enters a row's hash, described for independent verifiers.
pub const HASH_RECIPE: &str = "sha256 of the compact JSON array [prev_hash, seq, at, actor, workspace_id, action, detail, decision, approved_by, result] (detail as its stored string, absent values as null, no spaces, non-ASCII as UTF-8); the first prev_hash is 64 zeros";

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The published chain head: a file, MACed with the server's audit key.
pub struct HeadFile {
    path: PathBuf,
    key: Vec<u8>,
}

impl HeadFile {
    /// The head file in `data_dir`, with its key (`audit.key`, 32 random
    /// bytes, mode 0600, made on first use).
    pub fn open(data_dir: &Path) -> std::io::Result<HeadFile> {
        let key_path = data_dir.join("audit.key");
        let key = crate::keyfile::load_or_create(&key_path)?;
        Ok(HeadFile {
            path: data_dir.join("audit-head.json"),
            key,
        })
    }

    fn mac(&self, seq: i64, hash: &str) -> String {
        // Any key length is accepted by HMAC.
        let Ok(mut m) = Hmac::<Sha256>::new_from_slice(&self.key) else {
            return String::new();
        };
        m.update(format!("aicockpit-audit-head:{seq}:{hash}").as_bytes());
        hex(&m.finalize().into_bytes())
    }

    fn write(&self, seq: i64, hash: &str) -> std::io::Result<()> {
        let body = json!({"seq": seq, "hash": hash, "mac": self.mac(seq, hash)}).to_string();
        let tmp = self.path.with_extension("json.tmp");
        std::fs::write(&tmp, body)?;
        std::fs::rename(&tmp, &self.path)
    }

    /// The published head, if any; an error when it does not verify.
    pub fn read(&self) -> Result<Option<(i64, String)>, String> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.to_string()),
        };
        let v: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        let (Some(seq), Some(hash), Some(mac)) =
            (v["seq"].as_i64(), v["hash"].as_str(), v["mac"].as_str())
        else {
            return Err("the head file is incomplete".into());
        };
        if self.mac(seq, hash) != mac {
            return Err("the head file's MAC does not match (altered)".into());
        }
        Ok(Some((seq, hash.to_owned())))
    }
}

pub struct Audit {
    store: Store,
    /// One appender at a time in this process; the primary key on `seq`
    /// catches another process appending concurrently.
    lock: tokio::sync::Mutex<()>,
    head_file: Option<HeadFile>,
    head: std::sync::Mutex<Option<(i64, String)>>,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Audit {
    pub fn new(store: Store) -> Audit {
        Audit {
            store,
            lock: tokio::sync::Mutex::new(()),
            head_file: None,
            head: std::sync::Mutex::new(None),
        }
    }

    /// Publishes the head to (and checks it against) `file`.
    pub fn with_head_file(mut self, file: HeadFile) -> Audit {
        self.head_file = Some(file);
        self
    }

    /// Takes the chain's current head from the database (at start-up).
    pub async fn load_head(&self) -> Result<(), StoreError> {
        let head = self.store.audit_head().await?;
        *self.head.lock().unwrap_or_else(|p| p.into_inner()) = head;
        Ok(())
    }

    /// The head as published: the head file (which the command line
    /// updates too) or, without one, the last row this process appended;
    /// the later of the two. It does not move back when rows are cut from
    /// the database, which is the point.
    pub fn published_head(&self) -> Option<(i64, String)> {
        let mine = self.head();
        let file = self
            .head_file
            .as_ref()
            .and_then(|f| f.read().ok().flatten());
        match (mine, file) {
            (Some(m), Some(f)) => Some(if f.0 > m.0 { f } else { m }),
            (m, f) => m.or(f),
        }
    }

    /// The chain's last row (seq, hash), as last appended or loaded.
    pub fn head(&self) -> Option<(i64, String)> {
        self.head.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn publish(&self, seq: i64, hash: &str) {
        *self.head.lock().unwrap_or_else(|p| p.into_inner()) = Some((seq, hash.to_owned()));
        tracing::info!(target: "aicockpit::audit", seq, hash, "audit head");
        if let Some(f) = &self.head_file {
            if let Err(e) = f.write(seq, hash) {
                tracing::error!(error = %e, "could not publish the audit head");
            }
        }
    }

    pub async fn record(&self, e: Entry) -> Result<AuditRecord, StoreError> {
        let _g = self.lock.lock().await;
        for _ in 0..5 {
            let (seq, prev) = match self.store.audit_head().await? {
                Some((s, h)) => (s + 1, h),
                None => (1, GENESIS.to_owned()),
            };
            let mut rec = AuditRecord {
                seq,
                at: now_ms(),
                actor: e.actor.clone(),
                workspace_id: e.workspace_id.clone(),
                action: e.action.clone(),
                detail: e.detail.to_string(),
                decision: e.decision.clone(),
                approved_by: e.approved_by.clone(),
                result: e.result.clone(),
                prev_hash: prev,
                hash: String::new(),
            };
            rec.hash = row_hash(&rec);
            match self.store.insert_audit(&rec).await {
                Ok(()) => {
                    self.publish(rec.seq, &rec.hash);
                    return Ok(rec);
                }
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Conflict)
    }

    /// Records a change that has happened; a row that cannot be written is
    /// logged as an error (the change cannot be taken back).
    pub async fn note(&self, e: Entry) {
        let action = e.action.clone();
        if let Err(err) = self.record(e).await {
            tracing::error!(error = %err, action, "could not append to the audit log");
        }
    }

    /// Records an action about to happen: when the row cannot be written the
    /// action must not run (fail closed), so this is an error.
    pub async fn before(&self, e: Entry) -> Result<(), crate::CoreError> {
        self.record(e)
            .await
            .map(|_| ())
            .map_err(crate::CoreError::from)
    }

    /// Walks the whole chain, then holds it against the published head.
    pub async fn verify(&self) -> Result<VerifyReport, StoreError> {
        let published = match &self.head_file {
            Some(f) => match f.read() {
                Ok(h) => h,
                Err(why) => {
                    return Ok(VerifyReport {
                        rows: 0,
                        broken: Some((0, format!("the published head does not verify: {why}"))),
                    })
                }
            },
            None => None,
        };
        let mut prev = GENESIS.to_owned();
        let mut expect_seq = 1i64;
        let mut rows = 0u64;
        let mut after = 0i64;
        let mut hash_at_head: Option<String> = None;
        loop {
            let batch = self.store.audit_rows(None, after, 1000).await?;
            if batch.is_empty() {
                break;
            }
            for r in batch {
                rows += 1;
                let broken = if r.seq != expect_seq {
                    Some(format!(
                        "row {expect_seq} is missing (found {} next)",
                        r.seq
                    ))
                } else if r.prev_hash != prev {
                    Some("its previous-hash does not match the row before it".to_owned())
                } else if row_hash(&r) != r.hash {
                    Some("its content does not match its hash (edited)".to_owned())
                } else {
                    None
                };
                if let Some(why) = broken {
                    return Ok(VerifyReport {
                        rows,
                        broken: Some((r.seq, why)),
                    });
                }
                if published.as_ref().is_some_and(|(s, _)| *s == r.seq) {
                    hash_at_head = Some(r.hash.clone());
                }
                prev = r.hash.clone();
                expect_seq = r.seq + 1;
                after = r.seq;
            }
        }
        if let Some((seq, hash)) = published {
            let last = expect_seq - 1;
            if seq > last {
                return Ok(VerifyReport {
                    rows,
                    broken: Some((
                        last + 1,
                        format!(
                            "rows {}-{seq} were removed: the published head is row {seq}",
                            last + 1
                        ),
                    )),
                });
            }
            if hash_at_head.as_deref() != Some(hash.as_str()) {
                return Ok(VerifyReport {
                    rows,
                    broken: Some((seq, "it differs from the published head".to_owned())),
                });
            }
        }
        Ok(VerifyReport { rows, broken: None })
    }
}
