//! Dev container features, from a folder of the repository (`"./name"`
//! keys of `features`) or from an OCI registry (`ghcr.io/…/node:1`),
//! installed as the spec says: each feature's `devcontainer-feature.json`
//! is read, its `install.sh` runs as root in an image layer on top of the
//! configuration's image with the options as environment variables (named
//! as the spec names them) and `_REMOTE_USER` & co., and its
//! `containerEnv` becomes the image's environment. Pure: the server reads
//! the files (or fetches them, `workspaces::feature_registry`) and builds;
//! this module interprets them and writes the Dockerfile. What would
//! weaken isolation is refused as in the configuration itself.

use super::{bad, refuse, ConfigError, VolumeMount};
use aicockpit_runtime::ContextFile;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// Features of one configuration.
pub const MAX_FEATURES: usize = 16;
/// The largest `devcontainer-feature.json` read.
pub const MAX_FEATURE_JSON: u64 = 64 * 1024;
/// Where features are copied in the image while they install.
const STAGE: &str = "/tmp/aicockpit-features";

/// A feature the configuration asks for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureRef {
    /// Its folder in the build context, which is the configuration's
    /// folder (`a/b`, no `..`); for a registry's feature, the folder the
    /// server puts its files in.
    pub folder: String,
    /// The options given, as strings (booleans as `true`/`false`).
    pub options: BTreeMap<String, String>,
    /// Where a registry's feature comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<OciRef>,
}

/// A feature in an OCI registry, as the spec names it:
/// `registry/namespace/id[:tag|@sha256:digest]` (tag `latest` when
/// neither is given).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OciRef {
    /// `host` or `host:port`.
    pub registry: String,
    pub repository: String,
    /// A tag, or `sha256:…`.
    pub reference: String,
}

impl OciRef {
    /// Reads `id` as a registry reference; `None` when it is not one.
    pub fn parse(id: &str) -> Option<OciRef> {
        if id.len() > 512 {
            return None;
        }
        let (registry, rest) = id.split_once('/')?;
        let host = registry.split(':').next().unwrap_or_default();
        let host_like = host == "localhost" || host.contains('.') || registry.contains(':');
        // DNS labels: letters, digits and inner hyphens, none empty.
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        };
        let host_ok = !host.is_empty()
            && host.len() <= 253
            && host.split('.').all(label_ok)
            && registry.split(':').nth(1).is_none_or(|port| {
                !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit())
            })
            && registry.matches(':').count() <= 1;
        if !host_like || !host_ok {
            return None;
        }
        let (repository, reference) = if let Some((repo, digest)) = rest.split_once('@') {
            let hex = digest.strip_prefix("sha256:")?;
            if hex.len() != 64 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
                return None;
            }
            (repo, digest.to_owned())
        } else {
            match rest.rsplit_once(':') {
                Some((repo, tag)) if !tag.contains('/') => (repo, tag.to_owned()),
                _ => (rest, "latest".to_owned()),
            }
        };
        let tag_ok = reference.starts_with("sha256:")
            || (reference.len() <= 128
                && !reference.starts_with(['.', '-'])
                && reference
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')));
        let component_ok = |c: &str| {
            let b = c.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|&x| {
                    x.is_ascii_lowercase() || x.is_ascii_digit() || matches!(x, b'.' | b'_' | b'-')
                })
                && !c.contains("..")
        };
        if !tag_ok || !repository.split('/').all(component_ok) {
            return None;
        }
        Some(OciRef {
            registry: registry.to_ascii_lowercase(),
            repository: repository.to_owned(),
            reference,
        })
    }

    /// The feature without its version (`ghcr.io/devcontainers/features/node`),
    /// as other features' `installsAfter` name it.
    pub fn key(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }
}

impl std::fmt::Display for OciRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sep = if self.reference.starts_with("sha256:") {
            '@'
        } else {
            ':'
        };
        write!(f, "{}{sep}{}", self.key(), self.reference)
    }
}

/// A feature's own description (`devcontainer-feature.json`), interpreted.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureMeta {
    pub id: String,
    /// Option names with their defaults.
    pub defaults: BTreeMap<String, String>,
    pub container_env: BTreeMap<String, String>,
    pub cap_add: Vec<String>,
    pub mounts: Vec<VolumeMount>,
    pub installs_after: Vec<String>,
    /// What it declares that is not acted on, said in the log.
    pub notes: Vec<String>,
    /// A registry's feature: its name without version ([`OciRef::key`]).
    pub origin: Option<String>,
    /// Its own lifecycle commands, run before the configuration's of the
    /// same kind.
    pub lifecycle: super::Lifecycle,
    /// Registry features it needs installed first (`dependsOn`), with
    /// their options; their folders are set when they are added.
    pub depends_on: Vec<FeatureRef>,
}

/// `dependsOn`: registry features with their options.
fn depends_on(v: Option<&Value>, prop: &str) -> Result<Vec<FeatureRef>, ConfigError> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let Value::Object(m) = v else {
        return Err(bad(prop, "dependsOn must be an object"));
    };
    if m.len() > MAX_FEATURES {
        return Err(bad(
            prop,
            format!("dependsOn names more than {MAX_FEATURES} features"),
        ));
    }
    m.iter()
        .map(|(id, options)| {
            let registry = OciRef::parse(id).ok_or_else(|| {
                bad(
                    prop,
                    format!("dependsOn {id}: a registry's feature (ghcr.io/…:1) is expected"),
                )
            })?;
            Ok(FeatureRef {
                folder: String::new(),
                options: options_given(id, options)?,
                registry: Some(registry),
            })
        })
        .collect()
}

/// `features` of the configuration: local folders only.
pub(super) fn feature_refs(v: Option<&Value>) -> Result<Vec<FeatureRef>, ConfigError> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let Value::Object(m) = v else {
        return Err(bad("features", "must be an object"));
    };
    if m.len() > MAX_FEATURES {
        return Err(bad("features", format!("at most {MAX_FEATURES} features")));
    }
    let mut out = Vec::new();
    for (n, (id, options)) in m.iter().enumerate() {
        let Some(rest) = id.strip_prefix("./") else {
            if id.starts_with("../") || id.starts_with('/') {
                return Err(bad(
                    "features",
                    format!("{id}: a feature's folder must be inside the configuration's folder"),
                ));
            }
            if id.starts_with("http://") || id.starts_with("https://") {
                return Err(bad("features", format!("{id}: features from a URL are not installed; name one in a registry (ghcr.io/…:1) or copy it into .devcontainer as \"./folder\"")));
            }
            let Some(registry) = OciRef::parse(id) else {
                return Err(bad("features", format!("{id}: a feature is a folder (\"./name\") or a registry's feature (\"ghcr.io/devcontainers/features/node:1\")")));
            };
            out.push(FeatureRef {
                // The spec's own name for where a fetched feature goes.
                folder: format!(".aicockpit-feature-{n}"),
                options: options_given(id, options)?,
                registry: Some(registry),
            });
            continue;
        };
        let folder = rest.trim_end_matches('/');
        // `.aicockpit-…` folders are where the server puts its own files.
        let ok = !folder.is_empty()
            && !folder.starts_with(".aicockpit-")
            && folder.len() <= 256
            && folder.split('/').all(|p| {
                !p.is_empty()
                    && p != "."
                    && p != ".."
                    && p.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            });
        if !ok {
            return Err(bad(
                "features",
                format!("{id}: a folder name of letters, digits, -, _ and . is expected"),
            ));
        }
        out.push(FeatureRef {
            folder: folder.to_owned(),
            options: options_given(id, options)?,
            registry: None,
        });
    }
    Ok(out)
}

fn options_given(id: &str, v: &Value) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut out = BTreeMap::new();
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                out.insert(
                    k.clone(),
                    scalar(v).ok_or_else(|| {
                        bad(
                            "features",
                            format!("{id}: option {k} must be a string, a boolean or a number"),
                        )
                    })?,
                );
            }
        }
        // The short form names the version.
        Value::String(s) => {
            out.insert("version".into(), s.clone());
        }
        Value::Bool(true) | Value::Null => {}
        _ => return Err(bad("features", format!("{id}: options must be an object"))),
    }
    if out
        .iter()
        .any(|(k, v)| k.len() > 128 || v.len() > 4096 || v.contains('\0'))
    {
        return Err(bad("features", format!("{id}: an option is too long")));
    }
    Ok(out)
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Reads a feature's `devcontainer-feature.json`; `name` is how the
/// configuration names the feature (`./folder`, `ghcr.io/…:1`).
pub fn parse_meta(text: &str, name: &str) -> Result<FeatureMeta, ConfigError> {
    let prop = format!("features {name}");
    let root = super::parse_jsonc(text).map_err(|e| bad(&prop, e.message))?;
    let Value::Object(obj) = root else {
        return Err(bad(&prop, "devcontainer-feature.json must be an object"));
    };
    let id = match obj.get("id") {
        Some(Value::String(s)) if super::valid_word(s) => s.clone(),
        _ => return Err(bad(&prop, "devcontainer-feature.json needs an id")),
    };
    if obj
        .get("privileged")
        .is_some_and(|v| v != &Value::Bool(false))
    {
        return Err(refuse(&prop, "privileged: the feature would make the container privileged; this server does not allow it"));
    }
    if super::non_empty(obj.get("securityOpt")) {
        return Err(refuse(
            &prop,
            "securityOpt: the feature changes security options; this server does not allow it",
        ));
    }
    let mut defaults = BTreeMap::new();
    if let Some(Value::Object(opts)) = obj.get("options") {
        for (name, o) in opts {
            let default = o.get("default").and_then(scalar).unwrap_or_default();
            defaults.insert(name.clone(), default);
        }
    }
    let mut container_env = BTreeMap::new();
    if let Some(v) = obj.get("containerEnv") {
        let Value::Object(m) = v else {
            return Err(bad(&prop, "containerEnv must be an object of strings"));
        };
        for (k, v) in m {
            let Some(v) = v.as_str() else {
                return Err(bad(&prop, format!("containerEnv {k} must be a string")));
            };
            let name_ok = !k.is_empty()
                && k.len() <= 128
                && !k.starts_with(|c: char| c.is_ascii_digit())
                && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !name_ok || v.len() > 4096 || v.chars().any(char::is_control) {
                return Err(bad(
                    &prop,
                    format!("containerEnv {k:?} is not a variable of at most 4 KiB on one line"),
                ));
            }
            container_env.insert(k.clone(), v.to_owned());
        }
    }
    let cap_add = super::cap_add(obj.get("capAdd")).map_err(|e| ConfigError {
        property: prop.clone(),
        ..e
    })?;
    let mounts = super::mounts(obj.get("mounts")).map_err(|e| ConfigError {
        property: prop.clone(),
        ..e
    })?;
    let ids = |key: &str| -> Vec<String> {
        match obj.get(key) {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect(),
            Some(Value::Object(m)) => m.keys().cloned().collect(),
            _ => Vec::new(),
        }
    };
    if ids("installsAfter").len() > MAX_FEATURES * 2 {
        return Err(bad(
            &prop,
            format!(
                "installsAfter names more than {} features",
                MAX_FEATURES * 2
            ),
        ));
    }
    let depends_on = depends_on(obj.get("dependsOn"), &prop)?;
    let lifecycle = super::Lifecycle::from_config(&obj).map_err(|e| ConfigError {
        property: format!("{prop}: {}", e.property),
        ..e
    })?;
    let mut notes = Vec::new();
    for (key, why) in [
        ("entrypoint", "the workspace's own init runs instead"),
        (
            "customizations",
            "tool-specific settings are for the tools that read them",
        ),
    ] {
        if obj.contains_key(key) {
            notes.push(format!("feature {id}: {key} is not used: {why}"));
        }
    }
    Ok(FeatureMeta {
        id,
        defaults,
        container_env,
        cap_add,
        mounts,
        installs_after: ids("installsAfter"),
        notes,
        origin: None,
        lifecycle,
        depends_on,
    })
}

/// The environment variable an option is given as: what is not a word
/// character becomes `_`, a leading run of digits and `_` becomes one
/// `_`, and it is upper-cased (the spec's rule).
pub fn option_variable(name: &str) -> String {
    let replaced: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let trimmed = replaced.trim_start_matches(|c: char| c.is_ascii_digit() || c == '_');
    let lead = if trimmed.len() < replaced.len() {
        "_"
    } else {
        ""
    };
    format!("{lead}{trimmed}").to_ascii_uppercase()
}

/// Order to install in: as listed, except that a feature named in another's
/// `installsAfter` goes first (by its id, or a registry's feature by its
/// name with any version).
pub fn install_order(metas: &[FeatureMeta]) -> Vec<usize> {
    // Each `installsAfter` entry read once: (as written, without version).
    let afters: Vec<Vec<(&str, Option<String>)>> = metas
        .iter()
        .map(|m| {
            m.installs_after
                .iter()
                .map(|a| (a.as_str(), OciRef::parse(a).map(|r| r.key())))
                .collect()
        })
        .collect();
    let names = |m: &FeatureMeta, (after, unversioned): &(&str, Option<String>)| {
        m.id == *after || (m.origin.is_some() && m.origin == *unversioned)
    };
    // A feature waits for what it must come after and what it depends on.
    let afters: Vec<Vec<(&str, Option<String>)>> = afters
        .into_iter()
        .zip(metas)
        .map(|(mut a, m)| {
            a.extend(
                m.depends_on
                    .iter()
                    .filter_map(|d| d.registry.as_ref())
                    .map(|r| ("", Some(r.key()))),
            );
            a
        })
        .collect();
    let mut order: Vec<usize> = Vec::new();
    let mut left: Vec<usize> = (0..metas.len()).collect();
    while !left.is_empty() {
        let ready = left.iter().position(|&i| {
            afters[i].iter().all(|after| {
                // Only features of this configuration hold one back.
                !left.iter().any(|&j| j != i && names(&metas[j], after))
            })
        });
        // A cycle: the rest as listed.
        let at = ready.unwrap_or(0);
        order.push(left.remove(at));
    }
    order
}

/// `'…'` for sh: nothing inside is special but `'`.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A value in a Dockerfile's `ENV K="…"`: `\` and `"` escaped; `${…}`
/// stays, so a feature's `PATH=/x:${PATH}` extends the image's.
fn env_quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', r"\\").replace('"', "\\\""))
}

/// Who the features install for (`_REMOTE_USER` & co.).
#[derive(Debug, Clone)]
pub struct Users {
    pub remote: String,
    pub container: String,
}

fn home_of(user: &str) -> String {
    if user == "root" || user == "0" {
        "/root".into()
    } else {
        format!("/home/{user}")
    }
}

/// The Dockerfile installing `features` (each with its meta) on `base`,
/// and the files it copies besides the features' folders (one sourced
/// environment per feature): (name, content). The features' folders are
/// copied from the build context, which is the configuration's folder.
pub fn dockerfile(
    base: &str,
    features: &[(FeatureRef, FeatureMeta)],
    users: &Users,
) -> (String, Vec<ContextFile>) {
    let metas: Vec<FeatureMeta> = features.iter().map(|(_, m)| m.clone()).collect();
    let mut text = format!("FROM {base}\nUSER root\n");
    let mut files = Vec::new();
    for (n, i) in install_order(&metas).into_iter().enumerate() {
        let (r, meta) = &features[i];
        let mut env = String::new();
        let mut options = meta.defaults.clone();
        for (k, v) in &r.options {
            options.insert(k.clone(), v.clone());
        }
        for (k, v) in &options {
            env.push_str(&format!("{}={}\n", option_variable(k), sh_quote(v)));
        }
        for (k, v) in [
            ("_REMOTE_USER", users.remote.clone()),
            ("_REMOTE_USER_HOME", home_of(&users.remote)),
            ("_CONTAINER_USER", users.container.clone()),
            ("_CONTAINER_USER_HOME", home_of(&users.container)),
        ] {
            env.push_str(&format!("{k}={}\n", sh_quote(&v)));
        }
        let env_name = format!(".aicockpit-feature-{n}.env");
        let dir = format!("{STAGE}/{n}");
        text.push_str(&format!(
            "COPY [\"{}/\", \"{dir}/\"]\nCOPY [\"{env_name}\", \"{dir}/devcontainer-features.env\"]\n",
            r.folder
        ));
        text.push_str(&format!(
            "RUN echo 'aicockpit: installing feature {id}' && cd {dir} && set -a && . ./devcontainer-features.env && set +a && chmod +x ./install.sh && ./install.sh\n",
            id = meta.id
        ));
        for (k, v) in &meta.container_env {
            text.push_str(&format!("ENV {k}={}\n", env_quote(v)));
        }
        files.push(ContextFile {
            name: env_name,
            content: env.into_bytes(),
            executable: false,
        });
    }
    text.push_str(&format!("RUN rm -rf {STAGE}\n"));
    (text, files)
}

/// The features' own requirements merged in the configuration's: their
/// volumes and capabilities (checked later as the configuration's are),
/// and their lifecycle commands, which the spec runs in installation order
/// before the configuration's own of each kind (each named after its
/// feature in the log and in a failure).
pub fn merge_requirements(
    config: &mut super::DevContainer,
    metas: &[FeatureMeta],
) -> Result<(), ConfigError> {
    let order = install_order(metas);
    let mut commands = Vec::new();
    for prop in super::LIFECYCLE_ORDER {
        for &i in &order {
            for (p, c) in metas[i].lifecycle.of(&[prop]) {
                commands.push((p.to_owned(), named_for_feature(&metas[i].id, c)));
            }
        }
        commands.extend(
            config
                .lifecycle
                .of(&[prop])
                .map(|(p, c)| (p.to_owned(), c.clone())),
        );
    }
    config.lifecycle.commands = commands;
    // As the reference merges them: the features' first, in installation
    // order, then the configuration's own.
    let mut caps: Vec<String> = Vec::new();
    let mut mounts: Vec<VolumeMount> = Vec::new();
    for &i in &order {
        caps.extend(metas[i].cap_add.iter().cloned());
        mounts.extend(metas[i].mounts.iter().cloned());
    }
    caps.extend(config.cap_add.iter().cloned());
    mounts.extend(config.mounts.iter().cloned());
    config.cap_add.clear();
    for c in caps {
        if !config.cap_add.contains(&c) {
            config.cap_add.push(c);
        }
    }
    config.mounts.clear();
    for v in mounts {
        if config.mounts.contains(&v) {
            continue;
        }
        if config.mounts.iter().any(|x| x.target == v.target) {
            return Err(bad(
                "features",
                format!("two volumes at {} (a feature's and another)", v.target),
            ));
        }
        if config.mounts.len() == super::MAX_MOUNTS {
            return Err(bad(
                "features",
                format!("more than {} volumes with the features'", super::MAX_MOUNTS),
            ));
        }
        config.mounts.push(v);
    }
    Ok(())
}

/// The name a feature's command is run under (`feature ID`), so the log
/// and a failure say whose it is: a parallel set of one. A parallel set
/// of the feature's own keeps its names.
fn named_for_feature(id: &str, c: &super::Command) -> super::Command {
    match c {
        super::Command::Parallel(_) => c.clone(),
        _ => super::Command::Parallel(vec![(format!("{FEATURE_COMMAND}{id}"), c.clone())]),
    }
}

/// How a feature's command is named when it runs (`feature ID`).
pub const FEATURE_COMMAND: &str = "feature ";

/// A command as the configuration or feature wrote it: a feature's own
/// command without the name it runs under.
pub fn as_written(c: &super::Command) -> &super::Command {
    match c {
        super::Command::Parallel(set)
            if set.len() == 1 && set[0].0.starts_with(FEATURE_COMMAND) =>
        {
            &set[0].1
        }
        _ => c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_names_become_variables_as_the_spec_says() {
        for (name, var) in [
            ("version", "VERSION"),
            ("installTools", "INSTALLTOOLS"),
            ("with-dash", "WITH_DASH"),
            ("1st.option", "_ST_OPTION"),
            ("__x", "_X"),
            ("a b", "A_B"),
        ] {
            assert_eq!(option_variable(name), var, "{name}");
        }
    }

    fn meta(text: &str) -> Result<FeatureMeta, ConfigError> {
        parse_meta(text, "./f")
    }

    /// (devcontainer-feature.json, refused for isolation or None when read).
    #[test]
    fn feature_descriptions_table() {
        let table: &[(&str, Option<bool>)] = &[
            (
                r#"{"id": "ok", "options": {"v": {"type": "string", "default": "1"}}}"#,
                None,
            ),
            (r#"{"id": "p", "privileged": true}"#, Some(true)),
            (
                r#"{"id": "s", "securityOpt": ["seccomp=unconfined"]}"#,
                Some(true),
            ),
            (
                r#"{"id": "m", "mounts": [{"type": "bind", "source": "/", "target": "/h"}]}"#,
                Some(true),
            ),
            (r#"{"id": "d", "dependsOn": {"ghcr.io/x/y:1": {}}}"#, None),
            (r#"{"id": "d", "dependsOn": {"./local": {}}}"#, Some(false)),
            (
                r#"{"id": "d", "dependsOn": ["ghcr.io/x/y:1"]}"#,
                Some(false),
            ),
            (
                r#"{"id": "e", "containerEnv": {"A": "line\nENV B=1"}}"#,
                Some(false),
            ),
            (r#"{"id": "e", "containerEnv": {"1A": "x"}}"#, Some(false)),
            (r#"{"options": {}}"#, Some(false)),
            (r#"{"id": "../x"}"#, Some(false)),
            (r#"[1]"#, Some(false)),
        ];
        for (text, want) in table {
            match (meta(text), want) {
                (Ok(_), None) => {}
                (Err(e), Some(refused)) => {
                    assert_eq!(e.refused, *refused, "{text}: {e}");
                    assert!(e.property.starts_with("features ./f"), "{text}: {e}");
                }
                (got, want) => panic!("{text}: {got:?}, wanted {want:?}"),
            }
        }
    }

    /// A feature that only orders itself: its id, where it comes from,
    /// what it installs after.
    fn ordered(id: &str, origin: Option<&str>, after: &[&str]) -> FeatureMeta {
        FeatureMeta {
            id: id.into(),
            defaults: BTreeMap::new(),
            container_env: BTreeMap::new(),
            cap_add: vec![],
            mounts: vec![],
            installs_after: after.iter().map(|a| (*a).to_owned()).collect(),
            notes: vec![],
            origin: origin.map(str::to_owned),
            lifecycle: Default::default(),
            depends_on: vec![],
        }
    }

    #[test]
    fn installs_after_orders_and_a_cycle_does_not_hang() {
        let m = |id: &str, after: &[&str]| ordered(id, None, after);
        assert_eq!(
            install_order(&[m("a", &["b"]), m("b", &[]), m("c", &[])]),
            [1, 0, 2]
        );
        assert_eq!(install_order(&[m("a", &["zzz"]), m("b", &[])]), [0, 1]);
        assert_eq!(install_order(&[m("a", &["b"]), m("b", &["a"])]).len(), 2);
    }

    /// What a feature's text can reach in the Dockerfile: values are quoted
    /// for sh in the sourced file and for ENV in the Dockerfile, so no
    /// instruction can be added.
    #[test]
    fn hostile_values_stay_values() {
        let r = FeatureRef {
            folder: "hello".into(),
            options: BTreeMap::from([("greeting".into(), "it's\n\"me\" $(id)".into())]),
            registry: None,
        };
        let m =
            meta(r#"{"id": "hello", "containerEnv": {"P": "/x:${PATH} \"q\" \\"}}"#).expect("meta");
        let users = Users {
            remote: "dev".into(),
            container: "dev".into(),
        };
        let (text, files) = dockerfile("localhost/aicockpit/base:latest", &[(r, m)], &users);
        assert_eq!(
            text.lines()
                .filter(|l| l.starts_with("ENV "))
                .collect::<Vec<_>>(),
            [r#"ENV P="/x:${PATH} \"q\" \\""#]
        );
        assert_eq!(text.lines().count(), 7, "{text}");
        let env = String::from_utf8(files[0].content.clone()).expect("utf-8");
        assert!(
            env.starts_with("GREETING='it'\\''s\n\"me\" $(id)'\n"),
            "{env}"
        );
        assert!(env.contains("_REMOTE_USER_HOME='/home/dev'"), "{env}");
    }

    /// Registry references as the spec writes them, and what is not one
    /// (each `None` is refused with a message naming the feature).
    #[test]
    fn registry_references_table() {
        let d = "a".repeat(64);
        let digest = format!("ghcr.io/devcontainers/features/node@sha256:{d}");
        type Parts<'a> = Option<(&'a str, &'a str, &'a str)>;
        let table: Vec<(&str, Parts)> = vec![
            (
                "ghcr.io/devcontainers/features/node:1",
                Some(("ghcr.io", "devcontainers/features/node", "1")),
            ),
            (
                "ghcr.io/devcontainers/features/node",
                Some(("ghcr.io", "devcontainers/features/node", "latest")),
            ),
            (
                "localhost:5000/ns/hello:1.2.3",
                Some(("localhost:5000", "ns/hello", "1.2.3")),
            ),
            (
                "localhost/ns/hello",
                Some(("localhost", "ns/hello", "latest")),
            ),
            (
                "MCR.microsoft.com/devcontainers/x:2",
                Some(("mcr.microsoft.com", "devcontainers/x", "2")),
            ),
            (
                &digest,
                Some((
                    "ghcr.io",
                    "devcontainers/features/node",
                    "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                )),
            ),
            ("node", None),
            ("devcontainers/features/node:1", None),
            ("ghcr.io/Upper/case:1", None),
            ("ghcr.io/a/../b:1", None),
            ("ghcr.io/a//b:1", None),
            ("ghcr.io/a/b:-x", None),
            ("ghcr.io/a/b@sha256:xyz", None),
            ("ghcr.io/a/b@md5:00", None),
            ("ghcr.io:99999999/a/b:1", None),
            ("ghcr.io:/a/b:1", None),
            ("evil.io:1:2/a/b:1", None),
            ("ghcr.io/a/b:1 && id", None),
            ("ghcr.io/a/b:1\nRUN id", None),
            ("ghcr.io/-a/b:1", None),
            ("user@host.io/a:1", None),
            ("./local", None),
            ("../x/y", None),
            (".io/a:1", None),
            ("a..io/a:1", None),
            ("-a.io/a:1", None),
        ];
        for (id, want) in table {
            let got = OciRef::parse(id);
            match (got, want) {
                (Some(r), Some((reg, repo, reference))) => {
                    assert_eq!(
                        (
                            r.registry.as_str(),
                            r.repository.as_str(),
                            r.reference.as_str()
                        ),
                        (reg, repo, reference),
                        "{id}"
                    );
                }
                (None, None) => {}
                (got, _) => panic!("{id}: {got:?}"),
            }
        }
        let long = format!("ghcr.io/{}:1", "a".repeat(600));
        assert_eq!(OciRef::parse(&long), None);
        // In a configuration: a registry's feature gets a folder of the
        // server's; a URL is refused by name.
        let refs = feature_refs(Some(&serde_json::json!({"./local": {}, "ghcr.io/devcontainers/features/node:1": {"version": "20"}}))).expect("refs");
        assert_eq!(refs[0].registry, None);
        assert_eq!(refs[1].folder, ".aicockpit-feature-1");
        assert_eq!(
            refs[1].registry.as_ref().map(|r| r.to_string()).as_deref(),
            Some("ghcr.io/devcontainers/features/node:1")
        );
        let e = feature_refs(Some(&serde_json::json!({"https://example.com/f.tgz": {}})))
            .expect_err("url");
        assert!(e.to_string().contains("from a URL"), "{e}");
    }

    #[test]
    fn installs_after_names_registry_features_without_their_version() {
        let m = ordered;
        let node = m(
            "node",
            Some("ghcr.io/devcontainers/features/node"),
            &["ghcr.io/devcontainers/features/common-utils"],
        );
        let utils = m(
            "common-utils",
            Some("ghcr.io/devcontainers/features/common-utils"),
            &[],
        );
        assert_eq!(install_order(&[node.clone(), utils.clone()]), [1, 0]);
        let pinned = m(
            "node",
            None,
            &["ghcr.io/devcontainers/features/common-utils:2"],
        );
        assert_eq!(install_order(&[pinned, utils]), [1, 0]);
    }

    /// Features' lifecycle commands run before the configuration's of the
    /// same kind, in installation order, each named after its feature.
    #[test]
    fn feature_commands_come_first_in_install_order() {
        let vars = super::super::Vars {
            workspace_folder: "/workspace".into(),
            container_workspace_folder: "/workspace".into(),
            devcontainer_id: "x".into(),
            container_env: None,
        };
        let mut config = super::super::parse(
            r#"{"image": "x", "postCreateCommand": "config", "postStartCommand": ["config-start"]}"#,
            ".devcontainer.json",
            &vars,
        )
        .expect("config");
        let a = parse_meta(r#"{"id": "a", "installsAfter": ["b"], "postCreateCommand": "a-create", "onCreateCommand": {"x": "a-x", "y": "a-y"}}"#, "./a").expect("a");
        let b = parse_meta(r#"{"id": "b", "postCreateCommand": ["b-create"]}"#, "./b").expect("b");
        merge_requirements(&mut config, &[a, b]).expect("merged");
        type Runs = Vec<(Option<String>, Vec<String>)>;
        let got: Vec<(String, Runs)> = config
            .lifecycle
            .commands
            .iter()
            .map(|(p, c)| (p.clone(), c.argvs()))
            .collect();
        let sh = |s: &str| vec!["/bin/sh".to_owned(), "-c".into(), s.into()];
        let named = |n: &str, argv: Vec<String>| (Some(n.to_owned()), argv);
        assert_eq!(
            got,
            vec![
                (
                    "onCreateCommand".into(),
                    vec![named("x", sh("a-x")), named("y", sh("a-y"))]
                ),
                (
                    "postCreateCommand".into(),
                    vec![named("feature b", vec!["b-create".into()])]
                ),
                (
                    "postCreateCommand".into(),
                    vec![named("feature a", sh("a-create"))]
                ),
                ("postCreateCommand".into(), vec![(None, sh("config"))]),
                (
                    "postStartCommand".into(),
                    vec![(None, vec!["config-start".into()])]
                ),
            ]
        );
        let e = parse_meta(r#"{"id": "c", "postStartCommand": 7}"#, "./c").expect_err("bad");
        assert!(e.property.starts_with("features ./c"), "{e}");
    }
}
