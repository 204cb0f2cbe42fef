//! `aicockpit ws …` and `aicockpit templates`.

use super::{exit, Client, Connection, Failure, Output};
use base64::Engine as _;
use clap::Subcommand;
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::Write;

#[derive(Subcommand)]
pub(crate) enum WsCmd {
    /// Create a workspace (from a template, or any image) and start it.
    Create {
        name: String,
        /// Template name (see `aicockpit templates`); `base` by default.
        #[arg(long, short, conflicts_with = "image")]
        template: Option<String>,
        /// Any image reference instead of a template.
        #[arg(long)]
        image: Option<String>,
        #[arg(long)]
        cpus: Option<f64>,
        /// Memory limit in MiB.
        #[arg(long)]
        memory: Option<i64>,
        #[arg(long)]
        pids_limit: Option<i64>,
        /// Environment variable KEY=VALUE (repeatable).
        #[arg(long = "env", short = 'e', value_parser = parse_kv)]
        env: Vec<(String, String)>,
        /// Container port to publish on the server's loopback (repeatable).
        #[arg(long = "port", short = 'p')]
        ports: Vec<u16>,
        /// Start from an archive: a .tar, .tar.gz or .zip unpacked into
        /// /workspace once the workspace runs.
        #[arg(long)]
        archive: Option<std::path::PathBuf>,
        /// Start with a deleted workspace's kept data (its id, see
        /// `ws kept`); the kept data then belongs to the new workspace.
        #[arg(long)]
        from_kept: Option<String>,
        /// Start from a git repository (https://, ssh://, git://,
        /// user@host:path), cloned into /workspace as the workspace user;
        /// its progress is shown until it is done.
        #[arg(long, conflicts_with_all = ["archive", "from_kept"])]
        git: Option<String>,
        /// The branch, tag or commit to clone (with --git).
        #[arg(long = "ref", requires = "git")]
        reference: Option<String>,
        /// A shallow clone of this many commits (with --git).
        #[arg(long, requires = "git")]
        depth: Option<u32>,
        /// Clone submodules too (with --git).
        #[arg(long, requires = "git")]
        submodules: bool,
    },
    /// List the kept data of deleted workspaces.
    Kept,
    /// Snapshot a workspace: its filesystem, its data and its settings.
    Snapshot {
        workspace: String,
        /// The snapshot's name (default: the workspace's and a suffix).
        #[arg(long)]
        name: Option<String>,
    },
    /// List snapshots.
    Snapshots,
    /// Make a new workspace of a snapshot.
    Fork {
        /// The snapshot (id or name).
        snapshot: String,
        /// The new workspace's name.
        name: String,
    },
    /// Put a workspace back as one of its snapshots was (what is there
    /// now is discarded).
    Restore {
        workspace: String,
        /// The snapshot (id or name).
        snapshot: String,
    },
    /// Write a snapshot to one archive file (to move it to another server).
    ExportSnapshot {
        snapshot: String,
        /// The file to write (default: NAME.aicockpit-snapshot.tar).
        #[arg(long, short)]
        output: Option<std::path::PathBuf>,
    },
    /// Make a snapshot of yours from an exported archive file.
    ImportSnapshot {
        file: std::path::PathBuf,
    },
    /// Delete a snapshot.
    RmSnapshot {
        snapshot: String,
    },
    /// Remove a deleted workspace's kept data for good.
    PurgeKept {
        /// The deleted workspace's id (see `ws kept`).
        workspace: String,
    },
    /// List workspaces.
    Ls,
    /// Show one workspace (by id or name).
    Show {
        workspace: String,
    },
    Start {
        workspace: String,
    },
    Stop {
        workspace: String,
    },
    Restart {
        workspace: String,
    },
    /// Re-read the workspace's devcontainer.json and make its container
    /// again from it, keeping /workspace; its progress is shown.
    Rebuild {
        workspace: String,
    },
    /// The workspace's setups kept (clone, each start's commands, rebuilds,
    /// dotfiles), or with --at the output of one.
    Setups {
        workspace: String,
        /// The one that started then (STARTED in the list), printed whole.
        #[arg(long)]
        at: Option<i64>,
    },
    /// Delete a workspace; its /workspace volume is kept unless --purge.
    Rm {
        workspace: String,
        #[arg(long)]
        purge: bool,
    },
    /// Keep a running workspace from idle stop for a while.
    Keepalive {
        workspace: String,
        /// How long: seconds, or a number with s, m, h or d (`2h`).
        #[arg(long = "for", value_parser = parse_duration)]
        duration: u64,
        /// Why (shown to whoever looks at the workspace).
        #[arg(long)]
        reason: String,
    },
    /// Set a workspace's idle timeout: a duration (`30m`), `never`, or
    /// `default` (the server's).
    Idle {
        workspace: String,
        #[arg(value_parser = parse_idle)]
        timeout: IdleSetting,
    },
    /// Run a command in a workspace; exits with the command's exit code.
    Exec {
        workspace: String,
        #[arg(long)]
        cwd: Option<String>,
        #[arg(long = "env", short = 'e', value_parser = parse_kv)]
        env: Vec<(String, String)>,
        /// User to run as (default: the workspace's user).
        #[arg(long, short)]
        user: Option<String>,
        /// Seconds before the command is killed.
        #[arg(long)]
        timeout: Option<u64>,
        /// The command and its arguments.
        #[arg(last = true, required = true)]
        argv: Vec<String>,
    },
}

/// An archive to upload and its media type, told by its first bytes (zip,
/// gzip, else tar).
async fn open_archive(path: &std::path::Path) -> Result<(tokio::fs::File, &'static str), Failure> {
    use tokio::io::{AsyncReadExt, AsyncSeekExt};
    let fail = |e: std::io::Error| Failure {
        message: format!("cannot read {}: {e}", path.display()),
        code: exit::USAGE,
    };
    let mut f = tokio::fs::File::open(path).await.map_err(fail)?;
    let mut head = [0u8; 4];
    let n = f.read(&mut head).await.map_err(fail)?;
    f.rewind().await.map_err(fail)?;
    let kind = match &head[..n] {
        [b'P', b'K', 3, 4] | [b'P', b'K', 5, 6] => "application/zip",
        [0x1f, 0x8b, ..] => "application/gzip",
        _ => "application/x-tar",
    };
    Ok((f, kind))
}

/// Seconds from `90`, `90s`, `30m`, `2h` or `1d`.
pub(crate) fn parse_duration(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, unit) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("expected a duration like 90s, 30m, 2h or 1d, got {s:?}"))?;
    let unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return Err(format!("unknown unit in {s:?} (use s, m, h or d)")),
    };
    n.checked_mul(unit)
        .ok_or_else(|| format!("{s:?} is too long"))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IdleSetting {
    Default,
    Never,
    After(u64),
}

fn parse_idle(s: &str) -> Result<IdleSetting, String> {
    match s {
        "default" => Ok(IdleSetting::Default),
        "never" => Ok(IdleSetting::Never),
        d => parse_duration(d).map(IdleSetting::After),
    }
}

fn parse_kv(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("expected KEY=VALUE, got {s:?}"))
}

/// The workspace, started first if it is stopped: SSH and port forwarding
/// reach into it, and a user who connects means to use it (as opening it in
/// the IDE starts it). Said on standard error, which OpenSSH shows for a
/// ProxyCommand (standard output is the SSH stream there). A workspace on
/// its way (creating, starting, stopping) is waited for; one in error or
/// being deleted is refused with its reason.
pub(crate) async fn running(c: &Client, workspace: &str) -> Result<Value, Failure> {
    use std::time::{Duration, Instant};
    let path = format!("/api/v1/workspaces/{}", seg(workspace));
    let mut w: Value = c.call(Method::GET, &path, None).await?;
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut started = false;
    loop {
        let state = w["state"].as_str().unwrap_or("unknown").to_owned();
        match state.as_str() {
            "running" => return Ok(w),
            "stopped" if !started => {
                eprintln!("aicockpit: starting {workspace}…");
                started = true;
                w = c.call(Method::POST, &format!("{path}/start"), None).await?;
                continue;
            }
            "creating" | "starting" | "stopping" if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(500)).await;
                w = c.call(Method::GET, &path, None).await?;
                continue;
            }
            _ => {}
        }
        let reason = w["state_reason"]
            .as_str()
            .map(|r| format!(": {r}"))
            .unwrap_or_default();
        return Err(Failure {
            message: format!(
                "workspace {workspace} is {state}{reason}; see `aicockpit ws show {workspace}`"
            ),
            code: exit::CONFLICT,
        });
    }
}

/// Path-segment encoding for ids and names (they are validated server-side,
/// but a user may type anything here).
pub(crate) fn seg(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn summary(w: &Value) -> String {
    let source = w["template"]
        .as_str()
        .unwrap_or_else(|| w["image"].as_str().unwrap_or("?"));
    format!(
        "{:<24} {:<9} {:<14} {:>5} {:>7}  {}",
        w["name"].as_str().unwrap_or("?"),
        w["state"].as_str().unwrap_or("?"),
        source,
        w["limits"]["cpus"]
            .as_f64()
            .map(|c| format!("{c}"))
            .unwrap_or_default(),
        w["limits"]["memory_mb"]
            .as_i64()
            .map(|m| format!("{m}M"))
            .unwrap_or_default(),
        w["id"].as_str().unwrap_or("?"),
    )
}

fn details(w: &Value) -> String {
    let mut s = format!(
        "name:     {}\nid:       {}\nstate:    {}{}\nimage:    {}{}\nlimits:   {} cpus, {} MiB memory, {} processes\nvolume:   {} at /workspace\ncreated:  {}",
        w["name"].as_str().unwrap_or("?"),
        w["id"].as_str().unwrap_or("?"),
        w["state"].as_str().unwrap_or("?"),
        w["state_reason"].as_str().map(|r| format!(" ({r})")).unwrap_or_default(),
        w["image"].as_str().unwrap_or("?"),
        w["template"].as_str().map(|t| format!(" (template {t})")).unwrap_or_default(),
        w["limits"]["cpus"],
        w["limits"]["memory_mb"],
        w["limits"]["pids_limit"],
        w["volume"].as_str().unwrap_or("?"),
        w["created_at"].as_str().unwrap_or("?"),
    );
    if let Some(ports) = w["published_ports"].as_array().filter(|p| !p.is_empty()) {
        s.push_str("\nports:   ");
        for p in ports {
            s.push_str(&format!(
                " {}->{}:{}",
                p["container_port"],
                p["host_ip"].as_str().unwrap_or(""),
                p["host_port"]
            ));
        }
    }
    s
}

fn decode(text: &Value, encoding: &Value) -> Vec<u8> {
    let t = text.as_str().unwrap_or_default();
    if encoding.as_str() == Some("base64") {
        base64::engine::general_purpose::STANDARD
            .decode(t)
            .unwrap_or_default()
    } else {
        t.as_bytes().to_vec()
    }
}

pub(crate) async fn run(conn: Connection, cmd: WsCmd, out: Output) -> u8 {
    super::with_client(&conn, |c| async move { run_inner(&c, cmd, out).await }).await
}

async fn run_inner(c: &Client, cmd: WsCmd, out: Output) -> Result<u8, Failure> {
    match cmd {
        WsCmd::Create {
            name,
            template,
            image,
            cpus,
            memory,
            pids_limit,
            env,
            ports,
            archive,
            from_kept,
            git,
            reference,
            depth,
            submodules,
        } => {
            // Opened first: a missing file fails before anything is made.
            let archive = match archive {
                Some(path) => Some(open_archive(&path).await?),
                None => None,
            };
            let env: BTreeMap<_, _> = env.into_iter().collect();
            let mut body = json!({"name": name, "env": env});
            for (k, v) in [
                ("template", template.map(Value::from)),
                ("image", image.map(Value::from)),
                ("cpus", cpus.map(Value::from)),
                ("memory_mb", memory.map(Value::from)),
                ("pids_limit", pids_limit.map(Value::from)),
                ("from_kept", from_kept.map(Value::from)),
                (
                    "git",
                    git.map(|url| {
                        json!({"url": url, "ref": reference, "depth": depth, "submodules": submodules})
                    }),
                ),
                (
                    "ports",
                    (!ports.is_empty()).then(|| Value::from(ports.clone())),
                ),
            ] {
                if let Some(v) = v {
                    body[k] = v;
                }
            }
            // The caller's dotfiles are a setup to follow too.
            // (An older server has none: nothing to follow then.)
            let dotfiles: Value = c
                .call(Method::GET, "/api/v1/dotfiles", None)
                .await
                .unwrap_or(Value::Null);
            let w: Value = c
                .call(Method::POST, "/api/v1/workspaces", Some(&body))
                .await?;
            let id = w["id"].as_str().unwrap_or("?");
            let mut text = format!("created {} ({id})", w["name"].as_str().unwrap_or("?"));
            let archive_given = archive.is_some();
            if let Some((file, content_type)) = archive {
                let path = format!("/api/v1/workspaces/{}/files/upload", seg(id));
                let stats: Value =
                    c.post_file(&path, content_type, file)
                        .await
                        .map_err(|f| Failure {
                            message: format!(
                                "the workspace was created, but its archive was not unpacked: {}",
                                f.message
                            ),
                            code: f.code,
                        })?;
                text.push_str(&format!(
                    "; unpacked {} entries ({} bytes) into /workspace",
                    stats["files"], stats["bytes"]
                ));
            }
            if body.get("git").is_some() {
                let done = follow_setup(c, id).await?;
                text.push_str(&format!(
                    "; cloned {}",
                    done["source"].as_str().unwrap_or("?")
                ));
            } else if !dotfiles.is_null() {
                follow_setup(c, id).await?;
                text.push_str("; installed your dotfiles");
            }
            // An archive with a devcontainer.json shapes the workspace as a
            // repository's does: a rebuild reads it from /workspace.
            if archive_given && has_devcontainer(c, id).await {
                let _: Value = c
                    .call(
                        Method::POST,
                        &format!("/api/v1/workspaces/{}/rebuild", seg(id)),
                        None,
                    )
                    .await?;
                follow_setup(c, id).await?;
                text.push_str("; applied its devcontainer.json");
            }
            out.print(&w, &text);
        }
        WsCmd::Ls => {
            let list: Value = c.call(Method::GET, "/api/v1/workspaces", None).await?;
            let mut text = format!(
                "{:<24} {:<9} {:<14} {:>5} {:>7}  ID",
                "NAME", "STATE", "TEMPLATE", "CPUS", "MEMORY"
            );
            for w in list.as_array().into_iter().flatten() {
                text.push('\n');
                text.push_str(&summary(w));
            }
            out.print(&list, &text);
        }
        WsCmd::Show { workspace } => {
            let w: Value = c
                .call(
                    Method::GET,
                    &format!("/api/v1/workspaces/{}", seg(&workspace)),
                    None,
                )
                .await?;
            out.print(&w, &details(&w));
        }
        WsCmd::Start { workspace } => action(c, &workspace, "start", "started", out).await?,
        WsCmd::Stop { workspace } => action(c, &workspace, "stop", "stopped", out).await?,
        WsCmd::Restart { workspace } => action(c, &workspace, "restart", "restarted", out).await?,
        WsCmd::Setups { workspace, at } => setups(c, &workspace, at, &out).await?,
        WsCmd::Rebuild { workspace } => {
            let w: Value = c
                .call(
                    Method::POST,
                    &format!("/api/v1/workspaces/{}/rebuild", seg(&workspace)),
                    None,
                )
                .await?;
            let id = w["id"].as_str().unwrap_or(&workspace).to_owned();
            follow_setup(c, &id).await?;
            let w: Value = c
                .call(
                    Method::GET,
                    &format!("/api/v1/workspaces/{}", seg(&id)),
                    None,
                )
                .await?;
            let text = format!(
                "rebuilt {} from its devcontainer.json: image {}",
                w["name"].as_str().unwrap_or("?"),
                w["image"].as_str().unwrap_or("?")
            );
            out.print(&w, &text);
        }
        WsCmd::Kept => {
            let list: Value = c.call(Method::GET, "/api/v1/kept-data", None).await?;
            let mut text = format!("{:<24} {:<26} {:<16}", "NAME", "CREATED", "ID");
            for k in list.as_array().into_iter().flatten() {
                text.push_str(&format!(
                    "\n{:<24} {:<26} {:<16}",
                    k["name"].as_str().unwrap_or("?"),
                    k["created_at"].as_str().unwrap_or("-"),
                    k["workspace"].as_str().unwrap_or("?"),
                ));
            }
            out.print(&list, &text);
        }
        WsCmd::Snapshot { workspace, name } => {
            let path = format!("/api/v1/workspaces/{}/snapshots", seg(&workspace));
            let snap: Value = c
                .call(Method::POST, &path, Some(&json!({ "name": name })))
                .await?;
            let text = format!(
                "snapshot {} ({}) of {workspace}",
                snap["name"].as_str().unwrap_or("?"),
                snap["id"].as_str().unwrap_or("?")
            );
            out.print(&snap, &text);
        }
        WsCmd::Snapshots => {
            let list: Value = c.call(Method::GET, "/api/v1/snapshots", None).await?;
            let mut text = format!("{:<24} {:<24} {:<26} ID", "NAME", "WORKSPACE", "CREATED");
            for s in list.as_array().into_iter().flatten() {
                text.push_str(&format!(
                    "\n{:<24} {:<24} {:<26} {}",
                    s["name"].as_str().unwrap_or("?"),
                    s["workspace_name"].as_str().unwrap_or("?"),
                    s["created_at"].as_str().unwrap_or("?"),
                    s["id"].as_str().unwrap_or("?"),
                ));
            }
            out.print(&list, &text);
        }
        WsCmd::Fork { snapshot, name } => {
            let path = format!("/api/v1/snapshots/{}/fork", seg(&snapshot));
            let w: Value = c
                .call(Method::POST, &path, Some(&json!({ "name": name })))
                .await?;
            let text = format!(
                "forked {snapshot} into {} ({})",
                w["name"].as_str().unwrap_or("?"),
                w["id"].as_str().unwrap_or("?")
            );
            out.print(&w, &text);
        }
        WsCmd::Restore {
            workspace,
            snapshot,
        } => {
            let path = format!("/api/v1/workspaces/{}/restore", seg(&workspace));
            let w: Value = c
                .call(Method::POST, &path, Some(&json!({ "snapshot": snapshot })))
                .await?;
            out.print(&w, &format!("restored {workspace} to {snapshot}"));
        }
        WsCmd::ExportSnapshot { snapshot, output } => {
            let path = format!("/api/v1/snapshots/{}/export", seg(&snapshot));
            let resp = c.get_stream(&path).await?;
            let file = output.unwrap_or_else(|| {
                std::path::PathBuf::from(format!("{}.aicockpit-snapshot.tar", seg(&snapshot)))
            });
            let bytes = save_stream(resp, &file).await?;
            out.print(
                &json!({"file": file.display().to_string(), "bytes": bytes}),
                &format!("wrote {} ({bytes} bytes)", file.display()),
            );
        }
        WsCmd::ImportSnapshot { file } => {
            let f = tokio::fs::File::open(&file).await.map_err(|e| Failure {
                message: format!("{}: {e}", file.display()),
                code: exit::USAGE,
            })?;
            // Sent as a stream, counted on the way for the progress line.
            let mut progress = Progress::new("sent");
            let mut sent = 0u64;
            let body = futures_util::StreamExt::inspect(
                tokio_util::io::ReaderStream::new(f),
                move |chunk| {
                    if let Ok(c) = chunk {
                        sent += c.len() as u64;
                        progress.show(sent);
                    }
                },
            );
            let snap: Value = c
                .post_body(
                    "/api/v1/snapshots/import",
                    "application/x-tar",
                    reqwest::Body::wrap_stream(body),
                )
                .await?;
            Progress::new("sent").done();
            let text = format!(
                "imported snapshot {} ({})",
                snap["name"].as_str().unwrap_or("?"),
                snap["id"].as_str().unwrap_or("?")
            );
            out.print(&snap, &text);
        }
        WsCmd::RmSnapshot { snapshot } => {
            let path = format!("/api/v1/snapshots/{}", seg(&snapshot));
            let _: Value = c.call(Method::DELETE, &path, None).await?;
            out.print(
                &json!({ "deleted": snapshot }),
                &format!("deleted snapshot {snapshot}"),
            );
        }
        WsCmd::PurgeKept { workspace } => {
            let path = format!("/api/v1/kept-data/{}", seg(&workspace));
            let _: Value = c.call(Method::DELETE, &path, None).await?;
            out.print(
                &json!({"purged": workspace}),
                &format!("purged the kept data of {workspace}"),
            );
        }
        WsCmd::Rm { workspace, purge } => {
            let v: Value = c
                .call(
                    Method::DELETE,
                    &format!("/api/v1/workspaces/{}?purge={purge}", seg(&workspace)),
                    None,
                )
                .await?;
            let text = match v["kept_volume"].as_str() {
                Some(vol) => format!(
                    "deleted {workspace}; its data is kept in volume {vol} (`ws kept` lists it)"
                ),
                None => format!("deleted {workspace} and its data"),
            };
            out.print(&v, &text);
        }
        WsCmd::Keepalive {
            workspace,
            duration,
            reason,
        } => {
            let body = json!({"for_secs": duration, "reason": reason});
            let w: Value = c
                .call(
                    Method::POST,
                    &format!("/api/v1/workspaces/{}/keepalive", seg(&workspace)),
                    Some(&body),
                )
                .await?;
            let until = w["idle"]["keep_alive"]["until"].as_str().unwrap_or("?");
            out.print(&w, &format!("{workspace} is kept running until {until}"));
        }
        WsCmd::Idle { workspace, timeout } => {
            let secs = match timeout {
                IdleSetting::Default => Value::Null,
                IdleSetting::Never => json!(0),
                IdleSetting::After(s) => json!(s),
            };
            let w: Value = c
                .call(
                    Method::PATCH,
                    &format!("/api/v1/workspaces/{}", seg(&workspace)),
                    Some(&json!({ "idle_timeout_secs": secs })),
                )
                .await?;
            let text = match w["idle_timeout_secs"].as_i64() {
                None => format!("{workspace} stops after the server's idle timeout"),
                Some(0) => format!("{workspace} is never stopped for idleness"),
                Some(s) => format!("{workspace} stops after {s} s without activity"),
            };
            out.print(&w, &text);
        }
        WsCmd::Exec {
            workspace,
            cwd,
            env,
            user,
            timeout,
            argv,
        } => {
            let env: BTreeMap<_, _> = env.into_iter().collect();
            let body = json!({"argv": argv, "cwd": cwd, "env": env, "user": user, "timeout_secs": timeout});
            let r: Value = c
                .call(
                    Method::POST,
                    &format!("/api/v1/workspaces/{}/exec", seg(&workspace)),
                    Some(&body),
                )
                .await?;
            if out.json {
                out.print(&r, "");
            } else {
                let mut so = std::io::stdout().lock();
                let _ = so.write_all(&decode(&r["stdout"], &r["stdout_encoding"]));
                let _ = so.flush();
                let mut se = std::io::stderr().lock();
                let _ = se.write_all(&decode(&r["stderr"], &r["stderr_encoding"]));
                if r["stdout_truncated"].as_bool() == Some(true)
                    || r["stderr_truncated"].as_bool() == Some(true)
                {
                    let _ = writeln!(se, "aicockpit: output truncated");
                }
            }
            if r["timed_out"].as_bool() == Some(true) {
                eprintln!("aicockpit: the command timed out and was killed");
                return Ok(exit::TIMEOUT);
            }
            // The command's own status, as a shell would report it.
            return Ok(r["exit_code"]
                .as_i64()
                .map(|c| (c & 0xff) as u8)
                .unwrap_or(exit::FAILURE));
        }
    }
    Ok(exit::OK)
}

/// Whether the workspace's /workspace has a devcontainer.json where the
/// server looks for one.
async fn has_devcontainer(c: &Client, id: &str) -> bool {
    for path in [
        "/workspace/.devcontainer/devcontainer.json",
        "/workspace/.devcontainer.json",
    ] {
        let url = format!(
            "/api/v1/workspaces/{}/files/stat?path={}",
            seg(id),
            seg(path)
        );
        if c.call::<Value>(Method::GET, &url, None).await.is_ok() {
            return true;
        }
    }
    false
}

/// `ws setups`: the list of kept setups, or one's output (its lines, then
/// how it ended).
async fn setups(c: &Client, workspace: &str, at: Option<i64>, out: &Output) -> Result<(), Failure> {
    let base = format!("/api/v1/workspaces/{}", seg(workspace));
    let Some(at) = at else {
        let list: Value = c.call(Method::GET, &format!("{base}/setups"), None).await?;
        let mut text = format!(
            "{:<16} {:<11} {:<10} {:<20} SOURCE",
            "STARTED", "KIND", "STATE", "ERROR"
        );
        for s in list.as_array().into_iter().flatten() {
            text.push_str(&format!(
                "\n{:<16} {:<11} {:<10} {:<20} {}",
                s["started_ms"].as_i64().unwrap_or(0),
                s["kind"].as_str().unwrap_or("?"),
                s["state"].as_str().unwrap_or("?"),
                s["error_code"].as_str().unwrap_or("-"),
                s["source"].as_str().unwrap_or(""),
            ));
        }
        out.print(&list, &text);
        return Ok(());
    };
    let v: Value = c
        .call(Method::GET, &format!("{base}/setup?at={at}"), None)
        .await?;
    let mut text: Vec<String> = v["lines"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l.as_str().map(str::to_owned))
        .collect();
    text.push(match v["error"].as_str() {
        Some(e) => format!("{} failed: {e}", v["kind"].as_str().unwrap_or("setup")),
        None => format!(
            "{} {}",
            v["kind"].as_str().unwrap_or("setup"),
            v["state"].as_str().unwrap_or("?")
        ),
    });
    out.print(&v, &text.join("\n"));
    Ok(())
}

/// Shows a workspace's setup output (a clone and its devcontainer, or a
/// rebuild) on stderr as it comes, until it ends; a failed setup is a
/// failure saying why (the workspace stays).
async fn follow_setup(c: &Client, id: &str) -> Result<Value, Failure> {
    let path = format!("/api/v1/workspaces/{}/setup", seg(id));
    let mut next = 0u64;
    let mut shown = 0u64;
    let mut errors = 0;
    loop {
        // A few failed polls in a row are a blip, not the end.
        let v: Value = match c
            .call(Method::GET, &format!("{path}?from={next}"), None)
            .await
        {
            Ok(v) => {
                errors = 0;
                v
            }
            Err(f) if errors < 4 && f.code == exit::UNAVAILABLE => {
                errors += 1;
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                continue;
            }
            Err(f) => {
                return Err(Failure {
                    message: format!(
                        "the workspace runs, but its setup could not be followed: {}",
                        f.message
                    ),
                    code: f.code,
                })
            }
        };
        let from = v["from"].as_u64().unwrap_or(0);
        let lines = v["lines"].as_array().cloned().unwrap_or_default();
        for (i, line) in lines.iter().enumerate() {
            let at = from + i as u64;
            // A line shown before is shown again only when git rewrote it
            // (progress), on the same terminal line.
            let text = line.as_str().unwrap_or_default();
            if at < shown {
                eprint!("\r\x1b[K{text}");
            } else {
                if at > 0 {
                    eprintln!();
                }
                eprint!("{text}");
                shown = at + 1;
            }
        }
        next = v["next"].as_u64().unwrap_or(next);
        if v["state"] != "running" {
            eprintln!();
            if v["state"] == "failed" {
                return Err(Failure {
                    message: format!(
                        "the workspace runs, but its setup failed ({}): {}",
                        v["error_code"].as_str().unwrap_or("failed"),
                        v["error"].as_str().unwrap_or("")
                    ),
                    code: exit::FAILURE,
                });
            }
            return Ok(v);
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

async fn save_stream(resp: reqwest::Response, file: &std::path::Path) -> Result<u64, Failure> {
    use futures_util::StreamExt;
    use tokio::io::AsyncWriteExt;
    let failed = |e: String| Failure {
        message: format!("{}: {e}", file.display()),
        code: exit::FAILURE,
    };
    let mut f = tokio::fs::File::create(file)
        .await
        .map_err(|e| failed(e.to_string()))?;
    let mut body = resp.bytes_stream();
    let mut n = 0u64;
    let mut progress = Progress::new("received");
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| failed(format!("the download broke off: {e}")))?;
        f.write_all(&chunk)
            .await
            .map_err(|e| failed(e.to_string()))?;
        n += chunk.len() as u64;
        progress.show(n);
    }
    f.flush().await.map_err(|e| failed(e.to_string()))?;
    progress.done();
    Ok(n)
}

/// Bytes moved so far, on one line of a terminal's stderr (nothing when
/// stderr is not a terminal), at most every quarter second.
pub(crate) struct Progress {
    what: &'static str,
    on: bool,
    last: std::time::Instant,
}

impl Progress {
    pub(crate) fn new(what: &'static str) -> Progress {
        use std::io::IsTerminal as _;
        Progress {
            what,
            on: std::io::stderr().is_terminal(),
            last: std::time::Instant::now(),
        }
    }

    pub(crate) fn show(&mut self, bytes: u64) {
        if self.on && self.last.elapsed() >= std::time::Duration::from_millis(250) {
            self.last = std::time::Instant::now();
            eprint!("\r{} {:.1} MiB…", self.what, bytes as f64 / 1048576.0);
        }
    }

    pub(crate) fn done(&self) {
        if self.on {
            eprint!("\r\x1b[K");
        }
    }
}

async fn action(
    c: &Client,
    workspace: &str,
    verb: &str,
    done: &str,
    out: Output,
) -> Result<(), Failure> {
    let w: Value = c
        .call(
            Method::POST,
            &format!("/api/v1/workspaces/{}/{verb}", seg(workspace)),
            None,
        )
        .await?;
    out.print(
        &w,
        &format!(
            "{done} {} ({})",
            w["name"].as_str().unwrap_or("?"),
            w["state"].as_str().unwrap_or("?")
        ),
    );
    Ok(())
}

pub(crate) async fn templates(conn: Connection, out: Output) -> u8 {
    let client = match Client::from_connection(&conn) {
        Ok(c) => c,
        Err(f) => return f.report(),
    };
    match client
        .call::<Value>(Method::GET, "/api/v1/templates", None)
        .await
    {
        Ok(list) => {
            let text = list
                .as_array()
                .into_iter()
                .flatten()
                .map(|t| {
                    format!(
                        "{:<10} {:<40} {}",
                        t["name"].as_str().unwrap_or("?"),
                        t["image"].as_str().unwrap_or("?"),
                        t["description"].as_str().unwrap_or("")
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            out.print(&list, &text);
            exit::OK
        }
        Err(f) => f.report(),
    }
}
