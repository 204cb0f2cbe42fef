//! `runArgs`: engine flags as a devcontainer.json passes them to `docker
//! run`. The ones that say something this server already expresses are
//! read into it (`--cap-add` into capAdd, checked against the admins' list
//! like capAdd; `--env` into containerEnv); the ones with no effect on what
//! the container can reach are noted as not used; every other flag —
//! `--privileged`, `--security-opt`, `--network`, `--device`, `-v`,
//! `--pid` and whatever this list does not know — is refused naming it,
//! since an unknown flag may weaken isolation.

use super::{bad, refuse, ConfigError};

/// What a configuration's `runArgs` ask that the server acts on.
#[derive(Debug, Default, PartialEq)]
pub(super) struct RunArgs {
    pub cap_add: Vec<String>,
    pub env: Vec<(String, String)>,
    pub notes: Vec<String>,
}

/// Flags that take no value and change nothing the workspace can reach.
const HARMLESS_SWITCHES: &[&str] = &[
    "--init",
    "--rm",
    "-i",
    "-t",
    "-it",
    "-ti",
    "--interactive",
    "--tty",
];

/// Flags with a value that change nothing the workspace can reach, and
/// why the server does not use them.
const HARMLESS_WITH_VALUE: &[(&str, &str)] = &[
    ("--hostname", "the workspace's hostname is its name"),
    ("-h", "the workspace's hostname is its name"),
    ("--name", "the server names its containers"),
    ("--label", "the server labels its containers"),
    ("-l", "the server labels its containers"),
    ("--shm-size", "the engine's default /dev/shm is used"),
    (
        "--cap-drop",
        "the workspace has only the engine's few capabilities anyway",
    ),
    ("--memory", "use hostRequirements.memory"),
    ("-m", "use hostRequirements.memory"),
    ("--cpus", "use hostRequirements.cpus"),
    ("--add-host", "the workspace's /etc/hosts is the engine's"),
    ("--workdir", "use workspaceFolder"),
    ("-w", "use workspaceFolder"),
];

/// Reads `args` (already a list of strings).
pub(super) fn read(args: &[String]) -> Result<RunArgs, ConfigError> {
    let mut out = RunArgs::default();
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_str();
        // `--flag=value`, or `--flag value` (the next element).
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_owned())),
            _ => (arg, None),
        };
        let value = |out_i: &mut usize| -> Result<String, ConfigError> {
            if let Some(v) = &inline {
                return Ok(v.clone());
            }
            *out_i += 1;
            args.get(*out_i)
                .cloned()
                .ok_or_else(|| bad("runArgs", format!("{flag} needs a value")))
        };
        if HARMLESS_SWITCHES.contains(&flag) && inline.is_none() {
            i += 1;
            continue;
        }
        if let Some((_, why)) = HARMLESS_WITH_VALUE.iter().find(|(f, _)| *f == flag) {
            let v = value(&mut i)?;
            out.notes
                .push(format!("runArgs {flag} {v} is not used: {why}"));
            i += 1;
            continue;
        }
        match flag {
            "--cap-add" => {
                let v = value(&mut i)?;
                out.cap_add.extend(v.split(',').map(|c| c.trim().to_owned()));
            }
            "--env" | "-e" => {
                let v = value(&mut i)?;
                let Some((k, val)) = v.split_once('=') else {
                    // `-e NAME` copies the host's variable: on the server,
                    // its secrets.
                    return Err(refuse(
                        "runArgs",
                        format!("{flag} {v} would copy the server's own variable; give it a value (NAME=value) or use containerEnv"),
                    ));
                };
                out.env.push((k.to_owned(), val.to_owned()));
            }
            _ => {
                return Err(refuse(
                    "runArgs",
                    format!("the engine flag {flag:?} can weaken the workspace's isolation or is not one this server knows; it is not allowed (capabilities: --cap-add with the admins' list; variables: --env NAME=value)"),
                ))
            }
        }
        i += 1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_owned()).collect()
    }

    /// (runArgs, Ok((caps, env, notes)) or Err(what the refusal names)).
    #[test]
    fn run_args_table() {
        type Read<'a> = Result<(&'a [&'a str], &'a [(&'a str, &'a str)], usize), &'a str>;
        let table: &[(&[&str], Read)] = &[
            (&["--init"], Ok((&[], &[], 0))),
            (&["--cap-add=SYS_PTRACE"], Ok((&["SYS_PTRACE"], &[], 0))),
            (
                &["--cap-add", "SYS_PTRACE,NET_RAW"],
                Ok((&["SYS_PTRACE", "NET_RAW"], &[], 0)),
            ),
            (
                &["-e", "A=1", "--env=B=x=y"],
                Ok((&[], &[("A", "1"), ("B", "x=y")], 0)),
            ),
            (
                &["--shm-size=1g", "--hostname", "dev", "-it"],
                Ok((&[], &[], 2)),
            ),
            (&["--privileged"], Err("--privileged")),
            (
                &["--security-opt", "seccomp=unconfined"],
                Err("--security-opt"),
            ),
            (
                &["--security-opt=seccomp=unconfined"],
                Err("--security-opt"),
            ),
            (
                &[
                    "--cap-add=SYS_PTRACE",
                    "--security-opt",
                    "seccomp=unconfined",
                ],
                Err("--security-opt"),
            ),
            (&["--network=host"], Err("--network")),
            (&["--net", "host"], Err("--net")),
            (&["-v", "/:/host"], Err("-v")),
            (&["--mount", "type=bind,src=/,dst=/h"], Err("--mount")),
            (&["--device=/dev/kvm"], Err("--device")),
            (&["--pid=host"], Err("--pid")),
            (&["--userns=host"], Err("--userns")),
            (&["-u", "0"], Err("-u")),
            (&["--ulimit", "nofile=1"], Err("--ulimit")),
            (
                &["-e", "AWS_SECRET_ACCESS_KEY"],
                Err("server's own variable"),
            ),
            (&["--cap-add"], Err("needs a value")),
            (&["--hostname"], Err("needs a value")),
            (&["--init=true"], Err("--init")),
            (&["--something-new"], Err("--something-new")),
        ];
        for (input, want) in table {
            let got = read(&args(input));
            match (got, want) {
                (Ok(r), Ok((caps, env, notes))) => {
                    assert_eq!(r.cap_add, args(caps), "{input:?}");
                    let env: Vec<(String, String)> = env
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                        .collect();
                    assert_eq!(r.env, env, "{input:?}");
                    assert_eq!(r.notes.len(), *notes, "{input:?}: {:?}", r.notes);
                }
                (Err(e), Err(names)) => {
                    assert_eq!(e.property, "runArgs", "{input:?}");
                    assert!(e.to_string().contains(names), "{input:?}: {e}");
                }
                (got, want) => panic!("{input:?}: {got:?}, wanted {want:?}"),
            }
        }
    }
}
