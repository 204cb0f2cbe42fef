//! The guard between the model's tool calls and the workspace: each call
//! is judged on the paths it really touches (resolved by the workspace's
//! agent, symlinks followed), commands the guard allows run inside the
//! kernel sandbox derived from the same policy, and results the read rules
//! forbid are never shown.

use crate::judge::{self, Resolve};
use crate::policy::{self, Decision, Policy, Verdict, WORKSPACE};
use aicockpit_core::workspace_agent::AgentConn;
use aicockpit_workspace_agent_proto::sandbox::{SandboxSpec, MIN_SANDBOX_ABI};
use aicockpit_workspace_agent_proto::Request as AgentRequest;
use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;

/// Tool arguments larger than this are refused before they are parsed.
pub const MAX_TOOL_ARGUMENTS: usize = 4 * 1024 * 1024;

/// The tools the model may call; anything else is denied.
pub use crate::policy::Tool;

/// Where paths lead, as the workspace's agent reports it.
async fn resolve(conn: Option<&AgentConn>, paths: Vec<String>) -> HashMap<String, String> {
    let mut map = HashMap::new();
    let Some(conn) = conn else { return map };
    if paths.is_empty() {
        return map;
    }
    let Ok(v) = conn
        .call(
            AgentRequest::Resolve {
                paths: paths.clone(),
            },
            Duration::from_secs(10),
        )
        .await
    else {
        return map;
    };
    for (p, real) in paths.into_iter().zip(v.as_array().into_iter().flatten()) {
        if let Some(r) = real.as_str().and_then(|r| policy::absolute("/", r)) {
            map.insert(p, r);
        }
    }
    map
}

/// The verdict on one tool call. `conn` is the workspace's agent (None
/// when it cannot be reached: then nothing is resolved, and what needs
/// resolving asks).
pub async fn judge(policy: &Policy, tool: &str, args: &Value, conn: Option<&AgentConn>) -> Verdict {
    let Some(t) = Tool::parse(tool) else {
        return Verdict {
            decision: Decision::Deny,
            reason: format!("there is no tool {tool:?}"),
        };
    };
    match t {
        Tool::Search => Verdict {
            decision: policy.tool(t),
            reason: "the default for search (results the read rules deny are left out)".into(),
        },
        Tool::RunCommand => {
            let Some(line) = args["command"].as_str() else {
                return Verdict {
                    decision: Decision::Deny,
                    reason: "run_command needs a command".into(),
                };
            };
            let real = resolve(conn, judge::paths(policy, line)).await;
            let v = judge::command(policy, line, &real);
            let abi = conn.map(|c| c.landlock_abi).unwrap_or(0);
            if v.decision == Decision::Allow && abi < MIN_SANDBOX_ABI {
                return Verdict {
                    decision: Decision::Ask,
                    reason: format!(
                        "the workspace's kernel has no Landlock sandbox (ABI {abi}, {MIN_SANDBOX_ABI} needed), so every command asks"
                    ),
                };
            }
            v
        }
        _ => {
            let path = args["path"].as_str().unwrap_or("");
            let abs = policy::normalize(path).and_then(|rel| policy::absolute(WORKSPACE, &rel));
            let real = match &abs {
                Some(a) => resolve(conn, vec![a.clone()]).await.real(a),
                None => None,
            };
            let v = policy.file(t, path, real.as_deref(), t.writes());
            if v.decision == Decision::Allow && abs.is_some() && real.is_none() {
                return Verdict {
                    decision: Decision::Ask,
                    reason: format!("where {path} leads is unknown"),
                };
            }
            v
        }
    }
}

/// Whether a path (relative to /workspace) may appear in what the agent
/// lists or finds.
pub fn may_show(policy: &Policy, rel: &str) -> bool {
    match policy::absolute(WORKSPACE, rel) {
        Some(abs) => {
            policy
                .path_at(&abs, false, Decision::Allow, Decision::Allow)
                .decision
                != Decision::Deny
        }
        None => false,
    }
}

/// The absolute directory a glob's literal leading components name: every
/// path the glob matches lies beneath it.
fn literal_prefix(glob: &str) -> String {
    let full = if glob.starts_with('/') {
        glob.to_owned()
    } else {
        format!("{WORKSPACE}/{glob}")
    };
    let lit: Vec<&str> = full
        .split('/')
        .filter(|c| !c.is_empty())
        .take_while(|c| !c.contains(['*', '?', '[', '{', '\\']))
        .collect();
    policy::absolute("/", &lit.join("/")).unwrap_or_else(|| "/".into())
}

/// The kernel sandbox for commands run without approval: /workspace is
/// writable (unless writing is denied) except under every glob that denies
/// writing; nothing under a glob that denies reading can be opened; the
/// network as the policy says. A glob is widened to its literal prefix, so
/// the sandbox is never looser than the rules.
pub fn sandbox_spec(policy: &Policy) -> SandboxSpec {
    let mut spec = SandboxSpec {
        network: policy.network,
        ..Default::default()
    };
    if policy.tool(Tool::WriteFile) != Decision::Deny {
        spec.writable.push(WORKSPACE.into());
    }
    for r in &policy.paths {
        if r.write == Some(Decision::Deny) {
            spec.read_only.push(literal_prefix(&r.glob));
        }
        if r.read == Some(Decision::Deny) {
            spec.unreadable.push(literal_prefix(&r.glob));
        }
    }
    spec
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::PathRule;

    #[test]
    fn deny_globs_become_kernel_rules_that_are_never_looser() {
        let mut p = Policy::default();
        p.paths.push(PathRule {
            glob: "secrets/**".into(),
            read: Some(Decision::Deny),
            write: Some(Decision::Deny),
        });
        p.paths.push(PathRule {
            glob: "**/*.pem".into(),
            read: Some(Decision::Deny),
            write: None,
        });
        p.paths.push(PathRule {
            glob: "/etc/ssl/**".into(),
            read: Some(Decision::Deny),
            write: None,
        });
        let s = sandbox_spec(&p);
        assert_eq!(s.writable, vec!["/workspace"]);
        assert_eq!(s.read_only, vec!["/workspace/.git", "/workspace/secrets"]);
        assert_eq!(
            s.unreadable,
            vec!["/workspace/secrets", "/workspace", "/etc/ssl"]
        );
        assert!(!s.network);
        p.tools.insert("write_file".into(), Decision::Deny);
        p.network = true;
        let s = sandbox_spec(&p);
        assert!(s.writable.is_empty() && s.network);
    }

    #[test]
    fn tools_are_a_closed_set_and_denied_paths_are_hidden() {
        for t in [
            "list_files",
            "read_file",
            "search",
            "write_file",
            "edit_file",
            "delete_file",
            "run_command",
        ] {
            assert_eq!(Tool::parse(t).map(Tool::name), Some(t));
        }
        assert_eq!(Tool::parse("exec"), None);
        let mut p = Policy::default();
        p.paths.push(PathRule {
            glob: "secrets/**".into(),
            read: Some(Decision::Deny),
            write: None,
        });
        assert!(!may_show(&p, "secrets/key"));
        assert!(!may_show(&p, "secrets"));
        assert!(may_show(&p, "src/main.rs"));
    }
}
