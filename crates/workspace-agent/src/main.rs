//! `aicockpit-workspace-agent`: a small static binary the server copies into every
//! workspace container. `bridge` is what the server runs through the
//! engine's exec; it starts (or finds) the long-lived `daemon`, which owns
//! the terminals and serves files, search and watches.

mod archive;
mod ask;
mod bridge;
mod conn;
mod daemon;
mod files;
mod gitcred;
mod keepalive;
mod paths;
mod ports;
mod sandbox;
mod search;
mod sock;
mod ssh;
mod sshagent;
mod stream;
mod tcp;
mod term;
mod watch;

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: aicockpit-workspace-agent (bridge|daemon) [--root DIR] [--socket PATH|@NAME] | keepalive --for DURATION --reason TEXT | git-credential get|store|erase | sandbox SPEC -- PROGRAM [ARGS…] | landlock | version";

fn main() -> ExitCode {
    let raw: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    match raw.first().and_then(|a| a.to_str()) {
        // Synchronous modes: no runtime, nothing between the checks and exec.
        Some("sandbox") => return sandbox::main(&raw[1..]),
        Some("landlock") => {
            println!(
                "{}",
                aicockpit_workspace_agent_proto::sandbox::landlock_abi()
            );
            return ExitCode::SUCCESS;
        }
        _ => {}
    }
    let mut args = std::env::args().skip(1);
    // Run inside the workspace by people and scripts (`aicockpit-keepalive`).
    match std::env::args().nth(1).as_deref() {
        Some("keepalive") => {
            let args: Vec<String> = std::env::args().skip(2).collect();
            return inside_main("aicockpit-keepalive", |socket| async move {
                keepalive::command(&args, socket)
                    .await
                    .map(|d| format!("{d}\n"))
            });
        }
        // git's credential helper (`aicockpit-git-credential`).
        Some("git-credential") => {
            let args: Vec<String> = std::env::args().skip(2).collect();
            return inside_main("aicockpit-git-credential", |socket| async move {
                gitcred::command(&args, socket).await
            });
        }
        _ => {}
    }
    let Some(cmd) = args.next() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let mut root = PathBuf::from("/workspace");
    let mut socket = sock::Addr::parse(&format!(
        "@aicockpit-workspace-agent-{}",
        env!("CARGO_PKG_VERSION")
    ));
    while let Some(a) = args.next() {
        match (a.as_str(), args.next()) {
            ("--root", Some(v)) => root = PathBuf::from(v),
            ("--socket", Some(v)) => socket = sock::Addr::parse(&v),
            _ => {
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    if cmd == "version" {
        println!(
            "{} protocol {}",
            env!("CARGO_PKG_VERSION"),
            aicockpit_workspace_agent_proto::PROTOCOL_VERSION
        );
        return ExitCode::SUCCESS;
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(8)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("aicockpit-workspace-agent: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cmd.as_str() {
        "bridge" => rt.block_on(bridge::run(&root, &socket)),
        "daemon" => rt.block_on(daemon::run(&root, &socket)),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("aicockpit-workspace-agent {cmd}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a command people, scripts or git run inside the workspace: what
/// it prints on success goes to stdout, its error to stderr.
fn inside_main<F, Fut>(name: &str, command: F) -> ExitCode
where
    F: FnOnce(Option<sock::Addr>) -> Fut,
    Fut: std::future::Future<Output = Result<String, String>>,
{
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{name}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let socket = std::env::var("AICOCKPIT_AGENT_SOCKET")
        .ok()
        .map(|s| sock::Addr::parse(&s));
    match rt.block_on(command(socket)) {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{name}: {e}");
            ExitCode::from(2)
        }
    }
}
