//! Per-user SSH keys made by the server and used through each workspace's
//! SSH agent, with the real OpenSSH tools: `ssh-add -L` inside lists the
//! owner's key, `ssh-keygen -Y sign` signs with it and the host's
//! `ssh-keygen -Y verify` accepts the signature; the private key never
//! enters the workspace; another user's workspace gets nothing; a command
//! under the AI's sandbox is not served; each signature is audited.

use crate::common::{assert_error, Api, TestServer};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

/// Waits until the workspace's agent daemon serves its SSH agent, then
/// gives what `ssh-add -L` says.
async fn identities(api: &Api, ws: &str) -> (i64, String) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (code, out, err) = api.sh(ws, "ssh-add -L").await;
        // 2: no agent yet (the daemon starts with the workspace's link).
        if code != 2 || tokio::time::Instant::now() > deadline {
            return (code, format!("{out}{err}"));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

async fn workspace(api: &Api, name: &str) {
    let (s, v) = api
        .post(
            "/api/v1/workspaces",
            json!({"name": name, "template": "base"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_made_ssh_key_signs_through_the_workspace_agent_and_nowhere_else() {
    let ts = TestServer::start().await;
    let alice = ts.api(
        &ts.user("agent-alice", aicockpit_core::auth::Role::Member)
            .await,
    );
    let bob = ts.api(
        &ts.user("agent-bob", aicockpit_core::auth::Role::Member)
            .await,
    );

    let (s, none) = alice.get("/api/v1/ssh-key").await;
    assert_eq!((s, none), (StatusCode::OK, Value::Null));
    let (s, key) = alice.post("/api/v1/ssh-key", json!({})).await;
    assert_eq!(s, StatusCode::CREATED, "{key}");
    let public = key["public_key"].as_str().unwrap_or_default().to_owned();
    assert!(public.starts_with("ssh-ed25519 AAAA"), "{public}");
    assert!(public.ends_with(" aicockpit:agent-alice"), "{public}");
    assert!(key["fingerprint"]
        .as_str()
        .unwrap_or_default()
        .starts_with("SHA256:"));
    assert!(!key.to_string().contains("PRIVATE"), "{key}");

    workspace(&alice, "keyed").await;
    let (code, listed) = identities(&alice, "keyed").await;
    assert_eq!(code, 0, "{listed}");
    assert_eq!(
        listed.trim(),
        public,
        "the agent offers exactly the user's key"
    );

    // A signature by the key, verified on this host by OpenSSH.
    let script = format!(
        "printf '%s\\n' '{public}' > /tmp/k.pub && echo 'signed in a workspace' > /tmp/msg \
         && ssh-keygen -Y sign -f /tmp/k.pub -n git /tmp/msg >/dev/null 2>&1 && cat /tmp/msg.sig"
    );
    let (code, sig, err) = alice.sh("keyed", &script).await;
    assert_eq!(code, 0, "{err}");
    assert!(sig.contains("BEGIN SSH SIGNATURE"), "{sig}");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("allowed"), format!("alice {public}\n")).expect("write");
    std::fs::write(dir.path().join("msg.sig"), &sig).expect("write");
    let verify = tokio::task::block_in_place(|| {
        let mut child = std::process::Command::new("ssh-keygen")
            .args(["-Y", "verify", "-f"])
            .arg(dir.path().join("allowed"))
            .args(["-I", "alice", "-n", "git", "-s"])
            .arg(dir.path().join("msg.sig"))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("ssh-keygen");
        use std::io::Write;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(b"signed in a workspace\n")
            .expect("write");
        child.wait_with_output().expect("verify")
    });
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );

    // The private key is nowhere in the workspace: no key file, no
    // environment but the socket's path.
    let (_, out, _) = alice
        .sh("keyed", "ls ~/.ssh 2>/dev/null; env | grep -i ssh")
        .await;
    assert_eq!(out, "SSH_AUTH_SOCK=/tmp/aicockpit-ssh-agent.sock\n");

    // Under the AI's sandbox the agent does not answer.
    let spec =
        json!({"writable": ["/workspace"], "read_only": [], "unreadable": [], "network": false});
    let (code, out, err) = alice
        .sh(
            "keyed",
            &format!(
                "a=$(ls /.aicockpit/workspace-agent-* | head -n1); \"$a\" sandbox '{spec}' -- ssh-add -L"
            ),
        )
        .await;
    assert_ne!(code, 0, "{out}{err}");
    assert_ne!(code, 125, "the sandbox itself must run: {err}");
    assert!(!out.contains("ssh-ed25519"), "{out}");
    // (Because the sandbox marks what it runs with one more seccomp filter.)
    let filters = |out: &str| -> u32 {
        out.trim()
            .rsplit(char::is_whitespace)
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    let (_, plain, _) = alice
        .sh("keyed", "grep Seccomp_filters /proc/self/status")
        .await;
    let (_, marked, err) = alice
        .sh(
            "keyed",
            &format!(
                "a=$(ls /.aicockpit/workspace-agent-* | head -n1); \"$a\" sandbox '{spec}' -- grep Seccomp_filters /proc/self/status"
            ),
        )
        .await;
    assert_eq!(
        filters(&marked),
        filters(&plain) + 1,
        "{plain} {marked} {err}"
    );

    // Someone else's workspace gets nothing of alice's.
    workspace(&bob, "unkeyed").await;
    let (code, listed) = identities(&bob, "unkeyed").await;
    assert_eq!(code, 1, "{listed}");
    assert!(listed.contains("no identities"), "{listed}");

    // Each signature is on the record; a replaced key is offered instead.
    let (_, rows) = ts
        .admin_api()
        .get("/api/v1/audit?action=ssh_key.use&limit=10")
        .await;
    let rows = rows.as_array().cloned().unwrap_or_default();
    assert!(
        rows.iter()
            .any(|r| r["detail"]["fingerprint"] == key["fingerprint"]),
        "{rows:?}"
    );
    let (_, key2) = alice.post("/api/v1/ssh-key", json!({})).await;
    assert_ne!(key2["public_key"], key["public_key"]);
    let (_, listed) = identities(&alice, "keyed").await;
    assert_eq!(
        listed.trim(),
        key2["public_key"].as_str().unwrap_or_default()
    );
    let (s, _) = alice.delete("/api/v1/ssh-key").await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (code, listed) = identities(&alice, "keyed").await;
    assert_eq!(code, 1, "{listed}");
    let (s, v) = alice.delete("/api/v1/ssh-key").await;
    assert_error(s, &v, StatusCode::NOT_FOUND, "not_found");
    // Viewers cannot make keys.
    let viewer = ts.api(
        &ts.user("agent-viewer", aicockpit_core::auth::Role::Viewer)
            .await,
    );
    let (s, v) = viewer.post("/api/v1/ssh-key", json!({})).await;
    assert_error(s, &v, StatusCode::FORBIDDEN, "forbidden");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_makes_shows_and_deletes_the_ssh_key() {
    let ts = TestServer::start().await;
    let member = ts
        .user("cli-keys", aicockpit_core::auth::Role::Member)
        .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let run = |args: &[&str]| ts.cli_as(&member, dir.path(), args);
    let out = run(&["ssh-key", "show"]);
    assert_eq!(out.status.code(), Some(4), "{:?}", out);
    assert!(String::from_utf8_lossy(&out.stderr).contains("ssh-key generate"));
    let out = run(&["ssh-key", "generate"]);
    assert_eq!(out.status.code(), Some(0), "{:?}", out);
    let made = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(made.starts_with("ssh-ed25519 "), "{made}");
    let out = run(&["ssh-key", "show"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), made);
    let out = run(&["--json", "ssh-key", "show"]);
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["public_key"], made.as_str());
    let out = run(&["ssh-key", "rm"]);
    assert_eq!(out.status.code(), Some(0), "{:?}", out);
    let out = run(&["ssh-key", "rm"]);
    assert_eq!(out.status.code(), Some(4), "{:?}", out);
}

/// A command under the AI's sandbox that outlives itself and takes the
/// agent daemon's (abstract) socket name is not taken for the daemon: the
/// server's bridge sees the sandbox's mark on what answers and refuses it,
/// so nothing the server sends (credentials, signatures, terminals) reaches
/// it; once it is gone, a real daemon serves again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sandboxed_squatter_on_the_daemons_socket_is_not_the_daemon() {
    let ts = TestServer::start().await;
    let api = ts.admin_api();
    workspace(&api, "squat").await;
    let ports = |api: Api| async move { api.get("/api/v1/workspaces/squat/terminals").await.0 };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while ports(ts.admin_api()).await != StatusCode::OK {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the agent never answered"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let spec =
        json!({"writable": ["/workspace"], "read_only": [], "unreadable": [], "network": false});
    let (code, _, err) = api
        .sh(
            "squat",
            &format!(
                "a=$(ls /.aicockpit/workspace-agent-* | head -n1); h=${{a##*-}}; \
                 pkill -f \"$a daemon\"; sleep 0.5; \
                 setsid nohup \"$a\" sandbox '{spec}' -- \"$a\" daemon --root /workspace \
                 --socket @aicockpit-workspace-agent-$h >/dev/null 2>&1 < /dev/null & sleep 1; \
                 grep -l Seccomp /proc/[0-9]*/status >/dev/null"
            ),
        )
        .await;
    assert_eq!(code, 0, "{err}");
    // (The first ask after the daemon died finds the old link gone; the
    // next ones make a new one, which must refuse what answers.)
    for _ in 0..6 {
        let (s, body) = ts
            .admin_api()
            .get("/api/v1/workspaces/squat/terminals")
            .await;
        assert_ne!(
            s,
            StatusCode::OK,
            "the server talked to a sandboxed daemon: {body}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Gone, and the workspace is served again.
    let (code, _, err) = api
        .sh("squat", "pkill -f '[w]orkspace-agent-.* daemon'; true")
        .await;
    assert_eq!(code, 0, "{err}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while ports(ts.admin_api()).await != StatusCode::OK {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the agent never came back"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
