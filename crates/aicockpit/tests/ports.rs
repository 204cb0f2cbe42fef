//! Ports: those listening are listed; `aicockpit port-forward` carries a TCP echo (several
//! connections at once, data both ways, half-close) and an HTTP request to
//! servers inside a workspace; wrong tokens, other users and closed ports
//! are refused.

use crate::common::TestServer;
use aicockpit_core::auth::Role;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// Echoes every connection on 127.0.0.1:7000 (one process per connection).
pub(crate) const ECHO: &str = r#"nohup perl -MIO::Socket::INET -e '$SIG{CHLD}="IGNORE"; my $s=IO::Socket::INET->new(LocalAddr=>"127.0.0.1",LocalPort=>7000,Listen=>16,ReuseAddr=>1) or die; while(my $c=$s->accept){ if(!fork){ while(sysread($c,my $b,65536)){ syswrite($c,$b) } exit } }' >/dev/null 2>&1 &"#;
/// Answers every request on 127.0.0.1:8080 with one page.
const HTTP: &str = r#"nohup perl -MIO::Socket::INET -e 'my $s=IO::Socket::INET->new(LocalAddr=>"127.0.0.1",LocalPort=>8080,Listen=>16,ReuseAddr=>1) or die; while(my $c=$s->accept){ my $r=""; while(sysread($c,my $b,4096)){ $r.=$b; last if $r=~/\r\n\r\n/ } my $p="hello from the workspace"; print $c "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ".length($p)."\r\n\r\n$p"; close $c }' >/dev/null 2>&1 &"#;

/// Runs `aicockpit port-forward` and returns it with the address it listens on.
fn forward(ts: &TestServer, token: &str, ports: &str) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_aicockpit"))
        .args(["port-forward", "fwd", ports, "--json"])
        .args(["--server", &ts.url, "--token", token])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("aicockpit port-forward");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("first line");
    let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
    let addr = v["listening"].as_str().expect("listening").to_owned();
    (child, addr)
}

async fn ws_status(ts: &TestServer, token: &str, path: &str) -> u16 {
    let url = format!("{}{path}", ts.url.replace("http://", "ws://"));
    let mut req = url.into_client_request().expect("request");
    req.headers_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("header"),
    );
    match tokio_tungstenite::connect_async(req).await {
        Ok(_) => 101,
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => r.status().as_u16(),
        Err(e) => panic!("{e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn port_forward_carries_tcp_and_http_and_refuses_strangers() {
    let ts = TestServer::start().await;
    let api = ts.admin_api();
    let w = api.create_ws("fwd").await;
    let id = w["id"].as_str().expect("id").to_owned();
    for script in [ECHO, HTTP] {
        let (code, _, err) = api.sh("fwd", script).await;
        assert_eq!(code, 0, "{err}");
    }
    let (code, _, err) = api
        .sh("fwd", "for i in $(seq 50); do nc -z 127.0.0.1 7000 && nc -z 127.0.0.1 8080 && exit 0; sleep 0.1; done; exit 1")
        .await;
    assert_eq!(code, 0, "servers listening: {err}");

    // Found by themselves, from the kernel's tables.
    let (s, ports) = api.get("/api/v1/workspaces/fwd/ports").await;
    assert_eq!(s, reqwest::StatusCode::OK, "{ports}");
    for want in [7000, 8080] {
        let p = ports
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["port"] == want)
            .unwrap_or_else(|| panic!("{want} not listed: {ports}"));
        assert_eq!(p["loopback_only"], true, "{p}");
        assert_eq!(p["process"], "perl", "{p}");
    }

    // TCP echo: three connections at once, 300 KB each way, half-close.
    let (mut echo, addr) = forward(&ts, &ts.admin, "0:7000");
    let mut tasks = Vec::new();
    for i in 0..3u8 {
        let addr = addr.clone();
        tasks.push(tokio::spawn(async move {
            let mut s = tokio::net::TcpStream::connect(&addr)
                .await
                .expect("connect");
            let payload: Vec<u8> = (0..300_000u32).map(|n| (n as u8) ^ i).collect();
            let (mut rd, mut wr) = s.split();
            let send = async {
                wr.write_all(&payload).await.expect("write");
                wr.shutdown().await.expect("half-close");
            };
            let mut back = Vec::new();
            let recv = async {
                rd.read_to_end(&mut back).await.expect("read");
            };
            tokio::time::timeout(Duration::from_secs(30), async { tokio::join!(send, recv) })
                .await
                .expect("echoed in time");
            assert_eq!(back.len(), payload.len(), "connection {i}");
            assert!(back == payload, "connection {i}: bytes differ");
        }));
    }
    for t in tasks {
        t.await.expect("echo");
    }

    // HTTP through a second forward.
    let (mut web, web_addr) = forward(&ts, &ts.admin, "0:8080");
    let body = reqwest::get(format!("http://{web_addr}/"))
        .await
        .expect("GET")
        .text()
        .await
        .expect("body");
    assert_eq!(body, "hello from the workspace");
    let _ = echo.kill();
    let _ = web.kill();
    let _ = echo.wait();
    let _ = web.wait();

    // Refusals: (token, path, status).
    let member = ts.user("fwd-member", Role::Member).await;
    let tcp = |port: u32| format!("/api/v1/workspaces/{id}/ports/{port}/tcp");
    let cases = [
        ("not-a-token".to_owned(), tcp(7000), 401),
        (member.clone(), tcp(7000), 404),
        (ts.admin.clone(), tcp(7999), 404),
        (ts.admin.clone(), tcp(0), 400),
        (ts.admin.clone(), tcp(70000), 400),
        (ts.admin.clone(), tcp(7000), 101),
    ];
    for (token, path, want) in cases {
        assert_eq!(ws_status(&ts, &token, &path).await, want, "{path}");
    }
    // The CLI says so with its exit code before listening.
    let out = Command::new(env!("CARGO_BIN_EXE_aicockpit"))
        .args([
            "port-forward",
            "fwd",
            "7000",
            "--server",
            &ts.url,
            "--token",
            "nope",
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(3), "a bad token is an auth failure");

    // On the record.
    let (_, log) = api.get(&format!("/api/v1/audit?workspace={id}")).await;
    let ports: Vec<i64> = log
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["action"] == "port.connect")
        .filter_map(|e| e["detail"]["port"].as_i64())
        .collect();
    assert!(
        ports.iter().filter(|p| **p == 7000).count() >= 3,
        "{ports:?}"
    );
    assert!(ports.contains(&8080), "{ports:?}");
}

/// Reads a port watch's stream until a `ports` event satisfies `want`;
/// returns that event's ports and how long it took.
async fn next_ports(
    events: &mut (impl futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin),
    buf: &mut String,
    what: &str,
    want: impl Fn(&[u64]) -> bool,
) -> (Vec<u64>, Duration) {
    use futures_util::StreamExt;
    let t0 = std::time::Instant::now();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            if !block.lines().any(|l| l == "event: ports") {
                continue;
            }
            let data = block
                .lines()
                .find_map(|l| l.strip_prefix("data: "))
                .expect("data");
            let v: Value = serde_json::from_str(data).expect("JSON");
            let ports: Vec<u64> = v
                .as_array()
                .expect("a list")
                .iter()
                .filter_map(|p| p["port"].as_u64())
                .collect();
            if want(&ports) {
                return (ports, t0.elapsed());
            }
        }
        let chunk = tokio::time::timeout_at(deadline, events.next())
            .await
            .unwrap_or_else(|_| panic!("no ports event with {what}; left: {buf:?}"))
            .expect("stream open")
            .expect("chunk");
        buf.push_str(&String::from_utf8_lossy(&chunk));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn port_watch_streams_ports_as_they_start_and_stop() {
    let ts = TestServer::start().await;
    let api = ts.admin_api();
    let w = api.create_ws("watched").await;
    let id = w["id"].as_str().expect("id").to_owned();
    let path = format!("/api/v1/workspaces/{id}/ports/watch");
    let resp = reqwest::Client::new()
        .get(format!("{}{path}", ts.url))
        .bearer_auth(&ts.admin)
        .send()
        .await
        .expect("watch");
    assert_eq!(resp.status(), reqwest::StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let mut events = resp.bytes_stream();
    let mut buf = String::new();
    // The list at once, whole.
    let (first, _) = next_ports(&mut events, &mut buf, "the first list", |_| true).await;
    assert!(!first.contains(&7000), "{first:?}");

    let started = std::time::Instant::now();
    let (code, _, err) = api.sh("watched", ECHO).await;
    assert_eq!(code, 0, "{err}");
    let (ports, _) = next_ports(&mut events, &mut buf, "7000", |p| p.contains(&7000)).await;
    println!(
        "port 7000 reached the watch {} ms after the command that starts it was sent",
        started.elapsed().as_millis()
    );
    assert!(ports.contains(&7000));
    let (code, _, err) = api.sh("watched", "pkill -f 'LocalPort=>[7]000'").await;
    assert_eq!(code, 0, "{err}");
    next_ports(&mut events, &mut buf, "7000 gone", |p| !p.contains(&7000)).await;

    // Who may watch: as who may see the workspace.
    let member = ts.user("watch-member", Role::Member).await;
    for (token, want) in [("not-a-token", 401), (member.as_str(), 404)] {
        let r = reqwest::Client::new()
            .get(format!("{}{path}", ts.url))
            .bearer_auth(token)
            .send()
            .await
            .expect("watch");
        assert_eq!(r.status().as_u16(), want, "{token}");
    }
}
