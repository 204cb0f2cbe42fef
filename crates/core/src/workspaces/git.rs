//! Creating a workspace from a git repository, the pure parts: which
//! sources are accepted (checked before anything is made), the script the
//! clone runs inside the workspace as its user, and what a failed clone's
//! output means. The run itself is in `setup.rs`.

use crate::CoreError;

/// A repository to clone into a new workspace's `/workspace`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitSource {
    /// `https://`, `http://`, `ssh://`, `git://` or scp-like
    /// `user@host:path`.
    pub url: String,
    /// A branch, a tag or a commit (default: the remote's default branch).
    pub reference: Option<String>,
    /// Shallow clone of this many commits.
    pub depth: Option<u32>,
    /// Also clone the submodules, recursively.
    pub submodules: bool,
}

const MAX_URL: usize = 2048;
const MAX_REF: usize = 255;
const MAX_DEPTH: u32 = 1_000_000;

fn invalid(message: impl Into<String>) -> CoreError {
    CoreError::invalid("invalid_git_source", message)
}

impl GitSource {
    /// Checks every field; what git would read as an option, a local
    /// path, a helper program (`ext::`) or a stored secret is refused.
    pub fn validate(&self) -> Result<(), CoreError> {
        check_url(&self.url)?;
        if let Some(r) = &self.reference {
            check_ref(r)?;
        }
        if let Some(d) = self.depth {
            if d == 0 || d > MAX_DEPTH {
                return Err(invalid(format!("depth must be between 1 and {MAX_DEPTH}")));
            }
        }
        Ok(())
    }

    /// The URL for the audit record and the log: there is nothing secret
    /// in it (http(s) URLs carry no user; ssh ones a plain user name).
    pub fn describe(&self) -> String {
        self.url.clone()
    }
}

fn check_url(url: &str) -> Result<(), CoreError> {
    if url.is_empty() || url.len() > MAX_URL {
        return Err(invalid(format!("url must be 1 to {MAX_URL} characters")));
    }
    if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(invalid("url must not contain spaces or control characters"));
    }
    if url.starts_with('-') {
        return Err(invalid("url must not start with '-'"));
    }
    // git and the url crate read a backslash differently (the crate as
    // '/'): what was checked would not be what git contacts.
    if url.contains('\\') {
        return Err(invalid("url must not contain '\\'"));
    }
    if let Some((scheme, rest)) = url.split_once("://") {
        if rest.starts_with('/') {
            return Err(invalid("url has no host"));
        }
        check_authority(scheme, rest.split('/').next().unwrap_or_default())?;
        let parsed =
            url::Url::parse(url).map_err(|e| invalid(format!("url is not a valid URL: {e}")))?;
        if !matches!(scheme, "https" | "http" | "ssh" | "git") || parsed.scheme() != scheme {
            return Err(invalid(
                "url must be https://, http://, ssh://, git:// or user@host:path",
            ));
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(invalid("url has no host"));
        }
        if parsed.password().is_some() {
            return Err(invalid(
                "a password or token in the url would be written into the workspace's .git/config: give the repository's url without it",
            ));
        }
        return Ok(());
    }
    // git's scp-like syntax: [user@]host:path, where host has no '/' (a
    // '/' before the first ':' makes it a local path to git), and not
    // `transport::address` (git runs a helper program for those).
    let Some((host, path)) = url.split_once(':') else {
        return Err(invalid(
            "url must be https://, http://, ssh://, git:// or user@host:path (local paths are refused)",
        ));
    };
    let host_only = host.rsplit('@').next().unwrap_or_default();
    let host_ok = !host_only.is_empty()
        && !host_only.starts_with('-')
        && host_only
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    let user_ok = host
        .rsplit_once('@')
        .map(|(u, _)| {
            !u.is_empty()
                && !u.starts_with('-')
                && u.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        })
        .unwrap_or(true);
    if !host_ok || !user_ok || path.is_empty() || path.starts_with(':') {
        return Err(invalid(
            "url must be https://, http://, ssh://, git:// or user@host:path (transport::address and local paths are refused)",
        ));
    }
    Ok(())
}

/// The `user@host:port` part of a URL, as git will read it: no user in
/// http(s) URLs (it would be a token written into `.git/config`); a user
/// name (ssh) and a host of plain characters, neither starting with '-'
/// (ssh would take it for an option).
fn check_authority(scheme: &str, authority: &str) -> Result<(), CoreError> {
    let plain = |t: &str, extra: &str| {
        !t.is_empty()
            && !t.starts_with('-')
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c) || extra.contains(c))
    };
    let (user, host) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    if let Some(u) = user {
        if matches!(scheme, "https" | "http") {
            return Err(invalid(
                "a user name, password or token in an http(s) url would be written into the workspace's .git/config: give the repository's url without it",
            ));
        }
        if !plain(u, "") {
            return Err(invalid("url has a user name git or ssh would misread"));
        }
    }
    // host, host:port, [v6]:port
    if !plain(host, ":[]") {
        return Err(invalid("url has a host git or ssh would misread"));
    }
    Ok(())
}

/// Whether `r` is a commit id (or an abbreviation of one).
fn is_commit(r: &str) -> bool {
    (7..=64).contains(&r.len()) && r.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A branch or tag name by git's own rules (`git check-ref-format`), or a
/// commit id.
fn check_ref(r: &str) -> Result<(), CoreError> {
    let bad = |why: &str| Err(invalid(format!("ref {r:?} {why}")));
    if r.is_empty() || r.len() > MAX_REF {
        return bad(&format!("must be 1 to {MAX_REF} characters"));
    }
    if is_commit(r) {
        return Ok(());
    }
    if r.starts_with('-') || r.starts_with('/') || r.ends_with('/') || r.ends_with('.') {
        return bad("is not a branch, tag or commit name");
    }
    if r.contains("..") || r.contains("@{") || r.contains("//") || r.ends_with(".lock") {
        return bad("is not a branch, tag or commit name");
    }
    if r.chars()
        .any(|c| c.is_control() || c == ' ' || "~^:?*[\\".contains(c) || c == '\u{7f}')
    {
        return bad("contains a character git does not allow in names");
    }
    if r.split('/').any(|part| part.starts_with('.')) {
        return bad("has a part starting with '.'");
    }
    Ok(())
}

/// The script that clones into the current directory (`/workspace`),
/// with git's output on stdout. Arguments: url, ref, depth, submodules
/// (`1` or empty) — passed as arguments, never pasted into the script.
/// Prompts are off, so a missing credential fails at once; the whole
/// clone is limited to `timeout_secs` where `timeout` exists.
pub fn clone_script(timeout_secs: u64) -> String {
    format!(
        r#"exec 2>&1
url="$1"; ref="$2"; depth="$3"; subs="$4"
export GIT_TERMINAL_PROMPT=0 GCM_INTERACTIVE=never
export GIT_SSH_COMMAND="ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new"
command -v git >/dev/null 2>&1 || {{ echo "aicockpit: git is not installed in this image"; exit 127; }}
t=""; command -v timeout >/dev/null 2>&1 && t="timeout {timeout_secs}"
set --
[ -n "$subs" ] && set -- "$@" --recurse-submodules
case "$ref" in
  *[!0-9a-fA-F]*|"") commit="" ;;
  *) if [ ${{#ref}} -ge 7 ]; then commit="$ref"; else commit=""; fi ;;
esac
if [ -n "$commit" ]; then
  [ -n "$depth" ] && echo "aicockpit: cloning in full to reach commit" "$ref" "(depth applies to branches and tags)"
  $t git clone --progress "$@" -- "$url" . || exit $?
  $t git -c advice.detachedHead=false checkout --progress --detach "$commit" -- || exit $?
  [ -n "$subs" ] && {{ $t git submodule update --init --recursive --progress || exit $?; }}
else
  [ -n "$ref" ] && set -- "$@" --branch "$ref"
  [ -n "$depth" ] && set -- "$@" --depth "$depth"
  [ -n "$depth" ] && [ -n "$subs" ] && set -- "$@" --shallow-submodules
  $t git clone --progress "$@" -- "$url" . || exit $?
fi
echo "aicockpit: cloned $(git rev-parse --short HEAD 2>/dev/null) into $(pwd)"
"#
    )
}

/// The script's arguments for `src`.
pub fn clone_args(src: &GitSource) -> Vec<String> {
    vec![
        src.url.clone(),
        src.reference.clone().unwrap_or_default(),
        src.depth.map(|d| d.to_string()).unwrap_or_default(),
        if src.submodules { "1" } else { "" }.to_owned(),
    ]
}

/// What a failed clone's exit code and last output lines mean: a code for
/// programs and a sentence for people.
pub fn classify_failure(exit_code: Option<i64>, log: &[String]) -> (&'static str, String) {
    // The server's own `remote:` lines say what it likes; git's words are
    // the ones that count.
    let text = log
        .iter()
        .filter(|l| !l.trim_start().starts_with("remote:"))
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join("\n")
        .to_ascii_lowercase();
    let has = |needles: &[&str]| needles.iter().any(|n| text.contains(n));
    let last = log
        .iter()
        .rev()
        .find(|l| l.contains("fatal:") || l.contains("error:") || l.contains("aicockpit:"))
        .or_else(|| log.last())
        .map(|l| l.trim().to_owned())
        .unwrap_or_default();
    let (code, what) = if exit_code == Some(127) && has(&["git is not installed"]) {
        (
            "git_missing",
            "git is not installed in the workspace's image",
        )
    } else if exit_code == Some(124) {
        ("timeout", "the clone took too long and was stopped")
    } else if has(&[
        "authentication failed",
        "could not read username",
        "could not read password",
        "terminal prompts disabled",
        "permission denied (publickey",
        "access denied",
        "http basic",
        "the requested url returned error: 401",
        "the requested url returned error: 403",
    ]) {
        (
            "authentication",
            "the git server asked for credentials that were not accepted",
        )
    } else if has(&[
        "remote branch",
        "couldn't find remote ref",
        "did not match any file(s) known to git",
        "reference is not a tree",
        "unknown revision",
        "invalid reference",
        "not our ref",
    ]) {
        (
            "unknown_ref",
            "the repository has no such branch, tag or commit",
        )
    } else if has(&[
        "repository not found",
        "does not appear to be a git repository",
        "the requested url returned error: 404",
        "' not found",
    ]) {
        ("not_found", "no repository at that address")
    } else if has(&[
        "could not resolve host",
        "connection refused",
        "connection timed out",
        "failed to connect",
        "network is unreachable",
        "no route to host",
        "early eof",
        "connection reset",
    ]) {
        ("network", "the git server could not be reached")
    } else if has(&["already exists and is not an empty directory"]) {
        ("not_empty", "/workspace already has files")
    } else {
        ("failed", "the clone failed")
    };
    let message = if last.is_empty() {
        what.to_owned()
    } else {
        format!("{what}: {last}")
    };
    (code, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(url: &str) -> GitSource {
        GitSource {
            url: url.into(),
            reference: None,
            depth: None,
            submodules: false,
        }
    }

    /// Hostile and ordinary sources: (url, ref, depth, accepted).
    #[test]
    fn sources_table() {
        let long = format!("https://h/{}", "a".repeat(MAX_URL));
        let table: &[(&str, Option<&str>, Option<u32>, bool)] = &[
            ("https://github.com/org/repo.git", None, None, true),
            (
                "http://10.0.0.5:8080/cgi-bin/git/r.git",
                Some("main"),
                Some(1),
                true,
            ),
            (
                "ssh://git@host:2222/org/repo.git",
                Some("v1.2.3"),
                None,
                true,
            ),
            ("git://host/repo", Some("feature/x-1"), None, true),
            ("git@github.com:org/repo.git", Some("0123abc"), None, true),
            ("host.example:repo", None, None, true),
            ("ssh://git@[::1]:22/r.git", None, None, true),
            // secrets in the URL
            ("https://user:token@host/r.git", None, None, false),
            ("https://TOKEN@host/r.git", None, None, false),
            ("https://x\\:TOKEN@github.com/o/r", None, None, false),
            ("https://github.com\\@evil/o/r", None, None, false),
            ("https://x%3aTOKEN@github.com/o/r", None, None, false),
            // ssh options in disguise
            ("ssh://-oProxyCommand=touch%20x/r", None, None, false),
            ("ssh://-oProxyCommand=x@host/r", None, None, false),
            ("-oProxyCommand=x:r", None, None, false),
            ("git@-oProxyCommand=x:r", None, None, false),
            // local paths and transports that run programs
            ("file:///etc", None, None, false),
            ("/etc/passwd", None, None, false),
            ("./repo", None, None, false),
            ("ext::sh -c touch% /tmp/pwned", None, None, false),
            ("ext::sh", None, None, false),
            ("fd::17", None, None, false),
            ("a/b:c", None, None, false),
            // options and junk
            ("-uhttps://x", None, None, false),
            ("--upload-pack=touch /tmp/x", None, None, false),
            ("https://h/r\n", None, None, false),
            ("https://h/r x", None, None, false),
            ("", None, None, false),
            (&long, None, None, false),
            ("https:///nohost", None, None, false),
            ("ftp://h/r", None, None, false),
            ("HTTPS://h/r", None, None, false),
            ("user@:path", None, None, false),
            ("host:", None, None, false),
            // refs
            ("https://h/r", Some("--upload-pack=x"), None, false),
            ("https://h/r", Some("a..b"), None, false),
            ("https://h/r", Some("a b"), None, false),
            ("https://h/r", Some("x~1"), None, false),
            ("https://h/r", Some("x^"), None, false),
            ("https://h/r", Some(".hidden"), None, false),
            ("https://h/r", Some("a/.b"), None, false),
            ("https://h/r", Some("x.lock"), None, false),
            ("https://h/r", Some("@{-1}"), None, false),
            ("https://h/r", Some("a\u{7f}"), None, false),
            ("https://h/r", Some(""), None, false),
            ("https://h/r", Some("main"), Some(0), false),
            ("https://h/r", Some("main"), Some(MAX_DEPTH + 1), false),
        ];
        for (url, r, d, ok) in table {
            let s = GitSource {
                url: (*url).into(),
                reference: r.map(str::to_owned),
                depth: *d,
                submodules: false,
            };
            let got = s.validate();
            assert_eq!(got.is_ok(), *ok, "{url:?} {r:?} {d:?}: {got:?}");
            if let Err(CoreError::Invalid { code, message }) = got {
                assert_eq!(code, "invalid_git_source");
                assert!(!message.is_empty());
            }
        }
        assert!(src("https://h/r").validate().is_ok());
    }

    /// git's own words → (code).
    #[test]
    fn failures_table() {
        let table: &[(Option<i64>, &str, &str)] = &[
            (Some(128), "fatal: Authentication failed for 'https://h/r.git/'", "authentication"),
            (Some(128), "fatal: could not read Username for 'https://h': terminal prompts disabled", "authentication"),
            (Some(128), "git@h: Permission denied (publickey).", "authentication"),
            (Some(128), "warning: Could not find remote branch nope to clone.\nfatal: Remote branch nope not found in upstream origin", "unknown_ref"),
            (Some(1), "error: pathspec 'deadbeef1' did not match any file(s) known to git", "unknown_ref"),
            (Some(128), "remote: Repository not found.\nfatal: repository 'https://h/x/' not found", "not_found"),
            (Some(128), "fatal: repository 'http://h/nope.git/' not found", "not_found"),
            (Some(128), "fatal: unable to access 'https://nohost/': Could not resolve host: nohost", "network"),
            (Some(128), "fatal: unable to access 'http://10.0.0.1:9/r/': Failed to connect to 10.0.0.1 port 9: Connection refused", "network"),
            (Some(128), "fatal: destination path '.' already exists and is not an empty directory.", "not_empty"),
            (Some(127), "aicockpit: git is not installed in this image", "git_missing"),
            (Some(124), "Receiving objects: 12%", "timeout"),
            (Some(1), "something odd", "failed"),
            // Ordinary output that says "not found" is not a missing repository.
            (Some(1), "warning: templates not found in /x\ngit-lfs: command not found\nfatal: the remote end hung up unexpectedly", "failed"),
            (Some(128), "remote: Repository not found, says the server\nfatal: early EOF", "network"),
            (Some(128), "fatal: invalid reference: 0123456789abcdef", "unknown_ref"),
            (None, "", "failed"),
        ];
        for (exit, out, want) in table {
            let lines: Vec<String> = out.lines().map(str::to_owned).collect();
            let (code, message) = classify_failure(*exit, &lines);
            assert_eq!(code, *want, "{out}");
            assert!(!message.is_empty());
        }
    }

    #[test]
    fn arguments_are_passed_not_pasted() {
        let s = GitSource {
            url: "https://h/r".into(),
            reference: Some("v1".into()),
            depth: Some(3),
            submodules: true,
        };
        assert_eq!(clone_args(&s), vec!["https://h/r", "v1", "3", "1"]);
        let script = clone_script(60);
        assert!(script.contains("timeout 60"));
        // Every use of a value is quoted, and the values come from the
        // positional parameters only.
        for var in ["url", "ref", "depth", "commit"] {
            let bare = format!(" ${var} ");
            assert!(!script.contains(&bare), "unquoted ${var}");
        }
        assert!(script.contains("-- \"$url\" ."));
    }
}
