//! Reading a shell command line with a real grammar (tree-sitter's bash
//! grammar) and saying whether it is *plain*: nothing but simple commands
//! made of literal words, joined by `;`, `&&`, `||`, `|` and newlines, with
//! redirections to literal paths. Only a plain line can be allowed without
//! asking; everything else (expansions, substitutions, assignments,
//! subshells, groups, functions, control flow, here-docs, comments,
//! background jobs, parse errors, anything not listed here) is not plain,
//! and the judge asks.
//!
//! For lines that are not plain the commands found anywhere in the tree
//! (also inside `$( … )`) are still listed, best effort, so that a denied
//! program is denied wherever it hides; `suspicious_words` adds a scan of
//! the raw text for the same purpose.
//!
//! The walk is iterative and lines are capped at [`MAX_LINE`] before the
//! parser sees them: no input can drive recursion or unbounded work.

use tree_sitter::{Node, Parser};

/// Longer lines are not parsed (and so never plain).
pub const MAX_LINE: usize = 8 * 1024;

/// Named node kinds a plain line may contain.
const PLAIN_KINDS: &[&str] = &[
    "program",
    "list",
    "pipeline",
    "command",
    "command_name",
    "word",
    "number",
    "string",
    "string_content",
    "raw_string",
    "concatenation",
    "redirected_statement",
    "file_redirect",
    "file_descriptor",
];

/// Anonymous tokens a plain line may contain. `&>` and `>&file` are absent
/// on purpose: the agent runs lines with `sh -c`, and in a POSIX `sh` `&>`
/// means "background, then redirect".
const PLAIN_TOKENS: &[&str] = &[
    ";", "&&", "||", "|", "\n", "\"", ">", ">>", "<", ">|", ">&", "<&",
];

/// One command the line would run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Command {
    /// The words after quote removal. For a plain line they are exactly
    /// what the program receives; otherwise a best-effort reading.
    pub words: Vec<String>,
    /// Words holding unquoted glob characters (by index into `words`).
    pub globbed: Vec<usize>,
}

/// A redirection to a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    pub path: String,
    pub write: bool,
}

/// What a command line holds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Line {
    pub commands: Vec<Command>,
    pub redirects: Vec<Redirect>,
    /// None when the line is plain; else why not (shown to people).
    pub not_plain: Option<String>,
}

impl Line {
    pub fn is_plain(&self) -> bool {
        self.not_plain.is_none()
    }
}

fn not_plain(line: &mut Line, why: impl Into<String>) {
    if line.not_plain.is_none() {
        line.not_plain = Some(why.into());
    }
}

/// Reads `src` as a shell line.
pub fn analyse(src: &str) -> Line {
    let mut line = Line::default();
    if src.len() > MAX_LINE {
        not_plain(
            &mut line,
            format!("the line is longer than {MAX_LINE} bytes"),
        );
        return line;
    }
    if src.contains('\0') {
        not_plain(&mut line, "the line contains a NUL byte");
        return line;
    }
    let mut parser = Parser::new();
    if parser
        .set_language(&tree_sitter_bash::LANGUAGE.into())
        .is_err()
    {
        not_plain(&mut line, "the shell grammar could not be loaded");
        return line;
    }
    let Some(tree) = parser.parse(src, None) else {
        not_plain(&mut line, "the line could not be parsed");
        return line;
    };
    let root = tree.root_node();
    if root.has_error() {
        not_plain(&mut line, "the line does not parse as shell");
    }
    let mut leaves: Vec<(usize, usize)> = Vec::new();
    let mut stack = vec![root];
    while let Some(node) = stack.pop() {
        check_node(src, node, &mut line);
        match node.kind() {
            "command" => line.commands.push(command_words(src, node)),
            "file_redirect" => redirect(src, node, &mut line),
            _ => {}
        }
        if node.child_count() == 0 {
            leaves.push((node.start_byte(), node.end_byte()));
        }
        // Children in reverse so that commands come out in line order.
        for i in (0..node.child_count()).rev() {
            if let Some(c) = node.child(i) {
                stack.push(c);
            }
        }
    }
    check_coverage(src, &mut leaves, &mut line);
    line
}

fn text<'a>(src: &'a str, n: Node<'_>) -> &'a str {
    src.get(n.start_byte()..n.end_byte()).unwrap_or("")
}

/// The node on its own (children are visited by the walk).
fn check_node(src: &str, n: Node<'_>, line: &mut Line) {
    if n.is_error() || n.is_missing() {
        not_plain(line, "the line does not parse as shell");
        return;
    }
    let kind = n.kind();
    if !n.is_named() {
        if !PLAIN_TOKENS.contains(&kind) {
            not_plain(line, format!("`{}` is not plain shell", kind.trim()));
        }
        return;
    }
    if !PLAIN_KINDS.contains(&kind) {
        not_plain(line, format!("the line holds a {}", kind.replace('_', " ")));
        return;
    }
    let t = text(src, n);
    match kind {
        "word" => {
            if let Some(c) = t.chars().find(|c| "$`\\{}".contains(*c)) {
                not_plain(line, format!("`{t}` holds `{c}`"));
            } else if t.starts_with('~') {
                not_plain(line, format!("`{t}` starts with `~`"));
            }
        }
        "string_content" => {
            if let Some(c) = t.chars().find(|c| "$`\\".contains(*c)) {
                not_plain(line, format!("a quoted string holds `{c}`"));
            }
        }
        "command_name" => {
            if let Some(c) = t.chars().find(|c| "/=*?[".contains(*c)) {
                not_plain(line, format!("the command name `{t}` holds `{c}`"));
            }
        }
        _ => {}
    }
}

/// Every byte outside the leaves the grammar produced must be blank: the
/// parser skipping text it did not understand is never plain.
fn check_coverage(src: &str, leaves: &mut [(usize, usize)], line: &mut Line) {
    leaves.sort_unstable();
    let bytes = src.as_bytes();
    let mut at = 0;
    for &(s, e) in leaves.iter() {
        if s > at && bytes[at..s].iter().any(|b| !b" \t\n".contains(b)) {
            not_plain(line, "part of the line was not understood");
            return;
        }
        at = at.max(e);
    }
    if at < bytes.len() && bytes[at..].iter().any(|b| !b" \t\n".contains(b)) {
        not_plain(line, "part of the line was not understood");
    }
}

/// A word's value after quote removal. Exact for plain words; for others
/// quotes and backslashes are simply dropped (good enough to spot a name).
fn value(src: &str, n: Node<'_>) -> String {
    let t = text(src, n);
    match n.kind() {
        "raw_string" => t
            .strip_prefix('\'')
            .and_then(|x| x.strip_suffix('\''))
            .unwrap_or(t)
            .to_owned(),
        "string" | "concatenation" => {
            let mut out = String::new();
            for i in 0..n.child_count() {
                if let Some(c) = n.child(i) {
                    if c.kind() == "\"" {
                        continue;
                    }
                    out.push_str(&value(src, c));
                }
            }
            if out.is_empty() && n.child_count() == 0 {
                t.chars().filter(|c| !"'\"\\".contains(*c)).collect()
            } else {
                out
            }
        }
        _ => t.chars().filter(|c| !"'\"\\".contains(*c)).collect(),
    }
}

fn is_globbed(src: &str, n: Node<'_>) -> bool {
    match n.kind() {
        "word" => text(src, n).contains(['*', '?', '[']),
        "concatenation" => (0..n.child_count())
            .filter_map(|i| n.child(i))
            .any(|c| is_globbed(src, c)),
        _ => false,
    }
}

fn command_words(src: &str, n: Node<'_>) -> Command {
    let mut cmd = Command::default();
    for i in 0..n.child_count() {
        let Some(c) = n.child(i) else { continue };
        match c.kind() {
            "command_name" => {
                if let Some(w) = c.child(0) {
                    cmd.words.push(value(src, w));
                }
            }
            "variable_assignment"
            | "file_redirect"
            | "heredoc_redirect"
            | "herestring_redirect" => {}
            _ if c.is_named() => {
                if is_globbed(src, c) {
                    cmd.globbed.push(cmd.words.len());
                }
                cmd.words.push(value(src, c));
            }
            _ => {}
        }
    }
    cmd
}

fn redirect(src: &str, n: Node<'_>, line: &mut Line) {
    let mut op = "";
    let mut dest = None;
    for i in 0..n.child_count() {
        let Some(c) = n.child(i) else { continue };
        if !c.is_named() {
            op = c.kind();
        } else if c.kind() != "file_descriptor" {
            dest = Some(c);
        }
    }
    let Some(dest) = dest else {
        not_plain(line, "a redirection without a target");
        return;
    };
    // dash reads only one digit as a descriptor: `cat 12</dev/null` runs
    // `cat 12`, so a longer number is not what the grammar says.
    let fd = (0..n.child_count())
        .filter_map(|i| n.child(i))
        .find(|c| c.kind() == "file_descriptor");
    if fd.is_some_and(|f| f.end_byte() - f.start_byte() > 1) {
        not_plain(line, "a descriptor number of more than one digit");
    }
    let target = value(src, dest);
    match op {
        ">&" | "<&" => {
            // Duplicating or closing a descriptor is not a file; anything
            // else after `>&` is bash's "write to this file".
            if !(target == "-" || target.bytes().all(|b| b.is_ascii_digit())) {
                not_plain(line, format!("`{op}{target}` writes a file"));
            }
        }
        ">" | ">>" | ">|" => line.redirects.push(Redirect {
            path: target,
            write: true,
        }),
        "<" => line.redirects.push(Redirect {
            path: target,
            write: false,
        }),
        other => not_plain(line, format!("the redirection `{other}` is not plain")),
    }
}

/// Every word-like piece of the raw text, quotes and backslashes removed,
/// split at shell operators: a denied program name found here is denied
/// whatever the grammar made of the line (the judge uses it for lines that
/// are not plain, and for lines too long to parse).
pub fn suspicious_words(src: &str) -> impl Iterator<Item = String> {
    // A backslash-newline joins lines: `r\<newline>m` is `rm`.
    let joined = src.replace("\\\n", "");
    let words: Vec<String> = joined
        .split(|c: char| c.is_whitespace() || ";&|()<>`{}$=#,\0:+?%-".contains(c))
        .map(|w| {
            w.chars()
                .filter(|c| !"'\"\\".contains(*c))
                .collect::<String>()
        })
        .filter(|w| !w.is_empty())
        .collect();
    words.into_iter()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<Vec<String>> {
        analyse(line)
            .commands
            .into_iter()
            .map(|c| c.words)
            .collect()
    }

    #[test]
    fn plain_lines_are_split_into_their_commands() {
        let l = analyse("ls -la src && git status -s | head -n 3; echo 'a b' \"c d\"");
        assert!(l.is_plain(), "{l:?}");
        assert_eq!(
            words("ls -la src && git status -s | head -n 3; echo 'a b' \"c d\""),
            vec![
                vec!["ls", "-la", "src"],
                vec!["git", "status", "-s"],
                vec!["head", "-n", "3"],
                vec!["echo", "a b", "c d"],
            ]
        );
        assert!(analyse("make 2>&1 | tail").is_plain());
        assert!(analyse("ls x 2>/dev/null").is_plain());
        assert!(analyse("cat README.md | head\nls").is_plain());
    }

    #[test]
    fn redirections_are_classified() {
        let l = analyse("echo hi > out.txt 2>&1 < in.txt");
        assert!(l.is_plain(), "{l:?}");
        assert_eq!(
            l.redirects,
            vec![
                Redirect {
                    path: "out.txt".into(),
                    write: true
                },
                Redirect {
                    path: "in.txt".into(),
                    write: false
                }
            ]
        );
        for line in [
            "echo x &> f",
            "echo x >& f",
            "cat <<EOF\nx\nEOF",
            "cat <<< x",
            "echo x <> f",
        ] {
            assert!(!analyse(line).is_plain(), "{line:?}");
        }
    }

    #[test]
    fn anything_else_is_not_plain() {
        for line in [
            "echo $HOME",
            "echo ${X}",
            "echo $(id)",
            "echo `id`",
            "X=1 ls",
            "(ls)",
            "{ ls; }",
            "f() { ls; }",
            "if true; then ls; fi",
            "for x in a; do ls; done",
            "ls &",
            "ls # comment",
            "./ls",
            "/bin/ls",
            "l\\s",
            "ls ~/x",
            "ls {a,b}",
            "echo 'unbalanced",
            "ls }#; rm -f victim",
            "diff <(ls) <(ls)",
            "! ls",
            "echo $'\\x41'",
            "[ -f x ]",
            "*s",
        ] {
            assert!(!analyse(line).is_plain(), "{line:?} must not be plain");
        }
    }

    #[test]
    fn commands_inside_substitutions_are_still_found() {
        let l = analyse("echo $(rm -rf victim)");
        assert!(l
            .commands
            .iter()
            .any(|c| c.words.first().is_some_and(|w| w == "rm")));
        let s: Vec<String> = suspicious_words("r''m -f x; \"/bin/r\"m").collect();
        assert!(s.contains(&"rm".to_owned()) && s.contains(&"/bin/rm".to_owned()));
    }

    #[test]
    fn deep_nesting_neither_recurses_nor_panics() {
        let deep = "$(".repeat(4000) + &")".repeat(4000);
        assert!(!analyse(&deep).is_plain());
        let over = "echo ".to_owned() + &"a".repeat(MAX_LINE);
        assert!(!analyse(&over).is_plain());
        let half = "$(".repeat(MAX_LINE / 2);
        assert!(!analyse(&half).is_plain());
    }
}
