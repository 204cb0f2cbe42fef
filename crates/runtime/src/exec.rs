//! Running one command to completion in a container, with a timeout and caps
//! on how much output is kept.
//!
//! The Docker API cannot kill an exec'd process, so the command is started
//! through a tiny `sh` prelude that first reports its PID on stderr; on
//! timeout a second exec kills that process group. This needs `/bin/sh` in the
//! image, which every workspace image has; the in-container agent (a later
//! piece) will replace this with its own process control.

use crate::{ExecOutput, ExecRequest, RuntimeError};
use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::Docker;
use futures_util::StreamExt;
use std::time::{Duration, Instant};

const PID_MARKER: &str = "AICOCKPIT_EXEC_PID=";

/// Collects one output stream, keeping at most `cap` bytes.
struct Capped {
    buf: Vec<u8>,
    cap: usize,
    truncated: bool,
}

impl Capped {
    fn new(cap: usize) -> Capped {
        Capped {
            buf: Vec::new(),
            cap,
            truncated: false,
        }
    }

    fn push(&mut self, data: &[u8]) {
        let room = self.cap.saturating_sub(self.buf.len());
        if data.len() > room {
            self.truncated = true;
        }
        self.buf.extend_from_slice(&data[..data.len().min(room)]);
    }
}

/// Strips the PID line the prelude writes first on stderr; returns the PID
/// once the whole line has arrived.
struct PidLine {
    pending: Vec<u8>,
    done: bool,
}

impl PidLine {
    /// Feeds stderr bytes; returns (pid if just parsed, bytes that belong to the command).
    fn feed<'a>(&mut self, data: &'a [u8]) -> (Option<u32>, std::borrow::Cow<'a, [u8]>) {
        if self.done {
            return (None, data.into());
        }
        self.pending.extend_from_slice(data);
        let Some(nl) = self.pending.iter().position(|&b| b == b'\n') else {
            // Guard against a prelude that never finishes its line.
            if self.pending.len() > 64 {
                self.done = true;
                return (None, std::mem::take(&mut self.pending).into());
            }
            return (None, Vec::new().into());
        };
        self.done = true;
        let line = String::from_utf8_lossy(&self.pending[..nl]).into_owned();
        let rest = self.pending[nl + 1..].to_vec();
        self.pending.clear();
        match line
            .strip_prefix(PID_MARKER)
            .and_then(|p| p.trim().parse().ok())
        {
            Some(pid) => (Some(pid), rest.into()),
            None => {
                let mut all = line.into_bytes();
                all.push(b'\n');
                all.extend_from_slice(&rest);
                (None, all.into())
            }
        }
    }
}

/// Kills the command if the exec is abandoned before it finished (the caller
/// dropped the future: an agent run was stopped, a request was cancelled),
/// so nothing keeps running unobserved.
struct KillOnDrop {
    docker: Docker,
    container: String,
    user: Option<String>,
    pid: Option<u32>,
    armed: bool,
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let Some(pid) = self.pid else { return };
        let (d, c, u) = (
            self.docker.clone(),
            self.container.clone(),
            self.user.clone(),
        );
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move { kill_group(&d, &c, pid, u).await });
        }
    }
}

/// Hears a command's output as it comes (stdout and stderr alike).
pub type OutputSink<'a> = &'a (dyn Fn(&[u8]) + Send + Sync);

pub(crate) async fn run(
    d: &Docker,
    container: &str,
    req: &ExecRequest,
) -> Result<ExecOutput, RuntimeError> {
    run_observed(d, container, req, None).await
}

/// [`run`], with every chunk of output also given to `sink` as it arrives.
pub(crate) async fn run_observed(
    d: &Docker,
    container: &str,
    req: &ExecRequest,
    sink: Option<OutputSink<'_>>,
) -> Result<ExecOutput, RuntimeError> {
    let started = Instant::now();
    let mut cmd = vec![
        "/bin/sh".to_owned(),
        "-c".to_owned(),
        format!("echo {PID_MARKER}$$ >&2; exec \"$@\""),
        "aicockpit-exec".to_owned(),
    ];
    cmd.extend(req.argv.iter().cloned());
    let exec = d
        .create_exec(
            container,
            CreateExecOptions {
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                cmd: Some(cmd),
                env: Some(req.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
                user: req.user.clone(),
                working_dir: req.cwd.clone(),
                ..Default::default()
            },
        )
        .await?;
    let StartExecResults::Attached { mut output, .. } = d.start_exec(&exec.id, None).await? else {
        return Err(RuntimeError::Engine("exec started detached".into()));
    };

    let mut stdout = Capped::new(req.max_output_bytes);
    let mut stderr = Capped::new(req.max_output_bytes);
    let mut pid_line = PidLine {
        pending: Vec::new(),
        done: false,
    };
    let mut pid = None;
    let mut guard = KillOnDrop {
        docker: d.clone(),
        container: container.to_owned(),
        user: req.user.clone(),
        pid: None,
        armed: true,
    };
    let deadline = tokio::time::sleep(req.timeout);
    tokio::pin!(deadline);
    let mut timed_out = false;
    loop {
        tokio::select! {
            item = output.next() => match item {
                Some(Ok(LogOutput::StdOut { message })) | Some(Ok(LogOutput::Console { message })) => {
                    if let Some(f) = sink {
                        f(&message);
                    }
                    stdout.push(&message)
                }
                Some(Ok(LogOutput::StdErr { message })) => {
                    let (p, rest) = pid_line.feed(&message);
                    if p.is_some() {
                        pid = p;
                        guard.pid = p;
                    }
                    if let (Some(f), false) = (sink, rest.is_empty()) {
                        f(&rest);
                    }
                    stderr.push(&rest);
                }
                Some(Ok(LogOutput::StdIn { .. })) => {}
                Some(Err(e)) => return Err(e.into()),
                None => break,
            },
            _ = &mut deadline => {
                timed_out = true;
                break;
            }
        }
    }
    drop(output);

    if timed_out {
        guard.armed = false;
        if let Some(pid) = pid {
            kill_group(d, container, pid, req.user.clone()).await;
        }
        return Ok(ExecOutput {
            exit_code: None,
            stdout: stdout.buf,
            stderr: stderr.buf,
            stdout_truncated: stdout.truncated,
            stderr_truncated: stderr.truncated,
            timed_out: true,
            duration: started.elapsed(),
        });
    }

    guard.armed = false;
    // The stream ends when the process closes its output; the exit code is
    // recorded a moment later on slow engines, so look a few times.
    let mut exit_code = None;
    for attempt in 0..50 {
        let info = d.inspect_exec(&exec.id).await?;
        if info.running != Some(true) {
            exit_code = info.exit_code;
            break;
        }
        tokio::time::sleep(Duration::from_millis(if attempt < 10 { 2 } else { 20 })).await;
    }
    Ok(ExecOutput {
        exit_code,
        stdout: stdout.buf,
        stderr: stderr.buf,
        stdout_truncated: stdout.truncated,
        stderr_truncated: stderr.truncated,
        timed_out: false,
        duration: started.elapsed(),
    })
}

/// Kills the timed-out command and everything it started. Best effort: the
/// caller reports the timeout whatever happens here.
///
/// The kill runs as the same user as the command: in a container whose user
/// is not root, even a root exec has no capabilities (so no CAP_KILL), but
/// a user may always signal their own processes. Every exec is a session and
/// process-group leader, so `-pid` reaches its children too. (`kill -9 -N`
/// is the one spelling dash, bash and busybox all accept.)
async fn kill_group(d: &Docker, container: &str, pid: u32, user: Option<String>) {
    let script = format!("kill -9 -{pid} 2>/dev/null || kill -9 {pid}");
    let Ok(exec) = d
        .create_exec(
            container,
            CreateExecOptions {
                cmd: Some(vec!["/bin/sh".to_owned(), "-c".to_owned(), script]),
                user,
                ..Default::default()
            },
        )
        .await
    else {
        return;
    };
    if let Ok(StartExecResults::Attached { mut output, .. }) = d.start_exec(&exec.id, None).await {
        while output.next().await.is_some() {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_line_is_stripped_even_when_split_across_chunks() {
        let mut p = PidLine {
            pending: Vec::new(),
            done: false,
        };
        let (pid, rest) = p.feed(b"AICOCKPIT_EXEC");
        assert_eq!(pid, None);
        assert!(rest.is_empty());
        let (pid, rest) = p.feed(b"_PID=42\nboom");
        assert_eq!(pid, Some(42));
        assert_eq!(&*rest, b"boom");
        let (pid, rest) = p.feed(b" more");
        assert_eq!(pid, None);
        assert_eq!(&*rest, b" more");
    }

    #[test]
    fn stderr_without_marker_is_kept() {
        let mut p = PidLine {
            pending: Vec::new(),
            done: false,
        };
        let (pid, rest) = p.feed(b"sh: not found\n");
        assert_eq!(pid, None);
        assert_eq!(&*rest, b"sh: not found\n");
    }

    #[test]
    fn capped_keeps_prefix_and_flags_truncation() {
        let mut c = Capped::new(4);
        c.push(b"ab");
        c.push(b"cdef");
        assert_eq!(c.buf, b"abcd");
        assert!(c.truncated);
    }
}
