//! Judging a command line against a policy, failing closed.
//!
//! A line is allowed without asking only when `shell` finds it plain and
//! every command in it is allowed: its program by rule (through wrappers
//! such as `env`, `timeout`, `sh -c`; deny wins at any depth), no argument
//! that makes the program do more than its rule means, every file operand
//! and redirection allowed by the path rules on its real path (redirections
//! and operands of writing programs are writes). Anything else asks, and a
//! denied program named anywhere in the line (also where the grammar could
//! not follow, spelled with quotes or backslashes, or by path) is denied.

use crate::policy::{self, Decision, Policy, Tool, Verdict, WORKSPACE};
use crate::programs::{self, Inner};
use crate::shell;
use std::cell::RefCell;
use std::collections::HashMap;

/// How deep `sh -c "sh -c …"` is followed before asking.
const MAX_DEPTH: usize = 4;
/// How many paths of one line are resolved before asking.
const MAX_PATHS: usize = 256;

/// Where paths really lead (symlinks followed) in the workspace.
pub trait Resolve {
    /// The real absolute path of `raw` (absolute, but with any `..` left as
    /// written: the kernel follows a symlink before it climbs, so `..` is
    /// only resolved here), or None when it cannot be known.
    fn real(&self, raw: &str) -> Option<String>;
}

/// Paths taken as written: for judging without a workspace.
pub struct Lexical;

impl Resolve for Lexical {
    fn real(&self, raw: &str) -> Option<String> {
        policy::absolute("/", raw)
    }
}

impl Resolve for HashMap<String, String> {
    fn real(&self, abs: &str) -> Option<String> {
        self.get(abs).cloned()
    }
}

/// Records what would be resolved.
struct Recorder(RefCell<Vec<String>>);

impl Resolve for Recorder {
    fn real(&self, raw: &str) -> Option<String> {
        let mut v = self.0.borrow_mut();
        if v.len() < MAX_PATHS && !v.iter().any(|p| p == raw) {
            v.push(raw.to_owned());
        }
        policy::absolute("/", raw)
    }
}

/// Writes to these are not writes of a file.
const HARMLESS_TARGETS: &[&str] = &[
    "/dev/null",
    "/dev/stdout",
    "/dev/stderr",
    "/dev/fd/1",
    "/dev/fd/2",
];

struct Judge<'a> {
    policy: &'a Policy,
    resolve: &'a dyn Resolve,
    worst: Option<Verdict>,
    /// The directories relative paths may be relative to (`cd` adds one;
    /// None when a `cd` went somewhere unknown).
    cwds: Vec<Option<String>>,
    paths: usize,
}

impl Judge<'_> {
    fn consider(&mut self, decision: Decision, reason: impl Into<String>) {
        let stricter = match &self.worst {
            None => true,
            Some(w) => decision > w.decision,
        };
        if stricter {
            self.worst = Some(Verdict {
                decision,
                reason: reason.into(),
            });
        }
    }

    fn run_default(&self) -> Decision {
        self.policy.tool(Tool::RunCommand)
    }

    fn deny_scan<'w>(&mut self, words: impl Iterator<Item = &'w str>) {
        let denied: Vec<&str> = self.policy.denied_programs().collect();
        for w in words {
            let n = programs::name(w);
            // A glob in a name (`/bin/r[m]`) is denied when it can name one.
            let hit = denied.iter().find(|d| {
                **d == n
                    || (n.contains(['*', '?', '['])
                        && globset::Glob::new(n).is_ok_and(|g| g.compile_matcher().is_match(d)))
            });
            if let Some(d) = hit {
                self.consider(Decision::Deny, format!("`{d}` is denied"));
            }
        }
    }

    fn line(&mut self, line: &str, depth: usize) {
        if depth > MAX_DEPTH {
            self.consider(Decision::Ask, "commands nested too deep to follow");
            self.deny_scan(
                shell::suspicious_words(line)
                    .collect::<Vec<_>>()
                    .iter()
                    .map(String::as_str),
            );
            return;
        }
        let parsed = shell::analyse(line);
        if let Some(why) = &parsed.not_plain {
            self.consider(self.run_default().max(Decision::Ask), why.clone());
            let words: Vec<String> = shell::suspicious_words(line).collect();
            self.deny_scan(words.iter().map(String::as_str));
            // Commands the grammar did find still meet their rules (a
            // denied `rm -rf /` inside `$( … )` is denied).
            for c in &parsed.commands {
                if let Some(r) = self.policy.command_rule(&c.words) {
                    if r.decision == Decision::Deny {
                        self.consider(Decision::Deny, format!("command rule {:?}", r.pattern));
                    }
                }
            }
            return;
        }
        if parsed.commands.is_empty() && parsed.redirects.is_empty() {
            self.consider(Decision::Deny, "an empty command");
        }
        for c in &parsed.commands {
            self.command(&c.words, &c.globbed, depth);
        }
        for r in &parsed.redirects {
            self.path(&r.path, r.write, false);
        }
    }

    fn command(&mut self, words: &[String], globbed: &[usize], depth: usize) {
        let Some(first) = words.first() else { return };
        if depth > MAX_DEPTH {
            self.consider(Decision::Ask, "commands nested too deep to follow");
            self.deny_scan(words.iter().map(String::as_str));
            return;
        }
        let prog = programs::name(first);
        let rule = self.policy.command_rule(words);
        match rule {
            Some(r) => self.consider(r.decision, format!("command rule {:?}", r.pattern)),
            None => self.consider(self.run_default(), format!("no rule for `{prog}`")),
        }
        if let Some(why) = programs::dangerous(words) {
            self.consider(Decision::Ask, why);
        }
        match programs::inner(words) {
            Some(Inner::Words(w)) => self.command(&w, &[], depth + 1),
            Some(Inner::Partial(w)) => {
                self.consider(
                    Decision::Ask,
                    format!("`{prog}` adds arguments the judge cannot see"),
                );
                self.command(&w, &[], depth + 1);
            }
            Some(Inner::Line(l)) => self.line(&l, depth + 1),
            Some(Inner::Opaque(why)) => {
                self.consider(Decision::Ask, why);
                let inner: Vec<String> = words
                    .iter()
                    .skip(1)
                    .flat_map(|w| shell::suspicious_words(w).collect::<Vec<_>>())
                    .collect();
                self.deny_scan(inner.iter().map(String::as_str));
            }
            None => {}
        }
        if matches!(prog, "cd" | "pushd" | "popd") {
            let target = words.get(1).filter(|w| !w.starts_with('-'));
            let base = self
                .cwds
                .first()
                .cloned()
                .flatten()
                .unwrap_or_else(|| WORKSPACE.to_owned());
            let next = target.and_then(|t| policy::absolute(&base, t));
            self.cwds.push(next);
            return;
        }
        let writes = programs::writes_operands(prog);
        for (i, w) in words.iter().enumerate().skip(1) {
            let operand = if w.starts_with('-') {
                match w.split_once('=') {
                    Some((_, v)) => v,
                    // `-fFILE`: a short option's attached value may be a
                    // path (checked like one; `-la` is merely a file "a").
                    None if !w.starts_with("--") && w.len() > 2 => &w[2..],
                    None => continue,
                }
            } else if let Some((k, v)) =
                w.split_once('=').filter(|(k, _)| matches!(*k, "of" | "if"))
            {
                // dd's `of=FILE` writes, `if=FILE` reads.
                let _ = k;
                v
            } else {
                w.as_str()
            };
            if operand.is_empty() {
                continue;
            }
            let write = (writes && !w.starts_with("if=")) || w.starts_with("of=");
            self.path(operand, write, globbed.contains(&i));
        }
    }

    fn path(&mut self, path: &str, write: bool, globbed: bool) {
        let kind = if write { "write" } else { "read" };
        let cwds = if path.starts_with('/') {
            vec![Some(WORKSPACE.to_owned())]
        } else {
            let mut c = vec![Some(WORKSPACE.to_owned())];
            c.extend(self.cwds.iter().cloned());
            c
        };
        for cwd in cwds {
            let Some(cwd) = cwd else {
                self.consider(
                    Decision::Ask,
                    format!("`{path}` is relative to a directory only known when it runs"),
                );
                continue;
            };
            let Some(abs) = policy::absolute(&cwd, path) else {
                self.consider(Decision::Deny, "a path with a NUL byte");
                continue;
            };
            if write && HARMLESS_TARGETS.contains(&abs.as_str()) {
                continue;
            }
            if globbed && self.policy.glob_may_reach_protected(&abs, write) {
                self.consider(
                    Decision::Ask,
                    format!("the pattern `{path}` may {kind} protected paths"),
                );
            }
            self.paths += 1;
            if self.paths > MAX_PATHS {
                self.consider(Decision::Ask, "too many paths to check");
                return;
            }
            let (inside, outside) = if write {
                (self.policy.tool(Tool::WriteFile), Decision::Deny)
            } else {
                (Decision::Allow, Decision::Allow)
            };
            let v = self.policy.path_at(&abs, write, inside, outside);
            self.consider(v.decision, format!("{kind} of {path}: {}", v.reason));
            // Resolved as written: `link/../x` climbs from where `link` leads.
            let raw = if path.starts_with('/') {
                path.to_owned()
            } else {
                format!("{cwd}/{path}")
            };
            match self.resolve.real(&raw) {
                Some(real) if real != abs => {
                    let rv = self.policy.path_at(&real, write, inside, outside);
                    self.consider(
                        rv.decision,
                        format!("{kind} of {path} (really {real}): {}", rv.reason),
                    );
                }
                Some(_) => {}
                None => self.consider(Decision::Ask, format!("where {path} leads is unknown")),
            }
        }
    }
}

/// The verdict on running `line`.
pub fn command(policy: &Policy, line: &str, resolve: &dyn Resolve) -> Verdict {
    if policy.tool(Tool::RunCommand) == Decision::Deny {
        return Verdict {
            decision: Decision::Deny,
            reason: "run_command is denied".into(),
        };
    }
    let mut j = Judge {
        policy,
        resolve,
        worst: None,
        cwds: Vec::new(),
        paths: 0,
    };
    j.line(line, 0);
    j.worst.unwrap_or(Verdict {
        decision: Decision::Deny,
        reason: "an empty command".into(),
    })
}

/// The absolute paths judging `line` looks at, to be resolved in the
/// workspace before the real judgment.
pub fn paths(policy: &Policy, line: &str) -> Vec<String> {
    let rec = Recorder(RefCell::new(Vec::new()));
    let _ = command(policy, line, &rec);
    rec.0.into_inner()
}

#[cfg(test)]
mod tests;
