//! What the judge knows about programs: wrappers that run another command
//! (`env`, `timeout`, `sudo`, `sh -c`, …), arguments that turn an everyday
//! program into one that runs or writes anything (`git -c`, `find -exec`,
//! `sed -i`, …), and programs whose file arguments are writes.

/// What a wrapper runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inner {
    /// Another command, as words.
    Words(Vec<String>),
    /// A command whose arguments come from elsewhere (`xargs`): its name is
    /// known, what it touches is not.
    Partial(Vec<String>),
    /// A whole command line (`sh -c LINE`, `eval`).
    Line(String),
    /// Something the judge cannot follow; the reason is shown.
    Opaque(String),
}

/// The program's name as rules see it: `/usr/bin/git` is `git`.
pub fn name(word: &str) -> &str {
    word.rsplit('/').next().unwrap_or(word)
}

fn rest(words: &[String], from: usize) -> Vec<String> {
    words
        .get(from..)
        .map(<[String]>::to_vec)
        .unwrap_or_default()
}

/// Skips options; `with_value` lists the options that take the next word.
/// Returns the index of the first operand.
fn skip_options(words: &[String], mut i: usize, with_value: &[&str]) -> usize {
    while let Some(w) = words.get(i) {
        if w == "--" {
            return i + 1;
        }
        if !w.starts_with('-') || w == "-" {
            return i;
        }
        i += if with_value.contains(&w.as_str()) {
            2
        } else {
            1
        };
    }
    i
}

fn words_or_none(words: &[String], at: usize) -> Option<Inner> {
    (at < words.len()).then(|| Inner::Words(rest(words, at)))
}

/// The command `words` runs through, if `words[0]` is a wrapper.
pub fn inner(words: &[String]) -> Option<Inner> {
    let first = words.first()?;
    let prog = name(first);
    match prog {
        "env" => {
            let mut i = 1;
            while let Some(w) = words.get(i) {
                let long =
                    |full: &str| w.len() >= 4 && full.starts_with(w.split('=').next().unwrap_or(w));
                if w.starts_with("--") && long("--split-string") {
                    // `--split-string=LINE` or `--split-string LINE …`
                    let mut line = match w.split_once('=') {
                        Some((_, v)) => vec![v.to_owned()],
                        None => Vec::new(),
                    };
                    line.extend(rest(words, i + 1));
                    return Some(Inner::Line(line.join(" ")));
                }
                if w.starts_with('-') && !w.starts_with("--") && w.contains('S') {
                    // `-S LINE`, `-SLINE`, `-iS'LINE'`: the rest of the bundle
                    // after `S` starts the line.
                    let after = w.split_once('S').map(|x| x.1).unwrap_or("");
                    let mut line = if after.is_empty() {
                        Vec::new()
                    } else {
                        vec![after.to_owned()]
                    };
                    line.extend(rest(words, i + 1));
                    return Some(Inner::Line(line.join(" ")));
                }
                if (w.starts_with('-') && !w.starts_with("--") && w.contains('C'))
                    || (w.starts_with("--") && long("--chdir"))
                {
                    return Some(Inner::Opaque("`env` changes the directory".into()));
                }
                match w.as_str() {
                    "-u" | "--unset" => i += 2,
                    "--" => {
                        i += 1;
                        break;
                    }
                    s if s.starts_with('-') => i += 1,
                    s if s.contains('=') => {
                        return Some(Inner::Opaque(format!(
                            "`env` sets {s}, which can change what the program does"
                        )))
                    }
                    _ => break,
                }
            }
            words_or_none(words, i)
        }
        "command" | "builtin" => {
            if words.iter().skip(1).any(|w| w == "-v" || w == "-V") {
                return None;
            }
            words_or_none(words, skip_options(words, 1, &[]))
        }
        "exec" => words_or_none(words, skip_options(words, 1, &["-a"])),
        "nice" => words_or_none(words, skip_options(words, 1, &["-n", "--adjustment"])),
        "nohup" | "setsid" | "busybox" | "time" | "ionice" | "chrt" | "taskset" | "stdbuf"
        | "doas" => {
            if prog == "time" && words.iter().any(|w| w == "-o" || w.starts_with("--output")) {
                return Some(Inner::Opaque("`time -o` writes a file".into()));
            }
            let with_value: &[&str] = match prog {
                "ionice" => &["-c", "-n", "-p", "-P", "-u"],
                "stdbuf" => &["-i", "-o", "-e"],
                "time" => &["-f", "--format"],
                "doas" => &["-u", "-C"],
                "taskset" => &[],
                _ => &[],
            };
            let mut at = skip_options(words, 1, with_value);
            if matches!(prog, "chrt" | "taskset") {
                at += 1; // the priority or CPU mask
            }
            words_or_none(words, at)
        }
        "timeout" => {
            let at = skip_options(words, 1, &["-s", "--signal", "-k", "--kill-after"]);
            words_or_none(words, at + 1)
        }
        "sudo" => {
            let at = skip_options(
                words,
                1,
                &[
                    "-u", "-g", "-C", "-D", "-h", "-p", "-r", "-t", "-U", "-T", "-R",
                ],
            );
            words_or_none(words, at)
        }
        "xargs" => {
            let at = skip_options(
                words,
                1,
                &[
                    "-I",
                    "-L",
                    "-n",
                    "-P",
                    "-s",
                    "-d",
                    "-E",
                    "-a",
                    "--arg-file",
                    "--delimiter",
                    "--max-args",
                    "--max-lines",
                    "--max-procs",
                    "--max-chars",
                    "--replace",
                    "--eof",
                    "--process-slot-var",
                ],
            );
            let mut cmd = rest(words, at);
            if cmd.is_empty() {
                cmd.push("echo".into());
            }
            Some(Inner::Partial(cmd))
        }
        "sh" | "bash" | "dash" | "zsh" | "ksh" | "ash" | "mksh" | "fish" | "su" => {
            // `sh -c LINE` (also `-ec`, `sh -c -e LINE`, `sh +x -c …`,
            // `sh -o vi -c …`); anything else runs a script or reads
            // commands from somewhere the judge cannot see.
            let mut i = 1;
            let mut saw_c = false;
            while let Some(w) = words.get(i) {
                if w == "--" {
                    i += 1;
                    break;
                }
                let is_opt = (w.starts_with('-') || w.starts_with('+')) && w.len() > 1;
                if !is_opt {
                    break;
                }
                if !w.starts_with("--") && w[1..].contains('c') {
                    saw_c = true;
                }
                // `-o NAME` / `+o NAME` take a value.
                i += if w == "-o" || w == "+o" { 2 } else { 1 };
            }
            if saw_c {
                return Some(match words.get(i) {
                    Some(line) => Inner::Line(line.clone()),
                    None => Inner::Opaque(format!("`{prog} -c` without a command")),
                });
            }
            Some(Inner::Opaque(format!(
                "`{prog}` runs commands the judge cannot see"
            )))
        }
        "find" => {
            // `find … -exec CMD … ;` runs CMD: judged like any command.
            let at = words
                .iter()
                .position(|w| matches!(w.as_str(), "-exec" | "-execdir" | "-ok" | "-okdir"))?;
            let cmd: Vec<String> = words[at + 1..]
                .iter()
                .take_while(|w| *w != ";" && *w != "+")
                .cloned()
                .collect();
            (!cmd.is_empty()).then_some(Inner::Partial(cmd))
        }
        "eval" => Some(Inner::Line(rest(words, 1).join(" "))),
        "source" | "." | "watch" | "flock" | "strace" | "ltrace" | "gdb" | "unshare"
        | "nsenter" | "chroot" | "script" | "parallel" | "perl" | "python" | "python3" | "node"
        | "ruby" | "php" | "lua" => Some(Inner::Opaque(format!(
            "`{prog}` runs code the judge cannot see"
        ))),
        _ => None,
    }
}

/// Why these arguments make the program do more than its rule was meant
/// to allow (`git status` must never mean "any git invocation").
pub fn dangerous(words: &[String]) -> Option<String> {
    let prog = name(words.first()?);
    let args = words.get(1..).unwrap_or_default();
    let flag = |prefixes: &[&str]| {
        args.iter()
            .find(|a| {
                prefixes
                    .iter()
                    .any(|p| a == p || a.starts_with(&format!("{p}=")))
            })
            .cloned()
    };
    let hit = match prog {
        "git" => {
            // Options before the subcommand change what git runs.
            let global = args
                .iter()
                .take_while(|a| a.starts_with('-'))
                .find(|a| {
                    a.starts_with("-c")
                        || a.starts_with("-C")
                        || a.starts_with("--config-env")
                        || a.starts_with("--exec-path")
                        || a.starts_with("--git-dir")
                        || a.starts_with("--work-tree")
                        || a.starts_with("--namespace")
                        || a.starts_with("--super-prefix")
                        || a.starts_with("--list-cmds")
                })
                .cloned();
            let status_verbose = args.iter().find(|a| *a == "status").is_some()
                && args
                    .iter()
                    .any(|a| a == "-v" || a == "-vv" || a == "--verbose");
            // `git credential fill` (and the helpers it runs) hands out
            // the user's stored tokens: never without the user.
            let credential = args
                .iter()
                .find(|a| !a.starts_with('-'))
                .filter(|a| a.starts_with("credential"))
                .map(|a| format!("{a} (reads stored git credentials)"));
            global
                .or(credential)
                .or_else(|| status_verbose.then(|| "--verbose".to_owned()))
                .or_else(|| {
                    flag(&[
                        "--help",
                        "--output",
                        "--exec",
                        "-x",
                        "--upload-pack",
                        "--receive-pack",
                        "--ext-diff",
                        "--textconv",
                        "--open-files-in-pager",
                        "-O",
                        "--config",
                        "--template",
                        "--no-index",
                        "--output-directory",
                    ])
                })
        }
        // git's credential helper and the agent binary it runs hand out
        // the user's stored git tokens.
        "aicockpit-git-credential" => Some("(asks for stored git credentials)".to_owned()),
        p if p.starts_with("git-credential") => {
            Some("(a git credential helper hands out stored credentials)".to_owned())
        }
        p if p.starts_with("workspace-agent") => {
            Some("(the workspace agent hands out stored git credentials)".to_owned())
        }
        "find" => flag(&[
            "-exec", "-execdir", "-ok", "-okdir", "-delete", "-fprint", "-fprint0", "-fprintf",
            "-fls",
        ]),
        "sed" => args
            .iter()
            .find(|a| {
                a.starts_with("-i")
                    || a.starts_with("--in-place")
                    || *a == "-f"
                    || a.starts_with("--file")
                    || a.starts_with("-s") && a.contains('i')
            })
            .cloned()
            .or_else(|| {
                args.iter()
                    .filter(|a| !a.starts_with('-'))
                    .find(|a| sed_runs_or_writes(a))
                    .cloned()
            }),
        "awk" | "gawk" | "mawk" | "nawk" | "busybox-awk" => args
            .iter()
            .find(|a| {
                matches!(
                    a.as_str(),
                    "-f" | "-i" | "-l" | "-E" | "--include" | "--load" | "--exec"
                ) || a.contains("system")
                    || a.contains('|')
                    || a.contains('>')
                    || a.contains("getline")
                    || a.contains("ENVIRON")
            })
            .cloned(),
        "tar" => flag(&[
            "--to-command",
            "--use-compress-program",
            "-I",
            "--checkpoint-action",
            "--rsh-command",
            "--rmt-command",
            "--info-script",
            "--new-volume-script",
            "-F",
        ]),
        "rg" => flag(&["--pre", "--hostname-bin", "--pre-glob"]),
        "sort" => flag(&["-o", "--output", "--compress-program"]),
        "rsync" => flag(&["-e", "--rsh", "--rsync-path"]),
        "ssh" | "scp" | "sftp" => flag(&["-o", "-F", "-S"]),
        "zip" => flag(&["-T", "-TT", "--unzip-command"]),
        "curl" => flag(&[
            "-o",
            "-O",
            "--output",
            "-K",
            "--config",
            "-T",
            "--upload-file",
        ]),
        "wget" => flag(&[
            "-o",
            "-O",
            "-P",
            "--output-document",
            "--output-file",
            "-e",
            "--execute",
        ]),
        "less" | "more" | "man" => flag(&["-o", "--log-file", "-O", "--LOG-FILE"]),
        "diff" => flag(&["--to-file", "--from-file"]),
        _ => None,
    };
    hit.map(|a| format!("`{a}` lets `{prog}` run or write more than its rule says"))
}

/// A sed script with a command that runs (`e`) or touches files (`w`, `r`).
/// Sed is not parsed: any such letter where a command could start counts.
fn sed_runs_or_writes(script: &str) -> bool {
    let b = script.as_bytes();
    b.iter().enumerate().any(|(i, c)| {
        matches!(c, b'e' | b'w' | b'W' | b'r' | b'R')
            && (i == 0 || b"/;{}\n$0123456789 \t!".contains(&b[i - 1]))
    })
}

/// Programs whose file operands are written (or removed).
pub fn writes_operands(prog: &str) -> bool {
    matches!(
        name(prog),
        "tee"
            | "cp"
            | "mv"
            | "install"
            | "ln"
            | "touch"
            | "mkdir"
            | "rm"
            | "rmdir"
            | "unlink"
            | "link"
            | "chmod"
            | "chown"
            | "chgrp"
            | "truncate"
            | "shred"
            | "dd"
            | "mkfifo"
            | "mknod"
            | "patch"
            | "split"
            | "csplit"
            | "tar"
            | "unzip"
            | "zip"
            | "gzip"
            | "gunzip"
            | "bzip2"
            | "bunzip2"
            | "xz"
            | "unxz"
            | "zstd"
            | "rsync"
            | "sed"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn wrappers_reveal_what_they_run() {
        let cases: &[(&str, Option<Inner>)] = &[
            ("env rm -rf x", Some(Inner::Words(w("rm -rf x")))),
            ("env -i -u HOME rm x", Some(Inner::Words(w("rm x")))),
            ("/usr/bin/env rm x", Some(Inner::Words(w("rm x")))),
            ("command -p rm x", Some(Inner::Words(w("rm x")))),
            ("command -v rm", None),
            ("exec -a foo rm x", Some(Inner::Words(w("rm x")))),
            ("nice -n 5 rm x", Some(Inner::Words(w("rm x")))),
            ("nohup rm x", Some(Inner::Words(w("rm x")))),
            ("timeout -s KILL 5 rm x", Some(Inner::Words(w("rm x")))),
            ("timeout 5 rm x", Some(Inner::Words(w("rm x")))),
            ("time -p rm x", Some(Inner::Words(w("rm x")))),
            ("stdbuf -o L rm x", Some(Inner::Words(w("rm x")))),
            ("sudo -u root rm x", Some(Inner::Words(w("rm x")))),
            ("xargs -n 1 rm", Some(Inner::Partial(w("rm")))),
            ("xargs", Some(Inner::Partial(w("echo")))),
            ("busybox rm x", Some(Inner::Words(w("rm x")))),
            ("builtin rm", Some(Inner::Words(w("rm")))),
            ("ls -la", None),
            ("git status", None),
        ];
        for (line, want) in cases {
            assert_eq!(&inner(&w(line)), want, "{line}");
        }
        let sh = vec!["sh".to_owned(), "-c".to_owned(), "rm -rf x".to_owned()];
        assert_eq!(inner(&sh), Some(Inner::Line("rm -rf x".into())));
        let bash = vec!["bash".to_owned(), "-ec".to_owned(), "ls".to_owned()];
        assert_eq!(inner(&bash), Some(Inner::Line("ls".into())));
        assert!(matches!(inner(&w("sh script.sh")), Some(Inner::Opaque(_))));
        assert!(matches!(
            inner(&w("env LD_PRELOAD=x.so ls")),
            Some(Inner::Opaque(_))
        ));
        assert_eq!(inner(&w("eval rm x")), Some(Inner::Line("rm x".into())));
        assert_eq!(inner(&w("env -S rm x")), Some(Inner::Line("rm x".into())));
    }

    #[test]
    fn dangerous_arguments_are_named() {
        for line in [
            "git -c core.pager=sh status",
            "git -C /tmp status",
            "git --git-dir=/x status",
            "git diff --output=/tmp/x",
            "git log --output /tmp/x",
            "git grep -O sh x",
            "git diff --ext-diff",
            "git fetch --upload-pack=x",
            "git credential fill",
            "git credential-cache get",
            "aicockpit-git-credential get",
            "/usr/lib/git-core/git-credential fill",
            "git-credential-store get",
            "/usr/local/bin/aicockpit-git-credential get",
            "/.aicockpit/workspace-agent-0123abcd git-credential get",
            "find . -exec rm {} ;",
            "find . -delete",
            "find . -fprint /tmp/x",
            "sed -i s/a/b/ f",
            "sed --in-place s/a/b/ f",
            "sed s/a/b/w /tmp/x f",
            "sed 1e id f",
            "awk BEGIN{system(\"id\")}",
            "awk {print>\"/tmp/x\"}",
            "tar --to-command=sh -xf a.tar",
            "tar -I sh -cf x .",
            "rg --pre sh x",
            "sort -o /tmp/x f",
            "ssh -o ProxyCommand=sh host",
        ] {
            assert!(dangerous(&w(line)).is_some(), "{line}");
        }
        for line in [
            "git status -s",
            "git log --oneline -5",
            "git diff HEAD~1",
            "find . -name x",
            "sed -n 1,5p f",
            "sed s/foo/bar/g f",
            "sort -u f",
            "rg -n foo",
        ] {
            assert_eq!(dangerous(&w(line)), None, "{line}");
        }
    }
}
