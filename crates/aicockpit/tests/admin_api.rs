//! What the admin pages call: only admins reach the admin endpoints (a
//! table of every one of them), local model servers are detected from the
//! server, each service's last test is kept, models per feature, usage
//! series, the server's verdict on a policy being edited, audit search and
//! verification, and the system overview.

use crate::common::{assert_error, TestServer};
use crate::fake_ai;
use aicockpit_core::auth::Role;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Every admin-only endpoint the pages use, with a body where it takes one.
fn admin_endpoints(user_id: &str) -> Vec<(&'static str, String, Value)> {
    vec![
        ("GET", "/api/v1/users".into(), Value::Null),
        (
            "POST",
            "/api/v1/users".into(),
            json!({"username": "sneaky", "password": "password-123", "role": "admin"}),
        ),
        (
            "PATCH",
            format!("/api/v1/users/{user_id}"),
            json!({"role": "admin"}),
        ),
        (
            "POST",
            format!("/api/v1/users/{user_id}/password"),
            json!({"password": "password-456"}),
        ),
        (
            "PUT",
            format!("/api/v1/users/{user_id}/quota"),
            json!({"workspaces": 99}),
        ),
        (
            "POST",
            "/api/v1/ai/services".into(),
            json!({"name": "evil", "kind": "custom", "base_url": "http://127.0.0.1:1/v1"}),
        ),
        ("POST", "/api/v1/ai/detect".into(), Value::Null),
        (
            "PUT",
            "/api/v1/ai/features/defaults".into(),
            json!({"chat": "x"}),
        ),
        (
            "PUT",
            "/api/v1/ai/default-policy".into(),
            json!({"tools": {}}),
        ),
        ("GET", "/api/v1/ai/usage?all=true".into(), Value::Null),
        (
            "GET",
            "/api/v1/ai/usage/series?all=true".into(),
            Value::Null,
        ),
        ("GET", "/api/v1/audit".into(), Value::Null),
        ("GET", "/api/v1/audit/verify".into(), Value::Null),
        ("GET", "/api/v1/audit/export".into(), Value::Null),
        ("GET", "/api/v1/system".into(), Value::Null),
        ("GET", "/metrics".into(), Value::Null),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_and_viewers_get_403_from_every_admin_endpoint() {
    let ts = TestServer::start().await;
    for (name, role) in [("mem", Role::Member), ("view", Role::Viewer)] {
        let api = ts.api(&ts.user(name, role).await);
        let (_, me) = api.get("/api/v1/auth/me").await;
        let id = me["id"].as_str().expect("id").to_owned();
        for (method, path, body) in admin_endpoints(&id) {
            let (s, v) = match method {
                "GET" => api.get(&path).await,
                "POST" if body.is_null() => api.post_empty(&path).await,
                "POST" => api.post(&path, body).await,
                "PUT" => api.put(&path, body).await,
                _ => api.patch(&path, body).await,
            };
            // Members must name a workspace to read the audit log.
            let want = if path == "/api/v1/audit" {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::FORBIDDEN
            };
            assert_eq!(s, want, "{name} {method} {path}: {v}");
        }
        // Nothing changed: still a member, no new user or service.
        let (_, me) = api.get("/api/v1/auth/me").await;
        assert_eq!(me["role"], role.as_str());
    }
    let (_, users) = ts.admin_api().get("/api/v1/users").await;
    assert!(!users.to_string().contains("sneaky"), "{users}");
    let (_, services) = ts.admin_api().get("/api/v1/ai/services").await;
    assert_eq!(services, json!([]));

    // The admin reaches them all.
    let (s, sys) = ts.admin_api().get("/api/v1/system").await;
    assert_eq!(s, StatusCode::OK, "{sys}");
    assert_eq!(sys["engine"], "docker", "{sys}");
    assert_eq!(sys["database"], "sqlite", "{sys}");
    assert_eq!(sys["ready"], true, "{sys}");
    assert!(
        sys["version"].as_str().is_some_and(|v| !v.is_empty()),
        "{sys}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_servers_are_detected_tests_kept_and_models_chosen_per_feature() {
    let fake = fake_ai::start().await;
    let fake_url = format!("{}/v1", fake.url);
    let dead = "http://127.0.0.1:9/v1".to_owned();
    let urls = vec![fake_url.clone(), dead.clone()];
    let ts = TestServer::start_with(move |c| c.ai.detect_urls = urls).await;
    let admin = ts.admin_api();

    let (s, presets) = admin.get("/api/v1/ai/presets").await;
    assert_eq!(s, StatusCode::OK);
    let kinds: Vec<&str> = presets
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["kind"].as_str())
        .collect();
    assert_eq!(
        kinds,
        ["ollama", "lm_studio", "vllm", "custom"],
        "{presets}"
    );

    let (s, found) = admin.post_empty("/api/v1/ai/detect").await;
    assert_eq!(s, StatusCode::OK, "{found}");
    let found = found.as_array().cloned().unwrap_or_default();
    // Only what answers (no Ollama etc. on this machine's default ports is
    // assumed: those are listed only if they answered).
    assert!(
        found.iter().any(|d| d["base_url"] == fake_url.as_str()
            && d["probe"]["models"] == json!(["fake-small", "fake-large"])),
        "{found:?}"
    );
    assert!(
        !found.iter().any(|d| d["base_url"] == dead.as_str()),
        "{found:?}"
    );

    // A test is kept and shown with the service.
    let (s, _) = admin
        .post(
            "/api/v1/ai/services",
            json!({"name": "local", "kind": "custom", "base_url": fake_url}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (_, list) = admin.get("/api/v1/ai/services").await;
    assert_eq!(list[0]["last_test"], Value::Null, "{list}");
    let (s, t) = admin.post_empty("/api/v1/ai/services/local/test").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(t["ok"], true, "{t}");
    let (_, list) = admin.get("/api/v1/ai/services").await;
    assert_eq!(list[0]["last_test"]["ok"], true, "{list}");
    assert_eq!(
        list[0]["last_test"]["models"],
        json!(["fake-small", "fake-large"])
    );
    assert!(!list.to_string().contains("api_key\":\""), "{list}");
    let (_, rows) = admin.get("/api/v1/audit?action=ai.service.test").await;
    assert_eq!(rows[0]["detail"]["ok"], true, "{rows}");

    // Whatever answers on a tested address may send anything: a "models
    // list" of 5 MiB is refused, not buffered whole.
    let huge = axum::Router::new().route(
        "/v1/models",
        axum::routing::get(|| async {
            // Valid JSON: only its size gives it away.
            let one = r#"{"id":"m"},"#.repeat(500_000);
            format!(r#"{{"object":"list","data":[{one}{{"id":"last"}}]}}"#)
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let huge_url = format!("http://{}/v1", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, huge).await;
    });
    let (s, _) = admin
        .post(
            "/api/v1/ai/services",
            json!({"name": "huge", "kind": "custom", "base_url": huge_url}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, t) = admin.post_empty("/api/v1/ai/services/huge/test").await;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert_eq!(t["ok"], false, "{t}");
    assert_eq!(t["error_kind"], "invalid_response", "{t}");
    let (s, _) = admin.delete("/api/v1/ai/services/huge").await;
    assert_eq!(s, StatusCode::NO_CONTENT);

    // Models per feature: admins' defaults, the user's own on top.
    let (s, f) = admin
        .put(
            "/api/v1/ai/features/defaults",
            json!({"completion": "fake-small", "agent": "fake-large"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{f}");
    let member = ts.api(&ts.user("fern", Role::Member).await);
    let (s, f) = member
        .put(
            "/api/v1/ai/features/mine",
            json!({"agent": "local/fake-small"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{f}");
    let model_of = |f: &Value, name: &str| {
        f["features"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|x| x["feature"] == name)
            .map(|x| x["model"].clone())
            .unwrap_or(Value::Null)
    };
    assert_eq!(model_of(&f, "agent"), "local/fake-small", "{f}");
    assert_eq!(model_of(&f, "completion"), "fake-small", "{f}");
    assert_eq!(model_of(&f, "chat"), Value::Null, "{f}");
    let (_, f) = member
        .put("/api/v1/ai/features/mine", json!({"agent": null}))
        .await;
    assert_eq!(model_of(&f, "agent"), "fake-large", "{f}");
    // The admin's own view is unaffected by the member's choice.
    let (_, f) = admin.get("/api/v1/ai/features").await;
    assert_eq!(model_of(&f, "agent"), "fake-large", "{f}");

    // Bad changes, as a table.
    let bad: [(Value, &str); 4] = [
        (json!({"agent": "x\u{7}y"}), "invalid_model"),
        (json!({"agent": "m".repeat(201)}), "invalid_model"),
        (json!({"telepathy": "m"}), "invalid_request"),
        (json!({"chat": 5}), "invalid_request"),
    ];
    for (body, code) in bad {
        let (s, v) = member.put("/api/v1/ai/features/mine", body.clone()).await;
        assert_error(s, &v, StatusCode::BAD_REQUEST, code);
    }

    // Usage per hour, with names; members see their own only.
    for _ in 0..2 {
        let r = reqwest::Client::new()
            .post(format!("{}/v1/chat/completions", ts.url))
            .bearer_auth(&ts.admin)
            .json(&json!({"model": "fake-small", "messages": [{"role": "user", "content": "hi"}]}))
            .send()
            .await
            .expect("chat");
        assert_eq!(r.status(), StatusCode::OK);
    }
    let (s, series) = admin
        .get("/api/v1/ai/usage/series?all=true&bucket=hour&hours=24")
        .await;
    assert_eq!(s, StatusCode::OK, "{series}");
    let rows = series.as_array().cloned().unwrap_or_default();
    assert_eq!(rows.len(), 1, "{series}");
    assert_eq!(rows[0]["username"], "admin", "{series}");
    assert_eq!(rows[0]["requests"], 2, "{series}");
    let at = rows[0]["at"].as_i64().unwrap_or(-1);
    assert!(at > 0 && at % 3_600_000 == 0, "{series}");
    let (_, mine) = member.get("/api/v1/ai/usage/series").await;
    assert_eq!(mine, json!([]));
    let (s, v) = admin.get("/api/v1/ai/usage/series?bucket=week").await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "invalid_query");
    let (_, totals) = admin.get("/api/v1/ai/usage?all=true").await;
    assert_eq!(totals[0]["username"], "admin", "{totals}");
    assert!(totals[0].get("at").is_none(), "{totals}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_policy_check_is_the_servers_judge_on_the_policy_being_edited() {
    let ts = TestServer::start().await;
    let member = ts.api(&ts.user("pat", Role::Member).await);
    let (_, default) = member.get("/api/v1/ai/default-policy").await;
    let mut strict = default.clone();
    strict["commands"] =
        json!([{"pattern": "echo", "decision": "ask"}, {"pattern": "ls", "decision": "allow"}]);
    strict["tools"]["run_command"] = json!("allow");
    let mut closed = default.clone();
    closed["tools"]["run_command"] = json!("deny");
    // (policy, command line, decision, words the reason contains)
    let cases: Vec<(&Value, &str, &str, &str)> = vec![
        (&default, "ls -la", "allow", "ls"),
        (&default, "sudo rm -rf /tmp/x", "deny", "sudo"),
        (&default, "git push origin main", "ask", "git push"),
        (&default, "ls && sudo id", "deny", "sudo"),
        (&default, "ls $(sudo id)", "deny", "sudo"),
        (&strict, "echo hi", "ask", "echo"),
        (&strict, "ls; echo hi", "ask", "echo"),
        (&strict, "ls", "allow", "ls"),
        (&closed, "ls", "deny", "run_command"),
        (&default, "", "deny", "empty"),
    ];
    for (policy, line, decision, why) in cases {
        let (s, v) = member
            .post(
                "/api/v1/ai/policy/check",
                json!({"policy": policy, "command": line}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{line}: {v}");
        assert_eq!(v["decision"], decision, "{line}: {v}");
        assert!(
            v["reason"].as_str().unwrap_or_default().contains(why),
            "{line}: {v}"
        );
    }
    let (s, v) = member
        .post(
            "/api/v1/ai/policy/check",
            json!({"policy": default, "command": "x".repeat(20_000)}),
        )
        .await;
    assert_error(s, &v, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    let (s, v) = member
        .post(
            "/api/v1/ai/policy/check",
            json!({"policy": {"tools": "all"}, "command": "ls"}),
        )
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "invalid_request");
    let (s, _) = ts
        .anonymous()
        .post(
            "/api/v1/ai/policy/check",
            json!({"policy": default, "command": "ls"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_is_searched_newest_first_and_verified() {
    let ts = TestServer::start().await;
    let admin = ts.admin_api();
    for name in ["ann", "bob", "cyd"] {
        ts.user(name, Role::Member).await;
    }
    let member = ts.api(&ts.user("dan", Role::Member).await);
    let (_, me) = member.get("/api/v1/auth/me").await;
    let dan = me["id"].as_str().expect("id").to_owned();
    let (s, _) = member
        .post("/api/v1/auth/tokens", json!({"name": "ci"}))
        .await;
    assert_eq!(s, StatusCode::CREATED);

    let (_, rows) = admin
        .get("/api/v1/audit?action=user.create&before=999999999&limit=2")
        .await;
    let rows = rows.as_array().cloned().unwrap_or_default();
    assert_eq!(rows.len(), 2);
    let names: Vec<&str> = rows
        .iter()
        .filter_map(|r| r["detail"]["username"].as_str())
        .collect();
    assert_eq!(names, ["dan", "cyd"], "newest first");
    let older = rows[1]["seq"].as_i64().unwrap_or(0);
    let (_, rows) = admin
        .get(&format!(
            "/api/v1/audit?action=user.create&before={older}&limit=2"
        ))
        .await;
    let names: Vec<&str> = rows
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["detail"]["username"].as_str())
        .collect();
    assert_eq!(names, ["bob", "ann"], "the next page");

    // By username (rows name users by id), and by time.
    let (_, rows) = admin.get("/api/v1/audit?actor=dan").await;
    let actions: Vec<&str> = rows
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["action"].as_str())
        .collect();
    assert_eq!(actions, ["token.create"], "{rows}");
    assert_eq!(rows[0]["actor"], dan.as_str());
    let (_, rows) = admin.get("/api/v1/audit?since=4102444800000").await;
    assert_eq!(rows, json!([]));
    let (_, rows) = admin.get("/api/v1/audit?until=1").await;
    assert_eq!(rows, json!([]));
    // The prefix is not a pattern.
    let (_, rows) = admin.get("/api/v1/audit?action=user_").await;
    assert_eq!(rows, json!([]));
    let (_, rows) = admin.get("/api/v1/audit?action=%25").await;
    assert_eq!(rows, json!([]));
    let (s, v) = admin
        .get(&format!("/api/v1/audit?actor={}", "a".repeat(300)))
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "invalid_query");

    let (s, v) = admin.get("/api/v1/audit/verify").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["ok"], true, "{v}");
    assert!(v["rows"].as_u64().unwrap_or(0) >= 5, "{v}");
    // An edited row is found.
    ts.state
        .store
        .execute_raw("DROP TRIGGER IF EXISTS audit_log_no_update")
        .await
        .expect("drop trigger");
    ts.state
        .store
        .execute_raw("UPDATE audit_log SET actor = 'someone-else' WHERE seq = 2")
        .await
        .expect("edit");
    let (_, v) = admin.get("/api/v1/audit/verify").await;
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(v["broken_seq"], 2, "{v}");
}
