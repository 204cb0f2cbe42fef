//! How many asks a workspace may make of the server per minute for what it
//! holds for the workspace's owner (git credentials, SSH signatures): every
//! ask counts before anything is looked up or written, so a loop inside
//! (or a hostile one) cannot flood the store or the audit record.

use crate::audit::{Audit, Entry};
use aicockpit_store::Store;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Where a workspace stands with its asks this minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    Within,
    /// The first ask over: to be noted once on the record.
    JustSpent,
    Spent,
}

/// Asks per workspace (by its container) in the current minute.
pub struct AskBudget {
    per_minute: u32,
    asks: Mutex<HashMap<String, (Instant, u32)>>,
}

impl AskBudget {
    pub fn new(per_minute: u32) -> AskBudget {
        AskBudget {
            per_minute,
            asks: Mutex::new(HashMap::new()),
        }
    }

    pub fn per_minute(&self) -> u32 {
        self.per_minute
    }

    /// Counts an ask from workspace `ws`.
    pub fn count(&self, ws: &str) -> Budget {
        let mut m = self.asks.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        m.retain(|_, (since, _)| now.duration_since(*since) < Duration::from_secs(60));
        let (_, n) = m.entry(ws.to_owned()).or_insert((now, 0));
        *n = n.saturating_add(1);
        match (*n).cmp(&(self.per_minute + 1)) {
            std::cmp::Ordering::Less => Budget::Within,
            std::cmp::Ordering::Equal => Budget::JustSpent,
            std::cmp::Ordering::Greater => Budget::Spent,
        }
    }
}

impl AskBudget {
    /// Admits an ask from `container`: counted first, then its workspace
    /// and owner looked up (None for no workspace or a disabled owner).
    /// The first ask past the budget is noted on the record once, as
    /// `throttled_action` with `detail`.
    pub async fn admit(
        &self,
        store: &Store,
        audit: &Audit,
        container: &str,
        throttled_action: &str,
        mut detail: Value,
    ) -> Option<(String, String)> {
        let budget = self.count(container);
        if budget == Budget::Spent {
            return None;
        }
        let (ws, owner) = match store.workspace_id_by_container(container).await {
            Ok(found) => found?,
            Err(e) => {
                tracing::warn!(error = %e, "looking up a workspace by its container failed");
                return None;
            }
        };
        if budget == Budget::JustSpent {
            detail["per_minute"] = self.per_minute.into();
            let e =
                Entry::done("system", Some(&ws), throttled_action, detail).with_result("throttled");
            audit.note(e).await;
            return None;
        }
        Some((ws, owner))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_workspace_gets_its_share_and_one_note_past_it() {
        let b = AskBudget::new(3);
        let seen: Vec<Budget> = (0..6).map(|_| b.count("w")).collect();
        assert_eq!(
            seen,
            vec![
                Budget::Within,
                Budget::Within,
                Budget::Within,
                Budget::JustSpent,
                Budget::Spent,
                Budget::Spent
            ]
        );
        assert_eq!(b.count("other"), Budget::Within);
    }
}
