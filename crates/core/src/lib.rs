//! AiCockpit's domain logic, free of HTTP: configuration, the template
//! catalog, users and tokens, and the workspace lifecycle with its
//! reconciliation against the container engine.
//!
//! *Invariant:* nothing here knows about HTTP or JSON wire formats; the `api`
//! crate maps [`CoreError`] to responses in one place.

pub mod access;
pub mod ask_budget;
pub mod audit;
pub mod auth;
pub mod config;
pub mod devcontainer;
pub mod dotfiles;
mod error;
pub mod files;
pub mod git_credentials;
pub mod keyfile;
pub mod ports;
pub mod previews;
pub mod secrets;
pub mod ssh;
pub mod ssh_keys;
pub mod templates;
pub mod terminals;
pub mod workspace_agent;
pub mod workspaces;

pub use error::CoreError;

/// Milliseconds since the Unix epoch: how the store keeps time.
pub fn now_ms() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp_nanos() as i64 / 1_000_000
}

/// Formats store time as RFC 3339 for people and APIs.
pub fn format_ms(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}
