//! Each user's dotfiles repository: a git URL (and a branch or tag) that
//! every new workspace of theirs installs into the user's home — its
//! install script if it has one, otherwise links to its dotfiles. Kept as
//! a setting per user; the install itself is `workspaces::dotfiles`.
//!
//! Only the user sets theirs, never an AI run acting for them: it decides
//! what runs in every workspace they make next.

use crate::access::{can, Action, Resource};
use crate::audit::{Audit, Entry};
use crate::auth::Principal;
use crate::workspaces::git::GitSource;
use crate::CoreError;
use aicockpit_store::Store;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::Arc;

/// A dotfiles repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DotfilesRepo {
    /// As for creating a workspace from git (`https://`, `ssh://`, …).
    pub url: String,
    /// A branch or tag (default: the repository's default branch).
    pub reference: Option<String>,
}

impl DotfilesRepo {
    /// The clone it is, checked as a workspace's repository is.
    pub(crate) fn source(&self) -> GitSource {
        GitSource {
            url: self.url.clone(),
            reference: self.reference.clone(),
            depth: Some(1),
            submodules: false,
        }
    }
}

/// The settings key of `user_id`'s repository.
fn settings_key(user_id: &str) -> String {
    format!("user:{user_id}:dotfiles")
}

/// `user_id`'s repository, if they set one; a setting that cannot be read
/// is an error (installing something else than they chose is worse).
pub(crate) async fn of_user(
    store: &Store,
    user_id: &str,
) -> Result<Option<DotfilesRepo>, CoreError> {
    match store.setting(&settings_key(user_id)).await? {
        None => Ok(None),
        Some(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| CoreError::Internal(format!("the dotfiles setting of {user_id}: {e}"))),
    }
}

pub struct Dotfiles {
    store: Store,
    audit: Arc<Audit>,
}

impl Dotfiles {
    pub fn new(store: Store, audit: Arc<Audit>) -> Dotfiles {
        Dotfiles { store, audit }
    }

    /// The caller's repository, if they set one.
    pub async fn get(&self, p: &Principal) -> Result<Option<DotfilesRepo>, CoreError> {
        of_user(&self.store, &p.user_id).await
    }

    /// Sets the caller's repository (for workspaces made from now on).
    pub async fn set(&self, p: &Principal, repo: DotfilesRepo) -> Result<DotfilesRepo, CoreError> {
        may_change(p)?;
        repo.source().validate()?;
        let text = serde_json::to_string(&repo).map_err(|e| CoreError::Internal(e.to_string()))?;
        self.store
            .set_setting(&settings_key(&p.user_id), &text)
            .await?;
        self.audit
            .note(Entry::done(
                &p.actor(),
                None,
                "dotfiles.set",
                json!({"url": repo.url, "ref": repo.reference}),
            ))
            .await;
        Ok(repo)
    }

    /// Forgets the caller's repository.
    pub async fn remove(&self, p: &Principal) -> Result<(), CoreError> {
        may_change(p)?;
        // Whatever is stored (even unreadable) can be removed.
        if self
            .store
            .setting(&settings_key(&p.user_id))
            .await?
            .is_none()
        {
            return Err(CoreError::NotFound(
                "you have no dotfiles repository".into(),
            ));
        }
        self.store.delete_setting(&settings_key(&p.user_id)).await?;
        self.audit
            .note(Entry::done(&p.actor(), None, "dotfiles.delete", json!({})))
            .await;
        Ok(())
    }
}

fn may_change(p: &Principal) -> Result<(), CoreError> {
    can(p, Action::Change, Resource::NewWorkspace)?;
    if p.run.is_some() {
        return Err(CoreError::Forbidden(
            "an AI run cannot change what new workspaces install".into(),
        ));
    }
    Ok(())
}
