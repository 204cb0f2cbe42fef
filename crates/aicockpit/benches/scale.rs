//! Many workspaces on one host: the real server binary as its own process
//! (so its memory is its own), creating AICOCKPIT_BENCH_WORKSPACES (100)
//! workspaces, 8 at a time, each with an open terminal. Prints create
//! latency and the server's resident memory next to the idle server's,
//! measured in the same run; asserts nothing.
//!
//!     cargo bench -p aicockpit --bench scale

#[path = "support.rs"]
mod support;

use serde_json::{json, Value};
use std::time::{Duration, Instant};
use support::Stats;

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

async fn call(
    c: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut r = c.request(method, url).bearer_auth(token);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.expect("request");
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::var("AICOCKPIT_BENCH_WORKSPACES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let concurrency = 8;
    let bin = env!("CARGO_BIN_EXE_aicockpit");
    let dir = tempfile::tempdir().expect("tempdir");
    let env = [
        (
            "AICOCKPIT_SERVER__DATA_DIR",
            dir.path().to_string_lossy().into_owned(),
        ),
        ("AICOCKPIT_LOG", "error".to_owned()),
    ];
    let mut add = std::process::Command::new(bin);
    add.args([
        "users",
        "add",
        "bench",
        "--role",
        "admin",
        "--password-stdin",
    ])
    .envs(env.iter().cloned())
    .stdin(std::process::Stdio::piped())
    .stdout(std::process::Stdio::null());
    let mut child = add.spawn().expect("users add");
    {
        use std::io::Write as _;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(b"bench-password-1\n").expect("password");
    }
    assert!(child.wait().expect("users add").success());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let base = format!("http://127.0.0.1:{port}");
    // As ./scripts/run starts it: glibc's per-thread malloc arenas would
    // otherwise keep freed memory of many short tasks apart.
    let mut server = std::process::Command::new(bin)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .envs(env.iter().cloned())
        .env(
            "MALLOC_ARENA_MAX",
            std::env::var("MALLOC_ARENA_MAX").unwrap_or_else(|_| "1".into()),
        )
        .spawn()
        .expect("serve");
    let c = reqwest::Client::new();
    for _ in 0..400 {
        if c.get(format!("{base}/health")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let login: Value = c
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"username": "bench", "password": "bench-password-1"}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("login json");
    let token = login["token"].as_str().expect("token").to_owned();
    // Warm the server up with one workspace, then measure it idle.
    let (s, w) = call(
        &c,
        reqwest::Method::POST,
        format!("{base}/api/v1/workspaces"),
        &token,
        Some(json!({"name": "warm", "template": "base"})),
    )
    .await;
    assert_eq!(s, 201, "{w}");
    call(
        &c,
        reqwest::Method::DELETE,
        format!("{base}/api/v1/workspaces/warm?purge=true"),
        &token,
        None,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle = rss_kib(server.id());

    let started = Instant::now();
    let mut create = Vec::new();
    let mut with_terminal = Vec::new();
    let mut failures = 0;
    let names: Vec<String> = (0..n).map(|i| format!("scale{i}")).collect();
    for chunk in names.chunks(concurrency) {
        let batch = chunk.iter().map(|name| {
            let (c, base, token) = (c.clone(), base.clone(), token.clone());
            let name = name.clone();
            async move {
                let t = Instant::now();
                let (s, w) = call(
                    &c,
                    reqwest::Method::POST,
                    format!("{base}/api/v1/workspaces"),
                    &token,
                    Some(json!({"name": name, "template": "base"})),
                )
                .await;
                let created = t.elapsed();
                if s != 201 {
                    eprintln!("create {name}: {s} {w}");
                    return None;
                }
                let (s, t2) = call(
                    &c,
                    reqwest::Method::POST,
                    format!("{base}/api/v1/workspaces/{name}/terminals"),
                    &token,
                    Some(json!({"cols": 80, "rows": 24})),
                )
                .await;
                if !(200..300).contains(&s) {
                    eprintln!("terminal {name}: {s} {t2}");
                    return None;
                }
                Some((created, t.elapsed()))
            }
        });
        for r in futures_util::future::join_all(batch).await {
            match r {
                Some((a, b)) => {
                    create.push(a);
                    with_terminal.push(b);
                }
                None => failures += 1,
            }
        }
    }
    let total = started.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let loaded = rss_kib(server.id());
    println!(
        "scale: {n} workspaces, {concurrency} at a time, a terminal each ({} failed) in {:.1} s",
        failures,
        total.as_secs_f64()
    );
    Stats(create).line("create (8 concurrent)");
    Stats(with_terminal).line("create + open a terminal (8 concurrent)");
    println!(
        "server resident memory: idle {:.1} MiB, with {} workspaces and terminals {:.1} MiB (+{:.1} KiB each)",
        idle as f64 / 1024.0,
        n - failures,
        loaded as f64 / 1024.0,
        (loaded.saturating_sub(idle)) as f64 / (n - failures).max(1) as f64
    );
    let deletes = names.chunks(concurrency).map(|chunk| chunk.to_vec());
    for chunk in deletes {
        let batch = chunk.into_iter().map(|name| {
            let (c, base, token) = (c.clone(), base.clone(), token.clone());
            async move {
                call(
                    &c,
                    reqwest::Method::DELETE,
                    format!("{base}/api/v1/workspaces/{name}?purge=true"),
                    &token,
                    None,
                )
                .await
            }
        });
        futures_util::future::join_all(batch).await;
    }
    let _ = server.kill();
    let _ = server.wait();
}
