//! `aicockpit-workspace-agent sandbox SPEC -- PROGRAM ARGS…`: runs a command the AI
//! asked for under a Landlock domain built from the workspace policy, so
//! that what the judge misread still cannot happen: files are read-only
//! except the writable trees (minus their read-only parts) and a private
//! temp dir, unreadable trees cannot be opened, TCP is off unless the
//! policy allows the network, and signals and abstract Unix sockets
//! (the agent daemon's) outside the sandbox are out of reach.
//!
//! Landlock only grants, and a grant covers a whole tree. "This tree minus
//! that part" is built by granting each sibling on the way down instead of
//! the tree itself; a directory on that way gets no right but listing
//! (any other would reach into the protected part), so new entries cannot
//! be made directly in it.
//!
//! Anything that cannot be enforced fully ends the command with exit code
//! 125 before it runs: the sandbox fails closed. The command also carries
//! a seccomp mark (one more filter, allowing everything) by which the
//! workspace's SSH agent knows not to serve it.

use aicockpit_workspace_agent_proto::sandbox::{full_ruleset, SandboxSpec, ABIS, MIN_SANDBOX_ABI};
use landlock::{
    Access, AccessFs, BitFlags, PathBeneath, RulesetCreated, RulesetCreatedAttr, RulesetStatus, ABI,
};
use rustix::fs::{Mode, OFlags};
use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// How deep a split may go and how many rules it may add: bounded work
/// whatever the workspace holds.
const MAX_DEPTH: usize = 64;
const MAX_RULES: usize = 50_000;

/// Environment variables passed through to the command; everything else
/// (LD_PRELOAD and friends included) is dropped.
const KEPT_ENV: &[&str] = &[
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TERM", "TZ", "PWD",
];

/// Devices every program expects to write.
const DEVICES: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/tty",
    "/dev/pts",
    "/dev/ptmx",
];

pub(crate) fn main(args: &[OsString]) -> ExitCode {
    let (spec, argv) = match args {
        [spec, dashdash, argv @ ..] if dashdash == "--" && !argv.is_empty() => (spec, argv),
        _ => {
            eprintln!("usage: aicockpit-workspace-agent sandbox SPEC -- PROGRAM [ARGS…]");
            return ExitCode::from(2);
        }
    };
    let spec: SandboxSpec = match serde_json::from_slice(spec.as_encoded_bytes()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("aicockpit-workspace-agent sandbox: bad spec: {e}");
            return ExitCode::from(125);
        }
    };
    let tmp = match private_tmp() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("aicockpit-workspace-agent sandbox: no private temp dir: {e}");
            return ExitCode::from(125);
        }
    };
    if let Err(e) = enforce(&spec, &tmp) {
        eprintln!("aicockpit-workspace-agent sandbox: the sandbox could not be set up, so the command did not run: {e}");
        return ExitCode::from(125);
    }
    let mut cmd = std::process::Command::new(&argv[0]);
    cmd.args(&argv[1..]).env_clear();
    for k in KEPT_ENV {
        if let Some(v) = std::env::var_os(k) {
            cmd.env(k, v);
        }
    }
    cmd.env("TMPDIR", &tmp).env("AICOCKPIT_SANDBOX", "1");
    let err = cmd.exec();
    eprintln!(
        "aicockpit-workspace-agent sandbox: {}: {err}",
        argv[0].to_string_lossy()
    );
    ExitCode::from(127)
}

/// Removes the private temp dirs of sandboxed commands that have ended
/// (their pid is in the name), a bounded number per call.
fn sweep_old_tmp() {
    let Ok(entries) = std::fs::read_dir("/tmp") else {
        return;
    };
    for e in entries.flatten().take(10_000) {
        let name = e.file_name();
        let Some(rest) = name
            .to_str()
            .and_then(|n| n.strip_prefix("aicockpit-sandbox-"))
        else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        // Only our own (a dir of another uid is left alone by the kernel
        // anyway) and only when that command is gone.
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

fn private_tmp() -> std::io::Result<PathBuf> {
    sweep_old_tmp();
    use std::os::unix::fs::DirBuilderExt;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir = PathBuf::from(format!(
        "/tmp/aicockpit-sandbox-{}-{nanos}",
        std::process::id()
    ));
    std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
    Ok(dir)
}

/// The paths as given and where they really lead: a protected tree that is
/// a symlink protects its target too.
fn with_targets(paths: &[String]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in paths {
        let p = PathBuf::from(p);
        if let Ok(real) = std::fs::canonicalize(&p) {
            if real != p {
                out.push(real);
            }
        }
        out.push(p);
    }
    out
}

struct Builder {
    rs: Option<RulesetCreated>,
    abi: ABI,
    rules: usize,
}

impl Builder {
    fn add(&mut self, path: &Path, access: BitFlags<AccessFs>) -> Result<(), String> {
        let fd = match rustix::fs::open(
            path,
            OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            // Nothing there, nothing to grant.
            Err(rustix::io::Errno::NOENT) => return Ok(()),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        let stat = rustix::fs::fstat(&fd).map_err(|e| format!("{}: {e}", path.display()))?;
        let kind = rustix::fs::FileType::from_raw_mode(stat.st_mode);
        let access = match kind {
            rustix::fs::FileType::Directory => access,
            rustix::fs::FileType::Symlink => return Ok(()),
            _ => access & AccessFs::from_file(self.abi),
        };
        if access.is_empty() {
            return Ok(());
        }
        self.rules += 1;
        if self.rules > MAX_RULES {
            return Err("too many entries to split around the protected paths".into());
        }
        let rs = self.rs.take().ok_or("the ruleset is gone")?;
        self.rs = Some(
            rs.add_rule(PathBeneath::new(fd, access))
                .map_err(|e| format!("{}: {e}", path.display()))?,
        );
        Ok(())
    }

    /// Grants `access` on the tree at `path` except the `excluded` trees.
    fn grant_except(
        &mut self,
        path: &Path,
        access: BitFlags<AccessFs>,
        excluded: &[PathBuf],
        depth: usize,
    ) -> Result<(), String> {
        if excluded.iter().any(|e| e == path) {
            return Ok(());
        }
        if !excluded.iter().any(|e| e.starts_with(path)) {
            return self.add(path, access);
        }
        if depth > MAX_DEPTH {
            return Err(format!("{} is nested too deep", path.display()));
        }
        // On the way to a protected tree: a right granted here would reach
        // into it (grants cover whole trees), so only listing, and only
        // when reading is what is being granted: names under an unreadable
        // tree can be listed, their contents not read. (Walking a path
        // needs no right.)
        self.add(path, access & AccessFs::ReadDir)?;
        let entries = match std::fs::read_dir(path) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        for entry in entries {
            let entry = entry.map_err(|e| format!("{}: {e}", path.display()))?;
            if entry.file_type().map(|t| t.is_symlink()).unwrap_or(true) {
                continue;
            }
            self.grant_except(&entry.path(), access, excluded, depth + 1)?;
        }
        Ok(())
    }
}

fn enforce(spec: &SandboxSpec, tmp: &Path) -> Result<(), String> {
    let (n, abi) = ABIS
        .into_iter()
        .find(|(n, abi)| {
            *n >= MIN_SANDBOX_ABI
                && full_ruleset(*abi, *n, spec.network)
                    .and_then(|r| r.create())
                    .is_ok()
        })
        .ok_or_else(|| format!("the kernel offers no Landlock ABI {MIN_SANDBOX_ABI} or newer"))?;
    let rs = full_ruleset(abi, n, spec.network)
        .and_then(|r| r.create())
        .map_err(|e| e.to_string())?;
    let mut b = Builder {
        rs: Some(rs),
        abi,
        rules: 0,
    };
    let all = AccessFs::from_all(abi);
    let read = AccessFs::from_read(abi);
    let unreadable = with_targets(&spec.unreadable);
    b.grant_except(Path::new("/"), read, &unreadable, 0)?;
    let mut not_writable = with_targets(&spec.read_only);
    not_writable.extend(unreadable.iter().cloned());
    for w in &spec.writable {
        b.grant_except(Path::new(w), all, &not_writable, 0)?;
    }
    b.add(tmp, all)?;
    for d in DEVICES {
        b.add(Path::new(d), AccessFs::from_file(abi))?;
    }
    let status =
        b.rs.take()
            .ok_or("the ruleset is gone")?
            .no_new_privs(true)
            .restrict_self()
            .map_err(|e| e.to_string())?;
    if status.ruleset != RulesetStatus::FullyEnforced {
        return Err(format!("Landlock is only {:?}", status.ruleset));
    }
    mark()
}

/// One more seccomp filter, changing nothing: a mark the kernel keeps on
/// this process and everything it starts, which nothing can remove.
/// The SSH agent (see `sshagent`) does not serve marked processes.
fn mark() -> Result<(), String> {
    use seccompiler::{BpfProgram, SeccompAction, SeccompFilter, TargetArch};
    let arch = TargetArch::try_from(std::env::consts::ARCH).map_err(|e| e.to_string())?;
    // A filter must decide something: it refuses kexec_load, which the
    // engine's own profile refuses already, so nothing changes but the mark.
    let rules = std::collections::BTreeMap::from([(libc::SYS_kexec_load, vec![])]);
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        arch,
    )
    .map_err(|e| e.to_string())?;
    let program = BpfProgram::try_from(filter).map_err(|e| e.to_string())?;
    seccompiler::apply_filter(&program).map_err(|e| format!("the sandbox's seccomp mark: {e}"))
}
