//! The permission controller's policy and its decisions, without I/O.
//!
//! A policy says, per tool, allow / ask / deny; command rules match the
//! words a command starts with (`git status` matches `git status -s`, never
//! `git push`); path rules match globs for reads and writes. Every part of a
//! command line is judged and the most restrictive decision wins. Anything
//! the policy cannot see through (an opaque command, a path leaving the
//! workspace, a line that does not parse) is never allowed without asking.

use crate::shell;
use globset::{Glob, GlobMatcher};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Allow,
    Ask,
    Deny,
}

impl Decision {
    /// The more restrictive of two.
    pub fn and(self, other: Decision) -> Decision {
        self.max(other)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandRule {
    /// Words the command must start with; a final `*` word is explicit
    /// "and anything after" (the default for prefixes anyway).
    pub pattern: String,
    pub decision: Decision,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathRule {
    /// A glob relative to /workspace (`src/**`, `**/*.rs`).
    pub glob: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read: Option<Decision>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write: Option<Decision>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// Per tool: the decision when no rule says more.
    pub tools: BTreeMap<String, Decision>,
    /// Command rules; the most specific (longest) matching pattern decides.
    #[serde(default)]
    pub commands: Vec<CommandRule>,
    /// Path rules; the most restrictive matching rule decides.
    #[serde(default)]
    pub paths: Vec<PathRule>,
}

impl Default for Policy {
    /// Reading is allowed, changing things is asked, the usual foot-guns
    /// are denied.
    fn default() -> Self {
        let tools = [
            ("list_files", Decision::Allow),
            ("read_file", Decision::Allow),
            ("search", Decision::Allow),
            ("write_file", Decision::Ask),
            ("edit_file", Decision::Ask),
            ("delete_file", Decision::Ask),
            ("run_command", Decision::Ask),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        Policy {
            tools,
            commands: vec![
                CommandRule {
                    pattern: "ls".into(),
                    decision: Decision::Allow,
                },
                CommandRule {
                    pattern: "cat".into(),
                    decision: Decision::Allow,
                },
                CommandRule {
                    pattern: "pwd".into(),
                    decision: Decision::Allow,
                },
                CommandRule {
                    pattern: "git status".into(),
                    decision: Decision::Allow,
                },
                CommandRule {
                    pattern: "git diff".into(),
                    decision: Decision::Allow,
                },
                CommandRule {
                    pattern: "git log".into(),
                    decision: Decision::Allow,
                },
                CommandRule {
                    pattern: "git push".into(),
                    decision: Decision::Ask,
                },
                CommandRule {
                    pattern: "sudo".into(),
                    decision: Decision::Deny,
                },
                CommandRule {
                    pattern: "rm -rf /".into(),
                    decision: Decision::Deny,
                },
            ],
            paths: vec![PathRule {
                glob: ".git/**".into(),
                read: None,
                write: Some(Decision::Deny),
            }],
        }
    }
}

/// A decision with the reason people see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub decision: Decision,
    pub reason: String,
}

/// Normalises a tool's path to one relative to /workspace, or None when it
/// leaves the workspace (`..` above the root, NUL).
pub fn normalize(path: &str) -> Option<String> {
    if path.contains('\0') {
        return None;
    }
    let p = path
        .strip_prefix("/workspace")
        .filter(|r| r.is_empty() || r.starts_with('/'))
        .unwrap_or(path);
    if p.starts_with('/') && path != "/workspace" && !path.starts_with("/workspace/") {
        // Absolute, outside /workspace.
        return None;
    }
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            x => parts.push(x),
        }
    }
    Some(parts.join("/"))
}

fn matcher(glob: &str) -> Option<GlobMatcher> {
    Glob::new(glob).ok().map(|g| g.compile_matcher())
}

impl Policy {
    pub fn tool(&self, tool: &str) -> Decision {
        self.tools.get(tool).copied().unwrap_or(Decision::Ask)
    }

    /// Reading or writing `path` (relative or /workspace-absolute).
    pub fn path(&self, path: &str, write: bool) -> Verdict {
        let Some(rel) = normalize(path) else {
            return Verdict {
                decision: Decision::Deny,
                reason: format!("{path} is outside /workspace"),
            };
        };
        // The most specific matching rule decides (the longest glob, so
        // `src/**` overrides `**`); on a tie the stricter one.
        let mut best: Option<(&PathRule, Decision)> = None;
        for r in &self.paths {
            let d = if write { r.write } else { r.read };
            let Some(d) = d else { continue };
            if matcher(&r.glob).is_some_and(|m| m.is_match(&rel)) {
                let better = match best {
                    None => true,
                    Some((b, bd)) => {
                        r.glob.len() > b.glob.len() || (r.glob.len() == b.glob.len() && d > bd)
                    }
                };
                if better {
                    best = Some((r, d));
                }
            }
        }
        let decision = best.map(|(_, d)| d);
        let why = best
            .map(|(r, _)| format!("path rule {:?}", r.glob))
            .unwrap_or_default();
        match decision {
            Some(d) => Verdict {
                decision: d,
                reason: why,
            },
            None => Verdict {
                decision: Decision::Allow,
                reason: "no path rule".into(),
            },
        }
    }

    /// One simple command: the longest matching rule, else the tool default.
    fn simple(&self, cmd: &shell::SimpleCommand, default: Decision) -> Verdict {
        if cmd.opaque {
            return Verdict {
                decision: default.and(Decision::Ask),
                reason: format!("`{}` is only known when it runs", cmd.words.join(" ")),
            };
        }
        let mut best: Option<(&CommandRule, usize)> = None;
        for r in &self.commands {
            let mut pat: Vec<&str> = r.pattern.split_whitespace().collect();
            if pat.last() == Some(&"*") {
                pat.pop();
            }
            if pat.is_empty() || pat.len() > cmd.words.len() {
                continue;
            }
            let first_matches = {
                // A command run by path (`/usr/bin/git`) is the same command.
                let name = cmd.words[0].rsplit('/').next().unwrap_or(&cmd.words[0]);
                pat[0] == name || pat[0] == cmd.words[0]
            };
            if first_matches && pat[1..].iter().zip(&cmd.words[1..]).all(|(p, w)| p == w) {
                let better = match best {
                    None => true,
                    // Longer patterns are more specific; on a tie the
                    // stricter decision wins.
                    Some((b, len)) => {
                        pat.len() > len || (pat.len() == len && r.decision > b.decision)
                    }
                };
                if better {
                    best = Some((r, pat.len()));
                }
            }
        }
        match best {
            Some((r, _)) => Verdict {
                decision: r.decision,
                reason: format!("command rule {:?}", r.pattern),
            },
            None => Verdict {
                decision: default,
                reason: format!(
                    "no rule for `{}`",
                    cmd.words.first().map(String::as_str).unwrap_or("")
                ),
            },
        }
    }

    /// A whole command line: every part, every redirection; the most
    /// restrictive decision wins.
    pub fn command(&self, line: &str) -> Verdict {
        let default = self.tool("run_command");
        let parts = match shell::parse(line) {
            Ok(p) => p,
            Err(e) => {
                return Verdict {
                    decision: default.and(Decision::Ask),
                    reason: format!("the command line does not parse ({})", e.0),
                }
            }
        };
        if parts.is_empty() {
            return Verdict {
                decision: Decision::Deny,
                reason: "an empty command".into(),
            };
        }
        let mut worst = Verdict {
            decision: Decision::Allow,
            reason: String::new(),
        };
        let mut consider = |v: Verdict| {
            if v.decision > worst.decision || worst.reason.is_empty() {
                worst = v;
            }
        };
        for p in &parts {
            if !p.words.is_empty() {
                consider(self.simple(p, default));
            }
            for w in &p.writes {
                if w != "/dev/null" {
                    consider(self.path(w, true));
                }
            }
            for r in &p.reads {
                consider(self.path(r, false));
            }
        }
        worst
    }

    /// A file tool on a path: a matching path rule decides, else the tool's
    /// default; a tool that is denied stays denied.
    pub fn file(&self, tool: &str, path: &str, write: bool) -> Verdict {
        let default = self.tool(tool);
        if default == Decision::Deny {
            return Verdict {
                decision: Decision::Deny,
                reason: format!("the tool {tool} is denied"),
            };
        }
        let v = self.path(path, write);
        if v.reason == "no path rule" {
            return Verdict {
                decision: default,
                reason: format!("the default for {tool}"),
            };
        }
        v
    }

    /// "Always allow this exact command" as a stored rule.
    pub fn remember_command(&mut self, line: &str) {
        let pattern = line.split_whitespace().collect::<Vec<_>>().join(" ");
        self.commands.retain(|r| r.pattern != pattern);
        self.commands.push(CommandRule {
            pattern,
            decision: Decision::Allow,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Decision::*;

    fn policy() -> Policy {
        Policy {
            tools: [
                ("run_command", Ask),
                ("write_file", Ask),
                ("read_file", Allow),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
            commands: vec![
                CommandRule {
                    pattern: "cargo test".into(),
                    decision: Allow,
                },
                CommandRule {
                    pattern: "git status".into(),
                    decision: Allow,
                },
                CommandRule {
                    pattern: "ls".into(),
                    decision: Allow,
                },
                CommandRule {
                    pattern: "echo".into(),
                    decision: Allow,
                },
                CommandRule {
                    pattern: "rm".into(),
                    decision: Deny,
                },
            ],
            paths: vec![
                PathRule {
                    glob: "src/**".into(),
                    read: None,
                    write: Some(Allow),
                },
                PathRule {
                    glob: "**".into(),
                    read: None,
                    write: Some(Ask),
                },
                PathRule {
                    glob: "secrets/**".into(),
                    read: Some(Deny),
                    write: Some(Deny),
                },
            ],
        }
    }

    #[test]
    fn command_lines_are_judged_part_by_part() {
        let p = policy();
        let cases = [
            ("cargo test", Allow),
            ("cargo test --release -p x", Allow),
            ("cargo build", Ask),
            ("git status", Allow),
            ("git push", Ask),
            ("git status; git push", Ask),
            ("git status && rm -rf src", Deny),
            ("ls | rm x", Deny),
            ("echo $(rm -rf /)", Deny),
            ("echo `rm -rf /`", Deny),
            ("echo \"$(rm x)\"", Deny),
            ("(cd src && rm a)", Deny),
            ("/bin/rm -rf /", Deny),
            ("echo 'rm -rf /'", Allow),
            ("echo hi > src/a.rs", Allow),
            ("echo hi > notes.txt", Ask),
            ("echo hi > ../../etc/passwd", Deny),
            ("echo hi > /etc/passwd", Deny),
            ("cat < secrets/key", Deny),
            ("$CMD", Ask),
            ("ls; $(echo rm) -rf /", Ask),
            ("echo 'unbalanced", Ask),
            ("", Deny),
        ];
        for (line, want) in cases {
            assert_eq!(
                p.command(line).decision,
                want,
                "{line:?}: {:?}",
                p.command(line)
            );
        }
    }

    #[test]
    fn path_globs_hold_against_tricky_paths() {
        let p = policy();
        assert_eq!(p.path("src/main.rs", true).decision, Allow);
        assert_eq!(p.path("/workspace/src/main.rs", true).decision, Allow);
        assert_eq!(
            p.path("src/../README.md", true).decision,
            Ask,
            "`..` is resolved before matching"
        );
        assert_eq!(p.path("src/../../etc/passwd", true).decision, Deny);
        assert_eq!(p.path("/etc/passwd", false).decision, Deny);
        assert_eq!(p.path("/workspace/../etc/passwd", false).decision, Deny);
        assert_eq!(p.path("a\0b", false).decision, Deny);
        assert_eq!(p.path("secrets/key", false).decision, Deny);
        assert_eq!(p.path("./secrets//key", true).decision, Deny);
        assert_eq!(p.path("README.md", false).decision, Allow);
    }

    #[test]
    fn remembered_commands_are_exact() {
        let mut p = policy();
        assert_eq!(p.command("npm run build").decision, Ask);
        p.remember_command("npm  run build");
        assert_eq!(p.command("npm run build").decision, Allow);
        assert_eq!(
            p.command("npm run build --watch").decision,
            Allow,
            "arguments after the pattern"
        );
        assert_eq!(p.command("npm run deploy").decision, Ask);
        assert_eq!(p.command("npm run build; rm x").decision, Deny);
    }

    #[test]
    fn the_default_policy_reads_freely_and_asks_before_changing() {
        let p = Policy::default();
        assert_eq!(p.tool("read_file"), Allow);
        assert_eq!(p.tool("write_file"), Ask);
        assert_eq!(p.command("git status").decision, Allow);
        assert_eq!(p.command("npm install").decision, Ask);
        assert_eq!(p.command("sudo rm x").decision, Deny);
        assert_eq!(p.path(".git/config", true).decision, Deny);
    }
}
