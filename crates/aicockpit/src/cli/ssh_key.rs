//! `aicockpit ssh-key show|generate|rm`: the caller's SSH key pair, made by
//! the server. The public key is printed to paste into a git host; the
//! private key never leaves the server (workspaces sign through their SSH
//! agent).

use super::{Client, Connection, Failure, Output};
use clap::Subcommand;
use reqwest::Method;
use serde_json::{json, Value};

#[derive(Subcommand)]
pub(crate) enum SshKeyCmd {
    /// Print your public key (nothing if you have none).
    Show,
    /// Make a new key pair, replacing yours; prints the public key.
    Generate,
    /// Delete your key pair.
    Rm,
}

pub(crate) async fn run(conn: Connection, cmd: SshKeyCmd, out: Output) -> u8 {
    super::with_client(&conn, |c| async move { run_with(&c, cmd, out).await }).await
}

async fn run_with(c: &Client, cmd: SshKeyCmd, out: Output) -> Result<u8, Failure> {
    match cmd {
        SshKeyCmd::Show => {
            let v: Value = c.call(Method::GET, "/api/v1/ssh-key", None).await?;
            if v.is_null() {
                return Err(Failure {
                    message: "you have no SSH key: make one with `aicockpit ssh-key generate`"
                        .into(),
                    code: super::exit::NOT_FOUND,
                });
            }
            out.print(&v, v["public_key"].as_str().unwrap_or("?"));
        }
        SshKeyCmd::Generate => {
            let v: Value = c.call(Method::POST, "/api/v1/ssh-key", None).await?;
            out.print(&v, v["public_key"].as_str().unwrap_or("?"));
        }
        SshKeyCmd::Rm => {
            let _: Value = c.call(Method::DELETE, "/api/v1/ssh-key", None).await?;
            out.print(&json!({"deleted": true}), "deleted your SSH key");
        }
    }
    Ok(super::exit::OK)
}
