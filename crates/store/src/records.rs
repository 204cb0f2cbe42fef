//! Plain records as stored. They carry no serde derives on purpose: only the
//! API's DTOs decide what goes over the wire.

use std::collections::BTreeMap;

/// A user account.
#[derive(Debug, Clone)]
pub struct UserRecord {
    pub id: String,
    pub username: String,
    /// An argon2 PHC string; never leaves the server.
    pub password_hash: String,
    /// `admin`, `member` or `viewer`.
    pub role: String,
    pub created_at: i64,
    /// Cannot log in; holds no tokens.
    pub disabled: bool,
    /// Must choose a new password before doing anything else.
    pub must_change_password: bool,
}

impl<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> for UserRecord {
    fn from_row(r: &'r sqlx::any::AnyRow) -> Result<Self, sqlx::Error> {
        use sqlx::Row;
        Ok(UserRecord {
            id: r.try_get("id")?,
            username: r.try_get("username")?,
            password_hash: r.try_get("password_hash")?,
            role: r.try_get("role")?,
            created_at: r.try_get("created_at")?,
            // Stored as 0/1: the Any driver cannot read SQLite booleans.
            disabled: r.try_get::<i64, _>("disabled")? != 0,
            must_change_password: r.try_get::<i64, _>("must_change_password")? != 0,
        })
    }
}

/// An API or session token. Only the SHA-256 of the secret is stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenRecord {
    pub id: String,
    pub user_id: String,
    pub name: String,
    /// `session` (from a login, expires) or `api` (created on purpose).
    pub kind: String,
    pub token_hash: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

/// A token joined with the user it belongs to, as authentication needs it.
#[derive(Debug, Clone)]
pub struct TokenWithUser {
    pub token: TokenRecord,
    pub user: UserRecord,
}

/// A workspace as stored: its desired configuration and last known state.
#[derive(Debug, Clone)]
pub struct WorkspaceRecord {
    pub id: String,
    pub owner_id: String,
    pub name: String,
    pub template: Option<String>,
    pub image: String,
    pub state: String,
    pub state_reason: Option<String>,
    pub cpu_millis: i64,
    pub memory_mb: i64,
    pub pids_limit: i64,
    pub env: BTreeMap<String, String>,
    pub ports: Vec<u16>,
    /// The user the container runs as (`uid:gid` or a name).
    pub run_as: String,
    pub container_id: Option<String>,
    pub volume: String,
    pub network: String,
    pub created_at: i64,
    pub updated_at: i64,
    /// Seconds without activity before it is stopped: None is the server
    /// default, 0 never.
    pub idle_timeout_secs: Option<i64>,
}

/// What creating a workspace row needs.
pub type NewWorkspace = WorkspaceRecord;
