//! Which images a Dockerfile may build from. The engine resolves a build's
//! base images by name *and by id prefix* among every local image —
//! snapshots and other users' built images included — so before a build
//! every image the Dockerfile could reach is checked against the same rule
//! as an image named by a user ([`crate::workspaces::plan::check_bare_image`]).
//!
//! This is not a Dockerfile parser: it finds every *candidate*, more than
//! the engine would see. Each physical line whose first word is `FROM`
//! (whatever the line joining, comments or heredocs around it) and each
//! `from=` anywhere (`COPY --from=`, `RUN --mount=…,from=`) must name an
//! earlier stage or an allowed image; a reference it cannot resolve (an
//! unknown variable, a name on the next line) is refused.

use std::collections::BTreeMap;

/// Checks `text` with the build's `args`; `allowed` says whether an image
/// reference may be used (`Err` with the reason when not).
pub fn check_bases(
    text: &str,
    args: &BTreeMap<String, String>,
    allowed: &dyn Fn(&str) -> Result<(), String>,
) -> Result<(), String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let globals = global_args(text, args);
    let mut stages: Vec<String> = Vec::new();
    let mut from_lines = 0usize;
    for (n, line) in text.lines().enumerate() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some(first) = words.first() else { continue };
        if !first.eq_ignore_ascii_case("FROM") {
            continue;
        }
        from_lines += 1;
        let line_no = n + 1;
        let mut rest = words[1..].iter().filter(|w| !w.starts_with("--"));
        let Some(image) = rest.next() else {
            return Err(format!(
                "line {line_no}: FROM must name its image on the same line"
            ));
        };
        let image = expand(image, &globals).ok_or_else(|| {
            format!("line {line_no}: {image:?} uses a variable that has no value")
        })?;
        let is_stage = stages.iter().any(|s| s.eq_ignore_ascii_case(&image));
        if !is_stage && !image.eq_ignore_ascii_case("scratch") {
            allowed(&image).map_err(|m| format!("line {line_no}: FROM {image}: {m}"))?;
        }
        if let (Some(kw), Some(alias)) = (rest.next(), rest.next()) {
            if kw.eq_ignore_ascii_case("AS") {
                stages.push((*alias).to_owned());
            }
        }
    }
    if from_lines == 0 {
        return Err("the Dockerfile has no FROM line".into());
    }
    check_from_flags(text, &stages, allowed)
}

/// Every `from=` value: an earlier stage (by name or number) or an allowed
/// image. Variables are not expanded here: one in a `from=` is refused.
fn check_from_flags(
    text: &str,
    stages: &[String],
    allowed: &dyn Fn(&str) -> Result<(), String>,
) -> Result<(), String> {
    let lower = text.to_ascii_lowercase();
    let mut at = 0;
    while let Some(i) = lower[at..].find("from=") {
        let start = at + i + "from=".len();
        let value: String = text[start..]
            .chars()
            .take_while(|c| !c.is_whitespace() && *c != ',')
            .collect();
        let value = value.trim_matches(|c| c == '"' || c == '\'');
        at = start;
        if value.contains('$') {
            return Err(format!("from={value}: variables are not allowed here"));
        }
        let is_stage = stages.iter().any(|s| s.eq_ignore_ascii_case(value))
            || (!value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) && value.len() <= 3);
        if !is_stage {
            allowed(value).map_err(|m| format!("from={value}: {m}"))?;
        }
    }
    Ok(())
}

/// The `ARG` defaults before the first `FROM`, overridden by the build's
/// arguments (which only set ARGs the file declares).
fn global_args(text: &str, args: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let Some(first) = words.next() else { continue };
        if first.eq_ignore_ascii_case("FROM") {
            break;
        }
        if !first.eq_ignore_ascii_case("ARG") {
            continue;
        }
        for decl in words {
            let (name, default) = match decl.split_once('=') {
                Some((n, d)) => (n, Some(d.trim_matches(|c| c == '"' || c == '\''))),
                None => (decl, None),
            };
            match (args.get(name), default) {
                (Some(v), _) => out.insert(name.to_owned(), v.clone()),
                (None, Some(d)) => out.insert(name.to_owned(), d.to_owned()),
                (None, None) => out.insert(name.to_owned(), String::new()),
            };
        }
    }
    out
}

/// `word` with `$NAME`, `${NAME}`, `${NAME:-default}` and `${NAME:+alt}`
/// replaced; None when a name is unknown or the form is not one of these.
fn expand(word: &str, vars: &BTreeMap<String, String>) -> Option<String> {
    let mut out = String::new();
    let mut rest = word;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (expr, tail) = if let Some(inner) = after.strip_prefix('{') {
            let end = inner.find('}')?;
            (&inner[..end], &inner[end + 1..])
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        let value = match expr.split_once(':') {
            None => vars.get(expr)?.clone(),
            Some((name, op)) => {
                let set = vars.get(name).filter(|v| !v.is_empty());
                if let Some(d) = op.strip_prefix('-') {
                    set.cloned().unwrap_or_else(|| d.to_owned())
                } else if let Some(alt) = op.strip_prefix('+') {
                    set.map(|_| alt.to_owned()).unwrap_or_default()
                } else {
                    return None;
                }
            }
        };
        if value.contains('$') {
            return None;
        }
        out.push_str(&value);
        rest = tail;
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(i: &str) -> Result<(), String> {
        crate::workspaces::plan::check_bare_image(i).map_err(|e| e.to_string())
    }

    fn check(text: &str, args: &[(&str, &str)]) -> Result<(), String> {
        let args = args
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        check_bases(text, &args, &allowed)
    }

    #[test]
    fn bases_a_build_may_use() {
        for (text, args) in [
            (
                "FROM localhost/aicockpit/base:latest\nRUN echo hi\n",
                vec![],
            ),
            ("ARG V=3.11\nFROM python:${V}-slim\n", vec![]),
            ("ARG V\nFROM python:$V\n", vec![("V", "3.12")]),
            ("ARG V\nFROM python:${V:-3.12}\n", vec![]),
            (
                "from debian AS build\nRUN make\nFROM scratch\nCOPY --from=build /a /a\n",
                vec![],
            ),
            (
                "FROM --platform=linux/amd64 debian:12 as b\nFROM b\nCOPY --from=0 /x /y\n",
                vec![],
            ),
            (
                "\u{feff}FROM debian\n# FROM localhost/aicockpit/snapshot:x (a comment)\n",
                vec![],
            ),
        ] {
            assert_eq!(check(text, &args), Ok(()), "{text}");
        }
    }

    /// Every way to reach an image nobody may name, and unreadable forms.
    #[test]
    fn the_refusal_table() {
        for (text, args) in [
            ("FROM localhost/aicockpit/snapshot:0123\n", vec![]),
            ("FROM localhost/aicockpit/devcontainer:ab12\n", vec![]),
            ("FROM 3f2a\n", vec![]),
            ("FROM sha256:3f2a\n", vec![]),
            ("  from   3F2A\n", vec![]),
            ("ARG B=3f\nFROM ${B}\n", vec![]),
            (
                "ARG B=debian\nFROM ${B}\n",
                vec![("B", "localhost/aicockpit/snapshot:x")],
            ),
            ("FROM ${UNDECLARED}\n", vec![]),
            ("FROM ${B:?x}\n", vec![]),
            ("ARG A=$B\nFROM ${A}\n", vec![]),
            ("FROM \\\n  localhost/aicockpit/snapshot:x\n", vec![]),
            ("FROM --platform=linux/amd64\n", vec![]),
            ("FROM debian\nCOPY --from=3f2a /etc /x\n", vec![]),
            (
                "FROM debian\nCOPY --from=\"localhost/aicockpit/snapshot:x\" /a /b\n",
                vec![],
            ),
            (
                "FROM debian\nCOPY --FROM=localhost/aicockpit/snapshot:x /a /b\n",
                vec![],
            ),
            ("FROM debian\nCOPY --from=$X /a /b\n", vec![]),
            (
                "FROM debian\nRUN --mount=type=bind,from=3f2a,target=/m cat /m/x\n",
                vec![],
            ),
            ("FROM debian\nRUN echo \\\n# c\nFROM 3f2a\n", vec![]),
            ("FROM debian\nRUN <<EOF\nFROM 3f2a\nEOF\n", vec![]),
            ("# escape=`\nFROM `\n  3f2a\n", vec![]),
            ("RUN echo no base\n", vec![]),
        ] {
            assert!(check(text, &args).is_err(), "{text:?} was allowed");
        }
    }
}
