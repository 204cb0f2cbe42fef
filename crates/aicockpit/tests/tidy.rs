//! Tidy checks over the source tree: rules of the codebase that no compiler
//! enforces. Each names the rule and the files that break it.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every file under `dir` (recursively) whose name ends with one of `exts`.
fn files(dir: &Path, exts: &[&str]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if p.is_dir() {
                if !matches!(name.as_str(), "target" | "node_modules" | "dist") {
                    stack.push(p);
                }
            } else if exts.iter().any(|x| name.ends_with(x)) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

fn rel(p: &Path) -> String {
    p.strip_prefix(root())
        .unwrap_or(p)
        .to_string_lossy()
        .into_owned()
}

#[test]
fn every_rust_module_says_what_it_holds() {
    let missing: Vec<String> = files(&root().join("crates"), &[".rs"])
        .into_iter()
        .filter(|p| {
            let text = read(p);
            let first = text
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty() && !l.starts_with("#!["));
            !first.is_some_and(|l| l.starts_with("//!"))
        })
        .map(|p| rel(&p))
        .collect();
    assert!(
        missing.is_empty(),
        "modules without a `//!` line: {missing:#?}"
    );
}

#[test]
fn every_migration_exists_for_both_databases() {
    let dir = root().join("crates/store/migrations");
    let names = |backend: &str| -> Vec<String> {
        files(&dir.join(backend), &[".sql"])
            .iter()
            .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect()
    };
    let (sqlite, postgres) = (names("sqlite"), names("postgres"));
    assert!(
        !sqlite.is_empty(),
        "no migrations found under {}",
        dir.display()
    );
    assert_eq!(
        sqlite, postgres,
        "each schema change adds one file to both backends"
    );
}

/// Rules of the form "only these files may contain this".
fn only_in(dir: &str, exts: &[&str], needles: &[&str], allowed: &[&str]) -> Vec<String> {
    files(&root().join(dir), exts)
        .into_iter()
        .filter(|p| {
            let r = rel(p);
            !allowed.iter().any(|a| r.starts_with(a)) && needles.iter().any(|n| read(p).contains(n))
        })
        .map(|p| rel(&p))
        .collect()
}

#[test]
fn access_is_decided_in_one_place() {
    let offenders = only_in(
        "crates",
        &[".rs"],
        &["Role::Admin =>", "== Role::", "!= Role::", "is_admin()"],
        &[
            "crates/core/src/access.rs",
            "crates/core/src/auth.rs",
            "crates/aicockpit/tests/",
        ],
    );
    assert!(
        offenders.is_empty(),
        "roles compared outside core::access: {offenders:#?}"
    );
}

#[test]
fn the_web_app_reaches_the_api_through_its_client_modules() {
    let fetching = only_in(
        "web/src",
        &[".ts", ".tsx"],
        &[
            "fetch(",
            "'/api/v1",
            "`/api/v1",
            "\"/api/v1",
            "'/v1/",
            "`/v1/",
        ],
        &["web/src/api/"],
    );
    assert!(
        fetching.is_empty(),
        "API calls outside web/src/api: {fetching:#?}"
    );
    let sse = only_in(
        "web/src",
        &[".ts", ".tsx"],
        &[
            "'data:'",
            "\"data:\"",
            "startsWith('data:",
            "text/event-stream",
        ],
        &["web/src/api/sse.ts", "web/src/api/schema.d.ts"],
    );
    assert!(
        sse.is_empty(),
        "SSE parsed outside web/src/api/sse.ts: {sse:#?}"
    );
}
