//! AiCockpit's persistent state: users, API tokens, workspaces and settings,
//! in SQLite (the embedded default) or PostgreSQL, behind one [`Store`].
//!
//! Both backends go through sqlx's `Any` driver so that every query is written
//! once. That constrains the schema to types both understand the same way:
//! `TEXT`, `BIGINT` (times are Unix milliseconds) and JSON kept as `TEXT`.
//! Migrations live per backend in `migrations/{sqlite,postgres}`.

mod ai;
mod audit;
mod error;
mod git_credentials;
mod port_shares;
mod records;
mod settings;
mod snapshots;
mod ssh_keys;
mod tokens;
mod users;
mod workspaces;

pub use ai::{AiAliasRecord, AiServiceRecord, AiUsageRecord, AiUsageTotal};
pub use audit::{AuditFilter, AuditRecord};
pub use error::StoreError;
pub use git_credentials::GitCredentialRecord;
pub use records::{NewWorkspace, TokenRecord, TokenWithUser, UserRecord, WorkspaceRecord};
pub use snapshots::SnapshotRecord;
pub use ssh_keys::SshKeyRecord;

use sqlx::any::AnyPoolOptions;
use sqlx::AnyPool;
use sqlx::Executor;
use std::time::Duration;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Which database engine a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A handle on the database; cheap to clone (it is a connection pool).
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

impl Store {
    /// Connects to `url` (`sqlite://path` or `postgres://…`), creating an SQLite
    /// file if it does not exist, and brings the schema up to date.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            return Err(StoreError::UnsupportedUrl);
        };
        let url = match backend {
            // `mode=rwc` creates the file on first run.
            Backend::Sqlite if !url.contains("mode=") => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}mode=rwc")
            }
            _ => url.to_owned(),
        };
        let options = AnyPoolOptions::new()
            .max_connections(match backend {
                // SQLite has one writer; a few readers are plenty for a single host.
                Backend::Sqlite => 4,
                Backend::Postgres => 16,
            })
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL with synchronous=NORMAL keeps every committed
                        // transaction across a `kill -9` of the server (only an
                        // OS crash can lose the last ones) and lets readers run
                        // beside the writer. busy_timeout turns lock contention
                        // into a short wait instead of an error.
                        conn.execute(
                            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; \
                             PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            });
        let pool = options.connect(&url).await.map_err(StoreError::Connect)?;
        let migrator = match backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&pool).await?;
        Ok(Store { pool, backend })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A cheap round trip, for readiness checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Closes every pooled connection (at shutdown, so SQLite checkpoints).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}
