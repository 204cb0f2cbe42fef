//! The agent under the permission controller, with a scripted fake model
//! that issues exact tool calls, against a real workspace.

use crate::common::TestServer;
use crate::fake_ai;
use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

pub fn call(id: &str, tool: &str, args: Value) -> Value {
    json!({"id": id, "type": "function", "function": {"name": tool, "arguments": args.to_string()}})
}

pub fn tool_calls(calls: Vec<Value>) -> Value {
    json!({"role": "assistant", "content": null, "tool_calls": calls})
}

/// Reads a run's events until `until` matches one; returns all seen.
pub struct Events {
    stream: futures_util::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buf: String,
    pub seen: Vec<Value>,
}

impl Events {
    pub async fn open(ts: &TestServer, run: &str) -> Events {
        let resp = reqwest::Client::new()
            .get(format!("{}/api/v1/runs/{run}/events", ts.url))
            .bearer_auth(&ts.admin)
            .send()
            .await
            .expect("events");
        assert_eq!(resp.status(), StatusCode::OK);
        Events {
            stream: resp.bytes_stream().boxed(),
            buf: String::new(),
            seen: Vec::new(),
        }
    }

    pub async fn until(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            while let Some(i) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..i + 2).collect();
                for line in block.lines() {
                    if let Some(d) = line
                        .strip_prefix("data: ")
                        .or_else(|| line.strip_prefix("data:"))
                    {
                        if let Ok(v) = serde_json::from_str::<Value>(d) {
                            self.seen.push(v.clone());
                            if pred(&v) {
                                return v;
                            }
                        }
                    }
                }
            }
            let chunk = tokio::time::timeout_at(deadline, self.stream.next())
                .await
                .unwrap_or_else(|_| panic!("timed out waiting for {what}; saw {:#?}", self.seen))
                .unwrap_or_else(|| panic!("events ended waiting for {what}; saw {:#?}", self.seen))
                .expect("chunk");
            self.buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

async fn setup(ts: &TestServer, fake: &fake_ai::FakeAi, ws: &str) {
    let (s, v) = ts
        .admin_api()
        .post("/api/v1/ai/services", json!({"name": "fake", "kind": "custom", "base_url": format!("{}/v1", fake.url), "default_model": "script"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let api = ts.admin_api();
    api.create_ws(ws).await;
    let (code, _, err) = api
        .sh(ws, "cd /workspace && mkdir -p src .git && echo hello > README.md && echo keep > x && echo cfg > .git/config")
        .await;
    assert_eq!(code, 0, "{err}");
    let policy = json!({
        "tools": {"list_files": "allow", "read_file": "allow", "search": "allow", "write_file": "ask",
                  "edit_file": "ask", "delete_file": "ask", "run_command": "ask"},
        "commands": [{"pattern": "ls", "decision": "allow"}, {"pattern": "cat", "decision": "allow"},
                     {"pattern": "sleep", "decision": "allow"}, {"pattern": "rm", "decision": "deny"}],
        "paths": [{"glob": "src/**", "write": "allow"}, {"glob": ".git/**", "write": "deny"}]
    });
    let r = reqwest::Client::new()
        .put(format!("{}/api/v1/workspaces/{ws}/policy", ts.url))
        .bearer_auth(&ts.admin)
        .json(&policy)
        .send()
        .await
        .expect("policy");
    assert_eq!(r.status(), StatusCode::OK);
}

pub async fn start(ts: &TestServer, ws: &str, max_steps: u32) -> String {
    let (s, v) = ts
        .admin_api()
        .post(
            &format!("/api/v1/workspaces/{ws}/runs"),
            json!({"task": "tidy up", "max_steps": max_steps}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["run_id"].as_str().expect("run").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_actions_run_asked_ones_wait_denied_ones_never_reach_the_container() {
    let fake = fake_ai::start().await;
    let ts = TestServer::start().await;
    setup(&ts, &fake, "agentws").await;
    {
        let mut script = fake.seen.script.lock().expect("lock");
        script.push_back(tool_calls(vec![
            call("c1", "read_file", json!({"path": "README.md"})),
            call("c2", "run_command", json!({"command": "ls src"})),
        ]));
        script.push_back(tool_calls(vec![
            call(
                "c3",
                "write_file",
                json!({"path": "src/new.rs", "content": "fn main() {}\n"}),
            ),
            call(
                "c4",
                "write_file",
                json!({"path": "notes.txt", "content": "approved\n"}),
            ),
        ]));
        script.push_back(tool_calls(vec![
            call(
                "c5",
                "run_command",
                json!({"command": "cat README.md; rm -rf /workspace/x"}),
            ),
            call("c6", "delete_file", json!({"path": ".git/config"})),
            call(
                "c7",
                "write_file",
                json!({"path": "../../etc/evil", "content": "x"}),
            ),
            call(
                "c8",
                "run_command",
                json!({"command": "echo $(whoami) > out.txt"}),
            ),
        ]));
        script.push_back(json!({"role": "assistant", "content": "All done."}));
    }
    let run = start(&ts, "agentws", 10).await;
    let mut ev = Events::open(&ts, &run).await;

    let r1 = ev
        .until("c1 result", |v| {
            v["type"] == "tool_result" && v["id"] == "c1"
        })
        .await;
    assert_eq!(r1["output"], "hello\n");
    let r2 = ev
        .until("c2 result", |v| {
            v["type"] == "tool_result" && v["id"] == "c2"
        })
        .await;
    assert!(
        r2["output"]
            .as_str()
            .unwrap_or("")
            .starts_with("exit code: 0"),
        "{r2}"
    );
    ev.until("c3 result", |v| {
        v["type"] == "tool_result" && v["id"] == "c3"
    })
    .await;
    let ask = ev
        .until("c4 approval", |v| {
            v["type"] == "approval_needed" && v["id"] == "c4"
        })
        .await;
    assert_eq!(ask["args"]["path"], "notes.txt");
    // Nothing in "ask" runs before the approval.
    let (_, out, _) = ts
        .admin_api()
        .sh(
            "agentws",
            "ls /workspace/notes.txt 2>&1 | grep -c 'No such'",
        )
        .await;
    assert_eq!(out.trim(), "1");
    let (s, _) = ts
        .admin_api()
        .post(
            &format!("/api/v1/runs/{run}/approvals/c4"),
            json!({"approve": true}),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    ev.until("c4 result", |v| {
        v["type"] == "tool_result" && v["id"] == "c4" && v["ok"] == true
    })
    .await;
    let c5 = ev
        .until("c5 result", |v| {
            v["type"] == "tool_result" && v["id"] == "c5"
        })
        .await;
    assert!(
        c5["output"].as_str().unwrap_or("").contains("denied"),
        "{c5}"
    );
    let c6 = ev
        .until("c6 result", |v| {
            v["type"] == "tool_result" && v["id"] == "c6"
        })
        .await;
    assert!(
        c6["output"].as_str().unwrap_or("").contains("denied"),
        "{c6}"
    );
    let c7 = ev
        .until("c7 result", |v| {
            v["type"] == "tool_result" && v["id"] == "c7"
        })
        .await;
    assert!(
        c7["output"].as_str().unwrap_or("").contains("outside"),
        "{c7}"
    );
    ev.until("c8 approval", |v| {
        v["type"] == "approval_needed" && v["id"] == "c8"
    })
    .await;
    ts.admin_api()
        .post(
            &format!("/api/v1/runs/{run}/approvals/c8"),
            json!({"approve": false}),
        )
        .await;
    let c8 = ev
        .until("c8 result", |v| {
            v["type"] == "tool_result" && v["id"] == "c8"
        })
        .await;
    assert_eq!(c8["output"], "the user rejected this action");
    let end = ev.until("end", |v| v["type"] == "end").await;
    assert_eq!(end["reason"], "done");

    // What the container holds proves what ran and what did not.
    let (_, out, _) = ts
        .admin_api()
        .sh("agentws", "cd /workspace; cat src/new.rs notes.txt x .git/config; ls out.txt 2>&1 | grep -c 'No such'")
        .await;
    assert_eq!(out, "fn main() {}\napproved\nkeep\ncfg\n1\n");
    // The model was told every result.
    let reqs = fake.seen.script_requests.lock().expect("lock").clone();
    let last = reqs.last().expect("requests");
    let tool_msgs: Vec<&Value> = last["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter(|m| m["role"] == "tool")
        .collect();
    assert_eq!(tool_msgs.len(), 8);

    // Every action is in the audit log, with its decision and approver.
    let (s, log) = ts.admin_api().get("/api/v1/audit?workspace=agentws").await;
    assert_eq!(s, StatusCode::OK, "{log}");
    let rows = log.as_array().expect("rows");
    let decision = |action: &str, path_or_cmd: &str| {
        rows.iter()
            .find(|r| r["action"] == action && r["detail"].to_string().contains(path_or_cmd))
            .map(|r| {
                (
                    r["decision"].as_str().unwrap_or("").to_owned(),
                    r["approved_by"].as_str().map(str::to_owned),
                )
            })
    };
    assert_eq!(
        decision("agent.tool.read_file", "README.md"),
        Some(("allow".into(), None))
    );
    assert_eq!(
        decision("agent.tool.write_file", "notes.txt"),
        Some(("approved".into(), Some("admin".into())))
    );
    assert_eq!(
        decision("agent.tool.run_command", "rm -rf"),
        Some(("deny".into(), None))
    );
    assert_eq!(
        decision("agent.tool.run_command", "whoami"),
        Some(("rejected".into(), Some("admin".into())))
    );
    // A call that runs has a row before (started) and one after.
    let writes: Vec<&Value> = rows
        .iter()
        .filter(|r| r["action"] == "agent.tool.write_file" && r["detail"]["path"] == "notes.txt")
        .collect();
    let results: Vec<&str> = writes.iter().filter_map(|r| r["result"].as_str()).collect();
    assert_eq!(results.len(), 2, "{writes:?}");
    assert!(results.contains(&"started"), "{results:?}");
    assert!(results.iter().any(|r| r.starts_with("ok")), "{results:?}");
    // The content the model wrote is on the record as a hash, not text.
    assert!(
        writes
            .iter()
            .all(|r| r["detail"]["content"]["sha256"].is_string()),
        "{writes:?}"
    );
    assert!(
        rows.iter().any(|r| r["action"] == "workspace.create"),
        "user actions are audited too"
    );
    assert!(rows.iter().any(|r| r["action"] == "agent.end"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_loop_stops_at_its_step_limit_and_on_request() {
    let fake = fake_ai::start().await;
    let ts = TestServer::start().await;
    setup(&ts, &fake, "loops").await;
    *fake.seen.script_repeat.lock().expect("lock") = Some(tool_calls(vec![call(
        "again",
        "list_files",
        json!({"path": ""}),
    )]));
    let run = start(&ts, "loops", 3).await;
    let mut ev = Events::open(&ts, &run).await;
    let end = ev.until("end", |v| v["type"] == "end").await;
    assert_eq!(end["reason"], "step_limit");
    assert_eq!(
        ev.seen.iter().filter(|v| v["type"] == "assistant").count(),
        3
    );

    // Stop in the middle of a long command.
    *fake.seen.script_repeat.lock().expect("lock") = None;
    fake.seen
        .script
        .lock()
        .expect("lock")
        .push_back(tool_calls(vec![call(
            "slow",
            "run_command",
            json!({"command": "sleep 30"}),
        )]));
    let run = start(&ts, "loops", 5).await;
    let mut ev = Events::open(&ts, &run).await;
    ev.until("the sleep", |v| {
        v["type"] == "tool_call" && v["id"] == "slow"
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (s, _) = ts
        .admin_api()
        .post_empty(&format!("/api/v1/runs/{run}/stop"))
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let end = ev.until("end", |v| v["type"] == "end").await;
    assert_eq!(end["reason"], "stopped");
    // The command itself was killed, not left running.
    let mut left = String::new();
    for _ in 0..30 {
        left = ts
            .admin_api()
            .sh("loops", "ps -eo args | grep -c '^sleep 30' || true")
            .await
            .1;
        if left.trim() == "0" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(left.trim(), "0", "the stopped command still runs");
    // Unknown runs and other users' runs are not found.
    let (s, _) = ts
        .admin_api()
        .post_empty("/api/v1/runs/run_nope/stop")
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampering_with_the_audit_log_is_detected() {
    let ts = TestServer::start().await;
    let api = ts.admin_api();
    api.create_ws("audited").await;
    api.post_empty("/api/v1/workspaces/audited/stop").await;
    api.post_empty("/api/v1/workspaces/audited/start").await;
    let verify = |dir: std::path::PathBuf| async move {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_aicockpit"))
            .args(["audit", "verify"])
            .env("AICOCKPIT_SERVER__DATA_DIR", dir)
            .output()
            .await
            .expect("verify");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, out) = verify(ts.data_dir.clone()).await;
    assert_eq!(code, Some(0), "{out}");
    // The test's admin (its password, its token), then create, stop, start.
    assert!(out.contains("intact: 6 rows"), "{out}");
    // The database refuses edits and deletes…
    assert!(ts
        .state
        .store
        .execute_raw("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2")
        .await
        .is_err());
    assert!(ts
        .state
        .store
        .execute_raw("DELETE FROM audit_log WHERE seq = 2")
        .await
        .is_err());
    // …and someone who gets around that is caught by the chain.
    ts.state
        .store
        .execute_raw("DROP TRIGGER audit_log_no_update")
        .await
        .expect("drop trigger");
    ts.state
        .store
        .execute_raw("UPDATE audit_log SET detail = '{\"purge\":false}' WHERE seq = 2")
        .await
        .expect("tamper");
    let (code, out) = verify(ts.data_dir.clone()).await;
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("TAMPERED at row 2"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_can_be_undone() {
    let fake = fake_ai::start().await;
    let ts = TestServer::start().await;
    setup(&ts, &fake, "undo").await;
    {
        let mut script = fake.seen.script.lock().expect("lock");
        script.push_back(tool_calls(vec![
            call(
                "w1",
                "write_file",
                json!({"path": "src/created.rs", "content": "new\n"}),
            ),
            call(
                "w2",
                "edit_file",
                json!({"path": "src/lib.rs", "old_text": "old", "new_text": "changed"}),
            ),
            call(
                "w3",
                "write_file",
                json!({"path": "src/lib.rs", "content": "rewritten\n"}),
            ),
            call("w4", "delete_file", json!({"path": "src/gone.rs"})),
        ]));
    }
    ts.admin_api()
        .sh(
            "undo",
            "printf 'old line\\n' > /workspace/src/lib.rs && echo bye > /workspace/src/gone.rs",
        )
        .await;
    let run = start(&ts, "undo", 5).await;
    let mut ev = Events::open(&ts, &run).await;
    let end = ev.until("end", |v| v["type"] == "end").await;
    assert_eq!(end["reason"], "done", "{:#?}", ev.seen);
    let (_, out, _) = ts
        .admin_api()
        .sh(
            "undo",
            "cd /workspace/src; cat created.rs lib.rs; ls gone.rs 2>&1 | grep -c 'No such'",
        )
        .await;
    assert_eq!(out, "new\nrewritten\n1\n");

    let (s, v) = ts
        .admin_api()
        .post_empty(&format!("/api/v1/runs/{run}/undo"))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["restored"].as_array().map(Vec::len), Some(3), "{v}");
    let (_, out, _) = ts
        .admin_api()
        .sh(
            "undo",
            "cd /workspace/src; cat lib.rs gone.rs; ls created.rs 2>&1 | grep -c 'No such'",
        )
        .await;
    assert_eq!(out, "old line\nbye\n1\n", "the files are as before the run");
    let (_, log) = ts.admin_api().get("/api/v1/audit?workspace=undo").await;
    assert!(log
        .as_array()
        .expect("rows")
        .iter()
        .any(|r| r["action"] == "agent.undo"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_runs_the_agent_and_answers_approvals() {
    let fake = fake_ai::start().await;
    let ts = TestServer::start().await;
    setup(&ts, &fake, "cliagent").await;
    let cli = |yes: bool| {
        let url = ts.url.clone();
        let token = ts.admin.clone();
        async move {
            let mut args = vec!["ai", "agent", "--workspace", "cliagent", "write the notes"];
            if yes {
                args.push("--yes");
            }
            let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_aicockpit"))
                .args(&args)
                .env("AICOCKPIT_URL", url)
                .env("AICOCKPIT_TOKEN", token)
                .env("AICOCKPIT_CLI_CONFIG", "/nonexistent/cli.json")
                .stdin(std::process::Stdio::null())
                .output()
                .await
                .expect("cli");
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stdout).into_owned(),
            )
        }
    };
    let script = |name: &str| {
        let mut s = fake.seen.script.lock().expect("lock");
        s.push_back(tool_calls(vec![call(
            "n1",
            "write_file",
            json!({"path": name, "content": "x\n"}),
        )]));
        s.push_back(json!({"role": "assistant", "content": "Wrote it."}));
    };
    // Without a terminal to ask and without --yes, "ask" actions are rejected.
    script("refused.txt");
    let (code, out) = cli(false).await;
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("→ write_file") && out.contains("[ask]"),
        "{out}"
    );
    assert!(out.contains("the user rejected this action"), "{out}");
    script("approved.txt");
    let (code, out) = cli(true).await;
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("Wrote it.") && out.contains("ended: done"),
        "{out}"
    );
    let (_, ls, _) = ts
        .admin_api()
        .sh(
            "cliagent",
            "cd /workspace; ls approved.txt; ls refused.txt 2>&1 | grep -c 'No such'",
        )
        .await;
    assert_eq!(ls, "approved.txt\n1\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_set_the_default_policy_and_conversations_are_kept_per_user() {
    let ts = TestServer::start().await;
    let admin = ts.admin_api();
    let member_token = ts.user("mem", aicockpit_core::auth::Role::Member).await;
    let member = ts.api(&member_token);
    let strict = json!({"tools": {"run_command": "deny", "read_file": "allow"}, "commands": [], "paths": []});
    let r = reqwest::Client::new()
        .put(format!("{}/api/v1/ai/default-policy", ts.url))
        .bearer_auth(&member_token)
        .json(&strict)
        .send()
        .await
        .expect("req");
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "members do not set defaults"
    );
    let r = reqwest::Client::new()
        .put(format!("{}/api/v1/ai/default-policy", ts.url))
        .bearer_auth(&ts.admin)
        .json(&strict)
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), StatusCode::OK);
    member.create_ws("mine").await;
    let (_, p) = member.get("/api/v1/workspaces/mine/policy").await;
    assert_eq!(
        p["tools"]["run_command"], "deny",
        "a workspace without its own policy gets the default: {p}"
    );

    // Conversations: several per workspace, each user's own.
    for (cid, text) in [("c1", "first question"), ("c2", "second question")] {
        let r = reqwest::Client::new()
            .put(format!("{}/api/v1/workspaces/mine/conversations/{cid}", ts.url))
            .bearer_auth(&member_token)
            .json(&json!({"messages": [{"role": "user", "content": text}, {"role": "assistant", "content": "ok"}]}))
            .send()
            .await
            .expect("req");
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
    }
    let (_, list) = member.get("/api/v1/workspaces/mine/conversations").await;
    let titles: Vec<&str> = list
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|c| c["title"].as_str())
        .collect();
    assert_eq!(
        titles,
        vec!["second question", "first question"],
        "newest first"
    );
    let (_, c) = member.get("/api/v1/workspaces/mine/conversations/c1").await;
    assert_eq!(c["messages"][0]["content"], "first question");
    let (s, _) = admin
        .get(&format!(
            "/api/v1/workspaces/{}/conversations/c1",
            list[0]["id"].as_str().unwrap_or("")
        ))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "conversations are per user");
    let (s, _) = member
        .delete("/api/v1/workspaces/mine/conversations/c1")
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, list) = member.get("/api/v1/workspaces/mine/conversations").await;
    assert_eq!(list.as_array().map(Vec::len), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_verifies_independently_and_a_cut_tail_is_detected() {
    let ts = TestServer::start().await;
    let api = ts.admin_api();
    // A short tour: logins (one failed), a workspace, a command.
    ts.anonymous()
        .post(
            "/api/v1/auth/login",
            json!({"username": "admin", "password": "wrong-password"}),
        )
        .await;
    api.create_ws("toured").await;
    api.sh("toured", "echo hi > /workspace/f").await;
    let put = reqwest::Client::new()
        .put(format!(
            "{}/api/v1/workspaces/toured/files/content?path=notes.txt",
            ts.url
        ))
        .bearer_auth(&ts.admin)
        .body("private words")
        .send()
        .await
        .expect("write");
    assert!(put.status().is_success());
    let (s, t) = api
        .post(
            "/api/v1/workspaces/toured/terminals",
            json!({"cols": 80, "rows": 24}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    api.delete(&format!(
        "/api/v1/workspaces/toured/terminals/{}",
        t["id"].as_str().expect("id")
    ))
    .await;
    api.post(
        "/api/v1/workspaces/toured/files/rename",
        json!({"from": "notes.txt", "to": "notes2.txt"}),
    )
    .await;
    api.delete("/api/v1/workspaces/toured/files?path=notes2.txt")
        .await;
    let (s, v) = api
        .post("/api/v1/ai/services", json!({"name": "svc", "kind": "custom", "base_url": "http://127.0.0.1:9/v1", "api_key": "sk-very-secret-key"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let svc = v["id"].as_str().expect("service id").to_owned();
    let (s, v) = api
        .put("/api/v1/ai/aliases/fast", json!({"service": "svc"}))
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let (s, v) = api
        .post(&format!("/api/v1/ai/services/{svc}/activate"), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = api.post("/api/v1/auth/tokens", json!({"name": "ci"})).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, _) = api
        .delete(&format!(
            "/api/v1/auth/tokens/{}",
            v["id"].as_str().expect("token id")
        ))
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, v) = api
        .post(
            "/api/v1/workspaces/toured/files/mkdir",
            json!({"path": "made"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = api.post_empty("/api/v1/workspaces/toured/stop").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = api.post_empty("/api/v1/workspaces/toured/start").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = api
        .post(
            "/api/v1/users",
            json!({"username": "newbie", "password": "password-123", "role": "member"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    // The command line's changes are on the same record.
    let mut add = std::process::Command::new(env!("CARGO_BIN_EXE_aicockpit"))
        .args(["users", "add", "fromcli", "--password-stdin"])
        .env("AICOCKPIT_SERVER__DATA_DIR", &ts.data_dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("users add");
    {
        use std::io::Write as _;
        let mut stdin = add.stdin.take().expect("stdin");
        stdin.write_all(b"password-123\n").expect("password");
    }
    assert!(add.wait().expect("users add").success());
    let (s, export) = api.get("/api/v1/audit/export").await;
    assert_eq!(s, StatusCode::OK, "{export}");
    let rows = export["rows"].as_array().expect("rows").clone();
    assert!(
        rows.iter().any(|r| r["action"] == "user.create"
            && r["actor"].as_str().is_some_and(|a| a.starts_with("cli:"))
            && r["detail"].as_str().is_some_and(|d| d.contains("fromcli"))),
        "{export}"
    );
    for action in [
        "auth.login_failed",
        "workspace.create",
        "workspace.exec",
        "workspace.stop",
        "workspace.start",
        "file.write",
        "file.mkdir",
        "file.rename",
        "file.delete",
        "terminal.open",
        "terminal.close",
        "ai.service.create",
        "ai.alias.set",
        "ai.service.activate",
        "token.create",
        "token.revoke",
        "user.create",
    ] {
        assert!(
            rows.iter().any(|r| r["action"] == action),
            "{action} missing: {export}"
        );
    }
    let text = export.to_string();
    assert!(
        !text.contains("sk-very-secret-key"),
        "no keys on the record"
    );
    assert!(
        !text.contains("private words"),
        "no file contents on the record"
    );
    // What was written stands as its hash and size.
    let written = rows
        .iter()
        .find(|r| r["action"] == "file.write")
        .and_then(|r| r["detail"].as_str())
        .and_then(|d| serde_json::from_str::<Value>(d).ok())
        .expect("file.write row");
    assert_eq!(written["bytes"], 13, "{written}");
    assert_eq!(
        written["sha256"],
        "1f709cc025b238ae65d31563bc3e361f1de363e4cde588c6d47a1fc63ef02c5f"
    );
    let head = &export["head"];
    let head_arg = format!("{}:{}", head["seq"], head["hash"].as_str().expect("hash"));
    assert_eq!(head["seq"], rows.last().expect("a row")["seq"]);
    // The project's script, written from the stated recipe alone.
    let dir = tempfile::tempdir().expect("tempdir");
    let verify_export = |doc: &Value, head: &str| {
        let path = dir.path().join("export.json");
        std::fs::write(&path, doc.to_string()).expect("write");
        let out = std::process::Command::new("python3")
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../scripts/audit-verify.py"
            ))
            .args(["--head", head])
            .arg(&path)
            .output()
            .expect("python3");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, out) = verify_export(&export, &head_arg);
    assert_eq!(code, Some(0), "{out}");
    let mut edited = export.clone();
    edited["rows"][0]["actor"] = json!("mallory");
    assert_eq!(verify_export(&edited, &head_arg).0, Some(1));
    let mut cut = export.clone();
    cut["rows"].as_array_mut().expect("rows").pop();
    let (code, out) = verify_export(&cut, &head_arg);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("missing"), "{out}");

    // Deleting the last rows in the database (around its triggers) leaves a
    // valid but shorter chain: the published head catches it.
    ts.state
        .store
        .execute_raw("DROP TRIGGER audit_log_no_delete")
        .await
        .expect("drop trigger");
    let last = head["seq"].as_i64().expect("seq");
    ts.state
        .store
        .execute_raw(&format!("DELETE FROM audit_log WHERE seq >= {}", last - 1))
        .await
        .expect("cut the tail");
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_aicockpit"))
        .args(["audit", "verify"])
        .env("AICOCKPIT_SERVER__DATA_DIR", &ts.data_dir)
        .output()
        .await
        .expect("verify");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("removed"), "{text}");
    // The head is on /metrics too.
    let (_, metrics) = api.get_text("/metrics").await;
    assert!(
        metrics.contains(&format!("aicockpit_audit_head_seq {last}")),
        "{metrics}"
    );
}
