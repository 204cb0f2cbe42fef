//! The workspace's SSH agent (`$SSH_AUTH_SOCK`): OpenSSH, git over ssh and
//! `ssh-keygen -Y sign` find the user's key here, but the private key never
//! enters the workspace — each request is passed to the server
//! ([`Event::SshAgentWanted`]), which holds the key, decides and audits.
//!
//! The socket is a file (OpenSSH cannot use abstract sockets), so Landlock
//! cannot keep a sandboxed command from connecting to it. Instead the
//! sandbox marks what it runs with one more seccomp filter (inherited by
//! every child, never removable), and a peer with more filters than this
//! daemon — or whose filters cannot be read — is not served: commands the
//! AI runs unapproved cannot sign with the user's key.
//!
//! Only the two requests a client needs are answered (list the keys,
//! sign); adding, removing and locking keys are refused.

use crate::daemon::State;
use aicockpit_workspace_agent_proto::{
    Event, SshAgentAsk, SshAgentReply, MAX_GIT_CREDENTIAL_ASKS, MAX_SSH_AGENT_DATA,
};
use ssh_encoding::Decode;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::oneshot;

/// Where the agent listens (`SSH_AUTH_SOCK` in every workspace).
pub(crate) const SOCKET: &str = "/tmp/aicockpit-ssh-agent.sock";
/// The largest request read (a sign request carries its data).
const MAX_MESSAGE: usize = MAX_SSH_AGENT_DATA + 4096;
/// Connections served at once.
const MAX_CONNECTIONS: usize = 32;
/// How long a request waits for the server.
const SERVER_WAIT: Duration = Duration::from_secs(20);

// The agent protocol's message numbers (draft-miller-ssh-agent).
const FAILURE: u8 = 5;
const REQUEST_IDENTITIES: u8 = 11;
const IDENTITIES_ANSWER: u8 = 12;
const SIGN_REQUEST: u8 = 13;
const SIGN_RESPONSE: u8 = 14;

/// Serves the agent socket in the background (the newest daemon takes
/// it over).
pub(crate) fn serve(st: Arc<State>) {
    tokio::spawn(async move {
        if let Err(e) = run(st).await {
            eprintln!("aicockpit-workspace-agent: the SSH agent is unavailable: {e}");
        }
    });
}

async fn run(st: Arc<State>) -> std::io::Result<()> {
    // Made under a name of its own, then renamed over the socket's path in
    // one step: a daemon of an older agent (left without a server after an
    // upgrade) or a stale file loses the path, and clients never see none.
    let path = Path::new(SOCKET);
    let fresh = format!("{SOCKET}.{}", std::process::id());
    let _ = std::fs::remove_file(&fresh);
    let listener = UnixListener::bind(&fresh)?;
    std::fs::set_permissions(&fresh, std::fs::Permissions::from_mode(0o600))?;
    if let Err(e) = std::fs::rename(&fresh, path) {
        let _ = std::fs::remove_file(&fresh);
        return Err(e);
    }
    let me = crate::sock::uid();
    let active = Arc::new(AtomicUsize::new(0));
    loop {
        let (stream, _) = listener.accept().await?;
        if stream.peer_cred().map(|c| c.uid()).ok() != Some(me) {
            continue;
        }
        // Unreadable is refused: the sandbox's mark may be behind it.
        if !crate::sock::peer_is_unmarked(&stream) {
            continue;
        }
        if active.fetch_add(1, Ordering::AcqRel) >= MAX_CONNECTIONS {
            active.fetch_sub(1, Ordering::AcqRel);
            continue;
        }
        let (st, active) = (st.clone(), active.clone());
        tokio::spawn(async move {
            let _ = connection(stream, &st).await;
            active.fetch_sub(1, Ordering::AcqRel);
        });
    }
}

async fn connection(mut stream: UnixStream, st: &State) -> std::io::Result<()> {
    loop {
        let mut len = [0u8; 4];
        if stream.read_exact(&mut len).await.is_err() {
            return Ok(());
        }
        let len = u32::from_be_bytes(len) as usize;
        if len == 0 || len > MAX_MESSAGE {
            return Ok(());
        }
        let mut body = vec![0u8; len];
        stream.read_exact(&mut body).await?;
        let reply = match request(&body) {
            Some(ask) => match relay(st, ask).await {
                Some(r) => encode(&r),
                None => vec![FAILURE],
            },
            None => vec![FAILURE],
        };
        stream
            .write_all(&(reply.len() as u32).to_be_bytes())
            .await?;
        stream.write_all(&reply).await?;
    }
}

/// The request in `body`, if it is one this agent answers.
fn request(body: &[u8]) -> Option<SshAgentAsk> {
    let (&kind, mut rest) = body.split_first()?;
    match kind {
        REQUEST_IDENTITIES => Some(SshAgentAsk::Identities),
        SIGN_REQUEST => {
            let key_blob = Vec::<u8>::decode(&mut rest).ok()?;
            let data = Vec::<u8>::decode(&mut rest).ok()?;
            let flags = u32::decode(&mut rest).ok()?;
            let ask = SshAgentAsk::Sign {
                key_blob,
                data,
                flags,
            };
            ask.is_bounded().then_some(ask)
        }
        _ => None,
    }
}

fn put_string(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// The protocol's answer for the server's reply.
fn encode(reply: &SshAgentReply) -> Vec<u8> {
    let mut out = Vec::new();
    match reply {
        SshAgentReply::Identities { keys } => {
            out.push(IDENTITIES_ANSWER);
            out.extend_from_slice(&(keys.len() as u32).to_be_bytes());
            for k in keys {
                put_string(&mut out, &k.blob);
                put_string(&mut out, k.comment.as_bytes());
            }
        }
        SshAgentReply::Signature { blob } => {
            out.push(SIGN_RESPONSE);
            put_string(&mut out, blob);
        }
    }
    out
}

/// Passes the ask to the server and waits (bounded) for its reply.
async fn relay(st: &State, query: SshAgentAsk) -> Option<SshAgentReply> {
    let (tx, rx) = oneshot::channel();
    let id = {
        let mut asks = st.ssh_asks();
        if asks.len() >= MAX_GIT_CREDENTIAL_ASKS {
            return None;
        }
        let id = st.next_conn();
        asks.insert(id, tx);
        id
    };
    let _ = st.events.send(Event::SshAgentWanted { ask: id, query });
    let answer = tokio::time::timeout(SERVER_WAIT, rx).await;
    st.ssh_asks().remove(&id);
    answer.ok().and_then(Result::ok).flatten()
}

/// The server's reply to ask `id` (late or unknown replies are dropped).
pub(crate) fn answer(st: &State, id: u64, reply: Option<SshAgentReply>) {
    if let Some(tx) = st.ssh_asks().remove(&id) {
        let _ = tx.send(reply);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign_body(key: &[u8], data: &[u8], flags: u32) -> Vec<u8> {
        let mut b = vec![SIGN_REQUEST];
        put_string(&mut b, key);
        put_string(&mut b, data);
        b.extend_from_slice(&flags.to_be_bytes());
        b
    }

    #[test]
    fn requests_the_agent_answers_and_the_rest() {
        assert_eq!(
            request(&[REQUEST_IDENTITIES]),
            Some(SshAgentAsk::Identities)
        );
        assert_eq!(
            request(&sign_body(b"key", b"data", 2)),
            Some(SshAgentAsk::Sign {
                key_blob: b"key".to_vec(),
                data: b"data".to_vec(),
                flags: 2
            })
        );
        // Adding, removing, locking keys, extensions; short and lying
        // lengths; too much data.
        let mut lying = vec![SIGN_REQUEST];
        lying.extend_from_slice(&u32::MAX.to_be_bytes());
        let mut truncated = sign_body(b"key", b"data", 0);
        truncated.truncate(truncated.len() - 2);
        for body in [
            vec![17u8],
            vec![18],
            vec![19],
            vec![22],
            vec![27],
            vec![],
            lying,
            truncated,
            sign_body(&[0; 2048], b"d", 0),
            sign_body(b"k", &vec![0; MAX_SSH_AGENT_DATA + 1], 0),
        ] {
            assert_eq!(request(&body), None, "{:?}", &body[..body.len().min(8)]);
        }
    }

    #[test]
    fn answers_are_in_the_protocols_encoding() {
        let a = encode(&SshAgentReply::Identities {
            keys: vec![aicockpit_workspace_agent_proto::SshIdentity {
                blob: b"B".to_vec(),
                comment: "c".into(),
            }],
        });
        assert_eq!(a, vec![12, 0, 0, 0, 1, 0, 0, 0, 1, b'B', 0, 0, 0, 1, b'c']);
        let s = encode(&SshAgentReply::Signature {
            blob: b"S".to_vec(),
        });
        assert_eq!(s, vec![14, 0, 0, 0, 1, b'S']);
    }

    #[test]
    fn this_process_has_a_readable_filter_count() {
        assert!(crate::sock::seccomp_filters("self").is_some());
        assert_eq!(crate::sock::seccomp_filters("no-such-pid"), None);
    }
}
