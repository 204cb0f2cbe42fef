//! `aicockpit dotfiles show|set URL [--ref REF]|rm`: the caller's dotfiles
//! repository, installed into every workspace they make from now on.

use super::{Client, Connection, Failure, Output};
use clap::Subcommand;
use reqwest::Method;
use serde_json::{json, Value};

#[derive(Subcommand)]
pub(crate) enum DotfilesCmd {
    /// Print your dotfiles repository.
    Show,
    /// Set your dotfiles repository (for workspaces made from now on).
    Set {
        /// A git URL (private ones use your git credentials or SSH key).
        url: String,
        /// A branch or tag.
        #[arg(long = "ref")]
        reference: Option<String>,
    },
    /// Forget your dotfiles repository.
    Rm,
}

pub(crate) async fn run(conn: Connection, cmd: DotfilesCmd, out: Output) -> u8 {
    super::with_client(&conn, |c| async move { run_with(&c, cmd, out).await }).await
}

fn describe(v: &Value) -> String {
    match v["ref"].as_str() {
        Some(r) => format!("{} (ref {r})", v["url"].as_str().unwrap_or("?")),
        None => v["url"].as_str().unwrap_or("?").to_owned(),
    }
}

async fn run_with(c: &Client, cmd: DotfilesCmd, out: Output) -> Result<u8, Failure> {
    match cmd {
        DotfilesCmd::Show => {
            let v: Value = c.call(Method::GET, "/api/v1/dotfiles", None).await?;
            if v.is_null() {
                return Err(Failure {
                    message:
                        "you have no dotfiles repository: set one with `aicockpit dotfiles set URL`"
                            .into(),
                    code: super::exit::NOT_FOUND,
                });
            }
            out.print(&v, &describe(&v));
        }
        DotfilesCmd::Set { url, reference } => {
            let body = json!({"url": url, "ref": reference});
            let v: Value = c.call(Method::PUT, "/api/v1/dotfiles", Some(&body)).await?;
            out.print(&v, &format!("new workspaces will install {}", describe(&v)));
        }
        DotfilesCmd::Rm => {
            let _: Value = c.call(Method::DELETE, "/api/v1/dotfiles", None).await?;
            out.print(&json!({"deleted": true}), "forgot your dotfiles repository");
        }
    }
    Ok(super::exit::OK)
}
