//! Text search and file-name search with ripgrep's own crates: `ignore`
//! walks the tree honouring .gitignore (and globs), `grep-searcher` with a
//! `grep-regex` matcher finds the lines, binary files are skipped.

use crate::paths::Root;
use aicockpit_workspace_agent_proto::{
    AgentError, ErrorCode, SearchMatch, SearchQuery, SearchResult, REPLY_BUDGET,
};
use grep_regex::RegexMatcherBuilder;
use grep_searcher::sinks::Lossy;
use grep_searcher::{BinaryDetection, SearcherBuilder};
use ignore::overrides::OverrideBuilder;
use ignore::{WalkBuilder, WalkState};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Longest line text returned per match.
const MAX_LINE: usize = 500;
/// Files larger than this are not searched (build artefacts, dumps).
const MAX_FILE: u64 = 16 * 1024 * 1024;

fn walker(
    root: &Root,
    base: &str,
    globs: &[String],
    include_ignored: bool,
) -> Result<WalkBuilder, AgentError> {
    let dir = root.resolve(base)?;
    let mut wb = WalkBuilder::new(&dir);
    wb.hidden(!include_ignored)
        .git_ignore(!include_ignored)
        .git_global(false)
        .git_exclude(!include_ignored)
        .ignore(!include_ignored)
        .parents(false)
        .require_git(false)
        .follow_links(false)
        .max_filesize(Some(MAX_FILE))
        .filter_entry(|e| e.file_name() != ".git");
    if !globs.is_empty() {
        let mut ob = OverrideBuilder::new(&dir);
        for g in globs {
            ob.add(g)
                .map_err(|e| AgentError::new(ErrorCode::Invalid, format!("bad glob {g:?}: {e}")))?;
        }
        wb.overrides(
            ob.build()
                .map_err(|e| AgentError::new(ErrorCode::Invalid, e.to_string()))?,
        );
    }
    Ok(wb)
}

pub(crate) fn search(root: &Root, q: &SearchQuery) -> Result<SearchResult, AgentError> {
    if q.query.is_empty() || q.query.len() > 1000 {
        return Err(AgentError::new(
            ErrorCode::Invalid,
            "the query must be 1-1000 bytes",
        ));
    }
    let max = q.max_results.clamp(1, 10_000);
    let mut mb = RegexMatcherBuilder::new();
    mb.fixed_strings(!q.regex)
        .size_limit(10 * 1024 * 1024)
        .dfa_size_limit(10 * 1024 * 1024);
    match q.case_sensitive {
        Some(true) => mb.case_insensitive(false),
        Some(false) => mb.case_insensitive(true),
        None => mb.case_smart(true),
    };
    let matcher = mb
        .build(&q.query)
        .map_err(|e| AgentError::new(ErrorCode::Invalid, format!("bad regular expression: {e}")))?;
    // The matches and their size as JSON.
    let matches = Arc::new(Mutex::new((Vec::<SearchMatch>::new(), 0usize)));
    let truncated = Arc::new(AtomicBool::new(false));
    let files = Arc::new(AtomicU64::new(0));
    let root_path = root.path().to_path_buf();
    walker(root, &q.path, &q.globs, q.include_ignored)?
        .build_parallel()
        .run(|| {
            let matcher = matcher.clone();
            let matches = matches.clone();
            let truncated = truncated.clone();
            let files = files.clone();
            let root_path = root_path.clone();
            let mut searcher = SearcherBuilder::new()
                .binary_detection(BinaryDetection::quit(0))
                .line_number(true)
                .build();
            Box::new(move |entry| {
                if truncated.load(Ordering::Relaxed) {
                    return WalkState::Quit;
                }
                let Ok(entry) = entry else {
                    return WalkState::Continue;
                };
                if !entry.file_type().is_some_and(|t| t.is_file()) {
                    return WalkState::Continue;
                }
                files.fetch_add(1, Ordering::Relaxed);
                let rel = entry
                    .path()
                    .strip_prefix(&root_path)
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let _ = searcher.search_path(
                    &matcher,
                    entry.path(),
                    Lossy(|line, text| {
                        let mut all = matches.lock().unwrap_or_else(|p| p.into_inner());
                        if all.0.len() >= max {
                            truncated.store(true, Ordering::Relaxed);
                            return Ok(false);
                        }
                        let text = text.trim_end_matches(['\n', '\r']);
                        let cut = text
                            .char_indices()
                            .nth(MAX_LINE)
                            .map(|(i, _)| i)
                            .unwrap_or(text.len());
                        let m = SearchMatch {
                            path: rel.clone(),
                            line,
                            text: text[..cut].to_owned(),
                        };
                        // Cut, not failed, when the answer would outgrow
                        // what one reply carries.
                        let size = serde_json::to_vec(&m).map(|v| v.len() + 1).unwrap_or(0);
                        if all.1 + size > REPLY_BUDGET {
                            truncated.store(true, Ordering::Relaxed);
                            return Ok(false);
                        }
                        all.1 += size;
                        all.0.push(m);
                        Ok(true)
                    }),
                );
                WalkState::Continue
            })
        });
    let mut matches = std::mem::take(&mut matches.lock().unwrap_or_else(|p| p.into_inner()).0);
    // The parallel walk finds files in any order; answer in a stable one.
    matches.sort_by(|a, b| (&a.path, a.line).cmp(&(&b.path, b.line)));
    Ok(SearchResult {
        matches,
        truncated: truncated.load(Ordering::Relaxed),
        files_searched: files.load(Ordering::Relaxed),
    })
}

/// Scores `path` for a quick-open `query`: every query character must occur
/// in order; matches in the file name, at word starts and close together
/// score higher. None when it does not match.
pub(crate) fn score(path: &str, query: &str) -> Option<i64> {
    let p: Vec<char> = path.to_lowercase().chars().collect();
    let name_start = path
        .rfind('/')
        .map(|i| path[..=i].chars().count())
        .unwrap_or(0);
    let mut score = 0i64;
    let mut pi = 0usize;
    let mut last: Option<usize> = None;
    for qc in query.to_lowercase().chars().filter(|c| !c.is_whitespace()) {
        let found = (pi..p.len()).find(|&i| p[i] == qc)?;
        score += 10;
        if found >= name_start {
            score += 5;
        }
        if found == 0 || matches!(p[found - 1], '/' | '_' | '-' | '.' | ' ') {
            score += 8;
        }
        if last.is_some_and(|l| l + 1 == found) {
            score += 6;
        }
        last = Some(found);
        pi = found + 1;
    }
    Some(score * 1000 - p.len() as i64)
}

pub(crate) fn find_files(
    root: &Root,
    query: &str,
    max_results: usize,
) -> Result<Vec<String>, AgentError> {
    let max = max_results.clamp(1, 1000);
    let root_path = root.path().to_path_buf();
    let mut scored: Vec<(i64, String)> = Vec::new();
    for entry in walker(root, "", &[], false)?.build().flatten() {
        if !entry.file_type().is_some_and(|t| t.is_file()) {
            continue;
        }
        let rel = entry
            .path()
            .strip_prefix(&root_path)
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        if let Some(s) = score(&rel, query) {
            scored.push((s, rel));
        }
    }
    scored.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    Ok(scored.into_iter().take(max).map(|(_, p)| p).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quick_open_prefers_names_and_word_starts() {
        assert!(score("src/main.rs", "mrs").is_some());
        assert!(score("src/main.rs", "xyz").is_none());
        let a = score("src/server/main.rs", "main").expect("match");
        let b = score("docs/maintenance/notes.txt", "main").expect("match");
        assert!(a > b);
    }

    #[test]
    fn search_honours_gitignore_globs_case_and_caps() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join(".gitignore"), "target/\n").expect("w");
        std::fs::create_dir_all(dir.path().join("src")).expect("mkdir");
        std::fs::create_dir_all(dir.path().join("target")).expect("mkdir");
        std::fs::write(
            dir.path().join("src/a.rs"),
            "fn Alpha() {}\nlet alpha = 1;\n",
        )
        .expect("w");
        std::fs::write(dir.path().join("src/b.txt"), "alpha\n").expect("w");
        std::fs::write(dir.path().join("target/x.rs"), "alpha\n").expect("w");
        std::fs::write(dir.path().join("bin.dat"), b"alpha\0\x01\x02").expect("w");
        let root = Root::new(dir.path()).expect("root");
        let q = |query: &str| SearchQuery {
            query: query.into(),
            regex: false,
            case_sensitive: None,
            globs: vec![],
            path: String::new(),
            max_results: 100,
            include_ignored: false,
        };
        let r = search(&root, &q("alpha")).expect("search");
        let paths: Vec<_> = r
            .matches
            .iter()
            .map(|m| format!("{}:{}", m.path, m.line))
            .collect();
        assert_eq!(
            paths,
            vec!["src/a.rs:1", "src/a.rs:2", "src/b.txt:1"],
            "smart case, no ignored or binary"
        );
        let r = search(&root, &q("Alpha")).expect("search");
        assert_eq!(r.matches.len(), 1, "capitals make it case sensitive");
        let mut g = q("alpha");
        g.globs = vec!["*.rs".into()];
        assert_eq!(search(&root, &g).expect("search").matches.len(), 2);
        let mut r = q("a.pha");
        r.regex = true;
        assert_eq!(search(&root, &r).expect("search").matches.len(), 3);
        let mut capped = q("alpha");
        capped.max_results = 1;
        let res = search(&root, &capped).expect("search");
        assert_eq!(res.matches.len(), 1);
        assert!(res.truncated);
        let mut bad = q("(");
        bad.regex = true;
        assert_eq!(
            search(&root, &bad).expect_err("bad regex").code,
            ErrorCode::Invalid
        );
        assert_eq!(
            find_files(&root, "ars", 10).expect("find"),
            vec!["src/a.rs"]
        );
    }
}
