//! Creating a workspace from a git repository, against a real git server:
//! git's own `http-backend` (smart HTTP) on this host, behind a small
//! Python HTTP server (`fixtures/git_http.py`). Branch, tag, commit, shallow clones; failures that say what
//! went wrong and leave the workspace running with its log; hostile
//! sources refused before anything is made.

use crate::common::{assert_error, TestServer};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A smart-HTTP git server for the repositories under `root/repos`.
struct GitServer {
    child: Child,
    url: String,
    _root: tempfile::TempDir,
    /// The commit tagged v1.
    v1: String,
}

impl Drop for GitServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

/// An address of this host that a workspace's bridge routes to.
fn host_ip() -> String {
    std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| s.connect("8.8.8.8:53").map(|_| s))
        .and_then(|s| s.local_addr())
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|_| "172.17.0.1".into())
}

fn git_server() -> GitServer {
    let root = tempfile::tempdir().expect("tempdir");
    let repos = root.path().join("repos");
    let work = root.path().join("work");
    std::fs::create_dir_all(&repos).expect("repos");
    std::fs::create_dir_all(&work).expect("work");
    git(&work, &["init", "-q", "-b", "main"]);
    std::fs::write(work.join("README.md"), "version one\n").expect("write");
    git(&work, &["add", "."]);
    git(&work, &["commit", "-q", "-m", "one"]);
    git(&work, &["tag", "v1"]);
    let v1 = git(&work, &["rev-parse", "HEAD"]);
    std::fs::write(work.join("README.md"), "version two\n").expect("write");
    git(&work, &["commit", "-q", "-am", "two"]);
    git(&work, &["checkout", "-q", "-b", "feature"]);
    std::fs::write(work.join("feature.txt"), "on a branch\n").expect("write");
    git(&work, &["add", "."]);
    git(&work, &["commit", "-q", "-m", "feature"]);
    git(&work, &["checkout", "-q", "main"]);
    git(
        root.path(),
        &["clone", "-q", "--bare", "work", "repos/public.git"],
    );
    let port = std::net::TcpListener::bind("0.0.0.0:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let python = std::env::var("AICOCKPIT_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/git_http.py");
    let child = Command::new(python)
        .arg(script)
        .arg(port.to_string())
        .arg(&repos)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("python http.server");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    GitServer {
        child,
        url: format!("http://{}:{port}", host_ip()),
        _root: root,
        v1,
    }
}

/// Follows the setup until it ends; returns its last answer and every
/// line seen.
async fn follow(api: &crate::common::Api, ws: &str) -> (Value, Vec<String>) {
    let mut lines: Vec<String> = Vec::new();
    let mut next = 0u64;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let (s, v) = api
            .get(&format!("/api/v1/workspaces/{ws}/setup?from={next}"))
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let from = v["from"].as_u64().expect("from") as usize;
        lines.truncate(from);
        for l in v["lines"].as_array().expect("lines") {
            lines.push(l.as_str().unwrap_or_default().to_owned());
        }
        next = v["next"].as_u64().expect("next");
        if v["state"] != "running" {
            return (v, lines);
        }
        assert!(tokio::time::Instant::now() < deadline, "{lines:?}");
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workspace_starts_from_a_git_repository_at_a_branch_tag_or_commit() {
    let srv = git_server();
    // Outside the pool the host firewall guards (other tests' servers
    // keep that chain), so workspaces here may reach this host's git
    // server.
    let ts = TestServer::start_with(|c| {
        c.workspaces.network_pool = "10.219.0.0/16".into();
        c.workspaces.block_host_access = false;
    })
    .await;
    let api = ts.admin_api();
    let url = format!("{}/public.git", srv.url);

    // The default branch.
    let (s, w) = api
        .post(
            "/api/v1/workspaces",
            json!({"name": "cloned", "template": "base", "git": {"url": url}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{w}");
    let (v, lines) = follow(&api, "cloned").await;
    assert_eq!(v["state"], "succeeded", "{v} {lines:?}");
    assert!(
        lines.iter().any(|l| l.contains("Cloning into")),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.contains("aicockpit: cloned")),
        "{lines:?}"
    );
    let (code, out, err) = api
        .sh(
            "cloned",
            "cat README.md; git branch --show-current; stat -c %u .git README.md | sort -u",
        )
        .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out, "version two\nmain\n1000\n",
        "owned by the workspace user"
    );
    let (_, rows) = api.get("/api/v1/audit?limit=100").await;
    let row = rows
        .as_array()
        .or_else(|| rows["entries"].as_array())
        .into_iter()
        .flatten()
        .find(|r| r["action"] == "workspace.git_clone" && r["workspace_id"] == w["id"])
        .cloned()
        .unwrap_or_else(|| panic!("no git_clone row: {rows}"));
    assert_eq!(row["detail"]["url"], url.as_str(), "{row}");
    assert_eq!(row["result"], "ok", "{row}");
    // Nobody else follows it.
    let bob = ts.api(&ts.user("git-bob", aicockpit_core::auth::Role::Member).await);
    let (s, v) = bob.get("/api/v1/workspaces/cloned/setup").await;
    assert_error(s, &v, StatusCode::NOT_FOUND, "not_found");
    let (s, v) = bob
        .get(&format!(
            "/api/v1/workspaces/{}/setup",
            w["id"].as_str().unwrap_or("?")
        ))
        .await;
    assert_error(s, &v, StatusCode::NOT_FOUND, "not_found");

    // A tag, shallow.
    let (s, v) = api.post(
        "/api/v1/workspaces",
        json!({"name": "tagged", "template": "base", "git": {"url": url, "ref": "v1", "depth": 1}}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (v, _) = follow(&api, "tagged").await;
    assert_eq!(v["state"], "succeeded", "{v}");
    let (_, out, _) = api
        .sh(
            "tagged",
            "cat README.md; git rev-parse --is-shallow-repository",
        )
        .await;
    assert_eq!(out, "version one\ntrue\n");

    // A branch, and a commit by its id.
    let (s, v) = api
        .post(
            "/api/v1/workspaces",
            json!({"name": "branch", "template": "base", "git": {"url": url, "ref": "feature"}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (v, _) = follow(&api, "branch").await;
    assert_eq!(v["state"], "succeeded", "{v}");
    assert_eq!(api.sh("branch", "cat feature.txt").await.1, "on a branch\n");
    let (s, v) = api
        .post(
            "/api/v1/workspaces",
            json!({"name": "commit", "template": "base", "git": {"url": url, "ref": srv.v1}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (v, _) = follow(&api, "commit").await;
    assert_eq!(v["state"], "succeeded", "{v}");
    assert_eq!(
        api.sh("commit", "git rev-parse HEAD").await.1.trim(),
        srv.v1
    );

    // Failures say what went wrong; the workspace runs on, with its log.
    let host = url.split('/').nth(2).unwrap_or_default().to_owned();
    let closed = std::net::TcpListener::bind("0.0.0.0:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let ip = host.split(':').next().unwrap_or_default().to_owned();
    let failures = [
        (
            "noref",
            json!({"url": url, "ref": "no-such-branch"}),
            "unknown_ref",
        ),
        (
            "nocommit",
            json!({"url": url, "ref": "0123456789abcdef0123"}),
            "unknown_ref",
        ),
        (
            "norepo",
            json!({"url": format!("{}/missing.git", srv.url)}),
            "not_found",
        ),
        (
            "nonet",
            json!({"url": format!("http://{ip}:{closed}/r.git")}),
            "network",
        ),
    ];
    for (name, git, want) in failures {
        let (s, w) = api
            .post(
                "/api/v1/workspaces",
                json!({"name": name, "template": "base", "git": git}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{w}");
        let (v, lines) = follow(&api, name).await;
        assert_eq!(v["state"], "failed", "{name}: {v}");
        assert_eq!(v["error_code"], want, "{name}: {v} {lines:?}");
        assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()));
        assert!(!lines.is_empty(), "{name}: the log is kept");
        let (_, again) = api.get(&format!("/api/v1/workspaces/{name}")).await;
        assert_eq!(again["state"], "running", "{again}");
        let (_, rows) = api.get("/api/v1/audit?limit=200").await;
        let failed = rows
            .as_array()
            .or_else(|| rows["entries"].as_array())
            .into_iter()
            .flatten()
            .any(|r| {
                r["action"] == "workspace.git_clone"
                    && r["workspace_id"] == w["id"]
                    && r["result"] == "failed"
                    && r["detail"]["error"]["code"] == want
            });
        assert!(failed, "{name}: no failed git_clone row");
    }

    // Hostile sources are refused before anything is made.
    let hostile = [
        json!({"url": "file:///etc"}),
        json!({"url": "ext::sh -c touch% /tmp/pwned"}),
        json!({"url": "-uhttps://x/r"}),
        json!({"url": "/srv/repo"}),
        json!({"url": "https://user:secret@example.com/r.git"}),
        json!({"url": "https://x\\:TOKEN@example.com/r.git"}),
        json!({"url": "ssh://-oProxyCommand=touch%20x/r"}),
        json!({"url": url, "ref": "--upload-pack=touch /tmp/x"}),
        json!({"url": url, "depth": 0}),
    ];
    for git in hostile {
        let (s, v) = api
            .post(
                "/api/v1/workspaces",
                json!({"name": "hostile", "template": "base", "git": git}),
            )
            .await;
        assert_error(s, &v, StatusCode::BAD_REQUEST, "invalid_git_source");
    }
    let (_, list) = api.get("/api/v1/workspaces").await;
    assert!(
        !list.to_string().contains("\"hostile\""),
        "nothing was made: {list}"
    );
    // The CLI shows the clone's progress and says how it ended.
    let cli = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_aicockpit"))
            .args(args)
            .env("AICOCKPIT_URL", &ts.url)
            .env("AICOCKPIT_TOKEN", &ts.admin)
            .env("AICOCKPIT_CLI_CONFIG", ts.data_dir.join("cli.toml"))
            .output()
            .expect("cli")
    };
    let out = cli(&["ws", "create", "fromcli", "--git", &url, "--ref", "v1"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("Cloning into"), "{err}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("cloned"),
        "{out:?}"
    );
    assert_eq!(api.sh("fromcli", "cat README.md").await.1, "version one\n");
    let out = cli(&["ws", "create", "badcli", "--git", &url, "--ref", "nope"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("unknown_ref") && err.contains("nope"), "{err}");

    // A workspace without a setup says so.
    api.create_ws("plain").await;
    let (s, v) = api.get("/api/v1/workspaces/plain/setup").await;
    assert_error(s, &v, StatusCode::NOT_FOUND, "not_found");
}
