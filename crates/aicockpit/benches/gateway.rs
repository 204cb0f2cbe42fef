//! Gateway benchmark: the latency the gateway adds over calling a fast local
//! upstream directly (same run, same client), and requests per second
//! through the gateway. Prints figures; asserts nothing.
//!
//!     scripts/bench        # or: cargo bench -p aicockpit --bench gateway

#[path = "support.rs"]
mod support;

use axum::routing::post;
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::{pct, Server};

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
        .unwrap_or(2000);
    // A fast upstream: a fixed chat completion, no work.
    let answer = json!({"id":"x","object":"chat.completion","model":"fast",
        "choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],
        "usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}})
    .to_string();
    let up = axum::Router::new().route(
        "/v1/chat/completions",
        post(move |body: axum::body::Bytes| {
            let a = answer.clone();
            async move {
                if body.windows(13).any(|w| w == b"\"stream\":true") {
                    // A stream whose first token is ready at once.
                    let mut sse = String::new();
                    for t in ["Hel", "lo", " world"] {
                        sse.push_str(&format!(
                            "data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{t}\"}}}}]}}\n\n"
                        ));
                    }
                    sse.push_str("data: [DONE]\n\n");
                    return ([("content-type", "text/event-stream")], sse);
                }
                ([("content-type", "application/json")], a)
            }
        }),
    );
    let ul = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let upstream = format!("http://{}/v1", ul.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(ul, up).await;
    });

    let srv = Server::start(|c| {
        c.engine.host = Some("unix:///nonexistent".into());
        c.ai.requests_per_minute = 0;
        c.ai.tokens_per_minute = 0;
    })
    .await;
    let token = srv.token.clone();
    let gw = format!("http://{}/v1", srv.addr);
    let c = reqwest::Client::builder()
        .tcp_nodelay(true)
        .build()
        .expect("client");
    let r = c
        .post(format!("http://{}/api/v1/ai/services", gw.trim_start_matches("http://").trim_end_matches("/v1")))
        .bearer_auth(&token)
        .json(&json!({"name": "fast", "kind": "custom", "base_url": upstream, "default_model": "fast"}))
        .send()
        .await
        .expect("add service");
    assert!(r.status().is_success(), "{}", r.status());

    let body =
        json!({"model": "fast", "messages": [{"role": "user", "content": "hi"}]}).to_string();
    let stream_client = c.clone();
    let call = move |base: String, token: Option<String>| {
        let c = c.clone();
        let body = body.clone();
        async move {
            let mut r = c
                .post(format!("{base}/chat/completions"))
                .header("content-type", "application/json")
                .body(body);
            if let Some(t) = token {
                r = r.bearer_auth(t);
            }
            let resp = r.send().await.expect("send");
            let overhead = resp
                .headers()
                .get("x-aicockpit-overhead-ms")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<f64>().ok());
            let ok = resp.status().is_success();
            let _ = resp.bytes().await;
            assert!(ok);
            overhead
        }
    };
    // Warm up connections on both paths.
    for _ in 0..200 {
        call(upstream.clone(), None).await;
        call(gw.clone(), Some(token.clone())).await;
    }
    let (mut direct, mut through, mut reported) = (Vec::new(), Vec::new(), Vec::new());
    // Interleaved, so that both see the same machine state.
    for _ in 0..n {
        let t = Instant::now();
        call(upstream.clone(), None).await;
        direct.push(t.elapsed().as_secs_f64() * 1000.0);
        let t = Instant::now();
        if let Some(o) = call(gw.clone(), Some(token.clone())).await {
            reported.push(o);
        }
        through.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let (d50, d99) = (pct(&mut direct, 0.5), pct(&mut direct, 0.99));
    let (g50, g99) = (pct(&mut through, 0.5), pct(&mut through, 0.99));
    println!("AiCockpit gateway benchmark: {n} sequential requests each way, fast local upstream");
    println!();
    println!("direct to upstream              median {d50:>7.3} ms   p99 {d99:>7.3} ms");
    println!("through the gateway             median {g50:>7.3} ms   p99 {g99:>7.3} ms");
    println!(
        "added by the gateway            median {:>7.3} ms   p99 {:>7.3} ms",
        g50 - d50,
        g99 - d99
    );
    println!(
        "self-reported overhead header   median {:>7.3} ms   p99 {:>7.3} ms",
        pct(&mut reported, 0.5),
        pct(&mut reported, 0.99)
    );

    // Time to the first streamed token, direct and through the gateway.
    let stream_body =
        json!({"model": "fast", "stream": true, "messages": [{"role": "user", "content": "hi"}]})
            .to_string();
    let first_token = |base: String, token: Option<String>| {
        let c = stream_client.clone();
        let body = stream_body.clone();
        async move {
            use futures_util::StreamExt;
            let t = Instant::now();
            let mut r = c
                .post(format!("{base}/chat/completions"))
                .header("content-type", "application/json")
                .body(body);
            if let Some(tok) = token {
                r = r.bearer_auth(tok);
            }
            let resp = r.send().await.expect("send");
            let mut s = resp.bytes_stream();
            let mut seen = String::new();
            let mut at = None;
            while let Some(Ok(chunk)) = s.next().await {
                seen.push_str(&String::from_utf8_lossy(&chunk));
                if at.is_none() && seen.contains("Hel") {
                    at = Some(t.elapsed().as_secs_f64() * 1000.0);
                }
            }
            at.expect("a first token")
        }
    };
    let (mut d_ttft, mut g_ttft) = (Vec::new(), Vec::new());
    for _ in 0..(n / 4).max(50) {
        d_ttft.push(first_token(upstream.clone(), None).await);
        g_ttft.push(first_token(gw.clone(), Some(token.clone())).await);
    }
    let (d50, d99) = (pct(&mut d_ttft, 0.5), pct(&mut d_ttft, 0.99));
    let (g50, g99) = (pct(&mut g_ttft, 0.5), pct(&mut g_ttft, 0.99));
    println!("first streamed token, direct    median {d50:>7.3} ms   p99 {d99:>7.3} ms");
    println!("first streamed token, gateway   median {g50:>7.3} ms   p99 {g99:>7.3} ms");
    println!(
        "added to the first token        median {:>7.3} ms   p99 {:>7.3} ms",
        g50 - d50,
        g99 - d99
    );

    // Throughput: 32 concurrent clients for 5 seconds.
    let done = Arc::new(AtomicU64::new(0));
    let stop_at = Instant::now() + Duration::from_secs(5);
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let done = done.clone();
        let gw = gw.clone();
        let token = token.clone();
        let call = call.clone();
        tasks.push(tokio::spawn(async move {
            while Instant::now() < stop_at {
                call(gw.clone(), Some(token.clone())).await;
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let started = Instant::now();
    for t in tasks {
        let _ = t.await;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "throughput through the gateway  {:>7.0} requests/s   (32 concurrent clients, {:.1} s, same machine as client and upstream)",
        done.load(Ordering::Relaxed) as f64 / secs,
        secs
    );
    srv.stop().await;
}
