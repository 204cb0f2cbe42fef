//! A project's `devcontainer.json`, read into what this server does with
//! it. Pure: the text comes in (at most [`MAX_CONFIG_BYTES`], from the
//! workspace, so untrusted), a [`DevContainer`] or an error naming the
//! property comes out; applying it is `workspaces::devcontainer`.
//!
//! The file is JSON with comments and trailing commas, parsed by
//! `jsonc-parser` into a `serde_json::Value`, then interpreted property by
//! property so that every refusal names what it refuses. What would weaken
//! the workspace's isolation (`privileged`, `capAdd`, `securityOpt`,
//! `runArgs`, host bind mounts, `appPort`, `workspaceMount`) is refused
//! with a message naming the property.

mod dockerfile;
pub mod features;
mod lifecycle;
pub mod reference;
mod run_args;
mod vars;

pub use dockerfile::check_bases;
pub use lifecycle::{Command, Lifecycle, LIFECYCLE_ORDER};
pub use vars::{substitute, Vars};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Where a repository's configuration is looked for, in order.
pub const CONFIG_PATHS: [&str; 2] = [".devcontainer/devcontainer.json", ".devcontainer.json"];
/// The largest configuration read.
pub const MAX_CONFIG_BYTES: u64 = 256 * 1024;
/// At most this many `{` and `[` in the text: a bound on nesting that
/// needs no parser of its own (a real configuration has a few dozen).
const MAX_OPENINGS: usize = 512;
/// Named volumes of one workspace.
const MAX_MOUNTS: usize = 8;

/// What the workspace's image comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ImageSource {
    /// An image reference, pulled when missing.
    Image(String),
    /// Built by the engine from a directory of the repository.
    Build {
        /// Absolute, inside the repository.
        context_dir: String,
        /// Relative to the context.
        dockerfile: String,
        args: BTreeMap<String, String>,
        target: Option<String>,
    },
}

/// A port's attributes (`portsAttributes`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PortAttributes {
    pub label: Option<String>,
    /// `notify`, `openBrowser`, `openBrowserOnce`, `openPreview`, `silent`
    /// or `ignore`.
    pub on_auto_forward: Option<String>,
}

/// A named volume mounted into the workspace (`mounts`). The engine's
/// volume is the workspace's own (named after it): the same `source` in
/// two workspaces is two volumes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeMount {
    pub source: String,
    pub target: String,
}

/// The configuration, interpreted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DevContainer {
    /// Where it was found, relative to the repository.
    pub path: String,
    pub name: Option<String>,
    pub image: ImageSource,
    pub container_env: BTreeMap<String, String>,
    /// Values may still name `${containerEnv:…}`, resolved once the
    /// container runs; `None` unsets the variable.
    pub remote_env: BTreeMap<String, Option<String>>,
    pub remote_user: Option<String>,
    pub container_user: Option<String>,
    pub workspace_folder: String,
    pub forward_ports: Vec<u16>,
    pub ports_attributes: BTreeMap<u16, PortAttributes>,
    pub lifecycle: Lifecycle,
    pub cpus: Option<f64>,
    pub memory_mb: Option<i64>,
    pub mounts: Vec<VolumeMount>,
    /// `capAdd`, as capability names without `CAP_` (whether this server
    /// allows them is [`check_cap_add`]'s to say).
    #[serde(default)]
    pub cap_add: Vec<String>,
    /// Features from folders next to the configuration, to install.
    #[serde(default)]
    pub features: Vec<features::FeatureRef>,
    /// Properties read but not acted on, with why (shown in the setup log).
    pub notes: Vec<String>,
}

/// Why a configuration is not used.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    /// The property at fault (`""` for the file as a whole).
    pub property: String,
    pub message: String,
    /// A refusal to weaken isolation (not a mistake in the file).
    pub refused: bool,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.property.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.property, self.message)
        }
    }
}

fn bad(property: &str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        property: property.to_owned(),
        message: message.into(),
        refused: false,
    }
}

fn refuse(property: &str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        property: property.to_owned(),
        message: message.into(),
        refused: true,
    }
}

/// Parses `text` (found at `path`, relative to the repository at
/// `vars.workspace_folder`).
pub fn parse(text: &str, path: &str, vars: &Vars) -> Result<DevContainer, ConfigError> {
    let root = parse_jsonc(text)?;
    let Value::Object(mut obj) = root else {
        return Err(bad("", "the configuration must be a JSON object"));
    };
    // `${containerWorkspaceFolder}` is `workspaceFolder` as written (with
    // the other variables in it replaced), as the reference reads it.
    let mut vars = vars.clone();
    vars.container_workspace_folder = vars.workspace_folder.clone();
    if let Some(Value::String(w)) = obj.get("workspaceFolder") {
        vars.container_workspace_folder = substitute(w, &vars);
        // Substituted once: `${containerWorkspaceFolder}` in it is itself.
        obj.insert(
            "workspaceFolder".into(),
            Value::String(vars.container_workspace_folder.clone()),
        );
    }
    // Variables next, everywhere: what follows sees the values.
    for v in obj.values_mut() {
        vars::substitute_all(v, &vars);
    }
    let mut notes = Vec::new();
    if text.contains("${localEnv:") {
        notes.push("${localEnv:…} is its default or empty here: \"local\" would be the server, whose environment is not given to workspaces (use containerEnv, or a git credential for tokens)".into());
    }
    check_isolation(&obj)?;
    refuse_unsupported(&obj)?;
    note_ignored(&obj, &mut notes);
    let config_dir = parent_of(&vars.workspace_folder, path);
    let image = image_source(&obj, &config_dir, &vars.workspace_folder)?;
    let workspace_folder = match obj.get("workspaceFolder") {
        None | Some(Value::Null) => vars.workspace_folder.clone(),
        Some(Value::String(s)) if s.starts_with('/') && !s.contains('\0') && s.len() <= 1024 => {
            s.clone()
        }
        Some(_) => return Err(bad("workspaceFolder", "must be an absolute path")),
    };
    let (cpus, memory_mb) = host_requirements(obj.get("hostRequirements"), &mut notes)?;
    let run = match obj.get("runArgs") {
        None | Some(Value::Null) => run_args::RunArgs::default(),
        Some(v) => run_args::read(
            &string_list(v).ok_or_else(|| bad("runArgs", "must be an array of strings"))?,
        )?,
    };
    notes.extend(run.notes);
    // `--cap-add` is capAdd by another name, and is checked as capAdd is.
    let mut caps = cap_add(obj.get("capAdd"))?;
    let run_caps = Value::Array(run.cap_add.into_iter().map(Value::String).collect());
    for c in cap_add(Some(&run_caps))? {
        if !caps.contains(&c) {
            caps.push(c);
        }
    }
    let mut container_env = env_map(&obj, "containerEnv")?;
    for (k, v) in run.env {
        container_env.entry(k).or_insert(v);
    }
    crate::workspaces::validate::env(&container_env).map_err(|m| bad("runArgs", m))?;
    Ok(DevContainer {
        path: path.to_owned(),
        name: opt_string(&obj, "name")?,
        image,
        container_env,
        remote_env: remote_env(&obj)?,
        remote_user: user(&obj, "remoteUser")?,
        container_user: user(&obj, "containerUser")?,
        workspace_folder,
        forward_ports: forward_ports(obj.get("forwardPorts"), &mut notes)?,
        ports_attributes: ports_attributes(obj.get("portsAttributes"))?,
        lifecycle: Lifecycle::from_config(&obj)?,
        cpus,
        memory_mb,
        mounts: mounts(obj.get("mounts"))?,
        cap_add: caps,
        features: features::feature_refs(obj.get("features"))?,
        notes,
    })
}

fn parse_jsonc(text: &str) -> Result<Value, ConfigError> {
    if text.len() as u64 > MAX_CONFIG_BYTES {
        return Err(bad(
            "",
            format!("the file is larger than {} KiB", MAX_CONFIG_BYTES / 1024),
        ));
    }
    let openings = text.bytes().filter(|b| matches!(b, b'{' | b'[')).count();
    if openings > MAX_OPENINGS {
        return Err(bad(
            "",
            format!("the file has more than {MAX_OPENINGS} objects and arrays"),
        ));
    }
    let opts = jsonc_parser::ParseOptions {
        allow_comments: true,
        allow_trailing_commas: true,
        allow_loose_object_property_names: false,
        allow_missing_commas: false,
        allow_single_quoted_strings: false,
        allow_hexadecimal_numbers: false,
        ..Default::default()
    };
    jsonc_parser::parse_to_serde_value::<Value>(text, &opts)
        .map_err(|e| bad("", format!("not valid JSON with comments: {e}")))
}

/// The directory a configuration at `path` (relative) sits in.
fn parent_of(root: &str, path: &str) -> String {
    match path.rsplit_once('/') {
        Some((dir, _)) => format!("{}/{dir}", root.trim_end_matches('/')),
        None => root.to_owned(),
    }
}

fn check_isolation(obj: &Map<String, Value>) -> Result<(), ConfigError> {
    if obj
        .get("privileged")
        .is_some_and(|v| v != &Value::Bool(false))
    {
        return Err(refuse(
            "privileged",
            "a privileged container would have the host's devices and every capability; this server does not allow it",
        ));
    }
    if non_empty(obj.get("securityOpt")) {
        return Err(refuse(
            "securityOpt",
            "changed security options weaken the workspace's isolation; this server does not allow them",
        ));
    }
    if non_empty(obj.get("appPort")) {
        return Err(refuse(
            "appPort",
            "appPort publishes ports on the server's host; use forwardPorts, which the server previews with access checks",
        ));
    }
    if obj.contains_key("workspaceMount") {
        return Err(refuse(
            "workspaceMount",
            "the repository is mounted at the workspace's data directory; host bind mounts are not allowed",
        ));
    }
    Ok(())
}

fn refuse_unsupported(obj: &Map<String, Value>) -> Result<(), ConfigError> {
    if obj.contains_key("dockerComposeFile") {
        return Err(bad(
            "dockerComposeFile",
            "Docker Compose configurations are not supported; use image or build",
        ));
    }
    Ok(())
}

/// Properties with no effect here, said in the log rather than refused.
fn note_ignored(obj: &Map<String, Value>, notes: &mut Vec<String>) {
    for (prop, why) in [
        (
            "customizations",
            "tool-specific settings are for the tools that read them",
        ),
        ("shutdownAction", "workspaces stop when idle or when asked"),
        ("overrideCommand", "the workspace's own init always runs"),
        (
            "updateRemoteUserUID",
            "the image's user ids are used as they are",
        ),
        (
            "userEnvProbe",
            "the environment is the container's plus remoteEnv",
        ),
        ("otherPortsAttributes", "only listed ports carry attributes"),
        (
            "waitFor",
            "every lifecycle command finishes before the workspace is ready",
        ),
        ("initializeCommand", "nothing runs on the server's host"),
    ] {
        if obj.contains_key(prop) {
            notes.push(format!("{prop} is not used: {why}"));
        }
    }
}

fn image_source(
    obj: &Map<String, Value>,
    config_dir: &str,
    root: &str,
) -> Result<ImageSource, ConfigError> {
    let build = match obj.get("build") {
        Some(Value::Object(b)) => Some(b),
        Some(Value::Null) | None => None,
        Some(_) => return Err(bad("build", "must be an object")),
    };
    // The older top-level spelling.
    let legacy = obj.get("dockerFile").or(obj.get("dockerfile"));
    let dockerfile = match (&build, legacy) {
        (Some(b), _) if b.contains_key("dockerfile") || b.contains_key("dockerFile") => Some((
            "build.dockerfile",
            b.get("dockerfile").or(b.get("dockerFile")),
        )),
        (_, Some(v)) => Some(("dockerFile", Some(v))),
        _ => None,
    };
    match (obj.get("image"), dockerfile) {
        (Some(_), Some(_)) => Err(bad(
            "image",
            "give either image or build.dockerfile, not both",
        )),
        (Some(Value::String(i)), None) => {
            crate::workspaces::validate::image(i).map_err(|m| bad("image", m))?;
            Ok(ImageSource::Image(i.clone()))
        }
        (Some(_), None) => Err(bad("image", "must be a string")),
        (None, None) => Err(bad(
            "",
            "the configuration names neither image nor build.dockerfile",
        )),
        (None, Some((prop, v))) => {
            let Some(Value::String(file)) = v else {
                return Err(bad(prop, "must be a string"));
            };
            let empty = Map::new();
            let b = build.unwrap_or(&empty);
            let context = match b.get("context").or(obj.get("context")) {
                None => ".".to_owned(),
                Some(Value::String(c)) => c.clone(),
                Some(_) => return Err(bad("build.context", "must be a string")),
            };
            let context_dir = within(root, &join(config_dir, &context))
                .ok_or_else(|| bad("build.context", "must be inside the repository"))?;
            let file_abs = within(root, &join(config_dir, file))
                .ok_or_else(|| bad(prop, "must be inside the repository"))?;
            let dockerfile = relative_to(&context_dir, &file_abs)
                .ok_or_else(|| bad(prop, "must be inside the build context"))?;
            let args = match b.get("args") {
                None | Some(Value::Null) => BTreeMap::new(),
                Some(Value::Object(m)) => {
                    let mut out = BTreeMap::new();
                    for (k, v) in m {
                        let Value::String(s) = v else {
                            return Err(bad("build.args", format!("{k} must be a string")));
                        };
                        let name_ok = k.len() <= 128
                            && k.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                            && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
                        if !name_ok || s.contains('\0') || s.len() > 4096 {
                            return Err(bad(
                                "build.args",
                                format!(
                                    "{k:?} must be an argument name with a value of at most 4 KiB"
                                ),
                            ));
                        }
                        out.insert(k.clone(), s.clone());
                    }
                    out
                }
                Some(_) => return Err(bad("build.args", "must be an object of strings")),
            };
            let target = match b.get("target") {
                None | Some(Value::Null) => None,
                Some(Value::String(t)) if valid_word(t) => Some(t.clone()),
                Some(_) => return Err(bad("build.target", "must be a stage name")),
            };
            if b.contains_key("options") {
                return Err(refuse(
                    "build.options",
                    "engine build flags are not passed on; they can change what the build may reach",
                ));
            }
            Ok(ImageSource::Build {
                context_dir,
                dockerfile,
                args,
                target,
            })
        }
    }
}

fn valid_word(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// `base/rel` (or `rel` when absolute), with `.` and `..` resolved.
fn join(base: &str, rel: &str) -> String {
    let joined = if rel.starts_with('/') {
        rel.to_owned()
    } else {
        format!("{base}/{rel}")
    };
    let mut parts: Vec<&str> = Vec::new();
    for p in joined.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

/// `path` when it is `root` or below it.
fn within(root: &str, path: &str) -> Option<String> {
    let root = root.trim_end_matches('/');
    (path == root || path.starts_with(&format!("{root}/"))).then(|| path.to_owned())
}

fn relative_to(dir: &str, path: &str) -> Option<String> {
    let rest = path.strip_prefix(dir)?.strip_prefix('/')?;
    (!rest.is_empty()).then(|| rest.to_owned())
}

fn non_empty(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Bool(b)) => *b,
        Some(_) => true,
    }
}

fn string_list(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::Array(a) => a.iter().map(|x| x.as_str().map(str::to_owned)).collect(),
        _ => None,
    }
}

fn opt_string(obj: &Map<String, Value>, prop: &str) -> Result<Option<String>, ConfigError> {
    match obj.get(prop) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.len() <= 256 => Ok(Some(s.clone())),
        Some(_) => Err(bad(prop, "must be a string of at most 256 bytes")),
    }
}

fn user(obj: &Map<String, Value>, prop: &str) -> Result<Option<String>, ConfigError> {
    let u = opt_string(obj, prop)?;
    if let Some(u) = &u {
        let ok = !u.is_empty()
            && u.len() <= 64
            && u.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'));
        if !ok {
            return Err(bad(prop, "must be a user name or uid[:gid]"));
        }
    }
    Ok(u)
}

fn env_map(obj: &Map<String, Value>, prop: &str) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut out = BTreeMap::new();
    for (k, v) in env_entries(obj, prop)? {
        match v {
            Some(v) => out.insert(k, v),
            None => return Err(bad(prop, format!("{k} must be a string"))),
        };
    }
    crate::workspaces::validate::env(&out).map_err(|m| bad(prop, m))?;
    Ok(out)
}

/// `remoteEnv`, where `null` unsets a variable the container has.
fn remote_env(obj: &Map<String, Value>) -> Result<BTreeMap<String, Option<String>>, ConfigError> {
    let entries = env_entries(obj, "remoteEnv")?;
    let set: BTreeMap<String, String> = entries
        .iter()
        .map(|(k, v)| (k.clone(), v.clone().unwrap_or_default()))
        .collect();
    crate::workspaces::validate::env(&set).map_err(|m| bad("remoteEnv", m))?;
    Ok(entries)
}

/// An object of strings (or `null`s).
fn env_entries(
    obj: &Map<String, Value>,
    prop: &str,
) -> Result<BTreeMap<String, Option<String>>, ConfigError> {
    let mut out = BTreeMap::new();
    match obj.get(prop) {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            for (k, v) in m {
                let value = match v {
                    Value::String(s) => Some(s.clone()),
                    Value::Null => None,
                    _ => return Err(bad(prop, format!("{k} must be a string"))),
                };
                out.insert(k.clone(), value);
            }
        }
        Some(_) => return Err(bad(prop, "must be an object of strings")),
    }
    Ok(out)
}

fn forward_ports(v: Option<&Value>, notes: &mut Vec<String>) -> Result<Vec<u16>, ConfigError> {
    let mut out = Vec::new();
    let Some(v) = v else { return Ok(out) };
    let Value::Array(items) = v else {
        return Err(bad("forwardPorts", "must be an array"));
    };
    for item in items {
        let port = match item {
            Value::Number(n) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
            // "host:port" names another service's port; "localhost:N" is ours.
            Value::String(s) => match s.rsplit_once(':') {
                Some(("localhost" | "127.0.0.1", p)) => p.parse::<u16>().ok(),
                Some((host, _)) => {
                    notes.push(format!(
                        "forwardPorts {s:?} is not previewed: it names the host {host:?}, not the workspace"
                    ));
                    continue;
                }
                None => s.parse::<u16>().ok(),
            },
            _ => None,
        };
        match port {
            Some(p) if p > 0 => {
                if !out.contains(&p) {
                    out.push(p);
                }
            }
            _ => return Err(bad("forwardPorts", format!("{item} is not a port"))),
        }
    }
    Ok(out)
}

fn ports_attributes(v: Option<&Value>) -> Result<BTreeMap<u16, PortAttributes>, ConfigError> {
    let mut out = BTreeMap::new();
    let Some(v) = v else { return Ok(out) };
    let Value::Object(m) = v else {
        return Err(bad("portsAttributes", "must be an object"));
    };
    for (key, attrs) in m {
        let Value::Object(a) = attrs else {
            return Err(bad("portsAttributes", format!("{key} must be an object")));
        };
        let label = match a.get("label") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.len() <= 128 => Some(s.clone()),
            Some(_) => {
                return Err(bad(
                    "portsAttributes",
                    format!("{key}.label must be a string of at most 128 bytes"),
                ))
            }
        };
        let on_auto_forward = match a.get("onAutoForward") {
            None | Some(Value::Null) => None,
            Some(Value::String(s))
                if matches!(
                    s.as_str(),
                    "notify" | "openBrowser" | "openBrowserOnce" | "openPreview" | "silent" | "ignore"
                ) =>
            {
                Some(s.clone())
            }
            Some(_) => {
                return Err(bad(
                    "portsAttributes",
                    format!("{key}.onAutoForward must be notify, openBrowser, openBrowserOnce, openPreview, silent or ignore"),
                ))
            }
        };
        let attrs = PortAttributes {
            label,
            on_auto_forward,
        };
        // Keys may be a port, a range ("3000-3005") or a pattern; ports and
        // small ranges are taken, patterns are not matched.
        match key.split_once('-') {
            None => {
                if let Ok(p) = key.parse::<u16>() {
                    out.insert(p, attrs);
                }
            }
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<u16>(), b.parse::<u16>()) {
                    if a <= b && b - a < 64 {
                        for p in a..=b {
                            out.insert(p, attrs.clone());
                        }
                    }
                }
            }
        }
    }
    Ok(out)
}

fn host_requirements(
    v: Option<&Value>,
    notes: &mut Vec<String>,
) -> Result<(Option<f64>, Option<i64>), ConfigError> {
    let Some(v) = v else { return Ok((None, None)) };
    let Value::Object(m) = v else {
        return Err(bad("hostRequirements", "must be an object"));
    };
    let cpus = match m.get("cpus") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => match n.as_f64() {
            Some(c) if c > 0.0 && c <= 1024.0 => Some(c),
            _ => return Err(bad("hostRequirements.cpus", "must be a positive number")),
        },
        Some(_) => return Err(bad("hostRequirements.cpus", "must be a number")),
    };
    let memory_mb = match m.get("memory") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            Some(size_mb(s).ok_or_else(|| bad("hostRequirements.memory", "must be like \"4gb\""))?)
        }
        Some(_) => {
            return Err(bad(
                "hostRequirements.memory",
                "must be a string like \"4gb\"",
            ))
        }
    };
    if m.contains_key("storage") {
        notes.push(
            "hostRequirements.storage is not reserved: workspaces share the engine's disk".into(),
        );
    }
    if m.contains_key("gpu") {
        notes.push("hostRequirements.gpu is not provided: workspaces have no GPU".into());
    }
    Ok((cpus, memory_mb))
}

/// `"4gb"`, `"512mb"`, `"1tb"`, `"2048kb"` in MiB (rounded up).
fn size_mb(s: &str) -> Option<i64> {
    let s = s.trim().to_ascii_lowercase();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().ok()?;
    let mb = match unit.trim() {
        "tb" => n * 1024.0 * 1024.0,
        "gb" => n * 1024.0,
        "mb" => n,
        "kb" => n / 1024.0,
        _ => return None,
    };
    (mb.is_finite() && mb > 0.0 && mb < 1e12).then(|| mb.ceil() as i64)
}

/// `capAdd` as names (`SYS_PTRACE`; `CAP_` and case dropped).
fn cap_add(v: Option<&Value>) -> Result<Vec<String>, ConfigError> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let list = string_list(v).ok_or_else(|| bad("capAdd", "must be an array of strings"))?;
    let mut out = Vec::new();
    for c in list {
        let upper = c.trim().to_ascii_uppercase();
        let name = upper.strip_prefix("CAP_").unwrap_or(&upper).to_owned();
        let ok = !name.is_empty()
            && name.len() <= 32
            && name.bytes().all(|b| b.is_ascii_uppercase() || b == b'_');
        if !ok {
            return Err(bad("capAdd", format!("{c:?} is not a capability")));
        }
        if !out.contains(&name) {
            out.push(name);
        }
    }
    Ok(out)
}

/// Whether `cap` (a name without `CAP_`) is on the administrators' list
/// (`workspaces.devcontainer_cap_add`, in any case, with or without `CAP_`).
pub fn cap_allowed(cap: &str, allowed: &[String]) -> bool {
    allowed.iter().any(|a| {
        let u = a.trim().to_ascii_uppercase();
        u.strip_prefix("CAP_").unwrap_or(&u) == cap
    })
}

/// Refuses every capability of `config` the server's administrators did
/// not list, naming the first.
pub fn check_cap_add(config: &DevContainer, allowed: &[String]) -> Result<(), ConfigError> {
    match config.cap_add.iter().find(|c| !cap_allowed(c, allowed)) {
        None => Ok(()),
        Some(c) => Err(refuse(
            "capAdd",
            format!(
                "{c} weakens the workspace's isolation and is not allowed on this server (an admin may allow it in workspaces.devcontainer_cap_add)"
            ),
        )),
    }
}

fn mounts(v: Option<&Value>) -> Result<Vec<VolumeMount>, ConfigError> {
    let mut out = Vec::new();
    let Some(v) = v else { return Ok(out) };
    let Value::Array(items) = v else {
        return Err(bad("mounts", "must be an array"));
    };
    for item in items {
        let (typ, source, target) = match item {
            Value::String(s) => mount_string(s)?,
            Value::Object(m) => (
                m.get("type")
                    .and_then(Value::as_str)
                    .unwrap_or("volume")
                    .to_owned(),
                m.get("source")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
                m.get("target")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
            ),
            _ => return Err(bad("mounts", "each mount must be a string or an object")),
        };
        match typ.as_str() {
            "volume" => {}
            "bind" => {
                return Err(refuse(
                    "mounts",
                    format!("{source:?} is a host bind mount; only named volumes are allowed"),
                ))
            }
            other => {
                return Err(bad(
                    "mounts",
                    format!("mount type {other:?} is not supported"),
                ))
            }
        }
        if !valid_word(&source) || source.contains("--") || source.len() > 64 {
            return Err(bad(
                "mounts",
                format!(
                    "{source:?} is not a volume name (letters, digits, -, _ and ., at most 64)"
                ),
            ));
        }
        let target = target.trim_end_matches('/').to_owned();
        if !target.starts_with('/')
            || target.split('/').any(|p| p == ".." || p == ".")
            || target.contains("//")
            || target.contains('\0')
            || target.len() > 1024
        {
            return Err(bad("mounts", format!("{target:?} is not an absolute path")));
        }
        // Not over the repository (or what holds it).
        let data = crate::workspaces::WORKSPACE_DIR;
        if data == target || data.starts_with(&format!("{target}/")) || target.is_empty() {
            return Err(bad(
                "mounts",
                format!("{target:?} would hide the repository in {data}"),
            ));
        }
        if !volume_place_allowed(&target) {
            return Err(refuse(
                "mounts",
                format!("{target:?}: a volume is given to the workspace user, so it may go only in a home (/home/NAME/…), under {data}, /tmp, /var/tmp, /var/cache, /mnt, /media or a new top-level folder — not where the system keeps its programs, configuration or the server's agent"),
            ));
        }
        if out
            .iter()
            .any(|m: &VolumeMount| m.target == target || m.source == source)
        {
            return Err(bad(
                "mounts",
                format!("{source:?} at {target:?}: each volume and each place once"),
            ));
        }
        if out.len() == MAX_MOUNTS {
            return Err(bad("mounts", format!("at most {MAX_MOUNTS} volumes")));
        }
        out.push(VolumeMount { source, target });
    }
    Ok(out)
}

/// Where a named volume may go: a new volume's root is given to the
/// workspace user, so only places that are the user's anyway (or new): a
/// folder in a home, under the workspace, scratch and cache places, or a
/// top-level folder the system does not use. Never `/etc`, `/usr`, `/root`,
/// the server's agent (`/.aicockpit`) and the like, which would let the
/// user change what runs as root or the AI's sandbox.
fn volume_place_allowed(target: &str) -> bool {
    const SYSTEM: [&str; 18] = [
        "bin",
        "boot",
        "dev",
        "etc",
        "lib",
        "lib32",
        "lib64",
        "libx32",
        "opt",
        "proc",
        "root",
        "run",
        "sbin",
        "srv",
        "sys",
        "usr",
        "var",
        ".aicockpit",
    ];
    let parts: Vec<&str> = target.trim_start_matches('/').split('/').collect();
    match parts.as_slice() {
        ["home", _name, ..] => true,
        ["home"] => false,
        ["var", "tmp" | "cache", ..] => true,
        ["tmp" | "mnt" | "media", ..] => true,
        [first, ..] if crate::workspaces::WORKSPACE_DIR.trim_start_matches('/') == *first => true,
        [first, ..] => !SYSTEM.contains(first) && !first.starts_with('.'),
        [] => false,
    }
}

/// Docker's `--mount` syntax: `type=volume,source=x,target=/y`.
fn mount_string(s: &str) -> Result<(String, String, String), ConfigError> {
    let (mut typ, mut source, mut target) = ("volume".to_owned(), String::new(), String::new());
    for part in s.split(',') {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        match k.trim() {
            "type" => typ = v.to_owned(),
            "source" | "src" => source = v.to_owned(),
            "target" | "destination" | "dst" => target = v.to_owned(),
            "consistency" | "readonly" | "ro" => {}
            other => {
                return Err(bad(
                    "mounts",
                    format!("mount option {other:?} is not supported"),
                ))
            }
        }
    }
    Ok((typ, source, target))
}

#[cfg(test)]
mod tests;
