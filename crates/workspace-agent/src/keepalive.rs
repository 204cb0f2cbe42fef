//! Keep-alives asked for inside the workspace: `aicockpit-keepalive --for
//! 2h --reason "training run"` (the agent binary's `keepalive` mode) asks
//! the daemon, which holds the latest ask until the server reads it before
//! an idle stop. The daemon serves only its own uid, so any process of the
//! workspace user may ask; the server bounds what it believes.

use crate::daemon::State;
use crate::sock::Addr;
use aicockpit_workspace_agent_proto::{
    AgentError, ErrorCode, Frame, FrameDecoder, KeepAliveAsk, Message, Request,
    MAX_INSIDE_KEEP_ALIVE_SECS, MAX_KEEP_ALIVE_REASON,
};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Holds a keep-alive (the latest ask replaces any earlier one).
pub(crate) fn hold(st: &State, for_secs: u64, reason: String) -> Result<(), AgentError> {
    let reason = check(for_secs, &reason).map_err(|m| AgentError::new(ErrorCode::Invalid, m))?;
    let until = Instant::now() + Duration::from_secs(for_secs);
    *st.keep_alive.lock().unwrap_or_else(|p| p.into_inner()) = Some((until, reason));
    Ok(())
}

/// The keep-alive still on, if any.
pub(crate) fn current(st: &State) -> Option<KeepAliveAsk> {
    let held = st.keep_alive.lock().unwrap_or_else(|p| p.into_inner());
    let (until, reason) = held.as_ref()?;
    let left = until.checked_duration_since(Instant::now())?;
    Some(KeepAliveAsk {
        remaining_secs: left.as_secs().max(1),
        reason: reason.clone(),
    })
}

fn check(for_secs: u64, reason: &str) -> Result<String, String> {
    if !(1..=MAX_INSIDE_KEEP_ALIVE_SECS).contains(&for_secs) {
        return Err(format!(
            "--for must be 1 s to {} h",
            MAX_INSIDE_KEEP_ALIVE_SECS / 3600
        ));
    }
    let reason = reason.trim();
    if reason.is_empty()
        || reason.len() > MAX_KEEP_ALIVE_REASON
        || reason.chars().any(char::is_control)
    {
        return Err(format!(
            "--reason must be 1 to {MAX_KEEP_ALIVE_REASON} bytes on one line"
        ));
    }
    Ok(reason.to_owned())
}

/// `30`, `90s`, `15m`, `2h`, `1d` in seconds.
fn parse_duration(s: &str) -> Option<u64> {
    let (num, unit) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let n: u64 = num.parse().ok()?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return None,
    };
    n.checked_mul(mult)
}

const USAGE: &str = "usage: aicockpit-keepalive --for DURATION (30m, 2h, …) --reason TEXT";

/// The `keepalive` command: asks this workspace's agent daemon. The
/// daemon's address comes from this binary's own name
/// (`workspace-agent-<build>`), which is how the server names it too.
pub(crate) async fn command(args: &[String], socket: Option<Addr>) -> Result<String, String> {
    let (mut for_secs, mut reason) = (None, None);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match (a.as_str(), it.next()) {
            ("--for", Some(v)) => {
                for_secs = Some(parse_duration(v).ok_or_else(|| format!("--for {v:?}: {USAGE}"))?)
            }
            ("--reason", Some(v)) => reason = Some(v.clone()),
            _ => return Err(USAGE.into()),
        }
    }
    let (Some(for_secs), Some(reason)) = (for_secs, reason) else {
        return Err(USAGE.into());
    };
    let reason = check(for_secs, &reason)?;
    let socket = match socket {
        Some(s) => s,
        None => own_socket()?,
    };
    let mut conn = socket
        .connect()
        .map_err(|e| format!("the workspace agent is not running here ({e})"))?;
    let req = Message::Request {
        id: 1,
        req: Request::KeepAlive {
            for_secs,
            reason: reason.clone(),
        },
    };
    conn.write_all(&Frame::json(&req).to_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut frames = FrameDecoder::default();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        while let Some(frame) = frames.next_frame().map_err(|e| e.0)? {
            if let Ok(Message::Response { id: 1, result }) = serde_json::from_slice(&frame.payload)
            {
                return result
                    .map(|_| format!("kept running for {for_secs} s: {reason}"))
                    .map_err(|e| e.message);
            }
        }
        let n = tokio::time::timeout(Duration::from_secs(10), conn.read(&mut buf))
            .await
            .map_err(|_| "the workspace agent did not answer".to_owned())?
            .map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("the workspace agent closed the connection".into());
        }
        frames.push(&buf[..n]);
    }
}

fn own_socket() -> Result<Addr, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let name = exe
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or("the agent binary has no name")?;
    let build = name
        .strip_prefix("workspace-agent-")
        .ok_or_else(|| format!("run the agent the server placed (not {name})"))?;
    Ok(Addr::parse(&format!("@aicockpit-workspace-agent-{build}")))
}

#[cfg(test)]
mod tests {
    use super::{check, parse_duration};

    #[test]
    fn durations_and_reasons_are_bounded() {
        for (s, want) in [
            ("30", Some(30)),
            ("90s", Some(90)),
            ("15m", Some(900)),
            ("2h", Some(7200)),
            ("1d", Some(86400)),
            ("", None),
            ("h", None),
            ("2w", None),
            ("-5m", None),
            ("99999999999999999999d", None),
        ] {
            assert_eq!(parse_duration(s), want, "{s:?}");
        }
        assert!(check(3600, "training").is_ok());
        assert!(check(0, "x").is_err());
        assert!(check(24 * 3600 + 1, "x").is_err());
        assert!(check(60, "   ").is_err());
        assert!(check(60, "two\nlines").is_err());
        assert!(check(60, &"x".repeat(201)).is_err());
    }
}
