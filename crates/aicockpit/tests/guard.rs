//! Attacks on the agent's guard, end to end: a scripted model asks for
//! hostile command lines in a real workspace, and marker files prove what
//! ran; an allowed command meets the kernel sandbox; the server survives
//! what the model sends.

use crate::assistant::{call, start, tool_calls, Events};
use crate::common::TestServer;
use crate::fake_ai;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// The policy of issue #9.
fn hostile_policy() -> Value {
    json!({
        "tools": {"list_files": "allow", "read_file": "allow", "search": "allow", "write_file": "ask",
                  "edit_file": "ask", "delete_file": "ask", "run_command": "ask"},
        "commands": [
            {"pattern": "ls", "decision": "allow"}, {"pattern": "cat", "decision": "allow"},
            {"pattern": "echo", "decision": "allow"}, {"pattern": "git status", "decision": "allow"},
            {"pattern": "true", "decision": "allow"},
            {"pattern": "rm", "decision": "deny"}, {"pattern": "curl", "decision": "deny"}],
        "paths": [{"glob": ".git/**", "write": "deny"}, {"glob": "secrets/**", "read": "deny", "write": "deny"}]
    })
}

async fn put_policy(ts: &TestServer, ws: &str, policy: &Value) {
    let r = reqwest::Client::new()
        .put(format!("{}/api/v1/workspaces/{ws}/policy", ts.url))
        .bearer_auth(&ts.admin)
        .json(policy)
        .send()
        .await
        .expect("policy");
    assert_eq!(r.status(), StatusCode::OK);
}

async fn add_fake_service(ts: &TestServer, fake: &fake_ai::FakeAi) {
    let (s, v) = ts
        .admin_api()
        .post("/api/v1/ai/services", json!({"name": "fake", "kind": "custom", "base_url": format!("{}/v1", fake.url), "default_model": "script"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
}

/// Every line would delete `victim` or leave a `pwned` marker if it ran.
/// "deny" lines must never run; "ask" lines run only when approved, and
/// this test approves none.
const LINES: &[(&str, &str)] = &[
    ("rm -f victim", "deny"),
    ("/bin/rm -f victim", "deny"),
    ("r''m -f victim", "deny"),
    ("\\rm -f victim", "deny"),
    ("ls }#; rm -f victim", "deny"),
    ("ls; rm -f victim", "deny"),
    ("ls && rm -f victim", "deny"),
    ("ls | rm -f victim", "deny"),
    ("echo $(rm -f victim)", "deny"),
    ("echo `rm -f victim`", "deny"),
    ("env rm -f victim", "deny"),
    ("command rm -f victim", "deny"),
    ("timeout 5 rm -f victim", "deny"),
    ("sh -c 'rm -f victim'", "deny"),
    ("bash -c \"ls; rm -f victim\"", "deny"),
    ("eval rm -f victim", "deny"),
    ("echo victim | xargs rm -f", "deny"),
    ("X=1 rm -f victim", "deny"),
    ("(rm -f victim)", "deny"),
    ("{ rm -f victim; }", "deny"),
    ("curl -o pwned file:///etc/hostname", "deny"),
    ("echo pwned > /tmp/pwned", "deny"),
    ("echo pwned > ../pwned", "deny"),
    ("echo pwned > lnk/pwned", "deny"),
    ("echo pwned >> .git/config", "deny"),
    ("cat secrets/key > pwned", "deny"),
    ("cat keylink", "deny"),
    ("echo pwned > hooks/../config", "deny"),
    ("GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=core.fsmonitor GIT_CONFIG_VALUE_0='touch pwned' git status", "ask"),
    ("git -c core.fsmonitor='touch pwned' status", "ask"),
    ("PATH=/tmp:$PATH ls", "ask"),
    ("echo pwned >> ~/.bashrc", "ask"),
    ("echo pwned > pwned", "ask"),
    ("cat <<EOF > pwned\nx\nEOF", "ask"),
    ("ls; case x in x) esac > pwned", "ask"),
    ("$(echo touch) pwned", "ask"),
    ("touch pwned", "ask"),
    ("echo x &> pwned", "ask"),
    ("./ls", "ask"),
    ("echo $(touch pwned)", "ask"),
];

/// The table plus what cannot be a constant: a 16 KB nest of `$(`.
fn lines() -> Vec<(String, &'static str)> {
    let mut v: Vec<(String, &str)> = LINES.iter().map(|(l, d)| (l.to_string(), *d)).collect();
    v.push(("$(".repeat(8000), "ask"));
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_lines_never_run_unapproved_and_denied_ones_never_run() {
    let fake = fake_ai::start().await;
    let ts = TestServer::start().await;
    add_fake_service(&ts, &fake).await;
    let api = ts.admin_api();
    api.create_ws("hostile").await;
    let (code, _, err) = api
        .sh("hostile", "cd /workspace && mkdir -p secrets .git && echo s3cret > secrets/key && echo cfg > .git/config && echo v > victim && ln -s /tmp lnk && ln -s secrets/key keylink && git init -q . 2>/dev/null; mkdir -p .git/hooks && ln -s .git/hooks hooks && echo cfg > .git/config")
        .await;
    assert_eq!(code, 0, "{err}");
    put_policy(&ts, "hostile", &hostile_policy()).await;
    {
        let calls = lines()
            .iter()
            .enumerate()
            .map(|(i, (line, _))| call(&format!("h{i}"), "run_command", json!({"command": line})))
            .collect();
        let mut script = fake.seen.script.lock().expect("lock");
        script.push_back(tool_calls(calls));
        script.push_back(json!({"role": "assistant", "content": "done"}));
    }
    let run = start(&ts, "hostile", 5).await;
    let mut ev = Events::open(&ts, &run).await;
    loop {
        let v = ev
            .until("an approval or the end", |v| {
                v["type"] == "approval_needed" || v["type"] == "end"
            })
            .await;
        if v["type"] == "end" {
            assert_eq!(v["reason"], "done", "{v}");
            break;
        }
        let id = v["id"].as_str().expect("id");
        let (s, _) = api
            .post(
                &format!("/api/v1/runs/{run}/approvals/{id}"),
                json!({"approve": false}),
            )
            .await;
        assert_eq!(s, StatusCode::NO_CONTENT);
    }
    let mut wrong = Vec::new();
    for (i, (line, want)) in lines().iter().enumerate() {
        let id = format!("h{i}");
        let got = ev
            .seen
            .iter()
            .find(|v| v["type"] == "tool_call" && v["id"] == id.as_str())
            .map(|v| v["decision"].as_str().unwrap_or("").to_owned());
        if got.as_deref() != Some(want) {
            wrong.push(format!(
                "{:?}: want {want}, got {got:?}",
                &line[..line.len().min(60)]
            ));
        }
    }
    assert!(wrong.is_empty(), "wrong decisions:\n{}", wrong.join("\n"));
    // The side effects prove that nothing ran.
    let (_, out, _) = api
        .sh("hostile", "cd /workspace; cat victim .git/config; ls -d pwned ../pwned /tmp/pwned 2>/dev/null | wc -l; cat ~/.bashrc 2>/dev/null | grep -c pwned")
        .await;
    assert_eq!(out, "v\ncfg\n0\n0\n");
    assert!(
        api.get("/health").await.0.is_success(),
        "the server survived"
    );
}

const MAKEFILE: &str = "all:\n\
\t-@echo pwned > /tmp/pwned; echo \"tmp=$$?\"\n\
\t-@echo pwned >> .git/config; echo \"git=$$?\"\n\
\t-@cat secrets/key; echo \"secret=$$?\"\n\
\t-@bash -c 'exec 3<>/dev/tcp/127.0.0.1/9'; echo \"net=$$?\"\n\
\t-@kill -0 1; echo \"signal=$$?\"\n\
\t-@echo ok > src/ok.txt; echo \"src=$$?\"\n\
\t-@echo ok > $$TMPDIR/t; echo \"tmpdir=$$?\"\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allowed_command_still_cannot_do_what_the_policy_forbids() {
    let fake = fake_ai::start().await;
    let ts = TestServer::start().await;
    add_fake_service(&ts, &fake).await;
    let api = ts.admin_api();
    api.create_ws("kernel").await;
    let (code, _, err) = api
        .sh("kernel", "cd /workspace && mkdir -p src secrets .git && echo s3cret > secrets/key && echo cfg > .git/config")
        .await;
    assert_eq!(code, 0, "{err}");
    // The Makefile goes in through the files API, byte for byte.
    let r = reqwest::Client::new()
        .put(format!(
            "{}/api/v1/workspaces/kernel/files/content?path=Makefile",
            ts.url
        ))
        .bearer_auth(&ts.admin)
        .body(MAKEFILE)
        .send()
        .await
        .expect("upload");
    assert!(r.status().is_success(), "{}", r.status());
    // A policy that wrongly trusts `make`: the judge allows the line, the
    // kernel still holds the line the policy draws.
    let mut policy = hostile_policy();
    policy["commands"]
        .as_array_mut()
        .expect("commands")
        .push(json!({"pattern": "make", "decision": "allow"}));
    put_policy(&ts, "kernel", &policy).await;
    // Someone with root in the container swaps the agent binary for one
    // whose "sandbox" runs the command bare: the server notices by hash
    // and puts its own back before running anything through it.
    let fake_sandbox = "printf '#!/bin/sh\\nshift 3\\nexec \"$@\"\\n' > /tmp/fake && for f in /.aicockpit/workspace-agent-*; do rm -f \"$f\" && cp /tmp/fake \"$f\" && chmod 755 \"$f\"; done && sha256sum /.aicockpit/workspace-agent-* | cut -c1-64";
    let (s, v) = api
        .post(
            "/api/v1/workspaces/kernel/exec",
            json!({"argv": ["sh", "-c", fake_sandbox], "user": "0"}),
        )
        .await;
    assert_eq!((s, &v["exit_code"]), (StatusCode::OK, &json!(0)), "{v}");
    let swapped = v["stdout"].as_str().unwrap_or("").trim().to_owned();
    {
        let mut script = fake.seen.script.lock().expect("lock");
        script.push_back(tool_calls(vec![call(
            "k1",
            "run_command",
            json!({"command": "make -s"}),
        )]));
        script.push_back(json!({"role": "assistant", "content": "done"}));
    }
    let run = start(&ts, "kernel", 3).await;
    let mut ev = Events::open(&ts, &run).await;
    let call_ev = ev
        .until("k1 call", |v| v["type"] == "tool_call" && v["id"] == "k1")
        .await;
    assert_eq!(call_ev["decision"], "allow", "{call_ev}");
    let res = ev
        .until("k1 result", |v| {
            v["type"] == "tool_result" && v["id"] == "k1"
        })
        .await;
    let out = res["output"].as_str().unwrap_or("").to_owned();
    let status = |k: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .and_then(|n| n.trim().parse::<i32>().ok())
            .unwrap_or_else(|| panic!("no {k}= in {out}"))
    };
    for k in ["tmp", "git", "secret", "net", "signal"] {
        assert_ne!(status(k), 0, "{k} must be refused by the kernel:\n{out}");
    }
    assert_eq!(status("src"), 0, "{out}");
    assert_eq!(status("tmpdir"), 0, "{out}");
    assert!(out.contains("Permission denied"), "{out}");
    assert!(!out.contains("s3cret"), "{out}");
    assert!(
        out.contains("connect: Permission denied"),
        "TCP connect is refused, not merely unanswered:\n{out}"
    );
    ev.until("end", |v| v["type"] == "end").await;
    let (_, restored, _) = api
        .sh(
            "kernel",
            "sha256sum /.aicockpit/workspace-agent-* | cut -c1-64",
        )
        .await;
    assert_ne!(restored.trim(), swapped, "the swapped binary was put back");

    let (_, after, _) = api
        .sh(
            "kernel",
            "cd /workspace; cat .git/config src/ok.txt; ls /tmp/pwned 2>/dev/null | wc -l",
        )
        .await;
    assert_eq!(after, "cfg\nok\n0\n");
    let (_, log) = api.get("/api/v1/audit?workspace=kernel").await;
    let row = log
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["action"] == "agent.tool.run_command")
        .cloned()
        .expect("audit row");
    assert_eq!(row["detail"]["sandboxed"], true, "{row}");
    assert_eq!(row["decision"], "allow");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_survives_what_the_model_sends() {
    let fake = fake_ai::start().await;
    let ts = TestServer::start_with(|c| c.ai.approval_timeout_secs = 2).await;
    add_fake_service(&ts, &fake).await;
    let api = ts.admin_api();
    api.create_ws("survive").await;
    let (code, _, err) = api
        .sh(
            "survive",
            "cd /workspace && truncate -s 64G big.bin && echo small > small.txt",
        )
        .await;
    assert_eq!(code, 0, "{err}");
    let mut policy = hostile_policy();
    policy["tools"]["edit_file"] = json!("allow");
    policy["tools"]["write_file"] = json!("allow");
    put_policy(&ts, "survive", &policy).await;
    let huge = "x".repeat(5 * 1024 * 1024);
    {
        let mut script = fake.seen.script.lock().expect("lock");
        script.push_back(tool_calls(vec![
            call("s1", "run_command", json!({"command": huge})),
            call("s2", "edit_file", json!({"path": "big.bin", "old_text": "a", "new_text": "b"})),
            call("s3", "write_file", json!({"path": "small.txt", "content": "changed\n"})),
            json!({"id": "s4", "type": "function", "function": {"name": "run_command", "arguments": "[1,2,3]"}}),
            json!({"id": "s5", "type": "function", "function": {"name": "no_such_tool", "arguments": "{}"}}),
            call("s6", "run_command", json!({"command": "touch pwned"})),
        ]));
        script.push_back(json!({"role": "assistant", "content": "done"}));
    }
    let run = start(&ts, "survive", 5).await;
    let mut ev = Events::open(&ts, &run).await;
    let s1 = ev
        .until("s1", |v| v["type"] == "tool_result" && v["id"] == "s1")
        .await;
    assert!(
        s1["output"].as_str().unwrap_or("").contains("larger than"),
        "{s1}"
    );
    let s2 = ev
        .until("s2", |v| v["type"] == "tool_result" && v["id"] == "s2")
        .await;
    assert_eq!(s2["ok"], false, "{s2}");
    assert!(
        s2["output"].as_str().unwrap_or("").contains("larger than"),
        "{s2}"
    );
    let s3 = ev
        .until("s3", |v| v["type"] == "tool_result" && v["id"] == "s3")
        .await;
    assert_eq!(s3["ok"], true, "{s3}");
    let s4 = ev
        .until("s4", |v| v["type"] == "tool_result" && v["id"] == "s4")
        .await;
    assert_eq!(s4["ok"], false, "{s4}");
    let s5 = ev
        .until("s5", |v| v["type"] == "tool_result" && v["id"] == "s5")
        .await;
    assert!(
        s5["output"].as_str().unwrap_or("").contains("denied"),
        "{s5}"
    );
    // Nobody answers: the ask expires and the run ends saying so.
    ev.until("s6 approval", |v| {
        v["type"] == "approval_needed" && v["id"] == "s6"
    })
    .await;
    ev.until("expiry", |v| {
        v["type"] == "approval_expired" && v["id"] == "s6"
    })
    .await;
    let end = ev.until("end", |v| v["type"] == "end").await;
    assert_eq!(end["reason"], "approval_expired", "{end}");
    let (_, out, _) = api
        .sh(
            "survive",
            "cd /workspace; cat small.txt; ls pwned 2>/dev/null | wc -l; stat -c %s big.bin",
        )
        .await;
    assert_eq!(out, "changed\n0\n68719476736\n");
    // Undo restores exactly the checkpointed file.
    let (s, v) = api.post_empty(&format!("/api/v1/runs/{run}/undo")).await;
    assert!(s.is_success(), "{v}");
    let (_, out, _) = api.sh("survive", "cat /workspace/small.txt").await;
    assert_eq!(out, "small\n");
    assert!(api.get("/health").await.0.is_success());
}
