//! Idle stop that understands work: with a short idle timeout, an untouched
//! workspace is stopped (on the audit record, with its reason), while one
//! kept alive, one running a command through exec and one whose AI agent
//! run waits for an approval keep running; a stopped one starts again.

use crate::assistant::{call, start as start_run, tool_calls, Events};
use crate::common::{assert_error, TestServer};
use crate::fake_ai;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const IDLE_SECS: u64 = 5;

async fn state(ts: &TestServer, ws: &str) -> Value {
    let (s, w) = ts
        .admin_api()
        .get(&format!("/api/v1/workspaces/{ws}"))
        .await;
    assert_eq!(s, StatusCode::OK, "{w}");
    w
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_stop_spares_work_in_progress_and_keep_alives() {
    let fake = fake_ai::start().await;
    let ts = TestServer::start_with(|c| {
        c.workspaces.idle_timeout_secs = IDLE_SECS;
        c.workspaces.idle_check_interval_secs = 1;
    })
    .await;
    let api = ts.admin_api();
    let (s, v) = api
        .post("/api/v1/ai/services", json!({"name": "fake", "kind": "custom", "base_url": format!("{}/v1", fake.url), "default_model": "script"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");

    // An agent run that waits for an approval.
    api.create_ws("idle-agent").await;
    let (s, v) = api
        .put(
            "/api/v1/workspaces/idle-agent/policy",
            json!({"tools": {"write_file": "ask"}, "commands": [], "paths": []}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    fake.seen
        .script
        .lock()
        .expect("lock")
        .push_back(tool_calls(vec![call(
            "w1",
            "write_file",
            json!({"path": "a.txt", "content": "x"}),
        )]));
    let run = start_run(&ts, "idle-agent", 5).await;
    let mut ev = Events::open(&ts, &run).await;
    ev.until("w1 approval", |v| {
        v["type"] == "approval_needed" && v["id"] == "w1"
    })
    .await;

    // A command running through exec.
    api.create_ws("idle-busy").await;
    let busy = {
        let api = ts.admin_api();
        tokio::spawn(async move {
            api.post(
                "/api/v1/workspaces/idle-busy/exec",
                json!({"argv": ["sleep", "25"], "timeout_secs": 60}),
            )
            .await
        })
    };

    // A keep-alive.
    api.create_ws("idle-kept").await;
    let (s, w) = api
        .post(
            "/api/v1/workspaces/idle-kept/keepalive",
            json!({"for_secs": 600, "reason": "training run"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{w}");
    assert_eq!(w["idle"]["keep_alive"]["reason"], "training run", "{w}");

    // A keep-alive asked for inside the workspace, by its own command;
    // what it may ask is bounded.
    api.create_ws("idle-inside").await;
    // Anything through the agent: it is placed and its daemon runs.
    let (s, v) = api.get("/api/v1/workspaces/idle-inside/files?path=").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    for (args, code, out) in [
        ("--for 30d --reason x", 2, "--for must be"),
        ("--for 1h --reason ''", 2, "--reason must be"),
        ("--for soon --reason x", 2, "usage"),
        (
            "--for 10m --reason 'nightly build'",
            0,
            "kept running for 600 s",
        ),
    ] {
        let (c, o, e) = api
            .sh("idle-inside", &format!("aicockpit-keepalive {args} 2>&1"))
            .await;
        assert_eq!(c, code, "{args}: {o}{e}");
        assert!(o.contains(out), "{args}: {o}");
    }

    // Untouched.
    api.create_ws("idle-plain").await;
    let w = state(&ts, "idle-plain").await;
    assert_eq!(w["idle"]["timeout_secs"], IDLE_SECS, "{w}");
    assert!(w["idle"]["stop_at"].is_string(), "{w}");

    let deadline = Instant::now() + Duration::from_secs(30);
    let stopped = loop {
        let w = state(&ts, "idle-plain").await;
        if w["state"] == "stopped" {
            break w;
        }
        assert!(Instant::now() < deadline, "never idle-stopped: {w}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(
        stopped["state_reason"]
            .as_str()
            .unwrap_or_default()
            .contains("without activity"),
        "{stopped}"
    );
    // Past every other workspace's own timeout too.
    tokio::time::sleep(Duration::from_secs(IDLE_SECS + 2)).await;
    for (ws, why) in [
        ("idle-agent", "agent_run"),
        ("idle-busy", "exec"),
        ("idle-kept", ""),
        ("idle-inside", ""),
    ] {
        let w = state(&ts, ws).await;
        assert_eq!(w["state"], "running", "{ws} kept running: {w}");
        if !why.is_empty() {
            assert_eq!(w["idle"]["busy"], json!([why]), "{w}");
            assert!(w["idle"]["stop_at"].is_null(), "{w}");
        }
    }

    let w = state(&ts, "idle-inside").await;
    assert_eq!(w["idle"]["keep_alive"]["reason"], "nightly build", "{w}");
    assert_eq!(w["idle"]["keep_alive"]["by"], "workspace", "{w}");
    let inside = w["id"].as_str().expect("id");
    let (_, log) = api.get(&format!("/api/v1/audit?workspace={inside}")).await;
    assert!(
        log.as_array()
            .into_iter()
            .flatten()
            .any(|e| e["action"] == "workspace.keep_alive"
                && e["actor"] == "workspace"
                && e["detail"]["from"] == "inside"),
        "{log}"
    );

    // On the record, by the system, with the reason.
    let id = stopped["id"].as_str().expect("id");
    let (s, log) = api.get(&format!("/api/v1/audit?workspace={id}")).await;
    assert_eq!(s, StatusCode::OK, "{log}");
    let entry = log
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["action"] == "workspace.idle_stop")
        .unwrap_or_else(|| panic!("no idle stop on the record: {log}"));
    assert_eq!(entry["actor"], "system", "{entry}");
    assert!(
        entry["detail"]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("without activity"),
        "{entry}"
    );

    // Opening it again starts it, with a fresh idle clock.
    let (s, w) = api.post_empty("/api/v1/workspaces/idle-plain/start").await;
    assert_eq!(s, StatusCode::OK, "{w}");
    assert_eq!(w["state"], "running", "{w}");
    busy.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_settings_are_checked_and_only_for_those_who_may_change_it() {
    let ts = TestServer::start_with(|c| {
        c.workspaces.max_idle_timeout_secs = 3600;
        c.workspaces.allow_never_idle = false;
    })
    .await;
    let api = ts.admin_api();
    api.create_ws("idle-set").await;
    // (body, status, code) for PATCH /workspaces/idle-set
    let patches = [
        (json!({"idle_timeout_secs": 600}), StatusCode::OK, ""),
        (json!({"idle_timeout_secs": null}), StatusCode::OK, ""),
        (json!({}), StatusCode::OK, ""),
        (
            json!({"idle_timeout_secs": 0}),
            StatusCode::BAD_REQUEST,
            "invalid_idle_timeout",
        ),
        (
            json!({"idle_timeout_secs": 59}),
            StatusCode::BAD_REQUEST,
            "invalid_idle_timeout",
        ),
        (
            json!({"idle_timeout_secs": 3601}),
            StatusCode::BAD_REQUEST,
            "invalid_idle_timeout",
        ),
        (
            json!({"idle_timeout_secs": -1}),
            StatusCode::BAD_REQUEST,
            "invalid_idle_timeout",
        ),
        (
            json!({"idle_timeout_secs": "1h"}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({"name": "renamed"}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
    ];
    for (body, status, code) in patches {
        let r = reqwest::Client::new()
            .patch(format!("{}/api/v1/workspaces/idle-set", ts.url))
            .bearer_auth(&ts.admin)
            .json(&body)
            .send()
            .await
            .expect("patch");
        let got = r.status();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        if code.is_empty() {
            assert_eq!(got, status, "{body}: {v}");
        } else {
            assert_error(got, &v, status, code);
        }
    }
    // (body, code) for POST /workspaces/idle-set/keepalive
    let long = "x".repeat(201);
    let keepalives = [
        (json!({"for_secs": 0, "reason": "r"}), "invalid_keep_alive"),
        (
            json!({"for_secs": 604801, "reason": "r"}),
            "invalid_keep_alive",
        ),
        (json!({"for_secs": 60, "reason": ""}), "invalid_keep_alive"),
        (
            json!({"for_secs": 60, "reason": "  "}),
            "invalid_keep_alive",
        ),
        (
            json!({"for_secs": 60, "reason": "two\nlines"}),
            "invalid_keep_alive",
        ),
        (
            json!({"for_secs": 60, "reason": long}),
            "invalid_keep_alive",
        ),
        (json!({"for_secs": -5, "reason": "r"}), "invalid_request"),
        (json!({"reason": "r"}), "invalid_request"),
    ];
    for (body, code) in keepalives {
        let (s, v) = api
            .post("/api/v1/workspaces/idle-set/keepalive", body.clone())
            .await;
        assert_error(s, &v, StatusCode::BAD_REQUEST, code);
    }
    // Another member cannot see it, a viewer cannot change their own.
    let member = ts
        .user("idle-member", aicockpit_core::auth::Role::Member)
        .await;
    let (s, v) = ts
        .api(&member)
        .post(
            "/api/v1/workspaces/idle-set/keepalive",
            json!({"for_secs": 60, "reason": "mine now"}),
        )
        .await;
    assert_error(s, &v, StatusCode::NOT_FOUND, "not_found");
    let id = state(&ts, "idle-set").await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let (s, v) = ts
        .api(&member)
        .post(
            &format!("/api/v1/workspaces/{id}/keepalive"),
            json!({"for_secs": 60, "reason": "mine now"}),
        )
        .await;
    assert_error(s, &v, StatusCode::NOT_FOUND, "not_found");
    let (s, v) = ts
        .api(&member)
        .post_empty(&format!("/api/v1/workspaces/{id}/activity"))
        .await;
    assert_error(s, &v, StatusCode::NOT_FOUND, "not_found");
    let (s, _) = api.post_empty("/api/v1/workspaces/idle-set/activity").await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    // Stopped: nothing to keep alive.
    let (s, _) = api.post_empty("/api/v1/workspaces/idle-set/stop").await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = api
        .post(
            "/api/v1/workspaces/idle-set/keepalive",
            json!({"for_secs": 60, "reason": "r"}),
        )
        .await;
    assert_error(s, &v, StatusCode::CONFLICT, "workspace_not_running");
}
