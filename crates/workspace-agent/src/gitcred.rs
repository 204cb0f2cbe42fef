//! git credentials on demand: `aicockpit-git-credential` (the agent
//! binary's `git-credential` mode) is git's credential helper in every
//! workspace. It asks the daemon, the daemon asks the server over the link
//! ([`Event::GitCredentialWanted`]) and hands back what the server
//! answers, so the token exists only in the memory of the git process
//! that asked — never in the workspace's files or environment.
//!
//! Anything in the workspace can run the helper: the server decides what
//! it gives (only the owner's credential for exactly that origin) and
//! audits each one it gives.

use crate::daemon::State;
use crate::sock::Addr;
use aicockpit_workspace_agent_proto::{
    AgentError, ErrorCode, Event, GitCredential, GitCredentialAsk, GitCredentialOp, Request,
    MAX_GIT_CREDENTIAL_ASKS,
};
use std::io::Read;
use std::time::Duration;
use tokio::sync::oneshot;

/// How long an ask waits for the server.
const SERVER_WAIT: Duration = Duration::from_secs(20);
/// What git may write to the helper, at most.
const MAX_INPUT: u64 = 64 * 1024;

/// The daemon's side: passes the ask to the server and waits (bounded) for
/// its answer. No server connected means no answer, after the wait.
pub(crate) async fn ask(
    st: &State,
    query: GitCredentialAsk,
) -> Result<Option<GitCredential>, AgentError> {
    if !query.is_bounded() {
        return Err(AgentError::new(
            ErrorCode::Invalid,
            "the credential ask is malformed or too long",
        ));
    }
    let (tx, rx) = oneshot::channel();
    let id = {
        let mut asks = st.git_asks();
        if asks.len() >= MAX_GIT_CREDENTIAL_ASKS {
            return Err(AgentError::new(
                ErrorCode::TooLarge,
                "too many git credential asks at once",
            ));
        }
        let id = st.next_conn();
        asks.insert(id, tx);
        id
    };
    let _ = st
        .events
        .send(Event::GitCredentialWanted { ask: id, query });
    let answer = tokio::time::timeout(SERVER_WAIT, rx).await;
    st.git_asks().remove(&id);
    match answer {
        Ok(Ok(credential)) => Ok(credential),
        _ => Err(AgentError::new(
            ErrorCode::Io,
            "the AiCockpit server did not answer (is the workspace connected?)",
        )),
    }
}

/// The server's answer to ask `id` (late or unknown answers are dropped).
pub(crate) fn answer(st: &State, id: u64, credential: Option<GitCredential>) {
    if let Some(tx) = st.git_asks().remove(&id) {
        let _ = tx.send(credential);
    }
}

/// The `git-credential OP` command as git runs it: the ask on stdin, the
/// credential (if any) on stdout. Operations it does not know are ignored,
/// as git's protocol asks of helpers.
pub(crate) async fn command(args: &[String], socket: Option<Addr>) -> Result<String, String> {
    let op = match args.first().map(String::as_str) {
        Some("get") => GitCredentialOp::Get,
        Some("store") => GitCredentialOp::Store,
        Some("erase") => GitCredentialOp::Erase,
        Some(_) => return Ok(String::new()),
        None => return Err("usage: aicockpit-git-credential get|store|erase".into()),
    };
    let mut input = String::new();
    std::io::stdin()
        .take(MAX_INPUT)
        .read_to_string(&mut input)
        .map_err(|e| format!("reading git's ask: {e}"))?;
    let Some(query) = parse(op, &input) else {
        // Not something the server serves (no host, another protocol).
        return Ok(String::new());
    };
    let req = Request::GitCredential { ask: query };
    let answer = crate::ask::ask_daemon(socket, req, SERVER_WAIT + Duration::from_secs(5))
        .await?
        .map_err(|e| e.message)?;
    let credential: Option<GitCredential> =
        serde_json::from_value(answer).map_err(|e| format!("unexpected answer: {e}"))?;
    Ok(match (op, credential) {
        // Whoever answered, no line of git's protocol is smuggled in.
        (GitCredentialOp::Get, Some(c))
            if !c
                .username
                .chars()
                .chain(c.password.chars())
                .any(char::is_control) =>
        {
            format!("username={}\npassword={}\n", c.username, c.password)
        }
        _ => String::new(),
    })
}

/// git's `key=value` lines (up to a blank line) as an ask; `None` when it
/// is not an http(s) ask with a host, or is out of bounds.
fn parse(op: GitCredentialOp, input: &str) -> Option<GitCredentialAsk> {
    let mut ask = GitCredentialAsk {
        op,
        protocol: String::new(),
        host: String::new(),
        path: None,
        username: None,
    };
    for line in input.lines() {
        if line.is_empty() {
            break;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        match k {
            "protocol" => ask.protocol = v.to_owned(),
            "host" => ask.host = v.to_owned(),
            "path" => ask.path = Some(v.to_owned()),
            "username" => ask.username = Some(v.to_owned()),
            _ => {}
        }
    }
    let served = matches!(ask.protocol.as_str(), "http" | "https");
    (served && ask.is_bounded()).then_some(ask)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_asks_are_read_as_git_writes_them_and_odd_ones_dropped() {
        let a = parse(
            GitCredentialOp::Get,
            "protocol=https\nhost=git.example.com:8443\npath=org/repo.git\nwwwauth[]=Basic realm=x\n\nprotocol=ignored\n",
        )
        .expect("an ask");
        assert_eq!(a.protocol, "https");
        assert_eq!(a.host, "git.example.com:8443");
        assert_eq!(a.path.as_deref(), Some("org/repo.git"));
        assert_eq!(a.username, None);
        for hostile in [
            "protocol=ssh\nhost=example.com\n",
            "protocol=https\n",
            "host=example.com\n",
            "protocol=https\nhost=a\rb\n",
            &format!("protocol=https\nhost={}\n", "h".repeat(300)),
            "",
        ] {
            assert!(
                parse(GitCredentialOp::Get, hostile).is_none(),
                "{hostile:?}"
            );
        }
    }
}
