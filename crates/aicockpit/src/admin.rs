//! `aicockpit users …` and `aicockpit tokens …`: work on the data dir's
//! database directly, so an operator can create the first admin and tokens
//! with no server running (or with one running: SQLite handles both).

use crate::cli::{exit, Output};
use aicockpit_core::auth::{AuthService, Role};
use aicockpit_core::config::Config;
use aicockpit_core::{format_ms, CoreError};
use aicockpit_store::Store;
use clap::Subcommand;
use serde_json::json;
use std::io::BufRead;
use std::path::Path;

#[derive(Subcommand)]
pub(crate) enum UsersCmd {
    /// Create a user.
    Add {
        username: String,
        /// admin, member or viewer.
        #[arg(long, default_value = "member")]
        role: String,
        /// Read the password from standard input instead of prompting.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a user's password.
    Passwd {
        username: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users.
    Ls,
}

#[derive(Subcommand)]
pub(crate) enum TokensCmd {
    /// Create an API token for a user and print it (shown once).
    Create {
        /// The user the token acts as.
        #[arg(long)]
        user: String,
        /// A name to recognise the token by.
        #[arg(long, default_value = "cli")]
        name: String,
        #[arg(long)]
        expires_in_days: Option<i64>,
    },
}

async fn open(config_file: Option<&Path>) -> Result<(Store, AuthService), u8> {
    let config = Config::load(config_file).map_err(|e| {
        eprintln!("error: {e}");
        exit::USAGE
    })?;
    if let Err(e) = std::fs::create_dir_all(config.data_dir()) {
        eprintln!(
            "error: cannot create data dir {}: {e}",
            config.data_dir().display()
        );
        return Err(exit::FAILURE);
    }
    let store = Store::connect(&config.database_url()).await.map_err(|e| {
        eprintln!("error: {e}");
        exit::FAILURE
    })?;
    // Changes made here are on the same audit record as the server's,
    // with the head published the same way.
    let mut audit = aicockpit_core::audit::Audit::new(store.clone());
    match aicockpit_core::audit::HeadFile::open(&config.data_dir()) {
        Ok(f) => audit = audit.with_head_file(f),
        Err(e) => eprintln!("warning: the audit head cannot be published: {e}"),
    }
    if let Err(e) = audit.load_head().await {
        eprintln!("warning: the audit head cannot be read: {e}");
    }
    let auth = AuthService::new(
        store.clone(),
        config.auth.session_ttl_hours,
        std::sync::Arc::new(audit),
    );
    Ok((store, auth))
}

/// Who audit rows name for a change made from the command line: `cli:`
/// and the operating-system user.
fn cli_actor() -> String {
    let who = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    format!("cli:{who}")
}

pub(crate) fn read_password(from_stdin: bool, prompt: &str) -> Result<String, u8> {
    let pw = if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map_err(|e| {
            eprintln!("error: cannot read the password: {e}");
            exit::FAILURE
        })?;
        line.trim_end_matches(['\n', '\r']).to_owned()
    } else {
        rpassword::prompt_password(prompt).map_err(|e| {
            eprintln!(
                "error: cannot read the password (use --password-stdin without a terminal): {e}"
            );
            exit::USAGE
        })?
    };
    Ok(pw)
}

fn fail(e: CoreError) -> u8 {
    eprintln!("error: {e}");
    match e {
        CoreError::Invalid { .. } => exit::USAGE,
        CoreError::NotFound(_) => exit::NOT_FOUND,
        CoreError::Conflict { .. } => exit::CONFLICT,
        _ => exit::FAILURE,
    }
}

pub(crate) async fn users(config_file: Option<&Path>, cmd: UsersCmd, out: Output) -> u8 {
    let (store, auth) = match open(config_file).await {
        Ok(x) => x,
        Err(c) => return c,
    };
    let code = match cmd {
        UsersCmd::Add {
            username,
            role,
            password_stdin,
        } => {
            let role = match Role::parse(&role) {
                Ok(r) => r,
                Err(e) => return fail(e),
            };
            let pw = match read_password(password_stdin, "Password: ") {
                Ok(p) => p,
                Err(c) => return c,
            };
            match auth
                .create_user(&cli_actor(), &username, &pw, role, false)
                .await
            {
                Ok(u) => {
                    out.print(
                        &json!({"id": u.id, "username": u.username, "role": u.role}),
                        &format!("created {} user {}", u.role, u.username),
                    );
                    exit::OK
                }
                Err(e) => fail(e),
            }
        }
        UsersCmd::Passwd {
            username,
            password_stdin,
        } => {
            let pw = match read_password(password_stdin, "New password: ") {
                Ok(p) => p,
                Err(c) => return c,
            };
            match auth.set_password(&cli_actor(), &username, &pw).await {
                Ok(()) => {
                    out.print(
                        &json!({"username": username}),
                        &format!("password of {username} changed"),
                    );
                    exit::OK
                }
                Err(e) => fail(e),
            }
        }
        UsersCmd::Ls => match auth.list_users().await {
            Ok(users) => {
                let rows: Vec<_> = users
                    .iter()
                    .map(|u| json!({"id": u.id, "username": u.username, "role": u.role, "created_at": format_ms(u.created_at)}))
                    .collect();
                let text = users
                    .iter()
                    .map(|u| {
                        format!(
                            "{:<24} {:<8} {}",
                            u.username,
                            u.role,
                            format_ms(u.created_at)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n");
                out.print(&json!(rows), &text);
                exit::OK
            }
            Err(e) => fail(e),
        },
    };
    store.close().await;
    code
}

pub(crate) async fn tokens(config_file: Option<&Path>, cmd: TokensCmd, out: Output) -> u8 {
    let (store, auth) = match open(config_file).await {
        Ok(x) => x,
        Err(c) => return c,
    };
    let TokensCmd::Create {
        user,
        name,
        expires_in_days,
    } = cmd;
    let code = match auth.user_by_name(&user).await {
        Ok(u) => match auth
            .create_api_token(&cli_actor(), &u.id, &name, expires_in_days)
            .await
        {
            Ok(t) => {
                out.print(
                    &json!({"id": t.record.id, "name": t.record.name, "token": t.secret,
                            "expires_at": t.record.expires_at.map(format_ms)}),
                    &t.secret,
                );
                exit::OK
            }
            Err(e) => fail(e),
        },
        Err(e) => fail(e),
    };
    store.close().await;
    code
}

#[derive(Subcommand)]
pub(crate) enum AuditCmd {
    /// Check the audit log's hash chain and its published head: exit 0 if
    /// intact, 1 with the first broken row otherwise.
    Verify,
    /// Print the whole log as JSON with every field that enters the hash,
    /// for verifiers of one's own.
    Export,
}

async fn export_audit(store: &Store) -> u8 {
    let mut rows = Vec::new();
    let mut after = 0;
    loop {
        match store.audit_rows(None, after, 10_000).await {
            Ok(batch) if batch.is_empty() => break,
            Ok(batch) => {
                after = batch.last().map(|r| r.seq).unwrap_or(after);
                rows.extend(batch);
            }
            Err(e) => {
                eprintln!("error: {e}");
                return exit::FAILURE;
            }
        }
    }
    let head = rows.last().map(|r| (r.seq, r.hash.clone()));
    println!("{}", aicockpit_core::audit::export_json(&rows, head));
    exit::OK
}

pub(crate) async fn audit(config_file: Option<&Path>, cmd: AuditCmd, out: Output) -> u8 {
    let (store, _) = match open(config_file).await {
        Ok(x) => x,
        Err(c) => return c,
    };
    let data_dir = match Config::load(config_file) {
        Ok(c) => c.data_dir(),
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    let mut audit = aicockpit_core::audit::Audit::new(store.clone());
    if let AuditCmd::Export = cmd {
        let code = export_audit(&store).await;
        store.close().await;
        return code;
    }
    // The published head is checked only where the server keeps it.
    if data_dir.join("audit.key").exists() {
        match aicockpit_core::audit::HeadFile::open(&data_dir) {
            Ok(f) => audit = audit.with_head_file(f),
            Err(e) => {
                eprintln!("error: {e}");
                store.close().await;
                return exit::FAILURE;
            }
        }
    }
    let report = audit.verify().await;
    store.close().await;
    match report {
        Ok(r) => match r.broken {
            None => {
                out.print(
                    &json!({"ok": true, "rows": r.rows}),
                    &format!("audit log intact: {} rows", r.rows),
                );
                exit::OK
            }
            Some((seq, why)) => {
                out.print(
                    &json!({"ok": false, "rows": r.rows, "broken_at": seq, "reason": why}),
                    &format!("audit log TAMPERED at row {seq}: {why}"),
                );
                exit::FAILURE
            }
        },
        Err(e) => {
            eprintln!("error: {e}");
            exit::FAILURE
        }
    }
}
