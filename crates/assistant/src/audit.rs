//! The audit log: every AI action and every workspace action by users,
//! appended with a hash chain (each row's hash covers its content and the
//! previous row's hash), so that editing, deleting or reordering stored rows
//! is detected by [`Audit::verify`] (`aicockpit audit verify`).

use aicockpit_store::{AuditRecord, Store, StoreError};
use serde_json::Value;
use sha2::{Digest, Sha256};

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
    let digest = Sha256::digest(canonical.to_string().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub rows: u64,
    /// The first row that does not fit the chain, and why.
    pub broken: Option<(i64, String)>,
}

pub struct Audit {
    store: Store,
    /// One appender at a time in this process; the primary key on `seq`
    /// catches another process appending concurrently.
    lock: tokio::sync::Mutex<()>,
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
                Ok(()) => return Ok(rec),
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Conflict)
    }

    /// Walks the whole chain.
    pub async fn verify(&self) -> Result<VerifyReport, StoreError> {
        let mut prev = GENESIS.to_owned();
        let mut expect_seq = 1i64;
        let mut rows = 0u64;
        let mut after = 0i64;
        loop {
            let batch = self.store.audit_rows(None, after, 1000).await?;
            if batch.is_empty() {
                return Ok(VerifyReport { rows, broken: None });
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
                prev = r.hash.clone();
                expect_seq = r.seq + 1;
                after = r.seq;
            }
        }
    }
}
