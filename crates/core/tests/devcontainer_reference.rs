//! Fidelity: for every configuration in `tests/devcontainer-corpus`, the
//! server's reading ([`devcontainer::parse`], with its local features'
//! requirements merged in, shown as [`devcontainer::reference::merged`])
//! equals the merged configuration of
//! the reference implementation, `@devcontainers/cli read-configuration
//! --include-merged-configuration` (installed by scripts/devcontainer-cli.sh,
//! run against the real engine, which it asks for the images' metadata).
//!
//! Two differences are by design and normalised here, not hidden: the
//! reference keeps a build's paths as written (relative to the file), the
//! server resolves them; and without `workspaceFolder` the reference would
//! mount the repository at `/workspaces/NAME`, while the server's repository
//! is where it was cloned. How the reference writes "not set" (`{}`, and
//! the starting values of its merge of `hostRequirements`) counts as absent.

use aicockpit_core::devcontainer::{self, features, reference, Vars, CONFIG_PATHS};
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/devcontainer-corpus")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read corpus") {
        let e = e.expect("entry");
        let dest = to.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), &dest).expect("copy");
        }
    }
}

/// The reference's `mergedConfiguration` for the repository at `dir`.
fn reference_reading(dir: &Path) -> Value {
    let cli = std::env::var("AICOCKPIT_TEST_DEVCONTAINER_CLI")
        .expect("AICOCKPIT_TEST_DEVCONTAINER_CLI (scripts/devcontainer-cli.sh prints it)");
    // A clean environment: `${localEnv:…}` must find nothing, as on the
    // server, where it never reads the server's environment.
    let mut cmd = Command::new(cli);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir.parent().expect("parent"))
        .args(["read-configuration", "--include-merged-configuration"])
        .arg("--workspace-folder")
        .arg(dir);
    if let Ok(host) = std::env::var("DOCKER_HOST") {
        cmd.env("DOCKER_HOST", host);
    }
    let out = cmd.output().expect("run the reference CLI");
    assert!(
        out.status.success(),
        "reference failed on {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("reference prints JSON");
    v.get("mergedConfiguration")
        .cloned()
        .expect("mergedConfiguration")
}

/// `rel` against `base`, with `.` and `..` resolved.
fn resolve(base: &Path, rel: &str) -> String {
    let mut parts: Vec<String> = Vec::new();
    for c in base.join(rel).components() {
        match c {
            std::path::Component::ParentDir => {
                parts.pop();
            }
            std::path::Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            _ => {}
        }
    }
    format!("/{}", parts.join("/"))
}

/// Docker's `--mount` string as an object.
fn mount_object(m: &Value) -> Value {
    let Value::String(s) = m else {
        return m.clone();
    };
    let mut o = Map::new();
    for part in s.split(',') {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        let k = match k {
            "src" => "source",
            "dst" | "destination" => "target",
            k => k,
        };
        o.insert(k.to_owned(), json!(v));
    }
    Value::Object(o)
}

/// The reference's reading with its paths resolved and mounts as objects.
fn normalised(mut merged: Value, config_dir: &Path) -> Value {
    let obj = merged.as_object_mut().expect("object");
    let legacy = obj
        .remove("dockerFile")
        .map(|f| json!({"dockerfile": f, "context": obj.remove("context")}));
    if let Some(Value::Object(b)) = obj.remove("build").or(legacy) {
        let context = b.get("context").and_then(Value::as_str).unwrap_or(".");
        let file = b
            .get("dockerfile")
            .and_then(Value::as_str)
            .expect("build.dockerfile");
        obj.insert(
            "build".into(),
            json!({
                "context": resolve(config_dir, context),
                "dockerfile": resolve(config_dir, file),
                "args": b.get("args").cloned().unwrap_or(json!({})),
                "target": b.get("target").cloned().unwrap_or(Value::Null),
            }),
        );
    }
    if let Some(Value::Array(m)) = obj.get_mut("mounts") {
        for x in m.iter_mut() {
            *x = mount_object(x);
        }
    }
    // The reference merges the file with the image's metadata by taking the
    // largest of each requirement, so one nobody set reads as its starting
    // value (null, 0 or "-Infinity"); and maps nobody set read as `{}`.
    if let Some(Value::Object(h)) = obj.get_mut("hostRequirements") {
        h.retain(|_, v| !matches!(v, Value::Null) && v != &json!(0) && v != &json!("-Infinity"));
    }
    obj.retain(|_, v| v != &json!({}));
    merged
}

/// `c` with its local features' requirements merged in, as the server
/// does before it builds (their descriptions read from the case's folder
/// rather than through the engine).
fn with_local_features(
    mut c: devcontainer::DevContainer,
    config_dir: &Path,
) -> Result<devcontainer::DevContainer, devcontainer::ConfigError> {
    let mut metas = Vec::new();
    for r in &c.features {
        let text =
            std::fs::read_to_string(config_dir.join(&r.folder).join("devcontainer-feature.json"))
                .expect("a local feature of the case");
        metas.push(features::parse_meta(&text, &format!("./{}", r.folder))?);
    }
    features::merge_requirements(&mut c, &metas)?;
    Ok(c)
}

#[test]
fn the_server_reads_every_corpus_configuration_as_the_reference_does() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .expect("corpus")
        .map(|e| e.expect("entry").path())
        .collect();
    cases.sort();
    assert!(cases.len() >= 6, "the corpus is there");
    let mut failures = Vec::new();
    for case in &cases {
        let name = case
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let dir = scratch.path().join(&name);
        copy_dir(case, &dir);
        let root = dir.to_string_lossy().into_owned();
        let path = CONFIG_PATHS
            .iter()
            .find(|p| dir.join(p).is_file())
            .expect("a configuration in the case");
        let text = std::fs::read_to_string(dir.join(path)).expect("read");
        let vars = Vars {
            workspace_folder: root.clone(),
            container_workspace_folder: root.clone(),
            // The reference leaves it for when a container exists.
            devcontainer_id: "${devcontainerId}".into(),
            container_env: None,
        };
        let config_dir = dir.join(path).parent().expect("dir").to_path_buf();
        let ours = match devcontainer::parse(&text, path, &vars)
            .and_then(|c| with_local_features(c, &config_dir))
        {
            Ok(c) => reference::merged(&c),
            Err(e) => {
                failures.push(format!("{name}: the server refused it: {e}"));
                continue;
            }
        };
        let theirs = normalised(reference_reading(&dir), &config_dir);
        for key in reference::COMPARED {
            let (mine, ref_value) = (ours.get(key), theirs.get(key));
            if key == "workspaceFolder" && ref_value.is_none() {
                // Not in the file: the server's is the repository's folder.
                if mine != Some(&json!(root)) {
                    failures.push(format!("{name}: default workspaceFolder is {mine:?}"));
                }
                continue;
            }
            if mine != ref_value {
                failures.push(format!(
                    "{name}: {key}\n  server:    {}\n  reference: {}",
                    mine.map(Value::to_string).unwrap_or("(none)".into()),
                    ref_value.map(Value::to_string).unwrap_or("(none)".into()),
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} difference(s) from the reference:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
