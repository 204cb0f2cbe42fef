//! `aicockpit git-credential add|ls|rm`: the caller's git credentials,
//! given to git inside their workspaces on demand (never written there).

use super::{Client, Connection, Failure, Output};
use clap::Subcommand;
use reqwest::Method;
use serde_json::{json, Value};

#[derive(Subcommand)]
pub(crate) enum GitCredentialCmd {
    /// Store a token for a git server (read from standard input, or asked
    /// for on a terminal).
    Add {
        /// The git server: `https://github.com`, `http://git.internal:8080`.
        url: String,
        /// The user name to send with it (default `git`).
        #[arg(long)]
        username: Option<String>,
        /// Read the token from standard input (one line).
        #[arg(long)]
        token_stdin: bool,
        /// Replace your credential for that server, if you have one.
        #[arg(long)]
        replace: bool,
    },
    /// List your git credentials (never their tokens).
    Ls,
    /// Delete a git credential by id or by its server URL.
    Rm { id_or_url: String },
}

pub(crate) async fn run(conn: Connection, cmd: GitCredentialCmd, out: Output) -> u8 {
    super::with_client(&conn, |c| async move { run_with(&c, cmd, out).await }).await
}

async fn run_with(c: &Client, cmd: GitCredentialCmd, out: Output) -> Result<u8, Failure> {
    match cmd {
        GitCredentialCmd::Add {
            url,
            username,
            token_stdin,
            replace,
        } => {
            let token =
                crate::admin::read_password(token_stdin, "Token: ").map_err(|code| Failure {
                    message: "cannot read the token".into(),
                    code,
                })?;
            let body =
                json!({"url": url, "username": username, "token": token, "replace": replace});
            let v: Value = c
                .call(Method::POST, "/api/v1/git-credentials", Some(&body))
                .await?;
            out.print(
                &v,
                &format!(
                    "stored a credential for {} (user {})",
                    v["origin"].as_str().unwrap_or("?"),
                    v["username"].as_str().unwrap_or("?")
                ),
            );
        }
        GitCredentialCmd::Ls => {
            let v: Value = c.call(Method::GET, "/api/v1/git-credentials", None).await?;
            let mut text = format!(
                "{:<34} {:<40} {:<16} {}",
                "ID", "SERVER", "USER", "LAST USED"
            );
            for r in v.as_array().into_iter().flatten() {
                let used = match (r["last_used_at"].as_str(), r["rejected_at"].as_str()) {
                    (_, Some(rej)) => format!("refused by the server at {rej}"),
                    (Some(u), None) => u.to_owned(),
                    (None, None) => "never".into(),
                };
                text.push_str(&format!(
                    "\n{:<34} {:<40} {:<16} {used}",
                    r["id"].as_str().unwrap_or("?"),
                    r["origin"].as_str().unwrap_or("?"),
                    r["username"].as_str().unwrap_or("?"),
                ));
            }
            out.print(&v, &text);
        }
        GitCredentialCmd::Rm { id_or_url } => {
            let id = if id_or_url.contains("://") {
                let v: Value = c.call(Method::GET, "/api/v1/git-credentials", None).await?;
                let want = id_or_url.trim_end_matches('/').to_ascii_lowercase();
                v.as_array()
                    .into_iter()
                    .flatten()
                    .find(|r| r["origin"].as_str() == Some(want.as_str()))
                    .and_then(|r| r["id"].as_str())
                    .map(str::to_owned)
                    .ok_or_else(|| Failure {
                        message: format!("no git credential for {id_or_url}"),
                        code: super::exit::NOT_FOUND,
                    })?
            } else {
                id_or_url
            };
            let _: Value = c
                .call(
                    Method::DELETE,
                    &format!("/api/v1/git-credentials/{id}"),
                    None,
                )
                .await?;
            out.print(&json!({"deleted": id}), &format!("deleted {id}"));
        }
    }
    Ok(super::exit::OK)
}
