//! Preview benchmark: the latency the preview proxy adds over calling the
//! workspace's port directly (published on the host's loopback for the
//! comparison), and a WebSocket echo both ways, in the same run. The proxy
//! keeps connections to the port alive, so the direct figure that compares
//! is one kept-alive connection; a new connection per request is shown too.
//! Prints figures; asserts nothing.
//!
//!     scripts/bench        # or: cargo bench -p aicockpit --bench preview

#[path = "support.rs"]
mod support;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use support::{Server, Stats};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

const FIXTURE: &str = include_str!("../tests/fixtures/preview-server.pl");

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run());
}

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
    let v: Value = r.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{status}: {v}");
    v
}

async fn timed_gets(c: &reqwest::Client, url: &str, cookie: Option<&str>, n: usize) -> Stats {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let mut r = c.get(url);
        if let Some(ck) = cookie {
            r = r.header(reqwest::header::COOKIE, ck);
        }
        let resp = r.send().await.expect("get");
        assert!(resp.status().is_success(), "{}", resp.status());
        let _ = resp.bytes().await.expect("body");
        out.push(t.elapsed());
    }
    Stats(out)
}

async fn ws_echo(
    req: tokio_tungstenite::tungstenite::handshake::client::Request,
    n: usize,
) -> Stats {
    let (mut sock, _) = tokio_tungstenite::connect_async(req)
        .await
        .expect("websocket");
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let t = Instant::now();
        sock.send(Message::text(format!("m{i}")))
            .await
            .expect("send");
        loop {
            match sock.next().await {
                Some(Ok(Message::Text(m))) if m.as_str().starts_with("echo:") => break,
                Some(Ok(_)) => continue,
                other => panic!("websocket ended: {other:?}"),
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
        .unwrap_or(300);
    let image = std::env::var("AICOCKPIT_TEST_IMAGE")
        .unwrap_or_else(|_| "localhost/aicockpit/base:latest".into());
    let server = Server::start(|_| {}).await;
    let base = format!("http://{}", server.addr);
    let api = reqwest::Client::new();
    let token = server.token.clone();
    let w = call(
        &api,
        reqwest::Method::POST,
        format!("{base}/api/v1/workspaces"),
        &token,
        json!({"name": "bench", "image": image, "ports": [8000]}),
    )
    .await;
    let id = w["id"].as_str().expect("id").to_owned();
    // The engine's mapping is read back live.
    let w: Value = api
        .get(format!("{base}/api/v1/workspaces/{id}"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    let published = w["published_ports"][0]["host_port"]
        .as_u64()
        .unwrap_or_else(|| panic!("published port: {w}"));
    let r = api
        .put(format!(
            "{base}/api/v1/workspaces/{id}/files/content?path=/workspace/app.pl"
        ))
        .bearer_auth(&token)
        .body(FIXTURE)
        .send()
        .await
        .expect("upload");
    assert!(r.status().is_success());
    call(&api, reqwest::Method::POST, format!("{base}/api/v1/workspaces/{id}/exec"), &token,
        json!({"argv": ["sh", "-c", "nohup perl /workspace/app.pl 8000 0.0.0.0 >/dev/null 2>&1 & for i in $(seq 50); do nc -z 127.0.0.1 8000 && exit 0; sleep 0.1; done; exit 1"]})).await;

    // A browser's session on the preview's own origin.
    let link = call(
        &api,
        reqwest::Method::POST,
        format!("{base}/api/v1/previews/authorize"),
        &token,
        json!({"workspace": id, "port": 8000}),
    )
    .await;
    let url = link["url"].as_str().expect("url").to_owned();
    let host = format!("8000--bench--admin.localhost:{}", server.addr.port());
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .resolve("8000--bench--admin.localhost", server.addr)
        .build()
        .expect("client");
    let r = browser.get(&url).send().await.expect("ticket");
    let cookie = r
        .headers()
        .get(reqwest::header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|c| c.split(';').next())
        .expect("cookie")
        .to_owned();

    let fresh = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client");
    let direct_url = format!("http://127.0.0.1:{published}/hello");
    let proxied_url = format!("http://{host}/hello");
    // Warm up both paths.
    timed_gets(&fresh, &direct_url, None, 20).await;
    timed_gets(&browser, &proxied_url, Some(&cookie), 20).await;

    println!("preview proxy, {n} GETs of a small page from a Perl app in the workspace");
    let direct_new = timed_gets(&fresh, &direct_url, None, n).await;
    direct_new.line("direct, a new connection per request");
    let direct_kept = timed_gets(&reqwest::Client::new(), &direct_url, None, n).await;
    direct_kept.line("direct, one kept-alive connection");
    let proxied = timed_gets(&browser, &proxied_url, Some(&cookie), n).await;
    proxied.line("through the preview proxy (subdomain)");
    println!(
        "{:<46} median {:>8.3} ms   p99 {:>8.3} ms",
        "added by the proxy (vs. a kept-alive connection)",
        proxied.pct(0.5) - direct_kept.pct(0.5),
        proxied.pct(0.99) - direct_kept.pct(0.99)
    );

    let ws_direct = format!("ws://127.0.0.1:{published}/ws")
        .into_client_request()
        .expect("req");
    let ws_d = ws_echo(ws_direct, n).await;
    ws_d.line("WebSocket echo, direct");
    let mut ws_proxied = format!("ws://{}/ws", server.addr)
        .into_client_request()
        .expect("req");
    ws_proxied
        .headers_mut()
        .insert("host", host.parse().expect("host"));
    ws_proxied
        .headers_mut()
        .insert("cookie", cookie.parse().expect("cookie"));
    let ws_p = ws_echo(ws_proxied, n).await;
    ws_p.line("WebSocket echo, through the preview proxy");
    println!(
        "{:<46} median {:>8.3} ms   p99 {:>8.3} ms",
        "added by the proxy (WebSocket round trip)",
        ws_p.pct(0.5) - ws_d.pct(0.5),
        ws_p.pct(0.99) - ws_d.pct(0.99)
    );

    let _ = api
        .delete(format!("{base}/api/v1/workspaces/{id}?purge=true"))
        .bearer_auth(&token)
        .timeout(Duration::from_secs(60))
        .send()
        .await;
    server.stop().await;
}
