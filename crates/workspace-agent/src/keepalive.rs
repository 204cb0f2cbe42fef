//! Keep-alives asked for inside the workspace: `aicockpit-keepalive --for
//! 2h --reason "training run"` (the agent binary's `keepalive` mode) asks
//! the daemon, which holds the latest ask until the server reads it before
//! an idle stop. The daemon serves only its own uid, so any process of the
//! workspace user may ask; the server bounds what it believes.

use crate::daemon::State;
use crate::sock::Addr;
use aicockpit_workspace_agent_proto::{
    AgentError, ErrorCode, KeepAliveAsk, Request, MAX_INSIDE_KEEP_ALIVE_SECS, MAX_KEEP_ALIVE_REASON,
};
use std::time::{Duration, Instant};

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

/// The `keepalive` command: asks this workspace's agent daemon.
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
    let req = Request::KeepAlive {
        for_secs,
        reason: reason.clone(),
    };
    crate::ask::ask_daemon(socket, req, Duration::from_secs(10))
        .await?
        .map(|_| format!("kept running for {for_secs} s: {reason}"))
        .map_err(|e| e.message)
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
