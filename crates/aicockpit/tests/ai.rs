//! The AI service registry and the OpenAI-compatible gateway, against a
//! scripted fake upstream (exact behaviour and faults) and a real local model
//! server (llama.cpp with SmolLM2, started by scripts/test).

use crate::common::{assert_error, TestServer};
use crate::fake_ai::{self, sse_events};
use aicockpit_core::auth::Role;
use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

async fn add_service(ts: &TestServer, body: Value) -> Value {
    let (s, v) = ts.admin_api().post("/api/v1/ai/services", body).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v
}

fn v1(ts: &TestServer, path: &str, token: &str) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .post(format!("{}/v1/{path}", ts.url))
        .bearer_auth(token)
}

async fn chat(ts: &TestServer, model: &str, stream: bool) -> reqwest::Response {
    v1(ts, "chat/completions", &ts.admin)
        .json(&json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .expect("request")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_pass_event_by_event_with_quirks_smoothed_and_usage_counted() {
    let fake = fake_ai::start().await;
    let ts = TestServer::start().await;
    add_service(
        &ts,
        json!({"name": "fake", "kind": "custom", "base_url": format!("{}/v1", fake.url)}),
    )
    .await;

    let resp = chat(&ts, "quirky", true).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    assert_eq!(resp.headers()["x-accel-buffering"], "no");
    assert_eq!(resp.headers()["cache-control"], "no-cache");
    assert!(resp.headers()["x-aicockpit-overhead-ms"]
        .to_str()
        .unwrap_or("")
        .parse::<f64>()
        .is_ok());
    // Read event by event; the upstream holds the rest back until we have
    // seen the first content, so a buffering gateway would hang here.
    let mut stream = resp.bytes_stream();
    let mut text = String::new();
    let mut released = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while let Some(chunk) = tokio::time::timeout_at(deadline, stream.next())
        .await
        .expect("not buffered")
    {
        text.push_str(&String::from_utf8_lossy(&chunk.expect("chunk")));
        if !released && text.contains("\"Hel\"") {
            released = true;
            fake.seen.gate.notify_one();
        }
    }
    let events: Vec<&str> = text
        .split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| e.strip_prefix("data: ").unwrap_or(e))
        .collect();
    let contents: String = events
        .iter()
        .filter_map(|e| serde_json::from_str::<Value>(e).ok())
        .filter_map(|v| {
            v["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(contents, "Hello", "{text}");
    assert_eq!(events.last(), Some(&"[DONE]"));
    for e in &events[..events.len() - 1] {
        let v: Value =
            serde_json::from_str(e).unwrap_or_else(|_| panic!("malformed event passed on: {e}"));
        assert!(
            v["choices"].as_array().is_some_and(|c| !c.is_empty()),
            "empty choices passed on: {e}"
        );
        assert!(
            v["choices"][0].get("content_filter_results").is_none()
                || !v["choices"][0]["delta"]
                    .as_object()
                    .is_none_or(|d| d.is_empty()),
            "{e}"
        );
    }
    // We asked the upstream for usage (the client did not): it reached the
    // accounting but not the client.
    let (_, _, sent) = fake
        .seen
        .last
        .lock()
        .expect("lock")
        .clone()
        .expect("request");
    assert_eq!(sent["stream_options"]["include_usage"], true);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (_, usage) = ts.admin_api().get("/api/v1/ai/usage").await;
    assert_eq!(usage[0]["service"], "fake", "{usage}");
    assert_eq!(usage[0]["prompt_tokens"], 4);
    assert_eq!(usage[0]["completion_tokens"], 2);

    // A client that asks for usage gets the usage chunk.
    let resp = v1(&ts, "chat/completions", &ts.admin)
        .json(&json!({"model": "plain", "stream": true, "stream_options": {"include_usage": true}, "messages": []}))
        .send()
        .await
        .expect("request");
    let events = sse_events(resp).await;
    assert!(events.iter().any(|e| e.contains("\"usage\"")), "{events:?}");

    // Non-streamed answers pass through with their usage counted.
    let resp = chat(&ts, "plain", false).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let v: Value = resp.json().await.expect("json");
    assert_eq!(v["choices"][0]["message"]["content"], "Hello");
    let (_, text) = ts.admin_api().get_text("/metrics").await;
    assert!(
        text.contains("aicockpit_ai_requests_total{service=\"fake\""),
        "{text}"
    );
    assert!(text.contains("aicockpit_ai_tokens_total"), "{text}");
    assert!(
        text.contains("aicockpit_ai_overhead_seconds_bucket"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_rate_limits_fallbacks_and_upstream_errors() {
    let fake = fake_ai::start().await;
    let ts = TestServer::start().await;
    let backup = add_service(&ts, json!({"name": "backup", "kind": "custom", "base_url": format!("{}/v1", fake.url), "default_model": "from-backup"})).await;
    add_service(
        &ts,
        json!({"name": "main", "kind": "vllm", "base_url": format!("{}/v1", fake.url),
               "first_byte_timeout_ms": 500, "fallback": "backup"}),
    )
    .await;
    let (s, _) = ts
        .admin_api()
        .post_empty("/api/v1/ai/services/main/activate")
        .await;
    assert_eq!(s, StatusCode::OK);

    // 500, 500, then fine: retried, and says so.
    let resp = chat(&ts, "fail-twice", false).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["x-aicockpit-attempts"], "3");
    // A short Retry-After is waited out and retried.
    let resp = chat(&ts, "limited-once", false).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["x-aicockpit-retried-after"], "429");
    // A slow first byte times out and falls back to the backup service.
    let resp = chat(&ts, "slow", false).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["x-aicockpit-fallback"]
        .to_str()
        .unwrap_or("")
        .starts_with("backup"));
    let v: Value = resp.json().await.expect("json");
    assert_eq!(
        v["model"], "from-backup",
        "the fallback's own default model"
    );
    // Persistent 500s end in the fallback too.
    let resp = chat(&ts, "always-500", false).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["x-aicockpit-service"], "backup");

    // Without a fallback, errors come back in OpenAI's format.
    ts.admin_api()
        .post_empty(&format!(
            "/api/v1/ai/services/{}/activate",
            backup["id"].as_str().expect("id")
        ))
        .await;
    let resp = chat(&ts, "limited-long", false).await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(resp.headers()["retry-after"], "120");
    let v: Value = resp.json().await.expect("json");
    assert_eq!(v["error"]["type"], "rate_limit_error");
    assert!(
        v["error"]["message"].as_str().unwrap_or("").contains("120"),
        "{v}"
    );
    let resp = chat(&ts, "always-500", false).await;
    assert_eq!(resp.status(), StatusCode::BAD_GATEWAY);
    let v: Value = resp.json().await.expect("json");
    assert_eq!(v["error"]["type"], "api_error");
    // The upstream's own 400 passes through unchanged.
    let resp = chat(&ts, "bad", false).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let v: Value = resp.json().await.expect("json");
    assert_eq!(v["error"]["param"], "max_tokens");
    // An unreachable service: 502 with the reason.
    add_service(&ts, json!({"name": "gone", "kind": "custom", "base_url": "http://127.0.0.1:9/v1", "connect_timeout_ms": 500})).await;
    let resp = chat(&ts, "gone/anything", false).await;
    assert_eq!(resp.status(), StatusCode::BAD_GATEWAY);
    let v: Value = resp.json().await.expect("json");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("refused"),
        "{v}"
    );

    // Bad input and auth, in OpenAI's format.
    let r = v1(&ts, "chat/completions", &ts.admin)
        .body("{not json")
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json::<Value>().await.expect("json")["error"]["type"],
        "invalid_request_error"
    );
    let r = v1(&ts, "chat/completions", "acp_wrong")
        .json(&json!({}))
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.json::<Value>().await.expect("json")["error"]["type"],
        "authentication_error"
    );
    let huge = json!({"model": "plain", "messages": [{"role": "user", "content": "x".repeat(17 * 1024 * 1024)}]});
    let r = v1(&ts, "chat/completions", &ts.admin)
        .json(&huge)
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_streams_end_cleanly_and_client_disconnects_cancel_upstream() {
    let fake = fake_ai::start().await;
    let ts = TestServer::start().await;
    add_service(&ts, json!({"name": "fake", "kind": "custom", "base_url": format!("{}/v1", fake.url), "idle_timeout_ms": 2000})).await;

    // The upstream hangs up mid-stream: the client gets what came, then a
    // clear error event (and no [DONE] pretending all is well).
    let events = sse_events(chat(&ts, "cut", true).await).await;
    assert!(events[0].contains("par"), "{events:?}");
    let last = events.last().expect("events");
    assert!(last.contains("upstream_disconnected"), "{events:?}");
    assert!(!events.iter().any(|e| e == "[DONE]"));

    // The client goes away mid-stream: the gateway drops the upstream.
    let resp = chat(&ts, "hang", true).await;
    let mut s = resp.bytes_stream();
    let first = s.next().await.expect("first").expect("chunk");
    assert!(String::from_utf8_lossy(&first).contains("wait"));
    drop(s);
    let mut cancelled = false;
    for _ in 0..50 {
        if fake
            .seen
            .stream_dropped
            .load(std::sync::atomic::Ordering::SeqCst)
        {
            cancelled = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(cancelled, "the upstream request was not cancelled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registry_keeps_keys_secret_and_routes_models() {
    let fake = fake_ai::start().await;
    let ts = TestServer::start().await;
    let admin = ts.admin_api();
    let member = ts.api(&ts.user("mia", Role::Member).await);

    let svc = add_service(
        &ts,
        json!({"name": "keyed", "kind": "openai", "base_url": format!("{}/v1", fake.url), "api_key": "sk-secret-123",
               "headers": {"X-Org": "org-secret-456"}, "default_model": "fake-small"}),
    )
    .await;
    assert_eq!(svc["has_api_key"], true);
    assert_eq!(svc["header_names"], json!(["X-Org"]));
    assert_eq!(svc["active"], true, "the first service becomes active");
    for (_, body) in [
        admin.get("/api/v1/ai/services").await,
        member.get("/api/v1/ai/services").await,
    ] {
        let text = body.to_string();
        assert!(
            !text.contains("sk-secret-123") && !text.contains("org-secret-456"),
            "{text}"
        );
    }
    let stored = ts.state.store.ai_services().await.expect("rows");
    let row = format!("{:?}", stored);
    assert!(
        !row.contains("sk-secret-123") && !row.contains("org-secret-456"),
        "secrets stored in clear"
    );
    // Members use services but do not manage them.
    let (s, v) = member
        .post(
            "/api/v1/ai/services",
            json!({"name": "x", "kind": "ollama"}),
        )
        .await;
    assert_error(s, &v, StatusCode::FORBIDDEN, "forbidden");
    let (s, v) = admin
        .post(
            "/api/v1/ai/services",
            json!({"name": "keyed", "kind": "ollama"}),
        )
        .await;
    assert_error(s, &v, StatusCode::CONFLICT, "conflict");
    let (s, v) = admin
        .post(
            "/api/v1/ai/services",
            json!({"name": "x", "kind": "skynet"}),
        )
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "invalid_kind");
    let (s, v) = admin
        .post(
            "/api/v1/ai/services",
            json!({"name": "x", "kind": "custom", "base_url": "ftp://h"}),
        )
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "invalid_base_url");

    // The key reaches the upstream, and only there.
    let member_token = ts.user("mo", Role::Member).await;
    let r = v1(&ts, "chat/completions", &member_token)
        .json(&json!({"model": "echo", "messages": []}))
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), StatusCode::OK);
    let (_, headers, _) = fake
        .seen
        .last
        .lock()
        .expect("lock")
        .clone()
        .expect("request");
    assert_eq!(headers["authorization"], "Bearer sk-secret-123");
    assert_eq!(headers["x-org"], "org-secret-456");

    // Test connection: models found, or the exact failure.
    let (s, t) = admin
        .post_empty(&format!(
            "/api/v1/ai/services/{}/test",
            svc["id"].as_str().expect("id")
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert_eq!(t["ok"], true, "{t}");
    assert_eq!(t["models"], json!(["fake-small", "fake-large"]));
    assert_eq!(t["default_model_found"], true);
    for (name, url, kind) in [
        ("refused", "http://127.0.0.1:9/v1".to_string(), "refused"),
        ("nodns", "http://no-such-host.invalid/v1".to_string(), "dns"),
    ] {
        add_service(
            &ts,
            json!({"name": name, "kind": "custom", "base_url": url}),
        )
        .await;
        let (_, t) = admin
            .post_empty(&format!("/api/v1/ai/services/{name}/test"))
            .await;
        assert_eq!(t["ok"], false, "{t}");
        assert_eq!(t["error_kind"], kind, "{t}");
    }

    // Aliases route a model name to a service (and rename it).
    let (s, _) = admin
        .post(
            "/api/v1/ai/services",
            json!({"name": "other", "kind": "custom", "base_url": format!("{}/v1", fake.url)}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let r = reqwest::Client::new()
        .put(format!("{}/api/v1/ai/aliases/smart", ts.url))
        .bearer_auth(&ts.admin)
        .json(&json!({"service": "other", "target_model": "echo"}))
        .send()
        .await
        .expect("alias");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = v1(&ts, "chat/completions", &ts.admin)
        .json(&json!({"model": "smart", "messages": []}))
        .send()
        .await
        .expect("req");
    assert_eq!(r.headers()["x-aicockpit-service"], "other");
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["received"]["model"], "echo");
    // /v1/models merges every service and the aliases.
    let r = reqwest::Client::new()
        .get(format!("{}/v1/models", ts.url))
        .bearer_auth(&ts.admin)
        .send()
        .await
        .expect("models");
    let v: Value = r.json().await.expect("json");
    let ids: Vec<&str> = v["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    assert!(
        ids.contains(&"smart") && ids.contains(&"fake-small") && ids.contains(&"fake-large"),
        "{ids:?}"
    );

    // Deleting a service removes it; its secret is gone with it.
    let (s, _) = admin.delete("/api/v1/ai/services/keyed").await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, v) = admin.post_empty("/api/v1/ai/services/keyed/test").await;
    assert_error(s, &v, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_urls_headers_and_per_user_rate_limits() {
    let fake = fake_ai::start().await;
    let ts = TestServer::start_with(|c| c.ai.requests_per_minute = 2).await;
    add_service(
        &ts,
        json!({"name": "az", "kind": "azure_openai", "base_url": fake.url, "api_key": "az-key",
               "azure_deployment": "gpt4o-prod", "azure_api_version": "2024-10-21"}),
    )
    .await;
    let r = chat(&ts, "echo", false).await;
    assert_eq!(r.status(), StatusCode::OK);
    let (path, headers, _) = fake.seen.last.lock().expect("lock").clone().expect("req");
    assert_eq!(
        path,
        "/openai/deployments/gpt4o-prod/chat/completions?api-version=2024-10-21"
    );
    assert_eq!(headers["api-key"], "az-key");
    assert!(headers.get("authorization").is_none());

    let r = reqwest::Client::new()
        .patch(format!("{}/api/v1/ai/services/az", ts.url))
        .bearer_auth(&ts.admin)
        .json(&json!({"azure_api_version": "", "azure_deployment": ""}))
        .send()
        .await
        .expect("patch");
    assert_eq!(r.status(), StatusCode::OK);
    chat(&ts, "echo", false).await;
    let (path, _, _) = fake.seen.last.lock().expect("lock").clone().expect("req");
    assert_eq!(path, "/openai/v1/chat/completions");

    // The third request in a minute is refused, with when to retry.
    let r = chat(&ts, "echo", false).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap_or("0")
        .parse()
        .unwrap_or(0);
    assert!((1..=60).contains(&wait));
    // Per user: someone else still gets through.
    let other = ts.user("olga", Role::Member).await;
    let r = v1(&ts, "chat/completions", &other)
        .json(&json!({"model": "echo", "messages": []}))
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), StatusCode::OK);
}

fn llm_url() -> String {
    std::env::var("AICOCKPIT_TEST_LLM_URL")
        .expect("AICOCKPIT_TEST_LLM_URL must name the local model server (scripts/test starts it)")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_local_model_server_through_the_gateway() {
    let ts = TestServer::start().await;
    let svc = add_service(&ts, json!({"name": "llama", "kind": "custom", "base_url": llm_url(), "default_model": "smollm2"})).await;
    let (_, t) = ts
        .admin_api()
        .post_empty(&format!(
            "/api/v1/ai/services/{}/test",
            svc["id"].as_str().expect("id")
        ))
        .await;
    assert_eq!(t["ok"], true, "{t}");
    assert!(
        t["models"]
            .as_array()
            .is_some_and(|m| m.iter().any(|x| x == "smollm2")),
        "{t}"
    );

    let r = v1(&ts, "chat/completions", &ts.admin)
        .json(&json!({"model": "smollm2", "max_tokens": 12, "messages": [{"role": "user", "content": "Say hello."}]}))
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.expect("json");
    assert!(
        v["choices"][0]["message"]["content"]
            .as_str()
            .is_some_and(|c| !c.is_empty()),
        "{v}"
    );
    assert!(
        v["usage"]["completion_tokens"]
            .as_u64()
            .is_some_and(|n| n > 0),
        "{v}"
    );

    let r = v1(&ts, "chat/completions", &ts.admin)
        .json(&json!({"model": "", "stream": true, "max_tokens": 12, "messages": [{"role": "user", "content": "Count to five."}]}))
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), StatusCode::OK);
    let events = sse_events(r).await;
    assert_eq!(
        events.last().map(String::as_str),
        Some("[DONE]"),
        "{events:?}"
    );
    let text: String = events
        .iter()
        .filter_map(|e| serde_json::from_str::<Value>(e).ok())
        .filter_map(|v| {
            v["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert!(!text.is_empty(), "{events:?}");
    assert!(events.len() > 3, "streamed in pieces: {events:?}");

    let r = v1(&ts, "completions", &ts.admin)
        .json(&json!({"model": "smollm2", "prompt": "def add(a, b):", "max_tokens": 8}))
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.expect("json");
    assert!(v["choices"][0]["text"].is_string(), "{v}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (_, usage) = ts.admin_api().get("/api/v1/ai/usage").await;
    let total: i64 = usage
        .as_array()
        .expect("usage")
        .iter()
        .filter_map(|u| u["total_tokens"].as_i64())
        .sum();
    assert!(total > 0, "{usage}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_openai_sdks_work_against_the_gateway() {
    let ts = TestServer::start().await;
    add_service(&ts, json!({"name": "llama", "kind": "custom", "base_url": llm_url(), "default_model": "smollm2"})).await;
    let base = format!("{}/v1", ts.url);
    let here = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sdk");
    let python = std::env::var("AICOCKPIT_TEST_PYTHON").expect(
        "AICOCKPIT_TEST_PYTHON must name a Python with the openai package (scripts/test sets it)",
    );
    let web = concat!(env!("CARGO_MANIFEST_DIR"), "/../../web");
    for (prog, args) in [
        (python.as_str(), vec![format!("{here}/check_openai.py")]),
        // Kept under web/ so that its node_modules provide the `openai` package.
        ("node", vec![format!("{web}/tools/check-openai-sdk.mjs")]),
    ] {
        let mut cmd = tokio::process::Command::new(prog);
        cmd.args(&args)
            .args([base.as_str(), ts.admin.as_str(), "smollm2"])
            .current_dir(web);
        let out = tokio::time::timeout(Duration::from_secs(120), cmd.output())
            .await
            .expect("SDK check finished")
            .expect("SDK check ran");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{prog} failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("stream ok"), "{stdout}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_manages_services_and_streams_a_chat() {
    let fake = fake_ai::start().await;
    let ts = TestServer::start().await;
    let run = |args: Vec<String>, stdin: Option<&'static str>| {
        let url = ts.url.clone();
        let token = ts.admin.clone();
        async move {
            let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_aicockpit"));
            cmd.args(&args)
                .env("AICOCKPIT_URL", url)
                .env("AICOCKPIT_TOKEN", token)
                .env("AICOCKPIT_CLI_CONFIG", "/nonexistent/cli.json")
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            let mut child = cmd.spawn().expect("spawn");
            if let Some(input) = stdin {
                use tokio::io::AsyncWriteExt;
                let mut si = child.stdin.take().expect("stdin");
                si.write_all(input.as_bytes()).await.expect("write");
            }
            drop(child.stdin.take());
            let out = child.wait_with_output().await.expect("output");
            (
                out.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&out.stdout).into_owned(),
            )
        }
    };
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let base = format!("{}/v1", fake.url);
    let (code, out) = run(
        s(&[
            "ai",
            "services",
            "add",
            "fake",
            "--kind",
            "custom",
            "--base-url",
            &base,
            "--api-key-stdin",
            "--model",
            "plain",
        ]),
        Some("sk-from-stdin\n"),
    )
    .await;
    assert_eq!(code, 0, "{out}");
    let (code, out) = run(s(&["ai", "services", "ls"]), None).await;
    assert_eq!(code, 0);
    assert!(
        out.contains("* fake") && !out.contains("sk-from-stdin"),
        "{out}"
    );
    let (code, out) = run(s(&["ai", "services", "test", "fake"]), None).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("fake-small"), "{out}");
    let (code, out) = run(s(&["ai", "chat", "hello there"]), None).await;
    assert_eq!((code, out.as_str()), (0, "Hello\n"));
    let (code, _) = run(
        s(&[
            "ai",
            "services",
            "add",
            "dead",
            "--kind",
            "custom",
            "--base-url",
            "http://127.0.0.1:9/v1",
        ]),
        None,
    )
    .await;
    assert_eq!(code, 0);
    let (code, out) = run(s(&["ai", "services", "test", "dead"]), None).await;
    assert_eq!(code, 6, "{out}");
    assert!(out.contains("refused"), "{out}");
    let (code, _) = run(s(&["ai", "services", "use", "dead"]), None).await;
    assert_eq!(code, 0);
    let (code, _) = run(s(&["ai", "chat", "hi", "--model", "anything"]), None).await;
    assert_eq!(code, 6, "the service is down");
    let (code, _) = run(s(&["ai", "services", "rm", "dead"]), None).await;
    assert_eq!(code, 0);
    let (code, _) = run(s(&["ai", "services", "rm", "dead"]), None).await;
    assert_eq!(code, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_not_followed_and_model_labels_are_bounded() {
    let fake = fake_ai::start().await;
    let ts = TestServer::start().await;
    add_service(&ts, json!({"name": "fake", "kind": "custom", "base_url": format!("{}/v1", fake.url), "api_key": "sk-secret"})).await;
    // An upstream that redirects gets an error; the key goes nowhere else.
    let r = chat(&ts, "redirect", false).await;
    assert!(!r.status().is_success(), "{}", r.status());
    assert!(!fake
        .seen
        .followed_redirect
        .load(std::sync::atomic::Ordering::SeqCst));
    // The overhead header covers the server's own work (authentication
    // included), so it is never zero.
    let r = chat(&ts, "plain", false).await;
    let overhead: f64 = r
        .headers()
        .get("x-aicockpit-overhead-ms")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("overhead header");
    assert!(overhead > 0.0);
    // Model names are the caller's choice: they cannot grow the metrics
    // without bound.
    for i in 0..150 {
        let r = chat(&ts, &format!("fake/m{i}"), false).await;
        assert!(r.status().is_success());
    }
    let (_, text) = ts.admin_api().get_text("/metrics").await;
    let series = text
        .lines()
        .filter(|l| l.starts_with("aicockpit_ai_requests_total{"))
        .count();
    assert!(series <= 101, "{series} series");
    assert!(text.contains("model=\"other\""), "{text}");
}
