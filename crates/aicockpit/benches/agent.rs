//! Agent benchmark: keystroke echo through server + agent + container
//! (against the engine's own TTY echo measured in the same run), small file
//! read/write latency, and listing and search over a 10,000-file tree.
//! Prints figures; asserts nothing.
//!
//!     scripts/bench        # or: cargo bench -p aicockpit --bench agent

#[path = "support.rs"]
mod support;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use support::{Server, Stats};

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run());
}

async fn engine_tty_echo(host: &str, container: &str, n: usize) -> Stats {
    let d = support::engine(host).await;
    let exec = d
        .create_exec(
            container,
            bollard::exec::CreateExecOptions::<String> {
                cmd: Some(vec!["cat".into()]),
                attach_stdin: Some(true),
                attach_stdout: Some(true),
                tty: Some(true),
                ..Default::default()
            },
        )
        .await
        .expect("exec");
    let bollard::exec::StartExecResults::Attached {
        mut output,
        mut input,
    } = d.start_exec(&exec.id, None).await.expect("start")
    else {
        panic!("detached");
    };
    let mut out = Vec::new();
    for _ in 0..n {
        let t = Instant::now();
        input.write_all(b"x").await.expect("write");
        input.flush().await.expect("flush");
        loop {
            let chunk = output.next().await.expect("open").expect("chunk");
            if chunk.into_bytes().contains(&b'x') {
                break;
            }
        }
        out.push(t.elapsed());
    }
    Stats(out)
}

async fn run() {
    let n: usize = std::env::var("AICOCKPIT_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let host = std::env::var("DOCKER_HOST").expect("DOCKER_HOST (scripts/bench sets it)");
    let srv = Server::start(|c| c.engine.host = Some(host.clone())).await;
    let token = srv.token.clone();
    let addr = srv.addr;
    let base = format!("http://{addr}/api/v1/workspaces");
    let c = reqwest::Client::new();
    let post = |url: String, body: Value| {
        let c = c.clone();
        let token = token.clone();
        async move {
            let r = c
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .expect("post");
            let s = r.status();
            let v: Value = r.json().await.unwrap_or(Value::Null);
            assert!(s.is_success(), "{s}: {v}");
            v
        }
    };
    let w = post(base.clone(), json!({"name": "agent-bench"})).await;
    let id = w["id"].as_str().expect("id").to_owned();
    let cid = w["container_id"].as_str().expect("cid").to_owned();
    println!("AiCockpit agent benchmark: engine {host}, {n} samples each");
    println!();

    // Keystroke echo: one byte typed, the same byte seen coming back.
    let term = post(
        format!("{base}/{id}/terminals"),
        json!({"cols": 80, "rows": 24, "shell": "/bin/sh"}),
    )
    .await;
    let tid = term["id"].as_str().expect("tid");
    let mut req = format!("ws://{addr}/api/v1/workspaces/{id}/terminals/{tid}/ws")
        .into_client_request()
        .expect("req");
    req.headers_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("h"),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.expect("ws");
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Drain the prompt.
    while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(100), ws.next()).await {}
    let mut echo = Vec::new();
    for i in 0..n {
        if i % 50 == 49 {
            // Clear the line now and then (Ctrl-U) so it never wraps.
            ws.send(Message::Binary(vec![0x15].into()))
                .await
                .expect("send");
            while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(20), ws.next()).await
            {
            }
        }
        let t = Instant::now();
        ws.send(Message::Binary(b"x".to_vec().into()))
            .await
            .expect("send");
        loop {
            match ws.next().await.expect("open").expect("msg") {
                Message::Binary(b) if b.contains(&b'x') => break,
                _ => {}
            }
        }
        echo.push(t.elapsed());
    }
    engine_tty_echo(&host, &cid, n)
        .await
        .line("engine floor: TTY exec echo (raw API)");
    Stats(echo).line("keystroke echo: WebSocket > server > agent");

    // Small files.
    let payload = vec![b'a'; 1024];
    let (mut writes, mut reads) = (Vec::new(), Vec::new());
    for i in 0..n {
        let t = Instant::now();
        let r = c
            .put(format!("{base}/{id}/files/content"))
            .query(&[("path", format!("small/f{}.txt", i % 20))])
            .bearer_auth(&token)
            .body(payload.clone())
            .send()
            .await
            .expect("put");
        assert!(r.status().is_success());
        writes.push(t.elapsed());
        let t = Instant::now();
        let r = c
            .get(format!("{base}/{id}/files/content"))
            .query(&[("path", format!("small/f{}.txt", i % 20))])
            .bearer_auth(&token)
            .send()
            .await
            .expect("get");
        let body = r.bytes().await.expect("body");
        assert_eq!(body.len(), 1024);
        reads.push(t.elapsed());
    }
    Stats(writes).line("write a 1 KiB file (atomic replace)");
    Stats(reads).line("read a 1 KiB file");

    // A 10,000-file tree: 100 directories of 100 files, and one flat
    // directory of 10,000 entries.
    post(
        format!("{base}/{id}/exec"),
        json!({"argv": ["sh", "-c", "cd /workspace && mkdir -p tree flat && cd tree && \
            for d in $(seq 0 99); do mkdir d$d; for f in $(seq 0 99); do \
            printf 'line one\\nsome text %s %s\\nfn item_%s_%s() {}\\n' $d $f $d $f > d$d/f$f.rs; done; done && \
            echo 'the needle is here' > d42/f7.rs && cd ../flat && \
            for i in $(seq 0 9999); do : > e$i; done"], "timeout_secs": 600}),
    )
    .await;
    let get = |url: String| {
        let c = c.clone();
        let token = token.clone();
        async move {
            let r = c.get(url).bearer_auth(token).send().await.expect("get");
            assert!(r.status().is_success(), "{}", r.status());
            r.bytes().await.expect("body")
        }
    };
    let rounds = 20;
    let (mut list, mut search, mut regex, mut find) = (vec![], vec![], vec![], vec![]);
    for _ in 0..rounds {
        let t = Instant::now();
        let b = get(format!("{base}/{id}/files?path=flat")).await;
        list.push(t.elapsed());
        assert!(b.len() > 10_000);
        let t = Instant::now();
        let b = get(format!("{base}/{id}/search?q=needle&path=tree")).await;
        search.push(t.elapsed());
        assert!(String::from_utf8_lossy(&b).contains("d42/f7.rs"));
        let t = Instant::now();
        get(format!(
            "{base}/{id}/search?q=item_4[0-9]_7%5Cb&regex=true&path=tree"
        ))
        .await;
        regex.push(t.elapsed());
        let t = Instant::now();
        get(format!("{base}/{id}/search/files?q=d42f7")).await;
        find.push(t.elapsed());
    }
    Stats(list).line("list a 10,000-entry directory");
    Stats(search).line("search a literal in 10,000 files");
    Stats(regex).line("search a regex in 10,000 files");
    Stats(find).line("quick-open file name search (20,000 files)");

    let _ = c
        .delete(format!("{base}/{id}?purge=true"))
        .bearer_auth(&token)
        .send()
        .await;
    srv.stop().await;
}
