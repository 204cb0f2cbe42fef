//! Lifecycle commands in the spec's three forms: a string (run by a
//! shell), an array (run directly) and an object (its commands run in
//! parallel; each a string or an array), and the order they run in.

use super::{bad, ConfigError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The lifecycle commands in the order the spec runs them. The first
/// three run once, when the container is made; `postStartCommand` each
/// time it starts; `postAttachCommand` each time a tool attaches.
pub const LIFECYCLE_ORDER: [&str; 5] = [
    "onCreateCommand",
    "updateContentCommand",
    "postCreateCommand",
    "postStartCommand",
    "postAttachCommand",
];

/// Bytes of all of one command's text.
const MAX_COMMAND: usize = 16 * 1024;
/// Commands of one parallel set.
const MAX_PARALLEL: usize = 16;

/// One lifecycle command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "form", content = "value", rename_all = "snake_case")]
pub enum Command {
    /// Run by `/bin/sh -c`.
    Shell(String),
    /// Run as it is (no shell).
    Exec(Vec<String>),
    /// Named commands run at the same time; all must succeed.
    Parallel(Vec<(String, Command)>),
}

impl Command {
    fn from_value(prop: &str, v: &Value, nested: bool) -> Result<Option<Command>, ConfigError> {
        let c = match v {
            Value::Null => return Ok(None),
            Value::String(s) if s.trim().is_empty() => return Ok(None),
            Value::String(s) => Command::Shell(s.clone()),
            Value::Array(a) => {
                let argv: Option<Vec<String>> =
                    a.iter().map(|x| x.as_str().map(str::to_owned)).collect();
                match argv {
                    Some(v) if v.is_empty() => return Ok(None),
                    Some(v) => Command::Exec(v),
                    None => return Err(bad(prop, "an array command must hold only strings")),
                }
            }
            Value::Object(m) if !nested => {
                if m.len() > MAX_PARALLEL {
                    return Err(bad(
                        prop,
                        format!("at most {MAX_PARALLEL} parallel commands"),
                    ));
                }
                let mut set = Vec::new();
                for (name, c) in m {
                    if let Some(c) = Command::from_value(prop, c, true)? {
                        set.push((name.clone(), c));
                    }
                }
                if set.is_empty() {
                    return Ok(None);
                }
                Command::Parallel(set)
            }
            _ => {
                return Err(bad(
                    prop,
                    "must be a string, an array of strings or an object of them",
                ))
            }
        };
        if c.text_len() > MAX_COMMAND {
            return Err(bad(prop, format!("longer than {} KiB", MAX_COMMAND / 1024)));
        }
        Ok(Some(c))
    }

    fn text_len(&self) -> usize {
        match self {
            Command::Shell(s) => s.len(),
            Command::Exec(a) => a.iter().map(String::len).sum(),
            Command::Parallel(set) => set.iter().map(|(n, c)| n.len() + c.text_len()).sum(),
        }
    }

    /// What to run: one argv, or (parallel) one per name.
    pub fn argvs(&self) -> Vec<(Option<String>, Vec<String>)> {
        match self {
            Command::Shell(s) => vec![(None, vec!["/bin/sh".into(), "-c".into(), s.clone()])],
            Command::Exec(a) => vec![(None, a.clone())],
            Command::Parallel(set) => set
                .iter()
                .flat_map(|(name, c)| {
                    c.argvs()
                        .into_iter()
                        .map(move |(_, argv)| (Some(name.clone()), argv))
                })
                .collect(),
        }
    }
}

/// A configuration's lifecycle commands, in [`LIFECYCLE_ORDER`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Lifecycle {
    pub commands: Vec<(String, Command)>,
}

impl Lifecycle {
    pub(super) fn from_config(obj: &Map<String, Value>) -> Result<Lifecycle, ConfigError> {
        let mut commands = Vec::new();
        for prop in LIFECYCLE_ORDER {
            if let Some(v) = obj.get(prop) {
                if let Some(c) = Command::from_value(prop, v, false)? {
                    commands.push((prop.to_owned(), c));
                }
            }
        }
        Ok(Lifecycle { commands })
    }

    /// The commands among `props`, in order.
    pub fn of<'a>(&'a self, props: &'a [&str]) -> impl Iterator<Item = (&'a str, &'a Command)> {
        self.commands
            .iter()
            .filter(move |(p, _)| props.contains(&p.as_str()))
            .map(|(p, c)| (p.as_str(), c))
    }
}
