//! Users' git credentials: a token per origin (`https://github.com`,
//! `http://git.internal:8080`), sealed at rest like AI keys, served on
//! demand to git inside the user's own workspaces through the workspace
//! agent's credential helper, so no token is ever written into a
//! workspace.
//!
//! *Invariant:* a credential is only ever given to a workspace its owner
//! owns, for exactly its origin (scheme, host and port: a token for
//! `https://host` never goes to `http://host`), and every release is on
//! the audit record; no API answer or log line carries the token.

use crate::ask_budget::AskBudget;
use crate::audit::{Audit, Entry};
use crate::auth::{new_id, Principal};
use crate::secrets::SecretBox;
use crate::{now_ms, CoreError};
use aicockpit_store::{GitCredentialRecord, Store, StoreError};
use aicockpit_workspace_agent_proto::{GitCredential, GitCredentialAsk, GitCredentialOp};
use serde_json::json;
use std::sync::Arc;
use tracing::warn;

/// Credentials per user, at most.
const MAX_PER_USER: usize = 100;
/// Bytes of a token or user name, at most.
const MAX_SECRET: usize = 4096;
const MAX_USERNAME: usize = 256;
/// Asks one workspace may make per minute (gets, and erases after a
/// refusal): a runaway loop (or a hostile one) inside cannot flood the
/// store or the audit record.
const MAX_ASKS_PER_MINUTE: u32 = 60;

/// A stored credential as its owner sees it: never the token.
#[derive(Debug, Clone)]
pub struct GitCredentialInfo {
    pub id: String,
    /// `scheme://host[:port]`.
    pub origin: String,
    pub username: String,
    pub created_ms: i64,
    pub last_used_ms: Option<i64>,
    /// When a git server last refused it (git erased it after a 401).
    pub rejected_ms: Option<i64>,
}

impl From<GitCredentialRecord> for GitCredentialInfo {
    fn from(r: GitCredentialRecord) -> Self {
        GitCredentialInfo {
            id: r.id,
            origin: r.origin,
            username: r.username,
            created_ms: r.created_at,
            last_used_ms: r.last_used_at,
            rejected_ms: r.rejected_at,
        }
    }
}

pub struct GitCredentials {
    store: Store,
    secrets: SecretBox,
    audit: Arc<Audit>,
    /// Asks per workspace in the current minute.
    asks: AskBudget,
}

fn invalid(message: impl Into<String>) -> CoreError {
    CoreError::invalid("invalid_git_credential", message)
}

/// `scheme://host[:port]` of an http(s) URL with nothing else in it
/// (default ports dropped, the host lower-cased), or why not.
pub fn origin_of(url: &str) -> Result<String, CoreError> {
    if url.chars().any(|c| c.is_control() || c.is_whitespace()) || url.contains('\\') {
        return Err(invalid(
            "url must not contain spaces, '\\' or control characters",
        ));
    }
    let u = url::Url::parse(url).map_err(|e| invalid(format!("url: {e}")))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(invalid(
            "url must be http:// or https:// (ssh remotes use your SSH key)",
        ));
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err(invalid(
            "url must not carry a user or password; give the user name on its own",
        ));
    }
    if u.query().is_some() || u.fragment().is_some() || !matches!(u.path(), "" | "/") {
        return Err(invalid(
            "url must be the server's address only, such as https://github.com (a credential serves every repository there)",
        ));
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err(invalid("url has no host"));
    }
    Ok(u.origin().ascii_serialization())
}

/// The credential origin of an http(s) repository URL, if it has one.
pub fn origin_of_repository(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    matches!(u.scheme(), "http" | "https").then(|| u.origin().ascii_serialization())
}

/// The origin git asks about (`protocol` and `host` as git sends them).
fn origin_of_ask(ask: &GitCredentialAsk) -> Option<String> {
    if !ask.is_bounded() || !matches!(ask.protocol.as_str(), "http" | "https") {
        return None;
    }
    // `%`: git has decoded the host already; the url crate would decode
    // it again and match a host git never meant.
    if ask.host.contains(['/', '@', '?', '#', '\\', '%']) {
        return None;
    }
    origin_of(&format!("{}://{}/", ask.protocol, ask.host)).ok()
}

fn check_text(what: &str, v: &str, max: usize) -> Result<(), CoreError> {
    if v.is_empty() || v.len() > max {
        return Err(invalid(format!("{what} must be 1 to {max} bytes")));
    }
    // git's credential protocol is line-based: a newline would smuggle in
    // another field.
    if v.chars().any(char::is_control) {
        return Err(invalid(format!(
            "{what} must not contain newlines or control characters"
        )));
    }
    Ok(())
}

impl GitCredentials {
    pub fn new(store: Store, secrets: SecretBox, audit: Arc<Audit>) -> GitCredentials {
        GitCredentials {
            store,
            secrets,
            audit,
            asks: AskBudget::new(MAX_ASKS_PER_MINUTE),
        }
    }

    /// The caller's own credentials (admins see only theirs, too).
    pub async fn list(&self, p: &Principal) -> Result<Vec<GitCredentialInfo>, CoreError> {
        let rows = self.store.git_credentials(&p.user_id).await?;
        Ok(rows.into_iter().map(GitCredentialInfo::from).collect())
    }

    /// Stores a token for `url`'s origin for the caller; with `replace`,
    /// instead of the one the caller has for that origin.
    pub async fn add(
        &self,
        p: &Principal,
        url: &str,
        username: Option<&str>,
        token: &str,
        replace: bool,
    ) -> Result<GitCredentialInfo, CoreError> {
        crate::access::can(
            p,
            crate::access::Action::Change,
            crate::access::Resource::NewWorkspace,
        )?;
        let origin = origin_of(url)?;
        // Hosts such as GitHub take any user name with a token.
        let username = username
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .unwrap_or("git");
        check_text("username", username, MAX_USERNAME)?;
        check_text("token", token, MAX_SECRET)?;
        // Sealed before anything is replaced: a failure leaves the old one.
        let secret = self
            .secrets
            .seal(token)
            .map_err(|e| CoreError::Internal(e.to_string()))?;
        let replaced = if replace {
            let old = self.store.git_credentials(&p.user_id).await?;
            match old.into_iter().find(|c| c.origin == origin) {
                Some(c) => {
                    self.store.delete_git_credential(&p.user_id, &c.id).await?;
                    let detail = json!({"id": c.id, "origin": origin, "replaced": true});
                    self.audit
                        .note(Entry::done(
                            &p.actor(),
                            None,
                            "git_credential.delete",
                            detail,
                        ))
                        .await;
                    Some(c.id)
                }
                None => None,
            }
        } else {
            None
        };
        if self.store.git_credential_count(&p.user_id).await? >= MAX_PER_USER as i64 {
            return Err(CoreError::conflict(
                "too_many_git_credentials",
                format!("at most {MAX_PER_USER} git credentials per user"),
            ));
        }
        let rec = GitCredentialRecord {
            id: new_id(),
            user_id: p.user_id.clone(),
            origin: origin.clone(),
            username: username.to_owned(),
            secret,
            created_at: now_ms(),
            last_used_at: None,
            rejected_at: None,
        };
        match self.store.insert_git_credential(&rec).await {
            Err(StoreError::Conflict) => {
                return Err(CoreError::conflict(
                    "git_credential_exists",
                    format!(
                        "you already have a credential for {origin}; replace it (\"replace\": true, or `aicockpit git-credential add --replace`) or delete it first"
                    ),
                ))
            }
            r => r?,
        }
        let detail =
            json!({"id": rec.id, "origin": origin, "username": username, "replaced": replaced});
        self.audit
            .note(Entry::done(
                &p.actor(),
                None,
                "git_credential.create",
                detail,
            ))
            .await;
        Ok(rec.into())
    }

    /// Deletes one of the caller's credentials.
    pub async fn remove(&self, p: &Principal, id: &str) -> Result<(), CoreError> {
        match self.store.delete_git_credential(&p.user_id, id).await {
            Err(StoreError::NotFound) => {
                return Err(CoreError::NotFound(format!("no git credential {id:?}")))
            }
            r => r?,
        }
        self.audit
            .note(Entry::done(
                &p.actor(),
                None,
                "git_credential.delete",
                json!({"id": id}),
            ))
            .await;
        Ok(())
    }

    /// Answers git inside the container `container`: its owner's
    /// credential for exactly the asked origin, or nothing. `erase` (the
    /// git server refused it) is noted on the credential and the record;
    /// `store` changes nothing (the workspace cannot set credentials).
    pub async fn answer(&self, container: &str, ask: &GitCredentialAsk) -> Option<GitCredential> {
        let origin = origin_of_ask(ask)?;
        // Every ask counts, before anything is looked up or written: a loop
        // inside (or a hostile one) cannot flood the store or the record.
        let throttled = json!({"origin": origin});
        let (ws, owner) = self
            .asks
            .admit(
                &self.store,
                &self.audit,
                container,
                "git_credential.throttled",
                throttled,
            )
            .await?;
        if ask.op == GitCredentialOp::Store {
            // The workspace cannot set credentials.
            return None;
        }
        let rec = match self.store.git_credential_for(&owner, &origin).await {
            Ok(Some(rec)) => rec,
            Ok(None) => return None,
            Err(e) => {
                warn!(error = %e, "git credential lookup failed");
                return None;
            }
        };
        let detail = json!({
            "credential": rec.id, "origin": origin, "path": ask.path,
        });
        if ask.op == GitCredentialOp::Erase {
            let _ = self
                .store
                .touch_git_credential(&rec.id, now_ms(), true)
                .await;
            let e = Entry::done("system", Some(&ws), "git_credential.rejected", detail)
                .with_result("refused_by_git_server");
            self.audit.note(e).await;
            return None;
        }
        let password = match self.secrets.open(&rec.secret) {
            Ok(p) => p,
            Err(e) => {
                warn!(credential = %rec.id, error = %e, "a git credential does not open");
                return None;
            }
        };
        let _ = self
            .store
            .touch_git_credential(&rec.id, now_ms(), false)
            .await;
        self.audit
            .note(Entry::done(
                "system",
                Some(&ws),
                "git_credential.use",
                detail,
            ))
            .await;
        Some(GitCredential {
            username: rec.username,
            password,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_exact_and_hostile_urls_refused() {
        for (url, want) in [
            ("https://GitHub.com", Some("https://github.com")),
            ("https://github.com/", Some("https://github.com")),
            ("https://github.com:443", Some("https://github.com")),
            ("http://10.0.0.5:8080", Some("http://10.0.0.5:8080")),
            ("https://github.com/org/repo", None),
            ("https://user@github.com", None),
            ("https://u:p@github.com", None),
            ("https://github.com?x=1", None),
            ("ssh://git@github.com", None),
            ("file:///etc", None),
            ("https://git hub.com", None),
            ("https://github.com\n", None),
            ("https:\\\\github.com", None),
            ("github.com", None),
            ("", None),
        ] {
            assert_eq!(origin_of(url).ok().as_deref(), want, "{url:?}");
        }
    }

    #[test]
    fn asks_map_to_the_same_origins_and_odd_ones_to_none() {
        let ask = |protocol: &str, host: &str| GitCredentialAsk {
            op: GitCredentialOp::Get,
            protocol: protocol.into(),
            host: host.into(),
            path: None,
            username: None,
        };
        for (a, want) in [
            (ask("https", "GitHub.com"), Some("https://github.com")),
            (ask("https", "github.com:443"), Some("https://github.com")),
            (ask("http", "10.0.0.5:8080"), Some("http://10.0.0.5:8080")),
            (ask("ssh", "github.com"), None),
            (ask("https", "evil.com/@github.com"), None),
            (ask("https", "user@github.com"), None),
            (ask("https", "github.com#x"), None),
            (ask("https", "github%2ecom"), None),
            (ask("https", ""), None),
        ] {
            assert_eq!(origin_of_ask(&a).as_deref(), want, "{a:?}");
        }
    }

    #[test]
    fn tokens_and_names_cannot_smuggle_protocol_lines() {
        assert!(check_text("token", "ghp_abc", MAX_SECRET).is_ok());
        assert!(check_text("token", "a\nprotocol=http", MAX_SECRET).is_err());
        assert!(check_text("token", "", MAX_SECRET).is_err());
        assert!(check_text("token", &"x".repeat(MAX_SECRET + 1), MAX_SECRET).is_err());
        assert!(check_text("username", "a\0b", MAX_USERNAME).is_err());
    }
}
