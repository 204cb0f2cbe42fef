//! `aicockpit-workspace-agent bridge`: what the server runs through the engine's exec.
//! It makes sure the daemon runs (starting it detached if not), then copies
//! bytes between its stdio and the daemon's socket until either side ends.

use crate::sock::Addr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

pub(crate) async fn run(root: &Path, socket: &Addr) -> std::io::Result<()> {
    let stream = match socket.connect() {
        Ok(s) => s,
        Err(_) => {
            start_daemon(root, socket)?;
            let mut attempt = 0;
            loop {
                match socket.connect() {
                    Ok(s) => break s,
                    Err(e) if attempt >= 200 => return Err(e),
                    Err(_) => {
                        attempt += 1;
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                }
            }
        }
    };
    // A sandboxed command may bind the daemon's (abstract) name before the
    // daemon does: what answers must not carry the sandbox's mark.
    if !crate::sock::peer_is_unmarked(&stream) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            "the agent's socket is held by a sandboxed process; restart the workspace",
        ));
    }
    let (mut srd, mut swr) = stream.into_split();
    let mut stdin = tokio::io::stdin();
    let mut stdout = tokio::io::stdout();
    let up = async {
        let _ = tokio::io::copy(&mut stdin, &mut swr).await;
    };
    let down = async {
        let mut buf = vec![0u8; 64 * 1024];
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        loop {
            match srd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    // Flush at once: terminal echo must not wait for a buffer.
                    if stdout.write_all(&buf[..n]).await.is_err() || stdout.flush().await.is_err() {
                        break;
                    }
                }
            }
        }
    };
    tokio::select! {
        _ = up => {}
        _ = down => {}
    }
    Ok(())
}

fn start_daemon(root: &Path, socket: &Addr) -> std::io::Result<()> {
    use std::os::unix::process::CommandExt;
    let exe = std::env::current_exe()?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(socket.log_path())
        .map(Stdio::from)
        .unwrap_or_else(|_| Stdio::null());
    // Its own process group: the engine ending the bridge's exec must not
    // take the daemon (and the user's terminals) with it.
    std::process::Command::new(exe)
        .arg("daemon")
        .arg("--root")
        .arg(root)
        .arg("--socket")
        .arg(socket.arg())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .process_group(0)
        .spawn()?;
    Ok(())
}
