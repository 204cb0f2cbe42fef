//! `aicockpit-workspace-agent`: a small static binary the server copies into every
//! workspace container. `bridge` is what the server runs through the
//! engine's exec; it starts (or finds) the long-lived `daemon`, which owns
//! the terminals and serves files, search and watches.

mod archive;
mod bridge;
mod conn;
mod daemon;
mod files;
mod keepalive;
mod paths;
mod ports;
mod sandbox;
mod search;
mod sock;
mod ssh;
mod stream;
mod tcp;
mod term;
mod watch;

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: aicockpit-workspace-agent (bridge|daemon) [--root DIR] [--socket PATH|@NAME] | keepalive --for DURATION --reason TEXT | sandbox SPEC -- PROGRAM [ARGS…] | landlock | version";

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
    if std::env::args().nth(1).as_deref() == Some("keepalive") {
        return keepalive_main(&std::env::args().skip(2).collect::<Vec<_>>());
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

fn keepalive_main(args: &[String]) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("aicockpit-keepalive: {e}");
            return ExitCode::FAILURE;
        }
    };
    let socket = std::env::var("AICOCKPIT_AGENT_SOCKET")
        .ok()
        .map(|s| sock::Addr::parse(&s));
    match rt.block_on(keepalive::command(args, socket)) {
        Ok(done) => {
            println!("{done}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("aicockpit-keepalive: {e}");
            ExitCode::from(2)
        }
    }
}
