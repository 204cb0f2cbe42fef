//! Per-user quotas: how many workspaces a user may have and run, and how
//! many CPUs and how much memory their running workspaces may take
//! together. Server defaults come from `workspaces.quota_*`; admins set
//! others per user (kept in settings as `quota:<user id>`). [`check`] is the
//! whole rule, pure and table-tested; the manager asks it before a create
//! and before a start, under a per-owner lock so that two requests cannot
//! both take the last slot.

use super::manager::WorkspaceManager;
use super::model::WorkspaceState;
use crate::access::{can, Action, Resource};
use crate::audit::Entry;
use crate::auth::Principal;
use crate::config::WorkspacesConfig;
use crate::CoreError;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// A user's own quota; what is None follows the server's default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuotaOverride {
    pub workspaces: Option<u32>,
    pub running: Option<u32>,
    pub cpus: Option<f64>,
    pub memory_mb: Option<i64>,
}

/// The quota in force (0: no limit).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quota {
    pub workspaces: u32,
    pub running: u32,
    pub cpus: f64,
    pub memory_mb: i64,
}

impl Quota {
    pub fn of(lim: &WorkspacesConfig, own: &QuotaOverride) -> Quota {
        Quota {
            workspaces: own.workspaces.unwrap_or(lim.quota_workspaces),
            running: own.running.unwrap_or(lim.quota_running),
            cpus: own.cpus.unwrap_or(lim.quota_cpus),
            memory_mb: own.memory_mb.unwrap_or(lim.quota_memory_mb),
        }
    }
}

/// What a user holds now.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Holding {
    pub workspaces: u32,
    pub running: u32,
    pub cpus: f64,
    pub memory_mb: i64,
}

/// What is asked for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Ask {
    /// A new workspace, which starts at once.
    Create { cpus: f64, memory_mb: i64 },
    /// Starting a stopped one.
    Start { cpus: f64, memory_mb: i64 },
    /// More for one that runs (its devcontainer's host requirements).
    Grow { cpus: f64, memory_mb: i64 },
}

fn exceeded(message: String) -> CoreError {
    CoreError::conflict("quota_exceeded", message)
}

/// Whether `ask` fits `quota` given `holding`; the error says which limit
/// and where the user stands.
pub fn check(quota: &Quota, holding: &Holding, ask: Ask) -> Result<(), CoreError> {
    let (cpus, memory_mb) = match ask {
        Ask::Create { cpus, memory_mb } => {
            if quota.workspaces > 0 && holding.workspaces >= quota.workspaces {
                return Err(exceeded(format!(
                    "you have {} of the {} workspaces your quota allows: delete one, or ask an admin to raise it",
                    holding.workspaces, quota.workspaces
                )));
            }
            (cpus, memory_mb)
        }
        Ask::Start { cpus, memory_mb } => (cpus, memory_mb),
        Ask::Grow { cpus, memory_mb } => (cpus, memory_mb),
    };
    let starts = !matches!(ask, Ask::Grow { .. });
    if starts && quota.running > 0 && holding.running >= quota.running {
        return Err(exceeded(format!(
            "you run {} of the {} workspaces your quota allows at once: stop one, or ask an admin to raise it",
            holding.running, quota.running
        )));
    }
    // A thousandth of a CPU of slack: limits are kept in thousandths.
    if quota.cpus > 0.0 && holding.cpus + cpus > quota.cpus + 0.0005 {
        return Err(exceeded(format!(
            "your running workspaces use {} of your {} CPUs and this one needs {cpus}",
            holding.cpus, quota.cpus
        )));
    }
    if quota.memory_mb > 0 && holding.memory_mb + memory_mb > quota.memory_mb {
        return Err(exceeded(format!(
            "your running workspaces use {} of your {} MiB of memory and this one needs {memory_mb} MiB",
            holding.memory_mb, quota.memory_mb
        )));
    }
    Ok(())
}

fn key(user_id: &str) -> String {
    format!("quota:{user_id}")
}

impl WorkspaceManager {
    /// `user_id`'s own quota settings.
    async fn quota_override(&self, user_id: &str) -> Result<QuotaOverride, CoreError> {
        match self.store.setting(&key(user_id)).await? {
            None => Ok(QuotaOverride::default()),
            Some(v) => serde_json::from_str(&v)
                .map_err(|e| CoreError::Internal(format!("quota of {user_id}: {e}"))),
        }
    }

    /// The quota in force for `user_id` and what they hold now.
    pub async fn quota_of(&self, user_id: &str) -> Result<(Quota, Holding), CoreError> {
        let own = self.quota_override(user_id).await?;
        let quota = Quota::of(&self.opts.limits, &own);
        let mut h = Holding::default();
        for w in self.store.list_workspaces(Some(user_id)).await? {
            h.workspaces += 1;
            let live = matches!(
                WorkspaceState::parse(&w.state),
                WorkspaceState::Running | WorkspaceState::Starting | WorkspaceState::Creating
            );
            if live {
                h.running += 1;
                h.cpus += w.cpu_millis as f64 / 1000.0;
                h.memory_mb += w.memory_mb;
            }
        }
        Ok((quota, h))
    }

    /// The caller's own quota and holding.
    pub async fn my_quota(&self, p: &Principal) -> Result<(Quota, Holding), CoreError> {
        self.quota_of(&p.user_id).await
    }

    /// Another user's quota (admins).
    pub async fn user_quota(
        &self,
        p: &Principal,
        user_id: &str,
    ) -> Result<(Quota, Holding, QuotaOverride), CoreError> {
        can(p, Action::Administer, Resource::Instance)?;
        self.store.user_by_id(user_id).await.map_err(|e| match e {
            aicockpit_store::StoreError::NotFound => {
                CoreError::NotFound(format!("no user {user_id:?}"))
            }
            other => other.into(),
        })?;
        let own = self.quota_override(user_id).await?;
        let (quota, holding) = self.quota_of(user_id).await?;
        Ok((quota, holding, own))
    }

    /// Sets a user's own quota (admins); None fields follow the default.
    pub async fn set_user_quota(
        &self,
        p: &Principal,
        user_id: &str,
        own: QuotaOverride,
    ) -> Result<(Quota, Holding, QuotaOverride), CoreError> {
        can(p, Action::Administer, Resource::Instance)?;
        if own.cpus.is_some_and(|c| !(0.0..=1_000_000.0).contains(&c))
            || own.memory_mb.is_some_and(|m| m < 0)
        {
            return Err(CoreError::invalid(
                "invalid_quota",
                "quotas are 0 (no limit) or positive",
            ));
        }
        self.user_quota(p, user_id).await?;
        let value = serde_json::to_string(&own).map_err(|e| CoreError::Internal(e.to_string()))?;
        self.store.set_setting(&key(user_id), &value).await?;
        let e = Entry::done(
            &p.actor(),
            None,
            "quota.set",
            json!({"user": user_id, "quota": own}),
        );
        self.audit.note(e).await;
        self.user_quota(p, user_id).await
    }

    /// Refuses `ask` for `owner` when it would exceed their quota (unless
    /// the caller is not held back by quotas). Call under [`Self::quota_gate`].
    pub(super) async fn check_quota(
        &self,
        p: &Principal,
        owner: &str,
        ask: Ask,
    ) -> Result<(), CoreError> {
        if !crate::access::bound_by_quota(p) {
            return Ok(());
        }
        let (quota, holding) = self.quota_of(owner).await?;
        check(&quota, &holding, ask)
    }

    /// Serialises quota-checked changes of one owner.
    pub(super) fn quota_gate(&self, owner: &str) -> std::sync::Arc<tokio::sync::Mutex<()>> {
        self.lock_for(&format!("quota:{owner}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(r: Result<(), CoreError>) -> &'static str {
        match r {
            Ok(()) => "ok",
            Err(CoreError::Conflict { code, .. }) => code,
            Err(_) => "other",
        }
    }

    #[test]
    fn quotas_refuse_what_does_not_fit() {
        let q = Quota {
            workspaces: 3,
            running: 2,
            cpus: 4.0,
            memory_mb: 4096,
        };
        let none = Quota {
            workspaces: 0,
            running: 0,
            cpus: 0.0,
            memory_mb: 0,
        };
        let h = |workspaces, running, cpus, memory_mb| Holding {
            workspaces,
            running,
            cpus,
            memory_mb,
        };
        let create = |cpus, memory_mb| Ask::Create { cpus, memory_mb };
        let start = |cpus, memory_mb| Ask::Start { cpus, memory_mb };
        let cases = [
            (q, h(0, 0, 0.0, 0), create(1.0, 1024), "ok"),
            (q, h(2, 1, 2.0, 2048), create(2.0, 2048), "ok"),
            (q, h(3, 0, 0.0, 0), create(1.0, 1024), "quota_exceeded"),
            (q, h(3, 1, 1.0, 1024), start(1.0, 1024), "ok"),
            (q, h(2, 2, 2.0, 2048), create(1.0, 1024), "quota_exceeded"),
            (q, h(2, 2, 2.0, 2048), start(1.0, 1024), "quota_exceeded"),
            (q, h(1, 1, 3.5, 1024), create(1.0, 1024), "quota_exceeded"),
            (q, h(1, 1, 3.0, 1024), create(1.0, 1024), "ok"),
            (q, h(1, 1, 0.1, 3584), create(0.5, 1024), "quota_exceeded"),
            (q, h(1, 1, 0.1, 3072), start(0.5, 1024), "ok"),
            (none, h(999, 999, 999.0, 999_999), create(64.0, 65536), "ok"),
        ];
        for (i, (quota, holding, ask, want)) in cases.into_iter().enumerate() {
            assert_eq!(code(check(&quota, &holding, ask)), want, "case {i}");
        }
    }

    #[test]
    fn own_settings_override_the_defaults_one_by_one() {
        let lim = WorkspacesConfig::default();
        let own = QuotaOverride {
            workspaces: Some(1),
            cpus: Some(2.0),
            ..Default::default()
        };
        let q = Quota::of(&lim, &own);
        assert_eq!(q.workspaces, 1);
        assert_eq!(q.running, lim.quota_running);
        assert_eq!(q.cpus, 2.0);
        assert_eq!(q.memory_mb, lim.quota_memory_mb);
    }
}
