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

pub(crate) fn git(dir: &Path, args: &[&str]) -> String {
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
pub(crate) struct GitServer {
    pub(crate) repos: std::path::PathBuf,
    child: Child,
    pub(crate) url: String,
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

/// Publishes a repository `name` on `srv` holding `files`.
pub(crate) fn publish(srv: &GitServer, name: &str, files: &[(&str, &str)]) -> String {
    let work = tempfile::tempdir().expect("tempdir");
    git(work.path(), &["init", "-q", "-b", "main"]);
    for (path, content) in files {
        let p = work.path().join(path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, content).expect("write");
    }
    git(work.path(), &["add", "."]);
    git(work.path(), &["commit", "-q", "-m", "project"]);
    let bare = srv.repos.join(format!("{name}.git"));
    git(
        work.path(),
        &["clone", "-q", "--bare", ".", bare.to_str().expect("path")],
    );
    format!("{}/{name}.git", srv.url)
}

pub(crate) fn git_server() -> GitServer {
    git_server_with(None)
}

/// The same, with the repositories under `/private/` behind basic auth
/// (`user:password`).
pub(crate) fn git_server_with(auth: Option<&str>) -> GitServer {
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
    std::fs::create_dir_all(repos.join("private")).expect("private");
    git(
        root.path(),
        &["clone", "-q", "--bare", "work", "repos/private/secret.git"],
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
        .args(
            auth.map(|a| ["0".to_owned(), a.to_owned()])
                .into_iter()
                .flatten(),
        )
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
        repos,
        child,
        url: format!("http://{}:{port}", host_ip()),
        _root: root,
        v1,
    }
}

/// Follows the setup until it ends; returns its last answer and every
/// line seen.
pub(crate) async fn follow(api: &crate::common::Api, ws: &str) -> (Value, Vec<String>) {
    let mut lines: Vec<String> = Vec::new();
    let mut next = 0u64;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
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

/// Whether `needle` appears anywhere in the audit log `api` may read.
pub(crate) async fn audit_rows(api: &crate::common::Api, action: &str) -> Vec<Value> {
    let (s, rows) = api
        .get(&format!("/api/v1/audit?action={action}&limit=100"))
        .await;
    assert_eq!(s, StatusCode::OK, "{rows}");
    rows.as_array()
        .or_else(|| rows["entries"].as_array())
        .cloned()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_repository_clones_and_pushes_with_a_stored_token_never_written_inside() {
    const TOKEN: &str = "tok-3f9a1c77e2d5b8aa41";
    let srv = git_server_with(Some(&format!("alice:{TOKEN}")));
    let ts = TestServer::start_with(|c| {
        c.workspaces.network_pool = "10.221.0.0/16".into();
        c.workspaces.block_host_access = false;
    })
    .await;
    let alice = ts.api(&ts.user("alice", aicockpit_core::auth::Role::Member).await);
    let url = format!("{}/private/secret.git", srv.url);

    // Stored sealed; no answer ever carries the token.
    let (s, c) = alice
        .post(
            "/api/v1/git-credentials",
            json!({"url": srv.url, "username": "alice", "token": TOKEN}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    assert_eq!(c["origin"], srv.url.as_str(), "{c}");
    assert!(!c.to_string().contains(TOKEN), "{c}");
    let (s, list) = alice.get("/api/v1/git-credentials").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert!(!list.to_string().contains(TOKEN), "{list}");

    // The clone asks the server through the agent and gets it.
    let (s, w) = alice
        .post(
            "/api/v1/workspaces",
            json!({"name": "private", "template": "base", "git": {"url": url}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{w}");
    let ws_id = w["id"].as_str().expect("id").to_owned();
    let (v, lines) = follow(&alice, "private").await;
    assert_eq!(v["state"], "succeeded", "{v} {lines:?}");
    assert_eq!(
        alice.sh("private", "cat README.md").await.1,
        "version two\n"
    );

    // git push from inside works with the same credential.
    let (code, out, err) = alice
        .sh(
            "private",
            "git -c user.name=a -c user.email=a@example.com commit -q --allow-empty -m 'from the workspace' \
             && git push -q origin HEAD:main 2>&1 && git rev-parse HEAD",
        )
        .await;
    assert_eq!(code, 0, "{out} {err}");
    let pushed = out.trim().lines().last().unwrap_or_default().to_owned();
    let on_server = git(
        &srv.repos.join("private/secret.git"),
        &["rev-parse", "main"],
    );
    assert_eq!(on_server, pushed, "the push reached the git server");

    // The token is nowhere in the workspace: files, environments, git's
    // configuration (looked at as root, everywhere but kernel files).
    let admin = ts.admin_api();
    let (s, r) = admin
        .post(
            &format!("/api/v1/workspaces/{ws_id}/exec"),
            json!({"argv": ["sh", "-c", format!(
                "grep -rl --exclude-dir=proc --exclude-dir=sys --exclude-dir=dev -e '{TOKEN}' / 2>/dev/null; \
                 cat /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n' | grep -c -e '{TOKEN}'; \
                 git -C /workspace config --list --show-origin | grep -c -e '{TOKEN}'; \
                 grep -c aicockpit-git-credential /etc/gitconfig"
            )], "user": "root", "timeout_secs": 120}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(
        r["stdout"], "0\n0\n1\n",
        "no file, environment or config holds the token: {r}"
    );

    // Each use is on the record, without the token.
    let used = audit_rows(&admin, "git_credential.use").await;
    assert!(
        used.iter()
            .any(|r| r["workspace_id"] == ws_id.as_str()
                && r["detail"]["origin"] == srv.url.as_str()),
        "{used:?}"
    );
    assert!(!serde_json::to_string(&used)
        .unwrap_or_default()
        .contains(TOKEN));
    let created = audit_rows(&admin, "git_credential.create").await;
    assert_eq!(created.len(), 1, "{created:?}");
    let (_, list) = alice.get("/api/v1/git-credentials").await;
    assert!(list[0]["last_used_at"].is_string(), "{list}");

    // A flood of asks from inside: at most 60 a minute are answered, the
    // excess is noted once.
    let host = srv.url.trim_start_matches("http://");
    let (code, out, err) = alice
        .sh(
            "private",
            &format!(
                "n=0; for i in $(seq 70); do \
                   printf 'protocol=http\\nhost={host}\\n\\n' | aicockpit-git-credential get | grep -q password= && n=$((n+1)); \
                 done; echo $n"
            ),
        )
        .await;
    assert_eq!(code, 0, "{err}");
    let answered: u32 = out.trim().parse().unwrap_or(999);
    assert!(
        (50..=60).contains(&answered),
        "answered {answered} of 70: {out}"
    );
    assert_eq!(
        audit_rows(&admin, "git_credential.throttled").await.len(),
        1
    );

    // Another user's workspace gets nothing of alice's.
    let carol = ts.api(&ts.user("carol", aicockpit_core::auth::Role::Member).await);
    let (s, v) = carol
        .delete(&format!(
            "/api/v1/git-credentials/{}",
            c["id"].as_str().unwrap_or("?")
        ))
        .await;
    assert_error(s, &v, StatusCode::NOT_FOUND, "not_found");
    let (s, _) = carol
        .post(
            "/api/v1/workspaces",
            json!({"name": "nosy", "template": "base", "git": {"url": url}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (v, lines) = follow(&carol, "nosy").await;
    assert_eq!(v["state"], "failed", "{lines:?}");
    assert_eq!(v["error_code"], "authentication", "{v}");

    // A wrong token: a clear failure that says which credential to fix,
    // and the credential is marked as refused.
    let bob = ts.api(&ts.user("bob", aicockpit_core::auth::Role::Member).await);
    let (s, _) = bob
        .post(
            "/api/v1/git-credentials",
            json!({"url": srv.url, "username": "alice", "token": "wrong"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = bob
        .post(
            "/api/v1/workspaces",
            json!({"name": "wrong", "template": "base", "git": {"url": url}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (v, lines) = follow(&bob, "wrong").await;
    assert_eq!(v["state"], "failed", "{lines:?}");
    assert_eq!(v["error_code"], "authentication", "{v}");
    let msg = v["error"].as_str().unwrap_or_default();
    assert!(
        msg.contains("git credential for") && msg.contains(srv.url.as_str()),
        "{msg}"
    );
    let (_, list) = bob.get("/api/v1/git-credentials").await;
    assert!(list[0]["rejected_at"].is_string(), "{list}");
    assert!(!audit_rows(&admin, "git_credential.rejected")
        .await
        .is_empty());

    // Deleting it stops it being given.
    let (s, _) = alice
        .delete(&format!(
            "/api/v1/git-credentials/{}",
            c["id"].as_str().unwrap_or("?")
        ))
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (code, out, _) = alice
        .sh(
            "private",
            "GIT_TERMINAL_PROMPT=0 git fetch -q origin 2>&1; echo \"rc=$?\"",
        )
        .await;
    assert_eq!(code, 0);
    assert!(!out.contains("rc=0"), "fetch without a credential: {out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_git_credentials_are_refused() {
    let ts = TestServer::start().await;
    let member = ts.api(&ts.user("creds", aicockpit_core::auth::Role::Member).await);
    let viewer = ts.api(
        &ts.user("creds-viewer", aicockpit_core::auth::Role::Viewer)
            .await,
    );
    let long = "x".repeat(5000);
    let cases: Vec<(Value, StatusCode, &str)> = vec![
        (
            json!({"url": "https://github.com/org/repo", "token": "t"}),
            StatusCode::BAD_REQUEST,
            "invalid_git_credential",
        ),
        (
            json!({"url": "https://me:pw@github.com", "token": "t"}),
            StatusCode::BAD_REQUEST,
            "invalid_git_credential",
        ),
        (
            json!({"url": "ssh://git@github.com", "token": "t"}),
            StatusCode::BAD_REQUEST,
            "invalid_git_credential",
        ),
        (
            json!({"url": "file:///etc", "token": "t"}),
            StatusCode::BAD_REQUEST,
            "invalid_git_credential",
        ),
        (
            json!({"url": "https://github.com?x=1", "token": "t"}),
            StatusCode::BAD_REQUEST,
            "invalid_git_credential",
        ),
        (
            json!({"url": "https://github.com", "token": "a\nprotocol=http"}),
            StatusCode::BAD_REQUEST,
            "invalid_git_credential",
        ),
        (
            json!({"url": "https://github.com", "username": "a\nb", "token": "t"}),
            StatusCode::BAD_REQUEST,
            "invalid_git_credential",
        ),
        (
            json!({"url": "https://github.com", "token": ""}),
            StatusCode::BAD_REQUEST,
            "invalid_git_credential",
        ),
        (
            json!({"url": "https://github.com", "token": long}),
            StatusCode::BAD_REQUEST,
            "invalid_git_credential",
        ),
        (
            json!({"url": "https://github.com"}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({"url": "https://github.com", "token": "t", "extra": 1}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
    ];
    for (body, status, code) in cases {
        let (s, v) = member.post("/api/v1/git-credentials", body.clone()).await;
        assert_eq!(s, status, "{body}: {v}");
        assert_eq!(v["error"]["code"], code, "{body}: {v}");
    }
    let (s, _) = member
        .post(
            "/api/v1/git-credentials",
            json!({"url": "https://GitHub.com/", "token": "t"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, v) = member
        .post(
            "/api/v1/git-credentials",
            json!({"url": "https://github.com:443", "token": "t2"}),
        )
        .await;
    assert_error(s, &v, StatusCode::CONFLICT, "git_credential_exists");
    // Replaced on request: one credential for the origin, the new one.
    let (_, before) = member.get("/api/v1/git-credentials").await;
    let (s, v) = member
        .post(
            "/api/v1/git-credentials",
            json!({"url": "https://github.com:443", "username": "new-user", "token": "t2", "replace": true}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (_, after) = member.get("/api/v1/git-credentials").await;
    let github: Vec<&Value> = after
        .as_array()
        .expect("a list")
        .iter()
        .filter(|c| c["origin"] == "https://github.com")
        .collect();
    assert_eq!(github.len(), 1, "{after}");
    assert_eq!(github[0]["username"], "new-user");
    assert_ne!(github[0]["id"], before[0]["id"]);
    let (s, v) = member.delete("/api/v1/git-credentials/nope").await;
    assert_error(s, &v, StatusCode::NOT_FOUND, "not_found");
    let (s, v) = viewer
        .post(
            "/api/v1/git-credentials",
            json!({"url": "https://github.com", "token": "t"}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let anon = ts.anonymous();
    let (s, _) = anon.get("/api/v1/git-credentials").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}
