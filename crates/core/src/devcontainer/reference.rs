//! A [`DevContainer`] in the shape the reference implementation prints
//! its merged configuration (`@devcontainers/cli read-configuration
//! --include-merged-configuration`, `mergedConfiguration`), for the
//! properties this server acts on. The fidelity test compares the two over
//! a corpus of configurations, so what is read here and what the spec's
//! own tool reads cannot drift apart unnoticed.

use super::{Command, DevContainer, ImageSource, LIFECYCLE_ORDER};
use serde_json::{json, Map, Value};

/// The properties [`merged`] writes, the ones the server acts on.
pub const COMPARED: [&str; 18] = [
    "name",
    "image",
    "build",
    "workspaceFolder",
    "containerEnv",
    "remoteEnv",
    "remoteUser",
    "containerUser",
    "forwardPorts",
    "portsAttributes",
    "hostRequirements",
    "mounts",
    "capAdd",
    "onCreateCommands",
    "updateContentCommands",
    "postCreateCommands",
    "postStartCommands",
    "postAttachCommands",
];

/// `c` as the reference merges it. Paths of a build are absolute (the
/// reference keeps them as written, relative to the file); mounts are
/// objects; memory is in bytes, as a string, as the reference writes it.
pub fn merged(c: &DevContainer) -> Value {
    let mut out = Map::new();
    if let Some(n) = &c.name {
        out.insert("name".into(), json!(n));
    }
    match &c.image {
        ImageSource::Image(i) => {
            out.insert("image".into(), json!(i));
        }
        ImageSource::Build {
            context_dir,
            dockerfile,
            args,
            target,
        } => {
            out.insert(
                "build".into(),
                json!({
                    "context": context_dir,
                    "dockerfile": format!("{context_dir}/{dockerfile}"),
                    "args": args,
                    "target": target,
                }),
            );
        }
    }
    out.insert("workspaceFolder".into(), json!(c.workspace_folder));
    if !c.container_env.is_empty() {
        out.insert("containerEnv".into(), json!(c.container_env));
    }
    if !c.remote_env.is_empty() {
        out.insert("remoteEnv".into(), json!(c.remote_env));
    }
    for (key, v) in [
        ("remoteUser", &c.remote_user),
        ("containerUser", &c.container_user),
    ] {
        if let Some(v) = v {
            out.insert(key.into(), json!(v));
        }
    }
    if !c.forward_ports.is_empty() {
        out.insert("forwardPorts".into(), json!(c.forward_ports));
    }
    if !c.ports_attributes.is_empty() {
        let attrs: Map<String, Value> = c
            .ports_attributes
            .iter()
            .map(|(port, a)| {
                let mut m = Map::new();
                if let Some(l) = &a.label {
                    m.insert("label".into(), json!(l));
                }
                if let Some(o) = &a.on_auto_forward {
                    m.insert("onAutoForward".into(), json!(o));
                }
                (port.to_string(), Value::Object(m))
            })
            .collect();
        out.insert("portsAttributes".into(), Value::Object(attrs));
    }
    let mut host = Map::new();
    if let Some(cpus) = c.cpus {
        // The spec's cpus is an integer; a fraction is this server's own.
        let n = if cpus.fract() == 0.0 {
            json!(cpus as i64)
        } else {
            json!(cpus)
        };
        host.insert("cpus".into(), n);
    }
    if let Some(mb) = c.memory_mb {
        host.insert("memory".into(), json!((mb * 1024 * 1024).to_string()));
    }
    if !host.is_empty() {
        out.insert("hostRequirements".into(), Value::Object(host));
    }
    if !c.mounts.is_empty() {
        let mounts: Vec<Value> = c
            .mounts
            .iter()
            .map(|m| json!({"type": "volume", "source": m.source, "target": m.target}))
            .collect();
        out.insert("mounts".into(), json!(mounts));
    }
    if !c.cap_add.is_empty() {
        out.insert("capAdd".into(), json!(c.cap_add));
    }
    for prop in LIFECYCLE_ORDER {
        let forms: Vec<Value> = c
            .lifecycle
            .of(&[prop])
            .map(|(_, cmd)| form(super::features::as_written(cmd)))
            .collect();
        out.insert(format!("{prop}s"), json!(forms));
    }
    Value::Object(out)
}

/// A command in the form it was written.
fn form(c: &Command) -> Value {
    match c {
        Command::Shell(s) => json!(s),
        Command::Exec(argv) => json!(argv),
        Command::Parallel(set) => Value::Object(
            set.iter()
                .map(|(name, c)| (name.clone(), form(c)))
                .collect(),
        ),
    }
}
