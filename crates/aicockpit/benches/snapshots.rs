//! Snapshot benchmark: the real server over the real engine, next to the
//! engine's own work measured in the same run — `docker commit` of a running
//! container (the floor of a snapshot) and `docker save` of that image (the
//! floor of an export). Prints medians and p95s, sizes; asserts nothing.
//!
//!     cargo bench -p aicockpit --bench snapshots
//!     AICOCKPIT_BENCH_N=10 cargo bench -p aicockpit --bench snapshots

#[path = "support.rs"]
mod support;

use bollard::query_parameters::{CommitContainerOptionsBuilder, RemoveImageOptionsBuilder};
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::time::Instant;

use support::{Server, Stats};

async fn call(
    c: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Value,
) -> Value {
    let r = c
        .request(method, url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = r.status();
    let text = r.text().await.expect("body");
    assert!(status.is_success(), "{status}: {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run());
}

async fn run() {
    use reqwest::Method;
    let n: usize = std::env::var("AICOCKPIT_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let host = std::env::var("DOCKER_HOST").expect("DOCKER_HOST (scripts/bench sets it)");
    let srv = Server::start(|c| c.engine.host = Some(host.clone())).await;
    let token = srv.token.clone();
    let api = format!("http://{}/api/v1", srv.addr);
    let c = reqwest::Client::new();
    let d = support::engine(&host).await;
    println!("AiCockpit snapshot benchmark: {n} rounds on a base workspace with 10 MB in /workspace, engine {host}");

    let w = call(
        &c,
        Method::POST,
        format!("{api}/workspaces"),
        &token,
        json!({"name": "snap-bench"}),
    )
    .await;
    let id = w["id"].as_str().expect("id").to_owned();
    let mut cid = w["container_id"].as_str().expect("container").to_owned();
    call(
        &c,
        Method::POST,
        format!("{api}/workspaces/{id}/exec"),
        &token,
        json!({"argv": ["sh", "-c", "head -c 10000000 /dev/urandom > /workspace/blob"]}),
    )
    .await;

    let (mut commit, mut save, mut snap, mut fork, mut restore, mut export) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    let (mut save_bytes, mut export_bytes) = (0u64, 0u64);
    for i in 0..n {
        // The engine's floor: commit the running container, save the image.
        let t = Instant::now();
        let tag = format!("floor-{}-{i}", std::process::id());
        let opts = CommitContainerOptionsBuilder::default()
            .container(&cid)
            .repo("localhost/aicockpit-bench")
            .tag(&tag)
            .pause(true)
            .build();
        d.commit_container(opts, bollard::models::ContainerConfig::default())
            .await
            .expect("commit");
        commit.push(t.elapsed());
        let image = format!("localhost/aicockpit-bench:{tag}");
        let t = Instant::now();
        let mut s = d.export_image(&image);
        save_bytes = 0;
        while let Some(chunk) = s.next().await {
            save_bytes += chunk.expect("save").len() as u64;
        }
        save.push(t.elapsed());
        let _ = d
            .remove_image(
                &image,
                Some(RemoveImageOptionsBuilder::default().force(true).build()),
                None,
            )
            .await;

        // The same through AiCockpit (and what it adds: data, settings).
        let t = Instant::now();
        let s = call(
            &c,
            Method::POST,
            format!("{api}/workspaces/{id}/snapshots"),
            &token,
            json!({"name": format!("b{i}")}),
        )
        .await;
        snap.push(t.elapsed());
        let sid = s["id"].as_str().expect("id").to_owned();
        let t = Instant::now();
        let r = c
            .get(format!("{api}/snapshots/{sid}/export"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("export");
        let mut body = r.bytes_stream();
        export_bytes = 0;
        while let Some(chunk) = body.next().await {
            export_bytes += chunk.expect("export").len() as u64;
        }
        export.push(t.elapsed());
        let t = Instant::now();
        let f = call(
            &c,
            Method::POST,
            format!("{api}/snapshots/{sid}/fork"),
            &token,
            json!({"name": format!("fork-{i}")}),
        )
        .await;
        fork.push(t.elapsed());
        let fid = f["id"].as_str().expect("id").to_owned();
        call(
            &c,
            Method::DELETE,
            format!("{api}/workspaces/{fid}?purge=true"),
            &token,
            json!({}),
        )
        .await;
        let t = Instant::now();
        let r = call(
            &c,
            Method::POST,
            format!("{api}/workspaces/{id}/restore"),
            &token,
            json!({"snapshot": sid}),
        )
        .await;
        restore.push(t.elapsed());
        // Restored onto the snapshot's image, in a new container: the next
        // round snapshots that.
        cid = r["container_id"].as_str().expect("container").to_owned();
    }
    println!();
    Stats(commit).line("engine floor: commit a running container");
    Stats(snap).line("snapshot (API: commit + copy /workspace)");
    Stats(fork).line("fork (API: new workspace, running)");
    Stats(restore).line("restore in place (API, running again)");
    Stats(save).line("engine floor: save the image");
    Stats(export).line("export (API: image + data, streamed)");
    println!(
        "{:<46} engine save {:.1} MB, export {:.1} MB",
        "sizes",
        save_bytes as f64 / 1e6,
        export_bytes as f64 / 1e6
    );
    let _ = c
        .delete(format!("{api}/workspaces/{id}?purge=true"))
        .bearer_auth(&token)
        .send()
        .await;
    for s in call(
        &c,
        Method::GET,
        format!("{api}/snapshots"),
        &token,
        json!({}),
    )
    .await
    .as_array()
    .cloned()
    .unwrap_or_default()
    {
        let sid = s["id"].as_str().unwrap_or_default();
        let _ = c
            .delete(format!("{api}/snapshots/{sid}"))
            .bearer_auth(&token)
            .send()
            .await;
    }
    srv.stop().await;
}
