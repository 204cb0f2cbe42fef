//! Warm pool benchmark: create → first command through the real server
//! with a pool of the base template (each round waits until the pool has
//! refilled, so every create is a hit), the same on a server without a
//! pool, and the engine's own create+start+exec, all in the same run.
//! Prints medians and p95s; asserts nothing.
//!
//!     cargo bench -p aicockpit --bench pool
//!     AICOCKPIT_BENCH_N=40 cargo bench -p aicockpit --bench pool

#[path = "support.rs"]
mod support;

use serde_json::{json, Value};
use std::time::{Duration, Instant};

use support::{Server, Stats};

/// The base pool's ready count and hits, as the system page says them.
async fn pool(c: &reqwest::Client, api: &str, token: &str) -> (u64, u64) {
    let v: Value = c
        .get(format!("{api}/system"))
        .bearer_auth(token)
        .send()
        .await
        .expect("system")
        .json()
        .await
        .expect("json");
    let p = &v["warm_pool"][0];
    (
        p["ready"].as_u64().unwrap_or(0),
        p["hits"].as_u64().unwrap_or(0),
    )
}

async fn wait_ready(c: &reqwest::Client, api: &str, token: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while pool(c, api, token).await.0 == 0 {
        assert!(Instant::now() < deadline, "the pool never refilled");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The refill's own work (agent start) settles before the next round.
    tokio::time::sleep(Duration::from_millis(300)).await;
}

/// create → first `exec true` → delete, `n` times; the first two are
/// returned (create→exec, delete is not timed).
async fn rounds(srv: &Server, n: usize, pooled: bool) -> Stats {
    let c = reqwest::Client::new();
    let api = format!("http://{}/api/v1", srv.addr);
    let mut out = Vec::new();
    for i in 0..n {
        if pooled {
            wait_ready(&c, &api, &srv.token).await;
        }
        let t = Instant::now();
        let w = support::post(
            &c,
            format!("{api}/workspaces"),
            &srv.token,
            json!({"name": format!("pool-bench-{i}"), "template": "base"}),
        )
        .await;
        let id = w["id"].as_str().expect("id").to_owned();
        support::post(
            &c,
            format!("{api}/workspaces/{id}/exec"),
            &srv.token,
            json!({"argv": ["true"]}),
        )
        .await;
        out.push(t.elapsed());
        let r = c
            .delete(format!("{api}/workspaces/{id}?purge=true"))
            .bearer_auth(&srv.token)
            .send()
            .await
            .expect("delete");
        assert!(r.status().is_success());
    }
    Stats(out)
}

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
    println!(
        "AiCockpit warm pool benchmark: {n} creates each, template base ({image}), engine {host}"
    );

    let plain = Server::start(|c| c.engine.host = Some(host.clone())).await;
    // Warm-up: the first create pays for image layers read from disk.
    rounds(&plain, 1, false).await;
    let floor = support::engine_floor(&host, image, n).await;
    let cold = rounds(&plain, n, false).await;
    plain.stop().await;

    let warm_srv = Server::start(|c| {
        c.engine.host = Some(host.clone());
        c.workspaces.pool.insert("base".into(), 1);
    })
    .await;
    let warm = rounds(&warm_srv, n, true).await;
    let c = reqwest::Client::new();
    let (_, hits) = pool(
        &c,
        &format!("http://{}/api/v1", warm_srv.addr),
        &warm_srv.token,
    )
    .await;
    warm_srv.stop().await;

    println!();
    floor.line("engine floor: create+start+exec (raw API)");
    cold.line("create -> first exec, no pool (API)");
    warm.line(&format!(
        "create -> first exec, pool hit (API) [{hits} hits]"
    ));
    println!(
        "\npool hit vs engine floor: {:.2}x; no pool vs engine floor: {:.2}x (goals: < 90 ms; < 2x)",
        warm.pct(0.5) / floor.pct(0.5),
        cold.pct(0.5) / floor.pct(0.5)
    );
}
