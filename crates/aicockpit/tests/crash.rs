//! `kill -9` of the real server binary, at rest and in the middle of
//! creating workspaces, loses nothing and leaves no untracked container.

use crate::common::{cleanup_instance, docker, engine_host};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct ServerProcess {
    child: Child,
    url: String,
}

impl ServerProcess {
    fn spawn(data_dir: &std::path::Path, port: u16) -> ServerProcess {
        let child = Command::new(env!("CARGO_BIN_EXE_aicockpit"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .env("AICOCKPIT_SERVER__DATA_DIR", data_dir)
            .env("AICOCKPIT_ENGINE__HOST", engine_host())
            .env("AICOCKPIT_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn server");
        ServerProcess {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    async fn wait_healthy(&self) {
        let c = reqwest::Client::new();
        for _ in 0..300 {
            if let Ok(r) = c.get(format!("{}/health", self.url)).send().await {
                if r.status() == StatusCode::OK {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("server did not come up");
    }

    fn kill9(&mut self) {
        // SIGKILL: no shutdown code runs.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

async fn call(
    c: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut r = c.request(method, url).bearer_auth(token);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let resp = r.send().await.expect("request");
    let s = resp.status();
    (s, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_rest_and_mid_create_loses_nothing_and_leaks_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let mut server = ServerProcess::spawn(dir.path(), port);
    server.wait_healthy().await;
    let password =
        std::fs::read_to_string(dir.path().join("initial-admin-password")).expect("password file");
    let c = reqwest::Client::new();
    let login: Value = c
        .post(format!("{}/api/v1/auth/login", server.url))
        .json(&json!({"username": "admin", "password": password.trim()}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("json");
    let token = login["token"].as_str().expect("token").to_owned();
    // The generated password must be replaced before anything else works.
    let (s, v) = call(
        &c,
        reqwest::Method::GET,
        format!("{}/api/v1/workspaces", server.url),
        &token,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["error"]["code"], "password_change_required", "{v}");
    let (s, v) = call(
        &c,
        reqwest::Method::POST,
        format!("{}/api/v1/auth/password", server.url),
        &token,
        Some(json!({"current_password": password.trim(), "new_password": "a-new-password-1"})),
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let base = server.url.clone();
    let ws = |path: &str| format!("{base}/api/v1/workspaces{path}");

    let (s, w) = call(
        &c,
        reqwest::Method::POST,
        ws(""),
        &token,
        Some(json!({"name": "survivor"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{w}");
    let id = w["id"].as_str().expect("id").to_owned();
    let instance = docker()
        .await
        .inspect_container(w["container_id"].as_str().expect("cid"), None)
        .await
        .expect("inspect")
        .config
        .and_then(|c| c.labels)
        .and_then(|l| l.get("io.aicockpit.instance").cloned())
        .expect("instance label");
    struct Cleanup(String);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            cleanup_instance(&engine_host(), &self.0);
        }
    }
    let _cleanup = Cleanup(instance.clone());

    let (s, r) = call(
        &c,
        reqwest::Method::POST,
        ws(&format!("/{id}/exec")),
        &token,
        Some(json!({"argv": ["sh", "-c", "echo precious > /workspace/data"]})),
    )
    .await;
    assert_eq!(
        (s, r["exit_code"].as_i64()),
        (StatusCode::OK, Some(0)),
        "{r}"
    );

    // Kill the server while several creates are in flight, at staggered
    // points of their progress.
    let mut inflight = Vec::new();
    for i in 0..4 {
        let c = c.clone();
        let url = ws("");
        let token = token.clone();
        inflight.push(tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(40 * i)).await;
            let _ = c
                .post(url)
                .bearer_auth(token)
                .json(&json!({"name": format!("inflight-{i}")}))
                .send()
                .await;
        }));
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    server.kill9();
    for t in inflight {
        let _ = t.await;
    }

    let mut server = ServerProcess::spawn(dir.path(), port);
    server.wait_healthy().await;
    let (s, list) = call(&c, reqwest::Method::GET, ws(""), &token, None).await;
    assert_eq!(s, StatusCode::OK, "{list}");
    let rows = list.as_array().expect("list").clone();
    let survivor = rows
        .iter()
        .find(|w| w["name"] == "survivor")
        .expect("survivor kept");
    assert_eq!(survivor["state"], "running");
    let (_, r) = call(
        &c,
        reqwest::Method::POST,
        ws(&format!("/{id}/exec")),
        &token,
        Some(json!({"argv": ["cat", "/workspace/data"]})),
    )
    .await;
    assert_eq!(r["stdout"], "precious\n");

    // No row is left in a transitional state, and every container of ours
    // belongs to a row that knows it.
    for w in &rows {
        let st = w["state"].as_str().unwrap_or_default();
        assert!(
            ["running", "stopped", "error"].contains(&st),
            "unsettled row {w}"
        );
    }
    let by_id: HashMap<&str, &Value> = rows
        .iter()
        .map(|w| (w["id"].as_str().unwrap_or_default(), w))
        .collect();
    let filters: HashMap<String, Vec<String>> = HashMap::from([(
        "label".into(),
        vec![format!("io.aicockpit.instance={instance}")],
    )]);
    let containers = docker()
        .await
        .list_containers(Some(
            bollard::query_parameters::ListContainersOptionsBuilder::default()
                .all(true)
                .filters(&filters)
                .build(),
        ))
        .await
        .expect("list containers");
    for ct in &containers {
        let wid = ct
            .labels
            .as_ref()
            .and_then(|l| l.get("io.aicockpit.workspace"))
            .expect("workspace label");
        let row = by_id
            .get(wid.as_str())
            .unwrap_or_else(|| panic!("untracked container for {wid}"));
        assert_eq!(row["container_id"].as_str(), ct.id.as_deref(), "{row}");
    }

    // Whatever was interrupted can be brought to running.
    for w in rows.iter().filter(|w| w["state"] != "running") {
        let (s, v) = call(
            &c,
            reqwest::Method::POST,
            ws(&format!("/{}/start", w["id"].as_str().unwrap_or_default())),
            &token,
            None,
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["state"], "running");
    }
    server.kill9();
}
