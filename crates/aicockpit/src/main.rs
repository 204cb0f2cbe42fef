//! The `aicockpit` binary: `aicockpit serve` runs the server; every other
//! command is a client of its API (or, for `users` and `tokens`, works on the
//! data dir directly so the first admin can be made before anything runs).

mod admin;
mod cli;
mod serve;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "aicockpit",
    version,
    about = "Containerized workspaces where people and AI build software together"
)]
struct Args {
    /// Server configuration file (TOML). Also AICOCKPIT_CONFIG.
    #[arg(long, global = true, env = "AICOCKPIT_CONFIG")]
    config: Option<PathBuf>,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// Server URL for client commands (default: the one saved by `login`).
    #[arg(long, global = true, env = "AICOCKPIT_URL")]
    server: Option<String>,
    /// API token for client commands (default: the one saved by `login`).
    #[arg(long, global = true, env = "AICOCKPIT_TOKEN", hide_env_values = true)]
    token: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve(serve::ServeArgs),
    /// Manage users directly in the data dir (no server needed).
    #[command(subcommand)]
    Users(admin::UsersCmd),
    /// Create API tokens directly in the data dir (no server needed).
    #[command(subcommand)]
    Tokens(admin::TokensCmd),
    /// The audit log, checked directly in the data dir.
    #[command(subcommand)]
    Audit(admin::AuditCmd),
    /// Log in to a server and save the session token.
    Login(cli::session::LoginArgs),
    /// Revoke the saved token and forget it.
    Logout,
    /// Workspaces: create, list, start, stop, exec…
    #[command(subcommand, visible_alias = "workspace")]
    Ws(cli::ws::WsCmd),
    /// List the server's workspace templates.
    Templates,
    /// Forward a local TCP port to a port inside a workspace (any TCP
    /// protocol, several connections at once) until interrupted.
    PortForward {
        workspace: String,
        /// `REMOTE` or `LOCAL:REMOTE` (LOCAL 0 picks a free port).
        #[arg(value_parser = cli::forward::parse_ports)]
        ports: (u16, u16),
        /// The local address to listen on.
        #[arg(long, default_value = "127.0.0.1")]
        address: String,
    },
    /// An SSH session in a workspace through the server (OpenSSH's `ssh`;
    /// interactive shell, or the command after `--`).
    Ssh(cli::ssh::SshArgs),
    /// Write Host entries for your workspaces to your OpenSSH config
    /// (`ssh aicockpit--NAME`, scp, sftp, desktop IDEs' remote-SSH modes).
    ConfigSsh(cli::ssh::ConfigSshArgs),
    /// Keep a running workspace from idle stop (`ws keepalive`).
    Keepalive {
        workspace: String,
        /// How long: seconds, or a number with s, m, h or d (`2h`).
        #[arg(long = "for", value_parser = cli::ws::parse_duration)]
        duration: u64,
        #[arg(long)]
        reason: String,
    },
    /// AI services and chat.
    #[command(subcommand)]
    Ai(cli::ai::AiCmd),
    /// Your git credentials: tokens for git servers, given to git inside
    /// your workspaces on demand (never written there).
    #[command(subcommand, visible_alias = "git-credentials")]
    GitCredential(cli::git_credentials::GitCredentialCmd),
    /// Your SSH key pair, made by the server: the public key to paste into
    /// a git host; your workspaces sign with it through their SSH agent.
    #[command(subcommand)]
    SshKey(cli::ssh_key::SshKeyCmd),
    /// Your dotfiles repository, installed into every workspace you make
    /// (its install script, else links into your home).
    #[command(subcommand)]
    Dotfiles(cli::dotfiles::DotfilesCmd),
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let code = runtime.block_on(async move {
        let out = cli::Output { json: args.json };
        let conn = cli::Connection {
            server: args.server,
            token: args.token,
        };
        match args.command {
            Command::Serve(a) => serve::run(args.config.as_deref(), a).await,
            Command::Users(c) => admin::users(args.config.as_deref(), c, out).await,
            Command::Tokens(c) => admin::tokens(args.config.as_deref(), c, out).await,
            Command::Audit(c) => admin::audit(args.config.as_deref(), c, out).await,
            Command::Login(a) => cli::session::login(conn, a, out).await,
            Command::Logout => cli::session::logout(conn, out).await,
            Command::Ws(c) => cli::ws::run(conn, c, out).await,
            Command::Templates => cli::ws::templates(conn, out).await,
            Command::PortForward {
                workspace,
                ports,
                address,
            } => cli::forward::run(conn, workspace, ports, address, out).await,
            Command::Ssh(a) => cli::ssh::ssh(conn, a).await,
            Command::ConfigSsh(a) => cli::ssh::config_ssh(conn, a, out).await,
            Command::Keepalive {
                workspace,
                duration,
                reason,
            } => {
                let cmd = cli::ws::WsCmd::Keepalive {
                    workspace,
                    duration,
                    reason,
                };
                cli::ws::run(conn, cmd, out).await
            }
            Command::Ai(c) => cli::ai::run(conn, c, out).await,
            Command::GitCredential(c) => cli::git_credentials::run(conn, c, out).await,
            Command::SshKey(c) => cli::ssh_key::run(conn, c, out).await,
            Command::Dotfiles(c) => cli::dotfiles::run(conn, c, out).await,
        }
    });
    ExitCode::from(code)
}
