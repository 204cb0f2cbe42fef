//! Users, passwords and tokens.
//!
//! Passwords are hashed with Argon2id. Tokens are 256 random bits shown to
//! the user once; only their SHA-256 is stored, which is enough for secrets
//! with that much entropy and keeps each request's check to one hash and one
//! indexed lookup.

use crate::audit::{Audit, Entry};
use crate::{now_ms, CoreError};
use aicockpit_store::{Store, StoreError, TokenRecord, UserRecord};
use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use base64::Engine as _;
use rand::RngCore;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::sync::{Arc, OnceLock};
use tokio::sync::Semaphore;

/// Every token starts with this, so leaked tokens are easy to recognise
/// (secret scanners, logs).
pub const TOKEN_PREFIX: &str = "acp_";

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Everything, including other users' workspaces.
    Admin,
    /// Their own workspaces.
    Member,
    /// Read-only access to their own workspaces.
    Viewer,
}

impl Role {
    pub fn parse(s: &str) -> Result<Role, CoreError> {
        match s {
            "admin" => Ok(Role::Admin),
            "member" => Ok(Role::Member),
            "viewer" => Ok(Role::Viewer),
            _ => Err(CoreError::invalid(
                "invalid_role",
                "role must be admin, member or viewer",
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Member => "member",
            Role::Viewer => "viewer",
        }
    }
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: String,
    pub username: String,
    pub role: Role,
    pub token_id: String,
    /// Set while the AI acts for this user in a run: it has the user's
    /// rights, and audit rows name the run as the actor.
    pub run: Option<String>,
    /// The user must choose a new password before anything else (the API
    /// refuses every other call meanwhile).
    pub must_change_password: bool,
}

impl Principal {
    /// `user` acting through login `token_id`.
    fn of(user: UserRecord, token_id: String) -> Result<Principal, CoreError> {
        Ok(Principal {
            role: Role::parse(&user.role)?,
            user_id: user.id,
            username: user.username,
            token_id,
            run: None,
            must_change_password: user.must_change_password,
        })
    }
    /// Who audit rows name: the user, or `agent:<run>` for the AI.
    pub fn actor(&self) -> String {
        match &self.run {
            Some(run) => format!("agent:{run}"),
            None => self.user_id.clone(),
        }
    }

    /// The same rights, acting for run `run`.
    pub fn in_run(&self, run: &str) -> Principal {
        Principal {
            run: Some(run.to_owned()),
            ..self.clone()
        }
    }
}

/// A token just created: the secret is here and nowhere else, ever.
#[derive(Debug)]
pub struct IssuedToken {
    pub record: TokenRecord,
    pub secret: String,
}

/// User and token operations on top of the store.
#[derive(Clone)]
pub struct AuthService {
    store: Store,
    session_ttl_ms: i64,
    /// Argon2 costs ~20 MiB and tens of ms per check: bound how many run at
    /// once so a burst of logins cannot exhaust memory or starve the server.
    hashing: Arc<Semaphore>,
    /// Failed logins per account and address, to slow down guessing.
    limiter: Arc<limiter::LoginLimiter>,
    /// Every change to users and tokens, and every login, is recorded here.
    audit: Arc<Audit>,
    /// Role and disable changes one at a time, so two admins demoting each
    /// other cannot both pass the "one admin remains" check.
    admin_changes: Arc<tokio::sync::Mutex<()>>,
}

/// Changes an admin makes to a user; only what is given changes.
#[derive(Debug, Default, Clone)]
pub struct UserChange {
    pub role: Option<Role>,
    pub disabled: Option<bool>,
}

mod limiter;
pub use limiter::MAX_USERNAME;

pub fn hash_token(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

pub fn hash_password(password: &str) -> Result<String, CoreError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| CoreError::Internal(format!("password hashing failed: {e}")))
}

fn verify_password(password: &str, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash of a random password, checked when the user does not exist so a
/// failed login takes as long for unknown users as for wrong passwords.
fn dummy_hash() -> &'static str {
    static H: OnceLock<String> = OnceLock::new();
    H.get_or_init(|| hash_password(&new_secret()).unwrap_or_default())
}

pub fn validate_username(name: &str) -> Result<(), CoreError> {
    let ok = !name.is_empty()
        && name.len() <= 32
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        });
    if !ok {
        return Err(CoreError::invalid(
            "invalid_username",
            "usernames are 1-32 characters: lowercase letters, digits, '.', '_' or '-', starting with a letter or digit",
        ));
    }
    Ok(())
}

pub fn validate_password(pw: &str) -> Result<(), CoreError> {
    if pw.chars().count() < 8 || pw.len() > 1024 {
        return Err(CoreError::invalid(
            "weak_password",
            "passwords must be at least 8 characters (and at most 1024 bytes)",
        ));
    }
    Ok(())
}

impl AuthService {
    pub fn new(store: Store, session_ttl_hours: i64, audit: Arc<Audit>) -> AuthService {
        AuthService {
            store,
            session_ttl_ms: session_ttl_hours * 3_600_000,
            hashing: Arc::new(Semaphore::new(4)),
            limiter: Arc::default(),
            audit,
            admin_changes: Arc::default(),
        }
    }

    async fn hash_blocking(&self, password: String) -> Result<String, CoreError> {
        let _permit = self
            .hashing
            .acquire()
            .await
            .map_err(|e| CoreError::Internal(e.to_string()))?;
        tokio::task::spawn_blocking(move || hash_password(&password))
            .await
            .map_err(|e| CoreError::Internal(e.to_string()))?
    }

    async fn verify_blocking(&self, password: String, hash: String) -> Result<bool, CoreError> {
        let _permit = self
            .hashing
            .acquire()
            .await
            .map_err(|e| CoreError::Internal(e.to_string()))?;
        tokio::task::spawn_blocking(move || verify_password(&password, &hash))
            .await
            .map_err(|e| CoreError::Internal(e.to_string()))
    }

    /// Creates a user; 409 if the name is taken. `actor` is who asked (a
    /// user id, `cli:<os user>`, `system`), for the audit record;
    /// `must_change_password` for a password someone else chose.
    pub async fn create_user(
        &self,
        actor: &str,
        username: &str,
        password: &str,
        role: Role,
        must_change_password: bool,
    ) -> Result<UserRecord, CoreError> {
        validate_username(username)?;
        validate_password(password)?;
        let user = UserRecord {
            id: new_id(),
            username: username.to_owned(),
            password_hash: self.hash_blocking(password.to_owned()).await?,
            role: role.as_str().to_owned(),
            created_at: now_ms(),
            disabled: false,
            must_change_password,
        };
        match self.store.insert_user(&user).await {
            Ok(()) => {
                let detail = json!({"user": user.id, "username": user.username, "role": user.role,
                    "must_change_password": must_change_password});
                self.audit
                    .note(Entry::done(actor, None, "user.create", detail))
                    .await;
                Ok(user)
            }
            Err(StoreError::Conflict) => Err(CoreError::conflict(
                "username_taken",
                format!("a user named {username:?} already exists"),
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// Sets a password from the console (the CLI): whoever types it there
    /// knows it, so it need not be changed; the user's sessions end.
    pub async fn set_password(
        &self,
        actor: &str,
        username: &str,
        password: &str,
    ) -> Result<(), CoreError> {
        let user = self.user_by_name(username).await?;
        self.replace_password(actor, &user, password, false, None)
            .await
    }

    /// An admin resets `user_id`'s password: their sessions end, and with
    /// `must_change` they choose their own at the next login.
    pub async fn reset_password(
        &self,
        p: &Principal,
        user_id: &str,
        password: &str,
        must_change: bool,
    ) -> Result<(), CoreError> {
        // Your own goes through `change_own_password`, which asks for the
        // current one (a borrowed session must not lock the owner out).
        if user_id == p.user_id {
            return Err(CoreError::conflict(
                "cannot_change_self",
                "change your own password under My account (it asks for the current one)",
            ));
        }
        let user = self.user_by_id(user_id).await?;
        self.replace_password(&p.actor(), &user, password, must_change, None)
            .await
    }

    /// The caller changes their own password, proving the current one
    /// (so a borrowed session cannot lock the owner out); their other
    /// sessions end. Wrong guesses count against the login limits.
    pub async fn change_own_password(
        &self,
        p: &Principal,
        current: &str,
        new: &str,
        addr: std::net::IpAddr,
    ) -> Result<(), CoreError> {
        validate_password(new)?;
        if current.len() > 1024 {
            return Err(wrong_current_password());
        }
        let attempt =
            self.limiter
                .begin(&p.username, addr)
                .map_err(|t| CoreError::TooManyRequests {
                    retry_after_secs: t.retry_after_secs,
                    message: format!(
                        "too many wrong passwords; try again in {} s",
                        t.retry_after_secs
                    ),
                })?;
        let user = self.user_by_id(&p.user_id).await?;
        if !self
            .verify_blocking(current.to_owned(), user.password_hash.clone())
            .await?
        {
            attempt.finish(false);
            let detail = json!({"user": user.id, "address": addr.to_string()});
            let e = Entry::done(&p.actor(), None, "user.password", detail);
            self.audit
                .note(e.with_result("wrong current password"))
                .await;
            return Err(wrong_current_password());
        }
        attempt.finish(true);
        if current == new {
            return Err(CoreError::invalid(
                "same_password",
                "the new password must differ from the current one",
            ));
        }
        self.replace_password(&p.actor(), &user, new, false, Some(&p.token_id))
            .await
    }

    /// Stores a new password and ends the user's sessions (all, or all but
    /// `keep_session`); API tokens stay, as they were made on purpose.
    async fn replace_password(
        &self,
        actor: &str,
        user: &UserRecord,
        password: &str,
        must_change: bool,
        keep_session: Option<&str>,
    ) -> Result<(), CoreError> {
        validate_password(password)?;
        let hash = self.hash_blocking(password.to_owned()).await?;
        self.store
            .set_password_hash(&user.id, &hash, must_change)
            .await?;
        let ended = self
            .store
            .delete_tokens_of(&user.id, Some("session"), keep_session)
            .await?;
        let detail = json!({"user": user.id, "username": user.username,
            "must_change_password": must_change, "sessions_ended": ended});
        self.audit
            .note(Entry::done(actor, None, "user.password", detail))
            .await;
        Ok(())
    }

    /// An admin changes a user's role or disables them. Disabling ends all
    /// their sessions and revokes their API tokens; no change may leave
    /// the instance without an enabled admin, and nobody disables or
    /// demotes themselves (they would lose the page they do it from).
    pub async fn update_user(
        &self,
        p: &Principal,
        user_id: &str,
        change: UserChange,
    ) -> Result<UserRecord, CoreError> {
        if user_id == p.user_id
            && (change.disabled == Some(true) || change.role.is_some_and(|r| r != Role::Admin))
        {
            return Err(CoreError::conflict(
                "cannot_change_self",
                "you cannot disable or demote yourself; ask another admin",
            ));
        }
        let _one_at_a_time = self.admin_changes.lock().await;
        let before = self.user_by_id(user_id).await?;
        let user = match self
            .store
            .update_user(user_id, change.role.map(Role::as_str), change.disabled)
            .await
        {
            Ok(u) => u,
            Err(StoreError::NotFound) => return Err(no_such_user()),
            Err(StoreError::Conflict) => {
                return Err(CoreError::conflict(
                    "last_admin",
                    "this would leave no enabled admin; make another user an admin first",
                ))
            }
            Err(e) => return Err(e.into()),
        };
        let revoked = if user.disabled && !before.disabled {
            self.store.delete_tokens_of(&user.id, None, None).await?
        } else {
            0
        };
        let detail = json!({"user": user.id, "username": user.username,
            "role": {"from": before.role, "to": user.role},
            "disabled": {"from": before.disabled, "to": user.disabled},
            "tokens_revoked": revoked});
        self.audit
            .note(Entry::done(&p.actor(), None, "user.update", detail))
            .await;
        Ok(user)
    }

    pub async fn user_by_id(&self, id: &str) -> Result<UserRecord, CoreError> {
        match self.store.user_by_id(id).await {
            Ok(u) => Ok(u),
            Err(StoreError::NotFound) => Err(no_such_user()),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn user_by_name(&self, username: &str) -> Result<UserRecord, CoreError> {
        match self.store.user_by_name(username).await {
            Ok(u) => Ok(u),
            Err(StoreError::NotFound) => {
                Err(CoreError::NotFound(format!("no user named {username:?}")))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Checks a password and opens a session; the same vague error for an
    /// unknown user and a wrong password. `addr` is the client's address,
    /// for the guessing limits.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        addr: std::net::IpAddr,
    ) -> Result<(UserRecord, IssuedToken), CoreError> {
        let bad = || CoreError::Unauthenticated("wrong username or password".into());
        // Bounded before any work: no name this long exists.
        if password.len() > 1024 || username.len() > MAX_USERNAME {
            return Err(bad());
        }
        // Checked and reserved in one step, before hashing, the same
        // whether or not the user exists.
        let attempt =
            self.limiter
                .begin(username, addr)
                .map_err(|t| CoreError::TooManyRequests {
                    retry_after_secs: t.retry_after_secs,
                    message: format!(
                        "too many failed logins; try again in {} s",
                        t.retry_after_secs
                    ),
                })?;
        let user = match self.store.user_by_name(username).await {
            Ok(u) => Some(u),
            Err(StoreError::NotFound) => None,
            Err(e) => return Err(e.into()),
        };
        let hash = user
            .as_ref()
            .map(|u| u.password_hash.clone())
            .unwrap_or_else(|| dummy_hash().to_owned());
        let ok = self.verify_blocking(password.to_owned(), hash).await?;
        // Failures too are on the record (their rate is bounded by the
        // limiter above; throttled attempts are not written).
        let detail = json!({"username": username, "address": addr.to_string()});
        let Some(user) = user.filter(|_| ok) else {
            attempt.finish(false);
            let e = Entry::done("anonymous", None, "auth.login_failed", detail);
            self.audit
                .note(e.with_result("wrong username or password"))
                .await;
            return Err(bad());
        };
        attempt.finish(true);
        if user.disabled {
            let e = Entry::done(&user.id, None, "auth.login_failed", detail);
            self.audit.note(e.with_result("account disabled")).await;
            return Err(CoreError::Unauthenticated(
                "this account is disabled; ask an admin".into(),
            ));
        }
        self.audit
            .note(Entry::done(&user.id, None, "auth.login", detail))
            .await;
        let token = self
            .issue(
                &user.id,
                "login session",
                "session",
                Some(now_ms() + self.session_ttl_ms),
            )
            .await?;
        Ok((user, token))
    }

    /// Creates a long-lived API token for `user_id`.
    pub async fn create_api_token(
        &self,
        actor: &str,
        user_id: &str,
        name: &str,
        expires_in_days: Option<i64>,
    ) -> Result<IssuedToken, CoreError> {
        if name.trim().is_empty() || name.len() > 100 {
            return Err(CoreError::invalid(
                "invalid_token_name",
                "token names are 1-100 characters",
            ));
        }
        let expires_at = match expires_in_days {
            Some(d) if !(1..=3650).contains(&d) => {
                return Err(CoreError::invalid(
                    "invalid_expiry",
                    "expires_in_days must be 1-3650",
                ))
            }
            Some(d) => Some(now_ms() + d * 86_400_000),
            None => None,
        };
        let issued = self.issue(user_id, name, "api", expires_at).await?;
        let detail = json!({"token": issued.record.id, "name": name, "user": user_id});
        self.audit
            .note(Entry::done(actor, None, "token.create", detail))
            .await;
        Ok(issued)
    }

    async fn issue(
        &self,
        user_id: &str,
        name: &str,
        kind: &str,
        expires_at: Option<i64>,
    ) -> Result<IssuedToken, CoreError> {
        let secret = new_secret();
        let record = TokenRecord {
            id: new_id(),
            user_id: user_id.to_owned(),
            name: name.to_owned(),
            kind: kind.to_owned(),
            token_hash: hash_token(&secret),
            created_at: now_ms(),
            expires_at,
            last_used_at: None,
        };
        self.store.insert_token(&record).await?;
        Ok(IssuedToken { record, secret })
    }

    /// Resolves a bearer token to its principal.
    pub async fn authenticate(&self, secret: &str) -> Result<Principal, CoreError> {
        let unauth = || CoreError::Unauthenticated("invalid or expired token".into());
        if !secret.starts_with(TOKEN_PREFIX) || secret.len() > 128 {
            return Err(unauth());
        }
        let found = match self.store.token_by_hash(&hash_token(secret)).await {
            Ok(t) => t,
            Err(StoreError::NotFound) => return Err(unauth()),
            Err(e) => return Err(e.into()),
        };
        let now = now_ms();
        // Disabling revokes every token; refusing here as well keeps a
        // token created in the same instant from outliving it.
        if found.token.expires_at.is_some_and(|e| e <= now) || found.user.disabled {
            return Err(unauth());
        }
        // Recording every use would turn each read into a write; a minute's
        // precision is plenty for "last used".
        if found.token.last_used_at.is_none_or(|t| now - t > 60_000) {
            self.store.touch_token(&found.token.id, now).await?;
        }
        Principal::of(found.user, found.token.id)
    }

    /// The rights of `user_id` for a session that is not a token (a
    /// preview cookie): refused once the user is disabled.
    pub async fn principal_of(&self, user_id: &str, session: &str) -> Result<Principal, CoreError> {
        let user = match self.store.user_by_id(user_id).await {
            Ok(u) => u,
            Err(StoreError::NotFound) => {
                return Err(CoreError::Unauthenticated("the session ended".into()))
            }
            Err(e) => return Err(e.into()),
        };
        if user.disabled {
            return Err(CoreError::Unauthenticated("the session ended".into()));
        }
        Principal::of(user, session.to_owned())
    }

    pub async fn list_tokens(&self, user_id: &str) -> Result<Vec<TokenRecord>, CoreError> {
        Ok(self.store.list_tokens(user_id).await?)
    }

    /// Revokes one of the caller's own tokens.
    pub async fn revoke_token(&self, p: &Principal, token_id: &str) -> Result<(), CoreError> {
        self.delete_token(&p.user_id, token_id).await?;
        let detail = json!({"token": token_id});
        self.audit
            .note(Entry::done(&p.actor(), None, "token.revoke", detail))
            .await;
        Ok(())
    }

    /// Ends the session (or revokes the token) the caller used.
    pub async fn logout(&self, p: &Principal) -> Result<(), CoreError> {
        self.delete_token(&p.user_id, &p.token_id).await?;
        let detail = json!({"token": p.token_id});
        self.audit
            .note(Entry::done(&p.actor(), None, "auth.logout", detail))
            .await;
        Ok(())
    }

    async fn delete_token(&self, user_id: &str, token_id: &str) -> Result<(), CoreError> {
        match self.store.delete_token(user_id, token_id).await {
            Ok(()) => Ok(()),
            Err(StoreError::NotFound) => Err(CoreError::NotFound("no such token".into())),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn list_users(&self) -> Result<Vec<UserRecord>, CoreError> {
        Ok(self.store.list_users().await?)
    }
}

fn no_such_user() -> CoreError {
    CoreError::NotFound("no such user".into())
}

fn wrong_current_password() -> CoreError {
    CoreError::invalid("wrong_password", "the current password is not right")
}

/// A random password for generated accounts (24 URL-safe characters).
pub fn random_password() -> String {
    let mut bytes = [0u8; 18];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_and_verify() {
        let h = hash_password("correct horse").expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong horse", &h));
        assert!(!verify_password("x", "not a phc string"));
    }

    #[test]
    fn tokens_are_prefixed_random_and_hashed() {
        let a = new_secret();
        let b = new_secret();
        assert!(a.starts_with(TOKEN_PREFIX));
        assert_ne!(a, b);
        assert_eq!(hash_token(&a).len(), 64);
        assert_ne!(hash_token(&a), hash_token(&b));
    }

    #[test]
    fn usernames_are_checked() {
        assert!(validate_username("alice").is_ok());
        assert!(validate_username("a.b-c_1").is_ok());
        for bad in ["", "Alice", "-x", "a b", "a/b", &"x".repeat(33)] {
            assert!(validate_username(bad).is_err(), "{bad:?} accepted");
        }
    }
}
