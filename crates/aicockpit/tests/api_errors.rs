//! Bad input gets a clear JSON error with the right status, and nothing
//! half-created is left behind.

use crate::common::{assert_error, docker, engine_host, TestServer};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::HashMap;

async fn leftovers(ts: &TestServer) -> (usize, usize, usize) {
    use bollard::query_parameters::*;
    let d = docker().await;
    let f: HashMap<String, Vec<String>> = HashMap::from([(
        "label".into(),
        vec![format!("io.aicockpit.instance={}", ts.instance)],
    )]);
    let c = d
        .list_containers(Some(
            ListContainersOptionsBuilder::default()
                .all(true)
                .filters(&f)
                .build(),
        ))
        .await
        .expect("containers")
        .len();
    let n = d
        .list_networks(Some(
            ListNetworksOptionsBuilder::default().filters(&f).build(),
        ))
        .await
        .expect("networks")
        .len();
    let v = d
        .list_volumes(Some(
            ListVolumesOptionsBuilder::default().filters(&f).build(),
        ))
        .await
        .expect("volumes")
        .volumes
        .unwrap_or_default()
        .len();
    (c, n, v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_workspace_requests_are_refused_clearly_and_leave_nothing() {
    let ts = TestServer::start().await;
    let api = ts.admin_api();
    let cases = [
        (
            json!({"name": "Bad Name"}),
            StatusCode::BAD_REQUEST,
            "invalid_name",
        ),
        (
            json!({"name": "../etc"}),
            StatusCode::BAD_REQUEST,
            "invalid_name",
        ),
        (json!({"name": ""}), StatusCode::BAD_REQUEST, "invalid_name"),
        (
            json!({"name": "ok", "template": "cobol"}),
            StatusCode::BAD_REQUEST,
            "unknown_template",
        ),
        (
            json!({"name": "ok", "image": "localhost/no-such-image:1"}),
            StatusCode::BAD_REQUEST,
            "image_unavailable",
        ),
        (
            json!({"name": "ok", "image": "bad image;rm"}),
            StatusCode::BAD_REQUEST,
            "invalid_image",
        ),
        (
            json!({"name": "ok", "template": "base", "image": "x"}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({"name": "ok", "cpus": 0}),
            StatusCode::BAD_REQUEST,
            "invalid_limits",
        ),
        (
            json!({"name": "ok", "cpus": 1000}),
            StatusCode::BAD_REQUEST,
            "invalid_limits",
        ),
        (
            json!({"name": "ok", "memory_mb": 1}),
            StatusCode::BAD_REQUEST,
            "invalid_limits",
        ),
        (
            json!({"name": "ok", "memory_mb": 10_000_000}),
            StatusCode::BAD_REQUEST,
            "invalid_limits",
        ),
        (
            json!({"name": "ok", "pids_limit": 1}),
            StatusCode::BAD_REQUEST,
            "invalid_limits",
        ),
        (
            json!({"name": "ok", "env": {"1X": "y"}}),
            StatusCode::BAD_REQUEST,
            "invalid_env",
        ),
        (
            json!({"name": "ok", "ports": [0]}),
            StatusCode::BAD_REQUEST,
            "invalid_ports",
        ),
        (
            json!({"name": "ok", "ports": [80, 80]}),
            StatusCode::BAD_REQUEST,
            "invalid_ports",
        ),
        (
            json!({"name": "ok", "ports": [70000]}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({"name": "ok", "colour": "red"}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({"name": 5}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
    ];
    for (body, status, code) in cases {
        let (s, v) = api.post("/api/v1/workspaces", body.clone()).await;
        assert_error(s, &v, status, code);
    }

    let (s, v) = api
        .post_raw(
            "/api/v1/workspaces",
            Some("application/json"),
            b"{\"name\": ".to_vec(),
        )
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "invalid_json");
    let (s, v) = api
        .post_raw("/api/v1/workspaces", None, b"{\"name\":\"x\"}".to_vec())
        .await;
    assert_error(
        s,
        &v,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    let huge = format!(
        "{{\"name\":\"x\",\"env\":{{\"A\":\"{}\"}}}}",
        "a".repeat(2 * 1024 * 1024)
    );
    // The server answers 413 before the body has arrived; it drains the
    // rest, so the client still sending reads the answer (not a reset).
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/workspaces", ts.url))
        .bearer_auth(&ts.admin)
        .header("content-type", "application/json")
        .body(huge.clone())
        .send()
        .await
        .expect("an answer to the oversized body, not a reset");
    let status = r.status();
    let (s, v) = (status, r.json::<Value>().await.unwrap_or(Value::Null));
    assert_error(s, &v, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");

    let (s, v) = api.get("/api/v1/workspaces/0123456789abcdef").await;
    assert_error(s, &v, StatusCode::NOT_FOUND, "not_found");
    let (s, v) = api.post_empty("/api/v1/workspaces/nope/start").await;
    assert_error(s, &v, StatusCode::NOT_FOUND, "not_found");
    let (s, v) = api.delete("/api/v1/workspaces/nope?purge=maybe").await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "invalid_query");
    let (s, v) = api.get("/api/v1/no-such-endpoint").await;
    assert_error(s, &v, StatusCode::NOT_FOUND, "not_found");
    let (s, v) = api.delete("/api/v1/templates").await;
    assert_error(s, &v, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");

    // Duplicate names conflict; the first workspace is untouched.
    api.create_ws("taken").await;
    let (s, v) = api
        .post("/api/v1/workspaces", json!({"name": "taken"}))
        .await;
    assert_error(s, &v, StatusCode::CONFLICT, "name_taken");
    let (_, list) = api.get("/api/v1/workspaces").await;
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list[0]["state"], "running");
    assert_eq!(leftovers(&ts).await, (1, 1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_that_cannot_start_leaves_nothing_behind() {
    // An image with no `sleep` (and no shell): the container cannot start.
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("README"), "nothing to run here\n").expect("write");
    let image = "localhost/aicockpit-test/empty:1";
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "tar -C {} -c . | docker import - {image} >/dev/null",
            dir.path().display()
        ))
        .env("DOCKER_HOST", engine_host())
        .status()
        .expect("docker import");
    assert!(status.success());

    let ts = TestServer::start().await;
    let api = ts.admin_api();
    let (s, v) = api
        .post(
            "/api/v1/workspaces",
            json!({"name": "broken", "image": image}),
        )
        .await;
    assert_error(
        s,
        &v,
        StatusCode::UNPROCESSABLE_ENTITY,
        "container_start_failed",
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("sleep"),
        "{v}"
    );
    let (_, list) = api.get("/api/v1/workspaces").await;
    assert_eq!(list.as_array().map(Vec::len), Some(0), "{list}");
    assert_eq!(leftovers(&ts).await, (0, 0, 0));
    // The name is free again.
    api.create_ws("broken").await;
}
