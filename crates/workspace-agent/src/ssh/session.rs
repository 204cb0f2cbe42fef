//! One SSH session channel: its requests (PTY, environment, window size)
//! gathered until a shell, a command or the sftp subsystem starts, then its
//! data carried to and from that program until it exits.

use super::Base;
use bytes::Bytes;
use russh::server::Msg;
use russh::{Channel, ChannelMsg, Sig};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::process::Stdio;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

/// Variables a client may set (`SendEnv`), at most.
const MAX_ENV: usize = 64;
/// Longest variable value, and longest command line, in bytes.
const MAX_VALUE: usize = 64 * 1024;

/// Whether a client's `env` request is taken (both the handler's answer and
/// the session's use of it go by this one rule).
pub(crate) fn env_allowed(name: &str, value: &str) -> bool {
    !name.is_empty()
        && name.len() <= 256
        && !name.contains(['=', '\0'])
        && value.len() <= MAX_VALUE
        && !value.contains('\0')
}

/// Whether an `exec` request names a command the session can run.
pub(crate) fn command_allowed(command: &[u8]) -> bool {
    !command.is_empty() && command.len() <= MAX_VALUE && !command.contains(&0)
}

struct Pty {
    term: String,
    cols: u16,
    rows: u16,
}

fn size(v: u32) -> u16 {
    u16::try_from(v).unwrap_or(u16::MAX).clamp(1, 1000)
}

/// What the program's side reports back to the session loop.
enum Event {
    Exited(u32),
}

pub(crate) async fn run(mut channel: Channel<Msg>, base: Base) {
    let mut pty: Option<Pty> = None;
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    // Requests before the program starts.
    let program = loop {
        match channel.wait().await {
            Some(ChannelMsg::RequestPty {
                term,
                col_width,
                row_height,
                ..
            }) => {
                pty = Some(Pty {
                    term,
                    cols: size(col_width),
                    rows: size(row_height),
                })
            }
            Some(ChannelMsg::SetEnv {
                variable_name,
                variable_value,
                ..
            }) => {
                if env_allowed(&variable_name, &variable_value) && env.len() < MAX_ENV {
                    env.insert(variable_name, variable_value);
                }
            }
            Some(ChannelMsg::Exec { command, .. }) => {
                if !command_allowed(&command) {
                    let _ = channel.close().await;
                    return;
                }
                break Some(OsString::from_vec(command));
            }
            Some(ChannelMsg::RequestShell { .. }) => break None,
            Some(ChannelMsg::RequestSubsystem { name, .. }) => {
                if name == "sftp" {
                    run_sftp(channel, home_dir(&base)).await;
                } else {
                    let _ = channel.close().await;
                }
                return;
            }
            Some(ChannelMsg::Eof) | Some(ChannelMsg::Close) | None => return,
            Some(_) => {}
        }
    };
    let spawned = match pty {
        Some(p) => run_on_pty(channel, &base, env, p, program).await,
        None => run_on_pipes(channel, &base, env, program).await,
    };
    if let Err((channel, msg)) = spawned {
        let _ = channel
            .extended_data(1, format!("aicockpit: {msg}\r\n").as_bytes())
            .await;
        let _ = channel.exit_status(127).await;
        let _ = channel.eof().await;
        let _ = channel.close().await;
    }
}

/// The sftp server on one end of a pipe, the channel on the other: when
/// the client's end of input has been answered in full, the session ends
/// with status 0 as sftp-server's would (scp checks it).
async fn run_sftp(channel: Channel<Msg>, home: std::path::PathBuf) {
    let (ours, theirs) = tokio::io::duplex(256 * 1024);
    super::sftp::serve(theirs, home).await;
    let (mut rd, wr) = channel.split();
    let (mut from_sftp, mut to_sftp) = tokio::io::split(ours);
    let mut buf = vec![0u8; 64 * 1024];
    let mut client_done = false;
    loop {
        tokio::select! {
            msg = rd.wait(), if !client_done => match msg {
                Some(ChannelMsg::Data { data }) => {
                    if to_sftp.write_all(&data).await.is_err() {
                        client_done = true;
                    }
                }
                Some(ChannelMsg::Eof) => {
                    let _ = to_sftp.shutdown().await;
                    client_done = true;
                }
                Some(ChannelMsg::Close) | None => return,
                Some(_) => {}
            },
            n = from_sftp.read(&mut buf) => match n {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if wr.data(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
    let _ = wr.exit_status(0).await;
    let _ = wr.eof().await;
    let _ = wr.close().await;
}

fn home_dir(base: &Base) -> std::path::PathBuf {
    std::env::var_os("HOME")
        .map(std::path::PathBuf::from)
        .filter(|h| h.is_dir())
        .unwrap_or_else(|| base.cwd.clone())
}

/// The environment every session's program gets on top of the agent's
/// (less the variables `remoteEnv` unsets, which the caller removes first:
/// the client's own `env` requests may set them again).
fn session_env(env: &BTreeMap<String, String>, term: Option<&str>) -> Vec<(String, String)> {
    let unset: std::collections::HashSet<String> = crate::term::unset_vars().into_iter().collect();
    let mut v = crate::term::session_env();
    v.retain(|(k, _)| !unset.contains(k));
    v.extend(env.iter().map(|(k, v)| (k.clone(), v.clone())));
    // Programs that adapt to SSH (git's pager, shells' prompts, VS Code's
    // server) look for these; the addresses are the tunnel's, not real.
    v.push(("SSH_CONNECTION".into(), "127.0.0.1 0 127.0.0.1 22".into()));
    v.push(("SSH_CLIENT".into(), "127.0.0.1 0 22".into()));
    if let Some(t) = term {
        v.push(("TERM".into(), t.to_owned()));
    }
    v
}

/// argv for a login shell or `shell -c COMMAND`.
fn argv(program: &Option<OsString>) -> (String, Vec<OsString>) {
    let shell = crate::term::default_shell();
    let args = match program {
        Some(cmd) => vec![OsString::from("-c"), cmd.clone()],
        None => vec![OsString::from("-l")],
    };
    (shell, args)
}

type Failed = (Channel<Msg>, String);

async fn run_on_pty(
    channel: Channel<Msg>,
    base: &Base,
    env: BTreeMap<String, String>,
    p: Pty,
    program: Option<OsString>,
) -> Result<(), Failed> {
    let opened = pty_process::open().and_then(|(pty, pts)| {
        pty.resize(pty_process::Size::new(p.rows, p.cols))?;
        Ok((pty, pts))
    });
    let (pty, pts) = match opened {
        Ok(x) => x,
        Err(e) => return Err((channel, format!("cannot open a terminal: {e}"))),
    };
    let (shell, args) = argv(&program);
    let mut cmd = pty_process::Command::new(&shell)
        .args(&args)
        .current_dir(&base.cwd);
    for k in crate::term::unset_vars() {
        cmd = cmd.env_remove(k);
    }
    for (k, v) in session_env(&env, Some(&p.term)) {
        cmd = cmd.env(k, v);
    }
    let mut child = match cmd.spawn(pts) {
        Ok(c) => c,
        Err(e) => return Err((channel, format!("cannot start {shell}: {e}"))),
    };
    let pgid = child
        .id()
        .and_then(|id| rustix::process::Pid::from_raw(id as i32));
    let (mut reader, mut writer) = pty.into_split();
    let (mut rd, wr) = channel.split();
    let wr = Arc::new(wr);

    let (done_tx, mut done_rx) = mpsc::channel::<Event>(1);
    // Output until the terminal closes, then the exit status.
    let out = wr.clone();
    tokio::spawn(async move {
        copy_out(&mut reader, |b| {
            let out = out.clone();
            async move { out.data(&b[..]).await.is_ok() }
        })
        .await;
        let code = exit_code(child.wait().await);
        let _ = done_tx.send(Event::Exited(code)).await;
    });
    loop {
        tokio::select! {
            msg = rd.wait() => match msg {
                Some(ChannelMsg::Data { data }) => {
                    if writer.write_all(&data).await.is_err() {
                        // The program is gone; its exit comes next.
                    }
                }
                Some(ChannelMsg::WindowChange { col_width, row_height, .. }) => {
                    let _ = writer.resize(pty_process::Size::new(size(row_height), size(col_width)));
                }
                Some(ChannelMsg::Signal { signal }) => signal_group(pgid, &signal),
                // On a terminal, the client's end of input is the user's
                // business (^D); the program keeps running.
                Some(ChannelMsg::Eof) => {}
                Some(ChannelMsg::Close) | None => {
                    hang_up(pgid);
                    return Ok(());
                }
                Some(_) => {}
            },
            Some(Event::Exited(code)) = done_rx.recv() => {
                let _ = wr.exit_status(code).await;
                let _ = wr.eof().await;
                let _ = wr.close().await;
                return Ok(());
            }
        }
    }
}

async fn run_on_pipes(
    channel: Channel<Msg>,
    base: &Base,
    env: BTreeMap<String, String>,
    program: Option<OsString>,
) -> Result<(), Failed> {
    let (shell, args) = argv(&program);
    let mut cmd = tokio::process::Command::new(&shell);
    cmd.args(&args)
        .current_dir(&base.cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(false);
    for k in crate::term::unset_vars() {
        cmd.env_remove(k);
    }
    for (k, v) in session_env(&env, None) {
        cmd.env(k, v);
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return Err((channel, format!("cannot start {shell}: {e}"))),
    };
    let pgid = child
        .id()
        .and_then(|id| rustix::process::Pid::from_raw(id as i32));
    let mut stdin = child.stdin.take();
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let (mut rd, wr) = channel.split();
    let wr = Arc::new(wr);

    let (done_tx, mut done_rx) = mpsc::channel::<Event>(1);
    let (o, e) = (wr.clone(), wr.clone());
    tokio::spawn(async move {
        // Both streams drained before the exit status, as sshd does, so
        // a client sees all output before the command's end.
        let out = async {
            if let Some(mut s) = stdout {
                copy_out(&mut s, |b| {
                    let o = o.clone();
                    async move { o.data(&b[..]).await.is_ok() }
                })
                .await;
            }
        };
        let err = async {
            if let Some(mut s) = stderr {
                copy_out(&mut s, |b| {
                    let e = e.clone();
                    async move { e.extended_data(1, &b[..]).await.is_ok() }
                })
                .await;
            }
        };
        tokio::join!(out, err);
        let code = exit_code(child.wait().await);
        let _ = done_tx.send(Event::Exited(code)).await;
    });
    loop {
        tokio::select! {
            msg = rd.wait() => match msg {
                Some(ChannelMsg::Data { data }) => {
                    if let Some(s) = stdin.as_mut() {
                        if s.write_all(&data).await.is_err() {
                            stdin = None;
                        }
                    }
                }
                Some(ChannelMsg::Signal { signal }) => signal_group(pgid, &signal),
                Some(ChannelMsg::Eof) => {
                    // The client's end of input closes the program's stdin.
                    stdin = None;
                }
                Some(ChannelMsg::Close) | None => {
                    hang_up(pgid);
                    return Ok(());
                }
                Some(_) => {}
            },
            Some(Event::Exited(code)) = done_rx.recv() => {
                let _ = wr.exit_status(code).await;
                let _ = wr.eof().await;
                let _ = wr.close().await;
                return Ok(());
            }
        }
    }
}

/// Reads `from` until its end, handing each chunk to `send` (false: the
/// channel is gone, stop).
async fn copy_out<R, F, Fut>(from: &mut R, send: F)
where
    R: AsyncRead + Unpin,
    F: Fn(Bytes) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if !send(Bytes::copy_from_slice(&buf[..n])).await {
                    return;
                }
            }
        }
    }
}

fn exit_code(st: std::io::Result<std::process::ExitStatus>) -> u32 {
    match st {
        Ok(st) => st
            .code()
            .map(|c| c as u32)
            .or_else(|| std::os::unix::process::ExitStatusExt::signal(&st).map(|s| 128 + s as u32))
            .unwrap_or(255),
        Err(_) => 255,
    }
}

fn signal_group(pgid: Option<rustix::process::Pid>, sig: &Sig) {
    use rustix::process::Signal;
    let Some(pgid) = pgid else { return };
    let s = match sig {
        Sig::INT => Signal::INT,
        Sig::TERM => Signal::TERM,
        Sig::KILL => Signal::KILL,
        Sig::HUP => Signal::HUP,
        Sig::QUIT => Signal::QUIT,
        Sig::USR1 => Signal::USR1,
        Sig::ALRM => Signal::ALARM,
        Sig::PIPE => Signal::PIPE,
        _ => return,
    };
    let _ = rustix::process::kill_process_group(pgid, s);
}

/// The client went away: the program's session gets a hang-up, as when a
/// terminal closes.
fn hang_up(pgid: Option<rustix::process::Pid>) {
    if let Some(pgid) = pgid {
        let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::HUP);
    }
}
