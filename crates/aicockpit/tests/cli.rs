//! The `aicockpit` CLI as scripts use it: output, JSON, and exit codes.

use crate::common::TestServer;
use serde_json::Value;
use std::io::Write;
use std::process::{Command, Output, Stdio};

struct Cli<'a> {
    ts: &'a TestServer,
    config: std::path::PathBuf,
}

impl Cli<'_> {
    fn run(&self, args: &[&str], stdin: Option<&str>, token: Option<&str>) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_aicockpit"));
        cmd.args(args)
            .env("AICOCKPIT_SERVER__DATA_DIR", &self.ts.data_dir)
            .env("AICOCKPIT_CLI_CONFIG", &self.config)
            .env_remove("AICOCKPIT_URL")
            .env_remove("AICOCKPIT_TOKEN")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(t) = token {
            cmd.env("AICOCKPIT_TOKEN", t);
        }
        let mut child = cmd.spawn().expect("spawn cli");
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(input.as_bytes())
                .expect("write stdin");
        }
        drop(child.stdin.take());
        child.wait_with_output().expect("cli output")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args, None, None);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn code(&self, args: &[&str]) -> i32 {
        self.run(args, None, None).status.code().unwrap_or(-1)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_drives_the_whole_lifecycle_with_trustworthy_exit_codes() {
    let ts = TestServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cli = Cli {
        ts: &ts,
        config: dir.path().join("cli.json"),
    };

    // Users and tokens straight in the data dir.
    let out = cli.run(
        &[
            "users",
            "add",
            "alice",
            "--role",
            "member",
            "--password-stdin",
        ],
        Some("alice-password\n"),
        None,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cli.run(
        &["users", "add", "alice", "--password-stdin"],
        Some("alice-password\n"),
        None,
    );
    assert_eq!(out.status.code(), Some(5), "duplicate user is a conflict");
    let out = cli.run(
        &["users", "add", "bob", "--password-stdin"],
        Some("short\n"),
        None,
    );
    assert_eq!(out.status.code(), Some(2), "weak password is invalid input");
    let tok: Value = serde_json::from_str(&cli.ok(&[
        "tokens", "create", "--user", "alice", "--name", "ci", "--json",
    ]))
    .expect("token json");
    let api_token = tok["token"].as_str().expect("token").to_owned();

    // Login saves a private session.
    let out = cli.run(
        &[
            "login",
            "--server",
            &ts.url,
            "-u",
            "alice",
            "--password-stdin",
        ],
        Some("alice-password\n"),
        None,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&cli.config)
        .expect("session file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    let created: Value = serde_json::from_str(&cli.ok(&[
        "ws", "create", "clitest", "--memory", "512", "-e", "X=1", "--json",
    ]))
    .expect("json");
    assert_eq!(created["name"], "clitest");
    assert_eq!(created["limits"]["memory_mb"], 512);
    let ls = cli.ok(&["ws", "ls"]);
    assert!(ls.contains("clitest") && ls.contains("running"), "{ls}");
    let show = cli.ok(&["ws", "show", "clitest"]);
    assert!(show.contains("512 MiB"), "{show}");

    // Starting from an archive.
    let zip_path = dir.path().join("project.zip");
    std::fs::write(
        &zip_path,
        crate::workspace_agent::zip_of(&[("src/", b""), ("src/a.txt", b"from the zip\n")], &[]),
    )
    .expect("zip");
    let made = cli.ok(&[
        "ws",
        "create",
        "fromzip",
        "--archive",
        zip_path.to_str().expect("path"),
    ]);
    assert!(made.contains("unpacked 2 entries"), "{made}");
    assert_eq!(
        cli.ok(&["ws", "exec", "fromzip", "--", "cat", "src/a.txt"]),
        "from the zip\n"
    );
    assert_eq!(
        cli.code(&["ws", "create", "nozip", "--archive", "/nonexistent.zip"]),
        2,
        "a missing archive is a usage error, before anything is made"
    );
    // An archive with a devcontainer.json is shaped by it, as a repository is.
    let dc_zip = dir.path().join("with-dc.zip");
    std::fs::write(
        &dc_zip,
        crate::workspace_agent::zip_of(
            &[(
                ".devcontainer.json",
                br#"{"image": "localhost/aicockpit/base:latest", "containerEnv": {"FROM_ARCHIVE": "yes"}, "postCreateCommand": "echo made > made.txt"}"#,
            )],
            &[],
        ),
    )
    .expect("zip");
    let made = cli.ok(&[
        "ws",
        "create",
        "zipdc",
        "--archive",
        dc_zip.to_str().expect("path"),
    ]);
    assert!(made.contains("applied its devcontainer.json"), "{made}");
    assert_eq!(
        cli.ok(&[
            "ws",
            "exec",
            "zipdc",
            "--",
            "sh",
            "-c",
            "echo $FROM_ARCHIVE; cat made.txt"
        ]),
        "yes\nmade\n"
    );

    // Idle stop: a keep-alive and the workspace's own timeout.
    let kept = cli.ok(&[
        "keepalive",
        "clitest",
        "--for",
        "2h",
        "--reason",
        "long build",
    ]);
    assert!(kept.contains("kept running until"), "{kept}");
    let w: Value =
        serde_json::from_str(&cli.ok(&["ws", "show", "clitest", "--json"])).expect("json");
    assert_eq!(w["idle"]["keep_alive"]["reason"], "long build", "{w}");
    assert_eq!(
        cli.code(&["keepalive", "clitest", "--for", "2y", "--reason", "x"]),
        2
    );
    let idle = cli.ok(&["ws", "idle", "clitest", "30m"]);
    assert!(idle.contains("1800 s"), "{idle}");
    let idle = cli.ok(&["ws", "idle", "clitest", "default"]);
    assert!(idle.contains("server's idle timeout"), "{idle}");

    let out = cli.run(
        &[
            "ws",
            "exec",
            "clitest",
            "--",
            "sh",
            "-c",
            "echo hi; echo oops >&2; exit 7",
        ],
        None,
        None,
    );
    assert_eq!(out.status.code(), Some(7), "the command's exit code");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hi\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "oops\n");
    assert_eq!(
        cli.code(&[
            "ws",
            "exec",
            "clitest",
            "--timeout",
            "1",
            "--",
            "sleep",
            "30"
        ]),
        124
    );

    assert_eq!(cli.code(&["ws", "show", "nope"]), 4, "not found");
    assert_eq!(cli.code(&["ws", "create", "clitest"]), 5, "duplicate");
    assert_eq!(cli.code(&["ws", "create", "Bad_Name"]), 2, "invalid");
    assert_eq!(cli.code(&["ws", "frobnicate"]), 2, "usage");
    let out = cli.run(&["ws", "ls"], None, Some("acp_wrong"));
    assert_eq!(out.status.code(), Some(3), "bad token");
    let out = cli.run(&["ws", "ls", "--json"], None, Some(&api_token));
    assert_eq!(out.status.code(), Some(0));
    let list: Value = serde_json::from_slice(&out.stdout).expect("json list");
    assert_eq!(list[0]["name"], "clitest");

    cli.ok(&["ws", "stop", "clitest"]);
    assert_eq!(
        cli.code(&["ws", "exec", "clitest", "--", "true"]),
        5,
        "not running"
    );
    cli.ok(&["ws", "restart", "clitest"]);
    cli.ok(&[
        "ws",
        "exec",
        "clitest",
        "--",
        "sh",
        "-c",
        "echo mine > /workspace/kept",
    ]);
    let shown: Value = serde_json::from_str(&cli.ok(&["ws", "show", "clitest", "--json"]))
        .expect("json workspace");
    let first = shown["id"].as_str().expect("id").to_owned();

    // Deleted with its data kept; the data goes on in a new workspace,
    // and that one's is purged.
    cli.ok(&["ws", "rm", "clitest"]);
    assert_eq!(cli.code(&["ws", "show", "clitest"]), 4);
    assert!(cli.ok(&["ws", "kept"]).contains(&first));
    let made: Value = serde_json::from_str(&cli.ok(&[
        "ws",
        "create",
        "clitest2",
        "--from-kept",
        &first,
        "--json",
    ]))
    .expect("json workspace");
    let second = made["id"].as_str().expect("id").to_owned();
    let out = cli.ok(&["ws", "exec", "clitest2", "--", "cat", "/workspace/kept"]);
    assert_eq!(out, "mine\n");
    cli.ok(&["ws", "rm", "clitest2"]);
    let kept: Value =
        serde_json::from_str(&cli.ok(&["ws", "kept", "--json"])).expect("json kept list");
    assert_eq!(kept.as_array().map(Vec::len), Some(1), "{kept}");
    assert_eq!(kept[0]["workspace"], second.as_str());
    cli.ok(&["ws", "purge-kept", &second]);

    // Snapshot, fork, delete.
    cli.ok(&["ws", "create", "snapme"]);
    cli.ok(&[
        "ws",
        "exec",
        "snapme",
        "--",
        "sh",
        "-c",
        "echo snap > /workspace/s",
    ]);
    assert!(cli
        .ok(&["ws", "snapshot", "snapme", "--name", "snap1"])
        .contains("snap1"));
    assert!(cli.ok(&["ws", "snapshots"]).contains("snap1"));
    cli.ok(&["ws", "fork", "snap1", "snapfork"]);
    let out = cli.ok(&["ws", "exec", "snapfork", "--", "cat", "/workspace/s"]);
    assert_eq!(out, "snap\n");
    assert_eq!(
        cli.code(&["ws", "rm-snapshot", "snap1"]),
        5,
        "in use by the fork"
    );
    cli.ok(&["ws", "rm", "snapfork", "--purge"]);
    // Exported to a file and imported back (streamed both ways).
    let archive = std::env::temp_dir().join(format!("cli-snap-{}.tar", std::process::id()));
    let archive_s = archive.display().to_string();
    assert!(cli
        .ok(&["ws", "export-snapshot", "snap1", "-o", &archive_s])
        .contains("wrote"));
    cli.ok(&["ws", "rm-snapshot", "snap1"]);
    assert_eq!(cli.code(&["ws", "fork", "snap1", "again"]), 4, "gone");
    assert!(cli
        .ok(&["ws", "import-snapshot", &archive_s])
        .contains("imported snapshot snap1"));
    let _ = std::fs::remove_file(&archive);
    cli.ok(&["ws", "fork", "snap1", "snapback"]);
    let out = cli.ok(&["ws", "exec", "snapback", "--", "cat", "/workspace/s"]);
    assert_eq!(out, "snap\n");
    cli.ok(&["ws", "rm", "snapback", "--purge"]);
    cli.ok(&["ws", "rm-snapshot", "snap1"]);
    cli.ok(&["ws", "rm", "snapme", "--purge"]);
    assert_eq!(cli.code(&["ws", "purge-kept", &second]), 4, "already gone");
    assert!(!cli.ok(&["ws", "kept"]).contains(&second));
    cli.ok(&["logout"]);
    assert!(!cli.config.exists());
    assert_eq!(cli.code(&["ws", "ls"]), 3, "logged out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn git_credentials_are_added_listed_and_removed_without_the_token_ever_printed() {
    const TOKEN: &str = "tok-cli-c0ffee12";
    let ts = TestServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cli = Cli {
        ts: &ts,
        config: dir.path().join("cli.json"),
    };
    let member = ts.user("gitcli", aicockpit_core::auth::Role::Member).await;
    let run = |args: &[&str], stdin: Option<&str>| {
        let mut all = vec!["--server", ts.url.as_str()];
        all.extend_from_slice(args);
        cli.run(&all, stdin, Some(&member))
    };
    let out = run(
        &[
            "git-credential",
            "add",
            "https://git.example.com",
            "--username",
            "me",
            "--token-stdin",
        ],
        Some(&format!("{TOKEN}\n")),
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("https://git.example.com"), "{text}");
    let out = run(&["--json", "git-credentials", "ls"], None);
    let listed = String::from_utf8_lossy(&out.stdout).into_owned();
    let v: Value = serde_json::from_str(&listed).expect("json");
    assert_eq!(v[0]["origin"], "https://git.example.com", "{v}");
    assert_eq!(v[0]["username"], "me", "{v}");
    assert!(!listed.contains(TOKEN) && !text.contains(TOKEN));
    // A URL with a repository path is bad input (2); a second one for the
    // same server is a conflict (5); removing an unknown one is 4.
    let bad = run(
        &[
            "git-credential",
            "add",
            "https://git.example.com/org/repo.git",
            "--token-stdin",
        ],
        Some("t\n"),
    );
    assert_eq!(bad.status.code(), Some(2));
    let again = run(
        &[
            "git-credential",
            "add",
            "https://git.example.com",
            "--token-stdin",
        ],
        Some("t\n"),
    );
    assert_eq!(again.status.code(), Some(5));
    assert_eq!(
        run(&["git-credential", "rm", "https://other.example.com"], None)
            .status
            .code(),
        Some(4)
    );
    let out = run(&["git-credential", "rm", "https://git.example.com/"], None);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&["--json", "git-credential", "ls"], None);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "[]");
}
