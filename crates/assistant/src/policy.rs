//! The permission controller's policy, without I/O.
//!
//! A policy says, per tool, allow / ask / deny; command rules match the
//! words a command starts with (`git status` matches `git status -s`, never
//! `git push`); path rules match globs for reads and writes, relative to
//! /workspace or absolute. Judging whole command lines is `judge`'s job.

use crate::programs;
use globset::{Glob, GlobMatcher};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Allow,
    Ask,
    Deny,
}

impl Decision {
    /// The name used on the wire and the audit record.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Ask => "ask",
            Decision::Deny => "deny",
        }
    }

    /// The more restrictive of two.
    pub fn and(self, other: Decision) -> Decision {
        self.max(other)
    }
}

/// The agent's tools; the policy's `tools` map is keyed by their names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    ListFiles,
    ReadFile,
    Search,
    WriteFile,
    EditFile,
    DeleteFile,
    RunCommand,
}

impl Tool {
    pub fn parse(name: &str) -> Option<Tool> {
        Some(match name {
            "list_files" => Tool::ListFiles,
            "read_file" => Tool::ReadFile,
            "search" => Tool::Search,
            "write_file" => Tool::WriteFile,
            "edit_file" => Tool::EditFile,
            "delete_file" => Tool::DeleteFile,
            "run_command" => Tool::RunCommand,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Tool::ListFiles => "list_files",
            Tool::ReadFile => "read_file",
            Tool::Search => "search",
            Tool::WriteFile => "write_file",
            Tool::EditFile => "edit_file",
            Tool::DeleteFile => "delete_file",
            Tool::RunCommand => "run_command",
        }
    }

    pub fn writes(self) -> bool {
        matches!(self, Tool::WriteFile | Tool::EditFile | Tool::DeleteFile)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CommandRule {
    /// Words the command must start with; a final `*` word is explicit
    /// "and anything after" (the default for prefixes anyway).
    pub pattern: String,
    pub decision: Decision,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PathRule {
    /// A glob relative to /workspace (`src/**`, `**/*.rs`).
    pub glob: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read: Option<Decision>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write: Option<Decision>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Policy {
    /// Per tool: the decision when no rule says more.
    pub tools: BTreeMap<String, Decision>,
    /// Command rules; the most specific (longest) matching pattern decides.
    #[serde(default)]
    pub commands: Vec<CommandRule>,
    /// Path rules; the most specific matching rule decides.
    #[serde(default)]
    pub paths: Vec<PathRule>,
    /// Whether commands run without approval may open network connections
    /// (enforced by the kernel sandbox).
    #[serde(default)]
    pub network: bool,
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
            network: false,
        }
    }
}

/// A decision with the reason people see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Verdict {
    pub decision: Decision,
    pub reason: String,
}

/// Where workspaces keep their files; relative paths are relative to it.
pub const WORKSPACE: &str = "/workspace";

/// `path` made absolute against `cwd` with `.` and `..` resolved lexically
/// (`..` at the root stays at the root, as the kernel does); None for a NUL.
pub fn absolute(cwd: &str, path: &str) -> Option<String> {
    if path.contains('\0') || cwd.contains('\0') {
        return None;
    }
    let joined = if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("{cwd}/{path}")
    };
    let mut parts: Vec<&str> = Vec::new();
    for c in joined.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            x => parts.push(x),
        }
    }
    Some(format!("/{}", parts.join("/")))
}

/// An absolute path relative to /workspace ("" for /workspace itself), or
/// None outside it.
pub fn workspace_relative(abs: &str) -> Option<&str> {
    if abs == WORKSPACE {
        return Some("");
    }
    abs.strip_prefix(WORKSPACE)?.strip_prefix('/')
}

/// A tool's path (relative to /workspace, or absolute) normalised to one
/// relative to /workspace; None when it leaves the workspace or holds a NUL.
pub fn normalize(path: &str) -> Option<String> {
    let abs = absolute(WORKSPACE, path)?;
    if path.split('/').filter(|c| *c == "..").count() > 0 {
        // `..` that climbs above /workspace and comes back is still out.
        let mut depth: i64 = 0;
        let rel = path.strip_prefix(WORKSPACE).unwrap_or(path);
        for c in rel.split('/') {
            match c {
                "" | "." => {}
                ".." => {
                    depth -= 1;
                    if depth < 0 {
                        return None;
                    }
                }
                _ => depth += 1,
            }
        }
    }
    workspace_relative(&abs).map(str::to_owned)
}

fn matcher(glob: &str) -> Option<GlobMatcher> {
    Glob::new(glob).ok().map(|g| g.compile_matcher())
}

impl Policy {
    pub fn tool(&self, tool: Tool) -> Decision {
        self.tools
            .get(tool.name())
            .copied()
            .unwrap_or(Decision::Ask)
    }

    /// The most specific path rule (the longest glob; on a tie the
    /// stricter) that says something about reading or writing `abs`.
    /// Relative globs match inside /workspace, absolute ones anywhere; a
    /// glob that does not compile matches everything (it was meant to
    /// protect something).
    pub fn rule_for(&self, abs: &str, write: bool) -> Option<(&PathRule, Decision)> {
        let rel = workspace_relative(abs);
        let mut best: Option<(&PathRule, Decision)> = None;
        for r in &self.paths {
            let Some(d) = (if write { r.write } else { r.read }) else {
                continue;
            };
            let subject = if r.glob.starts_with('/') {
                Some(abs)
            } else {
                rel
            };
            let Some(subject) = subject else { continue };
            let hit = match matcher(&r.glob) {
                Some(m) => {
                    m.is_match(subject)
                        || (!subject.is_empty() && m.is_match(format!("{subject}/")))
                }
                None => true,
            };
            if hit {
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
        best
    }

    /// Reading or writing the absolute path `abs`: a matching rule decides;
    /// else `inside` for paths in /workspace and `outside` for the rest.
    pub fn path_at(&self, abs: &str, write: bool, inside: Decision, outside: Decision) -> Verdict {
        if let Some((r, d)) = self.rule_for(abs, write) {
            return Verdict {
                decision: d,
                reason: format!("path rule {:?} for {abs}", r.glob),
            };
        }
        match workspace_relative(abs) {
            Some(_) => Verdict {
                decision: inside,
                reason: format!("no path rule for {abs}"),
            },
            None => Verdict {
                decision: outside,
                reason: format!("{abs} is outside /workspace"),
            },
        }
    }

    /// Reading or writing `path` (relative to /workspace or absolute) with
    /// the tool's default where no rule speaks.
    pub fn path(&self, path: &str, write: bool) -> Verdict {
        let tool = if write {
            Tool::WriteFile
        } else {
            Tool::ReadFile
        };
        self.file(tool, path, None, write)
    }

    /// A file tool on `path`, whose real location (symlinks followed, as
    /// the workspace reports it) is `real` when known. Both the path as
    /// given and the real one are judged; the stricter wins. A path that
    /// leaves /workspace is denied.
    pub fn file(&self, tool: Tool, path: &str, real: Option<&str>, write: bool) -> Verdict {
        let default = self.tool(tool);
        if default == Decision::Deny {
            return Verdict {
                decision: Decision::Deny,
                reason: format!("the tool {} is denied", tool.name()),
            };
        }
        let Some(rel) = normalize(path) else {
            return Verdict {
                decision: Decision::Deny,
                reason: format!("{path} is outside /workspace"),
            };
        };
        let abs = absolute(WORKSPACE, &rel).unwrap_or_else(|| WORKSPACE.to_owned());
        let mut v = self.path_at(&abs, write, default, Decision::Deny);
        if let Some(real) = real.filter(|r| *r != abs) {
            if workspace_relative(real).is_none() {
                return Verdict {
                    decision: Decision::Deny,
                    reason: format!("{path} leads to {real}, outside /workspace"),
                };
            }
            let rv = self.path_at(real, write, default, Decision::Deny);
            if rv.decision > v.decision {
                v = Verdict {
                    decision: rv.decision,
                    reason: format!("{path} leads to {real}: {}", rv.reason),
                };
            }
        }
        v
    }

    /// The command rule for a command's words: the longest pattern whose
    /// words the command starts with (its program by name, so `/bin/rm` is
    /// `rm`); on a tie the stricter rule.
    pub fn command_rule(&self, words: &[String]) -> Option<&CommandRule> {
        let first = programs::name(words.first()?);
        let mut best: Option<(&CommandRule, usize)> = None;
        for r in &self.commands {
            let mut pat: Vec<&str> = r.pattern.split_whitespace().collect();
            if pat.last() == Some(&"*") {
                pat.pop();
            }
            if pat.is_empty() || pat.len() > words.len() || programs::name(pat[0]) != first {
                continue;
            }
            if pat[1..].iter().zip(&words[1..]).all(|(p, w)| p == w) {
                let better = match best {
                    None => true,
                    Some((b, len)) => {
                        pat.len() > len || (pat.len() == len && r.decision > b.decision)
                    }
                };
                if better {
                    best = Some((r, pat.len()));
                }
            }
        }
        best.map(|(r, _)| r)
    }

    /// Whether the glob pattern `abs_pattern` (an absolute path whose
    /// components may hold `*?[`) could name a path some rule protects for
    /// this access: compared component by component with each protecting
    /// rule's literal prefix.
    pub fn glob_may_reach_protected(&self, abs_pattern: &str, write: bool) -> bool {
        let pat: Vec<&str> = abs_pattern.split('/').filter(|c| !c.is_empty()).collect();
        self.paths.iter().any(|r| {
            let d = if write { r.write } else { r.read };
            if !matches!(d, Some(d) if d != Decision::Allow) {
                return false;
            }
            let full = if r.glob.starts_with('/') {
                r.glob.clone()
            } else {
                format!("{WORKSPACE}/{}", r.glob)
            };
            let literal: Vec<&str> = full
                .split('/')
                .filter(|c| !c.is_empty())
                .take_while(|c| !c.contains(['*', '?', '[', '{']))
                .collect();
            pat.iter().zip(&literal).all(|(p, l)| {
                p == l
                    || Glob::new(p)
                        .map(|g| g.compile_matcher().is_match(l))
                        .unwrap_or(true)
            })
        })
    }

    /// Programs denied outright (one-word deny rules).
    pub fn denied_programs(&self) -> impl Iterator<Item = &str> {
        self.commands.iter().filter_map(|r| {
            let mut w = r.pattern.split_whitespace();
            let first = w.next()?;
            (r.decision == Decision::Deny && (w.next().is_none() || r.pattern.ends_with(" *")))
                .then(|| programs::name(first))
        })
    }

    /// "Always allow this exact command" as a stored rule. Only a single
    /// plain command can be remembered (a rule for a whole line with
    /// operators could never match again, and must not widen anything);
    /// returns whether the rule was stored.
    pub fn remember_command(&mut self, line: &str) -> bool {
        let parsed = crate::shell::analyse(line);
        if !parsed.is_plain() || parsed.commands.len() != 1 || !parsed.redirects.is_empty() {
            return false;
        }
        let words = &parsed.commands[0].words;
        if words
            .iter()
            .any(|w| w.is_empty() || w.contains(char::is_whitespace))
            || crate::programs::inner(words).is_some()
        {
            return false;
        }
        let pattern = words.join(" ");
        self.commands.retain(|r| r.pattern != pattern);
        self.commands.push(CommandRule {
            pattern,
            decision: Decision::Allow,
        });
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Decision::*;

    pub(crate) fn policy() -> Policy {
        Policy {
            tools: [
                ("run_command", Ask),
                ("write_file", Ask),
                ("read_file", Allow),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
            commands: vec![],
            paths: vec![
                PathRule {
                    glob: "src/**".into(),
                    read: None,
                    write: Some(Allow),
                },
                PathRule {
                    glob: "secrets/**".into(),
                    read: Some(Deny),
                    write: Some(Deny),
                },
                PathRule {
                    glob: "/etc/**".into(),
                    read: Some(Ask),
                    write: None,
                },
            ],
            network: false,
        }
    }

    #[test]
    fn paths_are_made_absolute_lexically() {
        assert_eq!(
            absolute("/workspace", "a/../b").as_deref(),
            Some("/workspace/b")
        );
        assert_eq!(
            absolute("/workspace", "../../../etc").as_deref(),
            Some("/etc")
        );
        assert_eq!(
            absolute("/workspace", "/x/./y//z").as_deref(),
            Some("/x/y/z")
        );
        assert_eq!(absolute("/workspace", "a\0b"), None);
        assert_eq!(workspace_relative("/workspace"), Some(""));
        assert_eq!(workspace_relative("/workspacex/a"), None);
        assert_eq!(normalize("src/../x").as_deref(), Some("x"));
        assert_eq!(normalize("/workspace/../workspace/x"), None);
        assert_eq!(normalize("/etc/passwd"), None);
    }

    #[test]
    fn path_globs_hold_against_tricky_paths() {
        let p = policy();
        assert_eq!(p.path("src/main.rs", true).decision, Allow);
        assert_eq!(p.path("/workspace/src/main.rs", true).decision, Allow);
        assert_eq!(p.path("src/../README.md", true).decision, Ask);
        assert_eq!(p.path("src/../../etc/passwd", true).decision, Deny);
        assert_eq!(p.path("/etc/passwd", false).decision, Deny);
        assert_eq!(p.path("a\0b", false).decision, Deny);
        assert_eq!(p.path("secrets/key", false).decision, Deny);
        assert_eq!(p.path("./secrets//key", true).decision, Deny);
        assert_eq!(
            p.path("secrets", false).decision,
            Deny,
            "the directory itself"
        );
        assert_eq!(p.path("README.md", false).decision, Allow);
        // A link inside the workspace to a denied file is judged by both.
        assert_eq!(
            p.file(
                Tool::ReadFile,
                "src/k",
                Some("/workspace/secrets/key"),
                false
            )
            .decision,
            Deny
        );
        assert_eq!(
            p.file(Tool::ReadFile, "src/k", Some("/etc/shadow"), false)
                .decision,
            Deny
        );
        assert_eq!(
            p.path_at("/etc/passwd", false, Allow, Allow).decision,
            Ask,
            "absolute globs"
        );
    }

    #[test]
    fn remembered_commands_are_exact_and_single() {
        let mut p = policy();
        assert!(p.remember_command("npm  run build"));
        assert_eq!(
            p.command_rule(&["npm".into(), "run".into(), "build".into()])
                .map(|r| r.decision),
            Some(Allow)
        );
        for line in [
            "npm run build; rm x",
            "ls > f",
            "echo $(id)",
            "sh -c ls",
            "env rm x",
        ] {
            assert!(!p.remember_command(line), "{line}");
        }
    }

    #[test]
    fn the_default_policy_reads_freely_and_asks_before_changing() {
        let p = Policy::default();
        assert_eq!(p.tool(Tool::ReadFile), Allow);
        assert_eq!(p.tool(Tool::WriteFile), Ask);
        assert_eq!(p.path(".git/config", true).decision, Deny);
        assert_eq!(p.denied_programs().collect::<Vec<_>>(), vec!["sudo"]);
    }
}
