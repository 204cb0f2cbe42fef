//! The server on PostgreSQL instead of SQLite, and on Podman instead of
//! Docker (scripts/test provides both).

use crate::common::{docker_for, TestServer};
use reqwest::StatusCode;
use serde_json::json;

async fn fresh_postgres_url() -> String {
    let base = std::env::var("AICOCKPIT_TEST_POSTGRES_URL")
        .expect("AICOCKPIT_TEST_POSTGRES_URL must point at PostgreSQL (scripts/test starts one)");
    use sqlx::Connection;
    let mut admin = sqlx::PgConnection::connect(&base).await.expect("connect");
    let name = format!("e2e_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .expect("create database");
    let (head, _) = base.rsplit_once('/').expect("url with a database");
    format!("{head}/{name}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_runs_on_postgresql_and_keeps_state_across_restarts() {
    let url = fresh_postgres_url().await;
    let ts = TestServer::start_with(|c| c.database.url = Some(url.clone())).await;
    let api = ts.admin_api();
    let (s, v) = api.get("/ready").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["database"], "postgres");
    let w = api.create_ws("on-pg").await;
    assert_eq!(
        api.sh("on-pg", "echo pg > /workspace/x && cat /workspace/x")
            .await
            .1,
        "pg\n"
    );
    let admin_token = ts.admin.clone();
    let _kept = ts.stop_keeping_containers().await;

    // A second server on the same database sees everything and adopts the
    // running container.
    let ts2 = TestServer::start_with(|c| c.database.url = Some(url.clone())).await;
    let api2 = ts2.api(&admin_token);
    let (s, got) = api2
        .get(&format!(
            "/api/v1/workspaces/{}",
            w["id"].as_str().expect("id")
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{got}");
    assert_eq!(got["state"], "running");
    assert_eq!(api2.sh("on-pg", "cat /workspace/x").await.1, "pg\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn podman_smoke_test() {
    let host = std::env::var("AICOCKPIT_TEST_PODMAN_HOST").expect(
        "AICOCKPIT_TEST_PODMAN_HOST must name Podman's API socket (scripts/test starts it)",
    );
    // Podman and Docker do not know each other's networks: on one host
    // they must take addresses from different pools, or Podman's
    // forwarding rules for a range would also let the Docker workspaces
    // on that same range reach other workspaces (seen as a flaky
    // workspaces_cannot_reach_each_other when both ran at once).
    let ts = TestServer::start_with(|c| {
        c.engine.host = Some(host.clone());
        c.workspaces.network_pool = "10.214.0.0/16".into();
    })
    .await;
    let api = ts.admin_api();
    let (s, v) = api.get("/ready").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["engine"], "podman");

    let (s, w) = api
        .post(
            "/api/v1/workspaces",
            json!({"name": "pod", "image": "localhost/aicockpit/rootfs:bookworm", "memory_mb": 300, "cpus": 0.5}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{w}");
    let (code, out, err) = api
        .sh("pod", "id -u && echo hi > /workspace/f && cat /workspace/f")
        .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "1000\nhi\n");

    let d = docker_for(&host).await;
    let c = d
        .inspect_container(w["container_id"].as_str().expect("cid"), None)
        .await
        .expect("inspect on podman");
    let hc = c.host_config.expect("host config");
    assert_eq!(hc.memory, Some(300 * 1024 * 1024));
    assert_eq!(hc.nano_cpus, Some(500_000_000));

    let (s, v) = api.post_empty("/api/v1/workspaces/pod/stop").await;
    assert_eq!(
        (s, v["state"].as_str()),
        (StatusCode::OK, Some("stopped")),
        "{v}"
    );
    let (s, v) = api.post_empty("/api/v1/workspaces/pod/start").await;
    assert_eq!(
        (s, v["state"].as_str()),
        (StatusCode::OK, Some("running")),
        "{v}"
    );
    assert_eq!(api.sh("pod", "cat /workspace/f").await.1, "hi\n");
    let (s, v) = api.delete("/api/v1/workspaces/pod?purge=true").await;
    assert_eq!(s, StatusCode::OK, "{v}");
}
