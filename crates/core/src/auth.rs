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
}

impl Principal {
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
    /// user id, `cli:<os user>`, `system`), for the audit record.
    pub async fn create_user(
        &self,
        actor: &str,
        username: &str,
        password: &str,
        role: Role,
    ) -> Result<UserRecord, CoreError> {
        validate_username(username)?;
        validate_password(password)?;
        let user = UserRecord {
            id: new_id(),
            username: username.to_owned(),
            password_hash: self.hash_blocking(password.to_owned()).await?,
            role: role.as_str().to_owned(),
            created_at: now_ms(),
        };
        match self.store.insert_user(&user).await {
            Ok(()) => {
                let detail = json!({"user": user.id, "username": user.username, "role": user.role});
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

    pub async fn set_password(
        &self,
        actor: &str,
        username: &str,
        password: &str,
    ) -> Result<(), CoreError> {
        validate_password(password)?;
        let user = self.user_by_name(username).await?;
        let hash = self.hash_blocking(password.to_owned()).await?;
        self.store.set_password_hash(&user.id, &hash).await?;
        let detail = json!({"user": user.id, "username": username});
        self.audit
            .note(Entry::done(actor, None, "user.password", detail))
            .await;
        Ok(())
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
        if found.token.expires_at.is_some_and(|e| e <= now) {
            return Err(unauth());
        }
        // Recording every use would turn each read into a write; a minute's
        // precision is plenty for "last used".
        if found.token.last_used_at.is_none_or(|t| now - t > 60_000) {
            self.store.touch_token(&found.token.id, now).await?;
        }
        Ok(Principal {
            user_id: found.user.id,
            username: found.user.username,
            role: Role::parse(&found.user.role)?,
            token_id: found.token.id,
            run: None,
        })
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
