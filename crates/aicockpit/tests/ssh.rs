//! SSH with Debian's OpenSSH client through `aicockpit config-ssh` entries:
//! commands with their exit codes, a PTY, scp both ways, sftp, `-L` and
//! `-R` forwarding; the host key is pinned (a changed one is refused) and
//! wrong or foreign tokens never get a session.

use crate::common::TestServer;
use aicockpit_core::auth::Role;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const HOST: &str = "aicockpit--sshws";

struct Client {
    dir: tempfile::TempDir,
    config: PathBuf,
}

impl Client {
    /// `aicockpit config-ssh` into a throw-away HOME.
    fn configure(ts: &TestServer, token: &str) -> Client {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join(".ssh/config");
        let out = Command::new(env!("CARGO_BIN_EXE_aicockpit"))
            .args(["--server", &ts.url, "--json", "config-ssh", "--ssh-config"])
            .arg(&config)
            .env("HOME", dir.path())
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("AICOCKPIT_CLI_CONFIG")
            .env("AICOCKPIT_TOKEN", token)
            .output()
            .expect("config-ssh");
        assert!(
            out.status.success(),
            "config-ssh: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).expect("json");
        assert!(
            v["hosts"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|h| h["host"] == HOST),
            "{v}"
        );
        let text = std::fs::read_to_string(&config).expect("config");
        assert!(
            !text.contains(token),
            "the token must not be in the ssh config"
        );
        Client { dir, config }
    }

    fn home(&self) -> &Path {
        self.dir.path()
    }

    /// An OpenSSH program (`ssh`, `scp`, `sftp`) with our config, as a user
    /// logged in by token would run it.
    fn cmd(&self, program: &str, token: &str) -> Command {
        let mut c = Command::new(program);
        c.arg("-F")
            .arg(&self.config)
            .args(["-o", "BatchMode=yes", "-o", "ConnectTimeout=30"])
            .env("HOME", self.home())
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("AICOCKPIT_CLI_CONFIG")
            .env("AICOCKPIT_TOKEN", token)
            .stdin(Stdio::null());
        c
    }
}

async fn run(mut c: Command) -> Output {
    tokio::task::spawn_blocking(move || c.output().expect("run"))
        .await
        .expect("join")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssh_runs_commands_copies_files_and_forwards_ports() {
    let ts = TestServer::start().await;
    let api = ts.admin_api();
    let w = api.create_ws("sshws").await;
    let id = w["id"].as_str().expect("id").to_owned();
    let (code, _, err) = api.sh("sshws", crate::ports::ECHO).await;
    assert_eq!(code, 0, "{err}");
    let (_, user, _) = api.sh("sshws", "whoami").await;
    let user = user.trim().to_owned();
    let cl = Client::configure(&ts, &ts.admin);
    let admin = ts.admin.as_str();

    // A command: output, exit code, and who runs it.
    let mut c = cl.cmd("ssh", admin);
    c.args([HOST, "echo hello-from-$(whoami) in $(pwd); exit 7"]);
    let o = run(c).await;
    assert_eq!(o.status.code(), Some(7), "stderr: {}", text(&o.stderr));
    assert_eq!(
        text(&o.stdout),
        format!("hello-from-{user} in /workspace\n")
    );

    // `aicockpit ssh WS -- command` does the same without any config.
    let home = tempfile::tempdir().expect("tempdir");
    let o = run(cli_ssh(
        &ts,
        home.path(),
        admin,
        &["echo", "via-cli;", "exit", "3"],
    ))
    .await;
    assert_eq!(o.status.code(), Some(3), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "via-cli\n");

    // Standard input reaches the command, and stderr comes back apart.
    let mut c = cl.cmd("ssh", admin);
    c.args([HOST, "tr a-z A-Z; echo oops >&2"])
        .stdin(Stdio::piped());
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    let o = tokio::task::spawn_blocking(move || {
        let mut child = c.spawn().expect("ssh");
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(b"shout\n").expect("write");
        drop(stdin);
        child.wait_with_output().expect("wait")
    })
    .await
    .expect("join");
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "SHOUT\n");
    assert!(text(&o.stderr).contains("oops"), "{}", text(&o.stderr));

    // A PTY when asked for one.
    let mut c = cl.cmd("ssh", admin);
    c.args(["-tt", HOST, "tty; echo TERM=$TERM"]);
    let o = run(c).await;
    let out = text(&o.stdout);
    assert!(out.contains("/dev/pts/"), "{out} {}", text(&o.stderr));

    // scp in and out: the bytes arrive unchanged.
    let payload: Vec<u8> = (0..300_000u32).map(|n| (n * 7 % 251) as u8).collect();
    let local = cl.home().join("up.bin");
    std::fs::write(&local, &payload).expect("write");
    let mut c = cl.cmd("scp", admin);
    c.arg(&local).arg(format!("{HOST}:/workspace/up.bin"));
    let o = run(c).await;
    assert!(o.status.success(), "scp in: {}", text(&o.stderr));
    let (_, sum, _) = api.sh("sshws", "wc -c < /workspace/up.bin").await;
    assert_eq!(sum.trim(), "300000");
    let back = cl.home().join("down.bin");
    let mut c = cl.cmd("scp", admin);
    c.arg(format!("{HOST}:/workspace/up.bin")).arg(&back);
    let o = run(c).await;
    assert!(o.status.success(), "scp out: {}", text(&o.stderr));
    assert!(
        std::fs::read(&back).expect("read") == payload,
        "bytes differ"
    );

    // sftp: list, make a directory, rename, read a link.
    let batch = cl.home().join("batch");
    std::fs::write(
        &batch,
        "cd /workspace\nmkdir made\nrename up.bin made/moved.bin\nsymlink made/moved.bin link.bin\nls -l made\nls\n",
    )
    .expect("batch");
    let mut c = cl.cmd("sftp", admin);
    c.arg("-b").arg(&batch).arg(HOST);
    let o = run(c).await;
    let out = text(&o.stdout);
    assert!(o.status.success(), "sftp: {out} {}", text(&o.stderr));
    assert!(
        out.contains("moved.bin") && out.contains("link.bin"),
        "{out}"
    );
    let (_, found, _) = api
        .sh(
            "sshws",
            "readlink /workspace/link.bin; wc -c < /workspace/made/moved.bin",
        )
        .await;
    assert_eq!(found, "made/moved.bin\n300000\n");

    // -L: a local port reaches the echo server inside the workspace.
    let local_port = free_port();
    let mut c = cl.cmd("ssh", admin);
    c.args(["-N", "-o", "ExitOnForwardFailure=yes", "-L"])
        .arg(format!("127.0.0.1:{local_port}:127.0.0.1:7000"))
        .arg(HOST)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut tunnel = c.spawn().expect("ssh -L");
    let mut s = connect_retrying(local_port).await;
    s.write_all(b"through -L\n").await.expect("write");
    let mut buf = [0u8; 11];
    tokio::time::timeout(Duration::from_secs(10), s.read_exact(&mut buf))
        .await
        .expect("echo in time")
        .expect("read");
    assert_eq!(&buf, b"through -L\n");
    drop(s);
    let _ = tunnel.kill();
    let _ = tunnel.wait();

    // -R: a port in the workspace reaches a listener on this machine.
    let here = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let here_port = here.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((mut c, _)) = here.accept().await {
            tokio::spawn(async move {
                let mut b = [0u8; 5];
                if c.read_exact(&mut b).await.is_ok() {
                    let _ = c.write_all(b"pong\n").await;
                }
            });
        }
    });
    let mut c = cl.cmd("ssh", admin);
    c.args(["-N", "-o", "ExitOnForwardFailure=yes", "-R"])
        .arg(format!("127.0.0.1:7100:127.0.0.1:{here_port}"))
        .arg(HOST)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut reverse = c.spawn().expect("ssh -R");
    let probe = r#"for i in $(seq 100); do r=$(perl -MIO::Socket::INET -e '$s=IO::Socket::INET->new("127.0.0.1:7100") or exit 1; print $s "ping\n"; print scalar <$s>' 2>/dev/null) && [ -n "$r" ] && { echo "$r"; exit 0; }; sleep 0.1; done; exit 1"#;
    let (code, out, _) = api.sh("sshws", probe).await;
    let _ = reverse.kill();
    let _ = reverse.wait();
    assert_eq!((code, out.as_str()), (0, "pong\n"));

    // Every connection is on the record.
    let (_, rows) = api.get("/api/v1/audit?action=ssh.connect&limit=100").await;
    let rows = rows.to_string();
    let n = rows.matches("\"ssh.connect\"").count();
    assert!(n >= 6 && rows.contains(&id), "ssh.connect rows: {rows}");

    // Refusals, each with OpenSSH's own failure (255) and no session.
    let member = ts.user("ssh-member", Role::Member).await;
    let cases: [(&str, &str); 3] = [
        ("not-a-token", "(unauthenticated)"),
        (member.as_str(), "(not_found)"),
        ("", "(unauthenticated)"),
    ];
    for (token, want) in cases {
        let mut c = cl.cmd("ssh", token);
        c.args([HOST, "echo should-not-run"]);
        let o = run(c).await;
        assert_eq!(o.status.code(), Some(255), "token {token:?}");
        assert!(!text(&o.stdout).contains("should-not-run"));
        assert!(
            text(&o.stderr).contains(want),
            "{token:?}: {}",
            text(&o.stderr)
        );
    }

    // A host key other than the pinned one is refused.
    let kh = cl.home().join(".config/aicockpit/known_hosts");
    let pinned = std::fs::read_to_string(&kh).expect("known_hosts");
    assert!(
        pinned.contains(&format!("aicockpit-{id} ssh-ed25519 ")),
        "{pinned}"
    );
    let other = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
    let forged: String = pinned
        .lines()
        .map(|l| match l.split_once(' ') {
            Some((host, _)) if host == format!("aicockpit-{id}") => format!("{host} {other}\n"),
            _ => format!("{l}\n"),
        })
        .collect();
    std::fs::write(&kh, forged).expect("write");
    let mut c = cl.cmd("ssh", admin);
    c.args([HOST, "echo should-not-run"]);
    let o = run(c).await;
    assert_eq!(o.status.code(), Some(255));
    assert!(!text(&o.stdout).contains("should-not-run"));
    assert!(
        text(&o.stderr).contains("Host key verification failed"),
        "{}",
        text(&o.stderr)
    );

    // A stopped workspace is started by connecting to it, and says so.
    let (s, v) = api
        .post_empty(&format!("/api/v1/workspaces/{id}/stop"))
        .await;
    assert_eq!(
        (s.as_u16(), v["state"].as_str()),
        (200, Some("stopped")),
        "{v}"
    );
    let o = run(cli_ssh(&ts, home.path(), admin, &["echo", "woken"])).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "woken\n");
    assert!(
        text(&o.stderr).contains("starting sshws"),
        "{}",
        text(&o.stderr)
    );
    // So by OpenSSH's ProxyCommand (`aicockpit ssh --stdio`), whose
    // standard output stays the SSH stream (the pinned key back first).
    std::fs::write(&kh, &pinned).expect("write");
    let (s, _) = api
        .post_empty(&format!("/api/v1/workspaces/{id}/stop"))
        .await;
    assert_eq!(s.as_u16(), 200);
    let mut c = cl.cmd("ssh", admin);
    c.args([HOST, "echo proxied"]);
    let o = run(c).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "proxied\n");
    assert!(text(&o.stderr).contains("starting"), "{}", text(&o.stderr));
}

/// `aicockpit ssh sshws -- COMMAND…` with no saved session or config.
fn cli_ssh(ts: &TestServer, home: &Path, token: &str, command: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_aicockpit"));
    c.args(["--server", &ts.url, "ssh", "sshws", "--"])
        .args(command)
        .env("HOME", home)
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("AICOCKPIT_CLI_CONFIG")
        .env("AICOCKPIT_TOKEN", token)
        .stdin(Stdio::null());
    c
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

async fn connect_retrying(port: u16) -> tokio::net::TcpStream {
    for _ in 0..100 {
        if let Ok(s) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("nothing listens on {port}");
}
