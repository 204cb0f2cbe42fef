//! Workspace lifecycle benchmark: the real server (in-process, on a real
//! socket) over the real engine, against the engine's own floor measured in
//! the same run. Prints medians and p95s; asserts nothing.
//!
//!     scripts/bench            # or: cargo bench -p aicockpit --bench lifecycle
//!     AICOCKPIT_BENCH_N=50 scripts/bench

#[path = "support.rs"]
mod support;

use serde_json::json;
use std::time::Instant;

use support::{Server, Stats};

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run());
}

async fn run() {
    let n: usize = std::env::var("AICOCKPIT_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let host = std::env::var("DOCKER_HOST").expect("DOCKER_HOST (scripts/bench sets it)");
    let image = "localhost/aicockpit/base:latest";
    let srv = Server::start(|c| c.engine.host = Some(host.clone())).await;
    let token = srv.token.clone();
    let base = format!("http://{}/api/v1/workspaces", srv.addr);
    let c = reqwest::Client::new();

    println!("AiCockpit lifecycle benchmark: {n} workspaces, image {image}, engine {host}");
    // Warm-up: first create pays for image layers being read from disk.
    let w = support::post(&c, base.clone(), &token, json!({"name": "warmup"})).await;
    let _ = c
        .delete(format!(
            "{base}/{}?purge=true",
            w["id"].as_str().unwrap_or_default()
        ))
        .bearer_auth(&token)
        .send()
        .await;

    let floor = support::engine_floor(&host, image, n).await;
    let (mut create, mut create_exec, mut exec, mut stop, mut start, mut delete) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    for i in 0..n {
        let t = Instant::now();
        let w = support::post(
            &c,
            base.clone(),
            &token,
            json!({"name": format!("bench-{i}")}),
        )
        .await;
        create.push(t.elapsed());
        let id = w["id"].as_str().expect("id").to_owned();
        support::post(
            &c,
            format!("{base}/{id}/exec"),
            &token,
            json!({"argv": ["true"]}),
        )
        .await;
        create_exec.push(t.elapsed());
        let t = Instant::now();
        support::post(
            &c,
            format!("{base}/{id}/exec"),
            &token,
            json!({"argv": ["true"]}),
        )
        .await;
        exec.push(t.elapsed());
        let t = Instant::now();
        support::post(&c, format!("{base}/{id}/stop"), &token, json!({})).await;
        stop.push(t.elapsed());
        let t = Instant::now();
        support::post(&c, format!("{base}/{id}/start"), &token, json!({})).await;
        start.push(t.elapsed());
        let t = Instant::now();
        let r = c
            .delete(format!("{base}/{id}?purge=true"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("delete");
        assert!(r.status().is_success());
        delete.push(t.elapsed());
    }
    println!();
    floor.line("engine floor: create+start+exec (raw API)");
    Stats(create_exec).line("create -> first exec done (API)");
    Stats(create).line("create (API, until running)");
    Stats(exec).line("exec `true` in a running workspace");
    Stats(start).line("start a stopped workspace");
    Stats(stop).line("stop a running workspace");
    Stats(delete).line("delete (purge)");
    srv.stop().await;
}
