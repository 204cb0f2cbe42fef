//! `aicockpit login` / `logout` and the saved session file
//! (`$XDG_CONFIG_HOME/aicockpit/cli.json`, mode 0600; AICOCKPIT_CLI_CONFIG
//! overrides the path).

use super::{exit, Client, Connection, Failure, Output};
use crate::admin::read_password;
use clap::Args;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::path::PathBuf;

#[derive(Serialize, Deserialize)]
pub(crate) struct Saved {
    pub server: String,
    pub token: String,
}

#[derive(Args)]
pub(crate) struct LoginArgs {
    /// User name (prompted for if absent).
    #[arg(long, short)]
    username: Option<String>,
    /// Read the password from standard input instead of prompting.
    #[arg(long)]
    password_stdin: bool,
}

fn path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("AICOCKPIT_CLI_CONFIG") {
        return Some(PathBuf::from(p));
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("aicockpit/cli.json"))
}

/// The directory the session file is in (other client state lives there).
pub(crate) fn config_dir() -> Option<PathBuf> {
    path()?.parent().map(PathBuf::from)
}

pub(crate) fn load() -> Option<Saved> {
    let text = std::fs::read_to_string(path()?).ok()?;
    serde_json::from_str(&text).ok()
}

fn save(s: &Saved) -> std::io::Result<PathBuf> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let p = path().ok_or_else(|| std::io::Error::other("no HOME to save the session in"))?;
    if let Some(dir) = p.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&p)?;
    f.write_all(
        serde_json::to_string_pretty(s)
            .unwrap_or_default()
            .as_bytes(),
    )?;
    Ok(p)
}

pub(crate) async fn login(conn: Connection, args: LoginArgs, out: Output) -> u8 {
    let server = conn
        .server
        .or_else(|| load().map(|s| s.server))
        .unwrap_or_else(|| "http://127.0.0.1:8400".into());
    let username = match args.username {
        Some(u) => u,
        None => {
            eprint!("Username: ");
            let mut line = String::new();
            if std::io::stdin().read_line(&mut line).is_err() {
                return exit::USAGE;
            }
            line.trim().to_owned()
        }
    };
    let password = match read_password(args.password_stdin, "Password: ") {
        Ok(p) => p,
        Err(c) => return c,
    };
    let client = match Client::new(&server, None) {
        Ok(c) => c,
        Err(f) => return f.report(),
    };
    let resp: Value = match client
        .call(
            Method::POST,
            "/api/v1/auth/login",
            Some(&json!({"username": username, "password": password})),
        )
        .await
    {
        Ok(v) => v,
        Err(f) => return f.report(),
    };
    let Some(token) = resp["token"].as_str() else {
        return Failure {
            message: "the server sent no token".into(),
            code: exit::FAILURE,
        }
        .report();
    };
    match save(&Saved {
        server: server.clone(),
        token: token.to_owned(),
    }) {
        Ok(p) => {
            out.print(
                &json!({"server": server, "user": resp["user"], "expires_at": resp["expires_at"]}),
                &format!(
                    "logged in to {server} as {username} (session saved in {})",
                    p.display()
                ),
            );
            exit::OK
        }
        Err(e) => Failure {
            message: format!("cannot save the session: {e}"),
            code: exit::FAILURE,
        }
        .report(),
    }
}

pub(crate) async fn logout(conn: Connection, out: Output) -> u8 {
    let client = match Client::from_connection(&conn) {
        Ok(c) => c,
        Err(f) => return f.report(),
    };
    if let Err(f) = client
        .call::<Value>(Method::POST, "/api/v1/auth/logout", None)
        .await
    {
        // A token that is already invalid is as good as revoked.
        if f.code != exit::AUTH {
            return f.report();
        }
    }
    if let Some(p) = path() {
        let _ = std::fs::remove_file(p);
    }
    out.print(&json!({"logged_out": true}), "logged out");
    exit::OK
}
