//! The SSH server desktop IDEs and OpenSSH reach through `aicockpit ssh`.
//!
//! It listens nowhere: each SSH connection arrives as one agent channel the
//! server opened after it had authenticated the caller and checked their
//! right to a shell in this workspace, so the SSH layer accepts the "none"
//! method (the login already happened, with the user's AiCockpit
//! credentials) and nothing in the workspace can connect to it. The host
//! key is derived by the server per workspace and handed over with each
//! connection, so clients can pin it (`aicockpit config-ssh` writes it to a
//! known-hosts file).
//!
//! Sessions run as the agent's own user (the workspace user): shells and
//! commands, with or without a PTY, the sftp subsystem (also what `scp`
//! speaks), and both directions of TCP forwarding.

mod forward;
mod session;
mod sftp;

use aicockpit_workspace_agent_proto::{AgentError, ErrorCode};
use russh::keys::ssh_key::private::{Ed25519Keypair, KeypairData};
use russh::keys::PrivateKey;
use russh::server::{Auth, Handler, Msg, Session};
use russh::{Channel, ChannelId, MethodKind, MethodSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};

/// Channels (sessions and forwarded connections) open at once on one SSH
/// connection; more are refused.
const MAX_CHANNELS: usize = 256;
/// Remote (`-R`) forwards one connection may hold.
const MAX_REMOTE_FORWARDS: usize = 32;

/// What every session of one connection starts from.
#[derive(Clone)]
pub(crate) struct Base {
    /// Where shells start (the workspace root).
    pub(crate) cwd: PathBuf,
}

/// The 32-byte seed from its 64 hex digits.
pub(crate) fn parse_seed(hex: &str) -> Result<[u8; 32], AgentError> {
    let bad = || AgentError::new(ErrorCode::Invalid, "host_key_seed must be 64 hex digits");
    // Every byte checked: from_str_radix alone would take a sign ("+1").
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    let mut seed = [0u8; 32];
    for (i, b) in seed.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(seed)
}

/// Runs the SSH protocol over `stream` until the client leaves.
pub(crate) async fn serve<S>(seed: [u8; 32], cwd: PathBuf, stream: S) -> Result<(), String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let key = PrivateKey::new(
        KeypairData::Ed25519(Ed25519Keypair::from_seed(&seed)),
        "aicockpit workspace",
    )
    .map_err(|e| format!("host key: {e}"))?;
    let config = russh::server::Config {
        server_id: russh::SshId::Standard(format!(
            "SSH-2.0-AiCockpit_{}",
            env!("CARGO_PKG_VERSION")
        )),
        methods: MethodSet::from(&[MethodKind::None][..]),
        auth_rejection_time: Duration::from_millis(0),
        keys: vec![key],
        // A shell left open for hours is normal; a client that vanished is
        // found by keepalives instead.
        inactivity_timeout: None,
        keepalive_interval: Some(Duration::from_secs(30)),
        keepalive_max: 4,
        nodelay: true,
        ..Default::default()
    };
    let handler = Connection {
        base: Base { cwd },
        channels: Arc::new(AtomicUsize::new(0)),
        forwards: forward::RemoteForwards::default(),
    };
    let running = russh::server::run_stream(Arc::new(config), stream, handler)
        .await
        .map_err(|e| e.to_string())?;
    running.await.map_err(|e| e.to_string())
}

/// One SSH connection's state.
struct Connection {
    base: Base,
    /// Channels open now (see [`MAX_CHANNELS`]).
    channels: Arc<AtomicUsize>,
    forwards: forward::RemoteForwards,
}

/// Counts a channel for as long as its task runs.
pub(crate) struct ChannelSlot(Arc<AtomicUsize>);

impl Drop for ChannelSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Connection {
    fn slot(&self) -> Option<ChannelSlot> {
        let n = self.channels.fetch_add(1, Ordering::Relaxed);
        let slot = ChannelSlot(self.channels.clone());
        (n < MAX_CHANNELS).then_some(slot)
    }
}

impl Handler for Connection {
    type Error = russh::Error;

    /// The caller was authenticated by the server before this connection
    /// existed (see the module comment); whatever user name the client
    /// sends, sessions run as the workspace user.
    async fn auth_none(&mut self, _user: &str) -> Result<Auth, Self::Error> {
        Ok(Auth::Accept)
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        _session: &mut Session,
    ) -> Result<bool, Self::Error> {
        let Some(slot) = self.slot() else {
            return Ok(false);
        };
        let base = self.base.clone();
        tokio::spawn(async move {
            session::run(channel, base).await;
            drop(slot);
        });
        Ok(true)
    }

    async fn channel_open_direct_tcpip(
        &mut self,
        channel: Channel<Msg>,
        host: &str,
        port: u32,
        _originator_address: &str,
        _originator_port: u32,
        _session: &mut Session,
    ) -> Result<bool, Self::Error> {
        let Some(slot) = self.slot() else {
            return Ok(false);
        };
        let Ok(port) = u16::try_from(port) else {
            return Ok(false);
        };
        let host = host.to_owned();
        tokio::spawn(async move {
            forward::direct(channel, host, port).await;
            drop(slot);
        });
        Ok(true)
    }

    async fn tcpip_forward(
        &mut self,
        address: &str,
        port: &mut u32,
        session: &mut Session,
    ) -> Result<bool, Self::Error> {
        if self.forwards.len() >= MAX_REMOTE_FORWARDS {
            return Ok(false);
        }
        let Ok(wanted) = u16::try_from(*port) else {
            return Ok(false);
        };
        match forward::listen(address, wanted, session.handle(), self.channels.clone()).await {
            Ok((bound, task)) => {
                *port = u32::from(bound);
                self.forwards.insert(address, bound, task);
                Ok(true)
            }
            Err(_) => Ok(false),
        }
    }

    async fn cancel_tcpip_forward(
        &mut self,
        address: &str,
        port: u32,
        _session: &mut Session,
    ) -> Result<bool, Self::Error> {
        Ok(u16::try_from(port).is_ok_and(|p| self.forwards.remove(address, p)))
    }

    // Requests on session channels: the channel's own task (see
    // `session`) receives each of them and acts; these only answer.
    async fn pty_request(
        &mut self,
        channel: ChannelId,
        _term: &str,
        _col_width: u32,
        _row_height: u32,
        _pix_width: u32,
        _pix_height: u32,
        _modes: &[(russh::Pty, u32)],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_success(channel)
    }

    async fn env_request(
        &mut self,
        channel: ChannelId,
        name: &str,
        value: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        if session::env_allowed(name, value) {
            session.channel_success(channel)
        } else {
            session.channel_failure(channel)
        }
    }

    async fn shell_request(
        &mut self,
        channel: ChannelId,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_success(channel)
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        if session::command_allowed(data) {
            session.channel_success(channel)
        } else {
            session.channel_failure(channel)
        }
    }

    async fn subsystem_request(
        &mut self,
        channel: ChannelId,
        name: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        if name == "sftp" {
            session.channel_success(channel)
        } else {
            session.channel_failure(channel)
        }
    }

    async fn window_change_request(
        &mut self,
        channel: ChannelId,
        _col_width: u32,
        _row_height: u32,
        _pix_width: u32,
        _pix_height: u32,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_success(channel)
    }
}

#[cfg(test)]
mod tests {
    use super::session::{command_allowed, env_allowed};
    use super::*;

    #[test]
    fn seeds_are_exactly_64_hex_digits() {
        let ok = "00".repeat(31) + "ff";
        assert_eq!(parse_seed(&ok).map(|s| s[31]).ok(), Some(0xff));
        let bad = [
            String::new(),
            "0".repeat(63),
            "0".repeat(65),
            "g".repeat(64),
            "é".repeat(32),
            "+1".repeat(32),
        ];
        for b in bad {
            assert!(parse_seed(&b).is_err(), "{b:?}");
        }
    }

    /// Hostile `env` and `exec` requests from a client: (name, value, taken).
    #[test]
    fn env_and_commands_are_bounded() {
        let long = "x".repeat(65 * 1024);
        let cases: [(&str, &str, bool); 7] = [
            ("LANG", "C.UTF-8", true),
            ("", "x", false),
            ("A=B", "x", false),
            ("A\0", "x", false),
            ("LANG", "a\0b", false),
            ("LANG", &long, false),
            (&long[..300], "x", false),
        ];
        for (name, value, want) in cases {
            assert_eq!(env_allowed(name, value), want, "{name:.20} {value:.20}");
        }
        assert!(command_allowed(b"echo hi"));
        assert!(!command_allowed(b""));
        assert!(!command_allowed(b"echo\0hi"));
        assert!(!command_allowed(long.as_bytes()));
    }
}
