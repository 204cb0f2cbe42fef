//! Where the daemon listens. `@NAME` is an abstract Unix socket, suffixed
//! with the caller's uid: a sandboxed command cannot reach it (Landlock
//! scopes abstract sockets, while a socket file would stay connectable),
//! and the daemon only serves peers of its own uid.

use std::io;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::SocketAddr;
use std::path::PathBuf;
use tokio::net::{UnixListener, UnixStream};

#[derive(Debug, Clone)]
pub(crate) enum Addr {
    Path(PathBuf),
    Abstract(String),
}

pub(crate) fn uid() -> u32 {
    rustix::process::getuid().as_raw()
}

impl Addr {
    pub(crate) fn parse(arg: &str) -> Addr {
        match arg.strip_prefix('@') {
            Some(name) => Addr::Abstract(format!("{name}-{}", uid())),
            None => Addr::Path(PathBuf::from(arg)),
        }
    }

    /// The argument that names this address to another agent process.
    pub(crate) fn arg(&self) -> String {
        match self {
            Addr::Path(p) => p.to_string_lossy().into_owned(),
            // The uid suffix is added again by `parse`.
            Addr::Abstract(n) => format!("@{}", n.rsplit_once('-').map(|x| x.0).unwrap_or(n)),
        }
    }

    pub(crate) fn log_path(&self) -> PathBuf {
        match self {
            Addr::Path(p) => p.with_extension("log"),
            Addr::Abstract(n) => PathBuf::from(format!("/tmp/.{n}.log")),
        }
    }

    fn std(&self) -> io::Result<SocketAddr> {
        match self {
            Addr::Path(p) => SocketAddr::from_pathname(p),
            Addr::Abstract(n) => SocketAddr::from_abstract_name(n.as_bytes()),
        }
    }

    pub(crate) fn connect(&self) -> io::Result<UnixStream> {
        let s = std::os::unix::net::UnixStream::connect_addr(&self.std()?)?;
        s.set_nonblocking(true)?;
        UnixStream::from_std(s)
    }

    pub(crate) fn bind(&self) -> io::Result<UnixListener> {
        let l = std::os::unix::net::UnixListener::bind_addr(&self.std()?)?;
        l.set_nonblocking(true)?;
        UnixListener::from_std(l)
    }
}

/// The number of seccomp filters on process `pid` (`self` for this one):
/// the AI's sandbox adds one to everything it runs, a mark nothing can
/// remove, by which its processes are told apart.
pub(crate) fn seccomp_filters(pid: &str) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Seccomp_filters:"))
        .and_then(|v| v.trim().parse().ok())
}

/// Whether the process at the other end of `stream` carries no more
/// seccomp filters than this one (not the sandbox's mark); unreadable is
/// no.
pub(crate) fn peer_is_unmarked(stream: &tokio::net::UnixStream) -> bool {
    let own = seccomp_filters("self").unwrap_or(0);
    stream
        .peer_cred()
        .ok()
        .and_then(|c| c.pid())
        .and_then(|pid| seccomp_filters(&pid.to_string()))
        .is_some_and(|n| n <= own)
}
