//! Variable substitution in a configuration's strings, as the spec defines
//! it: `${localEnv:NAME[:default]}`, `${containerEnv:NAME[:default]}`,
//! `${localWorkspaceFolder}`, `${localWorkspaceFolderBasename}`,
//! `${containerWorkspaceFolder}`, `${containerWorkspaceFolderBasename}`,
//! `${devcontainerId}`. Unknown variables are left as they are.
//!
//! "Local" is the machine the user's tool runs on; here that is the server,
//! whose environment holds its secrets, so `localEnv` never reads it: every
//! `localEnv` variable is unset (its default, or empty).

use serde_json::Value;
use std::collections::BTreeMap;

/// The values variables stand for.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    /// Where the repository is (`${localWorkspaceFolder}`: the server
    /// has no other copy, so this is its place in the container).
    pub workspace_folder: String,
    /// `${containerWorkspaceFolder}`: the configuration's `workspaceFolder`,
    /// else the repository's folder ([`super::parse`] sets it).
    pub container_workspace_folder: String,
    pub devcontainer_id: String,
    /// The container's environment, once it runs (None before: such
    /// variables are left for later).
    pub container_env: Option<BTreeMap<String, String>>,
}

/// Longest result of one substitution (a bound on growth).
const MAX_RESULT: usize = 64 * 1024;

/// `s` with every known variable replaced.
pub fn substitute(s: &str, vars: &Vars) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return out;
        };
        let inner = &after[..end];
        match resolve(inner, vars) {
            Some(v) => out.push_str(&v),
            None => {
                out.push_str("${");
                out.push_str(inner);
                out.push('}');
            }
        }
        rest = &after[end + 1..];
        if out.len() > MAX_RESULT {
            let mut cut = MAX_RESULT;
            while !out.is_char_boundary(cut) {
                cut -= 1;
            }
            out.truncate(cut);
            return out;
        }
    }
    out.push_str(rest);
    out
}

fn resolve(inner: &str, vars: &Vars) -> Option<String> {
    let basename = |p: &str| {
        p.trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or("")
            .to_owned()
    };
    match inner {
        "localWorkspaceFolder" => Some(vars.workspace_folder.clone()),
        "containerWorkspaceFolder" => Some(vars.container_workspace_folder.clone()),
        "localWorkspaceFolderBasename" => Some(basename(&vars.workspace_folder)),
        "containerWorkspaceFolderBasename" => Some(basename(&vars.container_workspace_folder)),
        "devcontainerId" => Some(vars.devcontainer_id.clone()),
        _ => {
            let (kind, rest) = inner.split_once(':')?;
            let (_name, default) = match rest.split_once(':') {
                Some((n, d)) => (n, d),
                None => (rest, ""),
            };
            match kind {
                "localEnv" | "env" => Some(default.to_owned()),
                "containerEnv" => {
                    let env = vars.container_env.as_ref()?;
                    Some(
                        env.get(_name)
                            .cloned()
                            .unwrap_or_else(|| default.to_owned()),
                    )
                }
                _ => None,
            }
        }
    }
}

/// Substitutes in every string of `v` (keys stay as written).
pub(super) fn substitute_all(v: &mut Value, vars: &Vars) {
    match v {
        Value::String(s) if s.contains("${") => *s = substitute(s, vars),
        Value::Array(a) => a.iter_mut().for_each(|x| substitute_all(x, vars)),
        Value::Object(m) => m.values_mut().for_each(|x| substitute_all(x, vars)),
        _ => {}
    }
}
