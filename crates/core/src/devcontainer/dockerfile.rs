//! Which images a Dockerfile may build from. The engine resolves a build's
//! base images by name *and by id prefix* among every local image —
//! snapshots and other users' built images included — so before a build
//! every image the Dockerfile could reach is checked against the same rule
//! as an image named by a user ([`crate::workspaces::plan::check_bare_image`]).
//!
//! This is not a Dockerfile parser: it finds every *candidate*, more than
//! the engine would see. The text is read three ways — physical lines,
//! logical lines joined as the engine joins continuations, and the same with
//! each continued part's indentation dropped — and in each, every line
//! whose first word is `FROM` and every `from=` must name an earlier stage
//! or an allowed image. What it cannot read unambiguously is refused: an
//! `escape` parser directive, a variable with no value, `--from` without
//! `=`, `RUN --mount` (a cache or another image), `ADD` of a URL or a git
//! repository (fetched by the engine on its own network).

use std::collections::BTreeMap;

/// Checks `text` with the build's `args`; `allowed` says whether an image
/// reference may be used (`Err` with the reason when not). Returns the
/// images (not stages, not `scratch`) the `FROM` lines name, for the caller
/// to inspect once they are pulled.
pub fn check_bases(
    text: &str,
    args: &BTreeMap<String, String>,
    allowed: &dyn Fn(&str) -> Result<(), String>,
) -> Result<Vec<String>, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let physical: Vec<String> = text
        .split('\n')
        .map(|l| l.trim_end_matches('\r').to_owned())
        .collect();
    for line in &physical {
        let t = line.trim_start();
        if !t.starts_with('#') {
            break;
        }
        let directive: String = t[1..].chars().filter(|c| !c.is_whitespace()).collect();
        if directive.to_ascii_lowercase().starts_with("escape=") {
            return Err("the escape parser directive is not allowed".into());
        }
    }
    let mut bases = Vec::new();
    for lines in [
        physical.clone(),
        logical(&physical, false),
        logical(&physical, true),
    ] {
        for b in check_lines(&lines, args, allowed)? {
            if !bases.contains(&b) {
                bases.push(b);
            }
        }
    }
    Ok(bases)
}

/// Lines joined as the engine joins them: a line ending in `\` (and
/// blanks) goes on with the next, comment lines within are dropped;
/// `trim` also drops each continued part's indentation.
fn logical(physical: &[String], trim: bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in physical {
        let part = match (&current, trim) {
            (Some(_), true) => line.trim_start(),
            _ => line.as_str(),
        };
        if current.is_some() && part.trim_start().starts_with('#') {
            continue;
        }
        let body = part.trim_end();
        match body.strip_suffix('\\') {
            Some(head) => current.get_or_insert_with(String::new).push_str(head),
            None => {
                let mut l = current.take().unwrap_or_default();
                l.push_str(part);
                out.push(l);
            }
        }
    }
    if let Some(l) = current {
        out.push(l);
    }
    out
}

/// One reading of the file: FROM lines in order (stages named by `AS`),
/// then the flags and instructions that reach other images.
fn check_lines(
    lines: &[String],
    args: &BTreeMap<String, String>,
    allowed: &dyn Fn(&str) -> Result<(), String>,
) -> Result<Vec<String>, String> {
    let globals = global_args(lines, args);
    let mut stages: Vec<String> = Vec::new();
    let mut bases = Vec::new();
    let mut from_lines = 0usize;
    for (n, line) in lines.iter().enumerate() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some(first) = words.first() else { continue };
        let line_no = n + 1;
        if first.eq_ignore_ascii_case("ADD")
            && (line.contains("://") || line.to_ascii_lowercase().contains("git@"))
        {
            return Err(format!(
                "line {line_no}: ADD of a URL or a git repository is not allowed; download in a RUN step"
            ));
        }
        if !first.eq_ignore_ascii_case("FROM") {
            continue;
        }
        from_lines += 1;
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
            bases.push(image);
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
    let text = lines.join("\n");
    let lower = text.to_ascii_lowercase();
    if lower.contains("--mount") {
        return Err("RUN --mount is not allowed (it reaches caches and other images)".into());
    }
    if lower
        .match_indices("--from")
        .any(|(i, m)| !lower[i + m.len()..].starts_with('='))
    {
        return Err("--from must be written --from=STAGE".into());
    }
    check_from_flags(&text, &stages, allowed)?;
    Ok(bases)
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
fn global_args(lines: &[String], args: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in lines {
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
                // Only names the file declares: the engine sets others of
                // its own (platform arguments) that this cannot know.
                let set = vars.get(name)?;
                let set = Some(set).filter(|v| !v.is_empty());
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
        check_bases(text, &args, &allowed).map(|_| ())
    }

    #[test]
    fn the_bases_are_returned_for_inspection() {
        let args = BTreeMap::new();
        let next_line = check_bases("FROM debian AS b\nFROM \\\n b\n", &args, &allowed);
        assert!(next_line.is_err(), "a FROM with its image on the next line");
        let bases = check_bases(
            "ARG V=12\nFROM debian:${V} AS b\nFROM b\nFROM scratch\n",
            &args,
            &allowed,
        );
        assert_eq!(bases, Ok(vec!["debian:12".to_owned()]));
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
                "FROM debian\nRUN apt-get update \\\n && apt-get install -y make\n",
                vec![],
            ),
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
            ("#escape=\\\nFROM debian\n", vec![]),
            // Continuations split a keyword: the engine joins with nothing.
            ("FROM debian\nFR\\\nOM 3f\n", vec![]),
            ("FROM debian\nCOPY --fr\\\nom=3f / /loot\n", vec![]),
            (
                "FROM debian\nCOPY --fr\\  \n# a comment\nom=3f / /loot\n",
                vec![],
            ),
            ("AR\\\nG B=3f\nFROM ${B}\n", vec![]),
            ("FROM debian\nF\\\n  ROM 3f\n", vec![]),
            // Variables the file does not declare, in any form.
            ("FROM snap${TARGETOS:+shot}:x\n", vec![]),
            ("FROM debian${UNSET:-}\n", vec![]),
            // What reaches other images or the engine's network.
            (
                "FROM debian\nRUN --mount=type=cache,target=/c make\n",
                vec![],
            ),
            ("FROM debian\nCOPY --from 3f /a /b\n", vec![]),
            ("FROM debian\nADD https://127.0.0.1:8080/x /x\n", vec![]),
            ("FROM debian\nadd git@github.com:o/r.git /r\n", vec![]),
            ("FROM snapshot:0123\n", vec![]),
            ("FROM docker.io/x/devcontainer:abc\n", vec![]),
            ("RUN echo no base\n", vec![]),
        ] {
            assert!(check(text, &args).is_err(), "{text:?} was allowed");
        }
    }
}
