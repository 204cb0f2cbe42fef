//! `aicockpit ssh WS [-- command]` and `aicockpit config-ssh`: OpenSSH (and
//! the desktop IDEs that drive it) reaching workspaces through the server.
//!
//! The SSH stream goes over an authenticated WebSocket, so OpenSSH is told
//! to use `aicockpit ssh --stdio WS` as its ProxyCommand; the login is the
//! user's AiCockpit session (the saved one, or AICOCKPIT_TOKEN inherited by
//! the ProxyCommand), never keys copied around. Each workspace's host key is
//! pinned in a known-hosts file of our own under `HostKeyAlias
//! aicockpit-<id>`, so a changed key is refused like any other.

use super::{exit, Client, Connection, Failure, Output};
use clap::Args;
use reqwest::Method;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

#[derive(Args)]
pub(crate) struct SshArgs {
    /// Workspace name or id.
    workspace: String,
    /// Carry the SSH connection over standard input and output (what
    /// OpenSSH's ProxyCommand runs); without it, OpenSSH's `ssh` is started.
    #[arg(long)]
    stdio: bool,
    /// A command to run instead of a login shell (after `--`).
    #[arg(last = true)]
    command: Vec<String>,
}

#[derive(Args)]
pub(crate) struct ConfigSshArgs {
    /// The OpenSSH client configuration to write to.
    #[arg(long, default_value_os_t = default_ssh_config())]
    ssh_config: PathBuf,
    /// Print the entries instead of writing them.
    #[arg(long)]
    dry_run: bool,
}

const BEGIN: &str =
    "# --- BEGIN AICOCKPIT (written by `aicockpit config-ssh`; edits are replaced) ---";
const END: &str = "# --- END AICOCKPIT ---";

fn default_ssh_config() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default()
        .join(".ssh/config")
}

/// Our known-hosts file, next to the saved session.
fn known_hosts_path() -> Result<PathBuf, Failure> {
    super::session::config_dir()
        .map(|d| d.join("known_hosts"))
        .ok_or_else(|| Failure {
            message: "no HOME to keep the known-hosts file in".into(),
            code: exit::FAILURE,
        })
}

fn fail(message: String) -> Failure {
    Failure {
        message,
        code: exit::FAILURE,
    }
}

pub(crate) async fn ssh(conn: Connection, args: SshArgs) -> u8 {
    let r = if args.stdio {
        stdio(&conn, &args.workspace).await
    } else {
        interactive(&conn, &args).await
    };
    r.unwrap_or_else(Failure::report)
}

/// The ProxyCommand: standard input and output are the SSH stream.
async fn stdio(conn: &Connection, workspace: &str) -> Result<u8, Failure> {
    let c = Client::from_connection(conn)?;
    let w = super::ws::running(&c, workspace).await?;
    let id = w["id"].as_str().unwrap_or(workspace);
    let url = super::forward::ws_url(
        &c,
        &format!("/api/v1/workspaces/{}/ssh", super::ws::seg(id)),
    )?;
    super::forward::carry(tokio::io::stdin(), tokio::io::stdout(), &url, c.token())
        .await
        .map_err(|e| fail(format!("ssh to {workspace}: {e}")))?;
    Ok(exit::OK)
}

/// Workspace id, the workspace user, and its host key line.
async fn describe(c: &Client, workspace: &str) -> Result<(String, String, String), Failure> {
    let w = super::ws::running(c, workspace).await?;
    let id = w["id"].as_str().unwrap_or(workspace).to_owned();
    let k: Value = c
        .call(
            Method::GET,
            &format!("/api/v1/workspaces/{id}/ssh/host-key"),
            None,
        )
        .await?;
    let key = k["public_key"].as_str().unwrap_or_default().to_owned();
    let user = w["user"].as_str().unwrap_or_default().to_owned();
    Ok((id, user, key))
}

/// Runs OpenSSH's `ssh` with our ProxyCommand and pinned key.
async fn interactive(conn: &Connection, args: &SshArgs) -> Result<u8, Failure> {
    use std::os::unix::process::CommandExt;
    let c = Client::from_connection(conn)?;
    let (id, user, key) = describe(&c, &args.workspace).await?;
    let kh = known_hosts_path()?;
    update_known_hosts(&kh, &[(id.clone(), key)]).map_err(|e| fail(e.to_string()))?;
    let mut cmd = std::process::Command::new("ssh");
    for o in host_options(&id, &user, c.base(), &kh)? {
        cmd.arg("-o").arg(o.replacen(' ', "=", 1));
    }
    cmd.arg(alias(&id));
    if !args.command.is_empty() {
        cmd.arg("--").args(&args.command);
    }
    // The token reaches the ProxyCommand through the environment, never
    // on a command line others can read.
    if let Some(t) = c.token() {
        cmd.env("AICOCKPIT_TOKEN", t);
    }
    let e = cmd.exec();
    Err(fail(format!(
        "cannot run OpenSSH's ssh client ({e}); install it (Debian: openssh-client)"
    )))
}

fn alias(id: &str) -> String {
    format!("aicockpit-{id}")
}

/// Single quotes for the shell OpenSSH runs the ProxyCommand with, and `%`
/// doubled (OpenSSH expands `%` tokens in it).
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''").replace('%', "%%"))
}

/// The options one workspace's entry carries (`Key value`).
fn host_options(id: &str, user: &str, server: &str, kh: &Path) -> Result<Vec<String>, Failure> {
    let exe = std::env::current_exe()
        .map_err(|e| fail(format!("cannot find this program's path: {e}")))?;
    let kh = kh.to_string_lossy();
    if kh.contains(['"', '\n']) || server.contains(['\n', '\'']) {
        return Err(fail(
            "paths with quotes or newlines cannot go in an ssh config".into(),
        ));
    }
    let mut v = vec![
        format!(
            "ProxyCommand {} --server {} ssh --stdio {id}",
            quote(&exe.to_string_lossy()),
            quote(server)
        ),
        format!("UserKnownHostsFile \"{kh}\""),
        format!("HostKeyAlias {}", alias(id)),
        "StrictHostKeyChecking yes".to_owned(),
        // The tunnel is the login (the server accepts SSH's "none" method);
        // nothing for a local agent's keys to do there.
        "ForwardAgent no".to_owned(),
    ];
    if is_safe_name(user) {
        v.push(format!("User {user}"));
    }
    Ok(v)
}

fn is_safe_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// Replaces the lines for `entries` (id, key) in the known-hosts file,
/// keeping every other line.
fn update_known_hosts(path: &Path, entries: &[(String, String)]) -> std::io::Result<()> {
    let old = std::fs::read_to_string(path).unwrap_or_default();
    let ours: Vec<String> = entries.iter().map(|(id, _)| alias(id)).collect();
    let mut lines: Vec<String> = old
        .lines()
        .filter(|l| {
            let host = l.split_whitespace().next().unwrap_or_default();
            !ours.iter().any(|a| a == host)
        })
        .map(str::to_owned)
        .collect();
    for (id, key) in entries {
        if key.starts_with("ssh-ed25519 ") && !key.contains('\n') {
            lines.push(format!("{} {key}", alias(id)));
        }
    }
    write_private(path, &(lines.join("\n") + "\n"))
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("aicockpit-tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// `config` with our block replaced by `block` (appended when absent).
fn replace_block(config: &str, block: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    let mut placed = false;
    for line in config.lines() {
        if line.trim() == BEGIN {
            inside = true;
            continue;
        }
        if inside {
            if line.trim() == END {
                inside = false;
                if !placed {
                    out.push_str(block);
                    placed = true;
                }
            }
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    if !placed {
        if !out.is_empty() && !out.ends_with("\n\n") {
            out.push('\n');
        }
        out.push_str(block);
    }
    out
}

pub(crate) async fn config_ssh(conn: Connection, args: ConfigSshArgs, out: Output) -> u8 {
    match write_config(&conn, &args, out).await {
        Ok(code) => code,
        Err(f) => f.report(),
    }
}

async fn write_config(conn: &Connection, args: &ConfigSshArgs, out: Output) -> Result<u8, Failure> {
    let c = Client::from_connection(conn)?;
    let me: Value = c.call(Method::GET, "/api/v1/auth/me", None).await?;
    let my_id = me["id"].as_str().unwrap_or_default().to_owned();
    let list: Value = c.call(Method::GET, "/api/v1/workspaces", None).await?;
    let kh = known_hosts_path()?;
    let mut block = format!("{BEGIN}\n");
    let mut keys = Vec::new();
    let mut hosts = Vec::new();
    for w in list.as_array().map(Vec::as_slice).unwrap_or_default() {
        let (Some(id), Some(name)) = (w["id"].as_str(), w["name"].as_str()) else {
            continue;
        };
        if !is_safe_name(id) || !is_safe_name(name) {
            continue;
        }
        let (_, user, key) = describe(&c, id).await?;
        // Workspaces shared with the user by others get their id too, so
        // two "demo"s never share a Host line.
        let host = if w["owner_id"].as_str() == Some(my_id.as_str()) {
            format!("aicockpit--{name}")
        } else {
            format!("aicockpit--{name}--{}", &id[..id.len().min(8)])
        };
        block.push_str(&format!("Host {host}\n"));
        for o in host_options(id, &user, c.base(), &kh)? {
            block.push_str(&format!("  {o}\n"));
        }
        keys.push((id.to_owned(), key));
        hosts.push(json!({"host": host, "workspace": name, "id": id}));
    }
    block.push_str(END);
    block.push('\n');
    if args.dry_run {
        print!("{block}");
        return Ok(exit::OK);
    }
    update_known_hosts(&kh, &keys).map_err(|e| fail(format!("{}: {e}", kh.display())))?;
    let old = match std::fs::read_to_string(&args.ssh_config) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(fail(format!("{}: {e}", args.ssh_config.display()))),
    };
    write_private(&args.ssh_config, &replace_block(&old, &block))
        .map_err(|e| fail(format!("{}: {e}", args.ssh_config.display())))?;
    let names: Vec<&str> = hosts.iter().filter_map(|h| h["host"].as_str()).collect();
    out.print(
        &json!({"ssh_config": args.ssh_config, "known_hosts": kh, "hosts": hosts}),
        &format!(
            "wrote {} host(s) to {}: {}\nconnect with: ssh {}",
            names.len(),
            args.ssh_config.display(),
            names.join(", "),
            names.first().copied().unwrap_or("aicockpit--NAME")
        ),
    );
    Ok(exit::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_block_is_replaced_and_the_rest_kept() {
        let block = format!("{BEGIN}\nHost aicockpit--a\n{END}\n");
        let first = replace_block("Host mine\n  User me\n", &block);
        assert_eq!(first, format!("Host mine\n  User me\n\n{block}"));
        let newer = format!("{BEGIN}\nHost aicockpit--b\n{END}\n");
        let second = replace_block(&(first.clone() + "Host after\n"), &newer);
        assert!(second.contains("Host mine\n  User me\n"));
        assert!(second.contains("Host after\n"));
        assert!(second.contains("aicockpit--b") && !second.contains("aicockpit--a"));
        assert_eq!(replace_block("", &block), block);
    }

    #[test]
    fn proxy_command_paths_are_quoted_for_the_shell_and_percent() {
        assert_eq!(quote("/opt/my app/aicockpit"), "'/opt/my app/aicockpit'");
        assert_eq!(quote("/x/it's"), r"'/x/it'\''s'");
        assert_eq!(quote("/x/100%"), "'/x/100%%'");
    }

    #[test]
    fn known_hosts_keep_other_lines_and_replace_ours() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let p = dir.path().join("kh");
        std::fs::write(
            &p,
            "other ssh-ed25519 AAAAkeep\naicockpit-w1 ssh-ed25519 AAAAold\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        update_known_hosts(&p, &[("w1".into(), "ssh-ed25519 AAAAnew".into())])
            .unwrap_or_else(|e| panic!("{e}"));
        let text = std::fs::read_to_string(&p).unwrap_or_default();
        assert_eq!(
            text,
            "other ssh-ed25519 AAAAkeep\naicockpit-w1 ssh-ed25519 AAAAnew\n"
        );
    }
}
